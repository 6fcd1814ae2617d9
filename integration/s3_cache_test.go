//go:build integration

package integration

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/tarnhq/tarn/objcache"
	s3fetch "github.com/tarnhq/tarn/objcache/s3"
)

// rangeRecorder sends the fetcher's requests and records their Range
// headers and how many were in flight at most.
type rangeRecorder struct {
	mu             sync.Mutex
	ranges         []string
	inFlight, peak int
	cut            string // a range whose first response body breaks off
}

func (r *rangeRecorder) Do(req *http.Request) (*http.Response, error) {
	r.mu.Lock()
	rng := req.Header.Get("Range")
	r.ranges = append(r.ranges, rng)
	cut := rng != "" && rng == r.cut
	if cut {
		r.cut = ""
	}
	r.inFlight++
	r.peak = max(r.peak, r.inFlight)
	r.mu.Unlock()
	time.Sleep(20 * time.Millisecond) // let the parts overlap on a fast loopback server
	resp, err := http.DefaultClient.Do(req)
	r.mu.Lock()
	r.inFlight--
	r.mu.Unlock()
	if cut && err == nil {
		resp.Body = &brokenBody{r: io.LimitReader(resp.Body, 1000), c: resp.Body}
	}
	return resp, err
}

// brokenBody is a response body whose connection drops after some bytes.
type brokenBody struct {
	r io.Reader
	c io.Closer
}

func (b *brokenBody) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	if err == io.EOF {
		err = errors.New("connection reset by peer")
	}
	return n, err
}

func (b *brokenBody) Close() error { return b.c.Close() }

// TestS3_CacheRangedDownload: an object of several parts is downloaded
// into the object cache as concurrent ranged GETs from the S3 server,
// byte for byte, a part whose connection breaks retried; a missing object
// fails and leaves nothing in the cache.
func TestS3_CacheRangedDownload(t *testing.T) {
	s3Warehouse(t) // checks the AWS_* settings
	ctx := context.Background()
	bucket := env(t, "TARN_TEST_S3_BUCKET")
	key := fmt.Sprintf("cache-test-%d/data.parquet", time.Now().UnixNano())
	body := make([]byte, 5<<20+12345) // five whole parts of 1 MiB and a short sixth
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range body {
		body[i] = byte(rng.Uint32())
	}
	ac, err := awsconfig.LoadDefaultConfig(ctx)
	if err != nil {
		t.Fatal(err)
	}
	client := s3.NewFromConfig(ac, func(o *s3.Options) {
		o.BaseEndpoint, o.UsePathStyle = aws.String(os.Getenv("AWS_ENDPOINT_URL")), true
	})
	if _, err := client.PutObject(ctx, &s3.PutObjectInput{Bucket: &bucket, Key: &key, Body: bytes.NewReader(body)}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &bucket, Key: &key}) })

	rec := &rangeRecorder{cut: fmt.Sprintf("bytes=%d-%d", 2<<20, 3<<20-1)} // the third part fails once
	f, err := s3fetch.New(ctx, s3fetch.Config{Endpoint: os.Getenv("AWS_ENDPOINT_URL"), PartSize: 1 << 20, Parallel: 4, HTTPClient: rec})
	if err != nil {
		t.Fatal(err)
	}
	c, err := objcache.Open(filepath.Join(t.TempDir(), "objects"), objcache.Options{})
	if err != nil {
		t.Fatal(err)
	}
	loc := "s3://" + bucket + "/" + key
	p, release, downloaded, err := c.Get(ctx, objcache.Object{Location: loc, Size: int64(len(body))}, f)
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	got, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if !downloaded || !bytes.Equal(got, body) {
		t.Fatalf("downloaded %v, %d bytes, identical %v", downloaded, len(got), bytes.Equal(got, body))
	}
	if len(rec.ranges) != 7 || rec.peak < 2 || rec.peak > 4 {
		t.Fatalf("%d requests (want 6 and a retry), at most %d at once (want 2 to 4): %v", len(rec.ranges), rec.peak, rec.ranges)
	}
	want := map[string]bool{}
	for off := 0; off < len(body); off += 1 << 20 {
		want[fmt.Sprintf("bytes=%d-%d", off, min(off+1<<20, len(body))-1)] = true
	}
	for _, r := range rec.ranges {
		if !want[r] {
			t.Errorf("unexpected range %q, want those of %v", r, want)
		}
	}

	// A missing object (or a size that is not the object's) leaves nothing.
	for _, obj := range []objcache.Object{
		{Location: "s3://" + bucket + "/cache-test-missing/none.parquet", Size: 100},
		{Location: loc + "-other", Size: int64(len(body))},
		{Location: "s3://" + bucket + "/" + key + "?", Size: int64(len(body)) + 10},
	} {
		if _, _, _, err := c.Get(ctx, obj, f); err == nil || !strings.Contains(err.Error(), "download") {
			t.Fatalf("get %s: err %v", obj.Location, err)
		}
		if _, err := os.Stat(c.Path(obj.Location)); err == nil {
			t.Fatalf("an entry for %s", obj.Location)
		}
	}
	if n, _, _ := c.Usage(); n != 1 {
		t.Fatalf("%d entries, want 1", n)
	}
	entries, _ := filepath.Glob(filepath.Join(c.Dir(), "*", ".*"))
	if len(entries) != 0 {
		t.Fatalf("temporary files left: %v", entries)
	}
}
