// Command query measures `tarn query SQL -o FORMAT --out FILE` on TPC-H
// lineitem for Parquet, Arrow IPC and CSV, against DuckDB's own
// COPY (SELECT * FROM read_parquet([the table's data files])) TO FILE on
// the same files in the same run (a fresh in-process DuckDB of the same
// duckdb-go version, in a child process), interleaved: wall time, peak
// RSS, file size and the ratios arrow / parquet (target ≤ 1.1×) and tarn /
// DuckDB per format.
//
//	go run ./bench/query -parquet /work/data/sf1/lineitem.parquet [-rounds 3] [-json]
//
// The file is imported into a temporary tarn home with
// `tarn table create lineitem --from FILE` first. See README.md.
package main

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	_ "github.com/duckdb/duckdb-go/v2"
	"github.com/tarnhq/tarn/bench/internal/benchkit"
)

// childEnv makes this binary run one DuckDB statement (for its own peak RSS).
const childEnv = "TARN_BENCH_QUERY_DUCKDB"

// targetArrow bounds `-o arrow --out` over `-o parquet --out` (medians).
const targetArrow = 1.1

var kit = benchkit.New("query")

type config struct {
	parquet string
	sql     string
	rounds  int
	tarn    *string
}

func main() {
	if stmt := os.Getenv(childEnv); stmt != "" {
		if err := duckdbChild(stmt); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		return
	}
	var cfg config
	fs := kit.Flags
	fs.StringVar(&cfg.parquet, "parquet", "", "a lineitem Parquet file (or folder) to import and export (required)")
	fs.StringVar(&cfg.sql, "sql", "SELECT * FROM lineitem", "the statement to export; DuckDB's baseline runs it over read_parquet of the table's files")
	fs.IntVar(&cfg.rounds, "rounds", 2, "rounds; each runs every variant once, interleaved")
	cfg.tarn = kit.TarnFlag()
	kit.Main(func(ctx context.Context) error { return run(ctx, cfg) })
}

// sample is one timed export.
type sample struct {
	Variant string  `json:"variant"`
	Round   int     `json:"round"`
	WallS   float64 `json:"wall_s"`
	PeakRSS int64   `json:"peak_rss_bytes"`
	Bytes   int64   `json:"file_bytes"`
}

// variant is one way of writing the result.
type variant struct {
	Name    string  `json:"name"` // tarn-parquet, duckdb-csv, ...
	Tool    string  `json:"tool"`
	Format  string  `json:"format"`
	MedianS float64 `json:"median_s"`
	PeakRSS int64   `json:"peak_rss_bytes"` // largest over the rounds
	Bytes   int64   `json:"file_bytes"`
	walls   []float64
}

type report struct {
	Machine      string             `json:"machine"`
	Input        string             `json:"input"`
	SQL          string             `json:"sql"`
	Rounds       int                `json:"rounds"`
	Variants     []*variant         `json:"variants"`
	Ratios       map[string]float64 `json:"ratios"`
	ArrowTarget  float64            `json:"arrow_over_parquet_target"`
	ArrowMet     bool               `json:"arrow_over_parquet_met"`
	Samples      []*sample          `json:"samples"`
	TarnCommand  string             `json:"tarn_command"`
	DuckDBCopies string             `json:"duckdb_statement"`
}

var formats = map[string]string{ // DuckDB's COPY options per format, as tarn writes them
	"parquet": "FORMAT parquet, COMPRESSION zstd",
	"csv":     "FORMAT csv, HEADER true",
}

func run(ctx context.Context, cfg config) error {
	if cfg.parquet == "" {
		return benchkit.Usagef("-parquet FILE is required (TPC-H lineitem, e.g. /work/data/sf1/lineitem.parquet)")
	}
	if cfg.rounds < 1 {
		return benchkit.Usagef("-rounds must be at least 1")
	}
	if _, err := os.Stat(cfg.parquet); err != nil {
		return benchkit.Usagef("-parquet: %v", err)
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
	env := append(os.Environ(), "TARN_HOME="+home)
	kit.Logf("tarn table create lineitem --from %s", cfg.parquet)
	if out, err := command(ctx, env, bin, "table", "create", "lineitem", "--from", cfg.parquet).CombinedOutput(); err != nil {
		return fmt.Errorf("import: %v: %s", err, out)
	}
	files, err := benchkit.TableFiles(filepath.Join(home, "warehouse"), "lineitem")
	if err != nil {
		return err
	}
	quoted := make([]string, len(files))
	for i, f := range files {
		quoted[i] = "'" + f + "'"
	}
	duckSQL := strings.Replace(cfg.sql, "lineitem", "read_parquet(["+strings.Join(quoted, ", ")+"])", 1)

	variants := []*variant{
		{Name: "tarn-parquet", Tool: "tarn", Format: "parquet"},
		{Name: "tarn-arrow", Tool: "tarn", Format: "arrow"},
		{Name: "tarn-csv", Tool: "tarn", Format: "csv"},
		{Name: "duckdb-parquet", Tool: "duckdb", Format: "parquet"},
		{Name: "duckdb-csv", Tool: "duckdb", Format: "csv"},
	}
	rep := &report{Input: cfg.parquet, SQL: cfg.sql, Rounds: cfg.rounds, ArrowTarget: targetArrow,
		TarnCommand:  fmt.Sprintf("tarn query %q -o FORMAT --out FILE", cfg.sql),
		DuckDBCopies: "COPY (" + strings.Replace(cfg.sql, "lineitem", "read_parquet([data files])", 1) + ") TO FILE (" + formats["parquet"] + " | " + formats["csv"] + "), preserve_insertion_order = false"}
	out := filepath.Join(tmp, "out")
	for round := 1; round <= cfg.rounds; round++ {
		kit.Logf("round %d of %d", round, cfg.rounds)
		order := variants
		if round%2 == 0 { // neither side always finds the page cache warmed by the other
			order = reversed(variants)
		}
		for _, v := range order {
			path := out + "." + v.Format
			var cmd *exec.Cmd
			if v.Tool == "tarn" {
				cmd = command(ctx, env, bin, "query", cfg.sql, "-o", v.Format, "--out", path)
			} else {
				self, err := os.Executable()
				if err != nil {
					return err
				}
				cmd = command(ctx, append(os.Environ(), childEnv+"="+fmt.Sprintf("COPY (%s) TO '%s' (%s)", duckSQL, path, formats[v.Format])), self)
			}
			s, err := timed(cmd, path)
			os.Remove(path) // disk: one result at a time
			if err != nil {
				return fmt.Errorf("%s: %w", v.Name, err)
			}
			s.Variant, s.Round = v.Name, round
			rep.Samples = append(rep.Samples, s)
			v.walls = append(v.walls, s.WallS)
			v.PeakRSS, v.Bytes = max(v.PeakRSS, s.PeakRSS), s.Bytes
			kit.Logf("  %-15s %7.2fs  %6.0f MB  peak rss %.2f GiB", v.Name, s.WallS, float64(s.Bytes)/1e6, float64(s.PeakRSS)/(1<<30))
		}
	}
	by := map[string]*variant{}
	for _, v := range variants {
		v.MedianS = benchkit.Median(v.walls)
		by[v.Name] = v
		rep.Variants = append(rep.Variants, v)
	}
	rep.Ratios = map[string]float64{
		"tarn_arrow/tarn_parquet":     by["tarn-arrow"].MedianS / by["tarn-parquet"].MedianS,
		"tarn_parquet/duckdb_parquet": by["tarn-parquet"].MedianS / by["duckdb-parquet"].MedianS,
		"tarn_csv/duckdb_csv":         by["tarn-csv"].MedianS / by["duckdb-csv"].MedianS,
		"tarn_arrow/duckdb_parquet":   by["tarn-arrow"].MedianS / by["duckdb-parquet"].MedianS,
	}
	rep.ArrowMet = rep.Ratios["tarn_arrow/tarn_parquet"] <= targetArrow
	rep.Machine = benchkit.Host()
	return kit.Report(rep, func(w io.Writer) { printReport(w, rep) })
}

func printReport(w io.Writer, rep *report) {
	fmt.Fprintf(w, "machine %s\n", rep.Machine)
	fmt.Fprintf(w, "input %s, %q, %d rounds, medians\n\n", rep.Input, rep.SQL, rep.Rounds)
	fmt.Fprintf(w, "%-16s %9s %10s %12s\n", "variant", "wall s", "file MB", "peak rss")
	for _, v := range rep.Variants {
		fmt.Fprintf(w, "%-16s %9.2f %10.0f %8.2f GiB\n", v.Name, v.MedianS, float64(v.Bytes)/1e6, float64(v.PeakRSS)/(1<<30))
	}
	fmt.Fprintln(w)
	for _, k := range []string{"tarn_arrow/tarn_parquet", "tarn_parquet/duckdb_parquet", "tarn_csv/duckdb_csv", "tarn_arrow/duckdb_parquet"} {
		fmt.Fprintf(w, "%-28s %5.2fx\n", k, rep.Ratios[k])
	}
	fmt.Fprintf(w, "\n-o arrow over -o parquet: %.2fx (target <= %.1fx): %s\n", rep.Ratios["tarn_arrow/tarn_parquet"], rep.ArrowTarget, benchkit.Met(rep.ArrowMet))
	fmt.Fprintf(w, "tarn:   %s\nduckdb: %s\n", rep.TarnCommand, rep.DuckDBCopies)
}

func reversed(vs []*variant) []*variant {
	out := make([]*variant, len(vs))
	for i, v := range vs {
		out[len(vs)-1-i] = v
	}
	return out
}

func command(ctx context.Context, env []string, bin string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = env
	return cmd
}

// timed runs cmd, which writes path, and returns its wall time, peak RSS
// and the file's size; an error carries the end of its output.
func timed(cmd *exec.Cmd, path string) (*sample, error) {
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	s := &sample{WallS: time.Since(start).Seconds()}
	if err != nil {
		return nil, fmt.Errorf("%v\n%s%s", err, tail(stderr.String()), tail(stdout.String()))
	}
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		s.PeakRSS = ru.Maxrss << 10
	}
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("no result file: %w", err)
	}
	s.Bytes = st.Size()
	return s, nil
}

// duckdbChild runs one statement in a fresh DuckDB as tarn's COPY does
// (insertion order off).
func duckdbChild(stmt string) error {
	db, err := sql.Open("duckdb", "")
	if err != nil {
		return err
	}
	defer db.Close()
	if _, err := db.Exec("SET preserve_insertion_order = false"); err != nil {
		return err
	}
	_, err = db.Exec(stmt)
	return err
}

func tail(s string) string {
	if len(s) > 2000 {
		return "..." + s[len(s)-2000:]
	}
	return s
}
