//go:build integration

package integration

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// s3GCReport is the part of `tarn gc -o json` these tests read.
type s3GCReport struct {
	DryRun         bool   `json:"dry_run"`
	Files          int    `json:"files"`
	Referenced     int    `json:"referenced"`
	Young          int    `json:"young"`
	LiveWrites     int    `json:"live_writes"`
	ExpiredCommits int    `json:"expired_commits"`
	Unreachable    int    `json:"unreachable_commits"`
	HistoryHorizon string `json:"history_horizon"`
	Removed        []struct {
		Path string `json:"path"`
		Kind string `json:"kind"`
	} `json:"removed"`
	Failed []string `json:"failed"`
}

// TestS3_GC: garbage collection of an S3 warehouse. A dropped table's
// objects, a deleted branch's and those a compaction superseded go (a
// dry run first lists the same and removes nothing), every ref stays
// readable with the same rows and `tarn verify --history` is clean after
// each collection; an import that runs while collections with an age of
// 1ns loop keeps its objects (its lease is an object in the bucket) and
// commits every row; expiring history records the horizon in the bucket,
// and reading an expired commit then says why.
func TestS3_GC(t *testing.T) {
	l := newS3Lake(t)
	wh, home, dir := l.wh, l.home, l.dir
	run, do, gc := l.run, l.do, l.gc
	verify := func(when string) {
		t.Helper()
		if v := run("verify", "--history"); v.code != 0 || !strings.Contains(v.stdout, "checked ") || strings.Contains(v.stdout, "problem") {
			t.Fatalf("verify --history %s: %+v", when, v)
		}
	}
	rows := func(table, ref string) string {
		t.Helper()
		r := do("query", "--ref", ref, "SELECT count(*), sum(id) FROM "+table, "-o", "csv")
		return strings.TrimSpace(r.stdout[strings.Index(r.stdout, "\n")+1:])
	}
	csv := l.csv

	do("table", "create", "keep", "--from", csv("a.csv", 0, 100))
	for i := 1; i <= 4; i++ {
		do("table", "import", "keep", "--from", csv(fmt.Sprintf("a%d.csv", i), i*100, i*100+100))
	}
	do("table", "create", "gone", "--from", csv("g.csv", 0, 10))
	do("table", "rm", "gone")
	do("branch", "create", "dev")
	do("table", "create", "dev_only", "--from", csv("d.csv", 0, 10), "--ref", "dev")
	do("branch", "rm", "dev")
	do("tag", "create", "v1")
	wantKeep := rows("keep", "main")
	if wantKeep != "500,124750" {
		t.Fatalf("keep: %s", wantKeep)
	}

	// Nothing is old yet: the default age keeps the deleted branch's
	// commit (so its objects) and every unreferenced object.
	if rep := gc("--dry-run"); len(rep.Removed) != 0 || rep.Unreachable != 1 || rep.Referenced != rep.Files-rep.Young {
		t.Fatalf("gc --dry-run at the default age: %+v", rep)
	}
	// S3 ages are whole seconds of the server's clock (gc reads it as the
	// LastModified of a probe it writes): what was written in the second
	// gc starts is young even at 0s, what was written a second before is not.
	settle := func() { time.Sleep(1100 * time.Millisecond) }
	settle()
	dry := gc("--dry-run", "--older-than", "0s")
	kinds := map[string]int{}
	for _, f := range dry.Removed {
		kinds[f.Kind]++
		if !strings.HasPrefix(f.Path, "tarn/dev_only/") {
			t.Errorf("dry run would remove %s, not of the deleted branch's table", f.Path)
		}
	}
	if kinds["data"] != 1 || kinds["metadata"] == 0 || kinds["manifest"] == 0 {
		t.Fatalf("dry run: want the deleted branch's table's objects, got %v: %+v", kinds, dry.Removed)
	}
	if again := gc("--dry-run", "--older-than", "0s"); len(again.Removed) != len(dry.Removed) {
		t.Fatalf("a dry run removed objects: %d then %d", len(dry.Removed), len(again.Removed))
	}
	rep := gc("--older-than", "0s")
	if len(rep.Removed) != len(dry.Removed) || rep.Files != dry.Files {
		t.Fatalf("gc removed %d of %d objects, the dry run said %d of %d", len(rep.Removed), rep.Files, len(dry.Removed), dry.Files)
	}
	verify("after gc")
	if got := rows("keep", "v1"); got != wantKeep {
		t.Fatalf("keep at v1 after gc: %s, want %s", got, wantKeep)
	}
	if rep := gc("--older-than", "0s"); len(rep.Removed) != 0 || rep.Files != dry.Files-len(dry.Removed) {
		t.Fatalf("second gc: %+v (want nothing removed of %d objects)", rep, dry.Files-len(dry.Removed))
	}

	// Compaction on S3: the small files' rows, in one file; the old files
	// stay while history reaches them.
	var opt struct {
		FilesBefore int   `json:"files_before"`
		FilesAfter  int   `json:"files_after"`
		Rows        int64 `json:"rows"`
	}
	if err := json.Unmarshal([]byte(do("table", "optimize", "keep", "-o", "json").stdout), &opt); err != nil {
		t.Fatal(err)
	}
	if opt.FilesBefore != 5 || opt.FilesAfter != 1 || opt.Rows != 500 {
		t.Fatalf("optimize: %+v", opt)
	}
	if got := rows("keep", "main"); got != wantKeep {
		t.Fatalf("keep after optimize: %s, want %s", got, wantKeep)
	}
	if rep := gc("--older-than", "0s"); len(rep.Removed) != 0 {
		t.Fatalf("gc removed objects history still reaches: %+v", rep.Removed)
	}
	verify("after optimize and gc")

	// A concurrent import keeps its objects: stopped after it wrote its
	// data file and before it committed, a collection that may remove
	// any unreferenced object (--older-than 0s) finds its lease (an
	// object in the bucket) and leaves its objects; resumed, it commits.
	big := filepath.Join(dir, "big.csv")
	var b strings.Builder
	b.WriteString("id,v\n")
	for i := 1000; i < 801000; i++ {
		fmt.Fprintf(&b, "%d,v%d\n", i, i)
	}
	if err := os.WriteFile(big, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	imp := exec.Command(env(t, "TARN_BIN"), "--warehouse", wh, "table", "import", "keep", "--from", big)
	imp.Env = append(os.Environ(), "TARN_HOME="+home, "TARN_CRASH_AT=stop:after-data-write")
	var impOut strings.Builder
	imp.Stdout, imp.Stderr = &impOut, &impOut
	if err := imp.Start(); err != nil {
		t.Fatal(err)
	}
	waitStopped(t, imp.Process.Pid)
	// Object times have whole seconds: the import's objects are then
	// clearly older than the collection's start, and only its lease
	// keeps them.
	time.Sleep(3 * time.Second)
	during := gc("--older-than", "0s")
	if err := imp.Process.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	if err := imp.Wait(); err != nil {
		t.Fatalf("import stopped during gc: %v\n%s", err, impOut.String())
	}
	if during.LiveWrites != 1 || during.Young == 0 {
		t.Fatalf("gc during the import: %+v", during)
	}
	for _, f := range during.Removed {
		if strings.HasPrefix(f.Path, "tarn/keep/") {
			t.Errorf("gc during the import removed %s", f.Path)
		}
	}
	wantKeep = fmt.Sprintf("800500,%d", 124750+(1000+800999)*800000/2) // 0..499 and 1000..800999
	if got := rows("keep", "main"); got != wantKeep {
		t.Fatalf("keep after the import that gc ran during: %s, want %s", got, wantKeep)
	}
	verify("after the import that gc ran during")

	// Retention: expire everything but each ref's head; the dropped
	// table only main's history reached goes.
	rep = gc("--older-than", "0s", "--keep-history", "0s")
	if rep.ExpiredCommits == 0 || len(rep.Removed) == 0 {
		t.Fatalf("gc --keep-history 0s: %+v", rep)
	}
	goneData := 0
	for _, f := range rep.Removed {
		if strings.HasPrefix(f.Path, "tarn/gone/data/") {
			goneData++
		}
	}
	if goneData != 1 {
		t.Fatalf("expiring history removed %d data files of the dropped table, want 1: %+v", goneData, rep.Removed)
	}
	verify("after expiring history")
	if got := rows("keep", "main"); got != wantKeep {
		t.Fatalf("keep after expiring history: %s, want %s", got, wantKeep)
	}
	if got := rows("keep", "v1"); got != "500,124750" {
		t.Fatalf("keep at v1 after expiring history: %s", got)
	}
	// main~3 made the table gone (dropped since): only expired history reached it.
	old := run("query", "--ref", "main~3", "SELECT count(*) FROM gone")
	if old.code == 0 || !strings.Contains(old.stderr, "expired by gc") {
		t.Fatalf("query of an expired commit: %+v", old)
	}
	// A later expiry moves the recorded horizon on (a PUT conditional on
	// the record it read); the earlier one stays in force meanwhile.
	first := rep.HistoryHorizon
	do("table", "import", "keep", "--from", csv("late.csv", 900000, 900010))
	settle()
	later := gc("--older-than", "0s", "--keep-history", "0s")
	t1, err1 := time.Parse(time.RFC3339Nano, first)
	t2, err2 := time.Parse(time.RFC3339Nano, later.HistoryHorizon)
	if later.ExpiredCommits == 0 || err1 != nil || err2 != nil || !t2.After(t1) {
		t.Fatalf("second expiry: horizon %q after %q (%+v)", later.HistoryHorizon, first, later)
	}
	if keptOnly := gc("--older-than", "0s", "--dry-run"); keptOnly.HistoryHorizon != later.HistoryHorizon {
		t.Fatalf("a collection without a window does not keep to the recorded horizon: %q, want %q", keptOnly.HistoryHorizon, later.HistoryHorizon)
	}
	verify("after the second expiry")
}

// s3Lake runs tarn on one S3 warehouse of its own, with one home.
type s3Lake struct {
	t             *testing.T
	wh, home, dir string // dir: a folder for input files
}

func newS3Lake(t *testing.T) *s3Lake {
	return &s3Lake{t: t, wh: s3Warehouse(t), home: filepath.Join(t.TempDir(), "home"), dir: t.TempDir()}
}

func (l *s3Lake) run(args ...string) runOut {
	return tarnRun(l.t, l.home, append([]string{"--warehouse", l.wh}, args...)...)
}

// do runs tarn and fails the test unless it succeeds.
func (l *s3Lake) do(args ...string) runOut {
	l.t.Helper()
	r := l.run(args...)
	if r.code != 0 {
		l.t.Fatalf("tarn %s: %+v", strings.Join(args, " "), r)
	}
	return r
}

// gc runs `tarn gc -o json` with args; every removal must succeed.
func (l *s3Lake) gc(args ...string) s3GCReport {
	l.t.Helper()
	var rep s3GCReport
	out := l.do(append([]string{"gc", "-o", "json"}, args...)...).stdout
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		l.t.Fatalf("gc output: %v\n%s", err, out)
	}
	if len(rep.Failed) > 0 {
		l.t.Fatalf("gc could not remove: %v", rep.Failed)
	}
	return rep
}

// csv writes a CSV of rows id (from..to-1), v in dir.
func (l *s3Lake) csv(name string, from, to int) string {
	var b strings.Builder
	b.WriteString("id,v\n")
	for i := from; i < to; i++ {
		fmt.Fprintf(&b, "%d,v%d\n", i, i)
	}
	p := filepath.Join(l.dir, name)
	if err := os.WriteFile(p, []byte(b.String()), 0o644); err != nil {
		l.t.Fatal(err)
	}
	return p
}

// waitStopped waits until process pid is stopped (SIGSTOP).
func waitStopped(t *testing.T, pid int) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for time.Now().Before(deadline) {
		data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			t.Fatalf("process %d: %v", pid, err)
		}
		// pid (comm) STATE ...: comm may hold spaces, the state follows its ')'.
		if f := strings.Fields(string(data[strings.LastIndexByte(string(data), ')')+1:])); len(f) > 0 && (f[0] == "T" || f[0] == "t") {
			return
		} else if len(f) > 0 && f[0] == "Z" {
			t.Fatalf("process %d ended before it stopped", pid)
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("process %d did not stop", pid)
}
