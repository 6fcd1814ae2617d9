package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"sync/atomic"
	"time"

	"github.com/tarnhq/tarn"
	"github.com/tarnhq/tarn/catalog"
	"github.com/tarnhq/tarn/ingest"
	"github.com/tarnhq/tarn/table"
)

// warmupFor is how many untimed rounds precede n timed ones.
func warmupFor(n int) int { return max(2, min(20, n/20)) }

// ---- 1. branch create ----

type branchFigure struct {
	Create dist `json:"create"`
	// Floor is one store.Apply creating a ref: the durable SQLite
	// transaction every catalog write costs at least.
	Floor    dist    `json:"store_floor"`
	RatioP50 float64 `json:"ratio_p50_create_vs_floor"`
}

func runBranchCreate(ctx context.Context, cfg *config, p *progress) (*branchFigure, error) {
	h, err := openHome(ctx, filepath.Join(cfg.dir, "branches"))
	if err != nil {
		return nil, err
	}
	defer h.close()
	head, err := h.cat.GetRef(ctx, tarn.DefaultBranch)
	if err != nil {
		return nil, err
	}
	p.phase("1. branch create", 2*(cfg.branches+warmupFor(cfg.branches)))
	creates, floors, err := pair(cfg.branches, warmupFor(cfg.branches),
		func(i int) (time.Duration, error) {
			defer p.step()
			return h.createBranch(ctx, fmt.Sprintf("bench-%05d", i))
		},
		func(i int) (time.Duration, error) {
			defer p.step()
			batch := &catalog.Batch{Refs: []catalog.RefUpdate{{Name: fmt.Sprintf("floor-%05d", i), Kind: tarn.KindBranch, New: head.Commit}}}
			return timed(func() error { return h.store.Apply(ctx, batch) })
		})
	if err != nil {
		return nil, err
	}
	f := &branchFigure{Create: summarize(creates), Floor: summarize(floors)}
	f.RatioP50 = ratio(f.Create.P50, f.Floor.P50)
	return f, nil
}

// ---- 2. commit changing one table, small vs large catalog ----

type commitFigure struct {
	SmallTables int     `json:"small_tables"`
	LargeTables int     `json:"large_tables"`
	Small       dist    `json:"small"`
	Large       dist    `json:"large"`
	RatioP50    float64 `json:"ratio_p50_large_vs_small"`
	BuildLargeS float64 `json:"build_large_s"`
}

func runCommitScale(ctx context.Context, cfg *config, p *progress) (*commitFigure, error) {
	f := &commitFigure{SmallTables: cfg.smallTables, LargeTables: cfg.largeTables}
	homes := make([]*home, 2)
	for i, n := range []int{cfg.smallTables, cfg.largeTables} {
		h, err := openHome(ctx, filepath.Join(cfg.dir, fmt.Sprintf("commit-%d", n)))
		if err != nil {
			return nil, err
		}
		defer h.close()
		p.logf("2. building a catalog of %d tables", n)
		d, err := timed(func() error { return h.fill(ctx, n, 1000) })
		if err != nil {
			return nil, fmt.Errorf("build catalog of %d tables: %w", n, err)
		}
		if i == 1 {
			f.BuildLargeS = d.Seconds()
		}
		homes[i] = h
	}
	rng := rand.New(rand.NewPCG(cfg.seed, 2))
	version := 0
	commitOne := func(h *home, n int) func(int) (time.Duration, error) {
		return func(int) (time.Duration, error) {
			defer p.step()
			version++
			t := rng.IntN(n)
			req := catalog.CommitRequest{
				Branch:  tarn.DefaultBranch,
				Changes: map[string]*tarn.Entry{tableKey(t): fakeEntry(t, version)},
				Info:    tarn.CommitInfo{Author: "bench", Message: fmt.Sprintf("update %s", tableKey(t))},
			}
			return timed(func() error {
				_, err := h.cat.Commit(ctx, req)
				return err
			})
		}
	}
	p.phase("2. single-table commits", 2*(cfg.commits+warmupFor(cfg.commits)))
	small, large, err := pair(cfg.commits, warmupFor(cfg.commits),
		commitOne(homes[0], cfg.smallTables), commitOne(homes[1], cfg.largeTables))
	if err != nil {
		return nil, err
	}
	f.Small, f.Large = summarize(small), summarize(large)
	f.RatioP50 = ratio(f.Large.P50, f.Small.P50)
	return f, nil
}

// ---- 3. branch create on a small vs a big real table ----

type tableInfo struct {
	InputMB    float64 `json:"input_mb"`
	InputFiles int     `json:"input_files"`
	Rows       int64   `json:"rows"`
	TableMB    float64 `json:"table_mb"`
	DataFiles  int64   `json:"data_files"`
	GenerateS  float64 `json:"generate_s"`
	InferS     float64 `json:"infer_s"`
	WriteS     float64 `json:"write_s"`
	ImportS    float64 `json:"import_s"`
	ImportMBps float64 `json:"import_mb_per_s"`
}

type tableFigure struct {
	Small       tableInfo `json:"small_table"`
	Big         tableInfo `json:"big_table"`
	BranchSmall dist      `json:"branch_small"`
	BranchBig   dist      `json:"branch_big"`
	RatioP50    float64   `json:"ratio_p50_big_vs_small"`
}

func runTableSize(ctx context.Context, cfg *config, p *progress) (*tableFigure, error) {
	f := &tableFigure{}
	var homes [2]*home
	for i, mb := range []int{cfg.smallMB, cfg.bigMB} {
		h, err := openHome(ctx, filepath.Join(cfg.dir, []string{"table-small", "table-big"}[i]))
		if err != nil {
			return nil, err
		}
		defer h.close()
		homes[i] = h
		info, err := importTable(ctx, cfg, p, h, int64(mb)<<20, uint64(i+1))
		if err != nil {
			return nil, fmt.Errorf("import the %d MB table: %w", mb, err)
		}
		if i == 0 {
			f.Small = info
		} else {
			f.Big = info
		}
	}
	// Let the kernel write back the big import before timing anything
	// that fsyncs.
	p.logf("3. syncing the page cache")
	syncDisks()
	runtime.GC()

	p.phase("3. branch create on each table", 2*(cfg.tableBranches+warmupFor(cfg.tableBranches)))
	small, big, err := pair(cfg.tableBranches, warmupFor(cfg.tableBranches),
		func(i int) (time.Duration, error) {
			defer p.step()
			return homes[0].createBranch(ctx, fmt.Sprintf("bench-%05d", i))
		},
		func(i int) (time.Duration, error) {
			defer p.step()
			return homes[1].createBranch(ctx, fmt.Sprintf("bench-%05d", i))
		})
	if err != nil {
		return nil, err
	}
	f.BranchSmall, f.BranchBig = summarize(small), summarize(big)
	f.RatioP50 = ratio(f.BranchBig.P50, f.BranchSmall.P50)
	return f, nil
}

// importTable generates about size bytes of CSV and creates table
// tarn.events from it on main, like `tarn table create events --from DIR`.
func importTable(ctx context.Context, cfg *config, p *progress, h *home, size int64, seed uint64) (tableInfo, error) {
	var info tableInfo
	input := filepath.Join(h.dir, "input")
	mb := float64(size) / (1 << 20)
	var written atomic.Int64
	stop := p.every(5*time.Second, func() string {
		return fmt.Sprintf("3. generating %.0f MB of CSV: %.0f MB written", mb, float64(written.Load())/(1<<20))
	})
	start := time.Now()
	gen, err := genCSV(ctx, input, size, int64(cfg.fileMB)<<20, cfg.seed+seed, &written)
	stop()
	if err != nil {
		return info, err
	}
	info.GenerateS = time.Since(start).Seconds()
	info.InputMB = float64(gen.Bytes) / (1 << 20)
	info.InputFiles = gen.Files
	p.logf("3. generated %.1f MB of CSV (%d rows, %d files) in %.1fs", info.InputMB, gen.Rows, gen.Files, info.GenerateS)

	start = time.Now()
	stop = p.every(5*time.Second, func() string {
		return fmt.Sprintf("3. import of %.0f MB: inferring the schema (reads every row)", info.InputMB)
	})
	files, err := ingest.Expand([]string{input})
	var src *ingest.Source
	if err == nil {
		src, err = ingest.Infer(ctx, files)
	}
	stop()
	if err != nil {
		return info, err
	}
	info.InferS = time.Since(start).Seconds()
	warehouse := filepath.Join(h.dir, "warehouse")
	stop = p.every(5*time.Second, func() string {
		return fmt.Sprintf("3. import of %.0f MB: writing the table, %.0f MB of data files so far", info.InputMB, float64(dirSize(warehouse))/(1<<20))
	})
	wstart := time.Now()
	res, err := h.tables.Create(ctx, table.CreateRequest{
		Ident:  tarn.TableIdent{Namespace: tarn.DefaultNamespace, Name: "events"},
		Branch: tarn.DefaultBranch,
		Source: src,
		Info:   tarn.CommitInfo{Author: "bench", Message: fmt.Sprintf("create table events from %.0f MB of CSV", info.InputMB)},
	})
	stop()
	if err != nil {
		return info, err
	}
	info.WriteS = time.Since(wstart).Seconds()
	info.ImportS = time.Since(start).Seconds()
	info.ImportMBps = info.InputMB / info.ImportS
	if res.Entry != nil {
		info.Rows, info.TableMB, info.DataFiles = res.Entry.Rows, float64(res.Entry.Bytes)/(1<<20), res.Entry.Files
	}
	if info.Rows != gen.Rows {
		return info, fmt.Errorf("table has %d rows, the input %d", info.Rows, gen.Rows)
	}
	p.logf("3. imported %.1f MB in %.1fs (%.1f MB/s): %d rows, %.1f MB in %d data files",
		info.InputMB, info.ImportS, info.ImportMBps, info.Rows, info.TableMB, info.DataFiles)
	if !cfg.keep {
		os.RemoveAll(input) // the table does not need its input
	}
	return info, nil
}

// dirSize sums the sizes of the files under dir (best effort).
func dirSize(dir string) int64 {
	var n int64
	filepath.WalkDir(dir, func(_ string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if fi, err := d.Info(); err == nil {
				n += fi.Size()
			}
		}
		return nil
	})
	return n
}

// ---- 4. merges ----

type mergeFigure struct {
	Tables  int `json:"tables"`
	Changed int `json:"changed_per_side"`
	// ThreeWay: a branch changed Changed tables, main changed Changed
	// others; the merge writes a merge commit.
	ThreeWay dist `json:"three_way"`
	// FastForward: a branch changed Changed tables, main did not move.
	FastForward dist `json:"fast_forward"`
	// Commit is the branch-side commit of Changed tables, for scale: the
	// merge applies the same number of changes.
	Commit         dist    `json:"commit_of_changed"`
	RatioP50Commit float64 `json:"ratio_p50_three_way_vs_commit"`
	// Main's generation (longest history) before and after the runs, and
	// the p50 of the first and last quarter of the three-way merges.
	MainCommitsFrom   int64   `json:"main_generation_start"`
	MainCommitsTo     int64   `json:"main_generation_end"`
	ThreeWayFirstQP50 float64 `json:"three_way_first_quarter_p50_ms"`
	ThreeWayLastQP50  float64 `json:"three_way_last_quarter_p50_ms"`
}

func runMerge(ctx context.Context, cfg *config, p *progress) (*mergeFigure, error) {
	n, k := cfg.mergeTables, cfg.mergeChanged
	if 2*k > n {
		return nil, fmt.Errorf("-merge-changes %d: need at most half of -merge-tables %d", k, n)
	}
	f := &mergeFigure{Tables: n, Changed: k}
	h, err := openHome(ctx, filepath.Join(cfg.dir, "merge"))
	if err != nil {
		return nil, err
	}
	defer h.close()
	p.logf("4. building a catalog of %d tables", n)
	if err := h.fill(ctx, n, 1000); err != nil {
		return nil, err
	}
	if head, err := h.cat.Resolve(ctx, tarn.DefaultBranch); err == nil {
		f.MainCommitsFrom = head.Generation
	}
	rng := rand.New(rand.NewPCG(cfg.seed, 4))
	version := 0
	change := func(branch string, tables []int, msg string) (time.Duration, error) {
		version++
		changes := make(map[string]*tarn.Entry, len(tables))
		for _, t := range tables {
			changes[tableKey(t)] = fakeEntry(t, version)
		}
		req := catalog.CommitRequest{Branch: branch, Changes: changes, Info: tarn.CommitInfo{Author: "bench", Message: msg}}
		return timed(func() error {
			_, err := h.cat.Commit(ctx, req)
			return err
		})
	}
	var commits []time.Duration
	merge := func(fastForward bool) func(int) (time.Duration, error) {
		return func(i int) (time.Duration, error) {
			defer p.step()
			name := fmt.Sprintf("merge-%05d", i)
			if fastForward {
				name = fmt.Sprintf("ff-%05d", i)
			}
			if _, err := h.cat.CreateRef(ctx, tarn.KindBranch, name, tarn.DefaultBranch); err != nil {
				return 0, err
			}
			perm := rng.Perm(n)
			d, err := change(name, perm[:k], fmt.Sprintf("change %d tables", k))
			if err != nil {
				return 0, err
			}
			if !fastForward {
				commits = append(commits, d)
				if _, err := change(tarn.DefaultBranch, perm[k:2*k], fmt.Sprintf("change %d other tables", k)); err != nil {
					return 0, err
				}
			}
			var res *tarn.MergeResult
			d, err = timed(func() error {
				res, err = h.cat.Merge(ctx, tarn.MergeRequest{Source: name, Into: tarn.DefaultBranch,
					Info: tarn.CommitInfo{Author: "bench", Message: "merge " + name}})
				return err
			})
			if err != nil {
				return 0, err
			}
			if res.FastForward != fastForward || len(res.Changes) != k {
				return 0, fmt.Errorf("merge %s: fast-forward %v with %d changes, want %v with %d", name, res.FastForward, len(res.Changes), fastForward, k)
			}
			return d, h.cat.DeleteRef(ctx, tarn.KindBranch, name)
		}
	}
	p.phase("4. merges", 2*(cfg.merges+warmupFor(cfg.merges)))
	threeWay, ff, err := pair(cfg.merges, warmupFor(cfg.merges), merge(false), merge(true))
	if err != nil {
		return nil, err
	}
	f.ThreeWay, f.FastForward = summarize(threeWay), summarize(ff)
	f.Commit = summarize(commits[warmupFor(cfg.merges):])
	f.RatioP50Commit = ratio(f.ThreeWay.P50, f.Commit.P50)
	f.ThreeWayFirstQP50, f.ThreeWayLastQP50 = quarterP50s(threeWay)
	if head, err := h.cat.Resolve(ctx, tarn.DefaultBranch); err == nil {
		f.MainCommitsTo = head.Generation
	}
	return f, nil
}
