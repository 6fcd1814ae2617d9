// Command tpch benchmarks `tarn query` against plain DuckDB on TPC-H.
//
// It generates TPC-H data with tpchgen-cli (Parquet), imports it as tarn
// tables in a fresh lakehouse, then runs the 22 queries through tarn's
// query engine (the path `tarn query` takes: ref resolution, Iceberg
// planning, views over the planned files) and through plain DuckDB (the
// same duckdb-go version, a fresh in-memory database whose views read the
// same Parquet data files the tables point at), alternating, and prints
// per-query medians, the geometric-mean ratio and whether answers match.
// Both sides consume results the same way (query.NewRecordReader). The
// first run of each query (shown as "1st", not in the medians) warms
// both sides; on tarn's side it also plans without the engine's cache,
// which the timed runs then hit, as a long-lived engine would.
//
// Run it with bench/tpch/run.sh, which installs tpchgen-cli into .venv and
// builds the tarn binary for the cold-start figure:
//
//	bench/tpch/run.sh            # scale factor 1
//	bench/tpch/run.sh -sf 0.1 -runs 3
package main

import (
	"context"
	"database/sql"
	"flag"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/tarnhq/tarn"
	"github.com/tarnhq/tarn/bench/internal/benchkit"
	"github.com/tarnhq/tarn/catalog"
	"github.com/tarnhq/tarn/catalog/sqlstore"
	"github.com/tarnhq/tarn/ingest"
	"github.com/tarnhq/tarn/query"
	"github.com/tarnhq/tarn/table"
)

var tables = []string{"nation", "region", "supplier", "customer", "part", "partsupp", "orders", "lineitem"}

func main() {
	if len(os.Args) > 2 && os.Args[1] == "-cold-duckdb" {
		os.Exit(coldDuckDB(os.Args[2], os.Args[3:]))
	}
	sf := flag.String("sf", "1", "TPC-H scale factor")
	data := flag.String("data", "", "directory of generated Parquet files (default .tmp/tpch/sf<SF>)")
	home := flag.String("home", "", "tarn home to create (default .tmp/tpch/home-sf<SF>, recreated)")
	runs := flag.Int("runs", 5, "timed runs per query and engine (median reported)")
	queries := flag.String("queries", "query/testdata/tpch", "directory of q01.sql .. q22.sql")
	tpchgen := flag.String("tpchgen", ".venv/bin/tpchgen-cli", "tpchgen-cli executable")
	tarnBin := flag.String("tarn", "bin/tarn", "tarn binary for the cold-start figure (skipped if missing)")
	flag.Parse()
	if *data == "" {
		*data = filepath.Join(".tmp", "tpch", "sf"+*sf)
	}
	if *home == "" {
		*home = filepath.Join(".tmp", "tpch", "home-sf"+*sf)
	}
	benchkit.Main("tpch", func(ctx context.Context) error {
		return run(ctx, *sf, *data, *home, *runs, *queries, *tpchgen, *tarnBin)
	})
}

func run(ctx context.Context, sf, data, home string, runs int, queryDir, tpchgen, tarnBin string) error {
	if err := benchkit.GenerateTPCH(ctx, sf, data, tpchgen); err != nil {
		return err
	}
	home, _ = filepath.Abs(home)
	if err := os.RemoveAll(home); err != nil {
		return err
	}
	svc, closeFn, err := openLakehouse(ctx, home)
	if err != nil {
		return err
	}
	defer closeFn()
	fmt.Printf("importing TPC-H SF%s from %s into %s\n", sf, data, home)
	var importTotal time.Duration
	for _, name := range tables {
		started := time.Now()
		files, err := ingest.Expand([]string{filepath.Join(data, name+".parquet")})
		if err != nil {
			return err
		}
		src, err := ingest.Infer(ctx, files)
		if err != nil {
			return err
		}
		res, err := svc.Create(ctx, table.CreateRequest{Ident: tarn.TableIdent{Namespace: tarn.DefaultNamespace, Name: name},
			Branch: tarn.DefaultBranch, Source: src, Info: tarn.CommitInfo{Author: "bench", Message: "import " + name}})
		if err != nil {
			return fmt.Errorf("import %s: %w", name, err)
		}
		took := time.Since(started)
		importTotal += took
		fmt.Printf("  %-9s %10d rows  %6.2f s\n", name, res.Added, took.Seconds())
	}
	fmt.Printf("  import total %.1f s\n\n", importTotal.Seconds())

	engine := query.New(svc, query.Options{})
	defer engine.Close()
	plain, views, err := plainDuckDB(ctx, svc)
	if err != nil {
		return err
	}
	defer plain.Close()

	fmt.Printf("%-4s %10s %10s %7s %11s %11s %9s %6s  %s\n", "q", "tarn ms", "duckdb ms", "ratio", "tarn 1st", "duckdb 1st", "files", "rows", "answer")
	var logSum, worst float64
	worstQ, mismatches := "", 0
	for n := 1; n <= 22; n++ {
		name := fmt.Sprintf("q%02d", n)
		b, err := os.ReadFile(filepath.Join(queryDir, name+".sql"))
		if err != nil {
			return err
		}
		sqlText := string(b)
		var tarnTimes, duckTimes []time.Duration
		var tarnRows, duckRows [][]string
		var tarnFirst, duckFirst time.Duration
		var stats []tarn.QueryTableStats
		for i := 0; i <= runs; i++ { // run 0 warms up both sides
			d, rows, st, err := timeTarn(ctx, engine, sqlText)
			if err != nil {
				return fmt.Errorf("%s through tarn: %w", name, err)
			}
			d2, rows2, err := timeDuckDB(ctx, plain, sqlText)
			if err != nil {
				return fmt.Errorf("%s through duckdb: %w", name, err)
			}
			if i == 0 { // uncached planning on tarn's side
				tarnRows, duckRows, stats, tarnFirst, duckFirst = rows, rows2, st, d, d2
				continue
			}
			tarnTimes, duckTimes = append(tarnTimes, d), append(duckTimes, d2)
		}
		t, d := benchkit.Median(tarnTimes), benchkit.Median(duckTimes)
		ratio := t.Seconds() / d.Seconds()
		logSum += math.Log(ratio)
		if ratio > worst {
			worst, worstQ = ratio, name
		}
		match := "match"
		if !benchkit.SameRows(tarnRows, duckRows) {
			match = "MISMATCH"
			mismatches++
		}
		planned, total := 0, 0
		for _, s := range stats {
			planned += s.FilesPlanned
			total += s.FilesTotal
		}
		fmt.Printf("%-4s %10.1f %10.1f %7.3f %11.1f %11.1f %4d/%-4d %6d  %s\n", name, benchkit.Ms(t), benchkit.Ms(d), ratio, benchkit.Ms(tarnFirst), benchkit.Ms(duckFirst), planned, total, len(tarnRows), match)
	}
	fmt.Printf("\ngeometric mean tarn/duckdb: %.3f   worst: %s %.3f   answers: %d of 22 match\n", math.Exp(logSum/22), worstQ, worst, 22-mismatches)
	return coldStart(ctx, home, tarnBin, views["lineitem"])
}

func openLakehouse(ctx context.Context, home string) (*table.Service, func(), error) {
	if err := os.MkdirAll(filepath.Join(home, "warehouse"), 0o755); err != nil {
		return nil, nil, err
	}
	store, err := sqlstore.OpenSQLite(ctx, filepath.Join(home, "catalog.db"))
	if err != nil {
		return nil, nil, err
	}
	cat, err := catalog.Open(ctx, store)
	if err != nil {
		return nil, nil, err
	}
	svc := table.NewService(cat, table.Config{Warehouse: filepath.Join(home, "warehouse")})
	return svc, func() { cat.Close() }, nil
}

// plainDuckDB opens a fresh in-memory DuckDB (through the driver the
// query package registers) with one view per table over the data files
// the tarn table points at.
func plainDuckDB(ctx context.Context, svc *table.Service) (*sql.Conn, map[string][]string, error) {
	db, err := sql.Open("duckdb", "")
	if err != nil {
		return nil, nil, err
	}
	conn, err := db.Conn(ctx)
	if err != nil {
		return nil, nil, err
	}
	views := map[string][]string{}
	for _, name := range tables {
		plan, err := svc.PlanScan(ctx, tarn.TableIdent{Namespace: tarn.DefaultNamespace, Name: name}, tarn.DefaultBranch, nil)
		if err != nil {
			return nil, nil, err
		}
		views[name] = plan.Files
		quoted := make([]string, len(plan.Files))
		for i, f := range plan.Files {
			quoted[i] = "'" + strings.ReplaceAll(f, "'", "''") + "'"
		}
		stmt := fmt.Sprintf("CREATE VIEW %s AS SELECT * FROM read_parquet([%s])", name, strings.Join(quoted, ", "))
		if _, err := conn.ExecContext(ctx, stmt); err != nil {
			return nil, nil, err
		}
	}
	return conn, views, nil
}

func timeTarn(ctx context.Context, e *query.Engine, sqlText string) (time.Duration, [][]string, []tarn.QueryTableStats, error) {
	started := time.Now()
	res, err := e.Run(ctx, query.Request{SQL: sqlText, Ref: tarn.DefaultBranch})
	if err != nil {
		return 0, nil, nil, err
	}
	rows, err := benchkit.Rows(res.Records)
	res.Close()
	return time.Since(started), rows, res.Tables, err
}

func timeDuckDB(ctx context.Context, conn *sql.Conn, sqlText string) (time.Duration, [][]string, error) {
	started := time.Now()
	rows, err := conn.QueryContext(ctx, sqlText)
	if err != nil {
		return 0, nil, err
	}
	rr, _, err := query.NewRecordReader(rows, 0)
	if err != nil {
		rows.Close()
		return 0, nil, err
	}
	out, err := benchkit.Rows(rr)
	rr.Release()
	return time.Since(started), out, err
}

// coldStart times whole processes: `tarn query` and this program in its
// plain-DuckDB mode, each counting lineitem's rows.
func coldStart(ctx context.Context, home, tarnBin string, lineitem []string) error {
	if _, err := os.Stat(tarnBin); err != nil {
		fmt.Printf("\ncold start: %s not found, skipped (build it with ./scripts/build.sh)\n", tarnBin)
		return nil
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	const n = 7
	measure := func(name string, args ...string) (time.Duration, error) {
		var ds []time.Duration
		for i := 0; i < n; i++ {
			cmd := exec.CommandContext(ctx, name, args...)
			cmd.Env = append(os.Environ(), "TARN_HOME="+home)
			started := time.Now()
			if out, err := cmd.CombinedOutput(); err != nil {
				return 0, fmt.Errorf("%s: %v\n%s", name, err, out)
			}
			ds = append(ds, time.Since(started))
		}
		return benchkit.Median(ds), nil
	}
	t, err := measure(tarnBin, "query", "select count(*) from lineitem", "-o", "csv")
	if err != nil {
		return err
	}
	d, err := measure(self, append([]string{"-cold-duckdb", "select count(*) from lineitem"}, lineitem...)...)
	if err != nil {
		return err
	}
	fmt.Printf("\ncold process, select count(*) from lineitem (median of %d): tarn query %.1f ms, plain duckdb-go program %.1f ms\n", n, benchkit.Ms(t), benchkit.Ms(d))
	return nil
}

// coldDuckDB is the plain-DuckDB side of the cold-start figure: open
// DuckDB, make the view, run the query, print the answer.
func coldDuckDB(sqlText string, files []string) int {
	db, err := sql.Open("duckdb", "")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer db.Close()
	quoted := make([]string, len(files))
	for i, f := range files {
		quoted[i] = "'" + strings.ReplaceAll(f, "'", "''") + "'"
	}
	conn, err := db.Conn(context.Background())
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if _, err := conn.ExecContext(context.Background(), "CREATE VIEW lineitem AS SELECT * FROM read_parquet(["+strings.Join(quoted, ", ")+"])"); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	var n int64
	if err := conn.QueryRowContext(context.Background(), sqlText).Scan(&n); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Println(n)
	return 0
}
