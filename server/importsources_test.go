package server

import (
	"strings"
	"testing"

	"github.com/tarnhq/tarn"
)

// TestAllowedSources: objects in a bucket are read only under the
// server's ImportSources; uploaded files (local paths) need none.
func TestAllowedSources(t *testing.T) {
	none := &Server{}
	if err := none.allowedSources([]string{"/tmp/a.csv", "b.parquet"}); err != nil {
		t.Fatalf("uploaded files: %v", err)
	}
	err := none.allowedSources([]string{"s3://data/landing/a.csv"})
	if tarn.ErrorCode(err) != tarn.EFORBIDDEN || !strings.Contains(err.Error(), "--import-from") {
		t.Fatalf("no ImportSources: %v", err)
	}
	s := &Server{ImportSources: []string{"s3://data/landing", "s3://raw/"}}
	for _, ok := range []string{"s3://data/landing/a.csv", "s3://data/landing/2026/*.parquet", "s3://raw/x/", "s3://raw/y.jsonl"} {
		if err := s.allowedSources([]string{ok}); err != nil {
			t.Errorf("%s: %v", ok, err)
		}
	}
	for _, bad := range []string{"s3://data/landingzone/a.csv", "s3://data/other/a.csv", "s3://data/landing/../secret/a.csv", "s3://data/landing/./a.csv", "s3://rawer/a"} {
		if err := s.allowedSources([]string{"/tmp/ok.csv", bad}); err == nil {
			t.Errorf("%s was allowed", bad)
		}
	}
}
