//go:build integration

package table_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/tarnhq/tarn"
	"github.com/tarnhq/tarn/internal/s3test"
	"github.com/tarnhq/tarn/table"
)

// TestGC_IncompleteUploads_S3: a multipart upload a writer started and
// never completed (killed mid-upload) under an S3 warehouse's prefix is
// kept while younger than the age, listed with its parts' size by a dry
// run (and left), then aborted; an upload under another prefix is not
// the warehouse's and stays, and the table still reads.
func TestGC_IncompleteUploads_S3(t *testing.T) {
	bucket := s3test.Bucket(t)
	ctx := context.Background()
	dir := t.TempDir()
	prefix := fmt.Sprintf("gc-uploads-%d", time.Now().UnixNano())
	svc := newServiceWith(t, dir, table.Config{Warehouse: fmt.Sprintf("s3://%s/%s", bucket, prefix), CacheDir: filepath.Join(dir, "objects")})
	ident := tarn.TableIdent{Namespace: tarn.DefaultNamespace, Name: "t"}
	if _, err := svc.Create(ctx, table.CreateRequest{Ident: ident, Branch: "main", Source: sourceOf(t, "id\n1\n2\n")}); err != nil {
		t.Fatal(err)
	}
	ac, err := awsconfig.LoadDefaultConfig(ctx, awsconfig.WithRegion("us-east-1"))
	if err != nil {
		t.Fatal(err)
	}
	client := s3.NewFromConfig(ac, func(o *s3.Options) {
		o.BaseEndpoint, o.UsePathStyle = aws.String(os.Getenv("AWS_ENDPOINT_URL")), true
	})
	start := func(key string, part []byte) string {
		t.Helper()
		up, err := client.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: &bucket, Key: &key})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := client.UploadPart(ctx, &s3.UploadPartInput{Bucket: &bucket, Key: &key, UploadId: up.UploadId, PartNumber: aws.Int32(1), Body: bytes.NewReader(part)}); err != nil {
			t.Fatal(err)
		}
		return aws.ToString(up.UploadId)
	}
	pending := func(p string) []string {
		t.Helper()
		out, err := client.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: &bucket, Prefix: aws.String(p + "/")})
		if err != nil {
			t.Fatal(err)
		}
		var keys []string
		for _, u := range out.Uploads {
			keys = append(keys, aws.ToString(u.Key))
		}
		return keys
	}
	killed := prefix + "/default/t/data/killed.parquet"
	start(killed, bytes.Repeat([]byte("x"), 1<<20))
	other := prefix + "-elsewhere/x.parquet"
	otherID := start(other, []byte("y"))
	t.Cleanup(func() {
		client.AbortMultipartUpload(context.Background(), &s3.AbortMultipartUploadInput{Bucket: &bucket, Key: &other, UploadId: &otherID})
	})
	time.Sleep(1100 * time.Millisecond) // the server's clock may count whole seconds

	rep, err := svc.CollectGarbage(ctx, tarn.GCRequest{OlderThan: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Uploads) != 0 || len(pending(prefix)) != 1 {
		t.Fatalf("an upload younger than the age: report %+v, pending %v; want it kept", rep.Uploads, pending(prefix))
	}
	rep, err = svc.CollectGarbage(ctx, tarn.GCRequest{OlderThan: time.Nanosecond, DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Uploads) != 1 || rep.Uploads[0].Path != strings.TrimPrefix(killed, prefix+"/") || rep.Uploads[0].Bytes != 1<<20 || rep.Uploads[0].Kind != "upload" {
		t.Fatalf("dry run: uploads %+v, want %s with 1 MiB of parts", rep.Uploads, killed)
	}
	if got := pending(prefix); len(got) != 1 {
		t.Fatalf("a dry run aborted the upload: pending %v", got)
	}
	rep, err = svc.CollectGarbage(ctx, tarn.GCRequest{OlderThan: time.Nanosecond})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Uploads) != 1 || len(rep.Failed) != 0 {
		t.Fatalf("gc: uploads %+v, failed %v", rep.Uploads, rep.Failed)
	}
	if got := pending(prefix); len(got) != 0 {
		t.Fatalf("after gc, incomplete uploads under the warehouse: %v", got)
	}
	if got := pending(prefix + "-elsewhere"); len(got) != 1 {
		t.Fatalf("gc touched an upload outside the warehouse: pending %v", got)
	}
	if p, err := svc.PlanScan(ctx, ident, "main", nil); err != nil || p.Rows != 2 {
		t.Fatalf("the table after gc: %v rows, %v", p, err)
	}
}
