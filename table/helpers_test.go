package table_test

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/array"
	iceio "github.com/apache/iceberg-go/io"
	icetable "github.com/apache/iceberg-go/table"
	"github.com/tarnhq/tarn"
	"github.com/tarnhq/tarn/ingest"
	"github.com/tarnhq/tarn/table"
)

// sourceOf reads CSV text as an import source.
func sourceOf(t *testing.T, csv string) *ingest.Source {
	t.Helper()
	p := filepath.Join(t.TempDir(), "in.csv")
	if err := os.WriteFile(p, []byte(csv), 0o644); err != nil {
		t.Fatal(err)
	}
	src, err := table.ReadSource(context.Background(), []string{p}, 0)
	if err != nil {
		t.Fatal(err)
	}
	return src
}

// idsAt returns the sorted values of column id of a table at a ref.
func idsAt(t *testing.T, svc *table.Service, ref string, ident tarn.TableIdent) []int64 {
	t.Helper()
	ctx := context.Background()
	tbl, _, err := svc.Load(ctx, ident, ref)
	if err != nil {
		t.Fatal(err)
	}
	_, records, err := tbl.Scan(icetable.WithSelectedFields("id")).ToArrowRecords(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var ids []int64
	for rec, err := range records {
		if err != nil {
			t.Fatal(err)
		}
		col := rec.Column(0).(*array.Int64)
		for i := range col.Len() {
			ids = append(ids, col.Value(i))
		}
		rec.Release()
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	return ids
}

// unreferenced returns the files under the warehouse (lease files aside)
// that no table version of any commit reachable from a ref references:
// what a write left behind. It is the test's own walk, independent of
// garbage collection's.
func unreferenced(t *testing.T, svc *table.Service, warehouse string) []string {
	t.Helper()
	ctx := context.Background()
	cat := svc.Catalog()
	refs, err := cat.ListRefs(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	used := map[string]bool{}
	for _, r := range refs {
		commits, err := cat.Log(ctx, r.Name, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range commits {
			entries, _, err := cat.Entries(ctx, c)
			if err != nil {
				t.Fatal(err)
			}
			for key, e := range entries {
				if e.Kind != tarn.EntryTable || used[e.Metadata] {
					continue
				}
				used[e.Metadata] = true
				ns, name := tarn.ParseKey(key)
				tbl, err := icetable.NewFromLocation(ctx, icetable.Identifier{ns, name}, e.Metadata, iceio.LoadFSFunc(nil, e.Metadata), nil)
				if err != nil {
					t.Fatal(err)
				}
				fsys, err := tbl.FS(ctx)
				if err != nil {
					t.Fatal(err)
				}
				for _, snap := range tbl.Metadata().Snapshots() {
					used[snap.ManifestList] = true
					manifests, err := snap.Manifests(fsys)
					if err != nil {
						t.Fatal(err)
					}
					for _, m := range manifests {
						used[m.FilePath()] = true
						entries, err := m.FetchEntries(fsys, false)
						if err != nil {
							t.Fatal(err)
						}
						for _, me := range entries {
							used[me.DataFile().FilePath()] = true
						}
					}
				}
			}
		}
	}
	var out []string
	filepath.WalkDir(warehouse, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.Contains(p, "/.tarn/") {
			return err
		}
		if !used[p] && !used["file://"+p] {
			out = append(out, strings.TrimPrefix(p, warehouse+"/"))
		}
		return nil
	})
	return out
}
