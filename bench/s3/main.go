// Command s3 measures tables in an S3-compatible object store against
// the same tables on local disk, in one run: the import of TPC-H
// lineitem (and orders, customer) into each warehouse, then TPC-H Q1, Q6
// and Q18 through tarn's query engine on local disk, on S3 with a warm
// cache, and on S3 cold (an empty cache and a fresh engine each time),
// with the ratios and whether the answers match. A cold query's time is
// also set against the time it spent downloading the files it touched.
//
//	scripts/versitygw.sh start; set -a; . .tmp/versitygw.env; set +a
//	go run ./bench/s3 -sf 1
//	go run ./bench/s3 -sf 0.1 -runs 3 -json
//
// It needs tpchgen-cli in .venv (bench/tpch/run.sh installs it) and the
// AWS_* settings of an S3-compatible server (scripts/versitygw.sh).
package main

import (
	"context"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"time"

	"github.com/tarnhq/tarn"
	"github.com/tarnhq/tarn/bench/internal/benchkit"
	"github.com/tarnhq/tarn/catalog"
	"github.com/tarnhq/tarn/catalog/sqlstore"
	"github.com/tarnhq/tarn/ingest"
	"github.com/tarnhq/tarn/query"
	"github.com/tarnhq/tarn/table"
)

var kit = benchkit.New("s3")

// tables are those Q1, Q6 and Q18 read.
var tables = []string{"customer", "orders", "lineitem"}

var queries = []string{"q01", "q06", "q18"}

type config struct {
	sf, data, bucket, queryDir, tpchgen string
	runs                                int
}

func main() {
	var cfg config
	fs := kit.Flags
	fs.StringVar(&cfg.sf, "sf", "1", "TPC-H scale factor")
	fs.StringVar(&cfg.data, "data", "", "directory of generated Parquet files (default .tmp/tpch/sf<SF>)")
	fs.StringVar(&cfg.bucket, "bucket", os.Getenv("TARN_TEST_S3_BUCKET"), "bucket of the S3 warehouse (default $TARN_TEST_S3_BUCKET); the endpoint and credentials come from AWS_*")
	fs.IntVar(&cfg.runs, "runs", 5, "timed runs per query and case (median reported)")
	fs.StringVar(&cfg.queryDir, "queries", "query/testdata/tpch", "directory of q01.sql .. q22.sql")
	fs.StringVar(&cfg.tpchgen, "tpchgen", ".venv/bin/tpchgen-cli", "tpchgen-cli executable")
	kit.Main(func(ctx context.Context) error { return run(ctx, cfg) })
}

type importFigure struct {
	Table   string  `json:"table"`
	Rows    int64   `json:"rows"`
	LocalS  float64 `json:"local_s"`
	S3S     float64 `json:"s3_s"`
	RatioS3 float64 `json:"ratio"`
}

type queryFigure struct {
	Query   string  `json:"query"`
	LocalMs float64 `json:"local_ms"`
	WarmMs  float64 `json:"s3_warm_ms"`
	ColdMs  float64 `json:"s3_cold_ms"`
	// DownloadMs is the median time a cold run spent downloading the
	// files it touched (DownloadBytes), inside ColdMs: the longest of its
	// tables' downloads, which run at once (a lower bound of their wall
	// time, so the cold ratios err against the cache).
	DownloadMs    float64 `json:"s3_cold_download_ms"`
	DownloadBytes int64   `json:"s3_cold_download_bytes"`
	// ColdPlanMs is the median time a cold run spent planning, downloads
	// included (reading the tables' Iceberg metadata from the store,
	// then their files).
	ColdPlanMs float64 `json:"s3_cold_plan_ms"`
	WarmRatio  float64 `json:"warm_over_local"`
	ColdRatio  float64 `json:"cold_over_download"`
	// ExcessRatio is what the cold run took beyond the local run, over
	// its downloads: the object store's share of the cold time.
	ExcessRatio float64 `json:"cold_minus_local_over_download"`
	Match       bool    `json:"answers_match"`
	// Cold is where a cold run's time went (medians of each part).
	Cold coldParts `json:"s3_cold_parts_ms"`
	// ColdMetaMs is a cold run whose metadata files are in the process's
	// metadata cache (a new engine on a running server): the files are
	// downloaded, the metadata is not read again; ColdMetaPlanMs is its
	// planning apart from downloads, ColdMetaRatio its time over the
	// cold runs' downloads.
	ColdMetaMs     float64 `json:"s3_cold_metadata_cached_ms"`
	ColdMetaPlanMs float64 `json:"s3_cold_metadata_cached_metadata_ms"`
	ColdMetaRatio  float64 `json:"cold_metadata_cached_over_download"`
}

// coldParts divide a cold run: DuckDB's start, reading the tables'
// metadata (their metadata files, then manifest lists and manifests),
// the downloads, the views and the execution (the rest of the run).
type coldParts struct {
	Resolve  float64 `json:"resolve"`
	Database float64 `json:"duckdb_start"`
	Parse    float64 `json:"parse"`
	Open     float64 `json:"metadata_files"`
	Manifest float64 `json:"manifests"`
	Download float64 `json:"download"`
	Views    float64 `json:"views"`
	Execute  float64 `json:"execute"`
}

type report struct {
	Host      string         `json:"host"`
	SF        string         `json:"sf"`
	Endpoint  string         `json:"endpoint"`
	Runs      int            `json:"runs"`
	Imports   []importFigure `json:"imports"`
	Queries   []queryFigure  `json:"queries"`
	Generated string         `json:"generated"`
}

// lakehouse is one catalog and table service over a warehouse.
type lakehouse struct {
	cat       *catalog.Catalog
	warehouse string
	svc       *table.Service
}

func open(ctx context.Context, home, warehouse, cache string) (*lakehouse, error) {
	if err := os.MkdirAll(home, 0o755); err != nil {
		return nil, err
	}
	store, err := sqlstore.OpenSQLite(ctx, filepath.Join(home, "catalog.db"))
	if err != nil {
		return nil, err
	}
	cat, err := catalog.Open(ctx, store)
	if err != nil {
		return nil, err
	}
	svc := table.NewService(cat, table.Config{Warehouse: warehouse, CacheDir: cache})
	if err := svc.CheckWarehouse(ctx); err != nil {
		cat.Close()
		return nil, err
	}
	return &lakehouse{cat: cat, warehouse: warehouse, svc: svc}, nil
}

// withCache is the same lakehouse reading through another cache folder
// and metadata cache.
func (l *lakehouse) withCache(cache string, meta *table.MetadataCache) *table.Service {
	return table.NewService(l.cat, table.Config{Warehouse: l.warehouse, CacheDir: cache, Metadata: meta})
}

// coldRun runs a query on a fresh engine over an empty cache folder,
// reading the tables' metadata through meta.
func (l *lakehouse) coldRun(ctx context.Context, dir, sqlText string, meta *table.MetadataCache) (time.Duration, [][]string, []tarn.QueryTableStats, time.Duration, query.Phases, error) {
	e := query.New(l.withCache(dir, meta), query.Options{})
	defer os.RemoveAll(dir)
	defer e.Close()
	return timeQuery(ctx, e, sqlText)
}

func run(ctx context.Context, cfg config) error {
	if cfg.bucket == "" || table.S3Endpoint() == "" && os.Getenv("AWS_ACCESS_KEY_ID") == "" {
		return benchkit.Usagef("an S3 server is needed: scripts/versitygw.sh start; set -a; . .tmp/versitygw.env; set +a (or -bucket and the AWS_* settings of another)")
	}
	if cfg.runs < 1 {
		return benchkit.Usagef("-runs must be at least 1")
	}
	if cfg.data == "" {
		cfg.data = filepath.Join(".tmp", "tpch", "sf"+cfg.sf)
	}
	if err := benchkit.GenerateTPCH(ctx, cfg.sf, cfg.data, cfg.tpchgen); err != nil {
		return err
	}
	tmp, err := kit.WorkDir("")
	if err != nil {
		return err
	}
	local, err := open(ctx, filepath.Join(tmp, "local"), filepath.Join(tmp, "local", "warehouse"), "")
	if err != nil {
		return err
	}
	defer local.cat.Close()
	s3, err := open(ctx, filepath.Join(tmp, "s3"), fmt.Sprintf("s3://%s/bench-%d", cfg.bucket, time.Now().UnixNano()), filepath.Join(tmp, "s3", "cache"))
	if err != nil {
		return err
	}
	defer s3.cat.Close()
	rep := report{Host: benchkit.Host(), SF: cfg.sf, Endpoint: table.S3Endpoint(), Runs: cfg.runs, Generated: time.Now().UTC().Format(time.RFC3339)}

	for i, name := range tables {
		fig := importFigure{Table: name}
		// The order alternates table by table.
		order := []*lakehouse{local, s3}
		if i%2 == 1 {
			order = []*lakehouse{s3, local}
		}
		for _, l := range order {
			took, rows, err := importTable(ctx, l.svc, cfg.data, name)
			if err != nil {
				return fmt.Errorf("import %s into %s: %w", name, l.warehouse, err)
			}
			fig.Rows = rows
			if l == local {
				fig.LocalS = took.Seconds()
			} else {
				fig.S3S = took.Seconds()
			}
		}
		fig.RatioS3 = fig.S3S / fig.LocalS
		kit.Logf("imported %s: local %.2f s, S3 %.2f s", name, fig.LocalS, fig.S3S)
		rep.Imports = append(rep.Imports, fig)
	}

	localEngine := query.New(local.svc, query.Options{})
	defer localEngine.Close()
	warmEngine := query.New(s3.svc, query.Options{})
	defer warmEngine.Close()
	for _, q := range queries {
		b, err := os.ReadFile(filepath.Join(cfg.queryDir, q+".sql"))
		if err != nil {
			return err
		}
		sqlText := string(b)
		fig := queryFigure{Query: q, Match: true}
		var localT, warmT, coldT, dlT, planT []time.Duration
		var parts [8][]time.Duration     // as coldParts
		var cmT, cmMetaT []time.Duration // cold with the metadata cached; its metadata reading
		var dlBytes []int64
		var want [][]string
		for i := 0; i <= cfg.runs; i++ { // run 0 warms the local and S3 engines and the S3 cache
			// Local and warm take turns going first.
			var d, w time.Duration
			var rows, wrows [][]string
			for k := range 2 {
				if (i+k)%2 == 0 {
					if d, rows, _, _, _, err = timeQuery(ctx, localEngine, sqlText); err != nil {
						return fmt.Errorf("%s on local disk: %w", q, err)
					}
				} else if w, wrows, _, _, _, err = timeQuery(ctx, warmEngine, sqlText); err != nil {
					return fmt.Errorf("%s on S3 (warm): %w", q, err)
				}
			}
			if i == 0 {
				want = rows
			}
			// Cold: an empty cache, an empty metadata cache and an engine
			// that has planned nothing.
			c, crows, stats, plan, phases, err := s3.coldRun(ctx, filepath.Join(tmp, "s3", fmt.Sprintf("cold-%s-%d", q, i)), sqlText, table.NewMetadataCache(0))
			if err != nil {
				return fmt.Errorf("%s on S3 (cold): %w", q, err)
			}
			// The same with the metadata cache of this process, which the
			// warm engine's planning filled: a new engine on a server.
			cm, cmrows, cmstats, _, cmphases, err := s3.coldRun(ctx, filepath.Join(tmp, "s3", fmt.Sprintf("cold-meta-%s-%d", q, i)), sqlText, s3.svc.MetadataCache())
			if err != nil {
				return fmt.Errorf("%s on S3 (cold, metadata cached): %w", q, err)
			}
			fig.Match = fig.Match && benchkit.SameRows(want, rows) && benchkit.SameRows(want, wrows) && benchkit.SameRows(want, crows) && benchkit.SameRows(want, cmrows)
			if i == 0 {
				continue
			}
			dl, bytes := downloads(stats)
			cmdl, _ := downloads(cmstats)
			cmT = append(cmT, cm)
			cmMetaT = append(cmMetaT, cmphases.Open+cmphases.Plan-time.Duration(cmdl*float64(time.Second)))
			localT, warmT, coldT = append(localT, d), append(warmT, w), append(coldT, c)
			dlT, dlBytes = append(dlT, time.Duration(dl*float64(time.Second))), append(dlBytes, bytes)
			planT = append(planT, plan)
			dlD := time.Duration(dl * float64(time.Second))
			for k, d := range []time.Duration{phases.Resolve, phases.Database, phases.Parse, phases.Open, phases.Plan - dlD, dlD, phases.Views, c - plan} {
				parts[k] = append(parts[k], d)
			}
		}
		m := func(k int) float64 { return benchkit.Ms(benchkit.Median(parts[k])) }
		fig.Cold = coldParts{Resolve: m(0), Database: m(1), Parse: m(2), Open: m(3), Manifest: m(4), Download: m(5), Views: m(6), Execute: m(7)}
		fig.ColdMetaMs, fig.ColdMetaPlanMs = benchkit.Ms(benchkit.Median(cmT)), benchkit.Ms(benchkit.Median(cmMetaT))
		fig.ColdMetaRatio = fig.ColdMetaMs / benchkit.Ms(benchkit.Median(dlT))
		fig.LocalMs, fig.WarmMs, fig.ColdMs = benchkit.Ms(benchkit.Median(localT)), benchkit.Ms(benchkit.Median(warmT)), benchkit.Ms(benchkit.Median(coldT))
		fig.DownloadMs, fig.DownloadBytes = benchkit.Ms(benchkit.Median(dlT)), benchkit.Median(dlBytes)
		fig.WarmRatio = fig.WarmMs / fig.LocalMs
		fig.ColdRatio = fig.ColdMs / fig.DownloadMs
		fig.ColdPlanMs = benchkit.Ms(benchkit.Median(planT))
		fig.ExcessRatio = (fig.ColdMs - fig.LocalMs) / fig.DownloadMs
		kit.Logf("%s: local %.1f ms, S3 warm %.1f ms, S3 cold %.1f ms (downloading %.1f ms, planning %.1f ms)", q, fig.LocalMs, fig.WarmMs, fig.ColdMs, fig.DownloadMs, fig.ColdPlanMs)
		rep.Queries = append(rep.Queries, fig)
	}
	return kit.Report(rep, rep.print)
}

func importTable(ctx context.Context, svc *table.Service, data, name string) (time.Duration, int64, error) {
	started := time.Now()
	files, err := ingest.Expand([]string{filepath.Join(data, name+".parquet")})
	if err != nil {
		return 0, 0, err
	}
	src, err := ingest.Infer(ctx, files)
	if err != nil {
		return 0, 0, err
	}
	res, err := svc.Create(ctx, table.CreateRequest{Ident: tarn.TableIdent{Namespace: tarn.DefaultNamespace, Name: name},
		Branch: tarn.DefaultBranch, Source: src, Info: tarn.CommitInfo{Author: "bench", Message: "import " + name}})
	if err != nil {
		return 0, 0, err
	}
	return time.Since(started), res.Added, nil
}

// downloads are the longest download of a run's tables (they run at
// once) and the bytes of all.
func downloads(stats []tarn.QueryTableStats) (seconds float64, bytes int64) {
	for _, s := range stats {
		seconds = max(seconds, s.DownloadedSeconds)
		bytes += s.DownloadedBytes
	}
	return seconds, bytes
}

// timeQuery runs a query and returns its time, rows, table statistics
// and planning time (downloads included), with its parts.
func timeQuery(ctx context.Context, e *query.Engine, sqlText string) (time.Duration, [][]string, []tarn.QueryTableStats, time.Duration, query.Phases, error) {
	started := time.Now()
	res, err := e.Run(ctx, query.Request{SQL: sqlText, Ref: tarn.DefaultBranch})
	if err != nil {
		return 0, nil, nil, 0, query.Phases{}, err
	}
	rows, err := benchkit.Rows(res.Records)
	res.Close()
	return time.Since(started), rows, res.Tables, res.PlanTime, res.Phases, err
}

func (rep *report) print(w io.Writer) {
	fmt.Fprintf(w, "bench/s3 (%s): TPC-H SF%s, S3 warehouse on %s against local disk, median of %d runs\n\n", rep.Host, rep.SF, rep.Endpoint, rep.Runs)
	fmt.Fprintf(w, "import (tarn table create from Parquet):\n  %-9s %10s %9s %9s %7s\n", "table", "rows", "local s", "S3 s", "S3/local")
	for _, f := range rep.Imports {
		fmt.Fprintf(w, "  %-9s %10d %9.2f %9.2f %7.2f×\n", f.Table, f.Rows, f.LocalS, f.S3S, f.RatioS3)
	}
	fmt.Fprintf(w, "\nqueries:\n  %-4s %9s %9s %9s %12s %10s %8s %10s %8s %13s  %s\n", "q", "local ms", "warm ms", "cold ms", "download ms", "downloaded", "plan ms", "warm/local", "cold/dl", "(cold-loc)/dl", "answers")
	logWarm := 0.0
	for _, f := range rep.Queries {
		fmt.Fprintf(w, "  %-4s %9.1f %9.1f %9.1f %12.1f %10s %8.1f %9.2f× %7.2f× %12.2f×  %s\n", f.Query, f.LocalMs, f.WarmMs, f.ColdMs, f.DownloadMs, tarn.FormatBytes(f.DownloadBytes), f.ColdPlanMs, f.WarmRatio, f.ColdRatio, f.ExcessRatio, match(f.Match))
		logWarm += math.Log(f.WarmRatio)
	}
	if n := len(rep.Queries); n > 0 {
		fmt.Fprintf(w, "  geometric mean warm/local: %.2f× (target ≤ 1.1×); cold within 2× of its downloads: %s\n", math.Exp(logWarm/float64(n)), coldMet(rep.Queries))
		fmt.Fprintf(w, "\ncold run, where the time went (ms, medians), and a cold run with the metadata cached:\n  %-4s %8s %8s %6s %9s %9s %9s %6s %8s  %10s %9s %8s\n", "q", "resolve", "duckdb", "parse", "metadata", "manifests", "download", "views", "execute", "cold+meta", "metadata", "/dl")
		for _, f := range rep.Queries {
			c := f.Cold
			fmt.Fprintf(w, "  %-4s %8.1f %8.1f %6.1f %9.1f %9.1f %9.1f %6.1f %8.1f  %10.1f %9.1f %7.2f×\n", f.Query, c.Resolve, c.Database, c.Parse, c.Open, c.Manifest, c.Download, c.Views, c.Execute, f.ColdMetaMs, f.ColdMetaPlanMs, f.ColdMetaRatio)
		}
	}
}

func coldMet(qs []queryFigure) string {
	for _, q := range qs {
		if q.ColdRatio > 2 {
			return "no (" + q.Query + ")"
		}
	}
	return "yes"
}

func match(ok bool) string {
	if ok {
		return "match"
	}
	return "MISMATCH"
}
