package s3

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"golang.org/x/sync/errgroup"
)

// DefaultUploadPartSize is the size of one part of a multipart upload
// (S3 takes parts of 5 MiB to 5 GiB, at most 10,000 of them).
const DefaultUploadPartSize = 16 << 20

// maxParts is the most parts one multipart upload may have.
const maxParts = 10000

// Uploader stores local files as objects: a file of at most a part in one
// PUT, a larger one as a multipart upload whose parts are sent in
// parallel. Either way the object appears whole or not at all: a
// multipart upload is completed only once every part is stored, and
// aborted when one fails. It is safe for concurrent use; Config.Parallel
// bounds the requests in flight over all its uploads.
type Uploader struct {
	client   *s3.Client
	partSize int64
	slots    chan struct{}
}

// NewUploader returns an uploader for cfg (PartSize is the upload part
// size, default DefaultUploadPartSize; at least 5 MiB).
func NewUploader(ctx context.Context, cfg Config) (*Uploader, error) {
	client, err := newClient(ctx, cfg)
	if err != nil {
		return nil, err
	}
	if cfg.PartSize <= 0 {
		cfg.PartSize = DefaultUploadPartSize
	}
	cfg.PartSize = max(cfg.PartSize, 5<<20)
	if cfg.Parallel <= 0 {
		cfg.Parallel = DefaultParallel
	}
	return &Uploader{client: client, partSize: cfg.PartSize, slots: make(chan struct{}, cfg.Parallel)}, nil
}

// Upload stores the local file path as the object loc (s3://BUCKET/KEY),
// replacing any object there.
func (u *Uploader) Upload(ctx context.Context, path, loc string) error {
	bucket, key, err := split(loc)
	if err != nil {
		return err
	}
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	size := st.Size()
	// Parts grow past partSize only for files beyond 10,000 parts.
	partSize := max(u.partSize, (size+maxParts-1)/maxParts)
	if size <= partSize {
		return u.slot(ctx, func() error {
			_, err := u.client.PutObject(ctx, &s3.PutObjectInput{
				Bucket: aws.String(bucket), Key: aws.String(key),
				Body: io.NewSectionReader(f, 0, size), ContentLength: aws.Int64(size),
			})
			return err
		})
	}
	return u.multipart(ctx, f, size, partSize, bucket, key)
}

// slot runs fn holding one of the uploader's request slots.
func (u *Uploader) slot(ctx context.Context, fn func() error) error {
	select {
	case u.slots <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-u.slots }()
	return fn()
}

func (u *Uploader) multipart(ctx context.Context, f *os.File, size, partSize int64, bucket, key string) (err error) {
	created, err := u.client.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		return err
	}
	id := created.UploadId
	defer func() {
		if err != nil { // parts stored so far are dropped with the upload
			_, abortErr := u.client.AbortMultipartUpload(context.WithoutCancel(ctx), &s3.AbortMultipartUploadInput{Bucket: aws.String(bucket), Key: aws.String(key), UploadId: id})
			if abortErr != nil {
				err = errors.Join(err, fmt.Errorf("abort the multipart upload of %s (its parts stay until the bucket's lifecycle rules drop them): %w", key, abortErr))
			}
		}
	}()
	n := int((size + partSize - 1) / partSize)
	parts := make([]s3types.CompletedPart, n)
	g, gctx := errgroup.WithContext(ctx)
	for i := range n {
		off := int64(i) * partSize
		length := min(partSize, size-off)
		g.Go(func() error {
			return u.slot(gctx, func() error {
				out, err := u.client.UploadPart(gctx, &s3.UploadPartInput{
					Bucket: aws.String(bucket), Key: aws.String(key), UploadId: id,
					PartNumber: aws.Int32(int32(i + 1)), Body: io.NewSectionReader(f, off, length), ContentLength: aws.Int64(length),
				})
				if err != nil {
					return fmt.Errorf("part %d of %d: %w", i+1, n, err)
				}
				parts[i] = s3types.CompletedPart{ETag: out.ETag, PartNumber: aws.Int32(int32(i + 1))}
				return nil
			})
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	_, err = u.client.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{
		Bucket: aws.String(bucket), Key: aws.String(key), UploadId: id,
		MultipartUpload: &s3types.CompletedMultipartUpload{Parts: slices.Clip(parts)},
	})
	return err
}
