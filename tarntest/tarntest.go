// Package tarntest is the conformance suite of tarn's service interfaces:
// every implementation of tarn.Services (embedded over a home, the HTTP
// client against tarn serve) runs it and must behave the same: the same
// results, the same error codes.
//
//	func TestServices(t *testing.T) {
//		tarntest.Run(t, func(t *testing.T) *tarn.Services { return open(t) })
//	}
package tarntest

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tarnhq/tarn"
	"github.com/tarnhq/tarn/secret"
)

// NewServices returns a fresh, empty lakehouse's services for one test
// (closed by the suite). Their caller is an admin.
type NewServices func(t *testing.T) *tarn.Services

// Run runs the suite.
func Run(t *testing.T, newServices NewServices) {
	open := func(t *testing.T) *tarn.Services {
		t.Helper()
		s := newServices(t)
		t.Cleanup(func() { s.Close() })
		return s
	}
	t.Run("Refs", func(t *testing.T) { testRefs(t, open(t)) })
	t.Run("Merge", func(t *testing.T) { testMerge(t, open(t)) })
	t.Run("Tables", func(t *testing.T) { testTables(t, open(t)) })
	t.Run("TablePlan", func(t *testing.T) { testTablePlan(t, open(t)) })
	t.Run("Namespaces", func(t *testing.T) { testNamespaces(t, open(t)) })
	t.Run("Query", func(t *testing.T) { testQuery(t, open(t)) })
	t.Run("Runs", func(t *testing.T) { testRuns(t, open(t)) })
	t.Run("Jobs", func(t *testing.T) { testJobs(t, open(t)) })
	t.Run("Secrets", func(t *testing.T) { testSecrets(t, open(t)) })
}

var ctx = context.Background()

func info(msg string) tarn.CommitInfo { return tarn.CommitInfo{Author: "suite", Message: msg} }

// wantCode fails unless err has code.
func wantCode(t *testing.T, err error, code string, mentions ...string) {
	t.Helper()
	if got := tarn.ErrorCode(err); err == nil || got != code {
		t.Fatalf("error %v (code %q), want code %q", err, got, code)
	}
	for _, m := range mentions {
		if !strings.Contains(err.Error(), m) {
			t.Fatalf("error %q does not mention %q", err, m)
		}
	}
}

// wantAbout fails unless err has code, is about resource and has reason
// (tarn.ErrorResource, tarn.ErrorReason; "" for none): a client tells
// errors apart by them.
func wantAbout(t *testing.T, err error, code, resource, reason string) {
	t.Helper()
	wantCode(t, err, code)
	if got := tarn.ErrorResource(err); got != resource {
		t.Fatalf("error %q is about %q, want %q", err, got, resource)
	}
	if got := tarn.ErrorReason(err); got != reason {
		t.Fatalf("error %q has reason %q, want %q", err, got, reason)
	}
}

// must is v, or the test's end: must(f())(t).
func must[T any](v T, err error) func(t *testing.T) T {
	return func(t *testing.T) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

// file writes a file of the test and returns its path.
func file(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

var trips = tarn.TableIdent{Namespace: tarn.DefaultNamespace, Name: "trips"}

// createTrips creates tarn.trips on branch with rows id 1..3.
func createTrips(t *testing.T, s *tarn.Services, branch string) *tarn.WriteResult {
	t.Helper()
	csv := file(t, "trips.csv", "id,zone,fare\n1,a,10.5\n2,b,3.25\n3,a,7\n")
	return must(s.Tables.CreateTable(ctx, tarn.CreateTableRequest{Table: trips, Branch: branch, From: []string{csv}, Info: info("create trips")}))(t)
}

func testRefs(t *testing.T, s *tarn.Services) {
	main := must(s.Refs.GetRef(ctx, tarn.DefaultBranch))(t)
	if main.Kind != tarn.KindBranch || main.Name != tarn.DefaultBranch {
		t.Fatalf("main: %+v", main)
	}
	dev := must(s.Refs.CreateRef(ctx, tarn.KindBranch, "dev", "main"))(t)
	if dev.Commit != main.Commit {
		t.Fatalf("a new branch does not start at its source: %+v vs %+v", dev, main)
	}
	_, err := s.Refs.CreateRef(ctx, tarn.KindBranch, "dev", "main")
	wantAbout(t, err, tarn.EEXISTS, tarn.ResourceBranch, "")
	_, err = s.Refs.CreateRef(ctx, tarn.KindBranch, "x", "nosuch")
	wantAbout(t, err, tarn.ENOTFOUND, tarn.ResourceRef, "")
	_, err = s.Refs.CreateRef(ctx, tarn.KindBranch, "bad name", "main")
	wantCode(t, err, tarn.EINVALID)
	must(s.Refs.CreateRef(ctx, tarn.KindTag, "v1", "main"))(t)
	_, err = s.Refs.CreateRef(ctx, tarn.KindBranch, "v1", "main")
	wantAbout(t, err, tarn.EEXISTS, tarn.ResourceTag, "") // the kind that exists
	branches := must(s.Refs.ListRefs(ctx, tarn.KindBranch))(t)
	tags := must(s.Refs.ListRefs(ctx, tarn.KindTag))(t)
	if len(branches) != 2 || len(tags) != 1 || tags[0].Name != "v1" {
		t.Fatalf("branches %v, tags %v", branches, tags)
	}
	// Refs resolve by name, hash prefix, REF~N.
	res := createTrips(t, s, "dev")
	head := must(s.Refs.BranchHead(ctx, "dev"))(t)
	if head.Hash != res.Commit.Hash || head.Author == "" {
		t.Fatalf("head %+v, the write's commit %+v", head, res.Commit)
	}
	for _, ref := range []string{"dev", head.Hash, head.Hash[:10]} {
		if c := must(s.Refs.Resolve(ctx, ref))(t); c.Hash != head.Hash {
			t.Fatalf("%s resolves to %s", ref, c.Hash)
		}
	}
	if c := must(s.Refs.Resolve(ctx, "dev~1"))(t); c.Hash != main.Commit {
		t.Fatalf("dev~1 is %s, want %s", c.Hash, main.Commit)
	}
	// BRANCH@HASH: a commit of the branch's history, by a prefix of 4 or more.
	for ref, want := range map[string]string{"dev@" + head.Hash[:6]: head.Hash, "dev@" + main.Commit[:8]: main.Commit,
		"dev@" + head.Hash[:8] + "~1": main.Commit, "v1@" + main.Commit: main.Commit} {
		if c := must(s.Refs.Resolve(ctx, ref))(t); c.Hash != want {
			t.Fatalf("%s resolves to %s, want %s", ref, c.Hash, want)
		}
	}
	_, err = s.Refs.Resolve(ctx, "main@"+head.Hash[:8])
	wantAbout(t, err, tarn.ENOTFOUND, tarn.ResourceCommit, "")
	wantCode(t, err, tarn.ENOTFOUND, "commit "+head.Hash[:8]+" is not in the history of branch main")
	_, err = s.Refs.Resolve(ctx, "nosuch@"+head.Hash[:8])
	wantAbout(t, err, tarn.ENOTFOUND, tarn.ResourceRef, "")
	_, err = s.Refs.Resolve(ctx, "dev@xyz1")
	wantCode(t, err, tarn.EINVALID, "after @ give a commit hash")
	_, err = s.Refs.BranchHead(ctx, "dev@"+head.Hash[:8])
	wantCode(t, err, tarn.EINVALID, "only branches are writable")
	_, err = s.Refs.Resolve(ctx, "nosuch")
	wantAbout(t, err, tarn.ENOTFOUND, tarn.ResourceRef, "")
	_, err = s.Refs.Resolve(ctx, "dev~5")
	wantAbout(t, err, tarn.ENOTFOUND, tarn.ResourceCommit, "")
	_, err = s.Refs.BranchHead(ctx, "v1")
	wantCode(t, err, tarn.EINVALID)
	_, err = s.Refs.BranchHead(ctx, "nosuch")
	wantAbout(t, err, tarn.ENOTFOUND, tarn.ResourceBranch, "")
	if c := must(s.Refs.GetCommit(ctx, head.Hash))(t); c.Message != "create trips" {
		t.Fatalf("commit %+v", c)
	}
	_, err = s.Refs.GetCommit(ctx, strings.Repeat("0", 64))
	wantAbout(t, err, tarn.ENOTFOUND, tarn.ResourceCommit, "")
	if log := must(s.Refs.Log(ctx, "dev", 0))(t); len(log) != 2 || log[0].Hash != head.Hash {
		t.Fatalf("log %v", log)
	}
	if log := must(s.Refs.Log(ctx, "dev", 1))(t); len(log) != 1 {
		t.Fatalf("log -n 1: %d commits", len(log))
	}
	// The same history in pages of one commit.
	first := must(s.Refs.History(ctx, "dev", "", 1))(t)
	if len(first.Commits) != 1 || first.Commits[0].Hash != head.Hash || first.Next == "" {
		t.Fatalf("first page %+v", first)
	}
	if last := must(s.Refs.History(ctx, "dev", first.Next, 1))(t); len(last.Commits) != 1 || last.Commits[0].Hash != head.Parents[0] || last.Next != "" {
		t.Fatalf("second and last page %+v", last)
	}
	_, err = s.Refs.History(ctx, "dev", strings.Repeat("0", 64), 1)
	wantCode(t, err, tarn.ENOTFOUND)
	// Rename and delete.
	if r := must(s.Refs.RenameBranch(ctx, "dev", "feature"))(t); r.Name != "feature" || r.Commit != head.Hash {
		t.Fatalf("renamed %+v", r)
	}
	_, err = s.Refs.GetRef(ctx, "dev")
	wantCode(t, err, tarn.ENOTFOUND)
	if err := s.Refs.DeleteRef(ctx, tarn.KindBranch, "feature"); err != nil {
		t.Fatal(err)
	}
	wantAbout(t, s.Refs.DeleteRef(ctx, tarn.KindBranch, "feature"), tarn.ENOTFOUND, tarn.ResourceBranch, "")
	wantAbout(t, s.Refs.DeleteRef(ctx, tarn.KindTag, "nosuch"), tarn.ENOTFOUND, tarn.ResourceTag, "")
	// Tags rename too, keeping their commit.
	if r := must(s.Refs.RenameTag(ctx, "v1", "release-1"))(t); r.Name != "release-1" || r.Kind != tarn.KindTag || r.Commit != main.Commit {
		t.Fatalf("renamed tag %+v", r)
	}
	_, err = s.Refs.GetRef(ctx, "v1")
	wantAbout(t, err, tarn.ENOTFOUND, tarn.ResourceRef, "")
	_, err = s.Refs.RenameTag(ctx, "release-1", tarn.DefaultBranch)
	wantAbout(t, err, tarn.EEXISTS, tarn.ResourceBranch, "")
	_, err = s.Refs.RenameTag(ctx, tarn.DefaultBranch, "x")
	wantAbout(t, err, tarn.ENOTFOUND, tarn.ResourceTag, "")
	wantCode(t, s.Refs.DeleteRef(ctx, tarn.KindBranch, tarn.DefaultBranch), tarn.EINVALID)
}

func testMerge(t *testing.T, s *tarn.Services) {
	must(s.Refs.CreateRef(ctx, tarn.KindBranch, "dev", "main"))(t)
	createTrips(t, s, "dev")
	changes := must(s.Refs.Diff(ctx, "main", "dev"))(t)
	if len(changes) != 1 || changes[0].Key != trips.Key() {
		t.Fatalf("diff %+v", changes)
	}
	base := must(s.Refs.MergeBase(ctx, "main", "dev"))(t)
	if base == nil || base.Hash != must(s.Refs.Resolve(ctx, "main"))(t).Hash {
		t.Fatalf("merge base %+v", base)
	}
	res := must(s.Refs.Merge(ctx, tarn.MergeRequest{Source: "dev", Into: "main", Info: info("publish")}))(t)
	if !res.FastForward || res.Commit.Hash != must(s.Refs.Resolve(ctx, "dev"))(t).Hash {
		t.Fatalf("merge of a branch ahead: %+v", res)
	}
	// Both sides append: one version holding both sides' rows.
	must(s.Tables.ImportTable(ctx, tarn.ImportRequest{Table: trips, Branch: "main", From: []string{file(t, "m.csv", "id,zone,fare\n4,c,1\n")}, Info: info("main")}))(t)
	must(s.Tables.ImportTable(ctx, tarn.ImportRequest{Table: trips, Branch: "dev", From: []string{file(t, "d.csv", "id,zone,fare\n5,d,2\n")}, Info: info("dev")}))(t)
	plan := must(s.Refs.Merge(ctx, tarn.MergeRequest{Source: "dev", Into: "main", DryRun: true}))(t)
	if len(plan.Plan) != 1 || plan.Plan[0].Action != tarn.MergeCombine || plan.Commit.Hash != must(s.Refs.Resolve(ctx, "main"))(t).Hash {
		t.Fatalf("merge plan of two appends: %+v", plan)
	}
	res = must(s.Refs.Merge(ctx, tarn.MergeRequest{Source: "dev", Into: "main", Info: info("combine")}))(t)
	if res.FastForward || len(res.Plan) != 1 || res.Plan[0].Action != tarn.MergeCombine {
		t.Fatalf("merge of two appends: %+v", res)
	}
	if ti := must(s.Tables.GetTable(ctx, trips, "main"))(t); ti.Rows != 5 {
		t.Fatalf("merged table has %d rows, want 5 (3 + one each side)", ti.Rows)
	}
	// One side replaces the table: a conflict naming it, nothing written.
	must(s.Tables.ImportTable(ctx, tarn.ImportRequest{Table: trips, Branch: "main", From: []string{file(t, "m2.csv", "id,zone,fare\n6,c,1\n")}, Info: info("main")}))(t)
	must(s.Tables.CreateTable(ctx, tarn.CreateTableRequest{Table: trips, Branch: "dev", Replace: true, From: []string{file(t, "d2.csv", "id,zone,fare\n7,d,2\n")}, Info: info("dev")}))(t)
	before := must(s.Refs.Resolve(ctx, "main"))(t)
	_, err := s.Refs.Merge(ctx, tarn.MergeRequest{Source: "dev", Into: "main"})
	wantCode(t, err, tarn.ECONFLICT, trips.String()+": dev replaced the table")
	wantAbout(t, err, tarn.ECONFLICT, "", tarn.ReasonMergeConflict)
	if after := must(s.Refs.Resolve(ctx, "main"))(t); after.Hash != before.Hash {
		t.Fatal("a conflicting merge moved main")
	}
	_, err = s.Refs.Merge(ctx, tarn.MergeRequest{Source: "dev", Into: "nosuch"})
	wantAbout(t, err, tarn.ENOTFOUND, tarn.ResourceBranch, "")
}

func testTables(t *testing.T, s *tarn.Services) {
	res := createTrips(t, s, "main")
	if res.Entry == nil || res.Entry.Rows != 3 {
		t.Fatalf("create: %+v", res)
	}
	_, err := s.Tables.CreateTable(ctx, tarn.CreateTableRequest{Table: trips, Branch: "main", From: []string{file(t, "again.csv", "id\n1\n")}})
	wantAbout(t, err, tarn.EEXISTS, tarn.ResourceTable, "")
	_, err = s.Tables.CreateTable(ctx, tarn.CreateTableRequest{Table: tarn.TableIdent{Namespace: "tarn", Name: "bad"}, Branch: "main",
		From: []string{file(t, "bad.csv", "a,a\n1,2\n")}})
	wantCode(t, err, tarn.EINVALID)
	_, err = s.Tables.CreateTable(ctx, tarn.CreateTableRequest{Table: tarn.TableIdent{Namespace: "tarn", Name: "x"}, Branch: "main"})
	wantCode(t, err, tarn.EINVALID)
	ti := must(s.Tables.GetTable(ctx, trips, "main"))(t)
	var names []string
	for _, c := range ti.Schema {
		names = append(names, c.Name)
	}
	if strings.Join(names, ",") != "id,zone,fare" || ti.Rows != 3 {
		t.Fatalf("table info: columns %v rows %d", names, ti.Rows)
	}
	_, err = s.Tables.GetTable(ctx, tarn.TableIdent{Namespace: "tarn", Name: "nosuch"}, "main")
	wantAbout(t, err, tarn.ENOTFOUND, tarn.ResourceTable, "")
	_, err = s.Tables.GetTable(ctx, tarn.TableIdent{Namespace: "nosuch", Name: "trips"}, "main")
	wantAbout(t, err, tarn.ENOTFOUND, tarn.ResourceNamespace, "")
	imp := must(s.Tables.ImportTable(ctx, tarn.ImportRequest{Table: trips, Branch: "main", From: []string{file(t, "more.csv", "id,zone,fare\n4,c,2.5\n5,a,1\n")}, Info: info("more")}))(t)
	if imp.Entry.Rows != 5 {
		t.Fatalf("import: %+v", imp.Entry)
	}
	list, commit := must2(t)(s.Tables.ListTables(ctx, "main", ""))
	if len(list) != 1 || list[0].Table != trips || list[0].Rows != 5 || commit == nil {
		t.Fatalf("list %+v at %v", list, commit)
	}
	// Revert to the create, then drop.
	rev := must(s.Tables.RevertTable(ctx, trips, "main", res.Commit.Hash, info("revert")))(t)
	if rev.Entry.Rows != 3 {
		t.Fatalf("revert: %+v", rev.Entry)
	}
	if rep := must(s.Tables.Verify(ctx, true))(t); len(rep.Problems) != 0 {
		t.Fatalf("verify: %v", rep.Problems)
	}
	must(s.Tables.DropTable(ctx, trips, "main", info("drop")))(t)
	_, err = s.Tables.GetTable(ctx, trips, "main")
	wantCode(t, err, tarn.ENOTFOUND)
	_, err = s.Tables.DropTable(ctx, trips, "main", info("again"))
	wantAbout(t, err, tarn.ENOTFOUND, tarn.ResourceTable, "")
	// Time travel: the table is still at the commit that created it.
	if ti := must(s.Tables.GetTable(ctx, trips, res.Commit.Hash))(t); ti.Rows != 3 {
		t.Fatalf("at the create's commit: %d rows", ti.Rows)
	}
	if ti := must(s.Tables.GetTable(ctx, trips, "main@"+imp.Commit.Hash[:8]))(t); ti.Rows != 5 {
		t.Fatalf("at main@ the import's commit: %d rows", ti.Rows)
	}
	if l, _ := must2(t)(s.Tables.ListTables(ctx, "main@"+res.Commit.Hash[:8], "")); len(l) != 1 || l[0].Rows != 3 {
		t.Fatalf("tables at main@ the create's commit: %+v", l)
	}
	if ch := must(s.Refs.Diff(ctx, "main@"+res.Commit.Hash[:8], "main@"+imp.Commit.Hash[:8]))(t); len(ch) != 1 || ch[0].Key != trips.Key() {
		t.Fatalf("diff between two main@HASH: %+v", ch)
	}
}

// testTablePlan: a plan is what a create would do, nothing written; its
// columns and partition spec given back create that table.
func testTablePlan(t *testing.T, s *tarn.Services) {
	planner, ok := s.Tables.(tarn.TablePlanner)
	if !ok {
		t.Skip("these services do not plan (tarn.TablePlanner)")
	}
	createTrips(t, s, "main")
	head := must(s.Refs.Resolve(ctx, "main"))(t)
	zones := tarn.TableIdent{Namespace: tarn.DefaultNamespace, Name: "zones"}
	csv := file(t, "zones.csv", "zone,name,fee\na,Airport,1.5\nb,Beach,2\n")
	req := tarn.CreateTableRequest{Table: zones, Branch: "main", From: []string{csv}, PartitionBy: "zone"}
	plan := must(planner.PlanTable(ctx, req))(t)
	want := []tarn.ColumnSpec{{Name: "zone", Type: "string"}, {Name: "name", Type: "string"}, {Name: "fee", Type: "double"}}
	if plan.Action != tarn.PlanCreate || plan.Table != zones || plan.Branch != "main" || plan.Commit != head.Hash ||
		!slices.Equal(plan.Columns, want) || len(plan.Files) != 1 || !strings.HasSuffix(plan.Files[0], "zones.csv") {
		t.Fatalf("plan %+v", plan)
	}
	if len(plan.Partition) != 1 || plan.Partition[0] != (tarn.PartitionField{Name: "zone", Transform: "identity", Source: "zone"}) {
		t.Fatalf("plan's partition spec %+v", plan.Partition)
	}
	if after := must(s.Refs.Resolve(ctx, "main"))(t); after.Hash != head.Hash {
		t.Fatal("a plan wrote a commit")
	}
	_, err := s.Tables.GetTable(ctx, zones, "main")
	wantAbout(t, err, tarn.ENOTFOUND, tarn.ResourceTable, "")
	// The plan, edited, creates the table.
	plan.Columns[2].Type = "decimal(10,2)"
	req.Columns = plan.Columns
	must(s.Tables.CreateTable(ctx, req))(t)
	ti := must(s.Tables.GetTable(ctx, zones, "main"))(t)
	if len(ti.Schema) != 3 || ti.Schema[2].Type != "decimal(10, 2)" || ti.Rows != 2 || len(ti.Partition) != 1 {
		t.Fatalf("created from the plan: %+v", ti)
	}
	// An existing table: refused, replaced or kept, as a create would.
	_, err = planner.PlanTable(ctx, req)
	wantAbout(t, err, tarn.EEXISTS, tarn.ResourceTable, "")
	req.Replace = true
	if p := must(planner.PlanTable(ctx, req))(t); p.Action != tarn.PlanReplace || len(p.Columns) != 3 {
		t.Fatalf("plan with replace: %+v", p)
	}
	req.Replace, req.IfNotExists = false, true
	if p := must(planner.PlanTable(ctx, req))(t); p.Action != tarn.PlanKeep || len(p.Columns) != 0 {
		t.Fatalf("plan with if-not-exists: %+v", p)
	}
	// What a create refuses, a plan refuses.
	for _, tc := range []struct {
		name     string
		edit     func(r *tarn.CreateTableRequest)
		code     string
		resource string
	}{
		{"BadPartition", func(r *tarn.CreateTableRequest) { r.PartitionBy = "day(nosuch)" }, tarn.EINVALID, ""},
		{"UnknownNamespace", func(r *tarn.CreateTableRequest) { r.Table.Namespace = "nosuch" }, tarn.ENOTFOUND, tarn.ResourceNamespace},
		{"UnknownBranch", func(r *tarn.CreateTableRequest) { r.Branch = "nosuch" }, tarn.ENOTFOUND, tarn.ResourceBranch},
		{"BadColumnType", func(r *tarn.CreateTableRequest) { r.Columns = []tarn.ColumnSpec{{Name: "zone", Type: "text"}} }, tarn.EINVALID, ""},
		{"CaseTwin", func(r *tarn.CreateTableRequest) { r.Table.Name = "Trips" }, tarn.EEXISTS, tarn.ResourceTable},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := tarn.CreateTableRequest{Table: tarn.TableIdent{Namespace: tarn.DefaultNamespace, Name: "other"}, Branch: "main", From: []string{csv}}
			tc.edit(&r)
			_, err := planner.PlanTable(ctx, r)
			wantAbout(t, err, tc.code, tc.resource, "")
		})
	}
}

func must2(t *testing.T) func([]tarn.TableSummary, *tarn.Commit, error) ([]tarn.TableSummary, *tarn.Commit) {
	return func(l []tarn.TableSummary, c *tarn.Commit, err error) ([]tarn.TableSummary, *tarn.Commit) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return l, c
	}
}

func testNamespaces(t *testing.T, s *tarn.Services) {
	must(s.Tables.CreateNamespace(ctx, "main", "sales", info("ns")))(t)
	_, err := s.Tables.CreateNamespace(ctx, "main", "sales", info("ns"))
	wantAbout(t, err, tarn.EEXISTS, tarn.ResourceNamespace, "")
	_, err = s.Tables.CreateNamespace(ctx, "main", "memory", info("ns"))
	wantCode(t, err, tarn.EINVALID)
	found := false
	for _, ns := range must(s.Tables.ListNamespaces(ctx, "main"))(t) {
		found = found || ns.Name == "sales"
	}
	if !found {
		t.Fatal("the new namespace is not listed")
	}
	sales := tarn.TableIdent{Namespace: "sales", Name: "orders"}
	must(s.Tables.CreateTable(ctx, tarn.CreateTableRequest{Table: sales, Branch: "main", From: []string{file(t, "o.csv", "id\n1\n")}}))(t)
	_, err = s.Tables.DropNamespace(ctx, "main", "sales", false, info("drop"))
	wantAbout(t, err, tarn.EINVALID, tarn.ResourceNamespace, tarn.ReasonNotEmpty)
	must(s.Tables.DropNamespace(ctx, "main", "sales", true, info("drop")))(t)
	_, err = s.Tables.DropNamespace(ctx, "main", "sales", false, info("drop"))
	wantAbout(t, err, tarn.ENOTFOUND, tarn.ResourceNamespace, "")
	_, err = s.Tables.DropNamespace(ctx, "main", "memory", false, info("drop"))
	wantAbout(t, err, tarn.EINVALID, "", "") // a bad name is about no namespace
	_, err = s.Tables.DropNamespace(ctx, "main", tarn.DefaultNamespace, true, info("drop"))
	wantCode(t, err, tarn.EINVALID)
}

func testQuery(t *testing.T, s *tarn.Services) {
	createTrips(t, s, "main")
	res := must(s.Query.Query(ctx, tarn.QueryRequest{SQL: "select zone, sum(fare) as total from trips group by zone order by zone", Ref: "main"}))(t)
	defer res.Close()
	if len(res.Columns) != 2 || res.Columns[0].Name != "zone" || res.Commit == nil {
		t.Fatalf("result: %+v", res.QueryInfo)
	}
	var rows int64
	for res.Records.Next() {
		rows += res.Records.RecordBatch().NumRows()
	}
	if err := res.Records.Err(); err != nil || rows != 2 {
		t.Fatalf("%d rows, %v", rows, err)
	}
	res.Close()
	// A past commit of main by BRANCH@HASH: the table as it was then.
	created := must(s.Refs.Resolve(ctx, "main"))(t)
	must(s.Tables.ImportTable(ctx, tarn.ImportRequest{Table: trips, Branch: "main", From: []string{file(t, "q.csv", "id,zone,fare\n4,c,1\n")}, Info: info("more")}))(t)
	if n := countRows(t, s, "select * from trips", "main@"+created.Hash[:7]); n != 3 {
		t.Fatalf("main@%s has %d rows, want 3", created.Hash[:7], n)
	}
	if n := countRows(t, s, "select * from trips", "main"); n != 4 {
		t.Fatalf("main has %d rows, want 4", n)
	}
	out := filepath.Join(t.TempDir(), "out.csv")
	cp := must(s.Query.CopyTo(ctx, tarn.QueryRequest{SQL: "select * from trips order by id", Ref: "main@" + created.Hash[:8]}, "csv", out))(t)
	b, _ := os.ReadFile(out)
	if cp.Rows != 3 || !bytes.HasPrefix(b, []byte("id,zone,fare\n1,a,10.5")) {
		t.Fatalf("copy: %+v\n%s", cp, b)
	}
	for _, tc := range []struct{ sql, ref, code, resource string }{
		{"select * from nosuch", "main", tarn.ENOTFOUND, tarn.ResourceTable},
		{"selec 1", "main", tarn.EINVALID, ""},
		{"drop table trips", "main", tarn.EINVALID, ""},
		{"select 1", "nosuch", tarn.ENOTFOUND, tarn.ResourceRef},
	} {
		_, err := s.Query.Query(ctx, tarn.QueryRequest{SQL: tc.sql, Ref: tc.ref})
		wantAbout(t, err, tc.code, tc.resource, "")
	}
	_, err := s.Query.CopyTo(ctx, tarn.QueryRequest{SQL: "select 1", Ref: "main"}, "xlsx", filepath.Join(t.TempDir(), "x"))
	wantCode(t, err, tarn.EINVALID)
}

// countRows runs sql at ref and counts the rows of its result.
func countRows(t *testing.T, s *tarn.Services, sql, ref string) int64 {
	t.Helper()
	res := must(s.Query.Query(ctx, tarn.QueryRequest{SQL: sql, Ref: ref}))(t)
	defer res.Close()
	var rows int64
	for res.Records.Next() {
		rows += res.Records.RecordBatch().NumRows()
	}
	if err := res.Records.Err(); err != nil {
		t.Fatal(err)
	}
	return rows
}

// testRuns runs what needs no Python environment: a project that does
// not load fails before anything runs, with the file named.
func testRuns(t *testing.T, s *tarn.Services) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, tarn.ProjectFile), []byte("name: [unclosed\n"), 0o644)
	before := must(s.Refs.Resolve(ctx, "main"))(t)
	var events []tarn.RunEvent
	_, err := s.Runs.Run(ctx, tarn.RunRequest{ProjectDir: dir, Ref: "main"}, func(e tarn.RunEvent) { events = append(events, e) })
	wantCode(t, err, tarn.EINVALID, tarn.ProjectFile)
	if after := must(s.Refs.Resolve(ctx, "main"))(t); after.Hash != before.Hash {
		t.Fatal("a run that did not load changed main")
	}
	_, err = s.Runs.Run(ctx, tarn.RunRequest{ProjectDir: dir, Ref: "nosuch"}, nil)
	if err == nil {
		t.Fatal("a run on an unknown branch succeeded")
	}
}

// testSecrets: the public key is made once and handed out alike, in a
// form values can be sealed with.
func testSecrets(t *testing.T, s *tarn.Services) {
	k := must(s.Secrets.PublicKey(ctx))(t)
	if k.Algorithm != tarn.SecretAlgorithm || len(k.Key) != 32 || len(k.ID) != 16 {
		t.Fatalf("public key %+v", k)
	}
	if again := must(s.Secrets.PublicKey(ctx))(t); again.ID != k.ID || !bytes.Equal(again.Key, k.Key) {
		t.Fatalf("a second call gave another key: %+v, then %+v", k, again)
	}
	if _, err := secret.Seal(k, "token", "v"); err != nil {
		t.Fatalf("seal with the key: %v", err)
	}
}

// testJobs: whatever jobs an implementation records (a server records
// queries and imports, embedded services none), they read back alike.
func testJobs(t *testing.T, s *tarn.Services) {
	createTrips(t, s, "main")
	if res, err := s.Query.Query(ctx, tarn.QueryRequest{SQL: "select count(*) from trips", Ref: "main"}); err == nil {
		for res.Records.Next() {
		}
		res.Close()
	}
	_, err := s.Jobs.GetJob(ctx, "j20260101-000000-abcdef")
	wantAbout(t, err, tarn.ENOTFOUND, tarn.ResourceJob, "")
	jobs := must(s.Jobs.ListJobs(ctx))(t)
	for _, j := range jobs {
		if j.ID == "" || j.Created.After(time.Now().Add(time.Minute)) {
			t.Fatalf("job %+v", j)
		}
		got := must(s.Jobs.GetJob(ctx, j.ID))(t)
		if got.ID != j.ID || got.Kind != j.Kind {
			t.Fatalf("get %s: %+v", j.ID, got)
		}
		var log bytes.Buffer
		if err := s.Jobs.JobLogs(ctx, j.ID, false, &log); err != nil {
			t.Fatal(err)
		}
	}
	_, err = s.Jobs.CancelJob(ctx, "j20260101-000000-abcdef")
	wantCode(t, err, tarn.ENOTFOUND)
	wantCode(t, s.Jobs.JobLogs(ctx, "j20260101-000000-abcdef", false, &bytes.Buffer{}), tarn.ENOTFOUND)
}
