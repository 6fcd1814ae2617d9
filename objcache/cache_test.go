package objcache_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/tarnhq/tarn/objcache"
)

// store is a Fetcher over objects held in memory, by location; short
// and fail change what it sends for a location.
type store struct {
	mu      sync.Mutex
	objects map[string][]byte
	short   map[string]bool // write all but the last byte and report success
	fail    map[string]bool // write half, then fail
	calls   atomic.Int64
	delay   time.Duration
}

func newStore() *store {
	return &store{objects: map[string][]byte{}, short: map[string]bool{}, fail: map[string]bool{}}
}

func (s *store) put(loc string, size int) objcache.Object {
	b := make([]byte, size)
	for i := range b {
		b[i] = byte(i*7 + len(loc))
	}
	s.mu.Lock()
	s.objects[loc] = b
	s.mu.Unlock()
	return objcache.Object{Location: loc, Size: int64(size)}
}

func (s *store) Fetch(ctx context.Context, loc string, size int64, w io.WriterAt) error {
	s.calls.Add(1)
	time.Sleep(s.delay)
	s.mu.Lock()
	b, ok := s.objects[loc]
	short, fail := s.short[loc], s.fail[loc]
	s.mu.Unlock()
	if !ok {
		return fmt.Errorf("no object %s", loc)
	}
	switch {
	case short:
		_, err := w.WriteAt(b[:len(b)-1], 0)
		return err
	case fail:
		if _, err := w.WriteAt(b[:len(b)/2], 0); err != nil {
			return err
		}
		return errors.New("connection reset")
	}
	// Two halves, the second first: offsets matter.
	half := len(b) / 2
	if _, err := w.WriteAt(b[half:], int64(half)); err != nil {
		return err
	}
	_, err := w.WriteAt(b[:half], 0)
	return err
}

func open(t *testing.T, opts objcache.Options) *objcache.Cache {
	t.Helper()
	c, err := objcache.Open(t.TempDir(), opts)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// files lists the cache folder's files (entries and temporary files).
func files(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			out = append(out, p)
		}
		return nil
	})
	return out
}

// age sets the last use of loc's entry to ago before now.
func age(t *testing.T, c *objcache.Cache, loc string, ago time.Duration) {
	t.Helper()
	when := time.Now().Add(-ago)
	if err := os.Chtimes(c.Path(loc), when, when); err != nil {
		t.Fatal(err)
	}
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

func TestCache_Get(t *testing.T) {
	t.Run("OK", func(t *testing.T) {
		s := newStore()
		obj := s.put("s3://b/t/data/a.parquet", 1000)
		c := open(t, objcache.Options{})
		p, release, downloaded, err := c.Get(context.Background(), obj, s)
		if err != nil {
			t.Fatal(err)
		}
		release()
		got, err := os.ReadFile(p)
		if err != nil || !bytes.Equal(got, s.objects[obj.Location]) || !downloaded {
			t.Fatalf("first get: downloaded %v, err %v, same bytes %v", downloaded, err, bytes.Equal(got, s.objects[obj.Location]))
		}
		if filepath.Ext(p) != ".parquet" || !strings.HasPrefix(p, c.Dir()) {
			t.Fatalf("entry path %s", p)
		}
		p2, release, downloaded, err := c.Get(context.Background(), obj, s)
		if err != nil || p2 != p || downloaded || s.calls.Load() != 1 {
			t.Fatalf("second get: %s %v %v, %d fetches", p2, downloaded, err, s.calls.Load())
		}
		release()
		if st, err := os.Stat(p); err != nil || st.Mode().Perm() != 0o644 {
			t.Fatalf("a new copy's mode: %v %v, want 0644 (sandboxed workers read it)", st.Mode(), err)
		}
	})
	t.Run("OKOldPrivateCopyMadeReadable", func(t *testing.T) {
		s := newStore()
		obj := s.put("s3://b/t/data/old.parquet", 100)
		c := open(t, objcache.Options{})
		p, release, _, err := c.Get(context.Background(), obj, s)
		if err != nil {
			t.Fatal(err)
		}
		release()
		if err := os.Chmod(p, 0o600); err != nil { // as an older build left it
			t.Fatal(err)
		}
		p, release, downloaded, err := c.Get(context.Background(), obj, s)
		if err != nil || downloaded {
			t.Fatalf("a hit: downloaded %v, %v", downloaded, err)
		}
		release()
		if st, err := os.Stat(p); err != nil || st.Mode().Perm() != 0o644 {
			t.Fatalf("a 0600 copy after a hit: %v %v, want 0644", st.Mode(), err)
		}
	})
	t.Run("OKConcurrentGetsShareOneDownload", func(t *testing.T) {
		s := newStore()
		s.delay = 50 * time.Millisecond
		obj := s.put("s3://b/x.parquet", 4096)
		c := open(t, objcache.Options{})
		var wg sync.WaitGroup
		errs := make(chan error, 8)
		for range 8 {
			wg.Go(func() {
				_, release, _, err := c.Get(context.Background(), obj, s)
				if err == nil {
					release()
				}
				errs <- err
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		if n := s.calls.Load(); n != 1 {
			t.Fatalf("%d downloads, want 1", n)
		}
	})
	for _, mode := range []string{"short", "fail", "missing"} {
		t.Run("Err"+strings.ToUpper(mode[:1])+mode[1:]+"DownloadLeavesNothing", func(t *testing.T) {
			s := newStore()
			obj := s.put("s3://b/y.parquet", 3000)
			switch mode {
			case "short":
				s.short[obj.Location] = true
			case "fail":
				s.fail[obj.Location] = true
			case "missing":
				obj.Location = "s3://b/none.parquet"
			}
			c := open(t, objcache.Options{})
			if _, _, _, err := c.Get(context.Background(), obj, s); err == nil {
				t.Fatal("no error")
			}
			if f := files(t, c.Dir()); len(f) != 0 {
				t.Fatalf("left %v", f)
			}
			// The next Get downloads it whole.
			s.short[obj.Location], s.fail[obj.Location] = false, false
			if mode != "missing" {
				p, release, _, err := c.Get(context.Background(), obj, s)
				if err != nil {
					t.Fatal(err)
				}
				release()
				if got, _ := os.ReadFile(p); !bytes.Equal(got, s.objects[obj.Location]) {
					t.Fatal("retried copy differs")
				}
			}
		})
	}
	t.Run("ErrHoleOfTheRightLength", func(t *testing.T) {
		c := open(t, objcache.Options{})
		obj := objcache.Object{Location: "s3://b/hole.parquet", Size: 100}
		_, _, _, err := c.Get(context.Background(), obj, fetchFunc(func(w io.WriterAt) error {
			_, err := w.WriteAt([]byte{1}, 99) // a file of 100 bytes, 99 never written
			return err
		}))
		if err == nil || !strings.Contains(err.Error(), "got 1 bytes") {
			t.Fatalf("err %v", err)
		}
		if f := files(t, c.Dir()); len(f) != 0 {
			t.Fatalf("left %v", f)
		}
	})
	t.Run("ErrLargerThanTheBound", func(t *testing.T) {
		s := newStore()
		obj := s.put("s3://b/big.parquet", 2000)
		c := open(t, objcache.Options{MaxBytes: 1000})
		_, _, _, err := c.Get(context.Background(), obj, s)
		if err == nil || !strings.Contains(err.Error(), "cache.objects_max_size") {
			t.Fatalf("err %v", err)
		}
	})
}

type fetchFunc func(w io.WriterAt) error

func (f fetchFunc) Fetch(_ context.Context, _ string, _ int64, w io.WriterAt) error { return f(w) }

// fill gets and releases each location (1000 bytes each), oldest first.
func fill(t *testing.T, c *objcache.Cache, s *store, locs ...string) {
	t.Helper()
	for i, loc := range locs {
		_, release, _, err := c.Get(context.Background(), s.put(loc, 1000), s)
		if err != nil {
			t.Fatal(err)
		}
		release()
		age(t, c, loc, time.Duration(len(locs)-i)*time.Hour)
	}
}

// get gets and releases loc (1000 bytes).
func get(t *testing.T, c *objcache.Cache, s *store, loc string) {
	t.Helper()
	_, release, _, err := c.Get(context.Background(), s.put(loc, 1000), s)
	if err != nil {
		t.Fatal(err)
	}
	release()
}

func TestCache_Evict(t *testing.T) {
	t.Run("OKBoundAndLRUOrder", func(t *testing.T) {
		s := newStore()
		c := open(t, objcache.Options{MaxBytes: 3000, Grace: time.Minute})
		fill(t, c, s, "s3://b/a", "s3://b/b", "s3://b/c") // a oldest
		// Using a makes b the least recently used.
		_, release, _, err := c.Get(context.Background(), objcache.Object{Location: "s3://b/a", Size: 1000}, s)
		if err != nil {
			t.Fatal(err)
		}
		release()
		age(t, c, "s3://b/a", 30*time.Minute)
		fill(t, c, s, "s3://b/d")
		for loc, want := range map[string]bool{"s3://b/a": true, "s3://b/b": false, "s3://b/c": true, "s3://b/d": true} {
			if got := exists(c.Path(loc)); got != want {
				t.Errorf("%s cached %v, want %v", loc, got, want)
			}
		}
		if n, used, err := c.Usage(); err != nil || used > 3000 || n != 3 {
			t.Fatalf("usage %d files %d bytes %v, bound 3000", n, used, err)
		}
	})
	t.Run("OKPinnedEntrySurvives", func(t *testing.T) {
		s := newStore()
		c := open(t, objcache.Options{MaxBytes: 2000, Grace: time.Minute})
		fill(t, c, s, "s3://b/a", "s3://b/b")
		p, release, _, err := c.Get(context.Background(), objcache.Object{Location: "s3://b/a", Size: 1000}, s)
		if err != nil {
			t.Fatal(err)
		}
		age(t, c, "s3://b/a", 5*time.Hour) // the oldest, but held
		fill(t, c, s, "s3://b/c")
		if !exists(p) || exists(c.Path("s3://b/b")) {
			t.Fatalf("pinned a kept %v, b kept %v", exists(p), exists(c.Path("s3://b/b")))
		}
		release()
		age(t, c, "s3://b/a", 5*time.Hour)
		fill(t, c, s, "s3://b/d")
		if exists(p) {
			t.Fatal("a released and oldest, still cached")
		}
	})
	t.Run("OKRecentlyUsedEntrySurvives", func(t *testing.T) {
		// Another process sharing the folder used a and b moments ago: it
		// may still open them, so the bound is exceeded rather than they
		// are evicted, until they are old enough.
		s := newStore()
		c := open(t, objcache.Options{MaxBytes: 2000, Grace: time.Hour})
		get(t, c, s, "s3://b/a")
		get(t, c, s, "s3://b/b")
		age(t, c, "s3://b/a", 2*time.Minute)
		age(t, c, "s3://b/b", time.Minute)
		get(t, c, s, "s3://b/c")
		if n, used, _ := c.Usage(); n != 3 || used != 3000 {
			t.Fatalf("%d entries of %d bytes, want all 3", n, used)
		}
		age(t, c, "s3://b/a", 2*time.Hour)
		get(t, c, s, "s3://b/d")
		for loc, want := range map[string]bool{"s3://b/a": false, "s3://b/b": true, "s3://b/c": true, "s3://b/d": true} {
			if got := exists(c.Path(loc)); got != want {
				t.Errorf("%s cached %v, want %v", loc, got, want)
			}
		}
	})
	t.Run("OKSharedFolder", func(t *testing.T) {
		// Two caches on one folder, as two servers: one's entries count
		// towards the other's bound.
		s := newStore()
		dir := t.TempDir()
		one, err := objcache.Open(dir, objcache.Options{MaxBytes: 2000, Grace: time.Minute})
		if err != nil {
			t.Fatal(err)
		}
		two, err := objcache.Open(dir, objcache.Options{MaxBytes: 2000, Grace: time.Minute})
		if err != nil {
			t.Fatal(err)
		}
		fill(t, one, s, "s3://b/a", "s3://b/b")
		time.Sleep(1100 * time.Millisecond) // two trusts its last scan for a second
		fill(t, two, s, "s3://b/c")
		if n, used, _ := two.Usage(); n != 2 || used > 2000 || exists(one.Path("s3://b/a")) {
			t.Fatalf("%d entries, %d bytes; a kept %v", n, used, exists(one.Path("s3://b/a")))
		}
		p, release, downloaded, err := one.Get(context.Background(), objcache.Object{Location: "s3://b/c", Size: 1000}, s)
		if err != nil || downloaded || p != two.Path("s3://b/c") {
			t.Fatalf("the other's entry: %s downloaded %v %v", p, downloaded, err)
		}
		release()
	})
}

func TestOpen_CleansLeftovers(t *testing.T) {
	dir := t.TempDir()
	sub := filepath.Join(dir, "ab")
	if err := os.MkdirAll(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	host, _ := os.Hostname()
	host = strings.NewReplacer("-", "_", ".", "_").Replace(host)
	ended := exec.Command("true")
	if err := ended.Run(); err != nil {
		t.Fatal(err)
	}
	dead := filepath.Join(sub, ".abc.parquet.tmp-"+host+"-"+strconv.Itoa(ended.Process.Pid)+"-1")
	live := filepath.Join(sub, ".abd.parquet.tmp-"+host+"-"+strconv.Itoa(os.Getpid())+"-2")
	other := filepath.Join(sub, ".abe.parquet.tmp-otherhost-1-3")
	stale := filepath.Join(sub, ".abf.parquet.tmp-otherhost-1-4")
	entry := filepath.Join(sub, "abf.parquet")
	for _, p := range []string{dead, live, other, stale, entry} {
		if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	old := time.Now().Add(-2 * time.Hour)
	os.Chtimes(stale, old, old)
	if _, err := objcache.Open(dir, objcache.Options{}); err != nil {
		t.Fatal(err)
	}
	for p, want := range map[string]bool{dead: false, live: true, other: true, stale: false, entry: true} {
		if got := exists(p); got != want {
			t.Errorf("%s kept %v, want %v", filepath.Base(p), got, want)
		}
	}
}

// diskFull fails its first fails downloads as a full disk would, then
// sends what s holds.
type diskFull struct {
	s     *store
	fails int
}

func (d *diskFull) Fetch(ctx context.Context, loc string, size int64, w io.WriterAt) error {
	if d.fails > 0 {
		d.fails--
		return &os.PathError{Op: "write", Path: "tmp", Err: syscall.ENOSPC}
	}
	return d.s.Fetch(ctx, loc, size, w)
}

func TestCache_DiskFull(t *testing.T) {
	t.Run("OKEvictsAndRetries", func(t *testing.T) {
		s := newStore()
		c := open(t, objcache.Options{MaxBytes: 1 << 30, Grace: time.Minute})
		fill(t, c, s, "s3://b/a", "s3://b/b")
		obj := s.put("s3://b/c", 1000)
		p, release, _, err := c.Get(context.Background(), obj, &diskFull{s: s, fails: 1})
		if err != nil {
			t.Fatal(err)
		}
		release()
		if !exists(p) || exists(c.Path("s3://b/a")) {
			t.Fatalf("c cached %v; a (least recently used) kept %v", exists(p), exists(c.Path("s3://b/a")))
		}
		if f := files(t, c.Dir()); len(f) > 2 {
			t.Fatalf("left %v", f)
		}
	})
	t.Run("ErrNothingToEvict", func(t *testing.T) {
		s := newStore()
		c := open(t, objcache.Options{MaxBytes: 1 << 30, Grace: time.Hour})
		get(t, c, s, "s3://b/a") // used just now
		obj := s.put("s3://b/c", 1000)
		_, _, _, err := c.Get(context.Background(), obj, &diskFull{s: s, fails: 1})
		if err == nil || !strings.Contains(err.Error(), "is full") || !strings.Contains(err.Error(), c.Dir()) {
			t.Fatalf("err %v", err)
		}
		if exists(c.Path("s3://b/c")) || !exists(c.Path("s3://b/a")) {
			t.Fatal("a partial entry, or the recent one evicted")
		}
	})
	t.Run("ErrFullAgain", func(t *testing.T) {
		s := newStore()
		c := open(t, objcache.Options{MaxBytes: 1 << 30, Grace: time.Minute})
		fill(t, c, s, "s3://b/a")
		obj := s.put("s3://b/c", 1000)
		_, _, _, err := c.Get(context.Background(), obj, &diskFull{s: s, fails: 2})
		if err == nil || !strings.Contains(err.Error(), "disk is full") {
			t.Fatalf("err %v", err)
		}
		if f := files(t, c.Dir()); len(f) != 0 {
			t.Fatalf("left %v", f) // a was evicted to make room, c never became an entry
		}
	})
}
