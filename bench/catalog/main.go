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
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"strings"
	"syscall"
	"time"
)

type config struct {
	dir     string
	keep    bool
	json    bool
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

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

func run(args []string, stdout, stderr io.Writer) int {
	cfg := &config{}
	fs := flag.NewFlagSet("catalog", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: go run ./bench/catalog [flags]\n\nPrints tarn's catalog benchmark figures (progress goes to stderr).\n\nflags:\n")
		fs.PrintDefaults()
	}
	fs.StringVar(&cfg.dir, "dir", "", "work directory (must be absent or empty; default: a new temp dir)")
	fs.BoolVar(&cfg.keep, "keep", false, "keep the work directory (and the generated input) at the end")
	fs.BoolVar(&cfg.json, "json", false, "print the figures as JSON on stdout")
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
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "unexpected arguments %q; see -help\n", fs.Args())
		return 2
	}
	selected, err := selectFigures(cfg.only)
	if err == nil {
		err = cfg.validate()
	}
	if err != nil {
		fmt.Fprintf(stderr, "bench: %v\n", err)
		return 2
	}

	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()
	p := newProgress(stderr)
	cleanup, err := prepareDir(cfg)
	if err != nil {
		fmt.Fprintf(stderr, "bench: %v\n", err)
		return 1
	}
	defer func() {
		if cfg.keep {
			p.logf("kept %s", cfg.dir)
			return
		}
		cleanup()
	}()

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
			fmt.Fprintf(stderr, "bench: -cpuprofile: %v\n", err)
			return 1
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
			if ctx.Err() != nil {
				err = ctx.Err()
			}
			fmt.Fprintf(stderr, "bench: %s: %v\n", name, err)
			return 1
		}
	}
	rep.ElapsedS = time.Since(start).Seconds()
	p.logf("done in %.1fs", rep.ElapsedS)

	if cfg.json {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			fmt.Fprintf(stderr, "bench: %v\n", err)
			return 1
		}
	} else {
		rep.print(stdout, cfg)
	}
	if cfg.check {
		if bad := rep.overRatio(cfg.maxRate); len(bad) > 0 {
			fmt.Fprintf(stderr, "bench: ratio above %.2f: %s\n", cfg.maxRate, strings.Join(bad, "; "))
			return 1
		}
	}
	return 0
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
			return nil, fmt.Errorf("-only: unknown figure %q (use %s)", n, strings.Join(figureNames, ", "))
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
			return fmt.Errorf("-%s must be at least 1", v.name)
		}
	}
	if 2*c.mergeChanged > c.mergeTables {
		return fmt.Errorf("-merge-changes %d must be at most half of -merge-tables %d (the two sides change different tables)", c.mergeChanged, c.mergeTables)
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

// prepareDir creates the work directory and returns what removes it.
func prepareDir(cfg *config) (func(), error) {
	if cfg.dir != "" {
		abs, err := filepath.Abs(cfg.dir)
		if err != nil {
			return nil, err
		}
		cfg.dir = abs
	}
	if cfg.dir == "" {
		d, err := os.MkdirTemp("", "tarn-bench-")
		if err == nil {
			d, err = filepath.Abs(d)
		}
		if err != nil {
			return nil, err
		}
		cfg.dir = d
		return func() { os.RemoveAll(d) }, nil
	}
	entries, err := os.ReadDir(cfg.dir)
	switch {
	case errors.Is(err, os.ErrNotExist):
		if err := os.MkdirAll(cfg.dir, 0o755); err != nil {
			return nil, err
		}
	case err != nil:
		return nil, err
	case len(entries) > 0:
		return nil, fmt.Errorf("-dir %s is not empty: give a new or empty directory", cfg.dir)
	}
	d := cfg.dir
	return func() { os.RemoveAll(d) }, nil
}
