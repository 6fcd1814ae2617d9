package table

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"time"

	"github.com/apache/iceberg-go"
	iceio "github.com/apache/iceberg-go/io"
	_ "github.com/apache/iceberg-go/io/gocloud/s3" // s3:// warehouses (S3 and S3-compatible servers)
	"github.com/google/uuid"
	"github.com/tarnhq/tarn"
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
		return tarn.Errorf(tarn.EINTERNAL, "cannot write to bucket %s of the warehouse %s: %v: check that the bucket exists, the credentials (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY or ~/.aws) and, for an S3-compatible server, AWS_ENDPOINT_URL",
			tarn.Quote(u.Host), s.Where(), err)
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

// localCopy returns a local path holding the immutable remote file loc of
// size bytes, downloading it into the object cache when it is not there.
// A copy is written to a temporary name, checked against size, synced and
// renamed: a reader never sees a partial file. Entries are named by the
// hash of the location (Iceberg data files are never rewritten in place).
func (s *Service) localCopy(ctx context.Context, fsys iceio.IO, loc string, size int64, cost *fetched) (string, error) {
	if s.cacheDir == "" {
		return "", tarn.Errorf(tarn.EINVALID, "file %s is in an object store and this lakehouse has no local cache folder for it", loc)
	}
	sum := sha256.Sum256([]byte(loc))
	key := hex.EncodeToString(sum[:])
	dst := filepath.Join(s.cacheDir, key[:2], key+path.Ext(loc))
	if st, err := os.Stat(dst); err == nil && st.Size() == size {
		now := time.Now()
		os.Chtimes(dst, now, now) // the last use, for eviction
		return dst, nil
	}
	start := time.Now()
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return "", fmt.Errorf("object cache: %w", err)
	}
	in, err := fsys.Open(loc)
	if err != nil {
		return "", tarn.Errorf(tarn.EINTERNAL, "download %s (%s): %w", loc, s.Where(), err)
	}
	defer in.Close()
	tmp, err := os.CreateTemp(filepath.Dir(dst), "."+key+".tmp-*")
	if err != nil {
		return "", fmt.Errorf("object cache: %w", err)
	}
	defer os.Remove(tmp.Name()) // after the rename this finds nothing
	n, err := io.Copy(tmp, readerCtx{ctx, in})
	if err == nil && n != size {
		err = fmt.Errorf("got %d bytes, the table's metadata says %d", n, size)
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return "", tarn.Errorf(tarn.EINTERNAL, "download %s (%s): %w", loc, s.Where(), err)
	}
	if err := os.Rename(tmp.Name(), dst); err != nil {
		return "", fmt.Errorf("object cache: %w", err)
	}
	cost.Files++
	cost.Bytes += n
	cost.Wait += time.Since(start)
	return dst, nil
}

// readerCtx stops a copy when its context ends.
type readerCtx struct {
	ctx context.Context
	r   io.Reader
}

func (r readerCtx) Read(p []byte) (int, error) {
	if err := r.ctx.Err(); err != nil {
		return 0, err
	}
	return r.r.Read(p)
}
