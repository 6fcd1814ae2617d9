package table_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tarnhq/tarn"
	"github.com/tarnhq/tarn/table"
)

// TestGC_KeepHistory: with a retention window, a table only commits older
// than the window reach goes (past --older-than), while the head's, the
// window's boundary commit's and a tag's tables stay; without a window it
// stays; reading an expired commit says gc expired it; verify --history
// skips the expired history.
func TestGC_KeepHistory(t *testing.T) {
	dir := t.TempDir()
	svc := newServiceAt(t, dir)
	ctx := context.Background()
	mk := func(name string) tarn.TableIdent {
		id := tarn.TableIdent{Namespace: "tarn", Name: name}
		if _, err := svc.Create(ctx, table.CreateRequest{Ident: id, Branch: "main", Source: sourceOf(t, idRows(0, 5))}); err != nil {
			t.Fatal(err)
		}
		return id
	}
	drop := func(id tarn.TableIdent) {
		if _, err := svc.DropTable(ctx, id, "main", tarn.CommitInfo{}); err != nil {
			t.Fatal(err)
		}
	}
	tagged := mk("tagged") // only tag v1 (its head) reaches it in the end
	if _, err := svc.Catalog().CreateRef(ctx, tarn.KindTag, "v1", "main"); err != nil {
		t.Fatal(err)
	}
	drop(tagged)
	old := mk("old") // only expired commits reach it
	atOld, err := svc.Catalog().Resolve(ctx, "main")
	if err != nil {
		t.Fatal(err)
	}
	drop(old)
	edge := mk("edge") // the boundary commit (newest older than the window) reaches it
	time.Sleep(2500 * time.Millisecond)
	drop(edge)
	mk("young")
	loc := func(c *tarn.Commit, key string) string {
		entries, _, err := svc.Catalog().Entries(ctx, c)
		if err != nil || entries[key] == nil {
			t.Fatalf("entry %s of %s: %v", key, c.ShortHash(), err)
		}
		p := strings.TrimPrefix(entries[key].Metadata, "file://")
		return p
	}
	oldMeta := loc(atOld, "tarn.old")
	tagC, _ := svc.Catalog().Resolve(ctx, "v1")
	tagMeta := loc(tagC, "tarn.tagged")
	edgeC, _ := svc.Catalog().Resolve(ctx, "main~2")
	edgeMeta := loc(edgeC, "tarn.edge")
	wh := filepath.Join(dir, "warehouse")
	removed := func(rep *tarn.GCReport, p string) bool {
		for _, f := range rep.Removed {
			if filepath.Join(wh, f.Path) == p {
				return true
			}
		}
		return false
	}

	// No window: all history is kept.
	rep := collect(t, svc, tarn.GCRequest{OlderThan: 1, DryRun: true})
	if removed(rep, oldMeta) || rep.ExpiredCommits != 0 || rep.HistoryHorizon != nil {
		t.Fatalf("without a window the old table's files must stay: %+v", rep)
	}
	// A window but young files: expired commits, nothing removed.
	rep = collect(t, svc, tarn.GCRequest{KeepHistory: 2 * time.Second, DryRun: true})
	if rep.ExpiredCommits == 0 || len(rep.Removed) != 0 || rep.KeepHistory != "2s" {
		t.Fatalf("young files must stay: %+v", rep)
	}
	// The window, files past the age.
	rep = collect(t, svc, tarn.GCRequest{KeepHistory: 2 * time.Second, OlderThan: 1})
	if !removed(rep, oldMeta) {
		t.Fatalf("the expired table's metadata %s was not removed: %+v", oldMeta, rep.Removed)
	}
	if removed(rep, tagMeta) || removed(rep, edgeMeta) {
		t.Fatalf("the tag's or the boundary commit's table went: %+v", rep.Removed)
	}
	if rep.ExpiredCommits != 4 { // the root, tagged dropped, old created, old dropped
		t.Fatalf("expired %d commits, want 4", rep.ExpiredCommits)
	}
	if got := idsAt(t, svc, "v1", tagged); len(got) != 5 {
		t.Fatalf("tag v1: %v", got)
	}
	if got := idsAt(t, svc, edgeC.Hash, edge); len(got) != 5 {
		t.Fatalf("the boundary commit: %v", got)
	}
	_, _, err = svc.Load(ctx, old, atOld.Hash)
	if err == nil || !strings.Contains(err.Error(), "expired by gc (gc.keep_history)") || !strings.Contains(err.Error(), "history before ") {
		t.Fatalf("reading an expired commit: %v", err)
	}
	// A later collection without a window keeps to the recorded horizon.
	rep = collect(t, svc, tarn.GCRequest{OlderThan: 1})
	if rep.ExpiredCommits != 4 || len(rep.Removed) != 0 || rep.HistoryHorizon == nil {
		t.Fatalf("gc after expiry: %+v", rep)
	}
	vr, err := svc.Verify(ctx, true)
	if err != nil || len(vr.Problems) > 0 || vr.Expired != 4 || vr.ExpiredBefore == nil {
		t.Fatalf("verify --history after expiry: %+v %v", vr, err)
	}
}

// TestGC_KeepHistoryDefault: the service's setting (gc.keep_history)
// applies when the request gives none (the root commit and the first
// version expire), and a request's -1 keeps all.
func TestGC_KeepHistoryDefault(t *testing.T) {
	dir := t.TempDir()
	svc := newServiceWith(t, dir, table.Config{Warehouse: filepath.Join(dir, "warehouse"), KeepHistory: time.Nanosecond})
	ctx := context.Background()
	id := tarn.TableIdent{Namespace: "tarn", Name: "a"}
	for i := 0; i < 2; i++ {
		if _, err := svc.Create(ctx, table.CreateRequest{Ident: id, Branch: "main", Replace: i > 0, Source: sourceOf(t, idRows(0, 3))}); err != nil {
			t.Fatal(err)
		}
	}
	if rep := collect(t, svc, tarn.GCRequest{DryRun: true}); rep.ExpiredCommits != 2 || rep.KeepHistory != "1ns" {
		t.Fatalf("the setting: %+v", rep)
	}
	if rep := collect(t, svc, tarn.GCRequest{DryRun: true, KeepHistory: -1}); rep.ExpiredCommits != 0 || rep.HistoryHorizon != nil {
		t.Fatalf("keep all: %+v", rep)
	}
}

// TestGC_KeepHistoryExpiresSnapshots: a table's metadata lists every
// snapshot it ever had, so a kept version (the head's) would keep the
// files of every earlier write forever. With a window, its snapshots made
// before the window (not its current one) go with their files; the head
// reads the same, verify passes (heads and history), and the table's
// description and its REST metadata no longer list them. Without a window
// they stay.
func TestGC_KeepHistoryExpiresSnapshots(t *testing.T) {
	dir := t.TempDir()
	svc := newServiceAt(t, dir)
	ctx := context.Background()
	id := tarn.TableIdent{Namespace: "tarn", Name: "t"}
	if _, err := svc.Create(ctx, table.CreateRequest{Ident: id, Branch: "main", Source: sourceOf(t, idRows(0, 5))}); err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 2; i++ {
		if _, err := svc.Import(ctx, table.ImportRequest{Ident: id, Branch: "main", Source: sourceOf(t, idRows(i*5, i*5+5))}); err != nil {
			t.Fatal(err)
		}
	}
	old, err := svc.GetTable(ctx, id, "main")
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(2500 * time.Millisecond)
	if _, err := svc.Import(ctx, table.ImportRequest{Ident: id, Branch: "main", Source: sourceOf(t, idRows(15, 20))}); err != nil {
		t.Fatal(err)
	}
	head, err := svc.GetTable(ctx, id, "main")
	if err != nil {
		t.Fatal(err)
	}
	if len(head.History) != 4 {
		t.Fatalf("the head lists %d snapshots, want 4", len(head.History))
	}
	kinds := func(rep *tarn.GCReport) map[string]int {
		k := map[string]int{}
		for _, f := range rep.Removed {
			k[f.Kind]++
		}
		return k
	}
	// No window: the head's metadata keeps every snapshot's files.
	if rep := collect(t, svc, tarn.GCRequest{OlderThan: 1, DryRun: true}); kinds(rep)["manifest-list"] != 0 {
		t.Fatalf("without a window no manifest list may go: %+v", rep.Removed)
	}
	// The window: the three snapshots before it are expired in the head's
	// version too. The newest commit older than the window stays (so its
	// current snapshot, the third), and the head's current one keeps every
	// data file (appends share them): the first two snapshots' manifest
	// lists go, with the two expired commits' metadata files.
	rep := collect(t, svc, tarn.GCRequest{KeepHistory: 2 * time.Second, OlderThan: 1})
	if k := kinds(rep); k["manifest-list"] != 2 || k["metadata"] != 2 || k["data"] != 0 {
		t.Fatalf("want the 2 expired snapshots' manifest lists and 2 metadata files removed, no data file, got %v: %+v", k, rep.Removed)
	}
	for _, f := range rep.Removed {
		if strings.Contains(f.Path, fmt.Sprintf("snap-%d-", old.Snapshot.ID)) {
			t.Errorf("removed %s, the current snapshot of the commit the window keeps", f.Path)
		}
	}
	if got := idsAt(t, svc, "main~1", id); len(got) != 15 {
		t.Fatalf("main~1 (the newest commit before the window) after gc: %d rows, want 15", len(got))
	}
	if got := idsAt(t, svc, "main", id); len(got) != 20 {
		t.Fatalf("the head after gc: %d rows, want 20", len(got))
	}
	for _, history := range []bool{false, true} {
		vr, err := svc.Verify(ctx, history)
		if err != nil || len(vr.Problems) > 0 {
			t.Fatalf("verify (history %v) after expiry: %+v %v", history, vr, err)
		}
	}
	after, err := svc.GetTable(ctx, id, "main")
	if err != nil {
		t.Fatal(err)
	}
	if len(after.History) != 1 || after.Snapshot == nil || after.History[0].ID != head.Snapshot.ID {
		t.Fatalf("the description lists %+v, want only the current snapshot", after.History)
	}
	raw, err := svc.MetadataJSON(ctx, after.MetadataLocation)
	if err != nil {
		t.Fatal(err)
	}
	var meta struct {
		Snapshots []struct {
			ID int64 `json:"snapshot-id"`
		} `json:"snapshots"`
		Log []struct {
			ID int64 `json:"snapshot-id"`
		} `json:"snapshot-log"`
		Schemas []json.RawMessage `json:"schemas"`
	}
	if err := json.Unmarshal(raw, &meta); err != nil {
		t.Fatal(err)
	}
	if len(meta.Snapshots) != 1 || meta.Snapshots[0].ID != head.Snapshot.ID || len(meta.Log) != 1 || len(meta.Schemas) == 0 {
		t.Fatalf("REST metadata: %+v", meta)
	}

	// The next write's metadata file itself lists only the snapshots that
	// can be read (engines may read the file, not the catalog): the head's
	// and its own.
	if _, err := svc.Import(ctx, table.ImportRequest{Ident: id, Branch: "main", Source: sourceOf(t, idRows(20, 25))}); err != nil {
		t.Fatal(err)
	}
	next, err := svc.GetTable(ctx, id, "main")
	if err != nil {
		t.Fatal(err)
	}
	file, err := os.ReadFile(strings.TrimPrefix(next.MetadataLocation, "file://"))
	if err != nil {
		t.Fatal(err)
	}
	meta.Snapshots, meta.Log = nil, nil
	if err := json.Unmarshal(file, &meta); err != nil {
		t.Fatal(err)
	}
	if len(meta.Snapshots) != 2 || meta.Snapshots[0].ID != head.Snapshot.ID || meta.Snapshots[1].ID != next.Snapshot.ID || len(meta.Log) != 2 {
		t.Fatalf("the metadata file of the write after gc lists %+v (log %+v), want the snapshots %d and %d", meta.Snapshots, meta.Log, head.Snapshot.ID, next.Snapshot.ID)
	}
	if got := idsAt(t, svc, "main", id); len(got) != 25 {
		t.Fatalf("the head after the next write: %d rows, want 25", len(got))
	}
	if got := idsAt(t, svc, "main~1", id); len(got) != 20 {
		t.Fatalf("the commit before it: %d rows, want 20", len(got))
	}
	for _, history := range []bool{false, true} {
		if vr, err := svc.Verify(ctx, history); err != nil || len(vr.Problems) > 0 {
			t.Fatalf("verify (history %v) after the next write: %+v %v", history, vr, err)
		}
	}
}
