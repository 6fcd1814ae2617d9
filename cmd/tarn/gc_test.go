package main

import (
	"strings"
	"testing"
)

type gcReport struct {
	DryRun       bool  `json:"dry_run"`
	Files        int   `json:"files"`
	Referenced   int   `json:"referenced"`
	RemovedBytes int64 `json:"removed_bytes"`
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
	l.fails(exitUsage, []string{"invalid age", "7d"}, "gc", "--older-than", "soon")
}
