// Command coldstart measures how long a tarn step takes from being
// scheduled to the user's code running, with a cached environment: from the
// call to runtime.RunWorker (what a run does for every step) to the first
// line of the user function, against the floor of starting the same
// environment's interpreter and importing pyarrow.
//
//	go run ./bench/coldstart [-runs 30] [-json]
//
// See README.md for how to read the figures.
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/tarnhq/tarn/bench/internal/benchkit"
	"github.com/tarnhq/tarn/python"
	rt "github.com/tarnhq/tarn/runtime"
)

// userModel prints the time its first line runs, and whether a warm
// worker (started with --warm) runs it.
const userModel = `import sys
import time

import tarn


@tarn.model()
def first():
    print("T0", time.time_ns(), "warm" if "--warm" in sys.orig_argv else "cold", flush=True)
    return {"x": [1]}
`

type config struct {
	runs, warmup int
	pyVer        string
	home         string
	profile      bool
	envs         string
}

var kit = benchkit.New("coldstart")

func main() {
	var cfg config
	fs := kit.Flags
	fs.IntVar(&cfg.runs, "runs", 30, "timed runs per variant (interleaved)")
	fs.IntVar(&cfg.warmup, "warmup", 3, "untimed rounds first")
	fs.StringVar(&cfg.pyVer, "python", "3.11", "Python version of the environment")
	fs.StringVar(&cfg.home, "home", "", "lakehouse home for the environment and the SDK (default: a temporary directory)")
	fs.BoolVar(&cfg.profile, "profile", true, "also run the worker with -X importtime and show where its start-up goes")
	fs.StringVar(&cfg.envs, "envs", "pyarrow;pandas==2.2.3", "environments to measure, ';'-separated, each a ','-separated list of pins (pyarrow alone: tarn's default environment)")
	kit.Main(func(ctx context.Context) error { return run(ctx, cfg) })
}

// variant is one way of starting a process, timed from the call to the
// moment of interest.
type variant struct {
	Name    string `json:"name"`
	What    string `json:"what"`
	run     func(ctx context.Context) (toUser, total time.Duration, err error)
	samples []time.Duration
	totals  []time.Duration
	Dist    dist  `json:"to_user_code"` // or to exit, for the floors
	Total   *dist `json:"to_exit,omitempty"`
}

type dist struct {
	N   int     `json:"n"`
	P50 float64 `json:"p50_ms"`
	P10 float64 `json:"p10_ms"`
	P90 float64 `json:"p90_ms"`
	Min float64 `json:"min_ms"`
}

type report struct {
	Machine   string       `json:"machine"`
	Isolation string       `json:"isolation"`
	Runs      int          `json:"runs"`
	Envs      []*envReport `json:"environments"`
	TargetMet bool         `json:"target_met"`
}

// envReport is the figures for one environment.
type envReport struct {
	Packages  string         `json:"packages"`
	Env       string         `json:"env"`
	Python    string         `json:"python"`
	Variants  []*variant     `json:"variants"`
	Ratios    []ratio        `json:"ratios"`
	Imports   []importFigure `json:"worker_imports,omitempty"`
	TargetMet bool           `json:"target_met"`
}

type ratio struct {
	Name   string  `json:"name"`
	Of     string  `json:"of"`
	Over   string  `json:"over"`
	Value  float64 `json:"value"`
	Target float64 `json:"target,omitempty"`
}

type importFigure struct {
	Module       string  `json:"module"`
	CumulativeMs float64 `json:"cumulative_ms"`
}

func run(ctx context.Context, cfg config) error {
	tmp, err := kit.WorkDir("")
	if err != nil {
		return err
	}
	if cfg.home == "" {
		cfg.home = filepath.Join(tmp, "home")
	}

	// The environment and SDK exactly as tarn run prepares them.
	sdk, err := python.Extract(filepath.Join(cfg.home, "sdk"))
	if err != nil {
		return err
	}
	uv, err := rt.FindUV(os.Getenv("TARN_UV"))
	if err != nil {
		return err
	}
	em := &rt.EnvManager{Dir: filepath.Join(cfg.home, "envs"), UV: uv, SDKVersion: python.Version(), SDKDir: sdk} // as cmd/tarn does
	sb, err := rt.NewSandbox(ctx, rt.SandboxConfig{StateDir: filepath.Join(cfg.home, "sandbox")})
	if err != nil {
		return err
	}
	plain, err := rt.NewSandbox(ctx, rt.SandboxConfig{StateDir: filepath.Join(cfg.home, "sandbox"), Isolation: rt.IsolationNone})
	if err != nil {
		return err
	}
	kit.Logf("isolation detected: %s", sb.Describe())

	project := filepath.Join(tmp, "project")
	if err := os.MkdirAll(project, 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(project, "first.py"), []byte(userModel), 0o644); err != nil {
		return err
	}
	shm, err := rt.NewShmDir("bench-coldstart")
	if err != nil {
		return err
	}
	defer os.RemoveAll(shm)

	rep := &report{Isolation: string(sb.Isolation), Runs: cfg.runs, TargetMet: true}
	for i, pins := range strings.Split(cfg.envs, ";") {
		spec := rt.EnvSpec{Python: cfg.pyVer, Packages: map[string]string{}}
		for _, pin := range strings.Split(pins, ",") {
			name, ver, _ := strings.Cut(strings.TrimSpace(pin), "==")
			if name != "" && !(name == "pyarrow" && ver == "") {
				spec.Packages[name] = ver
			}
		}
		kit.Logf("environment %d: Python %s, %s (runtime.EnvManager.Ensure)", i+1, cfg.pyVer, strings.Join(spec.Requirements(), " "))
		env, err := em.Ensure(ctx, spec, func(s string) { kit.Logf("%s", s) })
		if err != nil {
			return err
		}
		er, err := measure(ctx, &cfg, env, sdk, sb, plain, project, shm, tmp, fmt.Sprintf("compiled-%d", i))
		if err != nil {
			return err
		}
		er.Packages = strings.Join(spec.Requirements(), " ")
		rep.Envs = append(rep.Envs, er)
		rep.TargetMet = rep.TargetMet && er.TargetMet
	}
	rep.Machine = benchkit.Host()
	return kit.Report(rep, rep.print)
}

// measure runs every variant for one environment, interleaved.
func measure(ctx context.Context, cfg *config, env *rt.Env, sdk string, sb, plain *rt.Sandbox, project, shm, tmp, compiledName string) (*envReport, error) {
	// A copy of the environment and of the SDK with compiled bytecode: what
	// the worker would start from if tarn also compiled the environment's
	// packages when it builds one (EnvManager.Ensure already compiles the
	// SDK; uv writes no .pyc for the packages). tarn's own environment is
	// never written to: the worker runs with PYTHONDONTWRITEBYTECODE=1 and,
	// sandboxed, a read-only view.
	compiledEnv, compiledSDK, err := compiledCopies(ctx, env, sdk, filepath.Join(tmp, compiledName))
	if err != nil {
		return nil, err
	}

	options := func(e *rt.Env, sdkDir string, iso *rt.Sandbox) rt.WorkerOptions {
		return rt.WorkerOptions{Env: e, SDKDir: sdkDir, Sandbox: iso, SpecDir: shm, WorkRoot: filepath.Join(tmp, "work"),
			ProjectDir: project, Timeout: time.Minute}
	}
	worker := func(e *rt.Env, sdkDir string, iso *rt.Sandbox) func(ctx context.Context) (time.Duration, time.Duration, error) {
		return func(ctx context.Context) (time.Duration, time.Duration, error) {
			return runWorker(ctx, options(e, sdkDir, iso), "cold")
		}
	}
	// A warm worker is started and ready before the step is scheduled
	// (each Prewarm announces one step: the pool starts none in its place
	// after it, so no start-up overlaps another variant's timing).
	pool := rt.NewPool(rt.PoolOptions{})
	defer pool.Close()
	warm := func(e *rt.Env, sdkDir string, iso *rt.Sandbox) func(ctx context.Context) (time.Duration, time.Duration, error) {
		return func(ctx context.Context) (time.Duration, time.Duration, error) {
			o := options(e, sdkDir, iso)
			o.Pool = pool
			if err := pool.Prewarm(o); err != nil {
				return 0, 0, err
			}
			if err := pool.Ready(ctx, o); err != nil {
				return 0, 0, err
			}
			return runWorker(ctx, o, "warm")
		}
	}
	floorEnv := func(py string, extraEnv ...string) func(ctx context.Context) (time.Duration, time.Duration, error) {
		return func(ctx context.Context) (time.Duration, time.Duration, error) {
			cmd := exec.CommandContext(ctx, py, "-c", "import pyarrow")
			cmd.Env = append(os.Environ(), extraEnv...)
			start := time.Now()
			out, err := cmd.CombinedOutput()
			d := time.Since(start)
			if err != nil {
				return 0, 0, fmt.Errorf("%v: %s", err, out)
			}
			return d, 0, nil
		}
	}
	var variants []*variant
	variants = append(variants,
		&variant{Name: "floor", What: "ENV/bin/python -c 'import pyarrow', spawn to exit (environment with .pyc, as any used venv has)",
			run: floorEnv(compiledEnv.Python)},
		&variant{Name: "floor-nopyc", What: "the same in tarn's environment as built (no .pyc; PYTHONDONTWRITEBYTECODE=1 like the worker)",
			run: floorEnv(env.Python, "PYTHONDONTWRITEBYTECODE=1")},
	)
	if sb.Isolation == rt.IsolationBubblewrap {
		variants = append(variants,
			&variant{Name: "worker-sandbox", What: "runtime.RunWorker, bubblewrap (what tarn run does): call -> user's first line",
				run: worker(env, sdk, sb)},
			&variant{Name: "warm-sandbox", What: "as worker-sandbox, a warm worker of the pool ready (what tarn run does once prewarmed)",
				run: warm(env, sdk, sb)},
		)
	}
	variants = append(variants,
		&variant{Name: "worker-nosandbox", What: "runtime.RunWorker, plain process: call -> user's first line",
			run: worker(env, sdk, plain)},
		&variant{Name: "warm-nosandbox", What: "as worker-nosandbox, a warm worker of the pool ready",
			run: warm(env, sdk, plain)},
	)
	if sb.Isolation == rt.IsolationBubblewrap {
		variants = append(variants,
			&variant{Name: "worker-sandbox-pyc", What: "as worker-sandbox, the environment's packages with compiled .pyc too (a possible fix)",
				run: worker(compiledEnv, compiledSDK, sb)},
			&variant{Name: "bwrap-true", What: "bubblewrap with tarn's arguments running /bin/true, spawn to exit (the sandbox alone)",
				run: func(ctx context.Context) (time.Duration, time.Duration, error) {
					args := bwrapArgs(cfg.home, []string{env.Dir, sdk, project}, []string{filepath.Join(tmp, "scratch"), shm}, tmp, []string{"/bin/true"})
					start := time.Now()
					out, err := exec.CommandContext(ctx, args[0], args[1:]...).CombinedOutput()
					if err != nil {
						return 0, 0, fmt.Errorf("%v: %s", err, out)
					}
					return time.Since(start), 0, nil
				}},
		)
	}
	variants = append(variants,
		&variant{Name: "worker-nosandbox-pyc", What: "as worker-nosandbox, the environment's packages with compiled .pyc too (a possible fix)",
			run: worker(compiledEnv, compiledSDK, plain)},
	)

	// Interleaved: every round runs each variant once, in a rotating order.
	total := cfg.warmup + cfg.runs
	for r := 0; r < total; r++ {
		if r == cfg.warmup {
			kit.Logf("warm-up done; %d timed rounds of %d variants", cfg.runs, len(variants))
		}
		for i := range variants {
			v := variants[(i+r)%len(variants)]
			toUser, all, err := v.run(ctx)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", v.Name, err)
			}
			if r >= cfg.warmup {
				v.samples = append(v.samples, toUser)
				if all > 0 {
					v.totals = append(v.totals, all)
				}
			}
		}
		if r >= cfg.warmup && (r-cfg.warmup+1)%10 == 0 {
			kit.Logf("round %d/%d", r-cfg.warmup+1, cfg.runs)
		}
	}
	rep := &envReport{Env: env.Dir, Python: env.Version, Variants: variants}
	by := map[string]*variant{}
	for _, v := range variants {
		v.Dist = summarize(v.samples)
		if len(v.totals) > 0 {
			d := summarize(v.totals)
			v.Total = &d
		}
		by[v.Name] = v
	}
	add := func(name, of, over string, target float64) {
		if by[of] == nil || by[over] == nil {
			return
		}
		rep.Ratios = append(rep.Ratios, ratio{Name: name, Of: of, Over: over, Value: by[of].Dist.P50 / by[over].Dist.P50, Target: target})
	}
	main, warmMain := "worker-sandbox", "warm-sandbox"
	if by[main] == nil {
		main, warmMain = "worker-nosandbox", "warm-nosandbox"
	}
	add("tarn step start / floor (TARGET)", main, "floor", 1.3)
	add("warm worker step start / floor (TARGET)", warmMain, "floor", 0.2)
	add("warm worker without the sandbox / floor", "warm-nosandbox", "floor", 0)
	add("without the sandbox / floor", "worker-nosandbox", "floor", 0)
	add("with the sandbox / floor without .pyc", main, "floor-nopyc", 0)
	add("with .pyc (fix) / floor", "worker-sandbox-pyc", "floor", 0)
	add("with .pyc (fix) / floor", "worker-nosandbox-pyc", "floor", 0)
	add("floor without .pyc / floor", "floor-nopyc", "floor", 0)
	rep.TargetMet = len(rep.Ratios) > 1
	for _, x := range rep.Ratios {
		rep.TargetMet = rep.TargetMet && (x.Target == 0 || x.Value <= x.Target)
	}
	if cfg.profile {
		// median over a few runs: one run on a noisy machine says little
		byMod := map[string][]float64{}
		for i := 0; i < 7; i++ {
			figs, err := profileImports(ctx, env, sdk, project, shm, filepath.Join(tmp, "scratch"))
			if err != nil {
				kit.Logf("import profile failed: %v", err)
				break
			}
			for _, f := range figs {
				byMod[f.Module] = append(byMod[f.Module], f.CumulativeMs)
			}
		}
		for m, xs := range byMod {
			rep.Imports = append(rep.Imports, importFigure{Module: m, CumulativeMs: benchkit.Median(xs)})
		}
		sort.Slice(rep.Imports, func(i, j int) bool { return rep.Imports[i].CumulativeMs > rep.Imports[j].CumulativeMs })
		if len(rep.Imports) > 8 {
			rep.Imports = rep.Imports[:8]
		}
	}
	return rep, nil
}

// runWorker runs one trivial step through runtime.RunWorker and returns the
// time from the call to the user's first line, and to RunWorker's return.
// served is how the step must have been served: "warm" or "cold".
func runWorker(ctx context.Context, o rt.WorkerOptions, served string) (time.Duration, time.Duration, error) {
	spec := &rt.StepSpec{Kind: "model", ProjectDir: o.ProjectDir, File: "first.py", Function: "first", Name: "first",
		Inputs: map[string]rt.InputSpec{}, Parameters: map[string]any{},
		Output: "first.arrow"}
	var t0 int64
	var how string
	var lines []string
	o.Output = func(line string) {
		if rest, ok := strings.CutPrefix(line, "T0 "); ok {
			ns, mode, _ := strings.Cut(strings.TrimSpace(rest), " ")
			t0, _ = strconv.ParseInt(ns, 10, 64)
			how = mode
			return
		}
		lines = append(lines, line)
	}
	start := time.Now()
	_, err := rt.RunWorker(ctx, spec, o)
	total := time.Since(start)
	if err != nil {
		return 0, 0, fmt.Errorf("%w\n%s", err, strings.Join(lines, "\n"))
	}
	if t0 == 0 || how != served {
		return 0, 0, fmt.Errorf("the step should have been served %s and print its start time; it printed T0 %d, served %q\n%s", served, t0, how, strings.Join(lines, "\n"))
	}
	return time.Duration(t0 - start.UnixNano()), total, nil
}

// bwrapArgs mirrors runtime's bubblewrap command line for a worker.
func bwrapArgs(hide string, readOnly, writable []string, workdir string, argv []string) []string {
	args := []string{"bwrap", "--die-with-parent", "--unshare-pid", "--unshare-ipc", "--unshare-uts",
		"--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp", "--unshare-net", "--tmpfs", hide}
	for _, p := range readOnly {
		args = append(args, "--ro-bind", p, p)
	}
	for _, p := range writable {
		os.MkdirAll(p, 0o755)
		args = append(args, "--bind", p, p)
	}
	args = append(args, "--chdir", workdir, "--")
	return append(args, argv...)
}

// compiledCopies copies the environment and the SDK and compiles their
// bytecode, leaving tarn's own copies untouched.
func compiledCopies(ctx context.Context, env *rt.Env, sdk, dir string) (*rt.Env, string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, "", err
	}
	envCopy := filepath.Join(dir, "env")
	sdkCopy := filepath.Join(dir, "sdk")
	for _, c := range [][2]string{{env.Dir, envCopy}, {sdk, sdkCopy}} {
		if out, err := exec.CommandContext(ctx, "cp", "-a", c[0], c[1]).CombinedOutput(); err != nil {
			return nil, "", fmt.Errorf("copy %s: %v: %s", c[0], err, out)
		}
	}
	py := filepath.Join(envCopy, "bin", "python")
	if out, err := exec.CommandContext(ctx, py, "-m", "compileall", "-q", "-j", "0", filepath.Join(envCopy, "lib"), sdkCopy).CombinedOutput(); err != nil {
		return nil, "", fmt.Errorf("compileall: %v: %s", err, out)
	}
	e := *env
	e.Dir, e.Python = envCopy, py
	return &e, sdkCopy, nil
}

// profileImports runs the worker once (no sandbox, the worker's environment
// variables) with -X importtime and returns the slowest top-level imports.
func profileImports(ctx context.Context, env *rt.Env, sdk, project, shm, scratch string) ([]importFigure, error) {
	spec := rt.StepSpec{Kind: "model", ProjectDir: project, File: "first.py", Function: "first", Name: "first",
		Inputs: map[string]rt.InputSpec{}, Parameters: map[string]any{},
		Output: filepath.Join(shm, "prof.arrow"), Result: filepath.Join(shm, "prof.result.json")}
	data, _ := json.Marshal(spec)
	specPath := filepath.Join(shm, "prof.spec.json")
	if err := os.WriteFile(specPath, data, 0o644); err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, env.Python, "-X", "importtime", "-m", "tarn._worker", specPath)
	cmd.Dir = scratch
	cmd.Env = []string{"PATH=" + filepath.Join(env.Dir, "bin") + ":/usr/bin:/bin", "HOME=" + scratch, "PYTHONPATH=" + sdk,
		"PYTHONUNBUFFERED=1", "PYTHONDONTWRITEBYTECODE=1", "VIRTUAL_ENV=" + env.Dir, "LANG=C.UTF-8"}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("%v: %s", err, stderr.String())
	}
	// "import time: self [us] | cumulative | imported package"; top level has no indent
	var out []importFigure
	sc := bufio.NewScanner(&stderr)
	for sc.Scan() {
		line, ok := strings.CutPrefix(sc.Text(), "import time:")
		if !ok {
			continue
		}
		parts := strings.Split(line, "|")
		if len(parts) != 3 {
			continue
		}
		name := parts[2]
		if strings.HasPrefix(name, "  ") && strings.TrimSpace(name) != "numpy" { // nested imports are indented further
			continue
		}
		cum, err := strconv.ParseFloat(strings.TrimSpace(parts[1]), 64)
		if err != nil {
			continue
		}
		out = append(out, importFigure{Module: strings.TrimSpace(name), CumulativeMs: cum / 1000})
	}
	return out, nil
}

func summarize(samples []time.Duration) dist {
	if len(samples) == 0 {
		return dist{}
	}
	return dist{N: len(samples), P50: benchkit.Ms(benchkit.Median(samples)), P10: benchkit.Ms(benchkit.Percentile(samples, 0.10)),
		P90: benchkit.Ms(benchkit.Percentile(samples, 0.90)), Min: benchkit.Ms(slices.Min(samples))}
}

func (r *report) print(w io.Writer) {
	fmt.Fprintf(w, "Step cold start with a cached environment (isolation on this host: %s)\n", r.Isolation)
	fmt.Fprintf(w, "machine: %s; %d interleaved runs per variant, milliseconds\n", r.Machine, r.Runs)
	for _, e := range r.Envs {
		e.print(w)
	}
	fmt.Fprintf(w, "\ntargets (tarn step start <= 1.3x the floor; with a warm worker <= 0.2x) in every environment: %s\n", benchkit.Met(r.TargetMet))
}

func (r *envReport) print(w io.Writer) {
	fmt.Fprintf(w, "\n== environment %s (Python %s)\n   %s\n\n", r.Packages, r.Python, r.Env)
	fmt.Fprintf(w, "  %-20s %7s %7s %7s %7s  %s\n", "variant", "p50", "p10", "p90", "min", "what")
	for _, v := range r.Variants {
		fmt.Fprintf(w, "  %-20s %7.1f %7.1f %7.1f %7.1f  %s\n", v.Name, v.Dist.P50, v.Dist.P10, v.Dist.P90, v.Dist.Min, v.What)
	}
	fmt.Fprintf(w, "\n  whole step (RunWorker call -> return, incl. writing the output and exit), p50:")
	for _, v := range r.Variants {
		if v.Total != nil {
			fmt.Fprintf(w, "  %s %.1f", v.Name, v.Total.P50)
		}
	}
	fmt.Fprintf(w, "\n\n  ratios of p50s\n")
	for _, x := range r.Ratios {
		t := ""
		if x.Target > 0 {
			t = fmt.Sprintf("   target <= %.1f: %s", x.Target, benchkit.Met(x.Value <= x.Target))
		}
		fmt.Fprintf(w, "  %-42s %-22s / %-12s %5.2f%s\n", x.Name, x.Of, x.Over, x.Value, t)
	}
	if len(r.Imports) > 0 {
		fmt.Fprintf(w, "\n  worker start-up imports (median of 7 runs, -X importtime, no sandbox, tarn's environment as built), cumulative ms:\n")
		for _, f := range r.Imports {
			fmt.Fprintf(w, "    %-30s %7.1f\n", f.Module, f.CumulativeMs)
		}
	}
}
