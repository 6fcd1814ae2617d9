// Command catalog prints tarn's catalog benchmark figures: branch creation,
// commit cost against catalog size, branch creation against table size and
// merges, each measured next to its baseline in the same run on the
// embedded stack the CLI uses (SQLite store, catalog, table service).
//
//	go run ./bench/catalog            # defaults: well under a minute on 2 cores
//	go run ./bench/catalog -big-mb 64 # quicker, with a 64 MB "big" table
//	go run ./bench/catalog -json      # machine-readable figures on stdout
//
// See bench/catalog/README.md for how to read the figures.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/pprof"
	"slices"
	"strings"
	"time"

	"github.com/tarnhq/tarn/bench/internal/benchkit"
)

type config struct {
	dir     string
	keep    bool // -keep
	only    string
	seed    uint64
	check   bool
	maxRate float64
	cpuProf string

	branches int

	smallTables, largeTables int
	commits                  int

	smallMB, bigMB, fileMB int
	tableBranches          int

	mergeTables, mergeChanged, merges int
}

// figureNames are the -only names, in run order: the big import runs last
// so that its disk write-back does not land on the other figures.
var figureNames = []string{"branch", "commit", "merge", "table"}

var kit = benchkit.New("catalog")

func main() {
	cfg := &config{}
	fs := kit.Flags
	fs.Usage = func() {
		fmt.Fprintf(kit.Stderr, "usage: go run ./bench/catalog [flags]\n\nPrints tarn's catalog benchmark figures (progress goes to stderr).\n\nflags:\n")
		fs.PrintDefaults()
	}
	fs.Lookup("keep").Usage = "keep the work directory (and the generated input) at the end"
	fs.StringVar(&cfg.dir, "dir", "", "work directory (must be absent or empty; default: a new temp dir)")
	fs.StringVar(&cfg.only, "only", "", "comma-separated figures to run: "+strings.Join(figureNames, ", ")+" (default all)")
	fs.Uint64Var(&cfg.seed, "seed", 1, "random seed (table choice, generated data)")
	fs.BoolVar(&cfg.check, "check", false, "exit 1 when a size ratio (figures 2 and 3) exceeds -max-ratio")
	fs.Float64Var(&cfg.maxRate, "max-ratio", 1.5, "largest acceptable size ratio for -check")
	fs.StringVar(&cfg.cpuProf, "cpuprofile", "", "write a CPU profile of the whole run to this file (go tool pprof)")
	fs.IntVar(&cfg.branches, "branches", 1000, "1: branch creates (and as many store-floor writes)")
	fs.IntVar(&cfg.smallTables, "small-tables", 10, "2: tables in the small catalog")
	fs.IntVar(&cfg.largeTables, "large-tables", 10000, "2: tables in the large catalog")
	fs.IntVar(&cfg.commits, "commits", 1000, "2: single-table commits timed on each catalog")
	fs.IntVar(&cfg.smallMB, "small-mb", 1, "3: size of the small table's CSV input in MB")
	fs.IntVar(&cfg.bigMB, "big-mb", 1024, "3: size of the big table's CSV input in MB")
	fs.IntVar(&cfg.fileMB, "file-mb", 64, "3: largest generated CSV file in MB (the big input is several files)")
	fs.IntVar(&cfg.tableBranches, "table-branches", 1000, "3: branch creates timed on each table's lakehouse")
	fs.IntVar(&cfg.mergeTables, "merge-tables", 1000, "4: tables on main")
	fs.IntVar(&cfg.mergeChanged, "merge-changes", 100, "4: tables changed on the branch (and other tables changed on main)")
	fs.IntVar(&cfg.merges, "merges", 200, "4: merges timed of each kind (three-way, fast-forward)")
	kit.Main(func(ctx context.Context) error { return run(ctx, cfg) })
}

func run(ctx context.Context, cfg *config) error {
	selected, err := selectFigures(cfg.only)
	if err == nil {
		err = cfg.validate()
	}
	if err != nil {
		return err
	}
	p := newProgress(kit)
	if cfg.dir, err = kit.WorkDir(cfg.dir); err != nil {
		return fmt.Errorf("-dir: %w", err)
	}
	cfg.keep = kit.Keep

	rep := &report{
		Go: runtime.Version(), OS: runtime.GOOS, Arch: runtime.GOARCH, CPUs: runtime.NumCPU(),
		GOMAXPROCS: runtime.GOMAXPROCS(0), Dir: cfg.dir, Kept: cfg.keep, Started: time.Now().UTC().Truncate(time.Second),
		Config: cfg.asMap(),
	}
	p.logf("work directory %s", cfg.dir)
	if cfg.cpuProf != "" {
		f, err := os.Create(cfg.cpuProf)
		if err == nil {
			err = pprof.StartCPUProfile(f)
		}
		if err != nil {
			return fmt.Errorf("-cpuprofile: %w", err)
		}
		defer func() { pprof.StopCPUProfile(); f.Close() }()
	}
	start := time.Now()
	for _, name := range figureNames {
		if !selected[name] {
			continue
		}
		switch name {
		case "branch":
			rep.BranchCreate, err = runBranchCreate(ctx, cfg, p)
		case "commit":
			rep.CommitScale, err = runCommitScale(ctx, cfg, p)
		case "merge":
			rep.Merge, err = runMerge(ctx, cfg, p)
		case "table":
			rep.TableSize, err = runTableSize(ctx, cfg, p)
		}
		p.end()
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
	}
	rep.ElapsedS = time.Since(start).Seconds()
	p.logf("done in %.1fs", rep.ElapsedS)

	if err := kit.Report(rep, func(w io.Writer) { rep.print(w, cfg) }); err != nil {
		return err
	}
	if cfg.check {
		if bad := rep.overRatio(cfg.maxRate); len(bad) > 0 {
			return fmt.Errorf("ratio above %.2f: %s", cfg.maxRate, strings.Join(bad, "; "))
		}
	}
	return nil
}

func selectFigures(only string) (map[string]bool, error) {
	sel := map[string]bool{}
	if strings.TrimSpace(only) == "" {
		for _, n := range figureNames {
			sel[n] = true
		}
		return sel, nil
	}
	for _, n := range strings.Split(only, ",") {
		n = strings.TrimSpace(n)
		if !slices.Contains(figureNames, n) {
			return nil, benchkit.Usagef("-only: unknown figure %q (use %s)", n, strings.Join(figureNames, ", "))
		}
		sel[n] = true
	}
	return sel, nil
}

func (c *config) validate() error {
	for _, v := range []struct {
		name string
		val  int
	}{
		{"branches", c.branches}, {"small-tables", c.smallTables}, {"large-tables", c.largeTables},
		{"commits", c.commits}, {"small-mb", c.smallMB}, {"big-mb", c.bigMB}, {"file-mb", c.fileMB},
		{"table-branches", c.tableBranches}, {"merge-tables", c.mergeTables}, {"merge-changes", c.mergeChanged}, {"merges", c.merges},
	} {
		if v.val < 1 {
			return benchkit.Usagef("-%s must be at least 1", v.name)
		}
	}
	if 2*c.mergeChanged > c.mergeTables {
		return benchkit.Usagef("-merge-changes %d must be at most half of -merge-tables %d (the two sides change different tables)", c.mergeChanged, c.mergeTables)
	}
	return nil
}

func (c *config) asMap() map[string]any {
	return map[string]any{
		"branches": c.branches, "small_tables": c.smallTables, "large_tables": c.largeTables, "commits": c.commits,
		"small_mb": c.smallMB, "big_mb": c.bigMB, "file_mb": c.fileMB, "table_branches": c.tableBranches,
		"merge_tables": c.mergeTables, "merge_changes": c.mergeChanged, "merges": c.merges, "seed": c.seed, "only": c.only,
	}
}
