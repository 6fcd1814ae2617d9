package main

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	"github.com/tarnhq/tarn"
	"github.com/tarnhq/tarn/bench/internal/benchkit"
	"github.com/tarnhq/tarn/local"
	"github.com/tarnhq/tarn/table"
)

// parts is how many data files each table has (one per id range), so
// that a range query prunes.
const parts = 4

// deletesBench makes two tables of the same rows: "deleted" holds all of
// them and position delete files removing every 100th id (as Spark's
// merge-on-read DELETE leaves), "compacted" only the remaining rows. It
// times tarn query over each, interleaved, and returns the figures and
// how many rows were deleted.
func deletesBench(ctx context.Context, dir string, rows, runs int) ([]queryFigures, int, error) {
	lh, err := local.Open(ctx, local.Config{Home: dir})
	if err != nil {
		return nil, 0, err
	}
	defer lh.Close()
	svc := lh.Services()
	create := func(name, sql string) error {
		for p := range parts {
			lo, hi := p*rows/parts, (p+1)*rows/parts
			file := filepath.Join(dir, fmt.Sprintf("%s-%d.parquet", name, p))
			if _, err := svc.Query.CopyTo(ctx, tarn.QueryRequest{SQL: fmt.Sprintf(sql, lo, hi), Ref: tarn.DefaultBranch}, "parquet", file); err != nil {
				return err
			}
			ident := tarn.TableIdent{Namespace: tarn.DefaultNamespace, Name: name}
			info := tarn.CommitInfo{Author: "bench", Message: "load " + name}
			if p == 0 {
				_, err = svc.Tables.CreateTable(ctx, tarn.CreateTableRequest{Table: ident, Branch: tarn.DefaultBranch, From: []string{file}, Info: info})
			} else {
				_, err = svc.Tables.ImportTable(ctx, tarn.ImportRequest{Table: ident, Branch: tarn.DefaultBranch, From: []string{file}, Info: info})
			}
			if err != nil {
				return err
			}
		}
		return nil
	}
	kit.Logf("deletes: writing %d rows", rows)
	const gen = "SELECT range AS id, range %% 1000 AS category, (range * 7919 %% 100003) / 100.0 AS amount, 'note ' || (range %% 97) AS note FROM range(%d, %d)"
	if err := create("deleted", gen); err != nil {
		return nil, 0, err
	}
	var ids []int64
	for id := int64(0); id < int64(rows); id += 100 {
		ids = append(ids, id)
	}
	kit.Logf("deletes: deleting %d rows with position delete files", len(ids))
	if _, err := lh.Tables().DeleteRows(ctx, table.DeleteRowsRequest{Ident: tarn.TableIdent{Namespace: tarn.DefaultNamespace, Name: "deleted"},
		Branch: tarn.DefaultBranch, Mode: table.DeletePositions, Column: "id", Values: ids, Info: tarn.CommitInfo{Author: "bench", Message: "delete 1%"}}); err != nil {
		return nil, 0, err
	}
	kit.Logf("deletes: writing the compacted table")
	if err := create("compacted", "SELECT * FROM deleted WHERE id >= %d AND id < %d"); err != nil {
		return nil, 0, err
	}
	plan, err := lh.Tables().PlanScan(ctx, tarn.TableIdent{Namespace: tarn.DefaultNamespace, Name: "deleted"}, tarn.DefaultBranch, nil)
	if err != nil {
		return nil, 0, err
	}
	queries := []string{
		"SELECT count(*), sum(amount) FROM %s",
		"SELECT category, count(*), avg(amount) FROM %s GROUP BY 1 ORDER BY 1 LIMIT 5",
		fmt.Sprintf("SELECT count(*), max(note) FROM %%s WHERE id BETWEEN %d AND %d", rows/8, rows/8+10000),
		"SELECT * FROM %s WHERE id = 4242",
	}
	var out []queryFigures
	for _, q := range queries {
		var onDeletes, onCompact []time.Duration
		var fig queryFigures
		for i := range runs + 1 {
			for _, name := range []string{"deleted", "compacted"} {
				start := time.Now()
				res, err := svc.Query.Query(ctx, tarn.QueryRequest{SQL: fmt.Sprintf(q, name), Ref: tarn.DefaultBranch})
				if err != nil {
					return nil, 0, fmt.Errorf("%s: %w", fmt.Sprintf(q, name), err)
				}
				for res.Records.Next() {
				}
				err = res.Records.Err()
				res.Close()
				if err != nil {
					return nil, 0, err
				}
				took := time.Since(start)
				if i == 0 {
					continue // warm-up: the files' pages, DuckDB's pool
				}
				if name == "deleted" {
					onDeletes = append(onDeletes, took)
					fig.Planned, fig.Total = res.Tables[0].FilesPlanned, res.Tables[0].FilesTotal
				} else {
					onCompact = append(onCompact, took)
				}
			}
		}
		fig.Query = fmt.Sprintf(q, "t")
		fig.DeletesMs, fig.CompactMs = benchkit.Ms(benchkit.Median(onDeletes)), benchkit.Ms(benchkit.Median(onCompact))
		fig.Ratio = fig.DeletesMs / fig.CompactMs
		fig.DeleteFiles = plan.DeleteFiles
		kit.Logf("deletes: %s: %.1f vs %.1f ms", fig.Query, fig.DeletesMs, fig.CompactMs)
		out = append(out, fig)
	}
	return out, len(ids), nil
}
