package server_test

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/tarnhq/tarn"
	"github.com/tarnhq/tarn/server"
)

// TestServer_JobVisibility: by default users see, follow and cancel only
// their own jobs (another user's answers 404 like an unknown id); admins
// see all; with VisibleAll everyone sees every job and cancelling stays
// with its owner and admins.
func TestServer_JobVisibility(t *testing.T) {
	for _, tc := range []struct {
		visibility server.Visibility
		bobSees    bool
		bobCancel  string // the code of bob's cancel of alice's job
	}{
		{"", false, tarn.ENOTFOUND},
		{server.VisibleOwn, false, tarn.ENOTFOUND},
		{server.VisibleAll, true, tarn.EFORBIDDEN},
	} {
		t.Run(string(tc.visibility), func(t *testing.T) {
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
