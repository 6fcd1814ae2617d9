package cache_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tarnhq/tarn/cache"
)

func key(c byte) string { return strings.Repeat(string(c), 64) }

func put(t *testing.T, s *cache.Store, k string, size int) *cache.Entry {
	t.Helper()
	src := filepath.Join(t.TempDir(), "out.arrow")
	os.WriteFile(src, []byte(strings.Repeat("x", size)), 0o644)
	e, err := s.Put(cache.Meta{Key: k, Kind: cache.KindStep, Name: "m", Rows: 3, Seconds: 1.5}, src)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func TestStore_PutGetCorruptGC(t *testing.T) {
	s, err := cache.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if e, err := s.Get(key('a')); e != nil || err != nil {
		t.Fatalf("empty cache: %v %v", e, err)
	}
	if _, err := s.Get("../../etc"); err == nil {
		t.Fatal("a key outside the cache was accepted")
	}
	put(t, s, key('a'), 100)
	e, err := s.Get(key('a'))
	if err != nil || e == nil || e.Rows != 3 || e.Bytes != 100 || e.Seconds != 1.5 {
		t.Fatalf("get: %+v %v", e, err)
	}
	if b, _ := os.ReadFile(e.Path()); len(b) != 100 {
		t.Fatalf("data: %d bytes", len(b))
	}
	if err := s.SetTables(key('a'), "ns.t", cache.Files{Paths: []string{"/w/ns/t/data/f.parquet"}, FieldIDs: map[string]int{"x": 1}}); err != nil {
		t.Fatal(err)
	}
	if e, _ := s.Get(key('a')); e.Tables["ns.t"].FieldIDs["x"] != 1 {
		t.Fatalf("tables: %+v", e.Tables)
	}
	// A flipped byte is detected, the entry removed and reported as corrupt.
	os.WriteFile(e.Path(), []byte(strings.Repeat("x", 99)+"y"), 0o644)
	if e, err := s.Get(key('a')); e != nil || !errors.Is(err, cache.ErrCorrupt) {
		t.Fatalf("corrupt entry served: %v %v", e, err)
	}
	if e, err := s.Get(key('a')); e != nil || err != nil {
		t.Fatalf("corrupt entry not removed: %v %v", e, err)
	}
	// A half-built entry (a temporary directory of a dead process) is never
	// served and is swept.
	os.MkdirAll(filepath.Join(s.Dir(), "tmp", "999999999-dead", "x"), 0o755)
	// LRU: b is used after c, so c goes first.
	put(t, s, key('b'), 1000)
	put(t, s, key('c'), 1000)
	old := time.Now().Add(-time.Hour)
	os.Chtimes(filepath.Join(s.EntriesDir(), "bb", key('b'), "used"), old, old)
	os.Chtimes(filepath.Join(s.EntriesDir(), "cc", key('c'), "used"), old.Add(-time.Minute), old.Add(-time.Minute))
	removed, err := s.GC(1500, time.Minute)
	if err != nil || len(removed) != 1 || removed[0].Key != key('c') {
		t.Fatalf("gc removed %v (%v)", removed, err)
	}
	if _, err := os.Stat(filepath.Join(s.Dir(), "tmp", "999999999-dead")); !os.IsNotExist(err) {
		t.Fatal("temporary directory of a dead process kept")
	}
	// Recently used entries are spared even over the limit.
	put(t, s, key('d'), 1000)
	if removed, _ := s.GC(0, time.Minute); len(removed) != 1 || removed[0].Key != key('b') {
		t.Fatalf("gc under keep removed %v", removed)
	}
	st, _ := s.Stats(0)
	if st.Entries != 1 || st.Bytes != 1000 {
		t.Fatalf("stats %+v", st)
	}
	if n, err := s.Clear(); n != 1 || err != nil {
		t.Fatalf("clear: %d %v", n, err)
	}
}

func TestStore_Adopt(t *testing.T) {
	s, _ := cache.Open(t.TempDir())
	tmp, err := s.TempFile("scan.arrow")
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(tmp, []byte("hello"), 0o644)
	e, err := s.Adopt(cache.Meta{Key: key('e'), Kind: cache.KindScan, Name: "ns.t"}, tmp)
	if err != nil || e.Bytes != 5 {
		t.Fatalf("adopt: %+v %v", e, err)
	}
	if got, err := s.Get(key('e')); err != nil || got == nil || got.Kind != cache.KindScan {
		t.Fatalf("get adopted: %+v %v", got, err)
	}
}
