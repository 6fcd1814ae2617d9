package main

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

type gcReport struct {
	DryRun       bool  `json:"dry_run"`
	Files        int   `json:"files"`
	Referenced   int   `json:"referenced"`
	RemovedBytes int64 `json:"removed_bytes"`
	Unreachable  int   `json:"unreachable_commits"`
	Removed      []struct {
		Path string `json:"path"`
		Kind string `json:"kind"`
	} `json:"removed"`
}

// TestCLI_GC: a dropped table's files are listed by a dry run, removed by
// gc, and history stays verifiable; bad ages are refused.
func TestCLI_GC(t *testing.T) {
	l := newLakehouse(t)
	l.write("a.csv", csvRows(0, 10))
	l.ok("table", "create", "keep", "--from", "a.csv")
	l.ok("table", "create", "gone", "--from", "a.csv")
	var rep gcReport
	l.json(&rep, "gc", "--older-than", "0s", "--dry-run")
	if len(rep.Removed) != 0 || !rep.DryRun || rep.Referenced != rep.Files {
		t.Fatalf("nothing to collect, got %+v", rep)
	}
	// A dropped table stays reachable from main's history: kept.
	l.ok("table", "drop", "gone")
	l.json(&rep, "gc", "--older-than", "0s")
	if len(rep.Removed) != 0 {
		t.Fatalf("gc removed files main's history reaches: %+v", rep.Removed)
	}
	// Created on a branch that is then deleted: unreachable, collected.
	l.ok("branch", "create", "tmp")
	l.ok("table", "create", "scratch", "--from", "a.csv", "--ref", "tmp")
	l.ok("branch", "rm", "tmp")
	objectTimesPass()
	// At the default age the deleted branch's commit is a day old at most:
	// it keeps its files, and the text output says so.
	l.json(&rep, "gc", "--dry-run")
	if len(rep.Removed) != 0 || rep.Unreachable != 1 {
		t.Fatalf("gc --dry-run at the default age: %+v", rep)
	}
	if out := l.ok("gc", "--dry-run"); !strings.Contains(out, "kept 1 commits no branch or tag reaches") {
		t.Fatalf("gc --dry-run output %q", out)
	}
	l.json(&rep, "gc", "--older-than", "0s", "--dry-run")
	if len(rep.Removed) < 4 || rep.RemovedBytes == 0 {
		t.Fatalf("dry run %+v", rep)
	}
	for _, f := range rep.Removed {
		if !strings.HasPrefix(f.Path, "tarn/scratch/") {
			t.Fatalf("would remove %s, not of the deleted branch's table", f.Path)
		}
	}
	out := l.ok("gc", "--older-than", "0s")
	if !strings.Contains(out, "removed ") {
		t.Fatalf("gc output %q", out)
	}
	l.json(&rep, "gc", "--older-than", "0s", "--dry-run")
	if len(rep.Removed) != 0 {
		t.Fatalf("left %+v", rep.Removed)
	}
	l.ok("verify", "--history")
	if got := l.rows("main", "tarn.keep"); got != 10 {
		t.Fatalf("keep has %d rows", got)
	}
	l.fails(exitUsage, []string{"--older-than", "invalid age", "7d"}, "gc", "--older-than", "soon")
	l.fails(exitUsage, []string{"--runs-older-than", "invalid age"}, "gc", "--runs-older-than", "-1d")

	// A failed run's branch: hidden by branch ls, expired by gc.
	const run = "run/20200102-030405-abcdef"
	l.ok("branch", "create", run)
	var refs []struct{ Name string }
	l.json(&refs, "branch", "ls")
	for _, r := range refs {
		if r.Name == run {
			t.Fatalf("branch ls lists %s without --all", run)
		}
	}
	l.json(&refs, "branch", "ls", "--all")
	if len(refs) != 2 {
		t.Fatalf("branch ls --all: %+v", refs)
	}
	var exp struct {
		ExpiredRuns []string `json:"expired_runs"`
	}
	l.json(&exp, "gc", "--dry-run")
	if fmt.Sprint(exp.ExpiredRuns) != "["+run+"]" {
		t.Fatalf("dry run expires %v", exp.ExpiredRuns)
	}
	l.ok("gc")
	l.json(&refs, "branch", "ls", "--all")
	if len(refs) != 1 {
		t.Fatalf("after gc: %+v", refs)
	}
}

// TestCLI_Optimize: 20 small appends become one file with the same rows
// (embedded, and through a server in remote and shared modes).
func TestCLI_Optimize(t *testing.T) {
	l := newLakehouse(t)
	l.write("a.csv", csvRows(0, 5))
	l.ok("table", "create", "trips", "--from", "a.csv")
	for i := 1; i < 20; i++ {
		l.write("a.csv", csvRows(i*5, 5))
		l.ok("table", "import", "trips", "--from", "a.csv")
	}
	digest := "select count(*) as n, sum(id) as s, sum(hash(id, name, amount, ts) % 1000003) as h from trips"
	before := l.queryJSON(digest)
	var res struct {
		FilesBefore int   `json:"files_before"`
		FilesAfter  int   `json:"files_after"`
		Rows        int64 `json:"rows"`
		Unchanged   bool  `json:"unchanged"`
	}
	l.json(&res, "table", "optimize", "trips")
	if res.FilesBefore != 20 || res.FilesAfter != 1 || res.Rows != 100 || res.Unchanged {
		t.Fatalf("optimize %+v", res)
	}
	if after := l.queryJSON(digest); fmt.Sprint(after) != fmt.Sprint(before) || before[0]["n"] != 100.0 {
		t.Fatalf("checksum %v before, %v after", before, after)
	}
	l.json(&res, "table", "optimize", "trips")
	if !res.Unchanged {
		t.Fatalf("second optimize %+v", res)
	}
	l.ok("verify", "--history")
	l.fails(exitUsage, []string{"--target-file-size"}, "table", "optimize", "trips", "--target-file-size", "big")
	l.fails(exitNotFound, []string{"nosuch"}, "table", "optimize", "nosuch")
}

// objectTimesPass waits, in shared mode (tables in the S3 server), until
// the objects just written are older than a collection starting now:
// object times have whole seconds.
func objectTimesPass() {
	if shared {
		time.Sleep(2 * time.Second)
	}
}
