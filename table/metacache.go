package table

import (
	"bytes"
	"container/list"
	"context"
	"errors"
	"io"
	"io/fs"
	"path"
	"strings"
	"sync"
	"time"

	iceio "github.com/apache/iceberg-go/io"
)

// DefaultMetadataBytes bounds the process's metadata cache.
const DefaultMetadataBytes = 64 << 20

// metadataShare is the most of the bound one file may take: a huge
// manifest would otherwise evict every other.
const metadataShare = 8

// MetadataCache holds the bytes of the immutable Iceberg metadata files
// of tables in an object store (table metadata files, manifest lists and
// manifests) in memory, least recently used first out past a bound in
// bytes, so planning a table again reads nothing from the bucket. It is
// safe for concurrent use; concurrent misses of one file share one read.
//
// Only files whose names are never reused are cached (see
// immutableMetadata): Iceberg writes every version of a table's metadata,
// every manifest list and every manifest under a new name, so a name
// holds one content for good. A ref's head is in the catalog, never in
// these files.
type MetadataCache struct {
	max int64

	mu      sync.Mutex
	used    int64
	order   *list.List               // of *metaEntry, most recently used first
	byPath  map[string]*list.Element // path → its element in order
	loading map[string]*metaLoad
	hits    int64
	misses  int64
}

type metaEntry struct {
	path string
	data []byte
}

type metaLoad struct {
	done chan struct{}
	data []byte
	err  error
}

// NewMetadataCache returns an empty cache of at most maxBytes
// (DefaultMetadataBytes when maxBytes <= 0).
func NewMetadataCache(maxBytes int64) *MetadataCache {
	if maxBytes <= 0 {
		maxBytes = DefaultMetadataBytes
	}
	return &MetadataCache{max: maxBytes, order: list.New(), byPath: map[string]*list.Element{}, loading: map[string]*metaLoad{}}
}

// processMetadata holds the metadata caches of the services that are
// given none, by bound: one per process and bound, shared by every query
// and step of the services with that bound (a process has one lakehouse,
// so one bound, outside tests).
var processMetadata = struct {
	sync.Mutex
	byMax map[int64]*MetadataCache
}{byMax: map[int64]*MetadataCache{}}

// ProcessMetadataCache returns the process's metadata cache of at most
// maxBytes (DefaultMetadataBytes when maxBytes <= 0), made on first use.
func ProcessMetadataCache(maxBytes int64) *MetadataCache {
	if maxBytes <= 0 {
		maxBytes = DefaultMetadataBytes
	}
	processMetadata.Lock()
	defer processMetadata.Unlock()
	c := processMetadata.byMax[maxBytes]
	if c == nil {
		c = NewMetadataCache(maxBytes)
		processMetadata.byMax[maxBytes] = c
	}
	return c
}

// MetadataStats are a metadata cache's contents and counters.
type MetadataStats struct {
	Files, Hits, Misses int64
	Bytes, MaxBytes     int64
}

// Stats reports the cache's contents and how often it served a read.
func (c *MetadataCache) Stats() MetadataStats {
	c.mu.Lock()
	defer c.mu.Unlock()
	return MetadataStats{Files: int64(len(c.byPath)), Bytes: c.used, MaxBytes: c.max, Hits: c.hits, Misses: c.misses}
}

// immutableMetadata reports whether loc names an Iceberg metadata file
// that is never rewritten: a versioned table metadata file
// (00003-UUID.metadata.json, v3.metadata.json, compressed or not) or an
// Avro manifest list or manifest, in a table's metadata folder. A
// version hint (version-hint.text, the head pointer of file-system
// catalogs) and anything else are not.
func immutableMetadata(loc string) bool {
	dir, name := path.Split(loc)
	if !strings.HasSuffix(dir, "/metadata/") {
		return false
	}
	if strings.HasSuffix(name, ".avro") {
		return true
	}
	version, ok := strings.CutSuffix(strings.TrimSuffix(name, ".gz"), ".metadata.json")
	if !ok {
		return false
	}
	version, _, _ = strings.Cut(strings.TrimPrefix(strings.TrimSuffix(version, ".gz"), "v"), "-")
	return version != "" && strings.Trim(version, "0123456789") == ""
}

// read returns the bytes of the file at loc, from the cache or by load.
func (c *MetadataCache) read(loc string, load func() ([]byte, error)) ([]byte, error) {
	for {
		c.mu.Lock()
		if el, ok := c.byPath[loc]; ok {
			c.order.MoveToFront(el)
			c.hits++
			data := el.Value.(*metaEntry).data
			c.mu.Unlock()
			return data, nil
		}
		if l := c.loading[loc]; l != nil {
			c.mu.Unlock()
			<-l.done
			if l.err == nil {
				return l.data, nil
			}
			if !errors.Is(l.err, context.Canceled) && !errors.Is(l.err, context.DeadlineExceeded) {
				return nil, l.err
			}
			continue // that reader's context ended: read it anew
		}
		l := &metaLoad{done: make(chan struct{})}
		c.loading[loc] = l
		c.misses++
		c.mu.Unlock()
		l.data, l.err = load()
		c.mu.Lock()
		delete(c.loading, loc)
		if l.err == nil {
			c.add(loc, l.data)
		}
		c.mu.Unlock()
		close(l.done)
		return l.data, l.err
	}
}

// add stores data under loc, evicting least recently used files past
// the bound; called with c.mu held.
func (c *MetadataCache) add(loc string, data []byte) {
	size := int64(len(data))
	if size > c.max/metadataShare {
		return
	}
	if _, ok := c.byPath[loc]; ok {
		return
	}
	for c.used+size > c.max && c.order.Len() > 0 {
		last := c.order.Back()
		e := last.Value.(*metaEntry)
		c.order.Remove(last)
		delete(c.byPath, e.path)
		c.used -= int64(len(e.data))
	}
	c.byPath[loc] = c.order.PushFront(&metaEntry{path: loc, data: data})
	c.used += size
}

// loadFS returns the file system of loc; in an object store, its
// immutable metadata files are read through the service's metadata cache.
func (s *Service) loadFS(ctx context.Context, loc string) (iceio.IO, error) {
	fsys, err := iceio.LoadFS(ctx, s.ioProps, loc)
	if err != nil || !IsRemote(loc) {
		return fsys, err
	}
	return &cachedIO{IO: fsys, cache: s.meta}, nil
}

// cachedIO is a table's file system whose immutable metadata files are
// read through a MetadataCache. Everything else, writes included, goes
// to the file system below.
type cachedIO struct {
	iceio.IO
	cache *MetadataCache
}

// readAll reads the whole file through the file system below.
func (c *cachedIO) readAll(name string) ([]byte, error) {
	var data []byte
	var err error
	if rf, ok := c.IO.(iceio.ReadFileIO); ok {
		data, err = rf.ReadFile(name)
	} else {
		var f iceio.File
		if f, err = c.IO.Open(name); err == nil {
			data, err = io.ReadAll(f)
			f.Close()
		}
	}
	return data, err
}

// ReadFile implements iceio.ReadFileIO; the caller may modify the bytes.
func (c *cachedIO) ReadFile(name string) ([]byte, error) {
	if !immutableMetadata(name) {
		return c.readAll(name)
	}
	data, err := c.cache.read(name, func() ([]byte, error) { return c.readAll(name) })
	if err != nil {
		return nil, err
	}
	return bytes.Clone(data), nil
}

// Open implements iceio.IO.
func (c *cachedIO) Open(name string) (iceio.File, error) {
	if !immutableMetadata(name) {
		return c.IO.Open(name)
	}
	data, err := c.cache.read(name, func() ([]byte, error) { return c.readAll(name) })
	if err != nil {
		return nil, err
	}
	return &memFile{Reader: bytes.NewReader(data), name: path.Base(name)}, nil
}

// Create implements iceio.WriteFileIO.
func (c *cachedIO) Create(name string) (iceio.FileWriter, error) {
	w, ok := c.IO.(iceio.WriteFileIO)
	if !ok {
		return nil, errors.New("the table's storage is read-only")
	}
	return w.Create(name)
}

// WriteFile implements iceio.WriteFileIO.
func (c *cachedIO) WriteFile(name string, p []byte) error {
	w, ok := c.IO.(iceio.WriteFileIO)
	if !ok {
		return errors.New("the table's storage is read-only")
	}
	return w.WriteFile(name, p)
}

// Stat implements iceio.StatIO.
func (c *cachedIO) Stat(name string) (fs.FileInfo, error) {
	if st, ok := c.IO.(iceio.StatIO); ok {
		return st.Stat(name)
	}
	f, err := c.IO.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return f.Stat()
}

// memFile is a cached file opened for reading.
type memFile struct {
	*bytes.Reader
	name string
}

func (f *memFile) Close() error               { return nil }
func (f *memFile) Stat() (fs.FileInfo, error) { return f, nil }
func (f *memFile) Name() string               { return f.name }
func (f *memFile) Mode() fs.FileMode          { return 0o444 }
func (f *memFile) ModTime() time.Time         { return time.Time{} }
func (f *memFile) IsDir() bool                { return false }
func (f *memFile) Sys() any                   { return nil }
