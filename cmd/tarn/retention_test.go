package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCLI_GCKeepHistory: --keep-history expires old history (a dropped
// table only old commits reach goes), reading an expired commit says gc
// expired it, verify --history passes; gc.keep_history in the home's
// config.yml is the default (embedded: a server reads it when it starts).
func TestCLI_GCKeepHistory(t *testing.T) {
	l := newLakehouse(t)
	l.write("a.csv", csvRows(0, 10))
	l.ok("table", "create", "keep", "--from", "a.csv")
	l.ok("table", "create", "gone", "--from", "a.csv")
	l.ok("table", "drop", "gone")
	objectTimesPass()
	var rep struct {
		gcReport
		KeepHistory    string `json:"keep_history"`
		ExpiredCommits int    `json:"expired_commits"`
		HistoryHorizon string `json:"history_horizon"`
	}
	l.json(&rep, "gc", "--older-than", "0s", "--dry-run")
	if len(rep.Removed) != 0 || rep.ExpiredCommits != 0 || rep.HistoryHorizon != "" {
		t.Fatalf("without a window all history stays: %+v", rep)
	}
	l.fails(exitUsage, []string{"--keep-history", "invalid age", "all"}, "gc", "--keep-history", "soon")
	l.json(&rep, "gc", "--older-than", "0s", "--keep-history", "0s", "--dry-run")
	if rep.ExpiredCommits < 2 || rep.KeepHistory != "1ns" || rep.HistoryHorizon == "" || len(rep.Removed) == 0 || rep.RemovedBytes == 0 {
		t.Fatalf("dry run with a window: %+v", rep)
	}
	for _, f := range rep.Removed {
		if !strings.HasPrefix(f.Path, "tarn/gone/") && !strings.HasPrefix(f.Path, "tarn/keep/") {
			t.Fatalf("would remove %s", f.Path)
		}
	}
	out := l.ok("gc", "--older-than", "0s", "--keep-history", "0s")
	if !strings.Contains(out, "history kept for 1ns") || !strings.Contains(out, "expired") {
		t.Fatalf("gc output %q", out)
	}
	l.fails(exitNotFound, []string{"expired by gc (gc.keep_history)", "history before "}, "query", "--ref", "main~1", "select count(*) from gone")
	if got := l.rows("main", "tarn.keep"); got != 10 {
		t.Fatalf("keep has %d rows", got)
	}
	out = l.ok("verify", "--history")
	if !strings.Contains(out, "expired by gc") {
		t.Fatalf("verify output %q", out)
	}
	if remote {
		return
	}
	// The home's setting applies without the flag; --keep-history all wins.
	cfg := filepath.Join(l.home, "config.yml")
	if err := os.WriteFile(cfg, []byte("gc:\n  keep_history: 0s\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	l.ok("table", "create", "more", "--from", "a.csv")
	l.json(&rep, "gc", "--dry-run")
	if rep.ExpiredCommits == 0 || rep.KeepHistory != "1ns" {
		t.Fatalf("gc.keep_history of config.yml: %+v", rep)
	}
	// History expired stays so: a later run without a window keeps to
	// the recorded horizon.
	rep.KeepHistory, rep.HistoryHorizon = "", ""
	l.json(&rep, "gc", "--dry-run", "--keep-history", "all")
	if rep.KeepHistory != "" || rep.HistoryHorizon == "" {
		t.Fatalf("--keep-history all: %+v", rep)
	}
	if err := os.WriteFile(cfg, []byte("gc:\n  keep_history: forever\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	l.fails(exitUsage, []string{"gc.keep_history", "config.yml"}, "gc", "--dry-run")
}
