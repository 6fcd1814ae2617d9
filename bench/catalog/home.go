package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/tarnhq/tarn"
	"github.com/tarnhq/tarn/catalog"
	"github.com/tarnhq/tarn/catalog/sqlstore"
	"github.com/tarnhq/tarn/table"
)

// home is one embedded lakehouse, opened exactly as the CLI opens one.
type home struct {
	dir    string
	store  *sqlstore.Store
	cat    *catalog.Catalog
	tables *table.Service
}

func openHome(ctx context.Context, dir string) (*home, error) {
	if err := os.MkdirAll(filepath.Join(dir, "warehouse"), 0o755); err != nil {
		return nil, err
	}
	store, err := sqlstore.OpenSQLite(ctx, filepath.Join(dir, "catalog.db"))
	if err != nil {
		return nil, err
	}
	cat, err := catalog.Open(ctx, store)
	if err != nil {
		store.Close()
		return nil, err
	}
	return &home{
		dir:    dir,
		store:  store,
		cat:    cat,
		tables: table.NewService(cat, table.Config{Warehouse: filepath.Join(dir, "warehouse")}),
	}, nil
}

func (h *home) close() { h.cat.Close() }

var benchInfo = tarn.CommitInfo{Author: "bench", Message: "bench"}

// tableKey is the catalog key of fake table i.
func tableKey(i int) string { return fmt.Sprintf("%s.t%05d", tarn.DefaultNamespace, i) }

// fakeEntry is a table entry whose metadata location is made up: the
// catalog stores pointers and never reads them.
func fakeEntry(table, version int) *tarn.Entry {
	return &tarn.Entry{
		Kind:     tarn.EntryTable,
		Metadata: fmt.Sprintf("file:///bench/warehouse/tarn/t%05d/metadata/%05d-6f1c2a9e-%08x.metadata.json", table, version, table*7919+version),
		Snapshot: int64(table)<<20 + int64(version),
		Rows:     int64(1000 + version),
		Files:    int64(1 + version),
		Bytes:    int64(1<<20 + version),
	}
}

// fill adds tables 0..n-1 to main in commits of at most chunk changes.
func (h *home) fill(ctx context.Context, n, chunk int) error {
	for start := 0; start < n; start += chunk {
		changes := make(map[string]*tarn.Entry, chunk)
		for i := start; i < min(n, start+chunk); i++ {
			changes[tableKey(i)] = fakeEntry(i, 0)
		}
		info := tarn.CommitInfo{Author: "bench", Message: fmt.Sprintf("add tables %d..%d", start, min(n, start+chunk)-1)}
		if _, err := h.cat.Commit(ctx, catalog.CommitRequest{Branch: tarn.DefaultBranch, Changes: changes, Info: info}); err != nil {
			return err
		}
	}
	return nil
}

// createBranch times one CreateRef of a new branch from main.
func (h *home) createBranch(ctx context.Context, name string) (time.Duration, error) {
	return timed(func() error {
		_, err := h.cat.CreateRef(ctx, tarn.KindBranch, name, tarn.DefaultBranch)
		return err
	})
}
