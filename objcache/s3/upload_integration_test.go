//go:build integration

package s3

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/tarnhq/tarn/internal/s3test"
)

// TestUploader: against the S3-compatible server of scripts/versitygw.sh,
// a small file goes up in one PUT and a large one as a multipart upload
// of parallel parts (5 MiB parts: 9 of them), both read back byte for
// byte; an upload cancelled part way leaves no object.
func TestUploader(t *testing.T) {
	bucket := s3test.Bucket(t)
	ctx := context.Background()
	cfg := Config{Endpoint: os.Getenv("AWS_ENDPOINT_URL"), PartSize: 5 << 20, Parallel: 4}
	up, err := NewUploader(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	prefix := fmt.Sprintf("upload-%d", time.Now().UnixNano())
	b, err := OpenBucket(ctx, cfg, bucket, prefix)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(1, 2))
	for _, size := range []int{1000, 42<<20 + 17} {
		data := make([]byte, size)
		for i := range data {
			data[i] = byte(rng.Uint32())
		}
		p := filepath.Join(dir, fmt.Sprint(size))
		os.WriteFile(p, data, 0o644)
		key := fmt.Sprintf("f-%d", size)
		if err := up.Upload(ctx, p, fmt.Sprintf("s3://%s/%s/%s", bucket, prefix, key)); err != nil {
			t.Fatalf("upload of %d bytes: %v", size, err)
		}
		got, _, err := b.Read(ctx, key)
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("object of %d bytes read back as %d bytes (%v)", size, len(got), err)
		}
	}
	// Cancelled while its parts are in flight: nothing is left.
	cctx, cancel := context.WithCancel(ctx)
	time.AfterFunc(30*time.Millisecond, cancel)
	big := filepath.Join(dir, fmt.Sprint(42<<20+17))
	if err := up.Upload(cctx, big, fmt.Sprintf("s3://%s/%s/cancelled", bucket, prefix)); err == nil {
		t.Skip("the upload finished before it could be cancelled")
	}
	if _, _, err := b.Read(ctx, "cancelled"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("a cancelled upload left an object: %v", err)
	}
	b.Delete(ctx, []string{"f-1000", fmt.Sprintf("f-%d", 42<<20+17)})
}
