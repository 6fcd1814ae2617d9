package table_test

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// TestVerify_FindsMissingFiles: verify --history reads every snapshot of
// every version a commit reaches, so a data file or a manifest list only
// the first snapshot needs is reported missing, by kind and path, though
// later versions list that snapshot again (and read it once).
func TestVerify_FindsMissingFiles(t *testing.T) {
	dir := t.TempDir()
	wh := filepath.Join(dir, "warehouse")
	svc := newServiceAt(t, dir)
	create(t, svc, "main", idRows(0, 10))
	var before []string
	filepath.WalkDir(wh, func(p string, e fs.DirEntry, err error) error {
		if err == nil && !e.IsDir() {
			before = append(before, p)
		}
		return nil
	})
	for i := 1; i <= 3; i++ {
		appendRows(t, svc, "main", idRows(i*10, i*10+10))
	}
	wantVerified(t, svc)
	var data, list string
	for _, p := range before {
		switch {
		case strings.HasSuffix(p, ".parquet"):
			data = p
		case strings.Contains(filepath.Base(p), "snap-") && strings.HasSuffix(p, ".avro"):
			list = p
		}
	}
	if data == "" || list == "" {
		t.Fatalf("the first snapshot's files: %v", before)
	}
	// Without history, only the heads' current snapshots are read: the
	// first snapshot's manifest list is not among them, its data file is.
	for _, p := range []string{data, list} {
		if err := os.Remove(p); err != nil {
			t.Fatal(err)
		}
	}
	rep, err := svc.Verify(context.Background(), true)
	if err != nil {
		t.Fatal(err)
	}
	var missing []string
	for _, p := range rep.Problems {
		missing = append(missing, p)
	}
	sort.Strings(missing)
	joined := strings.Join(missing, "\n")
	if len(missing) != 2 || !strings.Contains(joined, "missing data file file://"+data) || !strings.Contains(joined, "missing manifest list file://"+list) {
		t.Fatalf("verify --history after removing two files of the first snapshot:\n%s", joined)
	}
}
