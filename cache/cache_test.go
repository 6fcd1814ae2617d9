package cache_test

import (
	"errors"
	"fmt"
	"math/rand"
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

// sum64 is cache.Sum64File's algorithm, written plainly: the bytes as
// little-endian 64-bit words, the last zero-padded, added modulo 2^64.
func sum64(b []byte) string {
	var total uint64
	for i := 0; i < len(b); i += 8 {
		var w uint64
		for j := 0; j < 8 && i+j < len(b); j++ {
			w |= uint64(b[i+j]) << (8 * j)
		}
		total += w
	}
	return fmt.Sprintf("sum64:%016x", total)
}

func TestSum64File(t *testing.T) {
	for _, n := range []int{0, 1, 7, 8, 9, 1<<20 - 3, 1<<20 + 11, 3 << 20} {
		b := make([]byte, n)
		rand.New(rand.NewSource(int64(n))).Read(b)
		path := filepath.Join(t.TempDir(), "f")
		os.WriteFile(path, b, 0o644)
		got, err := cache.Sum64File(path)
		if err != nil || got != sum64(b) {
			t.Fatalf("%d bytes: %s %v, want %s", n, got, err, sum64(b))
		}
	}
}

// TestStore_WriterChecksum: an entry stored with the checksum its writer
// computed is not read to store it, and is verified with that algorithm.
func TestStore_WriterChecksum(t *testing.T) {
	s, _ := cache.Open(t.TempDir())
	src := filepath.Join(t.TempDir(), "out.arrow")
	data := []byte(strings.Repeat("tarn", 1000))
	os.WriteFile(src, data, 0o644)
	if _, err := s.Put(cache.Meta{Key: key('a'), Kind: cache.KindStep, Name: "m", Checksum: sum64(data)}, src); err != nil {
		t.Fatal(err)
	}
	if e, err := s.Get(key('a')); err != nil || e == nil || e.Checksum != sum64(data) {
		t.Fatalf("get: %+v %v", e, err)
	}
	// A wrong checksum from the writer is caught on the first hit.
	os.WriteFile(src, data, 0o644)
	if _, err := s.Put(cache.Meta{Key: key('b'), Kind: cache.KindStep, Name: "m", Checksum: "sum64:0000000000000001"}, src); err != nil {
		t.Fatal(err)
	}
	if e, err := s.Get(key('b')); e != nil || !errors.Is(err, cache.ErrCorrupt) {
		t.Fatalf("wrong checksum served: %v %v", e, err)
	}
}

// TestStore_LargeEntriesTrustedByFingerprint: a large entry is not read
// on a hit while its file is the one verified; any change of the file
// (size, modification time, inode) makes the next hit verify it again.
func TestStore_LargeEntriesTrustedByFingerprint(t *testing.T) {
	s, _ := cache.Open(t.TempDir())
	src := filepath.Join(t.TempDir(), "out.arrow")
	f, _ := os.Create(src)
	f.Truncate(cache.TrustAbove) // sparse: zeros
	f.Close()
	if _, err := s.Put(cache.Meta{Key: key('a'), Kind: cache.KindStep, Name: "m"}, src); err != nil {
		t.Fatal(err)
	}
	e, err := s.Get(key('a'))
	if err != nil || e == nil || e.Verified == nil {
		t.Fatalf("get: %+v %v", e, err)
	}
	// Corrupt it behind the cache's back but put the modification time
	// back: trusted, so served without a read (this is the trade-off).
	st, _ := os.Stat(e.Path())
	flip := func() {
		f, _ := os.OpenFile(e.Path(), os.O_WRONLY, 0)
		f.WriteAt([]byte{1}, 12345)
		f.Close()
	}
	flip()
	os.Chtimes(e.Path(), st.ModTime(), st.ModTime())
	if e, err := s.Get(key('a')); err != nil || e == nil {
		t.Fatalf("trusted entry not served: %v %v", e, err)
	}
	// A changed modification time: verified again, and the flip found.
	flip()
	later := st.ModTime().Add(time.Second)
	os.Chtimes(e.Path(), later, later)
	if e, err := s.Get(key('a')); e != nil || !errors.Is(err, cache.ErrCorrupt) {
		t.Fatalf("changed large entry served: %v %v", e, err)
	}
}

// TestStore_Reserve: room is made by removing least-recently-used entries
// outside keep, and refused when it cannot be made.
func TestStore_Reserve(t *testing.T) {
	s, _ := cache.Open(t.TempDir())
	put(t, s, key('a'), 1000)
	put(t, s, key('b'), 1000)
	old := time.Now().Add(-time.Hour)
	os.Chtimes(filepath.Join(s.EntriesDir(), "aa", key('a'), "used"), old, old)
	os.Chtimes(filepath.Join(s.EntriesDir(), "bb", key('b'), "used"), old.Add(time.Minute), old.Add(time.Minute))
	if ok, err := s.Reserve(0, 1<<40, 0); !ok || err != nil {
		t.Fatalf("no limit: %v %v", ok, err)
	}
	if ok, err := s.Reserve(2500, 5000, 0); ok || err != nil || !s.Has(key('a')) {
		t.Fatalf("more than the limit: %v %v, a kept %v", ok, err, s.Has(key('a')))
	}
	if ok, err := s.Reserve(2500, 1000, time.Minute); !ok || err != nil || s.Has(key('a')) || !s.Has(key('b')) {
		t.Fatalf("reserve 1000 of 2500 with 2000 used: %v %v, a %v b %v", ok, err, s.Has(key('a')), s.Has(key('b')))
	}
	// Entries used within keep are spared: no room.
	put(t, s, key('c'), 1000)
	if ok, err := s.Reserve(2500, 1000, time.Hour); ok || err != nil || !s.Has(key('c')) {
		t.Fatalf("reserve within keep: %v %v", ok, err)
	}
}
