// Package s3 is the one package that imports the AWS SDK. It downloads
// objects from S3 and S3-compatible servers for the object cache (an
// object larger than a part is fetched as several ranged GETs at once,
// written into the cache's file at their offsets, each part retried on
// network errors); an Uploader stores local files as objects (pipeline
// outputs written on the local disk: one PUT, or a multipart upload of
// parallel parts, whole or absent); a Bucket lists, reads, writes
// conditionally and deletes in batches the objects under a prefix
// (garbage collection), and copies whole files in and out (the projects
// of queued runs); and Resolve says what the standard AWS settings
// resolve to.
package s3

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/tarnhq/tarn/objcache"
	"golang.org/x/sync/errgroup"
)

// Defaults of Config.
const (
	DefaultPartSize = 8 << 20
	DefaultParallel = 8
	// attempts is how many times a part is tried.
	attempts = 4
)

// Config says how to reach the store. Empty fields come from the
// standard AWS environment and files.
type Config struct {
	// Endpoint is an S3-compatible server's URL, addressed path-style.
	Endpoint string
	Region   string
	// AccessKeyID, SecretAccessKey and SessionToken are static
	// credentials (all empty: the AWS default chain).
	AccessKeyID, SecretAccessKey, SessionToken string
	// PartSize is the size of one ranged GET (default 8 MiB).
	PartSize int64
	// Parallel bounds the GETs in flight over all downloads (default 8).
	Parallel int
	// HTTPClient, when set, sends the requests (default: the SDK's).
	HTTPClient interface {
		Do(*http.Request) (*http.Response, error)
	}
}

// Fetcher downloads s3:// objects. It is safe for concurrent use.
type Fetcher struct {
	client   *s3.Client
	partSize int64
	slots    chan struct{}
}

var _ objcache.Fetcher = (*Fetcher)(nil)

// New returns a fetcher for cfg.
func New(ctx context.Context, cfg Config) (*Fetcher, error) {
	client, err := newClient(ctx, cfg)
	if err != nil {
		return nil, err
	}
	if cfg.PartSize <= 0 {
		cfg.PartSize = DefaultPartSize
	}
	if cfg.Parallel <= 0 {
		cfg.Parallel = DefaultParallel
	}
	return &Fetcher{client: client, partSize: cfg.PartSize, slots: make(chan struct{}, cfg.Parallel)}, nil
}

// Fetch writes the object at loc (s3://BUCKET/KEY) of size bytes into w,
// in parts of PartSize fetched concurrently.
func (f *Fetcher) Fetch(ctx context.Context, loc string, size int64, w io.WriterAt) error {
	bucket, key, err := split(loc)
	if err != nil {
		return err
	}
	if size == 0 {
		return nil
	}
	g, gctx := errgroup.WithContext(ctx)
	for off := int64(0); off < size; off += f.partSize {
		n := min(f.partSize, size-off)
		g.Go(func() error {
			select {
			case f.slots <- struct{}{}:
			case <-gctx.Done():
				return gctx.Err()
			}
			defer func() { <-f.slots }()
			return f.part(gctx, bucket, key, off, n, w)
		})
	}
	return g.Wait()
}

// part fetches bytes [off, off+n) into w, retrying failed attempts.
func (f *Fetcher) part(ctx context.Context, bucket, key string, off, n int64, w io.WriterAt) error {
	var err error
	for attempt := range attempts {
		if attempt > 0 {
			select {
			case <-time.After(time.Duration(attempt*attempt) * 100 * time.Millisecond):
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		err = f.get(ctx, bucket, key, off, n, w)
		if err == nil || ctx.Err() != nil || permanent(err) {
			return err
		}
	}
	return fmt.Errorf("bytes %d-%d after %d attempts: %w", off, off+n-1, attempts, err)
}

func (f *Fetcher) get(ctx context.Context, bucket, key string, off, n int64, w io.WriterAt) error {
	out, err := f.client.GetObject(ctx, &s3.GetObjectInput{
		Bucket: aws.String(bucket),
		Key:    aws.String(key),
		Range:  aws.String(fmt.Sprintf("bytes=%d-%d", off, off+n-1)),
	})
	if err != nil {
		return err
	}
	defer out.Body.Close()
	// The part is read whole before it is written, so a failed attempt
	// writes nothing and the cache's count of written bytes stays exact.
	buf := make([]byte, n)
	if got, err := io.ReadFull(out.Body, buf); err != nil {
		return fmt.Errorf("bytes %d-%d: read %d bytes: %w", off, off+n-1, got, err)
	}
	_, err = w.WriteAt(buf, off)
	return err
}

// permanent reports whether retrying cannot help: the object is missing
// or access is denied.
func permanent(err error) bool {
	var api interface{ ErrorCode() string }
	if errors.As(err, &api) {
		switch api.ErrorCode() {
		case "NoSuchKey", "NoSuchBucket", "AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "InvalidRange":
			return true
		}
	}
	return false
}

func split(loc string) (bucket, key string, err error) {
	u, err := url.Parse(loc)
	if err != nil || (u.Scheme != "s3" && u.Scheme != "s3a" && u.Scheme != "s3n") || u.Host == "" {
		return "", "", fmt.Errorf("%s is not an s3://BUCKET/KEY location", loc)
	}
	return u.Host, strings.TrimPrefix(u.Path, "/"), nil
}

// Settings are what the standard AWS settings (the environment, the
// shared files, a role) resolve to.
type Settings struct {
	Region                                     string
	AccessKeyID, SecretAccessKey, SessionToken string
}

// Resolve reads the standard AWS settings: the region and, with keys,
// the credentials they resolve to now (temporary ones included).
func Resolve(ctx context.Context, keys bool) (Settings, error) {
	ac, err := awsconfig.LoadDefaultConfig(ctx)
	if err != nil {
		return Settings{}, fmt.Errorf("load the AWS configuration: %w", err)
	}
	s := Settings{Region: ac.Region}
	if !keys {
		return s, nil
	}
	if ac.Credentials == nil {
		return s, errors.New("no AWS credentials are configured")
	}
	c, err := ac.Credentials.Retrieve(ctx)
	if err != nil {
		return s, err
	}
	s.AccessKeyID, s.SecretAccessKey, s.SessionToken = c.AccessKeyID, c.SecretAccessKey, c.SessionToken
	return s, nil
}

// newClient is an S3 client for cfg: the standard AWS settings, with
// cfg's fields over them, addressed path-style when an endpoint is set.
func newClient(ctx context.Context, cfg Config) (*s3.Client, error) {
	var opts []func(*awsconfig.LoadOptions) error
	if cfg.Region != "" {
		opts = append(opts, awsconfig.WithRegion(cfg.Region))
	}
	if cfg.AccessKeyID != "" {
		opts = append(opts, awsconfig.WithCredentialsProvider(credentials.NewStaticCredentialsProvider(cfg.AccessKeyID, cfg.SecretAccessKey, cfg.SessionToken)))
	}
	ac, err := awsconfig.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("load the AWS configuration: %w", err)
	}
	if ac.Region == "" {
		ac.Region = "us-east-1"
	}
	return s3.NewFromConfig(ac, func(o *s3.Options) {
		if cfg.HTTPClient != nil {
			o.HTTPClient = cfg.HTTPClient
		}
		if cfg.Endpoint != "" {
			o.BaseEndpoint = aws.String(cfg.Endpoint)
			o.UsePathStyle = true
		}
	}), nil
}
