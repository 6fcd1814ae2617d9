package jobstest

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tarnhq/tarn"
	"github.com/tarnhq/tarn/jobs"
)

// runManager runs the cases of jobs.Manager over the store: one runner,
// then two runners sharing the store as two servers do.
func runManager(t *testing.T, newStore NewStore) {
	t.Run("Lifecycle", func(t *testing.T) { testLifecycle(t, newStore) })
	t.Run("Track", func(t *testing.T) { testTrack(t, newStore) })
	t.Run("CancelQueued", func(t *testing.T) { testCancelQueued(t, newStore) })
	t.Run("MaxRuns", func(t *testing.T) { testMaxRuns(t, newStore) })
	t.Run("TwoRunners", func(t *testing.T) { testTwoRunners(t, newStore) })
	t.Run("DeadRunner", func(t *testing.T) { testDeadRunner(t, newStore) })
	t.Run("Recover", func(t *testing.T) { testRecover(t, newStore) })
	t.Run("Uploads", func(t *testing.T) { testUploads(t, newStore) })
	t.Run("Panic", func(t *testing.T) { testPanic(t, newStore) })
}

// testLease keeps the suite quick: leases and polls of a fast server.
const testLease = 1500 * time.Millisecond

func manager(t *testing.T, s jobs.Store, opts jobs.Options) *jobs.Manager {
	t.Helper()
	if opts.Lease == 0 {
		opts.Lease = testLease
	}
	m := jobs.New(s, opts)
	t.Cleanup(func() { m.Wait(5 * time.Second) })
	return m
}

// waitJob polls until the job is in one of states.
func waitJob(t *testing.T, m *jobs.Manager, id string, within time.Duration, states ...string) *tarn.Job {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		j, err := m.GetJob(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range states {
			if j.State == s {
				return j
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("job %s is %s after %s, want %v", id, j.State, within, states)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// blocking is a handler whose jobs run until released or cancelled, and
// that counts how often each job ran and where.
type blocking struct {
	mu      sync.Mutex
	ran     map[string][]string // job id -> runners
	running atomic.Int32
	most    atomic.Int32
	release chan struct{}
}

func newBlocking() *blocking {
	return &blocking{ran: map[string][]string{}, release: make(chan struct{})}
}

func (b *blocking) work(runner string) tarn.JobWork {
	return func(ctx context.Context, input []byte, log func(tarn.RunEvent)) (*tarn.RunResult, error) {
		b.mu.Lock()
		id := tarn.JobIDFromContext(ctx)
		b.ran[id] = append(b.ran[id], runner)
		b.mu.Unlock()
		n := b.running.Add(1)
		defer b.running.Add(-1)
		for m := b.most.Load(); n > m && !b.most.CompareAndSwap(m, n); m = b.most.Load() {
		}
		log(tarn.RunEvent{Kind: tarn.EventInfo, Message: "started on " + runner + " with " + string(input)})
		select {
		case <-b.release:
			return &tarn.RunResult{RunID: "r-" + id}, nil
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

func (b *blocking) runners(id string) []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.ran[id]...)
}

func start(t *testing.T, m *jobs.Manager, input string) *tarn.Job {
	t.Helper()
	j, err := m.Start(context.Background(), tarn.JobSpec{Kind: "run", User: "ann", Ref: "main", Summary: "tarn run", Input: []byte(input)})
	if err != nil {
		t.Fatal(err)
	}
	return j
}

func testLifecycle(t *testing.T, newStore NewStore) {
	s, _ := open(t, newStore)
	m := manager(t, s, jobs.Options{})
	ctx := context.Background()
	m.Handle("run", func(ctx context.Context, input []byte, log func(tarn.RunEvent)) (*tarn.RunResult, error) {
		log(tarn.RunEvent{Kind: tarn.EventInfo, Message: "hello " + string(input)})
		switch string(input) {
		case "fail":
			return nil, tarn.Errorf(tarn.EINVALID, "bad file")
		case "wait":
			<-ctx.Done()
			return nil, ctx.Err()
		}
		return &tarn.RunResult{RunID: "r1"}, nil
	})
	// A job that logs and succeeds; its log is kept.
	j := start(t, m, "world")
	var buf bytes.Buffer
	if err := m.JobLogs(ctx, j.ID, true, &buf); err != nil || !strings.Contains(buf.String(), "hello world") || !strings.Contains(buf.String(), `"kind":"job"`) {
		t.Fatalf("logs %q: %v", buf.String(), err)
	}
	if got, _ := m.GetJob(ctx, j.ID); got.State != tarn.JobSucceeded || got.Result == nil || got.Result.RunID != "r1" || got.Started == nil || got.Finished == nil {
		t.Fatalf("job %+v", got)
	}
	// A failing job keeps its error code.
	j = start(t, m, "fail")
	if got := waitJob(t, m, j.ID, 10*time.Second, tarn.JobFailed); got.Error == nil || got.Error.Code != tarn.EINVALID || got.Error.Message != "bad file" {
		t.Fatalf("failed job %+v", got.Error)
	}
	// Cancel stops a running job; a second cancel says it has ended.
	j = start(t, m, "wait")
	waitJob(t, m, j.ID, 10*time.Second, tarn.JobRunning)
	got, err := m.CancelJobAs(ctx, j.ID, "ann")
	if err != nil || got.State != tarn.JobCancelled || got.Error == nil || got.Error.Code != tarn.ECANCELLED ||
		got.Error.Message != "cancelled by ann (`tarn job cancel`); nothing was published" {
		t.Fatalf("cancel: %+v %v", got, err)
	}
	if _, err := m.CancelJob(ctx, j.ID); tarn.ErrorCode(err) != tarn.ECONFLICT {
		t.Fatalf("second cancel: %v", err)
	}
	for _, id := range []string{"j20260101-000000-abcdef", "../users.json", ""} {
		if _, err := m.GetJob(ctx, id); tarn.ErrorCode(err) != tarn.ENOTFOUND {
			t.Fatalf("GetJob(%q) = %v", id, err)
		}
	}
	if _, err := m.SubmitRun(ctx, tarn.RunRequest{}); tarn.ErrorCode(err) != tarn.EINVALID {
		t.Fatalf("SubmitRun: %v", err)
	}
}

func testTrack(t *testing.T, newStore NewStore) {
	s, reopen := open(t, newStore)
	a := manager(t, s, jobs.Options{})
	b := manager(t, reopen(), jobs.Options{})
	ctx := context.Background()
	// Track returns the work's error.
	want := errors.New("boom")
	if err := a.Track(ctx, tarn.JobSpec{Kind: "query"}, func(context.Context) error { return want }); !errors.Is(err, want) {
		t.Fatalf("Track = %v", err)
	}
	// A tracked job whose caller goes away ends cancelled, and says so.
	cctx, stop := context.WithCancel(ctx)
	err := a.Track(cctx, tarn.JobSpec{Kind: "query"}, func(ctx context.Context) error {
		stop()
		<-ctx.Done()
		return ctx.Err()
	})
	if tarn.ErrorCode(err) != tarn.ECANCELLED || !strings.Contains(err.Error(), "client went away") {
		t.Fatalf("Track after its caller left = %v", err)
	}
	list, _ := a.ListJobs(ctx)
	if list[0].State != tarn.JobCancelled || list[0].Error.Code != tarn.ECANCELLED {
		t.Fatalf("job %+v", list[0])
	}
	// A query on one runner cancelled through the other.
	ids := make(chan string, 1)
	go func() {
		for {
			list, _ := b.ListJobs(ctx)
			if len(list) > 0 && list[0].State == tarn.JobRunning {
				ids <- list[0].ID
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
	}()
	slots := make(chan struct{}, 1)
	err = a.Track(ctx, tarn.JobSpec{Kind: "query", Slots: slots}, func(ctx context.Context) error {
		id := <-ids
		go b.CancelJobAs(context.Background(), id, "bob")
		<-ctx.Done()
		return ctx.Err()
	})
	if tarn.ErrorCode(err) != tarn.ECANCELLED || !strings.Contains(err.Error(), "cancelled by bob") {
		t.Fatalf("Track cancelled from the other runner = %v", err)
	}
}

func testCancelQueued(t *testing.T, newStore NewStore) {
	s, _ := open(t, newStore)
	m := manager(t, s, jobs.Options{}) // no handler: nothing runs
	ctx := context.Background()
	upload := t.TempDir()
	os.WriteFile(filepath.Join(upload, "project.tar.gz"), []byte("x"), 0o644)
	j, err := m.Start(ctx, tarn.JobSpec{Kind: "run", Input: []byte("{}"), Cleanup: upload})
	if err != nil || j.State != tarn.JobQueued {
		t.Fatalf("start: %+v, %v", j, err)
	}
	got, err := m.CancelJobAs(ctx, j.ID, "ann")
	if err != nil || got.State != tarn.JobCancelled || got.Error == nil ||
		got.Error.Message != "cancelled by ann (`tarn job cancel`) before it started; nothing was published" || got.Started != nil {
		t.Fatalf("cancel of a queued job: %+v %+v %v", got, got.Error, err)
	}
	if _, err := os.Stat(upload); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the cancelled job's upload is still there: %v", err)
	}
	var buf bytes.Buffer
	m.JobLogs(ctx, j.ID, true, &buf)
	if !strings.Contains(buf.String(), `"state":"cancelled"`) {
		t.Fatalf("log of a job cancelled in the queue: %q", buf.String())
	}
}

// testMaxRuns: a runner runs at most MaxRuns queued jobs at once; the
// others wait queued, in order, and run when a slot frees.
func testMaxRuns(t *testing.T, newStore NewStore) {
	s, _ := open(t, newStore)
	m := manager(t, s, jobs.Options{MaxRuns: 2})
	b := newBlocking()
	m.Handle("run", b.work("a"))
	var started []*tarn.Job
	for range 3 {
		started = append(started, start(t, m, "{}"))
	}
	waitJob(t, m, started[0].ID, 10*time.Second, tarn.JobRunning)
	waitJob(t, m, started[1].ID, 10*time.Second, tarn.JobRunning)
	time.Sleep(300 * time.Millisecond)
	if j, _ := m.GetJob(context.Background(), started[2].ID); j.State != tarn.JobQueued {
		t.Fatalf("the third job is %s with 2 slots taken", j.State)
	}
	close(b.release)
	for _, j := range started {
		waitJob(t, m, j.ID, 10*time.Second, tarn.JobSucceeded)
	}
	if most := b.most.Load(); most != 2 {
		t.Fatalf("%d jobs ran at once with MaxRuns 2", most)
	}
}

// testTwoRunners: two servers on one store. Runs queued on either run
// once each, spread over both; one queued on a runner that does not run
// jobs is done by the other; its log is followed and it is cancelled
// from the runner that queued it.
func testTwoRunners(t *testing.T, newStore NewStore) {
	s, reopen := open(t, newStore)
	ctx := context.Background()
	a := manager(t, s, jobs.Options{Owner: "a"})
	b := manager(t, reopen(), jobs.Options{Owner: "b"})
	work := newBlocking()
	a.Handle("run", work.work("a"))
	b.Handle("run", work.work("b"))
	first, second := start(t, a, "1"), start(t, b, "2")
	waitJob(t, a, first.ID, 10*time.Second, tarn.JobRunning)
	waitJob(t, b, second.ID, 10*time.Second, tarn.JobRunning)
	ranOn := work.runners(first.ID)[0] + work.runners(second.ID)[0]
	if ranOn != "ab" && ranOn != "ba" {
		t.Fatalf("two runs on two runners with one slot each ran on %q", ranOn)
	}
	close(work.release)
	for _, j := range []*tarn.Job{first, second} {
		waitJob(t, b, j.ID, 10*time.Second, tarn.JobSucceeded)
		if ran := work.runners(j.ID); len(ran) != 1 {
			t.Fatalf("job %s ran %d times (%v)", j.ID, len(ran), ran)
		}
	}

	// c queues, a2 runs; c follows and cancels.
	a.Close()
	b.Close()
	c := manager(t, reopen(), jobs.Options{Owner: "c"})
	held := newBlocking()
	a2 := manager(t, reopen(), jobs.Options{Owner: "a2"})
	a2.Handle("run", held.work("a2"))
	j := start(t, c, "3")
	waitJob(t, c, j.ID, 10*time.Second, tarn.JobRunning)
	logs := make(chan string, 1)
	go func() {
		var buf bytes.Buffer
		c.JobLogs(ctx, j.ID, true, &buf)
		logs <- buf.String()
	}()
	started := time.Now()
	got, err := c.CancelJobAs(ctx, j.ID, "bob")
	if err != nil || got.State != tarn.JobCancelled || !strings.Contains(got.Error.Message, "cancelled by bob") {
		t.Fatalf("cancel through another runner: %+v %v", got, err)
	}
	if d := time.Since(started); d > 5*time.Second {
		t.Fatalf("cancel through another runner took %s", d)
	}
	if log := <-logs; !strings.Contains(log, "started on a2 with 3") || !strings.Contains(log, `"state":"cancelled"`) {
		t.Fatalf("log followed from the runner that queued the job: %q", log)
	}
}

// testDeadRunner: a job held by a runner that no longer renews its lease
// (killed) is ended as failed by another runner once the lease has run
// out, not before.
func testDeadRunner(t *testing.T, newStore NewStore) {
	s, reopen := open(t, newStore)
	ctx := context.Background()
	j := job(1, "run")
	j.State = tarn.JobRunning
	created := time.Now()
	create(t, s, &jobs.Record{Job: j, Owner: "killed"}, testLease)
	other := manager(t, reopen(), jobs.Options{Owner: "survivor"})
	other.Handle("run", newBlocking().work("survivor"))
	got := waitJob(t, other, j.ID, 4*testLease, tarn.JobFailed)
	if d := time.Since(created); d < testLease {
		t.Fatalf("the job was ended after %s, before its lease (%s) ran out", d, testLease)
	}
	if got.Error == nil || !strings.Contains(got.Error.Message, "stopped renewing its lease") || !strings.Contains(got.Error.Message, "nothing was published") {
		t.Fatalf("job of a dead runner: %+v", got.Error)
	}
	if _, err := other.CancelJob(ctx, j.ID); tarn.ErrorCode(err) != tarn.ECONFLICT {
		t.Fatalf("cancel of the ended job: %v", err)
	}
}

// testRecover: a server that is alone on its store ends, at its start,
// the jobs its previous life held; queued jobs stay queued.
func testRecover(t *testing.T, newStore NewStore) {
	s, _ := open(t, newStore)
	ctx := context.Background()
	held, queued := job(1, "run"), job(2, "run")
	held.State = tarn.JobRunning
	create(t, s, &jobs.Record{Job: held, Owner: "before"}, time.Hour)
	create(t, s, &jobs.Record{Job: queued}, time.Hour)
	m := manager(t, s, jobs.Options{})
	if n, err := m.Recover(ctx); err != nil || n != 1 {
		t.Fatalf("Recover = %d, %v", n, err)
	}
	if got, _ := m.GetJob(ctx, held.ID); got.State != tarn.JobFailed || !strings.Contains(got.Error.Message, "nothing was published") {
		t.Fatalf("recovered %+v", got)
	}
	if got, _ := m.GetJob(ctx, queued.ID); got.State != tarn.JobQueued {
		t.Fatalf("queued job after Recover: %+v", got)
	}
}

// bucketUploads is a jobs.Uploads of locations bucket://NAME, which
// records what is removed.
type bucketUploads struct {
	mu      sync.Mutex
	removed map[string]int
}

func (b *bucketUploads) Owns(loc string) bool { return strings.HasPrefix(loc, "bucket://") }

func (b *bucketUploads) Remove(ctx context.Context, loc string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.removed[loc]++
	return nil
}

func (b *bucketUploads) count(loc string) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.removed[loc]
}

// testUploads: a job's upload (its Cleanup) is removed however the job
// ends: succeeded, failed, cancelled while queued, or ended by another
// runner once its own stopped renewing its lease; a location no Uploads
// owns is left alone (gc's).
func testUploads(t *testing.T, newStore NewStore) {
	s, reopen := open(t, newStore)
	ctx := context.Background()
	up := &bucketUploads{removed: map[string]int{}}
	dead := job(1, "run")
	dead.State = tarn.JobRunning
	folder := filepath.Join(t.TempDir(), "up-dead")
	if err := os.Mkdir(folder, 0o700); err != nil {
		t.Fatal(err)
	}
	create(t, s, &jobs.Record{Job: dead, Owner: "killed", Cleanup: "bucket://dead"}, testLease)
	deadFolder := job(2, "run")
	deadFolder.State = tarn.JobRunning
	create(t, s, &jobs.Record{Job: deadFolder, Owner: "killed", Cleanup: folder}, testLease)

	m := manager(t, reopen(), jobs.Options{Owner: "survivor", Uploads: up})
	queue := func(input, cleanup string) *tarn.Job {
		t.Helper()
		j, err := m.Start(ctx, tarn.JobSpec{Kind: "run", User: "ann", Ref: "main", Summary: "tarn run", Input: []byte(input), Cleanup: cleanup})
		if err != nil {
			t.Fatal(err)
		}
		return j
	}
	// Queued before any handler: cancelled in the queue.
	cancelled := queue("never", "bucket://cancelled")
	if j, err := m.CancelJob(ctx, cancelled.ID); err != nil || j.State != tarn.JobCancelled {
		t.Fatalf("cancel queued: %+v, %v", j, err)
	}
	m.Handle("run", func(ctx context.Context, input []byte, log func(tarn.RunEvent)) (*tarn.RunResult, error) {
		if string(input) == "fail" {
			return nil, errors.New("boom")
		}
		return &tarn.RunResult{}, nil
	})
	ok, failed, foreign := queue("ok", "bucket://ok"), queue("fail", "bucket://failed"), queue("ok", "elsewhere://x")
	waitJob(t, m, ok.ID, 5*time.Second, tarn.JobSucceeded)
	waitJob(t, m, failed.ID, 5*time.Second, tarn.JobFailed)
	waitJob(t, m, foreign.ID, 5*time.Second, tarn.JobSucceeded)
	waitJob(t, m, dead.ID, 4*testLease, tarn.JobFailed)
	waitJob(t, m, deadFolder.ID, 4*testLease, tarn.JobFailed)
	deadline := time.Now().Add(2 * time.Second)
	for _, loc := range []string{"bucket://cancelled", "bucket://ok", "bucket://failed", "bucket://dead"} {
		for up.count(loc) == 0 && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond) // the record is saved before the upload goes
		}
		if n := up.count(loc); n != 1 {
			t.Errorf("upload %s removed %d times, want once", loc, n)
		}
	}
	for time.Now().Before(deadline) {
		if _, err := os.Stat(folder); os.IsNotExist(err) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if _, err := os.Stat(folder); !os.IsNotExist(err) {
		t.Errorf("the upload folder of a dead runner's job is still there (%v)", err)
	}
	if n := up.count("elsewhere://x"); n != 0 {
		t.Errorf("an upload the runner does not own was given to Remove")
	}
}

// testPanic: work that panics fails its job with an internal error that
// names the panic, its stack goes to the manager's log, and the runner
// goes on: the slot is free for the next job (MaxRuns 1), and the job
// ended once.
func testPanic(t *testing.T, newStore NewStore) {
	s, _ := open(t, newStore)
	serverLog, err := os.Create(filepath.Join(t.TempDir(), "server.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer serverLog.Close()
	m := manager(t, s, jobs.Options{MaxRuns: 1, Log: serverLog})
	ctx := context.Background()
	m.Handle("run", func(ctx context.Context, input []byte, log func(tarn.RunEvent)) (*tarn.RunResult, error) {
		if string(input) == "panic" {
			var steps map[string]int
			steps["boom"]++ // a nil map: a bug
		}
		return &tarn.RunResult{RunID: "r1"}, nil
	})
	j := start(t, m, "panic")
	got := waitJob(t, m, j.ID, 10*time.Second, tarn.JobFailed, tarn.JobSucceeded)
	want := "internal error: the run job " + j.ID + " panicked: assignment to entry in nil map (a bug in tarn: please report it"
	if got.State != tarn.JobFailed || got.Error == nil || got.Error.Code != tarn.EINTERNAL || !strings.HasPrefix(got.Error.Message, want) {
		t.Fatalf("job %s %+v, want failed with %q", got.State, got.Error, want)
	}
	var buf bytes.Buffer
	if err := m.JobLogs(ctx, j.ID, false, &buf); err != nil || strings.Count(buf.String(), `"kind":"job"`) != 1 {
		t.Fatalf("the job's log %q (%v), want one end", buf.String(), err)
	}
	if log, _ := os.ReadFile(serverLog.Name()); !bytes.Contains(log, []byte("job "+j.ID+" panicked: assignment to entry in nil map")) || !bytes.Contains(log, []byte("goroutine ")) {
		t.Fatalf("the server's log has no stack of the panic: %q", log)
	}
	j = start(t, m, "fine")
	if got := waitJob(t, m, j.ID, 10*time.Second, tarn.JobFailed, tarn.JobSucceeded); got.State != tarn.JobSucceeded {
		t.Fatalf("the run after a panic: %s %+v", got.State, got.Error)
	}
	// A tracked job (a query) panics in the caller's goroutine: Track
	// returns the error, and the query's slot is free again.
	slots := make(chan struct{}, 1)
	err = m.Track(ctx, tarn.JobSpec{Kind: "query", Slots: slots}, func(context.Context) error {
		var columns []string
		_ = columns[3]
		return nil
	})
	if tarn.ErrorCode(err) != tarn.EINTERNAL || !strings.Contains(err.Error(), "panicked: runtime error: index out of range") {
		t.Fatalf("Track of work that panics = %v", err)
	}
	list, _ := m.ListJobs(ctx)
	if list[0].Kind != "query" || list[0].State != tarn.JobFailed || !strings.Contains(list[0].Error.Message, "a bug in tarn") {
		t.Fatalf("the tracked job %+v", list[0])
	}
	if err := m.Track(ctx, tarn.JobSpec{Kind: "query", Slots: slots}, func(context.Context) error { return nil }); err != nil {
		t.Fatalf("Track after a panic = %v", err)
	}
}
