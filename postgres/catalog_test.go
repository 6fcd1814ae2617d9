//go:build integration

package postgres_test

import (
	"context"
	"sync"
	"testing"

	"github.com/tarnhq/tarn"
	"github.com/tarnhq/tarn/catalog"
	"github.com/tarnhq/tarn/catalog/catalogtest"
	"github.com/tarnhq/tarn/postgres"
)

func TestCatalogStore_Conformance(t *testing.T) {
	catalogtest.Run(t, func(t *testing.T) catalog.Store {
		db := openDB(t)
		return db.Catalog()
	})
}

// TestOpen_ManyAtOnce: servers that start together on an empty database
// create tarn's tables and the lakehouse once; all of them see one main.
func TestOpen_ManyAtOnce(t *testing.T) {
	dsn := testDSN(t)
	ctx := context.Background()
	const servers = 6
	heads := make([]string, servers)
	errs := make([]error, servers)
	var wg sync.WaitGroup
	for i := range servers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			db, err := postgres.Open(ctx, dsn)
			if err != nil {
				errs[i] = err
				return
			}
			defer db.Close()
			cat, err := catalog.Open(ctx, db.Catalog())
			if err != nil {
				errs[i] = err
				return
			}
			defer cat.Close()
			head, err := cat.Resolve(ctx, tarn.DefaultBranch)
			if err == nil {
				heads[i] = head.Hash
			}
			errs[i] = err
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("server %d: %v", i, err)
		}
		if heads[i] != heads[0] {
			t.Fatalf("server %d sees main at %s, server 0 at %s", i, heads[i], heads[0])
		}
	}
}

// TestDB_Claim: the first value claimed for a key stays.
func TestDB_Claim(t *testing.T) {
	db := openDB(t)
	ctx := context.Background()
	for _, tc := range []struct{ value, want string }{{"/a", "/a"}, {"/b", "/a"}} {
		got, err := db.Claim(ctx, "warehouse", tc.value)
		if err != nil || got != tc.want {
			t.Fatalf("Claim(%q) = %q, %v; want %q", tc.value, got, err, tc.want)
		}
	}
}
