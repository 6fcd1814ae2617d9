package table_test

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tarnhq/tarn"
	"github.com/tarnhq/tarn/catalog"
	"github.com/tarnhq/tarn/table"
)

// age makes every file under dir look modified d ago.
func age(t *testing.T, dir string, d time.Duration) {
	t.Helper()
	old := time.Now().Add(-d)
	err := filepath.WalkDir(dir, func(p string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return err
		}
		return os.Chtimes(p, old, old)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// newServiceCommittingAgo makes a service whose commits are dated d ago.
func newServiceCommittingAgo(t *testing.T, dir string, d time.Duration) *table.Service {
	t.Helper()
	return newServiceWith(t, dir, table.Config{Warehouse: filepath.Join(dir, "warehouse")},
		catalog.WithClock(func() time.Time { return time.Now().Add(-d) }))
}

// TestGC_KeepsYoungUnreachableCommits: a deleted branch's commits keep
// their files while younger than the age (default 7d), however old the
// files: the branch can be brought back from its head's hash. Past the
// age they go, and a later collection that finds such a commit's files
// gone goes on.
func TestGC_KeepsYoungUnreachableCommits(t *testing.T) {
	dir := t.TempDir()
	wh := filepath.Join(dir, "warehouse")
	svc := newServiceAt(t, dir)
	ctx := context.Background()
	create(t, svc, "main", idRows(0, 10))
	branch(t, svc, "scratch")
	appendRows(t, svc, "scratch", idRows(10, 15))
	head, err := svc.Catalog().BranchHead(ctx, "scratch")
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.Catalog().DeleteRef(ctx, tarn.KindBranch, "scratch"); err != nil {
		t.Fatal(err)
	}
	garbage := unreferenced(t, svc, wh)
	age(t, wh, 48*time.Hour)
	for _, older := range []time.Duration{0, 24 * time.Hour} {
		rep := collect(t, svc, tarn.GCRequest{OlderThan: older})
		if len(rep.Removed) != 0 || rep.UnreachableCommits != 1 {
			t.Fatalf("gc --older-than %s removed %v (unreachable commits kept: %d), want the deleted branch's commit kept", older, rep.Removed, rep.UnreachableCommits)
		}
	}
	if _, err := svc.Catalog().CreateRef(ctx, tarn.KindBranch, "back", head.Hash); err != nil {
		t.Fatal(err)
	}
	wantIDs(t, svc, "back", 15)
	if err := svc.Catalog().DeleteRef(ctx, tarn.KindBranch, "back"); err != nil {
		t.Fatal(err)
	}
	rep := collect(t, svc, tarn.GCRequest{OlderThan: time.Nanosecond})
	if len(rep.Removed) != len(garbage) || len(garbage) < 3 || rep.UnreachableCommits != 0 {
		t.Fatalf("past the age: removed %v, want %v", rep.Removed, garbage)
	}
	wantVerified(t, svc)
	// The commit is young again for a longer age, its files are gone:
	// nothing to keep, and the collection is not stopped by it.
	rep = collect(t, svc, tarn.GCRequest{OlderThan: 24 * time.Hour})
	if len(rep.Removed) != 0 || rep.UnreachableCommits != 1 {
		t.Fatalf("after the files went: %+v", rep)
	}
	wantIDs(t, svc, "main", 10)
}

func collect(t *testing.T, svc *table.Service, req tarn.GCRequest) *tarn.GCReport {
	t.Helper()
	rep, err := svc.CollectGarbage(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func wantVerified(t *testing.T, svc *table.Service) {
	t.Helper()
	rep, err := svc.Verify(context.Background(), true)
	if err != nil || len(rep.Problems) > 0 {
		t.Fatalf("verify --history: %v %v", rep.Problems, err)
	}
}

func fileCount(t *testing.T, dir string) int {
	t.Helper()
	n := 0
	filepath.WalkDir(dir, func(p string, e fs.DirEntry, err error) error {
		if err == nil && !e.IsDir() {
			n++
		}
		return nil
	})
	return n
}

// TestGC_RemovesOnlyUnreferenced: a replaced table's old files, a dropped
// table's files and a crashed write's leftovers go; every commit of every
// ref stays readable, a table only a tag reaches stays, and a dry run
// removes nothing.
func TestGC_RemovesOnlyUnreferenced(t *testing.T) {
	dir := t.TempDir()
	wh := filepath.Join(dir, "warehouse")
	svc := newServiceCommittingAgo(t, dir, 48*time.Hour)
	ctx := context.Background()
	create(t, svc, "main", idRows(0, 10))
	appendRows(t, svc, "main", idRows(10, 20))
	// Replaced on a branch that is then deleted: its files are unreachable.
	branch(t, svc, "scratch")
	if _, err := svc.Create(ctx, table.CreateRequest{Ident: trips, Branch: "scratch", Replace: true, Source: sourceOf(t, idRows(0, 3))}); err != nil {
		t.Fatal(err)
	}
	if err := svc.Catalog().DeleteRef(ctx, tarn.KindBranch, "scratch"); err != nil {
		t.Fatal(err)
	}
	// A table only a tag still reaches.
	kept := tarn.TableIdent{Namespace: "tarn", Name: "kept"}
	if _, err := svc.Create(ctx, table.CreateRequest{Ident: kept, Branch: "main", Source: sourceOf(t, idRows(0, 4))}); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Catalog().CreateRef(ctx, tarn.KindTag, "v1", "main"); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.DropTable(ctx, kept, "main", tarn.CommitInfo{}); err != nil {
		t.Fatal(err)
	}
	// A crashed write's data file.
	stray := filepath.Join(wh, "tarn", "trips", "data", "crashed-write.parquet")
	if err := os.WriteFile(stray, []byte("half a file"), 0o644); err != nil {
		t.Fatal(err)
	}
	garbage := unreferenced(t, svc, wh)
	if len(garbage) < 4 { // the scratch version's metadata, manifest list, manifest, data file, and the stray
		t.Fatalf("setup left only %v unreferenced", garbage)
	}
	age(t, wh, 48*time.Hour)
	before := fileCount(t, wh)

	dry := collect(t, svc, tarn.GCRequest{OlderThan: 24 * time.Hour, DryRun: true})
	if fileCount(t, wh) != before {
		t.Fatal("a dry run removed files")
	}
	var listed []string
	var bytes int64
	for _, f := range dry.Removed {
		listed = append(listed, f.Path)
		bytes += f.Bytes
	}
	if strings.Join(listed, "\n") != strings.Join(garbage, "\n") || dry.RemovedBytes != bytes || bytes == 0 {
		t.Fatalf("dry run lists %v (%d bytes)\nunreferenced: %v", listed, dry.RemovedBytes, garbage)
	}
	if dry.Files != before || dry.Referenced != before-len(garbage) {
		t.Fatalf("report %+v for %d files", dry, before)
	}

	rep := collect(t, svc, tarn.GCRequest{OlderThan: 24 * time.Hour})
	if len(rep.Removed) != len(garbage) || len(rep.Failed) > 0 {
		t.Fatalf("removed %d files, want %d; failed %v", len(rep.Removed), len(garbage), rep.Failed)
	}
	if left := unreferenced(t, svc, wh); len(left) > 0 {
		t.Fatalf("left %v", left)
	}
	if n := fileCount(t, wh); n != before-len(garbage) {
		t.Fatalf("%d files after, want %d", n, before-len(garbage))
	}
	wantVerified(t, svc)
	wantIDs(t, svc, "main", 20)
	if got := len(idsAt(t, svc, "v1", kept)); got != 4 {
		t.Fatalf("the tagged table has %d rows", got)
	}
	// Nothing more to do.
	if again := collect(t, svc, tarn.GCRequest{OlderThan: 24 * time.Hour}); len(again.Removed) != 0 {
		t.Fatalf("a second run removed %v", again.Removed)
	}
}

// TestGC_KeepsYoungFiles: an unreferenced file younger than the age stays.
func TestGC_KeepsYoungFiles(t *testing.T) {
	dir := t.TempDir()
	wh := filepath.Join(dir, "warehouse")
	svc := newServiceAt(t, dir)
	create(t, svc, "main", idRows(0, 10))
	stray := filepath.Join(wh, "tarn", "trips", "data", "in-progress.parquet")
	if err := os.WriteFile(stray, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	rep := collect(t, svc, tarn.GCRequest{OlderThan: time.Hour})
	if len(rep.Removed) != 0 || rep.Young != 1 {
		t.Fatalf("report %+v", rep)
	}
	if _, err := os.Stat(stray); err != nil {
		t.Fatal(err)
	}
	age(t, wh, 2*time.Hour)
	if rep := collect(t, svc, tarn.GCRequest{OlderThan: time.Hour}); len(rep.Removed) != 1 || rep.Removed[0].Path != "tarn/trips/data/in-progress.parquet" {
		t.Fatalf("report %+v", rep)
	}
}

// TestGC_SafeDuringWrite: a collection that runs while an import has
// written its files and not yet committed, with an age that would remove
// any unreferenced file (1ns), leaves that import's files: its lease
// protects them. The import then commits and every row is readable.
func TestGC_SafeDuringWrite(t *testing.T) {
	dir := t.TempDir()
	wh := filepath.Join(dir, "warehouse")
	svc, race := racingService(t, dir)
	create(t, svc, "main", idRows(0, 10))
	var during *tarn.GCReport
	race(func() {
		// Any file older than a nanosecond could go, but for the lease.
		during = collect(t, svc, tarn.GCRequest{OlderThan: time.Nanosecond})
	})
	appendRows(t, svc, "main", idRows(10, 20))
	if during == nil || during.LiveWrites != 1 || len(during.Removed) != 0 || during.Young == 0 {
		t.Fatalf("gc during the write: %+v", during)
	}
	wantIDs(t, svc, "main", 20)
	wantVerified(t, svc)
	wantClean(t, svc, dir)
	// The lease is gone with the write; a crashed writer's stale lease goes.
	leases := filepath.Join(wh, ".tarn", "writes")
	if n := fileCount(t, leases); n != 0 {
		t.Fatalf("%d leases after the write", n)
	}
	stale := filepath.Join(leases, "crashed.json")
	if err := os.WriteFile(stale, []byte(`{"started":"2020-01-01T00:00:00Z","pid":1}`), 0o644); err != nil {
		t.Fatal(err)
	}
	age(t, leases, 10*time.Minute)
	rep := collect(t, svc, tarn.GCRequest{OlderThan: 24 * time.Hour})
	if rep.LiveWrites != 0 || len(rep.Removed) != 1 || rep.Removed[0].Kind != "lease" {
		t.Fatalf("report %+v", rep)
	}
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Fatalf("stale lease: %v", err)
	}
}

// TestGC_EngineWriteLease: the files another engine writes through the
// REST catalog before its commit (tarn sees only the load before them)
// survive a collection of any age while the engine's lease lasts, and go
// once it has ended; loads shortly after one share its lease.
func TestGC_EngineWriteLease(t *testing.T) {
	dir := t.TempDir()
	wh := filepath.Join(dir, "warehouse")
	svc := newServiceAt(t, dir)
	create(t, svc, "main", idRows(0, 10))
	leases := filepath.Join(wh, ".tarn", "writes")
	svc.EngineMayWrite(time.Second)
	svc.EngineMayWrite(time.Second)
	if n := fileCount(t, leases); n != 1 {
		t.Fatalf("%d lease files for two loads in a row, want one", n)
	}
	data, err := filepath.Glob(filepath.Join(wh, "*", "*", "data"))
	if err != nil || len(data) != 1 {
		t.Fatalf("the table's data folder: %v %v", data, err)
	}
	written := filepath.Join(data[0], "00000-0-engine.parquet") // not committed (yet)
	if err := os.WriteFile(written, []byte("PAR1 an engine's data PAR1"), 0o644); err != nil {
		t.Fatal(err)
	}
	rep := collect(t, svc, tarn.GCRequest{OlderThan: time.Nanosecond})
	if rep.LiveWrites != 1 || len(rep.Removed) != 0 {
		t.Fatalf("gc while the engine may write: %+v", rep)
	}
	if _, err := os.Stat(written); err != nil {
		t.Fatalf("the engine's file: %v", err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for fileCount(t, leases) != 0 {
		if time.Now().After(deadline) {
			t.Fatal("the engine's lease outlived its window")
		}
		time.Sleep(50 * time.Millisecond)
	}
	rep = collect(t, svc, tarn.GCRequest{OlderThan: time.Nanosecond})
	if rep.LiveWrites != 0 || len(rep.Removed) != 1 || rep.Removed[0].Path != strings.TrimPrefix(written, wh+"/") {
		t.Fatalf("gc after the lease: %+v", rep)
	}
	wantIDs(t, svc, "main", 10)
	wantVerified(t, svc)
}

func TestGC_BadAge(t *testing.T) {
	svc := newService(t)
	_, err := svc.CollectGarbage(context.Background(), tarn.GCRequest{OlderThan: -time.Second})
	if tarn.ErrorCode(err) != tarn.EINVALID {
		t.Fatalf("err = %v", err)
	}
	for in, want := range map[string]time.Duration{"7d": 7 * 24 * time.Hour, "36h": 36 * time.Hour, "90m": 90 * time.Minute, "0s": 0} {
		if got, err := tarn.ParseAge(in); err != nil || got != want {
			t.Errorf("ParseAge(%q) = %v, %v", in, got, err)
		}
	}
	for _, in := range []string{"", "7", "-1d", "d", "1.5d", "soon"} {
		if _, err := tarn.ParseAge(in); tarn.ErrorCode(err) != tarn.EINVALID {
			t.Errorf("ParseAge(%q) err = %v", in, err)
		}
	}
}

// TestGC_ExpiresFailedRunBranches: a failed run's branch older than the
// age is deleted with the files only it reached; a recent one, and a
// user's branch that merely starts with run/, stay; a dry run deletes
// nothing but counts the files.
func TestGC_ExpiresFailedRunBranches(t *testing.T) {
	dir := t.TempDir()
	wh := filepath.Join(dir, "warehouse")
	svc := newServiceCommittingAgo(t, dir, 48*time.Hour)
	ctx := context.Background()
	create(t, svc, "main", idRows(0, 10))
	recent := "run/" + time.Now().UTC().Format("20060102-150405") + "-0a1b2c"
	for _, name := range []string{"run/20200102-030405-abcdef", recent, "run/mine"} {
		branch(t, svc, name)
		appendRows(t, svc, name, idRows(10, 20))
	}
	age(t, wh, 48*time.Hour)
	req := tarn.GCRequest{OlderThan: 24 * time.Hour, RunsOlderThan: 7 * 24 * time.Hour}
	dry := req
	dry.DryRun = true
	plan := collect(t, svc, dry)
	if strings.Join(plan.ExpiredRuns, ",") != "run/20200102-030405-abcdef" || len(plan.Removed) < 3 {
		t.Fatalf("dry run %+v", plan)
	}
	if _, err := svc.Catalog().BranchHead(ctx, "run/20200102-030405-abcdef"); err != nil {
		t.Fatalf("a dry run deleted the branch: %v", err)
	}
	rep := collect(t, svc, req)
	if strings.Join(rep.ExpiredRuns, ",") != strings.Join(plan.ExpiredRuns, ",") || len(rep.Removed) != len(plan.Removed) {
		t.Fatalf("gc %+v after the plan %+v", rep, plan)
	}
	if _, err := svc.Catalog().BranchHead(ctx, "run/20200102-030405-abcdef"); tarn.ErrorCode(err) != tarn.ENOTFOUND {
		t.Fatalf("the expired run branch: %v", err)
	}
	for _, kept := range []string{recent, "run/mine"} {
		wantIDs(t, svc, kept, 20)
	}
	wantVerified(t, svc)
	if left := unreferenced(t, svc, wh); len(left) > 0 {
		t.Fatalf("left %v", left)
	}
}
