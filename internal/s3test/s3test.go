// Package s3test gives tests the bucket of the S3-compatible server
// scripts/versitygw.sh starts ($TARN_TEST_S3_BUCKET at $AWS_ENDPOINT_URL,
// from .tmp/versitygw.env); a test that asks for it without them fails,
// saying how to start one.
package s3test

import (
	"os"
	"testing"
)

// Bucket returns the test bucket's name.
func Bucket(t testing.TB) string {
	t.Helper()
	bucket := os.Getenv("TARN_TEST_S3_BUCKET")
	if bucket == "" || os.Getenv("AWS_ENDPOINT_URL") == "" {
		t.Fatal("start the S3 server with scripts/versitygw.sh start and export its settings (set -a; . .tmp/versitygw.env)")
	}
	return bucket
}
