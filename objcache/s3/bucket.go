package s3

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
)

// Bucket is the objects of a bucket under a prefix, named by their keys
// relative to it: listed in pages of 1,000 (ListObjectsV2 with no
// delimiter: one request per 1,000 objects, not one per folder), removed
// in batches of 1,000 (DeleteObjects), written with conditional PUTs
// (If-Match / If-None-Match). Ages are LastModified, in the server's
// clock; Now reads that clock.
type Bucket struct {
	client *s3.Client
	bucket string
	prefix string // "" or ending in "/"
}

// Object is a listed object.
type Object struct {
	Key      string // relative to the prefix
	Size     int64
	Modified time.Time
}

// ErrPrecondition is a conditional write's refusal: the object is not
// at the version given (or exists, for a create).
var ErrPrecondition = errors.New("the object changed")

// DeleteBatch is the most keys one DeleteObjects request takes.
const DeleteBatch = 1000

// OpenBucket returns the objects of bucket under prefix.
func OpenBucket(ctx context.Context, cfg Config, bucket, prefix string) (*Bucket, error) {
	client, err := newClient(ctx, cfg)
	if err != nil {
		return nil, err
	}
	prefix = strings.Trim(prefix, "/")
	if prefix != "" {
		prefix += "/"
	}
	return &Bucket{client: client, bucket: bucket, prefix: prefix}, nil
}

func (b *Bucket) key(rel string) *string { return aws.String(b.prefix + rel) }

// Now is the server's clock as it stamps objects: the LastModified of an
// empty object written at rel (then removed), so an object modified
// before it is older, whatever rounding the server applies, both being
// rounded alike. The Date of a response is not that clock: servers may
// cache it for a second and it is rounded down to one, so an object
// written just before could still read as written after. Without a
// LastModified in the answer it falls back to the Date, then to the
// local clock.
func (b *Bucket) Now(ctx context.Context, rel string) (time.Time, error) {
	if _, err := b.client.PutObject(ctx, &s3.PutObjectInput{Bucket: &b.bucket, Key: b.key(rel), Body: bytes.NewReader(nil)}); err != nil {
		return time.Time{}, err
	}
	head, err := b.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &b.bucket, Key: b.key(rel)})
	b.Delete(ctx, []string{rel}) // a probe left by a failure is skipped by its readers
	if err != nil {
		return time.Time{}, err
	}
	if head.LastModified != nil && !head.LastModified.IsZero() {
		return head.LastModified.UTC(), nil
	}
	if t, ok := awsmiddleware.GetServerTime(head.ResultMetadata); ok && !t.IsZero() {
		return t, nil
	}
	return time.Now(), nil
}

// List lists every object under the prefix (folder markers aside).
func (b *Bucket) List(ctx context.Context) ([]Object, error) {
	var objs []Object
	p := s3.NewListObjectsV2Paginator(b.client, &s3.ListObjectsV2Input{Bucket: &b.bucket, Prefix: aws.String(b.prefix)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, err
		}
		for _, obj := range page.Contents {
			rel := strings.TrimPrefix(aws.ToString(obj.Key), b.prefix)
			if rel == "" || strings.HasSuffix(rel, "/") {
				continue // a folder marker
			}
			objs = append(objs, Object{Key: rel, Size: aws.ToInt64(obj.Size), Modified: aws.ToTime(obj.LastModified).UTC()})
		}
	}
	return objs, nil
}

// notFound reports whether err is S3's answer for a missing object.
func notFound(err error) bool {
	var nsk *s3types.NoSuchKey
	var nf *s3types.NotFound
	var api smithy.APIError
	return errors.As(err, &nsk) || errors.As(err, &nf) || (errors.As(err, &api) && (api.ErrorCode() == "NoSuchKey" || api.ErrorCode() == "NotFound"))
}

// Read returns an object's bytes and version (its ETag); a missing one
// is an fs.ErrNotExist.
func (b *Bucket) Read(ctx context.Context, rel string) ([]byte, string, error) {
	out, err := b.client.GetObject(ctx, &s3.GetObjectInput{Bucket: &b.bucket, Key: b.key(rel)})
	if notFound(err) {
		return nil, "", fmt.Errorf("%s: %w", rel, fs.ErrNotExist)
	} else if err != nil {
		return nil, "", err
	}
	defer out.Body.Close()
	data, err := io.ReadAll(out.Body)
	if err != nil {
		return nil, "", err
	}
	return data, aws.ToString(out.ETag), nil
}

// WriteIf writes an object if it is at version (an ETag Read returned),
// or, with version "", if it does not exist; else ErrPrecondition.
func (b *Bucket) WriteIf(ctx context.Context, rel string, data []byte, contentType, version string) error {
	in := &s3.PutObjectInput{Bucket: &b.bucket, Key: b.key(rel), Body: bytes.NewReader(data), ContentType: aws.String(contentType)}
	if version == "" {
		in.IfNoneMatch = aws.String("*")
	} else {
		in.IfMatch = aws.String(version)
	}
	_, err := b.client.PutObject(ctx, in)
	var api smithy.APIError
	if errors.As(err, &api) && (api.ErrorCode() == "PreconditionFailed" || api.ErrorCode() == "ConditionalRequestConflict") {
		return ErrPrecondition
	}
	return err
}

// PutFile uploads the local file src as the object rel in one PUT: the
// object appears whole when the request completes, or not at all. The
// SDK retries the request on network errors (the file is read again
// from its start).
func (b *Bucket) PutFile(ctx context.Context, rel, src, contentType string) error {
	f, err := os.Open(src)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = b.client.PutObject(ctx, &s3.PutObjectInput{Bucket: &b.bucket, Key: b.key(rel), Body: f, ContentType: aws.String(contentType)})
	return err
}

// GetFile downloads the object rel into the new local file dst (removed
// again when the download fails or is short); a missing object is an
// fs.ErrNotExist.
func (b *Bucket) GetFile(ctx context.Context, rel, dst string) error {
	out, err := b.client.GetObject(ctx, &s3.GetObjectInput{Bucket: &b.bucket, Key: b.key(rel)})
	if notFound(err) {
		return fmt.Errorf("%s: %w", rel, fs.ErrNotExist)
	} else if err != nil {
		return err
	}
	defer out.Body.Close()
	f, err := os.OpenFile(dst, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	n, err := io.Copy(f, out.Body)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if want := aws.ToInt64(out.ContentLength); err == nil && out.ContentLength != nil && n != want {
		err = fmt.Errorf("%s: got %d bytes of %d", rel, n, want)
	}
	if err != nil {
		os.Remove(dst)
	}
	return err
}

// Exists reports whether an object exists.
func (b *Bucket) Exists(ctx context.Context, rel string) (bool, error) {
	_, err := b.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &b.bucket, Key: b.key(rel)})
	if notFound(err) {
		return false, nil
	}
	return err == nil, err
}

// Delete removes objects in batches of DeleteBatch, returning what could
// not be removed ("KEY: reason"); a missing object is removed already.
func (b *Bucket) Delete(ctx context.Context, rels []string) []string {
	var failed []string
	for start := 0; start < len(rels); start += DeleteBatch {
		batch := rels[start:min(start+DeleteBatch, len(rels))]
		ids := make([]s3types.ObjectIdentifier, len(batch))
		for i, rel := range batch {
			ids[i] = s3types.ObjectIdentifier{Key: b.key(rel)}
		}
		out, err := b.client.DeleteObjects(ctx, &s3.DeleteObjectsInput{Bucket: &b.bucket, Delete: &s3types.Delete{Objects: ids, Quiet: aws.Bool(true)}})
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
			failed = append(failed, fmt.Sprintf("%s: %s %s", strings.TrimPrefix(aws.ToString(e.Key), b.prefix), aws.ToString(e.Code), aws.ToString(e.Message)))
		}
	}
	return failed
}

// Upload is an incomplete multipart upload under the prefix: its parts
// are stored (and billed) but are no object until it is completed, and
// S3 keeps them until it is aborted. A writer killed between its
// CreateMultipartUpload and its CompleteMultipartUpload leaves one.
type Upload struct {
	Key       string // relative to the prefix
	ID        string
	Initiated time.Time
	Size      int64 // of the parts stored so far
}

// Uploads lists the incomplete multipart uploads under the prefix, with
// the size of their parts (a ListParts per upload: there are few).
func (b *Bucket) Uploads(ctx context.Context) ([]Upload, error) {
	var ups []Upload
	in := &s3.ListMultipartUploadsInput{Bucket: &b.bucket, Prefix: aws.String(b.prefix)}
	for {
		page, err := b.client.ListMultipartUploads(ctx, in)
		if err != nil {
			return nil, err
		}
		for _, u := range page.Uploads {
			ups = append(ups, Upload{Key: strings.TrimPrefix(aws.ToString(u.Key), b.prefix), ID: aws.ToString(u.UploadId), Initiated: aws.ToTime(u.Initiated).UTC()})
		}
		if !aws.ToBool(page.IsTruncated) || (aws.ToString(page.NextKeyMarker) == "" && aws.ToString(page.NextUploadIdMarker) == "") {
			break
		}
		in.KeyMarker, in.UploadIdMarker = page.NextKeyMarker, page.NextUploadIdMarker
	}
	for i := range ups {
		p := s3.NewListPartsPaginator(b.client, &s3.ListPartsInput{Bucket: &b.bucket, Key: b.key(ups[i].Key), UploadId: aws.String(ups[i].ID)})
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			if err != nil {
				break // completed or aborted meanwhile: its size stays what was read
			}
			for _, part := range page.Parts {
				ups[i].Size += aws.ToInt64(part.Size)
			}
		}
	}
	return ups, nil
}

// Abort aborts incomplete multipart uploads, freeing their parts (one
// already gone is no error), and returns those it could not abort, as
// "key: reason".
func (b *Bucket) Abort(ctx context.Context, ups []Upload) []string {
	var failed []string
	for _, u := range ups {
		_, err := b.client.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: &b.bucket, Key: b.key(u.Key), UploadId: aws.String(u.ID)})
		var nsu *s3types.NoSuchUpload
		var api smithy.APIError
		if err != nil && !errors.As(err, &nsu) && !(errors.As(err, &api) && api.ErrorCode() == "NoSuchUpload") {
			failed = append(failed, fmt.Sprintf("%s (incomplete upload): %v", u.Key, err))
		}
	}
	return failed
}
