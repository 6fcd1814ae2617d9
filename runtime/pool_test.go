package runtime

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// The models the pool tests run. Each prints "served warm" or "served
// cold" first (a warm worker's interpreter was started with --warm).
const poolModels = `import os
import signal
import subprocess
import sys
import time

import tarn


def _served():
    print("served " + ("warm" if "--warm" in sys.orig_argv else "cold"), flush=True)


@tarn.model()
def echo(n=tarn.Parameter("n", default=0)):
    _served()
    print("cwd", os.getcwd())
    print("home", os.environ["HOME"], "tmpdir", os.environ["TMPDIR"])
    print("argv", sys.argv[1:])
    print("stdin", repr(sys.stdin.read()))
    print("to stderr", file=sys.stderr)
    with open("scratch-file", "w") as f:
        f.write("x")
    return {"n": [n], "name": [os.path.basename(os.getcwd())]}


@tarn.model()
def raises():
    _served()
    raise ValueError("bad value")


@tarn.model()
def segfault():
    _served()
    os.kill(os.getpid(), signal.SIGSEGV)


@tarn.model()
def exits_hard():
    _served()
    os._exit(7)


@tarn.model()
def exits_clean():
    _served()
    os._exit(0)


@tarn.model()
def hogs_memory():
    _served()
    return {"x": [len(bytearray(2**31))]}


@tarn.model()
def sleeps():
    _served()
    subprocess.Popen(["sleep", "60"])  # must not outlive the step
    time.sleep(60)
`

// poolFixture is a project and an interpreter with pyarrow for the tests.
type poolFixture struct {
	dir  string // everything of the test lives here; processes are found by it
	opts WorkerOptions
}

// testSandbox returns a sandbox of the given isolation for a test.
func testSandbox(t *testing.T, iso Isolation) *Sandbox {
	t.Helper()
	sb, err := NewSandbox(context.Background(), SandboxConfig{StateDir: t.TempDir(), Isolation: iso})
	if err != nil {
		t.Fatal(err)
	}
	return sb
}

// readableTempDir is a t.TempDir that the sandbox uid may read (t.TempDir
// makes its directories 0700).
func readableTempDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for d := dir; d != os.TempDir() && d != "/"; d = filepath.Dir(d) {
		os.Chmod(d, 0o755)
	}
	return dir
}

func newPoolFixture(t *testing.T, iso Isolation) *poolFixture {
	t.Helper()
	py := os.Getenv("TARN_PYTHON")
	if py == "" {
		py, _ = filepath.Abs("../.venv/bin/python")
	}
	if _, err := os.Stat(py); err != nil {
		t.Skipf("no Python with pyarrow (set TARN_PYTHON or run scripts/setup.sh): %v", err)
	}
	dir := readableTempDir(t)
	// The SDK is copied into dir: PYTHONPATH names it, so every process of
	// the test (and its children) is found by dir.
	sdk := filepath.Join(dir, "sdk")
	if err := os.CopyFS(filepath.Join(sdk, "tarn"), os.DirFS("../python/tarn")); err != nil {
		t.Fatal(err)
	}
	project := filepath.Join(dir, "project")
	specs := filepath.Join(dir, "specs")
	for _, d := range []string{project, specs} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(project, "models.py"), []byte(poolModels), 0o644); err != nil {
		t.Fatal(err)
	}
	env := &Env{Dir: filepath.Dir(filepath.Dir(py)), Python: py, Prefix: InterpreterPrefix(filepath.Dir(filepath.Dir(py)))}
	return &poolFixture{dir: dir, opts: WorkerOptions{Env: env, SDKDir: sdk, Sandbox: testSandbox(t, iso), ProjectDir: project,
		SpecDir: specs, WorkRoot: filepath.Join(dir, "work"), Timeout: time.Minute}}
}

// run runs one model of poolModels and returns its result, error and output.
func (f *poolFixture) run(t *testing.T, pool *Pool, step, function string, change func(*StepSpec, *WorkerOptions)) (*StepResult, error, []string) {
	t.Helper()
	spec := &StepSpec{Kind: "model", ProjectDir: f.opts.ProjectDir, File: "models.py", Function: function, Name: step,
		Inputs: map[string]InputSpec{}, Parameters: map[string]any{}, Output: step + ".arrow"}
	o := f.opts
	o.Pool = pool
	var mu sync.Mutex
	var lines []string
	o.Output = func(line string) { mu.Lock(); lines = append(lines, line); mu.Unlock() }
	if change != nil {
		change(spec, &o)
	}
	res, err := RunWorker(context.Background(), spec, o)
	mu.Lock()
	defer mu.Unlock()
	return res, err, lines
}

// warm returns a pool holding one ready worker for the fixture's options.
func (f *poolFixture) warm(t *testing.T, opts PoolOptions) *Pool {
	t.Helper()
	pool := NewPool(opts)
	t.Cleanup(func() { pool.Close() })
	if err := pool.Prewarm(f.opts); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := pool.Ready(ctx, f.opts); err != nil {
		t.Fatal(err)
	}
	return pool
}

// processesOf lists the processes (other than the test) whose command line
// or environment mentions dir: the workers of a fixture and their children.
func processesOf(t *testing.T, dir string) []string {
	t.Helper()
	paths, _ := filepath.Glob("/proc/[0-9]*")
	var found []string
	for _, p := range paths {
		if filepath.Base(p) == strconv.Itoa(os.Getpid()) {
			continue
		}
		stat, _ := os.ReadFile(filepath.Join(p, "stat"))
		if fields := strings.Fields(string(stat)); len(fields) > 2 && fields[2] == "Z" {
			continue // exited, waiting to be reaped by its parent: not running
		}
		cmdline, _ := os.ReadFile(filepath.Join(p, "cmdline"))
		environ, _ := os.ReadFile(filepath.Join(p, "environ"))
		if strings.Contains(string(cmdline), dir) || strings.Contains(string(environ), dir) {
			found = append(found, filepath.Base(p)+": "+strings.ReplaceAll(string(cmdline), "\x00", " "))
		}
	}
	return found
}

// waitNoProcesses fails unless every process of dir is gone within five
// seconds (a loaded machine reaps slowly).
func waitNoProcesses(t *testing.T, dir string) {
	t.Helper()
	var left []string
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if left = processesOf(t, dir); len(left) == 0 {
			return
		}
	}
	t.Fatalf("processes left behind:\n  %s", strings.Join(left, "\n  "))
}

func isolations(t *testing.T) []Isolation {
	isos := []Isolation{IsolationNone}
	if iso := testSandbox(t, "").Isolation; iso != IsolationNone {
		isos = append(isos, iso)
	}
	return isos
}

// served returns "warm" or "cold" from a model's first line, and the
// other lines.
func served(t *testing.T, lines []string) (string, []string) {
	t.Helper()
	for i, l := range lines {
		if how, ok := strings.CutPrefix(l, "served "); ok {
			return how, append(append([]string{}, lines[:i]...), lines[i+1:]...)
		}
	}
	t.Fatalf("the model did not say how it was served; output:\n%s", strings.Join(lines, "\n"))
	return "", nil
}

func TestPool_WarmMatchesCold(t *testing.T) {
	for _, iso := range isolations(t) {
		t.Run(string(iso), func(t *testing.T) {
			f := newPoolFixture(t, iso)
			param := func(s *StepSpec, _ *WorkerOptions) { s.Parameters["n"] = 7 }
			coldRes, err, coldOut := f.run(t, nil, "step", "echo", param)
			if err != nil {
				t.Fatalf("cold: %v\n%s", err, strings.Join(coldOut, "\n"))
			}
			pool := f.warm(t, PoolOptions{})
			warmRes, err, warmOut := f.run(t, pool, "step", "echo", param)
			if err != nil {
				t.Fatalf("warm: %v\n%s", err, strings.Join(warmOut, "\n"))
			}
			how, coldRest := served(t, coldOut)
			if how != "cold" {
				t.Fatalf("the run without a pool was served %s", how)
			}
			how, warmRest := served(t, warmOut)
			if how != "warm" {
				t.Fatalf("a ready warm worker was in the pool but the step was served %s", how)
			}
			for _, rest := range [][]string{coldRest, warmRest} {
				for i, line := range rest { // every worker has a directory of its own
					rest[i] = regexp.MustCompile(`w-[0-9]+`).ReplaceAllString(line, "w-N")
				}
				slices.Sort(rest) // stdout and stderr are two pipes: their interleaving is not fixed
			}
			if strings.Join(coldRest, "\n") != strings.Join(warmRest, "\n") {
				t.Fatalf("output differs:\ncold:\n%s\nwarm:\n%s", strings.Join(coldRest, "\n"), strings.Join(warmRest, "\n"))
			}
			for _, res := range []*StepResult{coldRes, warmRes} {
				if filepath.Dir(filepath.Dir(res.Output)) != f.opts.WorkRoot {
					t.Fatalf("the output %s is not in a worker directory of %s", res.Output, f.opts.WorkRoot)
				}
			}
			if coldRes.Output == warmRes.Output {
				t.Fatal("two workers wrote into one directory")
			}
			if !strings.Contains(strings.Join(warmRest, "\n"), "home /tmp tmpdir /tmp") && iso == IsolationBubblewrap {
				t.Fatalf("the warm worker's scratch is not its private /tmp:\n%s", strings.Join(warmRest, "\n"))
			}
			if coldRes.Rows != 1 || warmRes.Rows != coldRes.Rows || !warmRes.OK ||
				len(warmRes.Columns) != 2 || warmRes.Columns[0] != coldRes.Columns[0] || warmRes.Columns[1] != coldRes.Columns[1] {
				t.Fatalf("results differ: cold %+v, warm %+v", coldRes, warmRes)
			}
			pool.Close()
			waitNoProcesses(t, f.dir)
		})
	}
}

func TestPool_FailuresAsCold(t *testing.T) {
	for _, iso := range isolations(t) {
		t.Run(string(iso), func(t *testing.T) {
			f := newPoolFixture(t, iso)
			for _, tc := range []struct {
				function, reason string
				change           func(*StepSpec, *WorkerOptions)
			}{
				{"raises", "failed", nil},
				{"segfault", "crashed", nil},
				{"exits_hard", "crashed", nil},
				{"exits_clean", "crashed", nil},
				{"hogs_memory", "memory", func(s *StepSpec, _ *WorkerOptions) { s.MemoryLimit = 512 << 20 }},
				// Long enough for a loaded machine to start the interpreter
				// and print how the step was served before the timeout.
				{"sleeps", "timeout", func(_ *StepSpec, o *WorkerOptions) { o.Timeout = 5 * time.Second }},
			} {
				t.Run(tc.function, func(t *testing.T) {
					var msgs [2]string
					for i, warm := range []bool{false, true} {
						var pool *Pool
						if warm {
							pool = f.warm(t, PoolOptions{})
						}
						_, err, out := f.run(t, pool, tc.function, tc.function, tc.change)
						var se *StepError
						if !errors.As(err, &se) {
							t.Fatalf("pool %v: want a StepError, got %v\n%s", pool != nil, err, strings.Join(out, "\n"))
						}
						if se.Reason != tc.reason {
							t.Fatalf("pool %v: reason %q, want %q: %v", pool != nil, se.Reason, tc.reason, err)
						}
						if how, _ := served(t, out); how != map[bool]string{false: "cold", true: "warm"}[pool != nil] {
							t.Fatalf("pool %v: served %s", pool != nil, how)
						}
						if tc.function == "exits_clean" && !strings.Contains(se.Msg, "exited without a result") {
							t.Fatalf("os._exit(0): %s", se.Msg)
						}
						msgs[i] = regexp.MustCompile(`served (warm|cold)`).ReplaceAllString(se.Msg, "served")
						if pool != nil {
							pool.Close()
						}
						waitNoProcesses(t, f.dir)
					}
					if msgs[0] != msgs[1] {
						t.Fatalf("messages differ:\ncold: %s\nwarm: %s", msgs[0], msgs[1])
					}
				})
			}
		})
	}
}

func TestPool_OneWorkerPerStep(t *testing.T) {
	f := newPoolFixture(t, IsolationNone)
	pool := f.warm(t, PoolOptions{})
	key := poolKey(f.opts)
	var taken sync.WaitGroup
	got := make(chan *warmWorker, 8)
	for range 8 {
		taken.Add(1)
		go func() { defer taken.Done(); got <- pool.take(key) }()
	}
	taken.Wait()
	close(got)
	n := 0
	for w := range got {
		if w != nil {
			n++
			w.proc.kill()
		}
	}
	if n != 1 {
		t.Fatalf("one warm worker was taken by %d steps", n)
	}

	// Steps running at once each get their own process and their own result.
	pool2 := NewPool(PoolOptions{PerKey: 2, MaxIdle: 2})
	defer pool2.Close()
	for range 2 {
		if err := pool2.Prewarm(f.opts); err != nil {
			t.Fatal(err)
		}
	}
	if n := pool2.Idle(); n != 2 {
		t.Fatalf("PerKey 2: %d workers started", n)
	}
	if err := pool2.Prewarm(f.opts); err != nil || pool2.Idle() != 2 {
		t.Fatalf("a third worker was started past PerKey 2 (err %v, idle %d)", err, pool2.Idle())
	}
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			step := "step" + strconv.Itoa(i)
			res, err, out := f.run(t, pool2, step, "echo", func(s *StepSpec, _ *WorkerOptions) { s.Parameters["n"] = i })
			switch {
			case err != nil:
				errs[i] = err
			case res.Rows != 1 || !strings.Contains(strings.Join(out, "\n"), "argv ["):
				errs[i] = errors.New(step + " ran elsewhere:\n" + strings.Join(out, "\n"))
			}
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
}

// Each Prewarm announces one step: the pool starts a worker in the place of
// a served one while announced steps remain, and none after the last.
func TestPool_StartsOnlyForAnnouncedSteps(t *testing.T) {
	f := newPoolFixture(t, IsolationNone)
	pool := f.warm(t, PoolOptions{})
	if err := pool.Prewarm(f.opts); err != nil { // a second step of the same key
		t.Fatal(err)
	}
	if n := pool.Idle(); n != 1 {
		t.Fatalf("PerKey 1: %d workers for two announced steps", n)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for i, step := range []string{"first", "second"} {
		_, err, out := f.run(t, pool, step, "echo", nil)
		if err != nil {
			t.Fatalf("%s step: %v\n%s", step, err, strings.Join(out, "\n"))
		}
		if how, _ := served(t, out); how != "warm" {
			t.Fatalf("the %s announced step was served %s", step, how)
		}
		if i == 0 {
			if err := pool.Ready(ctx, f.opts); err != nil {
				t.Fatalf("no worker was started for the second announced step: %v", err)
			}
		}
	}
	if n := pool.Idle(); n != 0 {
		t.Fatalf("%d workers started after the last announced step", n)
	}
	waitNoProcesses(t, f.dir)
}

func TestPool_IdleExpiry(t *testing.T) {
	f := newPoolFixture(t, IsolationNone)
	pool := NewPool(PoolOptions{IdleTimeout: 300 * time.Millisecond})
	defer pool.Close()
	if err := pool.Prewarm(f.opts); err != nil {
		t.Fatal(err)
	}
	if len(processesOf(t, f.dir)) == 0 || pool.Idle() != 1 {
		t.Fatal("a warm worker is not in the process table")
	}
	time.Sleep(time.Second)
	if n := pool.Idle(); n != 0 {
		t.Fatalf("%d workers idle past the idle timeout", n)
	}
	waitNoProcesses(t, f.dir)
}

func TestPool_Close(t *testing.T) {
	for _, iso := range isolations(t) {
		t.Run(string(iso), func(t *testing.T) {
			f := newPoolFixture(t, iso)
			pool := f.warm(t, PoolOptions{PerKey: 2, MaxIdle: 3})
			other := f.opts
			other.Limits.Processes = 999 // another key, whatever the isolation
			for _, o := range []WorkerOptions{f.opts, other} {
				if err := pool.Prewarm(o); err != nil {
					t.Fatal(err)
				}
			}
			if n := pool.Idle(); n != 3 {
				t.Fatalf("%d idle workers, want 3", n)
			}
			// A worker that was just started may not have exec'd its
			// interpreter yet: wait for all three to show.
			for deadline := time.Now().Add(10 * time.Second); len(processesOf(t, f.dir)) < 3; time.Sleep(50 * time.Millisecond) {
				if time.Now().After(deadline) {
					t.Fatalf("the warm workers are not in the process table: %v", processesOf(t, f.dir))
				}
			}
			pool.Close()
			waitNoProcesses(t, f.dir)
			if err := pool.Prewarm(f.opts); err != nil || pool.Idle() != 0 {
				t.Fatalf("a closed pool started a worker (err %v)", err)
			}
			_, err, out := f.run(t, pool, "after", "echo", nil)
			if err != nil {
				t.Fatalf("a step after Close: %v", err)
			}
			if how, _ := served(t, out); how != "cold" {
				t.Fatalf("a step after Close was served %s", how)
			}
			waitNoProcesses(t, f.dir)
		})
	}
}

func TestPool_DeadWorkerFallsBackToCold(t *testing.T) {
	f := newPoolFixture(t, IsolationNone)
	pool := f.warm(t, PoolOptions{})
	key := poolKey(f.opts)
	pool.mu.Lock()
	w := pool.idle[key][0]
	pool.mu.Unlock()
	w.proc.kill() // as the out-of-memory killer would, while it waits
	_, err, out := f.run(t, pool, "step", "echo", nil)
	if err != nil {
		t.Fatalf("a step whose warm worker died idle: %v", err)
	}
	if how, _ := served(t, out); how != "cold" {
		t.Fatalf("served %s by a dead worker", how)
	}
}

func TestPool_Key(t *testing.T) {
	sb := &Sandbox{Isolation: IsolationBubblewrap, limits: &limiter{kind: limitsRlimit}}
	base := WorkerOptions{Env: &Env{Dir: "/envs/a", Python: "/envs/a/bin/python"}, SDKDir: "/sdk", Sandbox: sb,
		SpecDir: "/dev/shm/tarn-1", WorkRoot: "/home/run/out", ProjectDir: "/proj", Timeout: time.Minute}
	key := poolKey(base)
	same := map[string]func(o *WorkerOptions){
		"Timeout": func(o *WorkerOptions) { o.Timeout = time.Second },
		"Output":  func(o *WorkerOptions) { o.Output = func(string) {} },
		"Inputs":  func(o *WorkerOptions) { o.Limits.Inputs = 1 << 30 },
	}
	for name, change := range same {
		o := base
		change(&o)
		if k := poolKey(o); k != key {
			t.Errorf("%s is applied at hand-off but changes the key", name)
		}
	}
	differ := map[string]func(o *WorkerOptions){
		"Env":        func(o *WorkerOptions) { o.Env = &Env{Dir: "/envs/b", Python: "/envs/b/bin/python"} },
		"SDKDir":     func(o *WorkerOptions) { o.SDKDir = "/sdk2" },
		"Isolation":  func(o *WorkerOptions) { o.Sandbox = &Sandbox{Isolation: IsolationNone, limits: sb.limits} },
		"Network":    func(o *WorkerOptions) { o.Network = true },
		"SpecDir":    func(o *WorkerOptions) { o.SpecDir = "/dev/shm/tarn-2" },
		"WorkRoot":   func(o *WorkerOptions) { o.WorkRoot = "/home/run2/out" },
		"ProjectDir": func(o *WorkerOptions) { o.ProjectDir = "/proj2" },
		"ReadOnly":   func(o *WorkerOptions) { o.ReadOnly = []string{"/cache"} },
		"Memory":     func(o *WorkerOptions) { o.Limits.Memory = 1 << 30 },
		"Processes":  func(o *WorkerOptions) { o.Limits.Processes = 64 },
		"Disk":       func(o *WorkerOptions) { o.Limits.Disk = 1 << 30 },
	}
	for name, change := range differ {
		o := base
		change(&o)
		if k := poolKey(o); k == key {
			t.Errorf("a worker started for another %s would serve the step", name)
		}
	}
}
