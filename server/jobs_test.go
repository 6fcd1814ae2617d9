package server_test

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tarnhq/tarn"
	"github.com/tarnhq/tarn/api"
	"github.com/tarnhq/tarn/local"
	"github.com/tarnhq/tarn/query"
	"github.com/tarnhq/tarn/server"
)

// TestServer_JobVisibility: by default users see, follow and cancel only
// their own jobs (another user's answers 404 like an unknown id); admins
// see all; with VisibleAll everyone sees every job and cancelling stays
// with its owner and admins.
func TestServer_JobVisibility(t *testing.T) {
	for _, tc := range []struct {
		name       string
		visibility server.Visibility
		bobSees    bool
		bobCancel  string // the code of bob's cancel of alice's job
	}{
		{"Default", "", false, tarn.ENOTFOUND},
		{"Own", server.VisibleOwn, false, tarn.ENOTFOUND},
		{"All", server.VisibleAll, true, tarn.EFORBIDDEN},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ts := newTestServer(t, func(s *server.Server) { s.JobVisibility = tc.visibility })
			ctx := context.Background()
			_, bobToken, err := ts.lake.Users().AddUser(ctx, tarn.NewUser{Name: "bob"})
			if err != nil {
				t.Fatal(err)
			}
			bob := ts.client(bobToken)
			res, err := ts.alice.Query.Query(ctx, tarn.QueryRequest{SQL: "select 42 as alices_secret", Ref: "main"})
			if err != nil {
				t.Fatal(err)
			}
			for res.Records.Next() {
			}
			res.Close()
			jobs, err := ts.alice.Jobs.ListJobs(ctx)
			if err != nil || len(jobs) != 1 || !strings.Contains(jobs[0].Summary, "alices_secret") {
				t.Fatalf("alice's jobs: %v %+v", err, jobs)
			}
			id := jobs[0].ID
			if all, err := ts.admin.Jobs.ListJobs(ctx); err != nil || len(all) != 1 {
				t.Fatalf("the admin sees %d jobs (%v), want alice's", len(all), err)
			}
			if _, err := ts.admin.Jobs.GetJob(ctx, id); err != nil {
				t.Fatal(err)
			}

			listed, err := bob.Jobs.ListJobs(ctx)
			if err != nil || (len(listed) == 1) != tc.bobSees {
				t.Fatalf("bob lists %+v (%v)", listed, err)
			}
			_, getErr := bob.Jobs.GetJob(ctx, id)
			var logs bytes.Buffer
			logErr := bob.Jobs.JobLogs(ctx, id, false, &logs)
			_, cancelErr := bob.Jobs.CancelJob(ctx, id)
			if tc.bobSees {
				if getErr != nil || logErr != nil {
					t.Fatalf("bob cannot see alice's job: %v / %v", getErr, logErr)
				}
				wantErr(t, cancelErr, tarn.EFORBIDDEN, "belongs to \"alice\"")
				return
			}
			// Exactly what an unknown job answers.
			_, unknownErr := bob.Jobs.GetJob(ctx, "j20200101-000000-abcdef")
			want := strings.ReplaceAll(unknownErr.Error(), "j20200101-000000-abcdef", id)
			for _, err := range []error{getErr, logErr, cancelErr} {
				wantErr(t, err, tc.bobCancel)
				if err.Error() != want {
					t.Fatalf("bob's error %q, want the unknown job's %q", err, want)
				}
			}
			if strings.Contains(logs.String(), "alices_secret") {
				t.Fatal("bob read alice's log")
			}
		})
	}
}

// waitJob waits until the newest job satisfies ok.
func waitJob(t *testing.T, svc *tarn.Services, ok func(*tarn.Job) bool) *tarn.Job {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		jobs, err := svc.Jobs.ListJobs(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if len(jobs) > 0 && ok(jobs[0]) {
			return jobs[0]
		}
		if time.Now().After(deadline) {
			t.Fatalf("no such job: %+v", jobs)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// slowSQL runs for many seconds unless stopped.
const slowSQL = "select sum(range * 2) as s from range(20000000000)"

// TestServer_QueryCancelled: a query stopped by `tarn job cancel` or by
// its client going away ends cancelled (code cancelled), and the client
// that asked gets 409 with that code, not a server error.
func TestServer_QueryCancelled(t *testing.T) {
	ts := newTestServer(t, nil)
	ctx := context.Background()
	cancelNewest := func() *tarn.Job {
		j := waitJob(t, ts.alice, func(j *tarn.Job) bool { return j.State == tarn.JobRunning })
		if _, err := ts.admin.Jobs.CancelJob(ctx, j.ID); err != nil {
			t.Fatal(err)
		}
		return j
	}
	t.Run("JobCancel", func(t *testing.T) {
		type answer struct {
			status int
			body   api.ErrorBody
		}
		answers := make(chan answer, 1)
		go func() {
			code, eb := ts.raw("POST", "/v1/query", ts.aliceToken, "application/json", strings.NewReader(`{"sql":"`+slowSQL+`","ref":"main"}`))
			answers <- answer{code, eb}
		}()
		j := cancelNewest()
		a := <-answers
		if a.status != 409 || a.body.Error.Code != tarn.ECANCELLED || !strings.Contains(a.body.Error.Message, "cancelled by root") {
			t.Fatalf("the client got %d %+v", a.status, a.body)
		}
		got, _ := ts.admin.Jobs.GetJob(ctx, j.ID)
		if got.State != tarn.JobCancelled || got.Error.Code != tarn.ECANCELLED || !strings.Contains(got.Error.Message, "cancelled by root") {
			t.Fatalf("job %+v %+v", got, got.Error)
		}
		// The Go client returns the code.
		errs := make(chan error, 1)
		go func() {
			_, err := ts.alice.Query.Query(ctx, tarn.QueryRequest{SQL: slowSQL, Ref: "main"})
			errs <- err
		}()
		cancelNewest()
		wantErr(t, <-errs, tarn.ECANCELLED, "cancelled by root")
	})
	t.Run("ClientGone", func(t *testing.T) {
		qctx, cancel := context.WithCancel(ctx)
		errs := make(chan error, 1)
		go func() {
			_, err := ts.alice.Query.Query(qctx, tarn.QueryRequest{SQL: slowSQL, Ref: "main"})
			errs <- err
		}()
		waitJob(t, ts.alice, func(j *tarn.Job) bool { return j.State == tarn.JobRunning })
		cancel()
		<-errs
		j := waitJob(t, ts.alice, func(j *tarn.Job) bool { return j.Done() })
		if j.State != tarn.JobCancelled || j.Error.Code != tarn.ECANCELLED || !strings.Contains(j.Error.Message, "client went away") {
			t.Fatalf("job %+v %+v", j, j.Error)
		}
	})
}

// TestServer_MaxQueries: queries beyond MaxQueries wait queued, and run
// when a slot frees.
func TestServer_MaxQueries(t *testing.T) {
	ts := newTestServer(t, func(s *server.Server) { s.MaxQueries = 1 })
	ctx := context.Background()
	slow := make(chan error, 1)
	go func() {
		_, err := ts.alice.Query.Query(ctx, tarn.QueryRequest{SQL: slowSQL, Ref: "main"})
		slow <- err
	}()
	first := waitJob(t, ts.admin, func(j *tarn.Job) bool { return j.State == tarn.JobRunning })
	quick := make(chan error, 1)
	go func() {
		_, err := ts.admin.Query.CopyTo(ctx, tarn.QueryRequest{SQL: "select 1 as one", Ref: "main"}, "csv", filepath.Join(ts.dir, "one.csv"))
		quick <- err
	}()
	second := waitJob(t, ts.admin, func(j *tarn.Job) bool { return j.ID != first.ID })
	time.Sleep(200 * time.Millisecond)
	if j, _ := ts.admin.Jobs.GetJob(ctx, second.ID); j.State != tarn.JobQueued {
		t.Fatalf("the second query is %s while the first runs, want queued", j.State)
	}
	if _, err := ts.admin.Jobs.CancelJob(ctx, first.ID); err != nil {
		t.Fatal(err)
	}
	wantErr(t, <-slow, tarn.ECANCELLED)
	if err := <-quick; err != nil {
		t.Fatalf("the queued export: %v", err)
	}
}

// TestServer_QueryLimits: a result over the server's limit fails with
// the limit's message, before or after its first bytes were sent.
func TestServer_QueryLimits(t *testing.T) {
	ts := newTestServerWith(t, func(c *local.Config) {
		c.QueryLimits = query.Limits{Memory: 256 << 20, Result: 1 << 20, Export: 1 << 20}
	}, nil)
	ctx := context.Background()
	res, err := ts.alice.Query.Query(ctx, tarn.QueryRequest{SQL: "select range from range(10000000)", Ref: "main"})
	if err == nil {
		for res.Records.Next() {
		}
		err = res.Records.Err()
		res.Close()
	}
	wantErr(t, err, tarn.EINVALID, "limit of 1.0 MiB", "--max-result")
	_, err = ts.alice.Query.CopyTo(ctx, tarn.QueryRequest{SQL: "select range from range(10000000)", Ref: "main"}, "csv", filepath.Join(ts.dir, "big.csv"))
	wantErr(t, err, tarn.EINVALID, "limit of 1.0 MiB", "--max-export")
	if j := waitJob(t, ts.alice, func(j *tarn.Job) bool { return j.Done() }); j.State != tarn.JobFailed || j.Error.Code != tarn.EINVALID {
		t.Fatalf("job %+v", j)
	}
}
