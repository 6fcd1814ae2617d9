package objcache

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Defaults of Options.
const (
	DefaultMaxBytes = 20 << 30
	DefaultGrace    = 10 * time.Minute
	DefaultMinFree  = 512 << 20
)

// staleTemp is the age after which any temporary file is a crash's leftover.
const staleTemp = time.Hour

// rescan is how old the folder's last scan may be for a download to trust
// its total: other processes sharing the folder add entries too.
const rescan = time.Second

// Object is a remote immutable file.
type Object struct {
	// Location is its URL (s3://bucket/key).
	Location string
	// Size is its length in bytes, from the table's metadata.
	Size int64
}

// Fetcher downloads objects.
type Fetcher interface {
	// Fetch writes the size bytes of the object at loc into w, at offsets
	// 0 to size-1 (in any order, concurrently if it likes). An error
	// means the download failed; the cache then drops what was written.
	Fetch(ctx context.Context, loc string, size int64, w io.WriterAt) error
}

// Options tune a Cache. The zero value takes the defaults.
type Options struct {
	// MaxBytes bounds the entries' total size (default 20 GiB).
	MaxBytes int64
	// Grace is how long after its last use an entry may not be evicted
	// (default 10 minutes): the time another process sharing the folder
	// has to open a path it was handed.
	Grace time.Duration
	// MinFree is the free disk space a download must leave (default 512 MiB).
	MinFree int64
}

// Cache is a local folder of copies of remote objects. It is safe for
// concurrent use, and several processes may share its folder.
type Cache struct {
	dir  string
	opts Options
	host string

	mu         sync.Mutex
	pins       map[string]int      // entry path → holders in this process
	loading    map[string]*loading // entry path → its download in progress
	used       int64               // the entries' total size at the last scan, plus downloads since
	scanned    time.Time           // when the folder was last scanned
	refreshing bool
}

type loading struct {
	done chan struct{}
	err  error
}

// Open returns the cache in dir, creating the folder, and removes the
// temporary files crashed downloads left there.
func Open(dir string, opts Options) (*Cache, error) {
	if opts.MaxBytes <= 0 {
		opts.MaxBytes = DefaultMaxBytes
	}
	if opts.Grace <= 0 {
		opts.Grace = DefaultGrace
	}
	if opts.MinFree <= 0 {
		opts.MinFree = DefaultMinFree
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("object cache: %w", err)
	}
	host, _ := os.Hostname()
	c := &Cache{dir: dir, opts: opts, host: sanitize(host), pins: map[string]int{}, loading: map[string]*loading{}}
	entries, err := c.scan(true)
	if err != nil {
		return nil, err
	}
	for _, e := range entries {
		c.used += e.size
	}
	c.scanned = time.Now()
	return c, nil
}

// Dir is the cache's folder.
func (c *Cache) Dir() string { return c.dir }

// MaxBytes is the cache's size bound.
func (c *Cache) MaxBytes() int64 { return c.opts.MaxBytes }

// Path is where the entry of the object at loc lives.
func (c *Cache) Path(loc string) string {
	sum := sha256.Sum256([]byte(loc))
	key := hex.EncodeToString(sum[:])
	return filepath.Join(c.dir, key[:2], key+path.Ext(loc))
}

// Get returns the local path of obj, downloading it through f when it is
// not cached (downloaded then reports that it was), and pins it: it is
// not evicted until release is called. Release may be called more than
// once.
func (c *Cache) Get(ctx context.Context, obj Object, f Fetcher) (p string, release func(), downloaded bool, err error) {
	p = c.Path(obj.Location)
	c.pin(p)
	var once sync.Once
	release = func() { once.Do(func() { c.unpin(p) }) }
	for {
		if st, err := os.Stat(p); err == nil && st.Size() == obj.Size {
			if st.Mode().Perm()&0o044 != 0o044 {
				// A copy of a build that made them 0600: sandboxed
				// workers could not read it.
				os.Chmod(p, 0o644)
			}
			touch(p)
			return p, release, downloaded, nil
		}
		if downloaded {
			release()
			return "", nil, false, fmt.Errorf("object cache: entry %s of %s vanished", p, obj.Location)
		}
		c.mu.Lock()
		if l := c.loading[p]; l != nil { // another caller is downloading it
			c.mu.Unlock()
			select {
			case <-l.done:
			case <-ctx.Done():
				release()
				return "", nil, false, ctx.Err()
			}
			if l.err != nil && !errors.Is(l.err, context.Canceled) {
				release()
				return "", nil, false, l.err
			}
			continue
		}
		l := &loading{done: make(chan struct{})}
		c.loading[p] = l
		c.mu.Unlock()
		l.err = c.download(ctx, p, obj, f)
		c.mu.Lock()
		delete(c.loading, p)
		c.mu.Unlock()
		close(l.done)
		if l.err != nil {
			release()
			return "", nil, false, l.err
		}
		downloaded = true
	}
}

// download makes the entry p of obj: into a temporary file, checked,
// synced and renamed. On a full disk it evicts and tries once more.
func (c *Cache) download(ctx context.Context, p string, obj Object, f Fetcher) error {
	if obj.Size > c.opts.MaxBytes {
		return fmt.Errorf("object cache: %s is %d bytes, more than the cache's bound of %d bytes: raise cache.objects_max_size", obj.Location, obj.Size, c.opts.MaxBytes)
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return fmt.Errorf("object cache: %w", err)
	}
	if err := c.makeRoom(obj.Size, false); err != nil {
		return err
	}
	err := c.fetchInto(ctx, p, obj, f)
	if errors.Is(err, syscall.ENOSPC) {
		if rerr := c.makeRoom(obj.Size, true); rerr != nil {
			return rerr
		}
		err = c.fetchInto(ctx, p, obj, f)
	}
	if errors.Is(err, syscall.ENOSPC) {
		return fmt.Errorf("object cache: no room for %s (%d bytes) in %s: its disk is full and no entry can be evicted yet: free space on that disk or move the lakehouse home", obj.Location, obj.Size, c.dir)
	}
	if err != nil {
		return err
	}
	c.mu.Lock()
	c.used += obj.Size
	c.mu.Unlock()
	return nil
}

func (c *Cache) fetchInto(ctx context.Context, p string, obj Object, f Fetcher) (err error) {
	tmp, err := os.CreateTemp(filepath.Dir(p), "."+filepath.Base(p)+".tmp-"+c.host+"-"+strconv.Itoa(os.Getpid())+"-*")
	if err != nil {
		return fmt.Errorf("object cache: %w", err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	w := &countingWriter{f: tmp, size: obj.Size}
	if err := f.Fetch(ctx, obj.Location, obj.Size, w); err != nil {
		return fmt.Errorf("download %s: %w", obj.Location, err)
	}
	if n := w.n.Load(); n != obj.Size {
		return fmt.Errorf("download %s: got %d bytes, the table's metadata says %d", obj.Location, n, obj.Size)
	}
	if st, err := tmp.Stat(); err != nil || st.Size() != obj.Size {
		return fmt.Errorf("download %s: the copy is not %d bytes long", obj.Location, obj.Size)
	}
	// Readable like the table's files on local disk: pipeline workers,
	// another user in their sandbox, read the copies.
	if err := tmp.Chmod(0o644); err != nil {
		return fmt.Errorf("object cache: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("object cache: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("object cache: %w", err)
	}
	if err := os.Rename(tmp.Name(), p); err != nil {
		return fmt.Errorf("object cache: %w", err)
	}
	return nil
}

// countingWriter writes into the temporary file and counts the bytes,
// refusing any outside the object: a fetcher that skips a range cannot
// leave a file of the right length with a hole in it.
type countingWriter struct {
	f    *os.File
	size int64
	n    atomic.Int64
}

func (w *countingWriter) WriteAt(b []byte, off int64) (int, error) {
	if off < 0 || off+int64(len(b)) > w.size {
		return 0, fmt.Errorf("write of %d bytes at %d is outside the object's %d bytes", len(b), off, w.size)
	}
	n, err := w.f.WriteAt(b, off)
	w.n.Add(int64(n))
	return n, err
}

// makeRoom evicts least recently used entries until need more bytes fit
// the bound and leave MinFree on the disk. With full (the disk filled
// during a download) it evicts need plus MinFree bytes whatever the
// bound, and fails when nothing can be evicted.
func (c *Cache) makeRoom(need int64, full bool) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	free := freeBytes(c.dir)
	if !full && c.used+need <= c.opts.MaxBytes && free >= need+c.opts.MinFree && time.Since(c.scanned) < rescan {
		return nil
	}
	entries, err := c.scan(false)
	if err != nil {
		return err
	}
	c.scanned = time.Now()
	c.used = 0
	for _, e := range entries {
		c.used += e.size
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].mtime.Before(entries[j].mtime) })
	// After ENOSPC the measured free space is not to be trusted (quotas,
	// reserved blocks, other writers): what eviction frees counts.
	var evicted int
	var freed int64
	for _, e := range entries {
		if full && freed >= need+c.opts.MinFree || !full && c.used+need <= c.opts.MaxBytes && free >= need+c.opts.MinFree {
			break
		}
		if c.pins[e.path] > 0 {
			continue
		}
		// Stat again: another process may have used it since the scan.
		st, err := os.Stat(e.path)
		if err != nil || time.Since(st.ModTime()) < c.opts.Grace {
			continue
		}
		if os.Remove(e.path) == nil {
			c.used -= e.size
			free += e.size
			freed += e.size
			evicted++
		}
	}
	if full && evicted == 0 {
		return fmt.Errorf("object cache: the disk of %s is full and every entry is in use or was used in the last %s: free space on that disk or move the lakehouse home", c.dir, c.opts.Grace)
	}
	return nil
}

type entry struct {
	path  string
	size  int64
	mtime time.Time
}

// scan lists the entries; with cleanTemps it removes the temporary files
// of ended processes of this host and any older than an hour.
func (c *Cache) scan(cleanTemps bool) ([]entry, error) {
	subs, err := os.ReadDir(c.dir)
	if err != nil {
		return nil, fmt.Errorf("object cache: %w", err)
	}
	var out []entry
	for _, sub := range subs {
		if !sub.IsDir() {
			continue
		}
		dir := filepath.Join(c.dir, sub.Name())
		files, err := os.ReadDir(dir)
		if err != nil {
			continue // removed meanwhile
		}
		for _, f := range files {
			info, err := f.Info()
			if err != nil || !info.Mode().IsRegular() {
				continue
			}
			p := filepath.Join(dir, f.Name())
			if strings.HasPrefix(f.Name(), ".") {
				if cleanTemps && c.leftover(f.Name(), info.ModTime()) {
					os.Remove(p)
				}
				continue
			}
			out = append(out, entry{path: p, size: info.Size(), mtime: info.ModTime()})
		}
	}
	return out, nil
}

// leftover reports whether the temporary file name belongs to no running
// download: its process, of this host, has ended, or it is over an hour old.
func (c *Cache) leftover(name string, mtime time.Time) bool {
	if time.Since(mtime) > staleTemp {
		return true
	}
	_, owner, ok := strings.Cut(name, ".tmp-")
	if !ok {
		return false
	}
	pidText, ok := strings.CutPrefix(owner, c.host+"-")
	if !ok {
		return false
	}
	pidText, _, _ = strings.Cut(pidText, "-")
	pid, err := strconv.Atoi(pidText)
	return err == nil && pid > 0 && syscall.Kill(pid, 0) == syscall.ESRCH
}

func (c *Cache) pin(p string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.pins[p]++
	if !c.refreshing {
		c.refreshing = true
		go c.refresh()
	}
}

func (c *Cache) unpin(p string) {
	c.mu.Lock()
	if c.pins[p]--; c.pins[p] <= 0 {
		delete(c.pins, p)
	}
	c.mu.Unlock()
	touch(p) // its last use is now
}

// refresh keeps the pinned entries recently used, for the other
// processes sharing the folder, while any is pinned.
func (c *Cache) refresh() {
	t := time.NewTicker(c.opts.Grace / 3)
	defer t.Stop()
	for range t.C {
		c.mu.Lock()
		if len(c.pins) == 0 {
			c.refreshing = false
			c.mu.Unlock()
			return
		}
		pinned := make([]string, 0, len(c.pins))
		for p := range c.pins {
			pinned = append(pinned, p)
		}
		c.mu.Unlock()
		for _, p := range pinned {
			touch(p)
		}
	}
}

// Usage is the cache's size now.
func (c *Cache) Usage() (files int, bytes int64, err error) {
	entries, err := c.scan(false)
	for _, e := range entries {
		bytes += e.size
	}
	return len(entries), bytes, err
}

// Measure counts the entries of a cache folder without opening it (a
// missing folder holds none): what `tarn cache stats` reports.
func Measure(dir string) (files int, bytes int64, err error) {
	if _, err := os.Stat(dir); errors.Is(err, os.ErrNotExist) {
		return 0, 0, nil
	}
	return (&Cache{dir: dir}).Usage()
}

func touch(p string) {
	now := time.Now()
	os.Chtimes(p, now, now)
}

func freeBytes(dir string) int64 {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return 1 << 62 // unknown: the bound alone decides
	}
	return int64(st.Bavail) * int64(st.Bsize)
}

// sanitize keeps a host name usable in a file name.
func sanitize(s string) string {
	s = strings.Map(func(r rune) rune {
		if r == '-' || r == '.' || r == '/' || r == os.PathSeparator {
			return '_'
		}
		return r
	}, s)
	if s == "" {
		return "host"
	}
	return s
}
