//go:build integration

package integration

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	root "github.com/tarnhq/tarn"
)

const cacheModels = `import tarn
import pyarrow.compute as pc
import random

OFFSET = 0


@tarn.model(materialization_strategy="REPLACE")
def src(t=tarn.Model("events")):
    return t.filter(pc.greater(t["amount"], 0))


@tarn.model(materialization_strategy="REPLACE")
def agg(x=tarn.Model("src"), factor=tarn.Parameter("factor")):
    total = pc.sum(x["amount"]).as_py() * factor + OFFSET
    return [{"total": total}]


@tarn.model()
def side(t=tarn.Model("events", columns=["id"])):
    return t


@tarn.model(cache_strategy="NONE")
def noisy(t=tarn.Model("events", columns=["id"])):
    return [{"r": random.random()}]
`

// states runs the project and returns each step's state.
func states(t *testing.T, home, dir string, args ...string) map[string]string {
	t.Helper()
	m, _ := statesAndLog(t, home, dir, args...)
	return m
}

func statesAndLog(t *testing.T, home, dir string, args ...string) (map[string]string, string) {
	t.Helper()
	steps, log := runSteps(t, home, dir, args...)
	out := map[string]string{}
	for _, s := range steps {
		out[s.Name] = s.State
	}
	return out, log
}

// stepResult is a step of `tarn run -o json`: its state and the phases
// of its profile.
type stepResult struct {
	Name, State string
	Profile     []struct{ Name string }
}

// runSteps runs the project and returns its steps and its log.
func runSteps(t *testing.T, home, dir string, args ...string) ([]stepResult, string) {
	t.Helper()
	r := tarnRun(t, home, append([]string{"run", "-p", dir, "-o", "json"}, args...)...)
	if r.code != 0 {
		t.Fatalf("run %v failed (%d):\n%s", args, r.code, r.stderr)
	}
	var res struct{ Steps []stepResult }
	if err := json.Unmarshal([]byte(r.stdout), &res); err != nil {
		t.Fatal(err)
	}
	return res.Steps, r.stderr
}

// phasesOf returns the names of a step's profile phases.
func phasesOf(steps []stepResult, name string) []string {
	var out []string
	for _, s := range steps {
		if s.Name == name {
			for _, p := range s.Profile {
				out = append(out, p.Name)
			}
		}
	}
	return out
}

func expectStates(t *testing.T, what string, got map[string]string, want map[string]string) {
	t.Helper()
	for k, v := range want {
		if got[k] != v {
			t.Fatalf("%s: step %s is %s, want %s (all: %v)", what, k, got[k], v, got)
		}
	}
}

func queryScalar(t *testing.T, home, sql string) string {
	t.Helper()
	var rows []map[string]any
	if err := json.Unmarshal([]byte(tarn(t, home, "query", sql, "-o", "json")), &rows); err != nil || len(rows) != 1 {
		t.Fatalf("query %s: %v", sql, err)
	}
	for _, v := range rows[0] {
		b, _ := json.Marshal(v)
		return string(b)
	}
	return ""
}

// TestPipeline_Cache: each part of a step's key — code (but not comments),
// parameters, input data — decides whether it runs again; unrelated steps
// stay cached; cache_strategy=NONE and --no-cache run; a corrupt entry is
// recomputed; gc evicts.
func TestPipeline_Cache(t *testing.T) {
	home := filepath.Join(t.TempDir(), "home")
	data := t.TempDir()
	os.WriteFile(filepath.Join(data, "a.csv"), []byte("id,amount\n1,10\n2,-5\n3,7\n"), 0o644)
	os.WriteFile(filepath.Join(data, "b.csv"), []byte("id,amount\n4,100\n"), 0o644)
	tarn(t, home, "table", "create", "events", "--from", filepath.Join(data, "a.csv"))
	dir := project(t, map[string]string{
		"tarn_project.yml": "name: cached\ndefaults:\n  python: \"3.11\"\nparameters:\n  factor: {type: int, default: 2}\n",
		"models.py":        cacheModels,
	})
	all := func(state string) map[string]string {
		return map[string]string{"src": state, "agg": state, "side": state}
	}
	expectStates(t, "first run", states(t, home, dir), all("done"))
	if got := queryScalar(t, home, "select total from agg"); got != "34" {
		t.Fatalf("agg total %s, want 34", got)
	}
	expectStates(t, "second run", states(t, home, dir), map[string]string{"src": "cached", "agg": "cached", "side": "cached", "noisy": "done"})
	if got := queryScalar(t, home, "select total from agg"); got != "34" {
		t.Fatalf("agg total after a cached run %s", got)
	}
	edit := func(from, to string) {
		t.Helper()
		p := filepath.Join(dir, "models.py")
		b, _ := os.ReadFile(p)
		if !strings.Contains(string(b), from) {
			t.Fatalf("models.py has no %q", from)
		}
		os.WriteFile(p, []byte(strings.Replace(string(b), from, to, 1)), 0o644)
	}
	// A comment or blank lines: still cached (the key hashes the syntax tree).
	edit("OFFSET = 0\n", "# the offset\nOFFSET = 0  # none\n\n")
	expectStates(t, "comment edit", states(t, home, dir), all("cached"))
	// Editing one model's body runs that model (and what depends on it).
	edit("* factor + OFFSET", "* factor + OFFSET + 0")
	expectStates(t, "model edit", states(t, home, dir), map[string]string{"src": "cached", "side": "cached", "agg": "done"})
	// A module-level constant can change any model of the file: they all run.
	edit("OFFSET = 0", "OFFSET = 1")
	steps, log := runSteps(t, home, dir)
	got := map[string]string{}
	for _, s := range steps {
		got[s.Name] = s.State
	}
	expectStates(t, "code edit", got, map[string]string{"agg": "done", "src": "done"})
	// The steps ran again, without exporting the table again: the worker
	// reads the table's planned Parquet files itself (a plan phase, no
	// export).
	if ph := strings.Join(phasesOf(steps, "src"), ","); !strings.Contains(ph, root.PhasePlan) || strings.Contains(ph, root.PhaseExport) {
		t.Fatalf("src's input was not read from the table's files (phases %s):\n%s", ph, log)
	}
	if got := queryScalar(t, home, "select total from agg"); got != "35" {
		t.Fatalf("agg total after the edit %s, want 35", got)
	}
	// A parameter: only the step using it.
	expectStates(t, "parameter", states(t, home, dir, "--param", "factor=3"), map[string]string{"src": "cached", "side": "cached", "agg": "done"})
	// New input data: every step reading the table (and downstream).
	tarn(t, home, "table", "import", "events", "--from", filepath.Join(data, "b.csv"))
	expectStates(t, "appended input", states(t, home, dir), all("done"))
	if got := queryScalar(t, home, "select total from agg"); got != "235" {
		t.Fatalf("agg total after the append %s, want 235", got)
	}
	expectStates(t, "--no-cache", states(t, home, dir, "--no-cache"), all("done"))
	// A package pin is part of the environment, so of every key.
	os.WriteFile(filepath.Join(dir, "tarn_project.yml"), []byte("name: cached\ndefaults:\n  python: \"3.11\"\n  packages: {six: \"1.17.0\"}\nparameters:\n  factor: {type: int, default: 2}\n"), 0o644)
	expectStates(t, "new pin", states(t, home, dir), all("done"))
	expectStates(t, "same pin again", states(t, home, dir), all("cached"))
	// A corrupt (or half-written) entry is detected and recomputed.
	entries, _ := filepath.Glob(filepath.Join(home, "cache", "entries", "*", "*", "data.arrow"))
	if len(entries) == 0 {
		t.Fatal("no cache entries on disk")
	}
	for _, e := range entries {
		if st, _ := os.Stat(e); st.Size() > 8 {
			os.Truncate(e, st.Size()/2)
		}
	}
	r := tarnRun(t, home, "run", "-p", dir)
	if r.code != 0 || !strings.Contains(r.stderr, "corrupt cache entry") {
		t.Fatalf("run over corrupt entries (%d):\n%s", r.code, r.stderr)
	}
	if got := queryScalar(t, home, "select total from agg"); got != "235" {
		t.Fatalf("agg total after recomputing %s, want 235", got)
	}
	// Eviction.
	var st struct{ Entries int }
	json.Unmarshal([]byte(tarn(t, home, "cache", "stats", "-o", "json")), &st)
	if st.Entries == 0 {
		t.Fatal("cache stats: no entries")
	}
	tarn(t, home, "cache", "gc", "--max-size", "1", "--keep", "0s")
	json.Unmarshal([]byte(tarn(t, home, "cache", "stats", "-o", "json")), &st)
	if st.Entries != 0 {
		t.Fatalf("%d entries after gc to 1 byte", st.Entries)
	}
	expectStates(t, "after gc", states(t, home, dir), all("done"))
}

// TestPipeline_CacheKilledRun: kill -9 of a run leaves only whole entries
// (the steps that finished); the killed step is not served later, and gc
// sweeps what the dead run left.
func TestPipeline_CacheKilledRun(t *testing.T) {
	home := filepath.Join(t.TempDir(), "home")
	firstPy := `import tarn
import pyarrow as pa


@tarn.model(materialization_strategy="REPLACE")
def first():
    return pa.table({"a": list(range(1000))})
`
	models := `import tarn
import time

SLEEP = 60


@tarn.model(materialization_strategy="REPLACE")
def slow(x=tarn.Model("first")):
    print("started", flush=True)
    time.sleep(SLEEP)
    return x
`
	dir := project(t, map[string]string{"first.py": firstPy, "m.py": models})
	cmd, errb := startRunUntil(t, home, dir, "[slow] started")
	time.Sleep(500 * time.Millisecond) // let the first step's entry be stored
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	noWorkersLeft(t, errb.String())
	left, _ := filepath.Glob(filepath.Join(home, "cache", "tmp", "*"))
	if len(left) == 0 {
		t.Fatal("the killed run left no run directory: the test does not test anything")
	}
	// Same code: the finished step is served, the killed one runs.
	os.WriteFile(filepath.Join(dir, "m.py"), []byte(strings.Replace(models, "SLEEP = 60", "SLEEP = 0", 1)), 0o644)
	expectStates(t, "after the kill", states(t, home, dir), map[string]string{"first": "cached", "slow": "done"})
	tarn(t, home, "cache", "gc")
	for _, d := range left {
		if _, err := os.Stat(d); !os.IsNotExist(err) {
			t.Fatalf("gc kept %s of the killed run", d)
		}
	}
}
