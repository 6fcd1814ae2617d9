//go:build integration

package integration

import (
	"context"
	"encoding/json"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tarnhq/tarn/internal/pgtest"
	s3fetch "github.com/tarnhq/tarn/objcache/s3"
)

// runUploads lists the projects of queued runs in the warehouse's bucket
// (WAREHOUSE/.tarn/runs), and removes them.
type runUploads struct {
	t *testing.T
	b *s3fetch.Bucket
}

func openRunUploads(t *testing.T, warehouse string) *runUploads {
	t.Helper()
	return &runUploads{t: t, b: warehouseBucket(t, warehouse, ".tarn/runs")}
}

// warehouseBucket opens the folder of an s3:// warehouse in its bucket.
func warehouseBucket(t *testing.T, warehouse, folder string) *s3fetch.Bucket {
	t.Helper()
	u, err := url.Parse(warehouse)
	if err != nil {
		t.Fatal(err)
	}
	b, err := s3fetch.OpenBucket(context.Background(), s3fetch.Config{Endpoint: os.Getenv("AWS_ENDPOINT_URL")}, u.Host, strings.TrimPrefix(u.Path, "/")+"/"+folder)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func (r *runUploads) list() []string {
	r.t.Helper()
	objs, err := r.b.List(context.Background())
	if err != nil {
		r.t.Fatal(err)
	}
	var keys []string
	for _, o := range objs {
		keys = append(keys, o.Key)
	}
	return keys
}

// waitCount waits until n uploads are in the bucket.
func (r *runUploads) waitCount(n int, within time.Duration) []string {
	r.t.Helper()
	deadline := time.Now().Add(within)
	for {
		keys := r.list()
		if len(keys) == n {
			return keys
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("run uploads in the bucket after %s: %v, want %d", within, keys, n)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

const numsModel = "import tarn\nimport pyarrow as pa\n\n@tarn.model(materialization_strategy=\"REPLACE\")\ndef nums():\n    print('nums on its server', flush=True)\n    return pa.table({'a': [1, 2, 3]})\n"

// TestShared_SeparateHomes: two servers on one PostgreSQL and one bucket,
// each with a home folder of its own. A run's project goes to the bucket
// (WAREHOUSE/.tarn/runs) before its job is queued; the server that
// claims it downloads it. With server A's one slot held by a slow run, a
// run submitted to A executes on B, publishes, and its log reads through
// A; a run whose project was removed from the bucket fails on B saying
// so; kill -9 of B in the middle of a run: A marks that run failed once
// its lease ran out, main is untouched, and its upload is removed.
func TestShared_SeparateHomes(t *testing.T) {
	catalog := pgtest.URL(t)
	wh := s3Warehouse(t)
	uploads := openRunUploads(t, wh)
	root := t.TempDir()
	a := startShared(t, filepath.Join(root, "a", "home"), catalog, "--warehouse", wh)
	slow1 := detach(t, a, project(t, map[string]string{"m.py": slowModel}))
	a.waitLog(slow1, "[slow] started") // a's only slot, until the end
	slow1Key := uploads.waitCount(1, 10*time.Second)[0]

	// Queued while nobody has a free slot, and its project removed from
	// the bucket before a server claims it.
	gone := detach(t, a, project(t, map[string]string{"m.py": numsModel}))
	for _, k := range uploads.waitCount(2, 10*time.Second) {
		if k == slow1Key {
			continue
		}
		if failed := uploads.b.Delete(context.Background(), []string{k}); len(failed) > 0 {
			t.Fatal(failed)
		}
	}
	if j := a.job(gone); j.State != "queued" {
		t.Fatalf("the run submitted while a's slot is taken: %+v", j)
	}

	b := startShared(t, filepath.Join(root, "b", "home"), catalog, "--warehouse", wh)
	waitState(t, a, gone, "failed", 60*time.Second)
	if j := a.job(gone); j.Error == nil || !strings.Contains(j.Error.Message, "gone from the bucket") || !strings.Contains(j.Error.Message, "submit the run again") {
		t.Fatalf("a run whose project is gone: %+v", j.Error)
	}

	// Submitted to a, run by b (a's slot is taken), read through a.
	before := headOf(t, a, "main")
	ok := detach(t, a, project(t, map[string]string{"m.py": numsModel}))
	waitState(t, a, ok, "succeeded", 120*time.Second)
	if j := a.job(slow1); j.State != "running" {
		t.Fatalf("the slow run on a ended before the other run finished (so a may have run it): %+v", j)
	}
	if r := a.cli("job", "logs", ok); r.code != 0 || !strings.Contains(r.stdout, "nums on its server") {
		t.Fatalf("job logs through a of the run b ran: %+v", r)
	}
	if headOf(t, a, "main") == before {
		t.Fatal("the run on b did not publish to main")
	}
	if r := a.cli("query", "SELECT sum(a) FROM nums"); r.code != 0 || !strings.Contains(r.stdout, "6") {
		t.Fatalf("query of the run's output through a: %+v", r)
	}
	uploads.waitCount(1, 10*time.Second) // the slow run's only
	if entries, _ := os.ReadDir(filepath.Join(root, "a", "home", "uploads")); len(entries) > 1 {
		t.Fatalf("a's upload folder holds more than its own run's copy: %v", entries)
	}

	// kill -9 of b in the middle of a run it took.
	before = headOf(t, a, "main")
	slow2 := detach(t, a, project(t, map[string]string{"m.py": slowModel}))
	log := a.waitLog(slow2, "[slow] started")
	uploads.waitCount(2, 10*time.Second)
	killMidRun(t, b, a, slow2, log)
	if after := headOf(t, a, "main"); after != before {
		t.Fatal("a run killed with its server changed main")
	}
	uploads.waitCount(1, 10*time.Second) // the killed run's upload removed by a
	if r := a.cli("job", "cancel", slow1); r.code != 0 {
		t.Fatalf("cancel the slow run: %+v", r)
	}
	uploads.waitCount(0, 10*time.Second)
}

// TestShared_BucketUnreachable: a run submitted while the bucket cannot
// be reached is refused with the reason, and nothing is queued; a queued
// run claimed while it cannot be reached fails saying so. Once the
// bucket is back, runs work again, and gc removes the uploads the jobs
// that ended meanwhile could not remove.
func TestShared_BucketUnreachable(t *testing.T) {
	catalog := pgtest.URL(t)
	wh := s3Warehouse(t)
	uploads := openRunUploads(t, wh) // the bucket itself, not through the proxy
	endpoint, err := url.Parse(env(t, "AWS_ENDPOINT_URL"))
	if err != nil {
		t.Fatal(err)
	}
	proxy := newPortProxy(t, endpoint.Host)
	t.Setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:"+proxy.port) // the server's way to the bucket
	s := startShared(t, filepath.Join(t.TempDir(), "home"), catalog, "--warehouse", wh)
	runJobs := func() int {
		t.Helper()
		r := s.cli("job", "ls", "-o", "json")
		var jobs []struct{ Kind string }
		if r.code != 0 || json.Unmarshal([]byte(r.stdout), &jobs) != nil {
			t.Fatalf("job ls: %+v", r)
		}
		n := 0
		for _, j := range jobs {
			if j.Kind == "run" {
				n++
			}
		}
		return n
	}
	slow := detach(t, s, project(t, map[string]string{"m.py": slowModel}))
	s.waitLog(slow, "[slow] started")
	queued := detach(t, s, project(t, map[string]string{"m.py": numsModel})) // waits for the slot
	uploads.waitCount(2, 10*time.Second)

	proxy.cut()
	r := s.cli("run", "-p", project(t, map[string]string{"m.py": numsModel}), "--detach")
	if r.code == 0 || !strings.Contains(r.stderr, "cannot store the run's project in "+wh+"/.tarn/runs") || !strings.Contains(r.stderr, "nothing was queued") ||
		!strings.Contains(r.stderr, "the S3 server cannot be reached: check AWS_ENDPOINT_URL") {
		t.Fatalf("run with the bucket unreachable: %+v", r)
	}
	t.Logf("tarn run: %s", r.stderr)
	if n := runJobs(); n != 2 {
		t.Fatalf("%d run jobs after the refused run, want the 2 before it", n)
	}
	// The slot frees: the queued run is claimed, and its project cannot
	// be downloaded.
	if r := s.cli("job", "cancel", slow); r.code != 0 {
		t.Fatalf("cancel: %+v", r)
	}
	waitState(t, s, queued, "failed", 90*time.Second)
	if j := s.job(queued); j.Error == nil || !strings.Contains(j.Error.Message, "cannot download the run's project from "+wh+"/.tarn/runs") ||
		!strings.Contains(j.Error.Message, "on this server, the S3 server cannot be reached") {
		t.Fatalf("a run claimed with the bucket unreachable: %+v", j.Error)
	}

	proxy.restore()
	if r := s.cli("run", "-p", project(t, map[string]string{"m.py": numsModel})); r.code != 0 {
		t.Fatalf("run with the bucket back: %+v", r)
	}
	if n := runJobs(); n != 3 {
		t.Fatalf("%d run jobs after a run, want 3", n)
	}
	// What the ended jobs could not remove while the bucket was away (a
	// removal still retrying when it came back may have succeeded), gc
	// does.
	t.Logf("uploads left by the jobs that ended while the bucket was away: %v", uploads.list())
	time.Sleep(2500 * time.Millisecond) // older than gc's age, in the store's clock
	if r := s.cli("gc", "--older-than", "1s"); r.code != 0 {
		t.Fatalf("gc: %+v", r)
	}
	uploads.waitCount(0, 10*time.Second)
}

// TestShared_GCRunUploads: gc keeps the projects of unfinished runs in
// the bucket, however old, and removes those no job holds once older
// than its age.
func TestShared_GCRunUploads(t *testing.T) {
	catalog := pgtest.URL(t)
	wh := s3Warehouse(t)
	uploads := openRunUploads(t, wh)
	s := startShared(t, filepath.Join(t.TempDir(), "home"), catalog, "--warehouse", wh)
	slow := detach(t, s, project(t, map[string]string{"m.py": slowModel}))
	s.waitLog(slow, "[slow] started")
	queued := detach(t, s, project(t, map[string]string{"m.py": numsModel})) // waits for the slot
	live := uploads.waitCount(2, 10*time.Second)
	if err := uploads.b.WriteIf(context.Background(), "20200101-000000-0123456789abcdef.tar.gz", []byte("left by a lost server"), "application/gzip", ""); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2500 * time.Millisecond) // older than gc's age, in the store's clock
	r := s.cli("gc", "--older-than", "1s", "-o", "json")
	var rep struct {
		Removed []struct{ Path, Kind string }
	}
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &rep) != nil {
		t.Fatalf("gc: %+v", r)
	}
	var removed []string
	for _, f := range rep.Removed {
		if strings.HasPrefix(f.Path, ".tarn/runs/") {
			if f.Kind != "run-upload" {
				t.Errorf("gc removed %s as %q", f.Path, f.Kind)
			}
			removed = append(removed, f.Path)
		}
	}
	if len(removed) != 1 || removed[0] != ".tarn/runs/20200101-000000-0123456789abcdef.tar.gz" {
		t.Fatalf("run uploads gc removed: %v, want only the orphan", removed)
	}
	if left := uploads.list(); len(left) != 2 || left[0] != live[0] || left[1] != live[1] {
		t.Fatalf("run uploads after gc: %v, want %v", left, live)
	}
	for _, id := range []string{queued, slow} {
		if r := s.cli("job", "cancel", id); r.code != 0 {
			t.Fatalf("cancel %s: %+v", id, r)
		}
	}
	uploads.waitCount(0, 10*time.Second)
}
