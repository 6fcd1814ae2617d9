// Command import measures `tarn table create T --from FILE` on TPC-H-like
// lineitem data in CSV, JSON Lines and Parquet, against DuckDB's
// COPY (SELECT * FROM read_…(FILE)) TO '…parquet' (FORMAT parquet,
// COMPRESSION zstd) and a pyarrow streaming reader feeding a zstd
// ParquetWriter, on the same file in the same run: wall time, rows/s, peak
// RSS and the ratios tarn / DuckDB and tarn / pyarrow.
//
//	go run ./bench/import [-sf 1] [-formats csv,jsonl,parquet] [-runs 1] [-data DIR] [-json]
//
// It writes its own data (a deterministic lineitem generator; JSON Lines
// and Parquet converted from the CSV by DuckDB), so it runs on a fresh
// machine. See README.md.
package main

import (
	"bufio"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	_ "github.com/duckdb/duckdb-go/v2"
	"github.com/tarnhq/tarn/bench/internal/benchkit"
)

var kit = benchkit.New("import")

// childEnv makes this binary run one DuckDB COPY (for its own peak RSS).
const childEnv = "TARN_BENCH_IMPORT_DUCKDB"

func main() {
	if sqlText := os.Getenv(childEnv); sqlText != "" {
		if err := duckdbChild(sqlText); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		return
	}
	var (
		sf      float64
		formats string
		runs    int
		python  string
		dir     string
		data    string
		cold    bool
		pyarrow bool
		warmup  bool
	)
	fs := kit.Flags
	fs.Float64Var(&sf, "sf", 1, "scale factor: 6,000,000 lineitem rows per 1 (about 770 MB of CSV)")
	fs.StringVar(&formats, "formats", "csv,jsonl,parquet", "input formats, comma-separated")
	fs.IntVar(&runs, "runs", 1, "runs per tool and format, interleaved (medians are reported)")
	fs.StringVar(&python, "python", os.Getenv("TARN_PYTHON"), "Python with pyarrow (default $TARN_PYTHON, else .venv/bin/python)")
	fs.StringVar(&dir, "dir", "", "work directory (default: a temporary one)")
	fs.StringVar(&data, "data", "", "keep the generated inputs in this directory and reuse them in later runs made at the same -sf (default: inside the work directory, removed)")
	fs.BoolVar(&cold, "cold", false, "drop the page cache before each tool's run (needs root): for inputs near the machine's memory, where the tool that runs second would find the input cached by the first")
	fs.BoolVar(&pyarrow, "pyarrow", true, "also run the pyarrow baseline (the slowest of the three; -pyarrow=false for the target figure alone)")
	fs.BoolVar(&warmup, "warmup", true, "run DuckDB's COPY once per format, untimed, before the first run (the input in the page cache, as every later run finds it); off with -cold")
	tarnBin := kit.TarnFlag()
	kit.Main(func(ctx context.Context) error {
		if sf <= 0 || runs < 1 {
			return benchkit.Usagef("-sf must be above 0 and -runs at least 1")
		}
		var fmts []string
		for _, f := range strings.Split(formats, ",") {
			f = strings.TrimSpace(f)
			if !slices.Contains([]string{"csv", "jsonl", "parquet"}, f) {
				return benchkit.Usagef("unknown format %q: use csv, jsonl, parquet", f)
			}
			fmts = append(fmts, f)
		}
		if python == "" {
			python = ".venv/bin/python"
		}
		work, err := kit.WorkDir(dir)
		if err != nil {
			return err
		}
		bin, err := kit.Tarn(ctx, *tarnBin, work)
		if err != nil {
			return err
		}
		rep := &report{SF: sf, Runs: runs, Host: benchkit.Host(), CPUs: benchkit.CPUs()}
		if data == "" {
			data = filepath.Join(work, "data")
		}
		inputs, rows, err := generate(ctx, data, sf, fmts)
		if err != nil {
			return err
		}
		rep.Rows = rows
		for _, f := range fmts {
			res := formatResult{Format: f, Input: inputs[f]}
			if st, err := os.Stat(inputs[f]); err == nil {
				res.InputBytes = st.Size()
			}
			tools := []string{"tarn", "duckdb"}
			if pyarrow {
				tools = append(tools, "pyarrow")
			}
			if warmup && !cold {
				kit.Logf("duckdb %s warm-up (untimed)", f)
				out := filepath.Join(work, "out", "warmup-"+f)
				if _, err := runTool(ctx, "duckdb", bin, python, f, inputs[f], out); err != nil {
					return fmt.Errorf("duckdb on %s: %w", f, err)
				}
				os.RemoveAll(out)
			}
			samples := map[string][]sample{}
			for r := 0; r < runs; r++ {
				// Each run starts with the next tool: no tool always runs
				// first (after the generator, or after the other format).
				for i := range tools {
					tool := tools[(r+i)%len(tools)]
					out := filepath.Join(work, "out", fmt.Sprintf("%s-%s-%d", tool, f, r))
					if cold {
						if err := dropCaches(); err != nil {
							return err
						}
					}
					kit.Logf("%s %s run %d/%d", tool, f, r+1, runs)
					s, err := runTool(ctx, tool, bin, python, f, inputs[f], out)
					if err != nil {
						return fmt.Errorf("%s on %s: %w", tool, f, err)
					}
					if s.Rows != rows {
						return fmt.Errorf("%s on %s wrote %d rows, the input has %d", tool, f, s.Rows, rows)
					}
					kit.Logf("  %.1f s (CPU %.1f s), peak RSS %s", s.Seconds, s.CPUSeconds, mib(s.PeakRSS))
					samples[tool] = append(samples[tool], s)
					os.RemoveAll(out)
				}
				res.RunRatios = append(res.RunRatios, samples["tarn"][r].Seconds/samples["duckdb"][r].Seconds)
			}
			for _, tool := range tools {
				res.Tools = append(res.Tools, summarize(tool, samples[tool], rows))
			}
			res.VsDuckDB = res.Tools[0].Seconds / res.Tools[1].Seconds
			res.CPUVsDuck = res.Tools[0].CPUSeconds / res.Tools[1].CPUSeconds
			if pyarrow {
				res.VsPyarrow = res.Tools[0].Seconds / res.Tools[2].Seconds
			}
			rep.Formats = append(rep.Formats, res)
		}
		return kit.Report(rep, rep.print)
	})
}

type sample struct {
	Seconds    float64
	CPUSeconds float64 // user + system time: steadier than wall time on a busy machine
	PeakRSS    int64
	Rows       int64
}

type toolResult struct {
	Tool       string  `json:"tool"`
	Seconds    float64 `json:"seconds"`
	CPUSeconds float64 `json:"cpu_seconds"`
	RowsPerSec float64 `json:"rows_per_second"`
	PeakRSS    int64   `json:"peak_rss_bytes"`
}

type formatResult struct {
	Format     string       `json:"format"`
	Input      string       `json:"input"`
	InputBytes int64        `json:"input_bytes"`
	Tools      []toolResult `json:"tools"`
	VsDuckDB   float64      `json:"tarn_vs_duckdb"`
	CPUVsDuck  float64      `json:"tarn_vs_duckdb_cpu"`
	VsPyarrow  float64      `json:"tarn_vs_pyarrow,omitempty"`
	// RunRatios is tarn / duckdb of each run (the two ran in the same
	// minutes), in run order.
	RunRatios []float64 `json:"run_ratios"`
}

type report struct {
	SF      float64        `json:"sf"`
	Rows    int64          `json:"rows"`
	Runs    int            `json:"runs"`
	Host    string         `json:"host"`
	CPUs    int            `json:"cpus"`
	Formats []formatResult `json:"formats"`
}

func summarize(tool string, ss []sample, rows int64) toolResult {
	secs := make([]float64, len(ss))
	cpu := make([]float64, len(ss))
	var peak int64
	for i, s := range ss {
		secs[i], cpu[i] = s.Seconds, s.CPUSeconds
		peak = max(peak, s.PeakRSS)
	}
	m := benchkit.Median(secs)
	return toolResult{Tool: tool, Seconds: m, CPUSeconds: benchkit.Median(cpu), RowsPerSec: float64(rows) / m, PeakRSS: peak}
}

func (r *report) print(w io.Writer) {
	fmt.Fprintf(w, "import: lineitem at SF %g (%d rows), %d run(s) each, interleaved, each run starting with the next tool; %s\n", r.SF, r.Rows, r.Runs, r.Host)
	fmt.Fprintf(w, "  tarn    = tarn table create lineitem --from FILE (fresh home each run)\n")
	fmt.Fprintf(w, "  duckdb  = COPY (SELECT * FROM read_csv/read_json/read_parquet(FILE)) TO 'x.parquet' (FORMAT parquet, COMPRESSION zstd), in-process duckdb-go\n")
	if len(r.Formats) > 0 && len(r.Formats[0].Tools) > 2 {
		fmt.Fprintf(w, "  pyarrow = streaming reader (csv.open_csv / json.open_json / ParquetFile.iter_batches) -> ParquetWriter(zstd)\n")
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "%-8s %10s  %-8s %9s %9s %12s %10s\n", "format", "input", "tool", "seconds", "CPU s", "rows/s", "peak RSS")
	for _, f := range r.Formats {
		for i, t := range f.Tools {
			name, size := "", ""
			if i == 0 {
				name, size = f.Format, mib(f.InputBytes)
			}
			fmt.Fprintf(w, "%-8s %10s  %-8s %9.1f %9.1f %12.0f %10s\n", name, size, t.Tool, t.Seconds, t.CPUSeconds, t.RowsPerSec, mib(t.PeakRSS))
		}
		fmt.Fprintf(w, "%-8s %10s  tarn / duckdb = %.2f× (CPU %.2f×)", "", "", f.VsDuckDB, f.CPUVsDuck)
		if f.VsPyarrow > 0 {
			fmt.Fprintf(w, "   tarn / pyarrow = %.2f×", f.VsPyarrow)
		}
		fmt.Fprintf(w, "   (target ≤ 1.3× DuckDB)\n")
		if len(f.RunRatios) > 1 {
			per := make([]string, len(f.RunRatios))
			for i, x := range f.RunRatios {
				per[i] = fmt.Sprintf("%.2f", x)
			}
			fmt.Fprintf(w, "%-8s %10s  per run: %s×; their median %.2f×\n", "", "", strings.Join(per, ", "), benchkit.Median(f.RunRatios))
		}
		fmt.Fprintln(w)
	}
}

func mib(n int64) string { return fmt.Sprintf("%.0f MiB", float64(n)/(1<<20)) }

// runTool runs one import as a child process and measures it.
func runTool(ctx context.Context, tool, bin, python, format, input, out string) (sample, error) {
	if err := os.MkdirAll(out, 0o755); err != nil {
		return sample{}, err
	}
	var cmd *exec.Cmd
	switch tool {
	case "tarn":
		cmd = exec.CommandContext(ctx, bin, "table", "create", "lineitem", "--from", input, "-o", "json")
		cmd.Env = append(os.Environ(), "TARN_HOME="+filepath.Join(out, "home"))
	case "duckdb":
		self, err := os.Executable()
		if err != nil {
			return sample{}, err
		}
		cmd = exec.CommandContext(ctx, self)
		cmd.Env = append(os.Environ(), childEnv+"="+fmt.Sprintf("COPY (SELECT * FROM %s) TO '%s' (FORMAT parquet, COMPRESSION zstd)",
			readFn(format, input), filepath.Join(out, "out.parquet")))
	case "pyarrow":
		script := filepath.Join(out, "convert.py")
		if err := os.WriteFile(script, []byte(pyarrowScript), 0o644); err != nil {
			return sample{}, err
		}
		cmd = exec.CommandContext(ctx, python, script, format, input, filepath.Join(out, "out.parquet"))
	}
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	started := time.Now()
	err := cmd.Run()
	elapsed := time.Since(started)
	if err != nil {
		return sample{}, fmt.Errorf("%v: %s", err, stderr.String())
	}
	s := sample{Seconds: elapsed.Seconds()}
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		s.PeakRSS = ru.Maxrss * 1024
	}
	s.CPUSeconds = (cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()).Seconds()
	var res struct {
		Rows  int64 `json:"rows"`
		Added int64 `json:"added_rows"`
	}
	if err := json.Unmarshal([]byte(lastLine(stdout.String())), &res); err != nil {
		return sample{}, fmt.Errorf("read %s's result %q: %v", tool, stdout.String(), err)
	}
	s.Rows = max(res.Rows, res.Added)
	return s, nil
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if strings.HasPrefix(s, "{\n") { // tarn's indented JSON
		return strings.ReplaceAll(s, "\n", "")
	}
	return s[strings.LastIndexByte(s, '\n')+1:]
}

func readFn(format, path string) string {
	switch format {
	case "csv":
		return "read_csv('" + path + "')"
	case "jsonl":
		return "read_json('" + path + "', format = 'newline_delimited')"
	}
	return "read_parquet('" + path + "')"
}

// duckdbRun runs one statement in a child process.
func duckdbRun(ctx context.Context, stmt string, stdout io.Writer) error {
	self, err := os.Executable()
	if err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, self)
	cmd.Env = append(os.Environ(), childEnv+"="+stmt)
	var stderr strings.Builder
	cmd.Stdout, cmd.Stderr = stdout, &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("duckdb %s: %v: %s", stmt, err, stderr.String())
	}
	return nil
}

// duckdbChild runs one statement in a fresh DuckDB and prints the rows.
func duckdbChild(stmt string) error {
	db, err := sql.Open("duckdb", "")
	if err != nil {
		return err
	}
	defer db.Close()
	if _, err := db.Exec("SET preserve_insertion_order = false"); err != nil {
		return err
	}
	res, err := db.Exec(stmt)
	if err != nil {
		return err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	fmt.Printf("{\"rows\": %d}\n", n)
	return nil
}

const pyarrowScript = `
import json, sys
import pyarrow as pa, pyarrow.csv as pc, pyarrow.json as pj, pyarrow.parquet as pq
fmt, src, dst = sys.argv[1:4]
if fmt == "csv":
    rdr = pc.open_csv(src)
elif fmt == "jsonl":
    rdr = pj.open_json(src)
else:
    rdr = pq.ParquetFile(src)
    schema = rdr.schema_arrow
    batches = rdr.iter_batches(batch_size=65536)
if fmt != "parquet":
    schema = rdr.schema
    batches = rdr
rows = 0
with pq.ParquetWriter(dst, schema, compression="zstd") as w:
    for b in batches:
        w.write_batch(b)
        rows += b.num_rows
print(json.dumps({"rows": rows}))
`

// generate writes lineitem.csv (rows of TPC-H's lineitem shape, from a
// seeded generator) and converts it to the other formats with DuckDB.
// generatorVersion names the output of writeCSV and the conversions:
// change it with either, so that inputs kept by -data are made again.
const generatorVersion = 1

// generate writes lineitem at sf into dir as CSV, and converts it to the
// other formats asked for. An input already there, made by this generator
// at this sf (its stamp, written after it, says so), is reused; each is
// written under a temporary name and renamed, so that an interrupted run
// leaves no input that looks whole.
func generate(ctx context.Context, dir string, sf float64, formats []string) (map[string]string, int64, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, 0, err
	}
	rows := int64(sf * 6_000_000)
	stamp := fmt.Sprintf("tarn bench/import generator %d, sf %g, %d rows\n", generatorVersion, sf, rows)
	made := func(path string) bool {
		b, err := os.ReadFile(path + ".made")
		return err == nil && string(b) == stamp
	}
	write := func(path string, fn func(tmp string) error) error {
		if made(path) {
			kit.Logf("reusing %s (SF %g)", path, sf)
			return nil
		}
		os.Remove(path + ".made")
		tmp := path + ".partial"
		os.Remove(tmp)
		if err := fn(tmp); err != nil {
			os.Remove(tmp)
			return err
		}
		if err := os.Rename(tmp, path); err != nil {
			return err
		}
		return os.WriteFile(path+".made", []byte(stamp), 0o644)
	}
	csvPath := filepath.Join(dir, "lineitem.csv")
	if !made(csvPath) {
		// The other formats are converted from the CSV: a new one makes
		// them stale.
		for _, name := range []string{"lineitem.jsonl", "lineitem.parquet"} {
			os.Remove(filepath.Join(dir, name+".made"))
		}
	}
	err := write(csvPath, func(tmp string) error {
		kit.Logf("generating %d lineitem rows (SF %g) into %s", rows, sf, csvPath)
		return writeCSV(ctx, tmp, rows)
	})
	if err != nil {
		return nil, 0, err
	}
	paths := map[string]string{"csv": csvPath}
	for _, f := range formats {
		var opts string
		switch f {
		case "jsonl":
			paths[f] = filepath.Join(dir, "lineitem.jsonl")
			opts = "FORMAT json"
		case "parquet":
			// Snappy with row groups of DuckDB's default size, as tpchgen-cli writes.
			paths[f] = filepath.Join(dir, "lineitem.parquet")
			opts = "FORMAT parquet, COMPRESSION snappy"
		default:
			continue
		}
		err := write(paths[f], func(tmp string) error {
			kit.Logf("converting to %s", paths[f])
			// In a child process: this one stays small, and a child's
			// peak RSS starts from its parent's at fork.
			return duckdbRun(ctx, fmt.Sprintf("COPY (SELECT * FROM read_csv('%s')) TO '%s' (%s)", csvPath, tmp, opts), io.Discard)
		})
		if err != nil {
			return nil, 0, err
		}
	}
	return paths, rows, nil
}

var (
	flags        = []string{"A", "N", "R"}
	statuses     = []string{"F", "O"}
	instructions = []string{"DELIVER IN PERSON", "COLLECT COD", "NONE", "TAKE BACK RETURN"}
	modes        = []string{"REG AIR", "AIR", "RAIL", "SHIP", "TRUCK", "MAIL", "FOB"}
	words        = strings.Fields("furiously carefully quickly slyly blithely ironic final regular express bold pending special even unusual accounts deposits requests packages theodolites pinto beans foxes ideas instructions dependencies excuses platelets asymptotes courts dolphins sleep wake nag haggle integrate cajole boost detect")
)

// writeCSV writes rows of lineitem's 16 columns: keys, quantities, prices,
// flags, three dates, and a quoted comment that may hold commas.
func writeCSV(ctx context.Context, path string, rows int64) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	w := bufio.NewWriterSize(f, 1<<20)
	w.WriteString("l_orderkey,l_partkey,l_suppkey,l_linenumber,l_quantity,l_extendedprice,l_discount,l_tax,l_returnflag,l_linestatus,l_shipdate,l_commitdate,l_receiptdate,l_shipinstruct,l_shipmode,l_comment\n")
	r := rand.New(rand.NewPCG(1, 2))
	start := time.Date(1992, 1, 1, 0, 0, 0, 0, time.UTC)
	var order, line int64 = 1, 0
	buf := make([]byte, 0, 256)
	for i := int64(0); i < rows; i++ {
		if i%1_000_000 == 0 && ctx.Err() != nil {
			return ctx.Err()
		}
		line++
		if line > 1+r.Int64N(7) {
			order += 1 + r.Int64N(3)
			line = 1
		}
		qty := 1 + r.IntN(50)
		price := float64(qty) * (900 + float64(r.IntN(100000))/100)
		ship := start.AddDate(0, 0, r.IntN(2500))
		buf = buf[:0]
		buf = fmt.Appendf(buf, "%d,%d,%d,%d,%d,%.2f,0.%02d,0.%02d,%s,%s,%s,%s,%s,%s,%s,\"",
			order, 1+r.IntN(200000), 1+r.IntN(10000), line, qty, price, r.IntN(11), r.IntN(9),
			flags[r.IntN(3)], statuses[r.IntN(2)], ship.Format("2006-01-02"), ship.AddDate(0, 0, r.IntN(60)-30).Format("2006-01-02"),
			ship.AddDate(0, 0, 1+r.IntN(30)).Format("2006-01-02"), instructions[r.IntN(4)], modes[r.IntN(7)])
		for n := 2 + r.IntN(5); n > 0; n-- {
			buf = append(buf, words[r.IntN(len(words))]...)
			if n > 1 {
				if r.IntN(8) == 0 {
					buf = append(buf, ',')
				}
				buf = append(buf, ' ')
			}
		}
		buf = append(buf, "\"\n"...)
		w.Write(buf)
	}
	if err := w.Flush(); err != nil {
		return err
	}
	return f.Close()
}

// dropCaches writes dirty pages out and drops the page cache (-cold).
func dropCaches() error {
	syscall.Sync()
	if err := os.WriteFile("/proc/sys/vm/drop_caches", []byte("3\n"), 0o200); err != nil {
		return fmt.Errorf("-cold: drop the page cache: %w (it needs root)", err)
	}
	return nil
}
