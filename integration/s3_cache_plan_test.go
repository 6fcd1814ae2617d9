//go:build integration

package integration

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	root "github.com/tarnhq/tarn"
	"github.com/tarnhq/tarn/catalog"
	"github.com/tarnhq/tarn/catalog/sqlstore"
	"github.com/tarnhq/tarn/ingest"
	"github.com/tarnhq/tarn/query"
	"github.com/tarnhq/tarn/table"
)

// TestS3_CacheEvictedUnderCachedPlan: an engine reuses its plan of a
// table in the bucket; when the local copies that plan names are gone
// (evicted by another server sharing the folder), the next query
// downloads them again and says so, instead of failing in DuckDB.
func TestS3_CacheEvictedUnderCachedPlan(t *testing.T) {
	ctx := context.Background()
	wh := s3Warehouse(t)
	dir := t.TempDir()
	store, err := sqlstore.OpenSQLite(ctx, filepath.Join(dir, "catalog.db"))
	if err != nil {
		t.Fatal(err)
	}
	cat, err := catalog.Open(ctx, store)
	if err != nil {
		t.Fatal(err)
	}
	defer cat.Close()
	cacheDir := filepath.Join(dir, "objects")
	svc := table.NewService(cat, table.Config{Warehouse: wh, CacheDir: cacheDir})
	var csv strings.Builder
	csv.WriteString("id,name\n")
	for i := range 1000 {
		fmt.Fprintf(&csv, "%d,n%d\n", i, i%7)
	}
	src := filepath.Join(dir, "t.csv")
	if err := os.WriteFile(src, []byte(csv.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	files, err := ingest.Expand([]string{src})
	if err != nil {
		t.Fatal(err)
	}
	in, err := ingest.Infer(ctx, files)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Create(ctx, table.CreateRequest{Ident: root.TableIdent{Namespace: root.DefaultNamespace, Name: "t"},
		Branch: root.DefaultBranch, Source: in, Info: root.CommitInfo{Author: "test", Message: "create t"}}); err != nil {
		t.Fatal(err)
	}
	engine := query.New(svc, query.Options{})
	defer engine.Close()
	run := func() (string, root.QueryTableStats) {
		t.Helper()
		res, err := engine.Run(ctx, query.Request{SQL: "SELECT count(*), sum(id) FROM t"})
		if err != nil {
			t.Fatal(err)
		}
		defer res.Close()
		var out []string
		for res.Records.Next() {
			rec := res.Records.RecordBatch()
			for c := range int(rec.NumCols()) {
				out = append(out, rec.Column(c).ValueStr(0))
			}
		}
		if err := res.Records.Err(); err != nil {
			t.Fatal(err)
		}
		return strings.Join(out, " "), res.Tables[0]
	}
	want := "1000 499500"
	if got, stats := run(); got != want || stats.DownloadedFiles == 0 {
		t.Fatalf("cold: %q, downloaded %d files", got, stats.DownloadedFiles)
	}
	if got, stats := run(); got != want || stats.DownloadedFiles != 0 {
		t.Fatalf("warm: %q, downloaded %d files", got, stats.DownloadedFiles)
	}
	if err := os.RemoveAll(cacheDir); err != nil {
		t.Fatal(err)
	}
	got, stats := run() // the same cached plan, its copies gone
	if got != want || stats.DownloadedFiles == 0 || stats.DownloadedBytes == 0 {
		t.Fatalf("after eviction: %q, downloaded %d files (%d bytes)", got, stats.DownloadedFiles, stats.DownloadedBytes)
	}
}
