package table

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"sync"
	"time"

	"github.com/apache/iceberg-go"
	iceio "github.com/apache/iceberg-go/io"
	_ "github.com/apache/iceberg-go/io/gocloud/s3" // s3:// warehouses (S3 and S3-compatible servers)
	"github.com/google/uuid"
	"github.com/tarnhq/tarn"
	"github.com/tarnhq/tarn/objcache"
	s3fetch "github.com/tarnhq/tarn/objcache/s3"
	"golang.org/x/sync/errgroup"
)

// IsRemote reports whether a warehouse or file location is in an object
// store (s3://) rather than on the local file system.
func IsRemote(loc string) bool {
	_, local := localPath(loc)
	return !local
}

// S3Endpoint is the S3-compatible server named by the standard AWS
// environment (AWS_ENDPOINT_URL_S3, else AWS_ENDPOINT_URL), "" for AWS
// S3 itself.
func S3Endpoint() string {
	if e := os.Getenv("AWS_ENDPOINT_URL_S3"); e != "" {
		return e
	}
	return os.Getenv("AWS_ENDPOINT_URL")
}

// s3Properties adds to props the FileIO settings the standard AWS
// environment implies: an S3-compatible endpoint, addressed path-style
// (iceberg-go reads credentials, region and the shared config files
// through the AWS SDK itself).
func s3Properties(props iceberg.Properties) {
	if e := S3Endpoint(); e != "" && props[iceio.S3EndpointURL] == "" {
		props[iceio.S3EndpointURL] = e
	}
}

// Where names the warehouse for messages and `tarn status`: its folder,
// or its URL and the endpoint that serves it.
func (s *Service) Where() string {
	if !IsRemote(s.warehouse) {
		return s.warehouse
	}
	if e := s.ioProps[iceio.S3EndpointURL]; e != "" {
		return s.warehouse + " at " + e
	}
	return s.warehouse + " (AWS S3)"
}

// CheckWarehouse checks that the warehouse can be written: for an object
// store, it writes and removes a small probe object under its prefix, so
// a missing bucket, wrong credentials or an unreachable endpoint are
// found at start (and by /readyz) with what to fix.
func (s *Service) CheckWarehouse(ctx context.Context) error {
	if !IsRemote(s.warehouse) {
		return nil
	}
	u, err := url.Parse(s.warehouse)
	if err != nil || u.Scheme != "s3" || u.Host == "" {
		return tarn.Errorf(tarn.EINVALID, "warehouse %s: use s3://BUCKET/PREFIX or a local folder", tarn.Quote(s.warehouse))
	}
	fix := func(err error) error {
		return tarn.Errorf(tarn.EINTERNAL, "cannot write to bucket %s of the warehouse %s: %v: %s",
			tarn.Quote(u.Host), s.Where(), err, s3Fix(err, u.Host, "", "write"))
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	fsys, err := iceio.LoadFS(ctx, s.ioProps, s.warehouse)
	if err != nil {
		return fix(err)
	}
	wfs, ok := fsys.(iceio.WriteFileIO)
	if !ok {
		return fix(fmt.Errorf("storage is read-only"))
	}
	probe := s.warehouse + "/.tarn-probe-" + uuid.NewString()
	if err := wfs.WriteFile(probe, []byte("tarn")); err != nil {
		return fix(err)
	}
	if err := fsys.Remove(probe); err != nil {
		return fix(err)
	}
	return nil
}

// fetched is what making local copies of a scan's remote files cost.
type fetched struct {
	Files int
	Bytes int64
	Wait  time.Duration
}

// fetchFiles is how many files of one scan are downloaded at once (each
// in ranged parts, within the fetcher's own bound on requests).
const fetchFiles = 4

// ObjectCacheBound is the size bound of the local copies of an object
// store's files (cache.objects_max_size).
func (s *Service) ObjectCacheBound() int64 {
	if s.objOpts.MaxBytes > 0 {
		return s.objOpts.MaxBytes
	}
	return objcache.DefaultMaxBytes
}

// objectCache returns the object cache and the fetcher that fills it,
// made on first use.
func (s *Service) objectCache(ctx context.Context) (*objcache.Cache, objcache.Fetcher, error) {
	if s.cacheDir == "" {
		return nil, nil, tarn.Errorf(tarn.EINVALID, "this lakehouse has no local cache folder for the files of its object store")
	}
	s.objMu.Lock()
	defer s.objMu.Unlock()
	if s.objects != nil {
		return s.objects, s.fetcher, nil
	}
	c, err := objcache.Open(s.cacheDir, s.objOpts)
	if err != nil {
		return nil, nil, err
	}
	f, err := s3fetch.New(ctx, s3fetch.Config{
		Endpoint: s.ioProps[iceio.S3EndpointURL], Region: s.ioProps[iceio.S3Region],
		AccessKeyID: s.ioProps[iceio.S3AccessKeyID], SecretAccessKey: s.ioProps[iceio.S3SecretAccessKey], SessionToken: s.ioProps[iceio.S3SessionToken],
	})
	if err != nil {
		return nil, nil, tarn.Errorf(tarn.EINTERNAL, "object store of %s: %w", s.Where(), err)
	}
	s.objects, s.fetcher = c, f
	return c, f, nil
}

// localCopies returns local paths holding the immutable remote files
// objs, downloading those the object cache lacks (fetchFiles at a time),
// each pinned until release is called. cost adds what the downloads took:
// their count, bytes and the time waited for them.
func (s *Service) localCopies(ctx context.Context, objs []objcache.Object, cost *fetched) (paths []string, release func(), err error) {
	paths = make([]string, len(objs))
	if len(objs) == 0 {
		return paths, func() {}, nil
	}
	c, f, err := s.objectCache(ctx)
	if err != nil {
		return nil, nil, err
	}
	releases := make([]func(), len(objs))
	release = func() {
		for _, r := range releases {
			if r != nil {
				r()
			}
		}
	}
	var mu sync.Mutex
	start := time.Now()
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(fetchFiles)
	for i, obj := range objs {
		g.Go(func() error {
			p, rel, downloaded, err := c.Get(gctx, obj, f)
			if err != nil {
				// A version read from the metadata cache after gc expired
				// it finds its data gone: say so, as a read of its
				// metadata would (metadataError).
				if expired := s.expiredError(gctx, "read "+obj.Location, obj.Location); expired != nil {
					return expired
				}
				return tarn.Errorf(tarn.EINTERNAL, "read %s (%s) through the local cache: %w", obj.Location, s.Where(), err)
			}
			paths[i], releases[i] = p, rel
			if downloaded {
				mu.Lock()
				cost.Files++
				cost.Bytes += obj.Size
				mu.Unlock()
			}
			return nil
		})
	}
	err = g.Wait()
	if cost.Files > 0 {
		cost.Wait += time.Since(start)
	}
	if err != nil {
		release()
		return nil, nil, err
	}
	return paths, release, nil
}

// Hold pins the local copies of the object store's files the plans read
// until release is called, downloading again any that were evicted since
// they were planned: a query holds its plans' files while it runs, so no
// eviction removes them under DuckDB, which may open them late. It
// returns what the downloads cost (nothing when every file was there).
func (s *Service) Hold(ctx context.Context, plans ...*ScanPlan) (release func(), files int, bytes int64, wait time.Duration, err error) {
	var objs []objcache.Object
	for _, p := range plans {
		objs = append(objs, p.objects...)
	}
	var cost fetched
	_, release, err = s.localCopies(ctx, objs, &cost)
	if err != nil {
		return nil, 0, 0, 0, err
	}
	return release, cost.Files, cost.Bytes, cost.Wait, nil
}
