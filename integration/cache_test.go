//go:build integration

package integration

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
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
	r := tarnRun(t, home, append([]string{"run", "-p", dir, "-o", "json"}, args...)...)
	if r.code != 0 {
		t.Fatalf("run %v failed (%d):\n%s", args, r.code, r.stderr)
	}
	var res struct {
		Steps []struct{ Name, State string }
	}
	if err := json.Unmarshal([]byte(r.stdout), &res); err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, s := range res.Steps {
		out[s.Name] = s.State
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
	// A code change runs every model of the file again: the key covers the
	// file (a module-level constant can change any of them).
	edit("OFFSET = 0", "OFFSET = 1")
	expectStates(t, "code edit", states(t, home, dir), map[string]string{"agg": "done"})
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
