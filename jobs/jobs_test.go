package jobs

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/tarnhq/tarn"
)

func TestJobManager_Lifecycle(t *testing.T) {
	ctx := context.Background()
	m := New(t.TempDir())
	// A job that logs and succeeds; its log is kept.
	j, done, err := m.Start(ctx, tarn.JobSpec{Kind: "run", User: "u", Do: func(ctx context.Context, log func(tarn.RunEvent)) (*tarn.RunResult, error) {
		log(tarn.RunEvent{Kind: "info", Message: "hello"})
		return &tarn.RunResult{RunID: "r1"}, nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := m.JobLogs(ctx, j.ID, true, &buf); err != nil || !strings.Contains(buf.String(), "hello") {
		t.Fatalf("logs %q: %v", buf.String(), err)
	}
	<-done
	if got, _ := m.GetJob(ctx, j.ID); got.State != tarn.JobSucceeded || got.Result.RunID != "r1" || got.Started == nil || got.Finished == nil {
		t.Fatalf("job %+v", got)
	}
	// A failing job keeps its error code.
	j, done, _ = m.Start(ctx, tarn.JobSpec{Kind: "import", Do: func(context.Context, func(tarn.RunEvent)) (*tarn.RunResult, error) {
		return nil, tarn.Errorf(tarn.EINVALID, "bad file")
	}})
	<-done
	if got, _ := m.GetJob(ctx, j.ID); got.State != tarn.JobFailed || got.Error.Code != tarn.EINVALID {
		t.Fatalf("job %+v", got)
	}
	// Cancel stops a running job; a second cancel says it has ended.
	started := make(chan struct{})
	j, _, _ = m.Start(ctx, tarn.JobSpec{Kind: "run", Serial: true, Do: func(ctx context.Context, _ func(tarn.RunEvent)) (*tarn.RunResult, error) {
		close(started)
		<-ctx.Done()
		return nil, ctx.Err()
	}})
	<-started
	if got, err := m.CancelJobAs(ctx, j.ID, "ann"); err != nil || got.State != tarn.JobCancelled || got.Error.Code != tarn.ECANCELLED ||
		got.Error.Message != "cancelled by ann (`tarn job cancel`); nothing was published" {
		t.Fatalf("cancel: %+v %+v %v", got, got.Error, err)
	}
	if _, err := m.CancelJob(ctx, j.ID); tarn.ErrorCode(err) != tarn.ECONFLICT {
		t.Fatalf("second cancel: %v", err)
	}
	// Unknown and malformed ids are not found.
	for _, id := range []string{"j20260101-000000-abcdef", "../users.json", ""} {
		if _, err := m.GetJob(ctx, id); tarn.ErrorCode(err) != tarn.ENOTFOUND {
			t.Fatalf("GetJob(%q) = %v", id, err)
		}
	}
	// Track returns the work's error.
	want := errors.New("boom")
	if err := m.Track(ctx, tarn.JobSpec{Kind: "query"}, func(context.Context) error { return want }); !errors.Is(err, want) {
		t.Fatalf("Track = %v", err)
	}
	// A tracked job whose caller goes away ends cancelled, and says so.
	cctx, stop := context.WithCancel(ctx)
	err = m.Track(cctx, tarn.JobSpec{Kind: "query"}, func(ctx context.Context) error {
		stop()
		<-ctx.Done()
		return ctx.Err()
	})
	if tarn.ErrorCode(err) != tarn.ECANCELLED || !strings.Contains(err.Error(), "client went away") {
		t.Fatalf("Track after its caller left = %v", err)
	}
	if jobs, _ := m.ListJobs(ctx); jobs[0].State != tarn.JobCancelled || jobs[0].Error.Code != tarn.ECANCELLED {
		t.Fatalf("job %+v", jobs[0])
	}
	// Prune keeps the newest.
	time.Sleep(10 * time.Millisecond)
	if n, err := m.Prune(ctx, 2); err != nil || n != 3 {
		t.Fatalf("prune removed %d: %v", n, err)
	}
	if jobs, _ := m.ListJobs(ctx); len(jobs) != 2 {
		t.Fatalf("%d jobs after prune", len(jobs))
	}
}

func TestJobManager_Recover(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	m := New(dir)
	j := &tarn.Job{ID: newJobID(), Kind: "run", State: tarn.JobRunning, Created: time.Now()}
	if err := m.save(j); err != nil {
		t.Fatal(err)
	}
	if n, err := New(dir).Recover(ctx); err != nil || n != 1 {
		t.Fatalf("recover %d %v", n, err)
	}
	got, _ := m.GetJob(ctx, j.ID)
	if got.State != tarn.JobFailed || !strings.Contains(got.Error.Message, "nothing was published") {
		t.Fatalf("recovered %+v", got)
	}
}
