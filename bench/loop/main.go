// Command loop measures the edit-and-rerun loop of a 3-step pipeline on
// about 1 GB of data: a generated Parquet file imported as a tarn table,
// then clean -> enrich -> aggregate (pyarrow), each step a Python model
// materialized as a table. After a first run, the enrich step's code is
// edited and the project re-run with the real `tarn run`; against the same
// model code run as a plain local Python script that reads and writes
// Parquet, in the same environment, interleaved.
//
//	go run ./bench/loop [-gb 1] [-rounds 3] [-json]
//
// See README.md for how to read the figures.
package main

import (
	"bufio"
	"bytes"
	"context"
	"embed"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/tarnhq/tarn/bench/internal/benchkit"
	rt "github.com/tarnhq/tarn/runtime"
)

//go:embed py/*.py py/models/*.py
var pyFiles embed.FS

const projectYAML = `name: loop
defaults:
  python: "%s"
  packages: {numpy: "%s"}
  timeout: 3600
`

var steps = []string{"clean_trips", "enriched_trips", "zone_hour_stats"}

type config struct {
	gb     float64
	rounds int
	tarn   *string
	pyVer  string
	numpy  string
	dry    bool
}

var kit = benchkit.New("loop")

func main() {
	var cfg config
	fs := kit.Flags
	fs.Float64Var(&cfg.gb, "gb", 1, "input size: GB of Arrow data in memory (the Parquet file is smaller)")
	fs.IntVar(&cfg.rounds, "rounds", 3, "edit-and-rerun rounds (each runs every variant once, interleaved)")
	cfg.tarn = kit.TarnFlag()
	fs.StringVar(&cfg.pyVer, "python", "3.11", "Python version of the project")
	fs.StringVar(&cfg.numpy, "numpy", "2.4.6", "numpy pin of the project (the data generator uses numpy)")
	fs.BoolVar(&cfg.dry, "dry-run", true, "also time `tarn run --dry-run` (no materialization) to separate its cost")
	kit.Main(func(ctx context.Context) error { return run(ctx, cfg) })
}

// runFigure is one timed run of one variant.
type runFigure struct {
	Variant string             `json:"variant"`
	Round   int                `json:"round"` // 0: the first run, before any edit
	WallS   float64            `json:"wall_s"`
	Phases  map[string]float64 `json:"phases_s"`
}

type variantSummary struct {
	Name    string             `json:"name"`
	What    string             `json:"what"`
	First   float64            `json:"first_run_s"`
	Samples []float64          `json:"rerun_samples_s"`
	Median  float64            `json:"rerun_median_s,omitempty"` // absent for tarn-first, which only runs first
	Phases  map[string]float64 `json:"rerun_phase_medians_s"`
	order   []string
}

type report struct {
	Machine     string            `json:"machine"`
	Isolation   string            `json:"isolation"`
	InputRows   int64             `json:"input_rows"`
	InputArrow  int64             `json:"input_arrow_bytes"`
	InputPq     int64             `json:"input_parquet_bytes"`
	GenS        float64           `json:"generate_s"`
	ImportS     float64           `json:"import_s"`
	Rounds      int               `json:"rounds"`
	Variants    []*variantSummary `json:"variants"`
	Runs        []*runFigure      `json:"runs"`
	Ratio       float64           `json:"rerun_ratio_tarn_over_local"`
	RatioDry    float64           `json:"rerun_ratio_tarn_dry_over_local,omitempty"`
	TargetMet   bool              `json:"target_met"`
	RatioMid    float64           `json:"rerun_ratio_edit_middle_cached_over_local"`
	RatioLast   float64           `json:"rerun_ratio_edit_last_cached_over_local"`
	NoChangeS   float64           `json:"nothing_changed_s"`
	RatioFirst  float64           `json:"first_run_ratio_cache_on_over_local"`
	TarnCommand string            `json:"tarn_command"`
}

func run(ctx context.Context, cfg config) error {
	tmp, err := kit.WorkDir("")
	if err != nil {
		return err
	}
	home := filepath.Join(tmp, "home")
	project := filepath.Join(tmp, "project")
	data := filepath.Join(tmp, "data")
	localOut := filepath.Join(tmp, "local-out")
	for _, d := range []string{home, filepath.Join(project, "models"), data, localOut} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	bin, err := kit.Tarn(ctx, *cfg.tarn, filepath.Join(tmp, "bin"))
	if err != nil {
		return err
	}
	// project files
	if err := os.WriteFile(filepath.Join(project, "tarn_project.yml"), []byte(fmt.Sprintf(projectYAML, cfg.pyVer, cfg.numpy)), 0o644); err != nil {
		return err
	}
	for _, n := range []string{"models/clean.py", "models/enrich.py", "models/stats.py"} {
		b, _ := pyFiles.ReadFile("py/" + n)
		if err := os.WriteFile(filepath.Join(project, n), b, 0o644); err != nil {
			return err
		}
	}
	for _, n := range []string{"gen.py", "local_run.py"} {
		b, _ := pyFiles.ReadFile("py/" + n)
		if err := os.WriteFile(filepath.Join(tmp, n), b, 0o644); err != nil {
			return err
		}
	}

	// The project's environment, built the way tarn run builds it (same
	// key: tarn run finds it cached). The local script runs in it too.
	kit.Logf("environment: Python %s, numpy==%s, pyarrow==%s", cfg.pyVer, cfg.numpy, rt.DefaultPyArrow)
	env, sdk, err := kit.HomeEnv(ctx, home, rt.EnvSpec{Python: cfg.pyVer, Packages: map[string]string{"numpy": cfg.numpy}})
	if err != nil {
		return err
	}
	sb, err := rt.NewSandbox(ctx, rt.SandboxConfig{})
	if err != nil {
		return err
	}
	rep := &report{Rounds: cfg.rounds, Isolation: sb.Describe()}

	// input
	input := filepath.Join(data, "trips.parquet")
	kit.Logf("generating %.1f GB of trips (Arrow size) as Parquet", cfg.gb)
	out, err := exec.CommandContext(ctx, env.Python, filepath.Join(tmp, "gen.py"), input, fmt.Sprint(cfg.gb)).CombinedOutput()
	if err != nil {
		return fmt.Errorf("generate: %v: %s", err, out)
	}
	gen := benchLine(out)
	rep.InputRows, rep.InputArrow, rep.GenS = int64(gen["rows"]), int64(gen["arrow_bytes"]), gen["seconds"]
	if st, err := os.Stat(input); err == nil {
		rep.InputPq = st.Size()
	}
	kit.Logf("  %d rows, %.2f GB Arrow, %.2f GB Parquet", rep.InputRows, float64(rep.InputArrow)/1e9, float64(rep.InputPq)/1e9)

	tarnEnv := append(os.Environ(), "TARN_HOME="+home)
	kit.Logf("tarn table create trips --from %s", input)
	start := time.Now()
	cmd := exec.CommandContext(ctx, bin, "table", "create", "trips", "--from", input)
	cmd.Env = tarnEnv
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("import: %v: %s", err, out)
	}
	rep.ImportS = time.Since(start).Seconds()
	kit.Logf("  imported in %.1fs", rep.ImportS)

	rep.TarnCommand = fmt.Sprintf("TARN_HOME=%s %s run -p %s -o json", home, bin, project)
	variants := []*variantSummary{
		{Name: "tarn", What: "tarn run -p DIR --no-cache: 3 Python models in sandboxed workers, each output materialized as an Iceberg table, merged into main"},
		{Name: "local", What: "ENV/bin/python local_run.py: the same 3 functions as a plain script, reading the Parquet input, writing 3 Parquet files"},
	}
	if cfg.dry {
		variants = append(variants, &variantSummary{Name: "tarn-dry", What: "tarn run -p DIR --no-cache --dry-run: the same steps, nothing materialized"})
	}
	cached := []*variantSummary{
		{Name: "tarn-first", What: "(b) tarn run -p DIR with an empty cache (first run only)"},
		{Name: "tarn-edit-mid", What: "tarn run -p DIR after editing enrich.py (the middle step): clean_trips cached"},
		{Name: "tarn-edit-last", What: "(c) tarn run -p DIR after editing stats.py (the last step): two steps cached"},
		{Name: "tarn-nochange", What: "(d) tarn run -p DIR with nothing changed: every step cached"},
	}
	runOne := func(v *variantSummary, round int) error {
		var f *runFigure
		var err error
		switch v.Name {
		case "tarn":
			f, err = runTarn(ctx, bin, tarnEnv, project, "--no-cache")
		case "tarn-dry":
			f, err = runTarn(ctx, bin, tarnEnv, project, "--no-cache", "--dry-run")
		case "tarn-first", "tarn-edit-mid", "tarn-edit-last", "tarn-nochange":
			f, err = runTarn(ctx, bin, tarnEnv, project)
		case "local":
			f, err = runLocal(ctx, env, sdk, filepath.Join(tmp, "local_run.py"), project, input, localOut)
		}
		if err != nil {
			return fmt.Errorf("%s: %w", v.Name, err)
		}
		f.Variant, f.Round = v.Name, round
		rep.Runs = append(rep.Runs, f)
		if round == 0 {
			v.First = f.WallS
		} else {
			v.Samples = append(v.Samples, f.WallS)
		}
		kit.Logf("  %-9s %6.2fs", v.Name, f.WallS)
		return nil
	}
	kit.Logf("first run (before any edit)")
	for _, v := range append(slices.Clone(variants), cached[0]) {
		if err := runOne(v, 0); err != nil {
			return err
		}
	}
	enrich := filepath.Join(project, "models", "enrich.py")
	stats := filepath.Join(project, "models", "stats.py")
	for r := 1; r <= cfg.rounds; r++ {
		miles := 10.0 + float64(r)/2
		if err := editConstant(enrich, "LONG_TRIP_MILES", fmt.Sprintf("%.1f", miles)); err != nil {
			return err
		}
		kit.Logf("round %d/%d: edited models/enrich.py (LONG_TRIP_MILES = %.1f), re-running", r, cfg.rounds, miles)
		for i := range variants {
			if err := runOne(variants[(i+r)%len(variants)], r); err != nil {
				return err
			}
		}
		if err := runOne(cached[1], r); err != nil {
			return err
		}
		if err := editConstant(stats, "MIN_TRIPS", fmt.Sprint(r)); err != nil {
			return err
		}
		kit.Logf("  edited models/stats.py (MIN_TRIPS = %d)", r)
		if err := runOne(cached[2], r); err != nil {
			return err
		}
		if err := runOne(cached[3], r); err != nil {
			return err
		}
	}
	variants = append(variants, cached...)
	by := map[string]*variantSummary{}
	for _, v := range variants {
		v.Median = benchkit.Median(v.Samples)
		v.Phases = map[string]float64{}
		phases := map[string][]float64{}
		for _, f := range rep.Runs {
			if f.Variant != v.Name || f.Round == 0 {
				continue
			}
			for k, x := range f.Phases {
				if !slices.Contains(v.order, k) {
					v.order = append(v.order, k)
				}
				phases[k] = append(phases[k], x)
			}
		}
		for k, xs := range phases {
			v.Phases[k] = benchkit.Median(xs)
		}
		by[v.Name] = v
	}
	rep.Variants = variants
	rep.Ratio = by["tarn"].Median / by["local"].Median
	if by["tarn-dry"] != nil {
		rep.RatioDry = by["tarn-dry"].Median / by["local"].Median
	}
	rep.TargetMet = rep.Ratio <= 1.5
	rep.RatioMid = by["tarn-edit-mid"].Median / by["local"].Median
	rep.RatioLast = by["tarn-edit-last"].Median / by["local"].Median
	rep.NoChangeS = by["tarn-nochange"].Median
	rep.RatioFirst = by["tarn-first"].First / by["local"].First
	rep.Machine = benchkit.Host()
	return kit.Report(rep, rep.print)
}

func editConstant(path, name, value string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	re := regexp.MustCompile(`(?m)^` + name + ` = .*$`)
	if !re.Match(b) {
		return fmt.Errorf("%s has no %s", path, name)
	}
	return os.WriteFile(path, re.ReplaceAll(b, []byte(name+" = "+value)), 0o644)
}

// benchLine returns the figures of the first BENCH line in a helper's
// output, nil when there is none.
func benchLine(out []byte) map[string]float64 {
	for _, line := range strings.Split(string(out), "\n") {
		var m map[string]float64
		if benchkit.BenchLine(line, &m) {
			return m
		}
	}
	return nil
}

// runTarn runs `tarn run` and splits its wall time into phases using the
// progress lines it prints (received time) and the models' @mark lines
// (their own clock).
func runTarn(ctx context.Context, bin string, env []string, project string, extra ...string) (*runFigure, error) {
	args := append([]string{"run", "-p", project, "-o", "json"}, extra...)
	dry := slices.Contains(extra, "--dry-run")
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = env
	var stdout bytes.Buffer
	cmd.Stdout = &stdout
	pipe, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	type ev struct {
		at   time.Duration
		line string
	}
	var events []ev
	var mu sync.Mutex
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	sc := bufio.NewScanner(pipe)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		mu.Lock()
		events = append(events, ev{time.Since(start), sc.Text()})
		mu.Unlock()
	}
	err = cmd.Wait()
	wall := time.Since(start)
	var tail []string
	for _, e := range events {
		tail = append(tail, e.line)
	}
	if err != nil {
		return nil, fmt.Errorf("%v\n%s", err, strings.Join(tail, "\n"))
	}
	var res struct {
		Steps []struct {
			Name  string `json:"name"`
			State string `json:"state"`
		} `json:"steps"`
		Error string `json:"error"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &res); err != nil || res.Error != "" {
		return nil, fmt.Errorf("bad result (%v): %s\n%s", err, res.Error, strings.Join(tail, "\n"))
	}

	// timeline
	at := map[string]time.Duration{}
	mark := func(k string, d time.Duration) {
		if _, ok := at[k]; !ok {
			at[k] = d
		}
	}
	for _, e := range events {
		l := e.line
		switch {
		case strings.HasPrefix(l, "tarn run of project"), strings.HasPrefix(l, "tarn dry run"):
			mark("header", e.at)
		case strings.HasPrefix(l, "plan:"):
			mark("plan", e.at)
		case strings.HasPrefix(l, "environment "):
			at["envs"] = e.at
		case strings.HasPrefix(l, "merging "):
			mark("merging", e.at)
		case strings.HasPrefix(l, "▶ "):
			mark("running:"+strings.Fields(l)[1], e.at)
		case strings.HasPrefix(l, "✓ "):
			mark("done:"+strings.Fields(l)[1], e.at)
		case strings.HasPrefix(l, "  ["):
			// "  [step] @mark start NS": the model's own clock
			rest := l[3:]
			i := strings.Index(rest, "] @mark ")
			if i < 0 {
				continue
			}
			step := rest[:i]
			f := strings.Fields(rest[i+len("] @mark "):])
			if len(f) == 2 {
				ns, _ := strconv.ParseInt(f[1], 10, 64)
				mark(f[0]+":"+step, time.Duration(ns-start.UnixNano()))
			}
		}
	}
	ph := map[string]float64{}
	seg := func(name, from, to string) {
		a, ok1 := at[from]
		b, ok2 := at[to]
		if from == "" {
			a, ok1 = 0, true
		}
		if to == "" {
			b, ok2 = wall, true
		}
		if ok1 && ok2 {
			ph[name] = (b - a).Seconds()
		}
	}
	seg("1 start-up: catalog, SDK, bwrap probe, model discovery", "", "header")
	seg("2 plan + environment check", "header", "envs")
	seg("3 export lake table trips (Go: Iceberg scan -> Arrow IPC)", "envs", "running:"+steps[0])
	prev := ""
	for i, s := range steps {
		n := strconv.Itoa(i + 4)
		if prev != "" {
			seg(n+" "+s+" 0 scheduling after "+prev, "done:"+prev, "running:"+s)
		}
		seg(n+" "+s+" a worker start, input mmap, module import", "running:"+s, "start:"+s)
		seg(n+" "+s+" b user code", "start:"+s, "end:"+s)
		what := "worker writes IPC output + exits, the output is written as Parquet (pyarrow) and committed (Iceberg)"
		if dry {
			what = "worker writes IPC output + exits"
		}
		seg(n+" "+s+" c "+what, "end:"+s, "done:"+s)
		prev = s
	}
	if dry {
		seg("7 finish (no publish)", "done:"+prev, "")
	} else {
		seg("7 publish: commit run branch", "done:"+prev, "merging")
		seg("8 publish: merge into main, exit", "merging", "")
	}
	return &runFigure{WallS: wall.Seconds(), Phases: ph}, nil
}

func runLocal(ctx context.Context, env *rt.Env, sdk, script, project, input, outDir string) (*runFigure, error) {
	cmd := exec.CommandContext(ctx, env.Python, script, project, input, outDir)
	cmd.Env = append(os.Environ(), "PYTHONPATH="+sdk)
	start := time.Now()
	out, err := cmd.CombinedOutput()
	wall := time.Since(start)
	if err != nil {
		return nil, fmt.Errorf("%v: %s", err, out)
	}
	m := benchLine(out)
	if m == nil {
		return nil, fmt.Errorf("no BENCH line: %s", out)
	}
	ph := map[string]float64{
		"1 interpreter start, imports":   wall.Seconds() - m["total_in_script_s"],
		"2 read Parquet input (pyarrow)": m["read_s"],
	}
	for i, s := range steps {
		n := strconv.Itoa(i + 3)
		ph[n+" "+s+" b user code"] = m[s+"_compute_s"]
		ph[n+" "+s+" c write Parquet"] = m[s+"_write_s"]
	}
	return &runFigure{WallS: wall.Seconds(), Phases: ph}, nil
}

func (r *report) print(w io.Writer) {
	fmt.Fprintf(w, "Edit-and-rerun loop: 3 Python models (clean -> enrich -> aggregate, pyarrow) on %d trips\n", r.InputRows)
	fmt.Fprintf(w, "machine: %s; isolation: %s\n", r.Machine, r.Isolation)
	fmt.Fprintf(w, "input: %.2f GB as Arrow, %.2f GB Parquet (generated in %.1fs); tarn table create: %.1fs (once, not in the loop)\n",
		float64(r.InputArrow)/1e9, float64(r.InputPq)/1e9, r.GenS, r.ImportS)
	fmt.Fprintf(w, "tarn command: %s\n\n", r.TarnCommand)
	fmt.Fprintf(w, "  %-14s %9s %14s  %s\n", "variant", "first run", "re-run median", "what")
	for _, v := range r.Variants {
		rerun := "-"
		if len(v.Samples) > 0 {
			rerun = fmt.Sprintf("%.2fs", v.Median)
		}
		fmt.Fprintf(w, "  %-14s %8.2fs %14s  %s\n", v.Name, v.First, rerun, v.What)
	}
	fmt.Fprintf(w, "\n  re-run after an edit, tarn --no-cache / local: %5.2fx   target <= 1.5x: %s\n", r.Ratio, benchkit.Met(r.TargetMet))
	fmt.Fprintf(w, "  (b) first run with the cache on / local:      %5.2fx\n", r.RatioFirst)
	fmt.Fprintf(w, "  edit the middle step, cached / local:         %5.2fx\n", r.RatioMid)
	fmt.Fprintf(w, "  (c) edit the last step, cached / local:       %5.2fx   target <= 0.5x: %s\n", r.RatioLast, benchkit.Met(r.RatioLast <= 0.5))
	fmt.Fprintf(w, "  (d) nothing changed:                          %5.2fs   target < 1s: %s\n", r.NoChangeS, benchkit.Met(r.NoChangeS < 1))
	if r.RatioDry > 0 {
		fmt.Fprintf(w, "  re-run, tarn --dry-run / local (no tables):    %5.2fx\n", r.RatioDry)
	}
	for _, v := range r.Variants {
		if len(v.Samples) == 0 {
			continue
		}
		fmt.Fprintf(w, "\n  where a %s re-run goes (median over %d re-runs, seconds):\n", v.Name, len(v.Samples))
		keys := slices.Clone(v.order)
		slices.Sort(keys)
		sum := 0.0
		for _, k := range keys {
			fmt.Fprintf(w, "    %7.2f  %s\n", v.Phases[k], k)
			sum += v.Phases[k]
		}
		fmt.Fprintf(w, "    %7.2f  (sum of medians; wall median %.2f)\n", sum, v.Median)
	}
}
