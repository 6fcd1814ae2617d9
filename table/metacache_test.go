package table

import (
	"bytes"
	"io"
	"io/fs"
	"sync"
	"sync/atomic"
	"testing"

	iceio "github.com/apache/iceberg-go/io"
)

func TestImmutableMetadata(t *testing.T) {
	for _, tc := range []struct {
		loc  string
		want bool
	}{
		{"s3://b/w/tarn/t/metadata/00003-6b1e2c1f-7d1a-4e0e-9a6b-1c2d3e4f5a6b.metadata.json", true},
		{"s3://b/w/tarn/t/metadata/00003-6b1e2c1f.gz.metadata.json", true},
		{"s3://b/w/tarn/t/metadata/v12.metadata.json", true},
		{"s3://b/w/tarn/t/metadata/v12.gz.metadata.json", true},
		{"s3://b/w/tarn/t/metadata/snap-123-1-6b1e2c1f.avro", true},
		{"s3://b/w/tarn/t/metadata/6b1e2c1f-m0.avro", true},
		{"s3://b/w/tarn/t/metadata/version-hint.text", false},
		{"s3://b/w/tarn/t/metadata/current.metadata.json", false}, // a name that could be rewritten
		{"s3://b/w/tarn/t/metadata/.metadata.json", false},
		{"s3://b/w/tarn/t/data/00000-0-6b1e2c1f.parquet", false},
		{"s3://b/w/tarn/t/data/x.avro", false}, // data, not metadata
		{"s3://b/w/.tarn/cache/entries/ab/abcd/meta.json", false},
	} {
		if got := immutableMetadata(tc.loc); got != tc.want {
			t.Errorf("immutableMetadata(%s) = %v, want %v", tc.loc, got, tc.want)
		}
	}
}

// countingIO is a file system of fixed files that counts its reads.
type countingIO struct {
	files map[string][]byte
	reads atomic.Int64
	gate  chan struct{} // when set, reads wait for it
}

func (c *countingIO) ReadFile(name string) ([]byte, error) {
	c.reads.Add(1)
	if c.gate != nil {
		<-c.gate
	}
	data, ok := c.files[name]
	if !ok {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
	}
	return bytes.Clone(data), nil
}

func (c *countingIO) Open(name string) (iceio.File, error) {
	return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrInvalid} // ReadFile serves every read
}

func (c *countingIO) Remove(string) error { return nil }

func TestCachedIO_ReadsOnce(t *testing.T) {
	meta := "s3://b/w/tarn/t/metadata/00001-a.metadata.json"
	manifest := "s3://b/w/tarn/t/metadata/a-m0.avro"
	other := "s3://b/w/tarn/t/metadata/version-hint.text"
	under := &countingIO{files: map[string][]byte{meta: []byte(`{"format-version":2}`), manifest: []byte("manifest bytes"), other: []byte("1")}}
	cache := NewMetadataCache(1 << 20)
	fsys := &cachedIO{IO: under, cache: cache}

	t.Run("OK", func(t *testing.T) {
		for range 3 {
			data, err := fsys.ReadFile(meta)
			if err != nil || string(data) != `{"format-version":2}` {
				t.Fatalf("ReadFile = %q, %v", data, err)
			}
			data[0] = 'X' // the caller may modify its copy
			f, err := fsys.Open(manifest)
			if err != nil {
				t.Fatal(err)
			}
			got, _ := io.ReadAll(f)
			st, _ := f.Stat()
			buf := make([]byte, 5)
			n, _ := f.ReadAt(buf, 9)
			f.Close()
			if string(got) != "manifest bytes" || st.Size() != 14 || string(buf[:n]) != "bytes" {
				t.Fatalf("Open read %q (size %d, at 9: %q)", got, st.Size(), buf[:n])
			}
		}
		if n := under.reads.Load(); n != 2 {
			t.Errorf("the store was read %d times for 2 immutable files read 3 times each, want 2", n)
		}
		if st := cache.Stats(); st.Files != 2 || st.Hits != 4 || st.Misses != 2 {
			t.Errorf("stats = %+v, want 2 files, 4 hits, 2 misses", st)
		}
	})
	t.Run("MutableNotCached", func(t *testing.T) {
		before := under.reads.Load()
		for range 2 {
			if _, err := fsys.ReadFile(other); err != nil {
				t.Fatal(err)
			}
		}
		if n := under.reads.Load() - before; n != 2 {
			t.Errorf("version-hint.text read %d times from the store in 2 reads, want 2 (never cached)", n)
		}
	})
	t.Run("ErrNotCached", func(t *testing.T) {
		missing := "s3://b/w/tarn/t/metadata/00002-b.metadata.json"
		for range 2 {
			if _, err := fsys.ReadFile(missing); err == nil {
				t.Fatal("reading a missing file succeeded")
			}
		}
		under.files[missing] = []byte("{}")
		if data, err := fsys.ReadFile(missing); err != nil || string(data) != "{}" {
			t.Errorf("after the file appeared: %q, %v", data, err)
		}
	})
}

func TestMetadataCache_Bound(t *testing.T) {
	c := NewMetadataCache(800) // files of up to 100 bytes are cached
	load := func(n int) func() ([]byte, error) {
		return func() ([]byte, error) { return make([]byte, n), nil }
	}
	for i := range 10 {
		if _, err := c.read(string(rune('a'+i)), load(100)); err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			continue
		}
		c.read("a", load(100)) // keep "a" recently used
	}
	st := c.Stats()
	if st.Bytes > 800 || st.Files != 8 {
		t.Errorf("stats = %+v, want 8 files within 800 bytes", st)
	}
	if _, ok := c.byPath["a"]; !ok {
		t.Error("the most recently used file was evicted")
	}
	if _, ok := c.byPath["b"]; ok {
		t.Error("the least recently used file was kept")
	}
	c.read("big", load(101))
	if _, ok := c.byPath["big"]; ok {
		t.Error("a file over an eighth of the bound was cached")
	}
}

func TestMetadataCache_ConcurrentMissesShareARead(t *testing.T) {
	loc := "s3://b/w/tarn/t/metadata/snap-1-1-a.avro"
	under := &countingIO{files: map[string][]byte{loc: []byte("list")}, gate: make(chan struct{})}
	fsys := &cachedIO{IO: under, cache: NewMetadataCache(0)}
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			data, err := fsys.ReadFile(loc)
			if err == nil && string(data) != "list" {
				err = io.ErrUnexpectedEOF
			}
			errs <- err
		}()
	}
	for under.reads.Load() == 0 {
	}
	close(under.gate)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := under.reads.Load(); n != 1 {
		t.Errorf("8 concurrent misses read the store %d times, want 1", n)
	}
}

// TestProcessMetadataCache: services given no cache share the process's
// cache of their bound (64 MiB by default), and a service of another
// bound has its own.
func TestProcessMetadataCache(t *testing.T) {
	if got := ProcessMetadataCache(0).Stats().MaxBytes; got != DefaultMetadataBytes {
		t.Fatalf("default bound %d, want %d", got, DefaultMetadataBytes)
	}
	a, b := ProcessMetadataCache(3<<20), ProcessMetadataCache(3<<20)
	if a != b || a.Stats().MaxBytes != 3<<20 {
		t.Fatalf("one bound, two caches (%p, %p) or the wrong bound %d", a, b, a.Stats().MaxBytes)
	}
	if c := ProcessMetadataCache(5 << 20); c == a || c.Stats().MaxBytes != 5<<20 {
		t.Fatalf("another bound shares the cache or has bound %d", c.Stats().MaxBytes)
	}
}
