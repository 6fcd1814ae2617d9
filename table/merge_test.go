package table_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/tarnhq/tarn"
	"github.com/tarnhq/tarn/table"
)

var trips = tarn.TableIdent{Namespace: "tarn", Name: "trips"}

// idRows makes CSV rows with ids from..to-1 (and extra columns, given as
// "name:value" pairs).
func idRows(from, to int, extra ...string) string {
	var b strings.Builder
	b.WriteString("id,fare")
	for _, e := range extra {
		name, _, _ := strings.Cut(e, ":")
		b.WriteString("," + name)
	}
	b.WriteString("\n")
	for i := from; i < to; i++ {
		fmt.Fprintf(&b, "%d,%d.5", i, i)
		for _, e := range extra {
			_, v, _ := strings.Cut(e, ":")
			b.WriteString("," + v)
		}
		b.WriteString("\n")
	}
	return b.String()
}

func create(t *testing.T, svc *table.Service, branch, csv string) {
	t.Helper()
	if _, err := svc.Create(context.Background(), table.CreateRequest{Ident: trips, Branch: branch, Source: sourceOf(t, csv)}); err != nil {
		t.Fatal(err)
	}
}

func appendRows(t *testing.T, svc *table.Service, branch, csv string) {
	t.Helper()
	if _, err := svc.Import(context.Background(), table.ImportRequest{Ident: trips, Branch: branch, Source: sourceOf(t, csv)}); err != nil {
		t.Fatal(err)
	}
}

func wantIDs(t *testing.T, svc *table.Service, ref string, n int) {
	t.Helper()
	ids := idsAt(t, svc, ref, trips)
	if len(ids) != n {
		t.Fatalf("%d rows at %s, want %d", len(ids), ref, n)
	}
	for i, id := range ids {
		if id != int64(i) {
			t.Fatalf("row %d has id %d at %s: rows lost or twice", i, id, ref)
		}
	}
}

func wantClean(t *testing.T, svc *table.Service, dir string) {
	t.Helper()
	if left := unreferenced(t, svc, filepath.Join(dir, "warehouse")); len(left) > 0 {
		t.Fatalf("%d files no commit references: %v", len(left), left)
	}
}

// TestImport_ConcurrentAppends: 20 imports into one table at once are all
// acknowledged, every row is there once, and the attempts that had to be
// re-applied left no files behind.
func TestImport_ConcurrentAppends(t *testing.T) {
	dir := t.TempDir()
	svc := newServiceAt(t, dir)
	create(t, svc, "main", idRows(0, 10))
	const writers, each = 20, 10
	sources := make([]string, writers)
	for i := range sources {
		sources[i] = idRows(10+i*each, 10+(i+1)*each)
	}
	var wg sync.WaitGroup
	errs := make([]error, writers)
	for i := range writers {
		src := sourceOf(t, sources[i])
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = svc.Import(context.Background(), table.ImportRequest{Ident: trips, Branch: "main", Source: src})
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("import %d: %v", i, err)
		}
	}
	wantIDs(t, svc, "main", 10+writers*each)
	wantClean(t, svc, dir)
	rep, err := svc.Verify(context.Background(), true)
	if err != nil || len(rep.Problems) > 0 {
		t.Fatalf("verify: %v %v", rep.Problems, err)
	}
}

// racingService returns a service whose next write runs other (once) at
// the moment before its catalog commit: another writer gets in between.
func racingService(t *testing.T, dir string) (*table.Service, func(other func())) {
	t.Helper()
	var next atomic.Pointer[func()]
	svc := newServiceWith(t, dir, table.Config{Warehouse: filepath.Join(dir, "warehouse"), CrashPoint: func(point string) {
		if point != "before-catalog-commit" {
			return
		}
		if f := next.Swap(nil); f != nil {
			(*f)()
		}
	}})
	return svc, func(other func()) { next.Store(&other) }
}

func wantConflict(t *testing.T, err error, contains ...string) {
	t.Helper()
	if tarn.ErrorCode(err) != tarn.ECONFLICT {
		t.Fatalf("err = %v, want a conflict", err)
	}
	for _, c := range contains {
		if !strings.Contains(err.Error(), c) {
			t.Fatalf("err = %v, want it to say %q", err, c)
		}
	}
}

func TestImport_ResolvedAfterConcurrentAppend(t *testing.T) {
	dir := t.TempDir()
	svc, race := racingService(t, dir)
	create(t, svc, "main", idRows(0, 10))
	race(func() { appendRows(t, svc, "main", idRows(20, 30)) })
	appendRows(t, svc, "main", idRows(10, 20))
	wantIDs(t, svc, "main", 30)
	wantClean(t, svc, dir)
}

func TestImport_RefusedAfterReplace(t *testing.T) {
	dir := t.TempDir()
	svc, race := racingService(t, dir)
	ctx := context.Background()
	create(t, svc, "main", idRows(0, 10))
	race(func() {
		if _, err := svc.Create(ctx, table.CreateRequest{Ident: trips, Branch: "main", Replace: true, Source: sourceOf(t, idRows(0, 5))}); err != nil {
			t.Error(err)
		}
	})
	_, err := svc.Import(ctx, table.ImportRequest{Ident: trips, Branch: "main", Source: sourceOf(t, idRows(10, 20))})
	wantConflict(t, err, "this write appended 1 file (10 rows); main replaced the table")
	wantIDs(t, svc, "main", 5)
	wantClean(t, svc, dir) // the refused import's files are gone
}

func TestImport_RefusedAfterDrop(t *testing.T) {
	dir := t.TempDir()
	svc, race := racingService(t, dir)
	ctx := context.Background()
	create(t, svc, "main", idRows(0, 10))
	race(func() {
		if _, err := svc.DropTable(ctx, trips, "main", tarn.CommitInfo{}); err != nil {
			t.Error(err)
		}
	})
	_, err := svc.Import(ctx, table.ImportRequest{Ident: trips, Branch: "main", Source: sourceOf(t, idRows(10, 20))})
	wantConflict(t, err, "main dropped the table")
	wantClean(t, svc, dir)
}

func TestImport_ConcurrentSchemaEvolution(t *testing.T) {
	dir := t.TempDir()
	svc, race := racingService(t, dir)
	ctx := context.Background()
	create(t, svc, "main", idRows(0, 10))
	// Both add the same column: combined.
	race(func() { appendRows(t, svc, "main", idRows(20, 30, "zone:b")) })
	appendRows(t, svc, "main", idRows(10, 20, "zone:a"))
	wantIDs(t, svc, "main", 30)
	// The same column with another type: refused, naming it.
	race(func() { appendRows(t, svc, "main", idRows(30, 40, "n:1")) })
	_, err := svc.Import(ctx, table.ImportRequest{Ident: trips, Branch: "main", Source: sourceOf(t, idRows(40, 50, "n:abc"))})
	wantConflict(t, err, `column "n" is string on this write and long on main`)
	// Two different new columns get the same field id on each side.
	race(func() { appendRows(t, svc, "main", idRows(40, 50, "p:1")) })
	_, err = svc.Import(ctx, table.ImportRequest{Ident: trips, Branch: "main", Source: sourceOf(t, idRows(50, 60, "q:1"))})
	wantConflict(t, err, `column "q" added on this write`, `gave to column "p"`)
	wantIDs(t, svc, "main", 50)
	wantClean(t, svc, dir)
}

func branch(t *testing.T, svc *table.Service, name string) {
	t.Helper()
	if _, err := svc.Catalog().CreateRef(context.Background(), tarn.KindBranch, name, "main"); err != nil {
		t.Fatal(err)
	}
}

func TestMerge_CombinesAppends(t *testing.T) {
	dir := t.TempDir()
	svc := newServiceAt(t, dir)
	ctx := context.Background()
	create(t, svc, "main", idRows(0, 10))
	branch(t, svc, "dev")
	appendRows(t, svc, "dev", idRows(10, 20))
	appendRows(t, svc, "dev", idRows(20, 30, "zone:x"))
	appendRows(t, svc, "main", idRows(30, 40))

	plan, err := svc.Catalog().Merge(ctx, tarn.MergeRequest{Source: "dev", Into: "main", DryRun: true})
	if err != nil || len(plan.Plan) != 1 {
		t.Fatalf("plan %+v %v", plan, err)
	}
	want := tarn.MergeItem{Key: "tarn.trips", Action: tarn.MergeCombine, Source: "appended 2 files (20 rows), added column zone string", Target: "appended 1 file (10 rows)"}
	if plan.Plan[0] != want {
		t.Fatalf("plan %+v\nwant %+v", plan.Plan[0], want)
	}
	res, err := svc.Catalog().Merge(ctx, tarn.MergeRequest{Source: "dev", Into: "main"})
	if err != nil {
		t.Fatal(err)
	}
	if res.FastForward || len(res.Changes) != 1 || res.Plan[0].Action != tarn.MergeCombine {
		t.Fatalf("merge %+v", res)
	}
	wantIDs(t, svc, "main", 40)
	info, err := svc.GetTable(ctx, trips, "main")
	if err != nil {
		t.Fatal(err)
	}
	if info.Files != 4 || info.Snapshot.Operation != "append" || info.Schema[len(info.Schema)-1].Name != "zone" {
		t.Fatalf("merged table: %d files, %+v, %+v", info.Files, info.Snapshot, info.Schema)
	}
	// Again, from the merge: both sides append once more.
	appendRows(t, svc, "dev", idRows(40, 50))
	appendRows(t, svc, "main", idRows(50, 60))
	if _, err := svc.Catalog().Merge(ctx, tarn.MergeRequest{Source: "dev", Into: "main"}); err != nil {
		t.Fatal(err)
	}
	wantIDs(t, svc, "main", 60)
	if n := len(idsAt(t, svc, "dev", trips)); n != 40 {
		t.Fatalf("dev has %d rows: the merge changed its source", n)
	}
	rep, err := svc.Verify(ctx, true)
	if err != nil || len(rep.Problems) > 0 {
		t.Fatalf("verify: %v %v", rep.Problems, err)
	}
}

func TestMerge_ReplaceConflicts(t *testing.T) {
	svc := newService(t)
	ctx := context.Background()
	create(t, svc, "main", idRows(0, 10))
	branch(t, svc, "dev")
	if _, err := svc.Create(ctx, table.CreateRequest{Ident: trips, Branch: "dev", Replace: true, Source: sourceOf(t, idRows(0, 5))}); err != nil {
		t.Fatal(err)
	}
	appendRows(t, svc, "main", idRows(10, 20))
	appendRows(t, svc, "main", idRows(20, 30))
	appendRows(t, svc, "main", idRows(30, 40))
	_, err := svc.Catalog().Merge(ctx, tarn.MergeRequest{Source: "dev", Into: "main"})
	wantConflict(t, err, "tarn.trips: dev replaced the table; main appended 3 files (30 rows)")
	plan, err := svc.Catalog().Merge(ctx, tarn.MergeRequest{Source: "dev", Into: "main", DryRun: true})
	if err != nil || plan.Conflicts != 1 || plan.Plan[0].Action != tarn.MergeConflict {
		t.Fatalf("plan %+v %v", plan, err)
	}
	wantIDs(t, svc, "main", 40)
}

func TestMerge_ColumnClash(t *testing.T) {
	svc := newService(t)
	ctx := context.Background()
	create(t, svc, "main", idRows(0, 10))
	branch(t, svc, "dev")
	appendRows(t, svc, "dev", idRows(10, 20, "x:1"))
	appendRows(t, svc, "main", idRows(20, 30, "x:abc"))
	_, err := svc.Catalog().Merge(ctx, tarn.MergeRequest{Source: "dev", Into: "main"})
	wantConflict(t, err, `column "x" is long on dev and string on main`)
}
