package table

import (
	"context"
	"errors"
	"io/fs"
	"net/url"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/tarnhq/tarn"
	s3fetch "github.com/tarnhq/tarn/objcache/s3"
)

// s3Store is a warehouse in an S3 bucket under a prefix, for garbage
// collection (objcache/s3's Bucket: pages of 1,000 keys, batch deletes,
// conditional PUTs; ages in the server's clock).
type s3Store struct {
	b     *s3fetch.Bucket
	where string // for messages
}

var _ warehouseStore = (*s3Store)(nil)

// s3Client makes the S3 client of a Service once.
type s3Client struct {
	once  sync.Once
	store *s3Store
	err   error
}

// s3Store returns the service's S3 store, configured as its FileIO is
// (iceberg-go's s3.* properties and the standard AWS environment).
func (s *Service) s3Store(ctx context.Context) (*s3Store, error) {
	s.gcObjects.once.Do(func() {
		s.gcObjects.store, s.gcObjects.err = newS3Store(context.WithoutCancel(ctx), s.warehouse, s.ioProps, s.Where())
	})
	return s.gcObjects.store, s.gcObjects.err
}

func newS3Store(ctx context.Context, warehouse string, props map[string]string, where string) (*s3Store, error) {
	u, err := url.Parse(warehouse)
	if err != nil || (u.Scheme != "s3" && u.Scheme != "s3a") || u.Host == "" {
		return nil, tarn.Errorf(tarn.EINVALID, "warehouse %s: use s3://BUCKET/PREFIX or a local folder", tarn.Quote(warehouse))
	}
	b, err := s3fetch.OpenBucket(ctx, s3Config(props), u.Host, u.Path)
	if err != nil {
		return nil, tarn.Errorf(tarn.EINVALID, "warehouse %s: S3 settings: %v", where, err)
	}
	return &s3Store{b: b, where: where}, nil
}

func (o *s3Store) fail(what string, err error) error {
	return tarn.Errorf(tarn.EINTERNAL, "gc: %s in the warehouse %s: %v", what, o.where, err)
}

func (o *s3Store) now(ctx context.Context) (time.Time, error) {
	t, err := o.b.Now(ctx, clockDir+"/"+uuid.NewString())
	if err != nil {
		return time.Time{}, o.fail("read the server's clock", err)
	}
	return t, nil
}

func (o *s3Store) list(ctx context.Context) ([]tarn.GCFile, error) {
	objs, err := o.b.List(ctx)
	if err != nil {
		return nil, o.fail("list the objects", err)
	}
	files := make([]tarn.GCFile, len(objs))
	for i, obj := range objs {
		files[i] = tarn.GCFile{Path: obj.Key, Bytes: obj.Size, Modified: obj.Modified}
	}
	return files, nil
}

func (o *s3Store) read(ctx context.Context, rel string) ([]byte, string, error) {
	data, version, err := o.b.Read(ctx, rel)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, "", o.fail("read "+rel, err)
	}
	return data, version, err
}

func (o *s3Store) writeIf(ctx context.Context, rel string, data []byte, version string) error {
	err := o.b.WriteIf(ctx, rel, data, "application/json", version)
	if errors.Is(err, s3fetch.ErrPrecondition) {
		return errVersionMoved
	} else if err != nil {
		return o.fail("write "+rel, err)
	}
	return nil
}

func (o *s3Store) exists(ctx context.Context, rel string) (bool, error) {
	return o.b.Exists(ctx, rel)
}

func (o *s3Store) remove(ctx context.Context, rels []string) []string {
	return o.b.Delete(ctx, rels)
}

func (o *s3Store) uploads(ctx context.Context) ([]s3fetch.Upload, error) {
	ups, err := o.b.Uploads(ctx)
	if err != nil {
		return nil, o.fail("list the incomplete uploads", err)
	}
	return ups, nil
}

func (o *s3Store) abort(ctx context.Context, ups []s3fetch.Upload) []string {
	return o.b.Abort(ctx, ups)
}
