package table

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"strings"
	"sync"
	"time"

	iceio "github.com/apache/iceberg-go/io"
	icebergs3 "github.com/apache/iceberg-go/io/gocloud/s3"
	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
	"github.com/tarnhq/tarn"
)

// s3Store is a warehouse in an S3 bucket under a prefix, reached with the
// AWS SDK directly: garbage collection lists the whole prefix in pages of
// 1,000 (ListObjectsV2, no delimiter: one request per 1,000 objects, not
// one per folder), removes in batches of 1,000 (DeleteObjects), and writes
// its records with conditional PUTs (If-Match / If-None-Match). Object
// ages are LastModified, in the server's clock; now reads that clock from
// a response's Date header.
type s3Store struct {
	client *s3.Client
	bucket string
	prefix string // "" or ending in "/"
	where  string // for messages
}

var _ warehouseStore = (*s3Store)(nil)

// s3Client makes the S3 client of a Service once.
type s3Client struct {
	once  sync.Once
	store *s3Store
	err   error
}

// deleteBatch is the most keys one DeleteObjects request takes.
const deleteBatch = 1000

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
	cfg, err := icebergs3.ParseAWSConfig(ctx, props)
	if err != nil {
		return nil, tarn.Errorf(tarn.EINVALID, "warehouse %s: S3 settings: %v", where, err)
	}
	if r := props[iceio.S3Region]; r != "" {
		cfg.Region = r
	}
	endpoint := props[iceio.S3EndpointURL]
	client := s3.NewFromConfig(*cfg, func(o *s3.Options) {
		if endpoint != "" {
			o.BaseEndpoint = aws.String(endpoint)
			o.UsePathStyle = true // as the FileIO does for an S3-compatible server
		}
	})
	prefix := strings.Trim(u.Path, "/")
	if prefix != "" {
		prefix += "/"
	}
	return &s3Store{client: client, bucket: u.Host, prefix: prefix, where: where}, nil
}

func (o *s3Store) fail(what string, err error) error {
	return tarn.Errorf(tarn.EINTERNAL, "gc: %s in the warehouse %s: %v", what, o.where, err)
}

func (o *s3Store) now(ctx context.Context) (time.Time, error) {
	out, err := o.client.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: &o.bucket, Prefix: aws.String(o.prefix + leaseDir + "/"), MaxKeys: aws.Int32(1)})
	if err != nil {
		return time.Time{}, o.fail("read the server's clock", err)
	}
	if t, ok := awsmiddleware.GetServerTime(out.ResultMetadata); ok && !t.IsZero() {
		return t, nil // whole seconds, rounded down: early, never late
	}
	return time.Now(), nil
}

func (o *s3Store) list(ctx context.Context) ([]tarn.GCFile, error) {
	var files []tarn.GCFile
	p := s3.NewListObjectsV2Paginator(o.client, &s3.ListObjectsV2Input{Bucket: &o.bucket, Prefix: aws.String(o.prefix)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, o.fail("list the objects", err)
		}
		for _, obj := range page.Contents {
			rel := strings.TrimPrefix(aws.ToString(obj.Key), o.prefix)
			if rel == "" || strings.HasSuffix(rel, "/") {
				continue // a folder marker
			}
			files = append(files, tarn.GCFile{Path: rel, Bytes: aws.ToInt64(obj.Size), Modified: aws.ToTime(obj.LastModified).UTC()})
		}
	}
	return files, nil
}

func (o *s3Store) key(rel string) *string { return aws.String(o.prefix + rel) }

// notFound reports whether err is S3's answer for a missing object.
func notFound(err error) bool {
	var nsk *s3types.NoSuchKey
	var nf *s3types.NotFound
	var api smithy.APIError
	return errors.As(err, &nsk) || errors.As(err, &nf) || (errors.As(err, &api) && (api.ErrorCode() == "NoSuchKey" || api.ErrorCode() == "NotFound"))
}

func (o *s3Store) read(ctx context.Context, rel string) ([]byte, string, error) {
	out, err := o.client.GetObject(ctx, &s3.GetObjectInput{Bucket: &o.bucket, Key: o.key(rel)})
	if notFound(err) {
		return nil, "", fmt.Errorf("%s: %w", rel, fs.ErrNotExist)
	} else if err != nil {
		return nil, "", o.fail("read "+rel, err)
	}
	defer out.Body.Close()
	data, err := io.ReadAll(out.Body)
	if err != nil {
		return nil, "", o.fail("read "+rel, err)
	}
	return data, aws.ToString(out.ETag), nil
}

func (o *s3Store) writeIf(ctx context.Context, rel string, data []byte, version string) error {
	in := &s3.PutObjectInput{Bucket: &o.bucket, Key: o.key(rel), Body: bytes.NewReader(data), ContentType: aws.String("application/json")}
	if version == "" {
		in.IfNoneMatch = aws.String("*")
	} else {
		in.IfMatch = aws.String(version)
	}
	_, err := o.client.PutObject(ctx, in)
	var api smithy.APIError
	if errors.As(err, &api) && (api.ErrorCode() == "PreconditionFailed" || api.ErrorCode() == "ConditionalRequestConflict") {
		return errVersionMoved
	} else if err != nil {
		return o.fail("write "+rel, err)
	}
	return nil
}

func (o *s3Store) exists(ctx context.Context, rel string) (bool, error) {
	_, err := o.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &o.bucket, Key: o.key(rel)})
	if notFound(err) {
		return false, nil
	}
	return err == nil, err
}

func (o *s3Store) remove(ctx context.Context, rels []string) []string {
	var failed []string
	for start := 0; start < len(rels); start += deleteBatch {
		batch := rels[start:min(start+deleteBatch, len(rels))]
		ids := make([]s3types.ObjectIdentifier, len(batch))
		for i, rel := range batch {
			ids[i] = s3types.ObjectIdentifier{Key: o.key(rel)}
		}
		out, err := o.client.DeleteObjects(ctx, &s3.DeleteObjectsInput{Bucket: &o.bucket, Delete: &s3types.Delete{Objects: ids, Quiet: aws.Bool(true)}})
		if err != nil {
			for _, rel := range batch {
				failed = append(failed, fmt.Sprintf("%s: %v", rel, err))
			}
			continue
		}
		for _, e := range out.Errors {
			if aws.ToString(e.Code) == "NoSuchKey" {
				continue
			}
			failed = append(failed, fmt.Sprintf("%s: %s %s", strings.TrimPrefix(aws.ToString(e.Key), o.prefix), aws.ToString(e.Code), aws.ToString(e.Message)))
		}
	}
	return failed
}
