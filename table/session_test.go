package table_test

import (
	"context"
	"path/filepath"
	"testing"

	icecat "github.com/apache/iceberg-go/catalog"
	"github.com/apache/iceberg-go/catalog/catalogtest"
	"github.com/tarnhq/tarn"
	"github.com/tarnhq/tarn/catalog"
	"github.com/tarnhq/tarn/catalog/sqlstore"
	"github.com/tarnhq/tarn/table"
)

func newService(t *testing.T) *table.Service {
	t.Helper()
	return newServiceAt(t, t.TempDir())
}

// newServiceAt makes a service whose catalog and warehouse are in dir.
func newServiceAt(t *testing.T, dir string) *table.Service {
	t.Helper()
	return newServiceWith(t, dir, table.Config{Warehouse: filepath.Join(dir, "warehouse")})
}

// newServiceWith makes a service whose catalog is in dir, configured.
func newServiceWith(t *testing.T, dir string, cfg table.Config, opts ...catalog.Option) *table.Service {
	t.Helper()
	ctx := context.Background()
	store, err := sqlstore.OpenSQLite(ctx, filepath.Join(dir, "catalog.db"))
	if err != nil {
		t.Fatal(err)
	}
	cat, err := catalog.Open(ctx, store, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cat.Close() })
	return table.NewService(cat, cfg)
}

// TestSession_IcebergConformance runs iceberg-go's own catalog conformance
// suite against a branch session in auto-flush mode (every change is a
// commit), the mode an Iceberg REST endpoint over a branch would use.
func TestSession_IcebergConformance(t *testing.T) {
	catalogtest.RunCatalogTests(t, catalogtest.Config{
		SupportsNamespaceProperties: true,
		NewCatalog: func(t *testing.T) icecat.Catalog {
			svc := newService(t)
			ss, err := svc.OpenSession(context.Background(), tarn.DefaultBranch)
			if err != nil {
				t.Fatal(err)
			}
			ss.SetAutoFlush(tarn.CommitInfo{Author: "conformance", Message: "iceberg catalog change"})
			return ss
		},
	})
}

// TestSession_ReadOnly: a session at a commit reads it and refuses every
// write before writing anything.
func TestSession_ReadOnly(t *testing.T) {
	ctx := context.Background()
	svc := newService(t)
	head, err := svc.Catalog().Resolve(ctx, tarn.DefaultBranch)
	if err != nil {
		t.Fatal(err)
	}
	ss := svc.ReadSession(head, "tag v1")
	if ok, err := ss.CheckNamespaceExists(ctx, []string{tarn.DefaultNamespace}); err != nil || !ok {
		t.Fatalf("default namespace at the commit: %v %v", ok, err)
	}
	for name, write := range map[string]func() error{
		"create namespace": func() error { return ss.CreateNamespace(ctx, []string{"x"}, nil) },
		"drop namespace":   func() error { return ss.DropNamespace(ctx, []string{tarn.DefaultNamespace}) },
		"commit":           func() error { _, _, err := ss.CommitTable(ctx, []string{"tarn", "t"}, nil, nil); return err },
		"drop table":       func() error { return ss.DropTable(ctx, []string{"tarn", "t"}) },
	} {
		if err := write(); !tarn.IsCode(err, tarn.EFORBIDDEN) {
			t.Errorf("%s on a read-only session: %v", name, err)
		}
	}
}

// TestNewService_MetadataMax: a service given no metadata cache reads
// through the process's cache of its configured bound.
func TestNewService_MetadataMax(t *testing.T) {
	dir := t.TempDir()
	svc := newServiceWith(t, dir, table.Config{Warehouse: filepath.Join(dir, "wh"), MetadataMax: 7 << 20})
	if got := svc.MetadataCache(); got != table.ProcessMetadataCache(7<<20) || got.Stats().MaxBytes != 7<<20 {
		t.Fatalf("metadata cache of bound %d, want the process's of 7 MiB", got.Stats().MaxBytes)
	}
}
