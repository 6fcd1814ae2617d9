// Command scale measures a step's first run on TPC-H lineitem against a
// plain pyarrow script doing the same work on the same Parquet files, in
// the same run, interleaved:
//
//	(a) agg: 5 columns, a filter, a group-by (script: dataset.to_table with
//	    the filter, group_by, write_table);
//	(b) sample: every column as one table, a 10% sample out (script: the
//	    streaming variant, batches in and batches out to a ParquetWriter);
//	(c) sample_batches: (b) with an Iterator[pa.RecordBatch] model (the
//	    same streaming script).
//
// (b) is also timed against a reference, the same script holding the
// whole table as (b)'s model does (dataset.to_table, filter,
// write_table): what the whole-table form costs outside tarn.
//
// Each tarn figure is `tarn run -p DIR --no-cache` of a project holding
// that one model, materialized as a table (REPLACE), so both sides read
// the table and write Parquet. Then the unchanged re-run: `tarn run` of
// project (b) with the cache on, after a first run that filled it.
//
//	go run ./bench/scale -sf 10 [-rounds 2] [-json]
//	go run ./bench/scale -parquet lineitem.parquet   # an existing file
//
// The lineitem file is generated with tpchgen-cli unless -parquet names
// one (bench/tpch/run.sh installs tpchgen-cli into .venv). See README.md.
package main

import (
	"bytes"
	"context"
	"embed"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/tarnhq/tarn"
	"github.com/tarnhq/tarn/bench/internal/benchkit"
	rt "github.com/tarnhq/tarn/runtime"
)

//go:embed py/script.py py/models/*.py
var pyFiles embed.FS

const projectYAML = `name: scale_%s
defaults:
  python: "%s"
  timeout: 7200
`

// Targets: tarn's first run over the script's (medians), and the
// batches model's peak anonymous memory.
const (
	targetAgg         = 1.1
	targetSample      = 1.3
	targetBatches     = 1.2
	targetBatchesAnon = 2 << 30
	targetRerunS      = 1.0
)

type config struct {
	sf      string
	parquet string
	data    string
	tpchgen string
	rounds  int
	only    string
	pyVer   string
	prime   float64 // GiB touched and freed before each sample
	tarn    *string
}

var kit = benchkit.New("scale")

func main() {
	var cfg config
	fs := kit.Flags
	fs.StringVar(&cfg.sf, "sf", "1", "TPC-H scale factor to generate (ignored with -parquet)")
	fs.StringVar(&cfg.parquet, "parquet", "", "an existing lineitem Parquet file (or folder) to import instead of generating one")
	fs.StringVar(&cfg.data, "data", ".tmp/scale", "folder of generated data (kept between runs: sfN/lineitem.parquet)")
	fs.StringVar(&cfg.tpchgen, "tpchgen", ".venv/bin/tpchgen-cli", "tpchgen-cli executable")
	fs.IntVar(&cfg.rounds, "rounds", 2, "rounds; each runs every variant and its baseline once, interleaved")
	fs.StringVar(&cfg.only, "variants", "a,b,c", "the variants to run, comma-separated (the unchanged re-run needs b)")
	fs.StringVar(&cfg.pyVer, "python", "3.11", "Python version of the projects (and the script's environment)")
	fs.Float64Var(&cfg.prime, "prime", 0, "GiB of memory to touch and free before each sample, untimed, so that every sample starts with that much memory the machine has just handed out (see README: on these virtual machines memory touched for the first time in a while costs ~2 s/GiB)")
	cfg.tarn = kit.TarnFlag()
	kit.Main(func(ctx context.Context) error { return run(ctx, cfg) })
}

// sample is one timed run.
type sample struct {
	Variant  string             `json:"variant"`
	Side     string             `json:"side"` // tarn, script or reference
	Round    int                `json:"round"`
	WallS    float64            `json:"wall_s"`
	PeakAnon int64              `json:"peak_anon_bytes,omitempty"` // tarn: the step's, from its run report
	PeakRSS  int64              `json:"peak_rss_bytes,omitempty"`  // script: its maxrss
	Phases   map[string]float64 `json:"phases_s,omitempty"`
	Rows     int64              `json:"rows"`
}

type variant struct {
	Name       string             `json:"name"`
	What       string             `json:"what"`
	Model      string             `json:"model"`
	Script     string             `json:"script_variant"`
	Reference  string             `json:"reference_variant,omitempty"` // the script in the model's own form, for reference
	TarnS      float64            `json:"tarn_median_s"`
	ScriptS    float64            `json:"script_median_s"`
	ReferenceS float64            `json:"reference_median_s,omitempty"`
	Ratio      float64            `json:"ratio"`
	Target     float64            `json:"target_ratio"`
	Met        bool               `json:"met"`
	PeakAnon   int64              `json:"tarn_peak_anon_bytes"` // largest over the rounds
	ScriptRSS  int64              `json:"script_peak_rss_bytes"`
	Phases     map[string]float64 `json:"tarn_phase_medians_s"`
	tarn, base []float64
	reference  []float64
	phases     map[string][]float64
}

type report struct {
	Machine      string     `json:"machine"`
	Isolation    string     `json:"isolation"`
	Input        string     `json:"input"`
	InputRows    int64      `json:"input_rows"`
	InputParquet int64      `json:"input_parquet_bytes"`
	TableFiles   int        `json:"table_data_files"`
	ImportS      float64    `json:"import_s"`
	Rounds       int        `json:"rounds"`
	PrimeGiB     float64    `json:"prime_gib,omitempty"`
	Variants     []*variant `json:"variants"`
	BatchesAnon  bool       `json:"batches_peak_anon_met"`
	RerunS       float64    `json:"unchanged_rerun_median_s"`
	RerunMet     bool       `json:"unchanged_rerun_met"`
	FloorS       float64    `json:"tarn_table_ls_median_s"` // any tarn command on this machine, for reference
	Samples      []*sample  `json:"samples"`
	Command      string     `json:"tarn_command"`
}

func run(ctx context.Context, cfg config) error {
	if cfg.rounds < 1 {
		return benchkit.Usagef("-rounds must be at least 1")
	}
	input, err := lineitem(ctx, cfg)
	if err != nil {
		return err
	}
	tmp, err := kit.WorkDir("")
	if err != nil {
		return err
	}
	home := filepath.Join(tmp, "home")
	bin, err := kit.Tarn(ctx, *cfg.tarn, filepath.Join(tmp, "bin"))
	if err != nil {
		return err
	}
	variants, err := chosen(cfg.only)
	if err != nil {
		return err
	}
	projects := map[string]string{}
	for _, v := range variants {
		dir := filepath.Join(tmp, "project-"+v.Name)
		if err := writeProject(dir, v.Model, cfg.pyVer); err != nil {
			return err
		}
		projects[v.Name] = dir
		v.phases = map[string][]float64{}
	}
	script := filepath.Join(tmp, "script.py")
	b, _ := pyFiles.ReadFile("py/script.py")
	if err := os.WriteFile(script, b, 0o644); err != nil {
		return err
	}

	// The script runs in the projects' environment, built as tarn builds it.
	env, _, err := kit.HomeEnv(ctx, home, rt.EnvSpec{Python: cfg.pyVer})
	if err != nil {
		return err
	}
	sb, err := rt.NewSandbox(ctx, rt.SandboxConfig{})
	if err != nil {
		return err
	}
	rep := &report{Machine: benchkit.Host(), Isolation: sb.Describe(), Input: input, Rounds: cfg.rounds, PrimeGiB: cfg.prime}
	tarnEnv := append(os.Environ(), "TARN_HOME="+home)

	kit.Logf("tarn table create lineitem --from %s", input)
	start := time.Now()
	if out, err := command(ctx, tarnEnv, bin, "table", "create", "lineitem", "--from", input).CombinedOutput(); err != nil {
		return fmt.Errorf("import: %v: %s", err, out)
	}
	rep.ImportS = time.Since(start).Seconds()
	files, err := benchkit.TableFiles(filepath.Join(home, "warehouse"), "lineitem")
	if err != nil {
		return err
	}
	rep.TableFiles = len(files)
	for _, f := range files {
		if st, err := os.Stat(f); err == nil {
			rep.InputParquet += st.Size()
		}
		pf, err := file.OpenParquetFile(f, false)
		if err != nil {
			return fmt.Errorf("read the footer of %s: %w", f, err)
		}
		rep.InputRows += pf.NumRows()
		pf.Close()
	}
	kit.Logf("  imported in %.1fs: %d data files, %.2f GB", rep.ImportS, len(files), float64(rep.InputParquet)/1e9)
	// The import's gigabytes are still being written back: without this
	// the first round's first variant reads while the disk writes (at SF10
	// it ran 1.4x slower than the same run in round 2).
	syscall.Sync()
	// Read the table's files once, untimed: right after the import they
	// are not all in the page cache, and the first side of round 1 read
	// them from disk (at SF10 a first read of (a) took 4.7-6.1 s against
	// 2.5-3.2 s after, the same outside tarn).
	for _, f := range files {
		if err := readAll(f); err != nil {
			return err
		}
	}
	rep.Command = fmt.Sprintf("TARN_HOME=%s %s run -p %s --no-cache --profile", home, bin, projects[variants[0].Name])

	out := filepath.Join(tmp, "script-out.parquet")
	// Every sample but the first runs right after another, in memory that
	// one freed; the first would run in memory untouched for a while, which
	// costs ~2 s/GiB more here (see README). So one untimed run of the
	// first variant's script goes first.
	if cfg.prime == 0 {
		kit.Logf("warm-up: (%s) script, untimed", variants[0].Name)
		if _, err := runScript(ctx, env.Python, script, variants[0].Script, out, files); err != nil {
			return fmt.Errorf("warm-up: %w", err)
		}
	}
	for round := 1; round <= cfg.rounds; round++ {
		kit.Logf("round %d of %d", round, cfg.rounds)
		for _, v := range variants {
			// Alternate which side goes first, so neither always finds the
			// page cache warmed by the other.
			sides := []string{"tarn", "script"}
			if v.Reference != "" {
				sides = append(sides, "reference")
			}
			if round%2 == 0 {
				slices.Reverse(sides)
			}
			for _, side := range sides {
				if cfg.prime > 0 {
					if err := prime(ctx, env.Python, cfg.prime); err != nil {
						return err
					}
				}
				var s *sample
				var err error
				switch side {
				case "tarn":
					s, err = runTarn(ctx, tarnEnv, bin, projects[v.Name], v.Model, "--no-cache")
				case "script":
					s, err = runScript(ctx, env.Python, script, v.Script, out, files)
				default:
					s, err = runScript(ctx, env.Python, script, v.Reference, out, files)
					if s != nil {
						s.Side = side
					}
				}
				if err != nil {
					return fmt.Errorf("(%s) %s: %w", v.Name, side, err)
				}
				s.Variant, s.Round = v.Name, round
				rep.Samples = append(rep.Samples, s)
				switch side {
				case "reference":
					v.reference = append(v.reference, s.WallS)
				case "tarn":
					v.tarn = append(v.tarn, s.WallS)
					v.PeakAnon = max(v.PeakAnon, s.PeakAnon)
					for k, x := range s.Phases {
						v.phases[k] = append(v.phases[k], x)
					}
				default:
					v.base = append(v.base, s.WallS)
					v.ScriptRSS = max(v.ScriptRSS, s.PeakRSS)
				}
				kit.Logf("  (%s) %-6s %7.2fs  %s", v.Name, side, s.WallS, memory(s))
			}
		}
	}
	for _, v := range variants {
		v.TarnS, v.ScriptS = benchkit.Median(v.tarn), benchkit.Median(v.base)
		if len(v.reference) > 0 {
			v.ReferenceS = benchkit.Median(v.reference)
		}
		v.Ratio = v.TarnS / v.ScriptS
		v.Met = v.Ratio <= v.Target
		v.Phases = map[string]float64{}
		for k, xs := range v.phases {
			v.Phases[k] = benchkit.Median(xs)
		}
		rep.Variants = append(rep.Variants, v)
	}
	if c := rep.variant("c"); c != nil {
		rep.BatchesAnon = c.PeakAnon > 0 && c.PeakAnon <= targetBatchesAnon
	}
	if projects["b"] == "" {
		return kit.Report(rep, func(w io.Writer) { printReport(w, rep) })
	}

	// The unchanged re-run: project (b) with the cache on.
	kit.Logf("unchanged re-run of (b): a first run fills the cache")
	if _, err := runTarn(ctx, tarnEnv, bin, projects["b"], "sample"); err != nil {
		return fmt.Errorf("first cached run: %w", err)
	}
	var reruns, floors []float64
	for i := 0; i < max(3, cfg.rounds); i++ {
		s, err := runTarn(ctx, tarnEnv, bin, projects["b"], "sample")
		if err != nil {
			return fmt.Errorf("re-run: %w", err)
		}
		s.Variant, s.Side, s.Round = "rerun", "tarn", i+1
		rep.Samples = append(rep.Samples, s)
		reruns = append(reruns, s.WallS)
		// For reference: the machine's floor for any tarn command.
		_, floor, err := timed(command(ctx, tarnEnv, bin, "table", "ls"))
		if err != nil {
			return err
		}
		floors = append(floors, floor)
		kit.Logf("  re-run %7.2fs (tarn table ls %.2fs)", s.WallS, floor)
	}
	rep.RerunS, rep.FloorS = benchkit.Median(reruns), benchkit.Median(floors)
	rep.RerunMet = rep.RerunS < targetRerunS
	return kit.Report(rep, func(w io.Writer) { printReport(w, rep) })
}

// chosen is the variants named by -variants, in their order.
func chosen(only string) ([]*variant, error) {
	all := []*variant{
		{Name: "a", Model: "agg", Script: "agg", Target: targetAgg, What: "5 columns + filter + group-by, vs dataset.to_table(filter) + group_by"},
		{Name: "b", Model: "sample", Script: "sample", Reference: "sample_table", Target: targetSample, What: "all columns as one table -> 10% sample, vs a streaming pyarrow script"},
		{Name: "c", Model: "sample_batches", Script: "sample", Target: targetBatches, What: "(b) with an Iterator[pa.RecordBatch] model, vs the same streaming script"},
	}
	want := map[string]bool{}
	for _, n := range strings.Split(only, ",") {
		if n = strings.TrimSpace(n); n != "" {
			want[n] = true
		}
	}
	var out []*variant
	for _, v := range all {
		if want[v.Name] {
			out = append(out, v)
			delete(want, v.Name)
		}
	}
	if len(want) > 0 || len(out) == 0 {
		return nil, benchkit.Usagef("-variants %q: name some of a, b and c", only)
	}
	return out, nil
}

// variant is the report's variant named name, if it ran.
func (rep *report) variant(name string) *variant {
	for _, v := range rep.Variants {
		if v.Name == name {
			return v
		}
	}
	return nil
}

// prime touches gib GiB of fresh memory and frees it, in a child process
// (in this one, the high-water mark of its memory would pass into the
// maxrss of every child started after): the kernel hands the memory out
// again to whatever runs next, which then does not pay for memory
// touched for the first time (on a virtual machine that gives freed
// memory back to its host, that costs about 2 s/GiB here).
func prime(ctx context.Context, python string, gib float64) error {
	code := fmt.Sprintf("b'\\x01' * %d", int64(gib*(1<<30)))
	if out, err := exec.CommandContext(ctx, python, "-c", code).CombinedOutput(); err != nil {
		return fmt.Errorf("-prime: %v: %s", err, out)
	}
	return nil
}

// readAll reads a file through, for the page cache.
func readAll(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = io.Copy(io.Discard, f)
	return err
}

func printReport(w io.Writer, rep *report) {
	fmt.Fprintf(w, "machine %s, isolation %s\n", rep.Machine, rep.Isolation)
	fmt.Fprintf(w, "input %s: %d rows, %d data files, %.2f GB Parquet (import %.1fs); %d rounds, medians\n",
		rep.Input, rep.InputRows, rep.TableFiles, float64(rep.InputParquet)/1e9, rep.ImportS, rep.Rounds)
	if rep.PrimeGiB > 0 {
		fmt.Fprintf(w, "each sample ran right after %.1f GiB of memory was touched and freed (-prime)\n", rep.PrimeGiB)
	} else {
		fmt.Fprintf(w, "samples back to back, each in the memory the one before freed (-prime 0)\n")
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "%-3s %-15s %9s %9s %7s %7s %-4s %12s %12s\n", "", "model", "tarn s", "script s", "ratio", "target", "met", "tarn anon", "script rss")
	for _, v := range rep.Variants {
		fmt.Fprintf(w, "(%s) %-15s %9.2f %9.2f %6.2fx %6.1fx %-4s %12s %12s\n", v.Name, v.Model, v.TarnS, v.ScriptS, v.Ratio, v.Target,
			benchkit.Met(v.Met), gib(v.PeakAnon), gib(v.ScriptRSS))
	}
	fmt.Fprintln(w)
	for _, v := range rep.Variants {
		if v.ReferenceS > 0 {
			fmt.Fprintf(w, "(%s) for reference, the script in the model's own form (%s): %.2fs; tarn / it: %.2fx\n", v.Name, v.Reference, v.ReferenceS, v.TarnS/v.ReferenceS)
		}
	}
	if c := rep.variant("c"); c != nil {
		fmt.Fprintf(w, "(c) peak anonymous memory %s (target <= %s): %s\n", gib(c.PeakAnon), gib(targetBatchesAnon), benchkit.Met(rep.BatchesAnon))
	}
	if rep.RerunS > 0 {
		fmt.Fprintf(w, "unchanged re-run of (b), cache on: %.2fs (target < %.0fs): %s; `tarn table ls` takes %.2fs here\n", rep.RerunS, targetRerunS, benchkit.Met(rep.RerunMet), rep.FloorS)
	}
	fmt.Fprintf(w, "\ntarn phases (medians, s):\n")
	for _, v := range rep.Variants {
		var parts []string
		for _, k := range []string{"plan", "export", "handoff", "import", "read", "code", "write", "materialize", "cache"} {
			if x, ok := v.Phases[k]; ok {
				parts = append(parts, fmt.Sprintf("%s %.2f", k, x))
			}
		}
		fmt.Fprintf(w, "  (%s) %s\n", v.Name, strings.Join(parts, ", "))
	}
	fmt.Fprintf(w, "\n%s\n", rep.Command)
}

func gib(n int64) string {
	if n <= 0 {
		return "-"
	}
	return fmt.Sprintf("%.2f GiB", float64(n)/(1<<30))
}

func memory(s *sample) string {
	if s.Side == "tarn" {
		return "peak anon " + gib(s.PeakAnon)
	}
	return "peak rss " + gib(s.PeakRSS)
}

// lineitem returns the lineitem Parquet input: -parquet, or the file
// tpchgen-cli generates into -data (once).
func lineitem(ctx context.Context, cfg config) (string, error) {
	if cfg.parquet != "" {
		if _, err := os.Stat(cfg.parquet); err != nil {
			return "", benchkit.Usagef("-parquet: %v", err)
		}
		return filepath.Abs(cfg.parquet)
	}
	dir, err := filepath.Abs(filepath.Join(cfg.data, "sf"+cfg.sf))
	if err != nil {
		return "", err
	}
	path := filepath.Join(dir, "lineitem.parquet")
	if _, err := os.Stat(path); err == nil {
		return path, nil
	}
	if _, err := os.Stat(cfg.tpchgen); err != nil {
		return "", fmt.Errorf("tpchgen-cli not found at %s: `uv pip install --python .venv/bin/python tpchgen-cli`, or give -parquet", cfg.tpchgen)
	}
	kit.Logf("generating TPC-H lineitem SF%s with tpchgen-cli into %s", cfg.sf, dir)
	tmp := dir + ".tmp"
	os.RemoveAll(tmp)
	cmd := exec.CommandContext(ctx, cfg.tpchgen, "parquet", "-s", cfg.sf, "-T", "lineitem", "-o", tmp)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("tpchgen-cli: %w", err)
	}
	if err := os.Rename(tmp, dir); err != nil {
		return "", err
	}
	return path, nil
}

func writeProject(dir, model, pyVer string) error {
	if err := os.MkdirAll(filepath.Join(dir, "models"), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "tarn_project.yml"), []byte(fmt.Sprintf(projectYAML, model, pyVer)), 0o644); err != nil {
		return err
	}
	for _, n := range []string{"common.py", model + ".py"} {
		b, err := pyFiles.ReadFile("py/models/" + n)
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, "models", n), b, 0o644); err != nil {
			return err
		}
	}
	return nil
}

func command(ctx context.Context, env []string, bin string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = env
	return cmd
}

// timed runs cmd and returns its stdout and wall time; an error carries
// the end of its output.
func timed(cmd *exec.Cmd) ([]byte, float64, error) {
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	wall := time.Since(start).Seconds()
	if err != nil {
		return nil, wall, fmt.Errorf("%s: %v\n%s%s", filepath.Base(cmd.Path), err, tail(stderr.String()), tail(stdout.String()))
	}
	return stdout.Bytes(), wall, nil
}

// runTarn times `tarn run -p DIR -o json` and reads the step's profile and
// peak anonymous memory from its report.
func runTarn(ctx context.Context, env []string, bin, project, model string, extra ...string) (*sample, error) {
	out, wall, err := timed(command(ctx, env, bin, append([]string{"run", "-p", project, "-o", "json"}, extra...)...))
	if err != nil {
		return nil, err
	}
	var res tarn.RunResult
	if err := json.Unmarshal(out, &res); err != nil {
		return nil, fmt.Errorf("tarn run -o json: %w", err)
	}
	s := &sample{Side: "tarn", WallS: wall, Phases: map[string]float64{}}
	for _, st := range res.Steps {
		if st.Name != model {
			continue
		}
		s.PeakAnon = st.PeakAnonBytes
		for _, p := range st.Profile {
			s.Phases[p.Name] += p.Seconds
			if p.Name == tarn.PhaseRead {
				s.Rows = p.Rows
			}
		}
		return s, nil
	}
	return nil, fmt.Errorf("no step %s in the run report", model)
}

// runScript times the plain pyarrow script in the projects' environment.
func runScript(ctx context.Context, python, script, variant, out string, files []string) (*sample, error) {
	os.Remove(out)
	cmd := exec.CommandContext(ctx, python, append([]string{script, variant, out}, files...)...)
	stdout, wall, err := timed(cmd)
	if err != nil {
		return nil, err
	}
	s := &sample{Side: "script", WallS: wall}
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		s.PeakRSS = ru.Maxrss << 10
	}
	fmt.Sscanf(string(stdout), "rows_read=%d", &s.Rows)
	return s, nil
}

func tail(s string) string {
	if len(s) > 2000 {
		return "..." + s[len(s)-2000:]
	}
	return s
}
