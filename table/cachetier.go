package table

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	iceio "github.com/apache/iceberg-go/io"
	"github.com/apache/iceberg-go/io/gocloud/blobfs"
	"gocloud.dev/blob"
	"gocloud.dev/gcerrors"
)

// CacheTierDir is the folder of the warehouse that holds the shared tier
// of the step cache (objects of an s3:// warehouse): gc leaves it alone.
const CacheTierDir = ".tarn/cache"

// CacheTier is the step cache's tier in the warehouse's bucket, shared by
// every server of the lakehouse (see cache.Remote): objects under
// WAREHOUSE/.tarn/cache/. Uploads are single PUTs (or multipart uploads
// completed at the end), so an object is whole or absent.
type CacheTier struct {
	bucket *blob.Bucket
	prefix string // key prefix in the bucket, ending in "/"
	where  string

	mu      sync.Mutex
	touched map[string]bool // names Touch wrote, or is writing
	touches sync.WaitGroup
}

// touchTimeout bounds one write of Touch; closeWait bounds how long Close
// waits for those still running.
const (
	touchTimeout = 10 * time.Second
	closeWait    = 5 * time.Second
)

// CacheTier opens the warehouse's tier of the step cache: nil for a
// warehouse on the local disk (whose cache directory is the home's).
func (s *Service) CacheTier(ctx context.Context) (*CacheTier, error) {
	if !IsRemote(s.warehouse) {
		return nil, nil
	}
	in, err := parseObjectInput(s.warehouse)
	if err != nil {
		return nil, err
	}
	fsys, err := iceio.LoadFS(ctx, s.ioProps, "s3://"+in.Bucket)
	if err != nil {
		return nil, fmt.Errorf("open the shared cache in %s: %w", s.Where(), err)
	}
	bfs, ok := fsys.(*blobfs.FileIO)
	if !ok {
		return nil, fmt.Errorf("open the shared cache in %s: not an object store", s.Where())
	}
	prefix := strings.Trim(in.Key, "/")
	if prefix != "" {
		prefix += "/"
	}
	return &CacheTier{bucket: bfs.Bucket, prefix: prefix + CacheTierDir + "/", where: strings.Replace(s.Where(), s.warehouse, s.warehouse+"/"+CacheTierDir, 1)}, nil
}

// Where names the tier: its URL and the server.
func (c *CacheTier) Where() string { return c.where }

// Get downloads the object name into the new file dst; false when there
// is none.
func (c *CacheTier) Get(ctx context.Context, name, dst string) (bool, error) {
	r, err := c.bucket.NewReader(ctx, c.prefix+name, nil)
	if gcerrors.Code(err) == gcerrors.NotFound {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	defer r.Close()
	f, err := os.OpenFile(dst, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
	if err != nil {
		return false, err
	}
	n, err := io.Copy(f, r) // the reader ends with ctx
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil && n != r.Size() {
		err = fmt.Errorf("got %d bytes of %d", n, r.Size())
	}
	if err != nil {
		os.Remove(dst)
		return false, err
	}
	return true, nil
}

// Put uploads the local file src as the object name. The object appears
// when the upload completes; a failed or cancelled one leaves nothing.
func (c *CacheTier) Put(ctx context.Context, name, src string) error {
	f, err := os.Open(src)
	if err != nil {
		return err
	}
	defer f.Close()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel() // a writer whose context ends before Close aborts
	w, err := c.bucket.NewWriter(ctx, c.prefix+name, &blob.WriterOptions{ContentType: "application/octet-stream"})
	if err != nil {
		return err
	}
	if _, err := io.Copy(w, f); err != nil {
		cancel()
		w.Close()
		return err
	}
	return w.Close()
}

// Touch writes the empty object name, once per tier, in the background:
// its LastModified is the last use of the entry it belongs to, which gc
// trims by (trimCacheTier). A failure is not reported: a server whose
// credentials cannot write the tier still reads it, and an entry it
// used is then only as recent as its last use elsewhere.
func (c *CacheTier) Touch(name string) {
	c.mu.Lock()
	if c.touched == nil {
		c.touched = map[string]bool{}
	}
	if c.touched[name] {
		c.mu.Unlock()
		return
	}
	c.touched[name] = true
	c.touches.Add(1)
	c.mu.Unlock()
	go func() {
		defer c.touches.Done()
		ctx, cancel := context.WithTimeout(context.Background(), touchTimeout)
		defer cancel()
		c.bucket.WriteAll(ctx, c.prefix+name, nil, &blob.WriterOptions{ContentType: "application/octet-stream"})
	}()
}

// Close waits a little for the writes of Touch, then releases the tier's
// connection.
func (c *CacheTier) Close() error {
	done := make(chan struct{})
	go func() { c.touches.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(closeWait):
	}
	return c.bucket.Close()
}
