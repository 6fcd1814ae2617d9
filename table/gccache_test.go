package table

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tarnhq/tarn"
)

func TestTrimCacheTier(t *testing.T) {
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	entry := func(key string, bytes int64, age time.Duration, whole bool) []tarn.GCFile {
		dir := CacheTierDir + "/entries/" + key[:2] + "/" + key + "/"
		files := []tarn.GCFile{{Path: dir + "data.arrow", Bytes: bytes, Modified: now.Add(-age - time.Second)}}
		if whole {
			files = append(files, tarn.GCFile{Path: dir + "meta.json", Bytes: 100, Modified: now.Add(-age)})
		}
		return files
	}
	used := func(key string, ago time.Duration) tarn.GCFile {
		return tarn.GCFile{Path: CacheTierDir + "/entries/" + key[:2] + "/" + key + "/used", Modified: now.Add(-ago)}
	}
	tier := slices.Concat(
		entry("aa01", 1000, 3*time.Hour, true), // oldest
		entry("bb02", 1000, 2*time.Hour, true),
		entry("cc03", 1000, time.Hour, true),        // newest
		entry("dd04", 5000, 10*24*time.Hour, false), // a killed upload, old
		entry("ee05", 5000, time.Minute, false),     // an upload in progress
		entry("ff06", 1000, 30*time.Hour, true),     // written long ago, used a minute ago
		[]tarn.GCFile{used("ff06", time.Minute)},
		entry("gg07", 1000, 40*time.Hour, true), // used before its last write (an entry shared again)
		[]tarn.GCFile{used("gg07", 50*time.Hour)},
		[]tarn.GCFile{used("hh08", 9*24*time.Hour)}, // a use recorded after the entry went, old
	)
	removedDirs := func(files []tarn.GCFile) []string {
		var out []string
		for _, f := range files {
			if d := filepath.Base(filepath.Dir(f.Path)); !slices.Contains(out, d) {
				out = append(out, d)
			}
		}
		slices.Sort(out)
		return out
	}
	for _, tc := range []struct {
		name string
		max  int64
		want []string
	}{
		{"UnderBound", 1 << 20, []string{"dd04", "hh08"}},
		{"LeastRecentlyUsedFirst", 5000 + 3*1100, []string{"aa01", "dd04", "gg07", "hh08"}},
		{"AllComplete", 5000, []string{"aa01", "bb02", "cc03", "dd04", "ff06", "gg07", "hh08"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rep, removed := trimCacheTier(tier, tc.max, now.Add(-7*24*time.Hour))
			if got := removedDirs(removed); !slices.Equal(got, tc.want) {
				t.Errorf("removed %v, want %v", got, tc.want)
			}
			if rep.Entries != 5 || rep.Incomplete != 3 || rep.Bytes != 5*1100+10000 || rep.RemovedEntries != len(tc.want) {
				t.Errorf("report %+v", rep)
			}
			var bytes int64
			for _, f := range removed {
				bytes += f.Bytes
			}
			if bytes != rep.RemovedBytes || rep.Bytes-rep.RemovedBytes > tc.max && len(tc.want) < 7 {
				t.Errorf("removed %d bytes, report says %d; %d left over the bound %d", bytes, rep.RemovedBytes, rep.Bytes-rep.RemovedBytes, tc.max)
			}
		})
	}
}

// orderStore records the order of removals.
type orderStore struct {
	localStore
	calls [][]string
}

func (o *orderStore) remove(ctx context.Context, rels []string) []string {
	o.calls = append(o.calls, slices.Clone(rels))
	return o.localStore.remove(ctx, rels)
}

func TestRemoveCacheEntries_ManifestFirst(t *testing.T) {
	dir := t.TempDir()
	var files []tarn.GCFile
	for _, key := range []string{"aa01", "bb02"} {
		for _, name := range []string{"data.arrow", "meta.json"} {
			rel := CacheTierDir + "/entries/" + key[:2] + "/" + key + "/" + name
			os.MkdirAll(filepath.Join(dir, filepath.Dir(rel)), 0o755)
			os.WriteFile(filepath.Join(dir, rel), []byte("x"), 0o644)
			files = append(files, tarn.GCFile{Path: rel})
		}
	}
	store := &orderStore{localStore: localStore(dir)}
	if failed := removeCacheEntries(context.Background(), store, files); len(failed) > 0 {
		t.Fatal(failed)
	}
	if len(store.calls) != 2 {
		t.Fatalf("%d removal calls, want 2 (manifests, then data)", len(store.calls))
	}
	for _, p := range store.calls[0] {
		if !strings.HasSuffix(p, "/meta.json") {
			t.Errorf("first removal has %s: every meta.json must go before any data", p)
		}
	}
	for _, p := range store.calls[1] {
		if strings.HasSuffix(p, "/meta.json") {
			t.Errorf("second removal has %s", p)
		}
	}
	for _, f := range files {
		if _, err := os.Stat(filepath.Join(dir, f.Path)); !os.IsNotExist(err) {
			t.Errorf("%s is still there", f.Path)
		}
	}
}
