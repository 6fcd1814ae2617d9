//go:build integration

package integration

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestS3_GCStaleLease: a writer killed (SIGKILL) after it wrote its data
// object and before it committed leaves its lease under .tarn/writes/ in
// the bucket. While the lease is younger than its time to live (90 s) gc
// keeps the dead write's objects, even at --older-than 0s; once the lease
// is older, gc treats it as stale and removes it and those objects, and
// the table is unchanged. The lease is aged by setting the modification
// time of its file in versitygw's posix folder (TARN_TEST_S3_DIR, which
// scripts/versitygw.sh exports): the server reports it as the object's
// LastModified, so the test does not wait 90 s and tarn has no knob to
// shorten the time to live.
func TestS3_GCStaleLease(t *testing.T) {
	l := newS3Lake(t)
	wh, home := l.wh, l.home
	root := env(t, "TARN_TEST_S3_DIR")
	do, gc, csv := l.do, l.gc, l.csv
	rows := func() string {
		t.Helper()
		r := do("query", "SELECT count(*), sum(id) FROM keep", "-o", "csv")
		return strings.TrimSpace(r.stdout[strings.Index(r.stdout, "\n")+1:])
	}

	do("table", "create", "keep", "--from", csv("a.csv", 0, 100))
	want := rows()

	// The writer dies after its data object, before its commit.
	imp := exec.Command(env(t, "TARN_BIN"), "--warehouse", wh, "table", "import", "keep", "--from", csv("b.csv", 100, 200))
	imp.Env = append(os.Environ(), "TARN_HOME="+home, "TARN_CRASH_AT=after-data-write")
	out, err := imp.CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("the import was to be killed after its data write: %v\n%s", err, out)
	}
	// The bucket's folder in versitygw's posix backend.
	bucketPath := strings.TrimPrefix(wh, "s3://")
	leases, _ := filepath.Glob(filepath.Join(root, bucketPath, ".tarn", "writes", "*.json"))
	if len(leases) != 1 {
		t.Fatalf("the killed writer's lease in %s: %v, want one", filepath.Join(root, bucketPath, ".tarn", "writes"), leases)
	}
	deadData := func() []string {
		var left []string
		filepath.Walk(filepath.Join(root, bucketPath, "tarn", "keep", "data"), func(p string, info os.FileInfo, err error) error {
			if err == nil && !info.IsDir() {
				left = append(left, p)
			}
			return nil
		})
		return left
	}
	before := deadData()
	if len(before) < 2 {
		t.Fatalf("data objects after the killed write: %v, want the table's and the dead write's", before)
	}

	// A live lease (younger than its time to live) keeps the dead write's
	// objects, whatever the age given.
	time.Sleep(1100 * time.Millisecond) // object times have whole seconds
	young := gc("--older-than", "0s")
	if young.LiveWrites != 1 {
		t.Fatalf("gc with the lease 1 s old: %+v, want one live write", young)
	}
	for _, f := range young.Removed {
		if strings.HasPrefix(f.Path, "tarn/keep/") || strings.Contains(f.Path, ".tarn/writes/") {
			t.Fatalf("gc with a live lease removed %s", f.Path)
		}
	}

	// Older than the time to live: stale.
	aged := time.Now().Add(-5 * time.Minute)
	if err := os.Chtimes(leases[0], aged, aged); err != nil {
		t.Fatal(err)
	}
	dry := gc("--older-than", "0s", "--dry-run")
	stale := gc("--older-than", "0s")
	if stale.LiveWrites != 0 || len(stale.Removed) != len(dry.Removed) {
		t.Fatalf("gc with the lease 5 min old: %+v (dry run: %+v)", stale, dry)
	}
	var removedLease, removedData int
	for _, f := range stale.Removed {
		switch {
		case strings.HasPrefix(f.Path, ".tarn/writes/"):
			removedLease++
		case strings.HasPrefix(f.Path, "tarn/keep/data/"):
			removedData++
		}
	}
	if removedLease != 1 || removedData == 0 {
		t.Fatalf("gc with a stale lease removed %d leases and %d data objects, want 1 and the dead write's: %+v", removedLease, removedData, stale.Removed)
	}
	if left, _ := filepath.Glob(filepath.Join(root, bucketPath, ".tarn", "writes", "*.json")); len(left) != 0 {
		t.Fatalf("the stale lease is still in the bucket: %v", left)
	}
	if after := deadData(); len(after) != len(before)-removedData {
		t.Fatalf("data objects after gc: %v (before %v)", after, before)
	}
	if got := rows(); got != want {
		t.Fatalf("keep after gc: %s, want %s", got, want)
	}
	if v := tarnRun(t, home, "--warehouse", wh, "verify", "--history"); v.code != 0 || strings.Contains(v.stdout, "problem") {
		t.Fatalf("verify --history after gc: %+v", v)
	}
}
