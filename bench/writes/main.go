// Command writes measures concurrent writers and compaction, in one run:
//
//   - N concurrent imports of small CSV files into one table on one
//     branch against the same N imports one after another (alternating
//     rounds, medians): every concurrent import must be acknowledged and
//     every row be there once; the figure is sequential time / concurrent
//     time (above 1: concurrency pays).
//
//   - a full-scan query of a table made of M small appends, before and
//     after `tarn table optimize` (alternating repeats, medians): the
//     figure is before / after.
//
//     go run ./bench/writes [-writers 20] [-rounds 3] [-appends 1000] [-repeats 7] [-json]
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/tarnhq/tarn"
	"github.com/tarnhq/tarn/bench/internal/benchkit"
	"github.com/tarnhq/tarn/local"
)

var kit = benchkit.New("writes")

type config struct {
	writers, rounds, appends, repeats, rowsPerFile int
}

type report struct {
	Host            string  `json:"host"`
	Writers         int     `json:"writers"`
	Rounds          int     `json:"rounds"`
	SequentialMs    float64 `json:"sequential_ms"`
	ConcurrentMs    float64 `json:"concurrent_ms"`
	ConcurrentRatio float64 `json:"sequential_over_concurrent"`
	Acknowledged    int     `json:"acknowledged"`
	Appends         int     `json:"appends"`
	FilesBefore     int     `json:"files_before"`
	FilesAfter      int     `json:"files_after"`
	OptimizeMs      float64 `json:"optimize_ms"`
	QueryBeforeMs   float64 `json:"query_before_ms"`
	QueryAfterMs    float64 `json:"query_after_ms"`
	QuerySpeedup    float64 `json:"query_before_over_after"`
}

func main() {
	var cfg config
	fs := kit.Flags
	fs.IntVar(&cfg.writers, "writers", 20, "concurrent imports into one table")
	fs.IntVar(&cfg.rounds, "rounds", 3, "alternating rounds of concurrent and sequential imports")
	fs.IntVar(&cfg.appends, "appends", 1000, "small appends making the table that is optimized")
	fs.IntVar(&cfg.repeats, "repeats", 7, "alternating repeats of the query before and after optimize")
	fs.IntVar(&cfg.rowsPerFile, "rows", 1000, "rows per imported file")
	kit.Main(func(ctx context.Context) error { return run(ctx, cfg) })
}

func run(ctx context.Context, cfg config) error {
	if cfg.writers < 1 || cfg.rounds < 1 || cfg.appends < 2 || cfg.repeats < 1 || cfg.rowsPerFile < 1 {
		return benchkit.Usagef("-writers, -rounds, -repeats, -rows must be at least 1 and -appends at least 2")
	}
	dir, err := kit.WorkDir("")
	if err != nil {
		return err
	}
	lh, err := local.Open(ctx, local.Config{Home: filepath.Join(dir, "home")})
	if err != nil {
		return err
	}
	defer lh.Close()
	svc := lh.Services()
	rep := report{Host: benchkit.Host(), Writers: cfg.writers, Rounds: cfg.rounds, Appends: cfg.appends}
	next := 0 // the next id written
	file := func(n int) (string, error) {
		p := filepath.Join(dir, fmt.Sprintf("in-%d.csv", next))
		var b strings.Builder
		b.WriteString("id,fare,zone\n")
		for i := 0; i < n; i++ {
			fmt.Fprintf(&b, "%d,%d.25,z%d\n", next, next%997, next%13)
			next++
		}
		return p, os.WriteFile(p, []byte(b.String()), 0o644)
	}
	create := func(name string) error {
		p, err := file(cfg.rowsPerFile)
		if err != nil {
			return err
		}
		_, err = svc.Tables.CreateTable(ctx, tarn.CreateTableRequest{Table: tarn.TableIdent{Namespace: "tarn", Name: name}, Branch: "main", From: []string{p}})
		return err
	}
	importAll := func(name string, paths []string, concurrent bool) (time.Duration, error) {
		ident := tarn.TableIdent{Namespace: "tarn", Name: name}
		errs := make([]error, len(paths))
		started := time.Now()
		var wg sync.WaitGroup
		for i, p := range paths {
			one := func() {
				_, errs[i] = svc.Tables.ImportTable(ctx, tarn.ImportRequest{Table: ident, Branch: "main", From: []string{p}})
			}
			if !concurrent {
				one()
				continue
			}
			wg.Add(1)
			go func() { defer wg.Done(); one() }()
		}
		wg.Wait()
		took := time.Since(started)
		for i, err := range errs {
			if err != nil {
				return 0, fmt.Errorf("import %d of %d (concurrent %v): %w", i, len(paths), concurrent, err)
			}
		}
		return took, nil
	}

	var seq, conc []float64
	for r := 0; r < cfg.rounds; r++ {
		for _, concurrent := range []bool{r%2 == 0, r%2 != 0} {
			name := fmt.Sprintf("r%d_%v", r, concurrent)
			if err := create(name); err != nil {
				return err
			}
			paths := make([]string, cfg.writers)
			for i := range paths {
				if paths[i], err = file(cfg.rowsPerFile); err != nil {
					return err
				}
			}
			took, err := importAll(name, paths, concurrent)
			if err != nil {
				return err
			}
			if err := checkRows(ctx, svc, name, (cfg.writers+1)*cfg.rowsPerFile); err != nil {
				return err
			}
			if concurrent {
				conc = append(conc, benchkit.Ms(took))
				rep.Acknowledged += cfg.writers
			} else {
				seq = append(seq, benchkit.Ms(took))
			}
			kit.Logf("round %d concurrent=%v: %d imports in %s", r, concurrent, cfg.writers, took.Round(time.Millisecond))
		}
	}
	rep.SequentialMs, rep.ConcurrentMs = benchkit.Median(seq), benchkit.Median(conc)
	rep.ConcurrentRatio = rep.SequentialMs / rep.ConcurrentMs

	// A table of many small appends, queried before and after optimize.
	if err := create("small"); err != nil {
		return err
	}
	for i := 1; i < cfg.appends; i++ {
		p, err := file(10)
		if err != nil {
			return err
		}
		if _, err := importAll("small", []string{p}, false); err != nil {
			return err
		}
		os.Remove(p)
		if i%100 == 0 {
			kit.Logf("%d of %d small appends", i, cfg.appends)
		}
	}
	const q = "select zone, count(*), sum(fare), count(distinct id) from small group by zone order by zone"
	query := func(ref string) (float64, string, error) {
		started := time.Now()
		res, err := svc.Query.Query(ctx, tarn.QueryRequest{SQL: q, Ref: ref})
		if err != nil {
			return 0, "", err
		}
		defer res.Close()
		var out strings.Builder
		for res.Records.Next() {
			fmt.Fprint(&out, res.Records.RecordBatch())
		}
		return benchkit.Ms(time.Since(started)), out.String(), res.Records.Err()
	}
	before, err := svc.Refs.Resolve(ctx, "main")
	if err != nil {
		return err
	}
	started := time.Now()
	opt, err := lh.Services().Tables.(tarn.Optimizer).Optimize(ctx, tarn.OptimizeRequest{Table: tarn.TableIdent{Namespace: "tarn", Name: "small"}, Branch: "main"})
	if err != nil {
		return err
	}
	rep.OptimizeMs = benchkit.Ms(time.Since(started))
	rep.FilesBefore, rep.FilesAfter = opt.FilesBefore, opt.FilesAfter
	var qb, qa []float64
	for i := 0; i < cfg.repeats; i++ {
		b, outB, err := query(before.Hash)
		if err != nil {
			return err
		}
		a, outA, err := query("main")
		if err != nil {
			return err
		}
		if outA != outB {
			return fmt.Errorf("the query's result changed after optimize:\n%s\n%s", outB, outA)
		}
		qb, qa = append(qb, b), append(qa, a)
	}
	rep.QueryBeforeMs, rep.QueryAfterMs = benchkit.Median(qb), benchkit.Median(qa)
	rep.QuerySpeedup = rep.QueryBeforeMs / rep.QueryAfterMs
	return kit.Report(rep, func(w io.Writer) {
		fmt.Fprintf(w, "host: %s\n", rep.Host)
		fmt.Fprintf(w, "%d imports into one table: sequential %.0f ms, concurrent %.0f ms (medians of %d): sequential/concurrent %.2f; %d concurrent imports acknowledged, rows checked\n",
			rep.Writers, rep.SequentialMs, rep.ConcurrentMs, rep.Rounds, rep.ConcurrentRatio, rep.Acknowledged)
		fmt.Fprintf(w, "table of %d appends: %d files -> %d by optimize in %.0f ms; query %.1f ms before, %.1f ms after (medians of %d): before/after %.2f\n",
			rep.Appends, rep.FilesBefore, rep.FilesAfter, rep.OptimizeMs, rep.QueryBeforeMs, rep.QueryAfterMs, cfg.repeats, rep.QuerySpeedup)
	})
}

// checkRows fails unless the table has n rows with n distinct ids.
func checkRows(ctx context.Context, svc *tarn.Services, table string, n int) error {
	res, err := svc.Query.Query(ctx, tarn.QueryRequest{SQL: fmt.Sprintf("select count(*) = %d and count(distinct id) = %d as ok from %s", n, n, table), Ref: "main"})
	if err != nil {
		return err
	}
	defer res.Close()
	var out strings.Builder
	for res.Records.Next() {
		fmt.Fprint(&out, res.Records.RecordBatch())
	}
	if !strings.Contains(out.String(), "true") {
		return fmt.Errorf("table %s does not hold %d distinct rows: %s", table, n, out.String())
	}
	return res.Records.Err()
}
