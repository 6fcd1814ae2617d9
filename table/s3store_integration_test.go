//go:build integration

package table

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tarnhq/tarn"
	"github.com/tarnhq/tarn/internal/s3test"
)

// TestS3Store: the S3 store of garbage collection against the S3-compatible
// server of scripts/versitygw.sh: a listing of more than one page (2,100
// objects: three ListObjectsV2 pages) sees every object once with its size
// and a LastModified within a few seconds of the server's clock; removal
// in batches (DeleteObjects of 1,000) removes them all, a missing key
// being no failure; conditional writes refuse a stale version.
func TestS3Store(t *testing.T) {
	bucket := s3test.Bucket(t)
	ctx := context.Background()
	svc := &Service{warehouse: fmt.Sprintf("s3://%s/store-%d", bucket, time.Now().UnixNano()), ioProps: map[string]string{}}
	s3Properties(svc.ioProps)
	store, err := svc.s3Store(ctx)
	if err != nil {
		t.Fatal(err)
	}
	before, err := store.now(ctx)
	if err != nil {
		t.Fatal(err)
	}
	const n = 2100
	var wg sync.WaitGroup
	errs := make(chan error, n)
	sem := make(chan struct{}, 16)
	for i := range n {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			errs <- store.writeIf(ctx, fmt.Sprintf("ns/t/data/%05d.parquet", i), []byte(fmt.Sprint(i)), "")
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	files, err := store.list(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != n {
		t.Fatalf("listed %d objects, wrote %d", len(files), n)
	}
	seen := map[string]bool{}
	var rels []string
	for _, f := range files {
		var i int
		if _, err := fmt.Sscanf(f.Path, "ns/t/data/%05d.parquet", &i); err != nil || seen[f.Path] || f.Bytes != int64(len(fmt.Sprint(i))) {
			t.Fatalf("listed %+v", f)
		}
		if f.Modified.Before(before.Add(-2*time.Second)) || f.Modified.After(time.Now().Add(time.Minute)) {
			t.Fatalf("%s modified %s, the server's clock said %s before the writes", f.Path, f.Modified, before)
		}
		seen[f.Path] = true
		rels = append(rels, f.Path)
	}
	if err := store.writeIf(ctx, "ns/t/data/00001.parquet", []byte("again"), ""); !errors.Is(err, errVersionMoved) {
		t.Fatalf("a create over an existing object: %v, want a refusal", err)
	}
	_, version, err := store.read(ctx, "ns/t/data/00002.parquet")
	if err != nil {
		t.Fatal(err)
	}
	if err := store.writeIf(ctx, "ns/t/data/00002.parquet", []byte("v2"), version); err != nil {
		t.Fatal(err)
	}
	if err := store.writeIf(ctx, "ns/t/data/00002.parquet", []byte("v3"), version); !errors.Is(err, errVersionMoved) {
		t.Fatalf("a write at a stale version: %v, want a refusal", err)
	}
	if failed := store.remove(ctx, append(rels, "ns/t/data/never-there.parquet")); len(failed) > 0 {
		t.Fatalf("remove: %v", failed[:min(5, len(failed))])
	}
	if left, err := store.list(ctx); err != nil || len(left) != 0 {
		t.Fatalf("after remove: %d objects left (%v)", len(left), err)
	}
	if _, _, err := store.read(ctx, "ns/t/data/00002.parquet"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("read of a removed object: %v", err)
	}
}

// TestRunUploads: the projects of queued runs in the bucket: a file put
// comes back byte for byte under WAREHOUSE/.tarn/runs, a removed one is
// ENOTFOUND saying to submit the run again (and removing it twice is no
// error), and a location outside the folder is not the store's.
func TestRunUploads(t *testing.T) {
	bucket := s3test.Bucket(t)
	ctx := context.Background()
	svc := &Service{warehouse: fmt.Sprintf("s3://%s/runs-%d", bucket, time.Now().UnixNano()), ioProps: map[string]string{}}
	s3Properties(svc.ioProps)
	up, err := svc.RunUploads(ctx)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	src := filepath.Join(dir, "project.tar.gz")
	data := bytes.Repeat([]byte("tarn project "), 100_000) // 1.3 MB
	if err := os.WriteFile(src, data, 0o600); err != nil {
		t.Fatal(err)
	}
	loc, err := up.Put(ctx, src)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(loc, svc.warehouse+"/.tarn/runs/") || !up.Owns(loc) {
		t.Fatalf("location %s", loc)
	}
	if used := svc.uploadsInUse([]string{loc, "/home/x/uploads/up-1", "s3://other/.tarn/runs/y.tar.gz"}); len(used) != 1 || !used[RunUploadsDir+"/"+path.Base(loc)] {
		t.Fatalf("uploadsInUse: %v", used)
	}
	got := filepath.Join(dir, "got.tar.gz")
	if err := up.Get(ctx, loc, got); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(got); err != nil || !bytes.Equal(b, data) {
		t.Fatalf("downloaded %d bytes (%v), want %d", len(b), err, len(data))
	}
	if err := up.Remove(ctx, loc); err != nil {
		t.Fatal(err)
	}
	if err := up.Remove(ctx, loc); err != nil {
		t.Fatalf("removing a removed upload: %v", err)
	}
	err = up.Get(ctx, loc, filepath.Join(dir, "again.tar.gz"))
	if tarn.ErrorCode(err) != tarn.ENOTFOUND || !strings.Contains(err.Error(), "submit the run again") {
		t.Fatalf("get of a removed upload: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "again.tar.gz")); !os.IsNotExist(err) {
		t.Fatalf("a failed download left its file (%v)", err)
	}
	for _, other := range []string{svc.warehouse + "/t/data/x.parquet", svc.warehouse + "/.tarn/runs/a/b.tar.gz", "/tmp/up-1"} {
		if up.Owns(other) {
			t.Errorf("Owns(%s)", other)
		}
	}
}
