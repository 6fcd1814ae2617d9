//go:build integration

package integration

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

type runOut struct {
	stdout, stderr string
	code           int
}

func tarnRun(t *testing.T, home string, args ...string) runOut {
	t.Helper()
	cmd := exec.Command(env(t, "TARN_BIN"), args...)
	cmd.Env = append(os.Environ(), "TARN_HOME="+home)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return runOut{out.String(), errb.String(), code}
}

func project(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	if _, ok := files["tarn_project.yml"]; !ok {
		files["tarn_project.yml"] = "name: itest\ndefaults:\n  python: \"3.11\"\n  timeout: 120\n"
	}
	for name, content := range files {
		p := filepath.Join(dir, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		os.WriteFile(p, []byte(content), 0o644)
	}
	return dir
}

func rowsOf(t *testing.T, home, ref, table string) int64 {
	t.Helper()
	var list []struct {
		Table struct{ Namespace, Name string }
		Rows  int64
	}
	json.Unmarshal([]byte(tarn(t, home, "table", "ls", "--ref", ref, "-o", "json")), &list)
	for _, x := range list {
		if x.Table.Namespace+"."+x.Table.Name == table {
			return x.Rows
		}
	}
	return -1
}

func head(t *testing.T, home, ref string) string {
	t.Helper()
	var log []struct{ Hash string }
	json.Unmarshal([]byte(tarn(t, home, "log", "--ref", ref, "-n", "1", "-o", "json")), &log)
	return log[0].Hash
}

var runIDRe = regexp.MustCompile(`run id (\d{8}-\d{6}-[0-9a-f]{6})`)

// noWorkersLeft checks that no process of the run whose output is given is
// alive (worker command lines contain the run id in their spec path).
func noWorkersLeft(t *testing.T, output string) {
	t.Helper()
	m := runIDRe.FindStringSubmatch(output)
	if m == nil {
		t.Fatalf("no run id in output:\n%s", output)
	}
	// The kernel delivers the parent-death signals at once; a loaded
	// machine may take a moment to reap the processes.
	var out []byte
	for deadline := time.Now().Add(3 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		out, _ = exec.Command("pgrep", "-f", m[1]).Output()
		if len(bytes.TrimSpace(out)) == 0 || time.Now().After(deadline) {
			break
		}
	}
	if len(bytes.TrimSpace(out)) > 0 {
		ps, _ := exec.Command("ps", "-o", "pid,args", "-p", strings.Join(strings.Fields(string(out)), ",")).Output()
		t.Fatalf("processes of run %s left behind:\n%s", m[1], ps)
	}
}

// TestPipeline_Example: tarn init's project runs end to end (Python models
// in their own environments, a SQL model, an expectation), publishes to
// main, and a second run with a parameter changes the result.
func TestPipeline_Example(t *testing.T) {
	home := filepath.Join(t.TempDir(), "home")
	dir := filepath.Join(t.TempDir(), "taxi")
	tarn(t, home, "init", dir)
	r := tarnRun(t, home, "run", "-p", dir, "-o", "json")
	if r.code != 0 {
		t.Fatalf("run failed (%d):\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	var res struct {
		Published bool
		Steps     []struct {
			Name, State string
			Rows        int64
		}
	}
	if err := json.Unmarshal([]byte(r.stdout), &res); err != nil || !res.Published || len(res.Steps) != 4 {
		t.Fatalf("result %+v (%v)\n%s", res, err, r.stderr)
	}
	if !strings.Contains(r.stderr, "[clean_trips] 500 trips in") {
		t.Fatalf("user print not streamed with the step prefix:\n%s", r.stderr)
	}
	cleanRows := rowsOf(t, home, "main", "tarn.clean_trips")
	if cleanRows <= 0 || rowsOf(t, home, "main", "tarn.zone_stats") != 8 || rowsOf(t, home, "main", "tarn.raw_trips") != 500 {
		t.Fatalf("tables after run: clean %d", cleanRows)
	}
	// Materialized outputs are Iceberg tables other engines read; their
	// data files were written by pyarrow in the step's environment
	// (unpartitioned tables; partitioned ones by iceberg-go).
	var info struct {
		MetadataLocation string `json:"metadata_location"`
	}
	if err := json.Unmarshal([]byte(tarn(t, home, "table", "get", "raw_trips", "-o", "json")), &info); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(env(t, "TARN_PYTHON"), "-c", `
import sys, pyarrow.parquet as pq
from pyiceberg.table import StaticTable
t = StaticTable.from_metadata(sys.argv[1])
files = [task.file.file_path for task in t.scan().plan_files()]
print(t.scan().to_arrow().num_rows, pq.ParquetFile(files[0].removeprefix("file://")).metadata.created_by)
`, info.MetadataLocation).CombinedOutput()
	if err != nil || !strings.HasPrefix(string(out), "500 parquet-cpp-arrow") {
		t.Fatalf("PyIceberg read of raw_trips: %v\n%s", err, out)
	}
	// Second run with a parameter on a branch: main is untouched.
	tarn(t, home, "branch", "create", "dev")
	r = tarnRun(t, home, "run", "-p", dir, "--ref", "dev", "--param", "min_miles=3")
	if r.code != 0 {
		t.Fatalf("second run: %s", r.stderr)
	}
	if got := rowsOf(t, home, "dev", "tarn.clean_trips"); got >= cleanRows || got <= 0 {
		t.Fatalf("min_miles=3 kept %d of %d rows", got, cleanRows)
	}
	if rowsOf(t, home, "main", "tarn.clean_trips") != cleanRows {
		t.Fatal("a run on dev changed main")
	}
	// Dry run materializes nothing.
	before := head(t, home, "main")
	r = tarnRun(t, home, "run", "-p", dir, "--dry-run", "--preview")
	if r.code != 0 || head(t, home, "main") != before || !strings.Contains(r.stderr, "preview") {
		t.Fatalf("dry run: exit %d, moved=%v\n%s", r.code, head(t, home, "main") != before, r.stderr)
	}
	tarn(t, home, "verify", "--history")
}

// TestPipeline_TwoVersionsOfOnePackage: steps pinning different pandas
// versions, and a polars step, run in one DAG, each in its own environment.
func TestPipeline_TwoVersionsOfOnePackage(t *testing.T) {
	home := filepath.Join(t.TempDir(), "home")
	dir := project(t, map[string]string{"m.py": `import tarn
import pyarrow as pa

@tarn.model()
@tarn.python("3.11", pip={"pandas": "2.2.3"})
def old_pandas():
    import pandas as pd
    print("pandas", pd.__version__)
    return pd.DataFrame({"x": [1, 2, 3], "v": [pd.__version__] * 3})

@tarn.model()
@tarn.python("3.11", pip={"pandas": "2.2.2"})
def other_pandas(a=tarn.Model("old_pandas")):
    import pandas as pd
    print("pandas", pd.__version__)
    df = a.to_pandas()
    df["w"] = pd.__version__
    return df

@tarn.model(materialization_strategy="REPLACE")
@tarn.python("3.11", pip={"polars": "1.9.0"})
def with_polars(b=tarn.Model("other_pandas", columns=["x", "v", "w"], filter="x >= 2")):
    import polars as pl
    print("polars", pl.__version__)
    return pl.from_arrow(b).with_columns((pl.col("x") * 10).alias("x10"))

@tarn.model(materialization_strategy="REPLACE")
def summary(p=tarn.Model("with_polars")):
    return pa.table({"n": [p.num_rows]})
`, "s.sql": "-- tarn: materialization_strategy=REPLACE\nselect v, w, sum(x10) as total from with_polars group by v, w\n"})
	r := tarnRun(t, home, "run", "-p", dir)
	if r.code != 0 {
		t.Fatalf("run failed:\n%s", r.stderr)
	}
	for _, want := range []string{"[old_pandas] pandas 2.2.3", "[other_pandas] pandas 2.2.2", "[with_polars] polars 1.9.0"} {
		if !strings.Contains(r.stderr, want) {
			t.Fatalf("missing %q in:\n%s", want, r.stderr)
		}
	}
	if rowsOf(t, home, "main", "tarn.with_polars") != 2 || rowsOf(t, home, "main", "tarn.s") != 1 {
		t.Fatalf("outputs wrong: with_polars %d, s %d", rowsOf(t, home, "main", "tarn.with_polars"), rowsOf(t, home, "main", "tarn.s"))
	}
	// A second run reuses every environment.
	r = tarnRun(t, home, "run", "-p", dir)
	if r.code != 0 || strings.Contains(r.stderr, "building environment") {
		t.Fatalf("second run rebuilt environments:\n%s", r.stderr)
	}
}

// TestPipeline_Failures: a failing, crashing, hanging and memory-hungry
// step, and a failing expectation, each fail the run with a message saying
// which and why; nothing is published and no worker is left behind.
func TestPipeline_Failures(t *testing.T) {
	home := filepath.Join(t.TempDir(), "home")
	cases := []struct {
		name string
		body string
		want []string
	}{
		{"Raises", "@tarn.model(materialization_strategy=\"REPLACE\")\ndef m():\n    x = {}\n    return x['missing']\n",
			[]string{"step m failed at m.py:7", "KeyError", "Traceback"}},
		{"Segfault", "@tarn.model(materialization_strategy=\"REPLACE\")\ndef m():\n    import ctypes\n    ctypes.string_at(0)\n",
			[]string{"step m crashed", "SIGSEGV"}},
		{"Hangs", "@tarn.model(materialization_strategy=\"REPLACE\")\n@tarn.resources(timeout=2)\ndef m():\n    import time\n    time.sleep(600)\n",
			[]string{"step m timed out after 2s"}},
		{"Memory", "@tarn.model(materialization_strategy=\"REPLACE\")\n@tarn.resources(memory=\"300MiB\")\ndef m():\n    blocks = [bytearray(50 * 2**20) for _ in range(40)]\n    return None\n",
			[]string{"step m ran out of memory"}},
		{"Expectation", "@tarn.model(materialization_strategy=\"REPLACE\")\ndef m():\n    return pa.table({'x': [1, None]})\n\n@tarn.expectation()\ndef no_nulls(t=tarn.Model(\"m\")):\n    return tarn.expectations.no_nulls(t, \"x\")\n",
			[]string{"expectation no_nulls failed", "null"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := project(t, map[string]string{"m.py": "import tarn\nimport pyarrow as pa\n\n" + tc.body})
			tarn(t, home, "branch", "ls") // initialize
			before := head(t, home, "main")
			start := time.Now()
			r := tarnRun(t, home, "run", "-p", dir)
			if r.code == 0 {
				t.Fatalf("run succeeded:\n%s", r.stderr)
			}
			for _, w := range append(tc.want, "nothing was published", "run branch run/") {
				if !strings.Contains(r.stderr, w) {
					t.Fatalf("stderr does not mention %q:\n%s", w, r.stderr)
				}
			}
			if head(t, home, "main") != before || rowsOf(t, home, "main", "tarn.m") != -1 {
				t.Fatal("a failed run changed main")
			}
			if time.Since(start) > 90*time.Second {
				t.Fatalf("failure took %s", time.Since(start))
			}
			noWorkersLeft(t, r.stderr)
		})
	}
}

// TestPipeline_MissingInterpreter: a Python version that is not installed
// is an error listing those that are, before anything runs.
func TestPipeline_MissingInterpreter(t *testing.T) {
	home := filepath.Join(t.TempDir(), "home")
	dir := project(t, map[string]string{"m.py": "import tarn\n\n@tarn.model()\n@tarn.python(\"3.99\")\ndef m():\n    print('USER CODE RAN')\n"})
	r := tarnRun(t, home, "run", "-p", dir)
	if r.code != 2 || !strings.Contains(r.stderr, "Python 3.99 is not installed") || !strings.Contains(r.stderr, "3.11") || strings.Contains(r.stderr, "USER CODE RAN") {
		t.Fatalf("exit %d:\n%s", r.code, r.stderr)
	}
}

// TestPipeline_OfflineWheels: a local wheel folder and offline mode build
// an environment without the package index.
func TestPipeline_OfflineWheels(t *testing.T) {
	home := filepath.Join(t.TempDir(), "home")
	wheels := t.TempDir()
	out, err := exec.Command("python3", "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:", "-d", wheels, "six==1.16.0").CombinedOutput()
	if err != nil {
		t.Skipf("cannot download a test wheel: %v %s", err, out)
	}
	dir := project(t, map[string]string{
		"tarn_project.yml": fmt.Sprintf("name: offline\nindex:\n  find_links: %s\n  offline: true\n", wheels),
		"m.py":             "import tarn\nimport six\n\n@tarn.model(materialization_strategy=\"REPLACE\")\n@tarn.python(\"3.11\", pip={\"six\": \"1.16.0\"})\ndef m():\n    import pyarrow as pa\n    return pa.table({'v': [six.__version__]})\n",
	})
	r := tarnRun(t, home, "run", "-p", dir)
	if r.code != 0 || rowsOf(t, home, "main", "tarn.m") != 1 {
		t.Fatalf("offline run: exit %d\n%s", r.code, r.stderr)
	}
}

// TestPipeline_PublishIsAtomic: while a run is in progress its target
// branch moves. A change to another table merges cleanly; a change to a
// table the run writes is a conflict: the run fails and main keeps only
// the concurrent change.
func TestPipeline_PublishIsAtomic(t *testing.T) {
	home := filepath.Join(t.TempDir(), "home")
	csv := filepath.Join(t.TempDir(), "x.csv")
	os.WriteFile(csv, []byte("a\n1\n2\n"), 0o644)
	slow := "import tarn\nimport pyarrow as pa\nimport time\n\n@tarn.model(materialization_strategy=\"REPLACE\")\ndef out():\n    time.sleep(4)\n    return pa.table({'a': [1, 2, 3]})\n"
	for _, tc := range []struct {
		name     string
		conflict bool
	}{{"OtherTable", false}, {"SameTable", true}} {
		t.Run(tc.name, func(t *testing.T) {
			dir := project(t, map[string]string{"m.py": slow})
			tarn(t, home, "branch", "ls")
			// --no-cache: the second subtest runs the same code, which the
			// cache would serve at once, before the concurrent write.
			cmd := exec.Command(env(t, "TARN_BIN"), "run", "-p", dir, "--no-cache")
			cmd.Env = append(os.Environ(), "TARN_HOME="+home)
			var errb bytes.Buffer
			cmd.Stderr = &errb
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			time.Sleep(2 * time.Second)
			name := "other_" + strings.ToLower(tc.name)
			if tc.conflict {
				name = "out"
				tarn(t, home, "table", "create", name, "--from", csv, "--replace")
			} else {
				tarn(t, home, "table", "create", name, "--from", csv)
			}
			err := cmd.Wait()
			code := 0
			if ee, ok := err.(*exec.ExitError); ok {
				code = ee.ExitCode()
			}
			if tc.conflict {
				if code == 0 || !strings.Contains(errb.String(), "conflict") || !strings.Contains(errb.String(), "run branch run/") {
					t.Fatalf("conflicting publish: exit %d\n%s", code, errb.String())
				}
				if rowsOf(t, home, "main", "tarn.out") != 2 {
					t.Fatal("main lost the concurrent change or got the run's output")
				}
				return
			}
			if code != 0 || rowsOf(t, home, "main", "tarn.out") != 3 || rowsOf(t, home, "main", "tarn."+name) != 2 {
				t.Fatalf("non-conflicting publish: exit %d\n%s", code, errb.String())
			}
		})
	}
	_ = syscall.SIGKILL
}

// TestPipeline_Isolation: workers get no network unless the model asks for
// it, no tarn variables, and (under bubblewrap) cannot see the lakehouse
// home.
func TestPipeline_Isolation(t *testing.T) {
	home := filepath.Join(t.TempDir(), "home")
	port := listenLoopback(t, "hello\n")
	probe := fmt.Sprintf(`
def probe():
    import os, socket
    try:
        s = socket.create_connection(("127.0.0.1", %d), timeout=2)
        net = "reachable"
        s.close()
    except OSError:
        net = "unreachable"
    home = "visible" if os.path.exists(%q) else "hidden"
    tarn_vars = sorted(k for k in os.environ if k.startswith("TARN"))
    print(f"net={net} home={home} vars={tarn_vars}")
    return pa.table({"net": [net]})
`, port, filepath.Join(home, "catalog.db"))
	dir := project(t, map[string]string{"m.py": "import tarn\nimport pyarrow as pa\n" + probe + `
@tarn.model()
def closed():
    return probe()

@tarn.model(internet_access=True)
def opened():
    return probe()
`})
	cmd := exec.Command(env(t, "TARN_BIN"), "run", "-p", dir, "--dry-run")
	cmd.Env = append(os.Environ(), "TARN_HOME="+home, "TARN_TOKEN=secret")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("run: %v\n%s", err, out)
	}
	s := string(out)
	if !strings.Contains(s, "[closed] net=unreachable") || !strings.Contains(s, "[opened] net=reachable") {
		t.Fatalf("network isolation:\n%s", s)
	}
	if !strings.Contains(s, "vars=[]") {
		t.Fatalf("tarn variables leaked into the worker:\n%s", s)
	}
	if strings.Contains(s, "isolation: bubblewrap") && !strings.Contains(s, "[closed] net=unreachable home=hidden") {
		t.Fatalf("lakehouse home visible under bubblewrap:\n%s", s)
	}
}

// lockedBuffer is a bytes.Buffer written by a process and read by a test.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}
func (l *lockedBuffer) String() string { l.mu.Lock(); defer l.mu.Unlock(); return l.b.String() }

// startRunUntil starts `tarn run -p dir` on home and waits until its
// output mentions text.
func startRunUntil(t *testing.T, home, dir, text string) (*exec.Cmd, *lockedBuffer) {
	t.Helper()
	cmd := exec.Command(env(t, "TARN_BIN"), "run", "-p", dir)
	cmd.Env = append(os.Environ(), "TARN_HOME="+home)
	errb := &lockedBuffer{}
	cmd.Stderr = errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(90 * time.Second)
	for !strings.Contains(errb.String(), text) {
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatalf("the run never printed %q:\n%s", text, errb.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	return cmd, errb
}

// TestPipeline_KilledRun: kill -9 of `tarn run` mid-step takes its workers
// with it, publishes nothing, and the next run removes its shared memory.
func TestPipeline_KilledRun(t *testing.T) {
	home := filepath.Join(t.TempDir(), "home")
	dir := project(t, map[string]string{"m.py": "import tarn\nimport pyarrow as pa\nimport time\n\n@tarn.model(materialization_strategy=\"REPLACE\")\ndef slow():\n    print('started', flush=True)\n    time.sleep(60)\n    return pa.table({'a': [1]})\n"})
	tarn(t, home, "branch", "ls")
	before := head(t, home, "main")
	cmd, errb := startRunUntil(t, home, dir, "[slow] started")
	pid := cmd.Process.Pid
	shm, _ := filepath.Glob(fmt.Sprintf("/dev/shm/tarn-%d-*", pid))
	if len(shm) != 1 {
		t.Fatalf("no shared-memory directory for run process %d", pid)
	}
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	noWorkersLeft(t, errb.String())
	if head(t, home, "main") != before {
		t.Fatal("a killed run changed main")
	}
	// The next run sweeps the dead run's shared memory.
	quick := project(t, map[string]string{"q.sql": "select 1 as one"})
	if r := tarnRun(t, home, "run", "-p", quick, "--dry-run"); r.code != 0 {
		t.Fatalf("next run: %s", r.stderr)
	}
	if _, err := os.Stat(shm[0]); !os.IsNotExist(err) {
		t.Fatalf("shared memory of the killed run is still there: %s", shm[0])
	}
}
