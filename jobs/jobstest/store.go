// Package jobstest is the conformance suite every jobs.Store runs: the
// Store's own contract (records, the queue, leases, cancel requests,
// expiry, logs, pruning, claims racing from two handles), and two
// jobs.Managers sharing one store as two servers would (a run queued on
// one and done by the other, cancelled and followed from either, the
// jobs of a runner that died ended by the other by their lease).
package jobstest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tarnhq/tarn"
	"github.com/tarnhq/tarn/jobs"
)

// NewStore returns a fresh, empty store for one test, and a function
// that opens a second handle on the same storage (another server's).
type NewStore func(t *testing.T) (jobs.Store, func() jobs.Store)

// Run runs the whole suite.
func Run(t *testing.T, newStore NewStore) {
	t.Run("Records", func(t *testing.T) { testRecords(t, newStore) })
	t.Run("Claim", func(t *testing.T) { testClaim(t, newStore) })
	t.Run("ConcurrentClaims", func(t *testing.T) { testConcurrentClaims(t, newStore) })
	t.Run("Leases", func(t *testing.T) { testLeases(t, newStore) })
	t.Run("Cancel", func(t *testing.T) { testCancel(t, newStore) })
	t.Run("Expire", func(t *testing.T) { testExpire(t, newStore) })
	t.Run("Logs", func(t *testing.T) { testLogs(t, newStore) })
	t.Run("Prune", func(t *testing.T) { testPrune(t, newStore) })
	t.Run("Cleanups", func(t *testing.T) { testCleanups(t, newStore) })
	t.Run("Manager", func(t *testing.T) { runManager(t, newStore) })
}

func open(t *testing.T, newStore NewStore) (jobs.Store, func() jobs.Store) {
	t.Helper()
	s, reopen := newStore(t)
	t.Cleanup(func() { s.Close() })
	return s, func() jobs.Store {
		other := reopen()
		t.Cleanup(func() { other.Close() })
		return other
	}
}

var epoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// job is a new job record: queued, created n seconds after epoch.
func job(n int, kind string) *tarn.Job {
	return &tarn.Job{ID: fmt.Sprintf("j20260101-0000%02d-%06x", n%60, n), Kind: kind, State: tarn.JobQueued, User: "ann", Ref: "main",
		Summary: "tarn " + kind, Created: epoch.Add(time.Duration(n) * time.Second)}
}

func create(t *testing.T, s jobs.Store, r *jobs.Record, lease time.Duration) {
	t.Helper()
	if err := s.Create(context.Background(), r, lease); err != nil {
		t.Fatalf("create %s: %v", r.Job.ID, err)
	}
}

func get(t *testing.T, s jobs.Store, id string) *tarn.Job {
	t.Helper()
	j, err := s.Get(context.Background(), id)
	if err != nil {
		t.Fatalf("get %s: %v", id, err)
	}
	return j
}

func wantCode(t *testing.T, err error, code string, what string) {
	t.Helper()
	if tarn.ErrorCode(err) != code {
		t.Fatalf("%s: %v (code %q), want code %s", what, err, tarn.ErrorCode(err), code)
	}
}

const long = time.Hour

func testRecords(t *testing.T, newStore NewStore) {
	s, _ := open(t, newStore)
	ctx := context.Background()
	if list, err := s.List(ctx); err != nil || len(list) != 0 {
		t.Fatalf("jobs of an empty store: %v, %v", list, err)
	}
	queued := job(1, "run")
	create(t, s, &jobs.Record{Job: queued, Input: []byte(`{"x":1}`), Cleanup: "/tmp/upload"}, long)
	held := job(2, "query")
	create(t, s, &jobs.Record{Job: held, Owner: "a"}, long)
	for _, want := range []*tarn.Job{queued, held} {
		got := get(t, s, want.ID)
		if got.ID != want.ID || got.Kind != want.Kind || got.State != want.State || got.User != want.User || got.Ref != want.Ref ||
			got.Summary != want.Summary || !got.Created.Equal(want.Created) {
			t.Fatalf("get = %+v, want %+v", got, want)
		}
	}
	list, err := s.List(ctx)
	if err != nil || len(list) != 2 || list[0].ID != held.ID || list[1].ID != queued.ID {
		t.Fatalf("List = %v, %v; want newest first", list, err)
	}
	err = s.Create(ctx, &jobs.Record{Job: job(1, "run")}, long)
	wantCode(t, err, tarn.EEXISTS, "create a taken id")
	for _, id := range []string{"j20990101-000000-abcdef", "../held", "", "j' OR 1=1"} {
		_, err := s.Get(ctx, id)
		wantCode(t, err, tarn.ENOTFOUND, fmt.Sprintf("get %q", id))
	}
}

func testClaim(t *testing.T, newStore NewStore) {
	s, _ := open(t, newStore)
	ctx := context.Background()
	if r, err := s.Claim(ctx, "a", []string{"run"}, long); err != nil || r != nil {
		t.Fatalf("claim from an empty queue: %+v, %v", r, err)
	}
	create(t, s, &jobs.Record{Job: job(3, "run"), Input: []byte("third")}, long)
	create(t, s, &jobs.Record{Job: job(1, "run"), Input: []byte("first"), Cleanup: "/up/1"}, long)
	create(t, s, &jobs.Record{Job: job(2, "export")}, long)
	create(t, s, &jobs.Record{Job: job(0, "run"), Owner: "b"}, long) // tracked: never in the queue
	r, err := s.Claim(ctx, "a", []string{"run"}, long)
	if err != nil || r == nil || r.Job.ID != job(1, "").ID || string(r.Input) != "first" || r.Cleanup != "/up/1" || r.Owner != "a" ||
		r.Job.State != tarn.JobRunning || r.Job.Started == nil {
		t.Fatalf("first claim = %+v, %v; want the oldest queued run, running, held by a", r, err)
	}
	if j := get(t, s, r.Job.ID); j.State != tarn.JobRunning || j.Started == nil {
		t.Fatalf("claimed job as stored: %+v", j)
	}
	if r, _ = s.Claim(ctx, "a", []string{"run"}, long); r == nil || string(r.Input) != "third" {
		t.Fatalf("second claim = %+v", r)
	}
	if r, _ = s.Claim(ctx, "a", []string{"run"}, long); r != nil {
		t.Fatalf("third claim of runs = %+v, want none (the other kind and the held job stay)", r)
	}
	if r, _ = s.Claim(ctx, "c", []string{"run", "export"}, long); r == nil || r.Job.Kind != "export" {
		t.Fatalf("claim of either kind = %+v", r)
	}
}

// testConcurrentClaims: claimers on two handles race over one queue;
// every job is claimed exactly once.
func testConcurrentClaims(t *testing.T, newStore NewStore) {
	s, reopen := open(t, newStore)
	other := reopen()
	ctx := context.Background()
	const queued, claimers = 24, 6
	for i := range queued {
		create(t, s, &jobs.Record{Job: job(i, "run")}, long)
	}
	var mu sync.Mutex
	claimedBy := map[string][]string{}
	var wg sync.WaitGroup
	for c := range claimers {
		store := []jobs.Store{s, other}[c%2]
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				r, err := store.Claim(ctx, fmt.Sprintf("runner%d", c), []string{"run"}, long)
				if err != nil {
					t.Errorf("claim: %v", err)
					return
				}
				if r == nil {
					return
				}
				mu.Lock()
				claimedBy[r.Job.ID] = append(claimedBy[r.Job.ID], r.Owner)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(claimedBy) != queued {
		t.Fatalf("%d of %d jobs claimed", len(claimedBy), queued)
	}
	for id, owners := range claimedBy {
		if len(owners) != 1 {
			t.Fatalf("job %s claimed by %v", id, owners)
		}
	}
}

func testLeases(t *testing.T, newStore NewStore) {
	s, _ := open(t, newStore)
	ctx := context.Background()
	a, b := job(1, "query"), job(2, "query")
	create(t, s, &jobs.Record{Job: a, Owner: "a"}, long)
	create(t, s, &jobs.Record{Job: b, Owner: "b"}, long)
	r, err := s.Renew(ctx, "a", []string{a.ID, b.ID, "j20990101-000000-abcdef"}, long)
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(r.Lost)
	if len(r.Cancel) != 0 || !slices.Equal(r.Lost, []string{b.ID, "j20990101-000000-abcdef"}) {
		t.Fatalf("renewal = %+v; want b's and the unknown job lost", r)
	}
	running := *a
	running.State = tarn.JobRunning
	if err := s.Update(ctx, "b", &running); !errors.Is(err, jobs.ErrNotHeld) {
		t.Fatalf("update by a runner that does not hold the job: %v", err)
	}
	if err := s.Update(ctx, "a", &running); err != nil {
		t.Fatal(err)
	}
	if j := get(t, s, a.ID); j.State != tarn.JobRunning {
		t.Fatalf("after update: %+v", j)
	}
	done := running
	done.State, done.Error = tarn.JobFailed, &tarn.JobError{Code: tarn.EINVALID, Message: "bad"}
	if err := s.Update(ctx, "a", &done); err != nil {
		t.Fatal(err)
	}
	if j := get(t, s, a.ID); j.State != tarn.JobFailed || j.Error == nil || j.Error.Code != tarn.EINVALID {
		t.Fatalf("after the end: %+v", j)
	}
	if r, _ := s.Renew(ctx, "a", []string{a.ID}, long); !slices.Equal(r.Lost, []string{a.ID}) {
		t.Fatalf("an ended job is still held: %+v", r)
	}
	if err := s.Update(ctx, "a", &done); !errors.Is(err, jobs.ErrNotHeld) {
		t.Fatalf("update after the end: %v", err)
	}
}

func testCancel(t *testing.T, newStore NewStore) {
	s, _ := open(t, newStore)
	ctx := context.Background()
	queued, held := job(1, "run"), job(2, "run")
	create(t, s, &jobs.Record{Job: queued, Cleanup: "/up/1"}, long)
	create(t, s, &jobs.Record{Job: held, Owner: "a"}, long)

	r, err := s.Cancel(ctx, queued.ID, "c", "cancelled by ann", long)
	if err != nil || r.Owner != "c" || r.Job.State != tarn.JobQueued || r.Cleanup != "/up/1" {
		t.Fatalf("cancel of a queued job = %+v, %v; want it handed to the canceller", r, err)
	}
	if r, _ := s.Claim(ctx, "a", []string{"run"}, long); r != nil {
		t.Fatalf("a job handed to its canceller was claimed: %+v", r)
	}
	r, err = s.Cancel(ctx, held.ID, "c", "cancelled by bob", long)
	if err != nil || r.Owner != "a" {
		t.Fatalf("cancel of a held job = %+v, %v; want it left with its owner", r, err)
	}
	renewal, err := s.Renew(ctx, "a", []string{held.ID}, long)
	if err != nil || renewal.Cancel[held.ID] != "cancelled by bob" {
		t.Fatalf("the owner's renewal = %+v, %v; want the request", renewal, err)
	}
	done := *held
	done.State = tarn.JobCancelled
	if err := s.Update(ctx, "a", &done); err != nil {
		t.Fatal(err)
	}
	_, err = s.Cancel(ctx, held.ID, "c", "cancelled by bob", long)
	wantCode(t, err, tarn.ECONFLICT, "cancel of an ended job")
	if !strings.Contains(err.Error(), "already ended") {
		t.Fatalf("error does not say the job ended: %v", err)
	}
	_, err = s.Cancel(ctx, "j20990101-000000-abcdef", "c", "x", long)
	wantCode(t, err, tarn.ENOTFOUND, "cancel of an unknown job")

	// A cancel racing a claim: the job goes to exactly one of them.
	for i := range 20 {
		j := job(10+i, "run")
		create(t, s, &jobs.Record{Job: j}, long)
		var claim *jobs.Record
		var cancelled *jobs.Record
		var wg sync.WaitGroup
		wg.Add(2)
		go func() { defer wg.Done(); claim, _ = s.Claim(ctx, "a", []string{"run"}, long) }()
		go func() { defer wg.Done(); cancelled, _ = s.Cancel(ctx, j.ID, "c", "x", long) }()
		wg.Wait()
		switch {
		case claim != nil && cancelled != nil && cancelled.Owner == "c":
			t.Fatalf("job %s both claimed and handed to its canceller", j.ID)
		case claim == nil && (cancelled == nil || cancelled.Owner != "c"):
			t.Fatalf("job %s neither claimed nor handed over: %+v", j.ID, cancelled)
		}
		if claim != nil {
			finished := *claim.Job
			finished.State = tarn.JobCancelled
			s.Update(ctx, "a", &finished)
		}
	}
}

func testExpire(t *testing.T, newStore NewStore) {
	s, _ := open(t, newStore)
	ctx := context.Background()
	short := 200 * time.Millisecond
	dead, alive, queued, renewed := job(1, "run"), job(2, "run"), job(3, "run"), job(4, "query")
	create(t, s, &jobs.Record{Job: dead, Owner: "dead", Cleanup: "/up/dead"}, short)
	create(t, s, &jobs.Record{Job: alive, Owner: "alive"}, long)
	create(t, s, &jobs.Record{Job: queued}, short)
	create(t, s, &jobs.Record{Job: renewed, Owner: "alive"}, short)
	deadline := time.Now().Add(3 * short)
	for time.Now().Before(deadline) {
		s.Renew(ctx, "alive", []string{renewed.ID}, short)
		time.Sleep(short / 4)
	}
	// Renewed once more just before: on a busy disk a renewal (a synced
	// write) can take longer than the sleep above, and the lease must not
	// run out between the loop and Expire.
	s.Renew(ctx, "alive", []string{renewed.ID}, long)
	ended, err := s.Expire(ctx, jobs.ExpireOptions{Message: "its server died"})
	if err != nil || len(ended) != 1 || ended[0].Job.ID != dead.ID || ended[0].Cleanup != "/up/dead" {
		t.Fatalf("Expire = %+v, %v; want only the job whose lease ran out", ended, err)
	}
	if j := get(t, s, dead.ID); j.State != tarn.JobFailed || j.Error == nil || j.Error.Message != "its server died" || j.Finished == nil {
		t.Fatalf("expired job: %+v", j)
	}
	for _, j := range []*tarn.Job{alive, queued, renewed} {
		if got := get(t, s, j.ID); got.Done() {
			t.Fatalf("job %s (%s) was ended: %+v", j.ID, j.Summary, got)
		}
	}
	if ended, _ := s.Expire(ctx, jobs.ExpireOptions{Message: "again"}); len(ended) != 0 {
		t.Fatalf("a second Expire ended %+v", ended)
	}
	if r, _ := s.Renew(ctx, "dead", []string{dead.ID}, long); !slices.Equal(r.Lost, []string{dead.ID}) {
		t.Fatalf("the dead runner still holds its job: %+v", r)
	}
	ended, err = s.Expire(ctx, jobs.ExpireOptions{Message: "restarted", Abandoned: true, Except: "alive"})
	if err != nil || len(ended) != 0 {
		t.Fatalf("Abandoned except alive = %+v, %v", ended, err)
	}
	ended, err = s.Expire(ctx, jobs.ExpireOptions{Message: "restarted", Abandoned: true, Except: "new"})
	if err != nil || len(ended) != 2 {
		t.Fatalf("Abandoned except a new runner = %+v, %v; want alive's two jobs", ended, err)
	}
	if got := get(t, s, queued.ID); got.State != tarn.JobQueued {
		t.Fatalf("a queued job was ended: %+v", got)
	}
}

func testLogs(t *testing.T, newStore NewStore) {
	s, reopen := open(t, newStore)
	other := reopen()
	ctx := context.Background()
	j := job(1, "run")
	create(t, s, &jobs.Record{Job: j, Owner: "a"}, long)
	data, cursor, err := s.ReadLog(ctx, j.ID, 0)
	if err != nil || len(data) != 0 {
		t.Fatalf("empty log: %q, %v", data, err)
	}
	chunks := []string{"{\"n\":1}\n", "{\"n\":2}\n{\"n\":3}\n", "{\"n\":4}\n"}
	var all string
	for i, c := range chunks {
		if err := s.AppendLog(ctx, j.ID, []byte(c)); err != nil {
			t.Fatal(err)
		}
		all += c
		got, next, err := other.ReadLog(ctx, j.ID, cursor)
		if err != nil || string(got) != c {
			t.Fatalf("chunk %d read from the other handle = %q, %v; want %q", i, got, err, c)
		}
		cursor = next
	}
	if got, again, _ := other.ReadLog(ctx, j.ID, cursor); len(got) != 0 || again != cursor {
		t.Fatalf("read at the end = %q (cursor %d -> %d)", got, cursor, again)
	}
	if got, _, _ := s.ReadLog(ctx, j.ID, 0); string(got) != all {
		t.Fatalf("whole log = %q, want %q", got, all)
	}
}

func testPrune(t *testing.T, newStore NewStore) {
	s, _ := open(t, newStore)
	ctx := context.Background()
	for i := range 5 {
		j := job(i, "query")
		create(t, s, &jobs.Record{Job: j, Owner: "a"}, long)
		s.AppendLog(ctx, j.ID, []byte("{}\n"))
		if i != 1 {
			j.State = tarn.JobSucceeded
			if err := s.Update(ctx, "a", j); err != nil {
				t.Fatal(err)
			}
		}
	}
	n, err := s.Prune(ctx, 2)
	if err != nil || n != 2 {
		t.Fatalf("Prune(2) removed %d, %v; want the 2 oldest ended jobs", n, err)
	}
	list, _ := s.List(ctx)
	var ids []string
	for _, j := range list {
		ids = append(ids, j.ID)
	}
	want := []string{job(4, "").ID, job(3, "").ID, job(1, "").ID}
	if !slices.Equal(ids, want) {
		t.Fatalf("after Prune: %v, want %v (the unfinished job stays)", ids, want)
	}
	if _, err := s.Get(ctx, job(0, "").ID); tarn.ErrorCode(err) != tarn.ENOTFOUND {
		t.Fatalf("a pruned job: %v", err)
	}
}

// testCleanups: the folders of jobs that have not ended are listed; an
// ended job's is not.
func testCleanups(t *testing.T, newStore NewStore) {
	s, _ := open(t, newStore)
	ctx := context.Background()
	create(t, s, &jobs.Record{Job: job(1, "run"), Cleanup: "/up/queued"}, long)
	create(t, s, &jobs.Record{Job: job(2, "run"), Cleanup: "/up/claimed"}, long)
	create(t, s, &jobs.Record{Job: job(3, "run")}, long)
	ended := job(4, "query")
	create(t, s, &jobs.Record{Job: ended, Owner: "a", Cleanup: "/up/ended"}, long)
	ended.State = tarn.JobSucceeded
	if err := s.Update(ctx, "a", ended); err != nil {
		t.Fatal(err)
	}
	if r, _ := s.Claim(ctx, "a", []string{"run"}, long); r == nil || r.Cleanup != "/up/queued" {
		t.Fatalf("claim = %+v", r)
	}
	got, err := s.Cleanups(ctx)
	slices.Sort(got)
	if err != nil || !slices.Equal(got, []string{"/up/claimed", "/up/queued"}) {
		t.Fatalf("Cleanups = %v, %v", got, err)
	}
}
