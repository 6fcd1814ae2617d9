// Command matprof times (and optionally CPU-profiles) what `tarn run` does
// after a model's worker has written its output: table.Service.Materialize
// of the Arrow IPC file into an Iceberg table on a run branch, then the
// session's Flush. It is the tool behind the "Go materializes" figure of
// bench/loop; see ../README.md.
//
//	go run ./bench/loop/matprof -ipc /dev/shm/enriched.arrow [-cpuprofile cpu.out] [-codec snappy]
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime/pprof"
	"time"

	"github.com/tarnhq/tarn"
	"github.com/tarnhq/tarn/bench/internal/benchkit"
	"github.com/tarnhq/tarn/catalog"
	"github.com/tarnhq/tarn/catalog/sqlstore"
	"github.com/tarnhq/tarn/table"
)

func main() {
	ipc := flag.String("ipc", "", "Arrow IPC file to materialize (required)")
	runs := flag.Int("runs", 3, "materializations: the first creates the table, the others REPLACE it")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile of the timed materializations here")
	codec := flag.String("codec", "", "table property write.parquet.compression-codec (default: iceberg-go's)")
	flag.Parse()
	benchkit.Main("matprof", func(ctx context.Context) error { return run(ctx, *ipc, *runs, *cpuprofile, *codec) })
}

func run(ctx context.Context, ipc string, runs int, cpuprofile, codec string) error {
	if ipc == "" {
		return benchkit.Usagef("-ipc is required")
	}
	dir, err := os.MkdirTemp("", "tarn-matprof-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	if err := os.MkdirAll(filepath.Join(dir, "warehouse"), 0o755); err != nil {
		return err
	}
	store, err := sqlstore.OpenSQLite(ctx, filepath.Join(dir, "catalog.db"))
	if err != nil {
		return err
	}
	cat, err := catalog.Open(ctx, store)
	if err != nil {
		return err
	}
	defer cat.Close()
	svc := table.NewService(cat, table.Config{Warehouse: filepath.Join(dir, "warehouse")})
	head, err := cat.BranchHead(ctx, tarn.DefaultBranch)
	if err != nil {
		return err
	}
	if cpuprofile != "" {
		f, err := os.Create(cpuprofile)
		if err != nil {
			return err
		}
		defer f.Close()
		pprof.StartCPUProfile(f)
		defer pprof.StopCPUProfile()
	}
	props := map[string]string{"tarn.model": "matprof"}
	if codec != "" {
		props["write.parquet.compression-codec"] = codec
	}
	for i := 0; i < runs; i++ {
		branch := fmt.Sprintf("run/matprof-%d", i)
		if _, err := cat.CreateRef(ctx, tarn.KindBranch, branch, head.Hash); err != nil {
			return err
		}
		ss, err := svc.OpenSession(ctx, branch)
		if err != nil {
			return err
		}
		start := time.Now()
		if _, err := svc.Materialize(ctx, ss, table.MaterializeRequest{Ident: tarn.TableIdent{Namespace: tarn.DefaultNamespace, Name: "out"},
			Path: ipc, Strategy: table.StrategyReplace, Properties: props}); err != nil {
			return err
		}
		mat := time.Since(start)
		c, err := ss.Flush(ctx, tarn.CommitInfo{Author: "matprof", Message: "matprof"})
		if err != nil {
			return err
		}
		if _, err := cat.Merge(ctx, tarn.MergeRequest{Source: branch, Into: tarn.DefaultBranch, Info: tarn.CommitInfo{Author: "matprof", Message: "merge"}}); err != nil {
			return err
		}
		head = c
		var size int64
		filepath.Walk(filepath.Join(dir, "warehouse"), func(p string, fi os.FileInfo, err error) error {
			if err == nil && !fi.IsDir() && filepath.Ext(p) == ".parquet" {
				size += fi.Size()
			}
			return nil
		})
		fmt.Printf("materialize %d: %.2fs (+ flush/merge %.2fs); Parquet in the warehouse: %.0f MB\n", i+1, mat.Seconds(), time.Since(start).Seconds()-mat.Seconds(), float64(size)/1e6)
	}
	return nil
}
