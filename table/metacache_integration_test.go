//go:build integration

package table_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/tarnhq/tarn"
	"github.com/tarnhq/tarn/internal/s3test"
	"github.com/tarnhq/tarn/table"
)

// TestMetadataCache_S3: planning a table of an S3 warehouse again, from
// another service sharing the metadata cache (a new engine of the same
// process), reads none of its metadata files from the bucket; a new
// version's files are read once, the old ones not again.
func TestMetadataCache_S3(t *testing.T) {
	bucket := s3test.Bucket(t)
	ctx := context.Background()
	dir := t.TempDir()
	meta := table.NewMetadataCache(0)
	cfg := table.Config{Warehouse: fmt.Sprintf("s3://%s/metacache-%d", bucket, time.Now().UnixNano()), CacheDir: filepath.Join(dir, "objects"), Metadata: meta}
	svc := newServiceWith(t, dir, cfg)
	ident := tarn.TableIdent{Namespace: tarn.DefaultNamespace, Name: "t"}
	if _, err := svc.Create(ctx, table.CreateRequest{Ident: ident, Branch: "main", Source: sourceOf(t, "id\n1\n2\n")}); err != nil {
		t.Fatal(err)
	}
	plan := func(svc *table.Service) *table.ScanPlan {
		t.Helper()
		p, err := svc.PlanScan(ctx, ident, "main", nil)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	first := plan(svc)
	st := meta.Stats()
	if st.Misses == 0 || st.Files == 0 {
		t.Fatalf("planning cached nothing: %+v", st)
	}
	// Another service on the same catalog and metadata cache.
	other := table.NewService(svc.Catalog(), cfg)
	again := plan(other)
	if st2 := meta.Stats(); st2.Misses != st.Misses || st2.Hits <= st.Hits {
		t.Errorf("planning again read the bucket: %+v before, %+v after", st, st2)
	}
	if len(again.Files) != len(first.Files) || again.Rows != 2 {
		t.Errorf("plans differ: %+v and %+v", first, again)
	}
	// A new version: its metadata file, manifest list and manifest are new.
	if _, err := svc.Import(ctx, table.ImportRequest{Ident: ident, Branch: "main", Source: sourceOf(t, "id\n3\n")}); err != nil {
		t.Fatal(err)
	}
	before := meta.Stats()
	if p := plan(other); p.Rows != 3 {
		t.Errorf("after an append the plan has %d rows, want 3 (a stale metadata file?)", p.Rows)
	}
	if after := meta.Stats(); after.Misses-before.Misses > 3 || after.Misses == before.Misses {
		t.Errorf("planning the new version missed %d times, want 1 to 3 (its own new files only)", after.Misses-before.Misses)
	}
}
