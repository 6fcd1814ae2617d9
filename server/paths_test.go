package server_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tarnhq/tarn"
)

// TestServer_NoServerPaths: no error, job record or run event the server
// sends shows its home (nor the folder above it), whatever failed:
// imports, queries, exports, runs.
func TestServer_NoServerPaths(t *testing.T) {
	ts := newTestServer(t, nil)
	seen := ts.record()
	admin := ts.client(ts.adminToken)
	ctx := context.Background()
	ident := tarn.TableIdent{Namespace: "tarn", Name: "t"}
	good := ts.file("good.csv", "id,v\n1,2\n2,3\n")
	if _, err := admin.Tables.CreateTable(ctx, tarn.CreateTableRequest{Table: ident, Branch: "main", From: []string{good}}); err != nil {
		t.Fatal(err)
	}
	var errs []error
	fail := func(err error) {
		t.Helper()
		if err == nil {
			t.Fatal("expected an error")
		}
		errs = append(errs, err)
	}
	// Imports: a file that does not fit the table, one that is not CSV.
	_, err := admin.Tables.ImportTable(ctx, tarn.ImportRequest{Table: ident, Branch: "main", From: []string{ts.file("bad.csv", "id,v\nx,y,z\n")}})
	fail(err)
	_, err = admin.Tables.CreateTable(ctx, tarn.CreateTableRequest{Table: tarn.TableIdent{Namespace: "tarn", Name: "u"}, Branch: "main", From: []string{ts.file("bin.parquet", "not parquet")}})
	fail(err)
	// Queries and exports of a table whose data file is gone: DuckDB
	// names the file it cannot open. (A path a user types into SQL comes
	// back as they typed it; DuckDB cuts it, so this test types none.)
	files, _ := filepath.Glob(filepath.Join(ts.home, "warehouse", "tarn", "t", "data", "*.parquet"))
	imported, _ := filepath.Glob(filepath.Join(ts.home, "warehouse", "tarn", "t", "data", "*", "*.parquet")) // written by the engine
	files = append(files, imported...)
	if len(files) == 0 {
		t.Fatal("no data file to remove")
	}
	for _, f := range files {
		os.Remove(f)
	}
	_, err = admin.Query.Query(ctx, tarn.QueryRequest{SQL: "select * from t", Ref: "main"})
	fail(err)
	_, err = admin.Query.CopyTo(ctx, tarn.QueryRequest{SQL: "select * from t", Ref: "main"}, "csv", filepath.Join(ts.dir, "out.csv"))
	fail(err)
	// Runs: one whose model does not parse, one on a missing branch.
	project := filepath.Join(ts.dir, "project")
	os.MkdirAll(project, 0o755)
	os.WriteFile(filepath.Join(project, "tarn_project.yml"), []byte("name: p\n"), 0o644)
	os.WriteFile(filepath.Join(project, "m.py"), []byte("import tarn\n\n@tarn.model()\ndef m(:\n"), 0o644)
	_, err = admin.Runs.Run(ctx, tarn.RunRequest{ProjectDir: project, Ref: "main"}, nil)
	fail(err)
	_, err = admin.Runs.Run(ctx, tarn.RunRequest{ProjectDir: project, Ref: "nosuch"}, nil)
	fail(err)
	// A run job that failed with server paths in its error, result and
	// log (as a worker's traceback has them).
	id := "j20260101-000000-abcdef"
	where := filepath.Join(ts.home, "uploads", "up-1", "project", "m.py")
	job := tarn.Job{ID: id, Kind: "run", State: tarn.JobFailed, User: "root", Created: time.Now(),
		Error:  &tarn.JobError{Code: tarn.EINTERNAL, Message: "step m failed: " + where + ":3 and " + filepath.Join(ts.home, "envs", "k", "lib")},
		Result: &tarn.RunResult{Error: "in " + ts.home, Steps: []*tarn.StepReport{{Name: "m", Error: "/dev/shm/tarn-1-2/m/out.arrow: " + ts.home}}}}
	b, _ := json.Marshal(job)
	os.MkdirAll(filepath.Join(ts.home, "jobs", id), 0o755)
	os.WriteFile(filepath.Join(ts.home, "jobs", id, "job.json"), b, 0o644)
	ev, _ := json.Marshal(tarn.RunEvent{Kind: "log", Step: "m", Message: "Traceback: File \"" + where + "\", line 3"})
	os.WriteFile(filepath.Join(ts.home, "jobs", id, "events.ndjson"), append(ev, '\n'), 0o644)
	got, err := admin.Jobs.GetJob(ctx, id)
	if err != nil || !strings.Contains(got.Error.Message, "m.py:3") || !strings.Contains(got.Error.Message, "<server home>/envs") ||
		!strings.Contains(got.Result.Steps[0].Error, "<run scratch>/m/out.arrow") {
		t.Fatalf("job %v %+v", err, got)
	}
	var logs strings.Builder
	if err := admin.Jobs.JobLogs(ctx, id, false, &logs); err != nil || !strings.Contains(logs.String(), `File \"m.py\", line 3`) {
		t.Fatalf("logs %v %s", err, logs.String())
	}
	if _, err := admin.Jobs.ListJobs(ctx); err != nil {
		t.Fatal(err)
	}

	hidden := []string{ts.home, ts.dir}
	if real, err := filepath.EvalSymlinks(ts.dir); err == nil {
		hidden = append(hidden, real)
	}
	for _, err := range errs {
		for _, h := range hidden {
			if strings.Contains(err.Error(), h) {
				t.Errorf("an error shows %s: %s", h, err)
			}
		}
	}
	for _, ex := range seen() {
		if ex.status < 400 && !strings.HasPrefix(ex.path, "/v1/jobs") && !strings.HasPrefix(ex.path, "/v1/runs") {
			continue // table descriptions name their metadata files on purpose
		}
		for _, h := range hidden {
			if strings.Contains(string(ex.body), h) {
				t.Errorf("%s %d shows %s: %.300s", ex.path, ex.status, h, ex.body)
			}
		}
	}
}
