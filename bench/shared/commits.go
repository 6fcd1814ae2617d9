package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"time"

	"github.com/tarnhq/tarn"
	"github.com/tarnhq/tarn/bench/internal/benchkit"
	"github.com/tarnhq/tarn/catalog"
	"github.com/tarnhq/tarn/catalog/sqlstore"
	"github.com/tarnhq/tarn/postgres"
)

// storeLatency is the commit latency of one store.
type storeLatency struct {
	Store   string    `json:"store"`
	P50ms   float64   `json:"p50_ms"`
	P99ms   float64   `json:"p99_ms"`
	MeanMs  float64   `json:"mean_ms"`
	Samples []float64 `json:"samples_ms"`
}

type commitFigure struct {
	Commits  int          `json:"commits"`
	Block    int          `json:"block"`
	Tables   int          `json:"tables"`
	SQLite   storeLatency `json:"sqlite"`
	Postgres storeLatency `json:"postgres"`
	RatioP50 float64      `json:"ratio_p50"`
	RatioP99 float64      `json:"ratio_p99"`
}

// commitLatency times single-table commits through catalog.Catalog, as a
// table write makes them, on SQLite (the embedded store: WAL,
// synchronous=FULL) and on PostgreSQL (one transaction, fsync on), in
// alternating blocks.
func commitLatency(ctx context.Context, cfg config, tmp string) (*commitFigure, error) {
	sqlite, err := sqlstore.OpenSQLite(ctx, filepath.Join(tmp, "catalog.db"))
	if err != nil {
		return nil, err
	}
	dsn, err := schemaURL(cfg.postgres, "commits")
	if err != nil {
		return nil, err
	}
	db, err := postgres.Open(ctx, dsn)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	stores := []struct {
		name string
		cat  *catalog.Catalog
		ms   []float64
	}{{name: "SQLite (embedded)"}, {name: "PostgreSQL (" + db.Where() + ")"}}
	for i, store := range []catalog.Store{sqlite, db.Catalog()} {
		if stores[i].cat, err = catalog.Open(ctx, store); err != nil {
			return nil, err
		}
		defer stores[i].cat.Close()
	}
	keys := make([]string, cfg.tables)
	everyTable := map[string]*tarn.Entry{}
	for i := range keys {
		keys[i] = tarn.TableIdent{Namespace: tarn.DefaultNamespace, Name: fmt.Sprintf("t%05d", i)}.Key()
		everyTable[keys[i]] = &tarn.Entry{Kind: tarn.EntryTable, Metadata: fmt.Sprintf("file:///bench/%d/v0.metadata.json", i)}
	}
	n := 0
	commit := func(cat *catalog.Catalog, changes map[string]*tarn.Entry) (time.Duration, error) {
		started := time.Now()
		_, err := cat.Commit(ctx, catalog.CommitRequest{Branch: tarn.DefaultBranch, Changes: changes,
			Info: tarn.CommitInfo{Author: "bench", Message: fmt.Sprintf("commit %d", n)}})
		return time.Since(started), err
	}
	one := func() map[string]*tarn.Entry {
		n++
		key := keys[rand.IntN(len(keys))]
		return map[string]*tarn.Entry{key: {Kind: tarn.EntryTable, Metadata: fmt.Sprintf("file:///bench/%s/v%d.metadata.json", key, n)}}
	}
	kit.Logf("commits: %d tables in each catalog, then %d warm-up commits", cfg.tables, 20)
	for _, s := range stores {
		if _, err := commit(s.cat, everyTable); err != nil {
			return nil, err
		}
		for range 20 {
			if _, err := commit(s.cat, one()); err != nil {
				return nil, err
			}
		}
	}
	for block := 0; len(stores[1].ms) < cfg.commits; block++ {
		for k := range stores {
			s := &stores[(k+block)%2] // the order flips every block
			for range min(cfg.block, cfg.commits-len(s.ms)) {
				d, err := commit(s.cat, one())
				if err != nil {
					return nil, err
				}
				s.ms = append(s.ms, benchkit.Ms(d))
			}
		}
		if block%5 == 4 {
			kit.Logf("commits: %d of %d on each store", len(stores[1].ms), cfg.commits)
		}
	}
	latency := func(name string, ms []float64) storeLatency {
		sum := 0.0
		for _, x := range ms {
			sum += x
		}
		return storeLatency{Store: name, P50ms: benchkit.Median(ms), P99ms: benchkit.Percentile(ms, 0.99), MeanMs: sum / float64(len(ms)), Samples: ms}
	}
	f := &commitFigure{Commits: cfg.commits, Block: cfg.block, Tables: cfg.tables,
		SQLite: latency(stores[0].name, stores[0].ms), Postgres: latency(stores[1].name, stores[1].ms)}
	f.RatioP50, f.RatioP99 = f.Postgres.P50ms/f.SQLite.P50ms, f.Postgres.P99ms/f.SQLite.P99ms
	kit.Logf("commits: SQLite p50 %.2f ms p99 %.2f ms; PostgreSQL p50 %.2f ms p99 %.2f ms", f.SQLite.P50ms, f.SQLite.P99ms, f.Postgres.P50ms, f.Postgres.P99ms)
	return f, nil
}
