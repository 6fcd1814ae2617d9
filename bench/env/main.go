// Command env measures building a Python environment the way tarn does
// (runtime.EnvManager.Ensure: uv venv + uv pip install into
// TARN_HOME/envs/<hash>) for pandas + pyarrow: with a cold uv cache, with a
// warm one, and when the identical environment exists; against
// `python -m venv X && X/bin/pip install ...` with pip's cache disabled and
// warm, interleaved in the same run.
//
//	go run ./bench/env [-reps 3] [-json]
//
// See README.md for how to read the figures.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/tarnhq/tarn/bench/internal/benchkit"
	"github.com/tarnhq/tarn/python"
	rt "github.com/tarnhq/tarn/runtime"
)

type config struct {
	reps       int
	identicalN int
	pyVer      string
	pandas     string
	pyarrow    string
	verify     bool
	skipCold   bool
	noPip      bool
}

type variant struct {
	Name    string    `json:"name"`
	What    string    `json:"what"`
	Samples []float64 `json:"samples_s"`
	Median  float64   `json:"median_s"`
	Min     float64   `json:"min_s"`
	// Check are the seconds of each build's import check (uv variants).
	Check       []float64 `json:"check_s,omitempty"`
	CheckMedian float64   `json:"check_median_s,omitempty"`
	// CheckShare is the median check over the median build without it.
	CheckShare float64 `json:"check_share,omitempty"`
	// Ready are the seconds of each build plus the first import of the
	// packages in it, as a step's worker does it (uv variants).
	Ready       []float64 `json:"ready_s,omitempty"`
	ReadyMedian float64   `json:"ready_median_s,omitempty"`
}

type report struct {
	Machine      string     `json:"machine"`
	Isolation    string     `json:"isolation"`
	Python       string     `json:"python"`
	Packages     []string   `json:"packages"`
	UV           string     `json:"uv"`
	Pip          string     `json:"pip"`
	Reps         int        `json:"reps"`
	Variants     []*variant `json:"variants"`
	IdenticalMs  float64    `json:"identical_p50_ms"`
	IdenticalN   int        `json:"identical_n"`
	IdenticalP99 float64    `json:"identical_p99_ms"`
	// ratios of medians
	PipWarmOverUVWarm    float64 `json:"pip_warm_over_uv_warm"`
	PipNoCacheOverUVWarm float64 `json:"pip_nocache_over_uv_warm"`
	PipNoCacheOverUVCold float64 `json:"pip_nocache_over_uv_cold"`
	Profile              []step  `json:"warm_build_profile"`
	TargetIdentical      bool    `json:"target_identical_met"`
	TargetWarm           bool    `json:"target_warm_met"`
}

var kit = benchkit.New("env")

func main() {
	var cfg config
	fs := kit.Flags
	fs.IntVar(&cfg.reps, "reps", 3, "timed builds per variant (interleaved; medians reported)")
	fs.IntVar(&cfg.identicalN, "identical", 200, "timed Ensure calls of an existing environment")
	fs.StringVar(&cfg.pyVer, "python", "3.11", "Python version")
	fs.StringVar(&cfg.pandas, "pandas", "2.2.3", "pandas pin")
	fs.StringVar(&cfg.pyarrow, "pyarrow", "26.0.1", "pyarrow pin")
	fs.BoolVar(&cfg.verify, "verify", true, "check once that every kind of environment imports pandas and pyarrow (untimed)")
	fs.BoolVar(&cfg.noPip, "no-pip", false, "skip the pip baselines (the uv variants and the import check's figures only)")
	fs.BoolVar(&cfg.skipCold, "skip-cold", false, "skip the variants that download from the index (uv cold cache, pip without cache)")
	kit.Main(func(ctx context.Context) error { return run(ctx, cfg) })
}

func run(ctx context.Context, cfg config) error {
	tmp, err := kit.WorkDir("")
	if err != nil {
		return err
	}
	uv, err := rt.FindUV(os.Getenv("TARN_UV"))
	if err != nil {
		return err
	}
	interps, err := rt.FindInterpreters(ctx, uv, false)
	if err != nil {
		return err
	}
	interp, err := rt.PickInterpreter(interps, cfg.pyVer)
	if err != nil {
		return err
	}
	spec := rt.EnvSpec{Python: cfg.pyVer, Packages: map[string]string{"pandas": cfg.pandas, "pyarrow": cfg.pyarrow}}
	pkgs := spec.Requirements()
	rep := &report{Machine: benchkit.Host(), Python: interp.Version + " (" + interp.Path + ")", Packages: pkgs, Reps: cfg.reps}
	rep.UV = strings.TrimSpace(output(ctx, append(slices.Clone(uv), "--version")...))

	sdkVersion := python.Version()
	// The SDK, which Ensure byte-compiles into each new environment's
	// interpreter as cmd/tarn sets it up.
	sdkDir, err := python.Extract(filepath.Join(tmp, "sdk"))
	if err != nil {
		return err
	}
	n := 0
	newDir := func(kind string) string {
		n++
		return filepath.Join(tmp, fmt.Sprintf("%s-%d", kind, n))
	}
	// ensure builds spec with a fresh EnvManager (a fresh tarn process) in envDir, with uvCache.
	// Builds run in the sandbox tarn run uses (bubblewrap where the host has it).
	sandbox, err := rt.NewSandbox(ctx, rt.SandboxConfig{StateDir: filepath.Join(tmp, "sandbox")})
	if err != nil {
		return err
	}
	rep.Isolation = sandbox.Describe()
	ensureWith := func(envDir, uvCache string, noCheck bool) (*rt.Env, time.Duration, error) {
		os.Setenv("UV_CACHE_DIR", uvCache)
		defer os.Unsetenv("UV_CACHE_DIR")
		em := &rt.EnvManager{Dir: envDir, UV: uv, SDKVersion: sdkVersion, SDKDir: sdkDir, Sandbox: sandbox, UVCache: uvCache, NoImportCheck: noCheck}
		start := time.Now()
		env, err := em.Ensure(ctx, spec, nil)
		d := time.Since(start)
		if err == nil && env.Cached {
			err = fmt.Errorf("environment in %s was unexpectedly cached", envDir)
		}
		return env, d, err
	}
	ensure := func(envDir, uvCache string) (*rt.Env, time.Duration, error) {
		return ensureWith(envDir, uvCache, false)
	}
	// firstImport is a step's first import of the packages right after
	// the build, as its worker does it (writing no bytecode).
	firstImport := func(py string) (time.Duration, error) {
		cmd := exec.CommandContext(ctx, py, "-c", "import pandas, pyarrow")
		cmd.Env = append(os.Environ(), "PYTHONDONTWRITEBYTECODE=1")
		start := time.Now()
		if out, err := cmd.CombinedOutput(); err != nil {
			return 0, fmt.Errorf("first import: %v: %s", err, out)
		}
		return time.Since(start), nil
	}
	pipBuild := func(venv string, extraEnv ...string) (time.Duration, error) {
		start := time.Now()
		cmd := exec.CommandContext(ctx, interp.Path, "-m", "venv", venv)
		cmd.Env = append(os.Environ(), extraEnv...)
		if out, err := cmd.CombinedOutput(); err != nil {
			return 0, fmt.Errorf("python -m venv: %v: %s", err, out)
		}
		cmd = exec.CommandContext(ctx, filepath.Join(venv, "bin", "pip"), append([]string{"install", "--quiet"}, pkgs...)...)
		cmd.Env = append(os.Environ(), extraEnv...)
		if out, err := cmd.CombinedOutput(); err != nil {
			return 0, fmt.Errorf("pip install: %v: %s", err, out)
		}
		return time.Since(start), nil
	}

	warmUV := filepath.Join(tmp, "uv-cache-warm")
	pipCache := filepath.Join(tmp, "pip-cache-warm")
	// Warm both caches (untimed), and keep one tarn environment for the identical case.
	kit.Logf("warming a uv cache (untimed): Ensure of %s", strings.Join(pkgs, " "))
	identicalDir := filepath.Join(tmp, "envs-identical")
	identicalEnv, d, err := ensure(identicalDir, warmUV)
	if err != nil {
		return err
	}
	kit.Logf("  built in %.1fs", d.Seconds())
	if !cfg.noPip {
		kit.Logf("warming a pip cache (untimed): python -m venv + pip install %s", strings.Join(pkgs, " "))
		warmVenv := newDir("pip-warmup")
		if d, err = pipBuild(warmVenv, "PIP_CACHE_DIR="+pipCache); err != nil {
			return err
		}
		kit.Logf("  built in %.1fs", d.Seconds())
		rep.Pip = strings.TrimSpace(output(ctx, filepath.Join(warmVenv, "bin", "pip"), "--version"))
		if i := strings.Index(rep.Pip, " from "); i > 0 {
			rep.Pip = rep.Pip[:i]
		}
		os.RemoveAll(warmVenv)
	}

	variants := []*variant{
		{Name: "uv-cold", What: "EnvManager.Ensure, empty UV_CACHE_DIR: downloads every wheel"},
		{Name: "uv-warm", What: "EnvManager.Ensure into a new envs dir, the same (warm) UV_CACHE_DIR"},
		{Name: "uv-cold-nocheck", What: "uv-cold without the import check (NoImportCheck: only to measure it)"},
		{Name: "uv-warm-nocheck", What: "uv-warm without the import check"},
		{Name: "pip-nocache", What: "python -m venv X && X/bin/pip install ... with PIP_NO_CACHE_DIR=1: downloads every wheel"},
		{Name: "pip-warm", What: "python -m venv X && X/bin/pip install ... with a warm PIP_CACHE_DIR"},
	}
	variants = slices.DeleteFunc(variants, func(v *variant) bool {
		return cfg.skipCold && (strings.HasPrefix(v.Name, "uv-cold") || v.Name == "pip-nocache") ||
			cfg.noPip && strings.HasPrefix(v.Name, "pip-")
	})
	verified := map[string]bool{}
	check := func(name, py string) error {
		if !cfg.verify || verified[name] {
			return nil
		}
		verified[name] = true
		out, err := exec.CommandContext(ctx, py, "-c", "import pandas, pyarrow; print(pandas.__version__, pyarrow.__version__)").CombinedOutput()
		if err != nil {
			return fmt.Errorf("%s environment does not work: %v: %s", name, err, out)
		}
		kit.Logf("  %s environment imports pandas, pyarrow %s", name, strings.TrimSpace(string(out)))
		return nil
	}
	for r := 0; r < cfg.reps; r++ {
		for i := range variants {
			v := variants[(i+r)%len(variants)]
			var d time.Duration
			var err error
			var py, cleanup string
			var cleanups []string
			switch v.Name {
			case "uv-cold", "uv-cold-nocheck", "uv-warm", "uv-warm-nocheck":
				cache := warmUV
				if strings.HasPrefix(v.Name, "uv-cold") {
					cache = newDir("uv-cache-cold")
					cleanups = append(cleanups, cache)
				}
				envs := newDir("envs-" + v.Name)
				var env *rt.Env
				env, d, err = ensureWith(envs, cache, strings.HasSuffix(v.Name, "-nocheck"))
				if env != nil {
					py = env.Python
					if !strings.HasSuffix(v.Name, "-nocheck") {
						v.Check = append(v.Check, env.CheckTime.Seconds())
					}
					if err == nil {
						var imp time.Duration
						if imp, err = firstImport(py); err == nil {
							v.Ready = append(v.Ready, (d + imp).Seconds())
						}
					}
				}
				cleanup = envs
			case "pip-nocache":
				venv := newDir("pip-nocache")
				d, err = pipBuild(venv, "PIP_NO_CACHE_DIR=1")
				py, cleanup = filepath.Join(venv, "bin", "python"), venv
			case "pip-warm":
				venv := newDir("pip-warm")
				d, err = pipBuild(venv, "PIP_CACHE_DIR="+pipCache)
				py, cleanup = filepath.Join(venv, "bin", "python"), venv
			}
			if err != nil {
				return fmt.Errorf("%s: %w", v.Name, err)
			}
			kit.Logf("rep %d/%d %-12s %7.2fs", r+1, cfg.reps, v.Name, d.Seconds())
			if err := check(v.Name, py); err != nil {
				return err
			}
			v.Samples = append(v.Samples, d.Seconds())
			for _, c := range append(cleanups, cleanup) {
				os.RemoveAll(c)
			}
		}
	}

	// Identical environment: a fresh manager each time (as each `tarn run`
	// makes one), the environment already there.
	var ids []time.Duration
	for i := 0; i < cfg.identicalN; i++ {
		em := &rt.EnvManager{Dir: identicalDir, UV: uv, SDKVersion: sdkVersion, SDKDir: sdkDir, Sandbox: sandbox, UVCache: warmUV}
		start := time.Now()
		env, err := em.Ensure(ctx, spec, nil)
		d := time.Since(start)
		if err != nil {
			return err
		}
		if !env.Cached || env.Dir != identicalEnv.Dir {
			return fmt.Errorf("identical environment was not reused")
		}
		ids = append(ids, d)
	}
	rep.IdenticalN = len(ids)
	rep.IdenticalMs = benchkit.Ms(benchkit.Median(ids))
	rep.IdenticalP99 = benchkit.Ms(benchkit.Percentile(ids, 0.99))

	// Where a warm build goes: the three uv commands Ensure runs, timed alone
	// with the same warm cache and environment variables.
	kit.Logf("profiling a warm build: the uv commands of EnvManager.Ensure, 3 times each")
	rep.Profile = profileWarm(ctx, uv, interp.Path, warmUV, pkgs, newDir)

	by := map[string]*variant{}
	for _, v := range variants {
		v.Median = benchkit.Median(v.Samples)
		v.Min = slices.Min(v.Samples)
		if len(v.Ready) > 0 {
			v.ReadyMedian = benchkit.Median(v.Ready)
		}
		if len(v.Check) > 0 {
			v.CheckMedian = benchkit.Median(v.Check)
			if rest := v.Median - v.CheckMedian; rest > 0 {
				v.CheckShare = v.CheckMedian / rest
			}
		}
		by[v.Name] = v
	}
	rep.Variants = variants
	if by["pip-warm"] != nil && by["uv-warm"] != nil {
		rep.PipWarmOverUVWarm = by["pip-warm"].Median / by["uv-warm"].Median
	}
	if by["pip-nocache"] != nil && by["uv-warm"] != nil {
		rep.PipNoCacheOverUVWarm = by["pip-nocache"].Median / by["uv-warm"].Median
	}
	if by["pip-nocache"] != nil && by["uv-cold"] != nil {
		rep.PipNoCacheOverUVCold = by["pip-nocache"].Median / by["uv-cold"].Median
	}
	rep.TargetIdentical = rep.IdenticalMs < 100
	rep.TargetWarm = rep.PipWarmOverUVWarm >= 20
	return kit.Report(rep, rep.print)
}

type step struct {
	Command string  `json:"command"`
	Median  float64 `json:"median_s"`
}

// profileWarm times `uv python list` (EnvManager.Interpreters, once per
// tarn process that builds), `uv venv` and `uv pip install` separately.
func profileWarm(ctx context.Context, uv []string, interp, cache string, pkgs []string, newDir func(string) string) []step {
	env := append(os.Environ(), "UV_PYTHON_DOWNLOADS=never", "VIRTUAL_ENV=", "UV_CACHE_DIR="+cache)
	timeIt := func(argv ...string) float64 {
		cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
		cmd.Env = env
		start := time.Now()
		if out, err := cmd.CombinedOutput(); err != nil {
			kit.Logf("  %s: %v: %s", strings.Join(argv, " "), err, out)
		}
		return time.Since(start).Seconds()
	}
	var list, venv, install, offline []float64
	for i := 0; i < 3; i++ {
		dir := newDir("profile-env")
		list = append(list, timeIt(append(slices.Clone(uv), "python", "list", "--only-installed", "--output-format", "json")...))
		venv = append(venv, timeIt(append(slices.Clone(uv), "venv", "--quiet", "--python", interp, dir)...))
		install = append(install, timeIt(append(slices.Clone(uv), append([]string{"pip", "install", "--quiet", "--python", filepath.Join(dir, "bin", "python")}, pkgs...)...)...))
		os.RemoveAll(dir)
		dir = newDir("profile-env")
		timeIt(append(slices.Clone(uv), "venv", "--quiet", "--python", interp, dir)...)
		offline = append(offline, timeIt(append(slices.Clone(uv), append([]string{"pip", "install", "--quiet", "--offline", "--python", filepath.Join(dir, "bin", "python")}, pkgs...)...)...))
		os.RemoveAll(dir)
	}
	return []step{
		{"uv python list --only-installed (interpreter discovery, once per tarn process that builds)", benchkit.Median(list)},
		{"uv venv --python " + interp, benchkit.Median(venv)},
		{"uv pip install " + strings.Join(pkgs, " ") + " (warm cache: links files)", benchkit.Median(install)},
		{"  the same with --offline (no index revalidation; not what Ensure runs)", benchkit.Median(offline)},
	}
}

func output(ctx context.Context, argv ...string) string {
	out, _ := exec.CommandContext(ctx, argv[0], argv[1:]...).Output()
	return string(out)
}

func (r *report) print(w io.Writer) {
	fmt.Fprintf(w, "Building a Python environment for %s\n", strings.Join(r.Packages, " "))
	fmt.Fprintf(w, "machine: %s; Python %s; %s; %s; %d interleaved builds per variant\n\n", r.Machine, r.Python, r.UV, r.Pip, r.Reps)
	fmt.Fprintf(w, "  %-12s %9s %9s  %s\n", "variant", "median", "min", "what")
	for _, v := range r.Variants {
		fmt.Fprintf(w, "  %-12s %8.2fs %8.2fs  %s\n", v.Name, v.Median, v.Min, v.What)
	}
	fmt.Fprintf(w, "  %-12s %7.3fms %7.3fms  EnvManager.Ensure when the identical environment exists (p50 and p99 of %d calls, a fresh manager each)\n\n",
		"identical", r.IdenticalMs, r.IdenticalP99, r.IdenticalN)
	if r.PipWarmOverUVWarm > 0 {
		fmt.Fprintf(w, "  pip (warm cache) / tarn (warm uv cache):   %6.1fx   target >= 20x: %s\n", r.PipWarmOverUVWarm, benchkit.Met(r.TargetWarm))
	}
	if r.PipNoCacheOverUVWarm > 0 {
		fmt.Fprintf(w, "  pip (no cache) / tarn (warm uv cache):     %6.1fx\n", r.PipNoCacheOverUVWarm)
	}
	if r.PipNoCacheOverUVCold > 0 {
		fmt.Fprintf(w, "  pip (no cache) / tarn (cold uv cache):     %6.1fx   (both download everything)\n", r.PipNoCacheOverUVCold)
	}
	fmt.Fprintf(w, "  identical environment: %.3f ms            target < 100 ms: %s\n", r.IdenticalMs, benchkit.Met(r.TargetIdentical))
	for _, v := range r.Variants {
		if v.CheckMedian > 0 {
			fmt.Fprintf(w, "  %s: the import check takes %.2fs, %.1f%% on top of the build without it   target < 10%%: %s\n",
				v.Name, v.CheckMedian, 100*v.CheckShare, benchkit.Met(v.CheckShare < 0.10))
		}
	}
	fmt.Fprintf(w, "  (a reused environment runs no check: the identical figure above)\n")
	by := map[string]*variant{}
	for _, v := range r.Variants {
		by[v.Name] = v
	}
	for _, kind := range []string{"uv-cold", "uv-warm"} {
		with, without := by[kind], by[kind+"-nocheck"]
		if with == nil || without == nil || without.ReadyMedian == 0 {
			continue
		}
		fmt.Fprintf(w, "  %s: ready for a step (build + its first import of the packages) %.2fs with the check, %.2fs without: the check adds %.1f%%\n",
			kind, with.ReadyMedian, without.ReadyMedian, 100*(with.ReadyMedian/without.ReadyMedian-1))
	}
	fmt.Fprintf(w, "  isolation of the builds: %s\n", r.Isolation)
	if len(r.Profile) > 0 {
		fmt.Fprintf(w, "\n  where a warm-cache build goes (each uv command of Ensure alone, median of 3):\n")
		for _, p := range r.Profile {
			fmt.Fprintf(w, "    %6.2fs  %s\n", p.Median, p.Command)
		}
	}
}
