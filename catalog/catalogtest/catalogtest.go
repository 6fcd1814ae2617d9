// Package catalogtest is the conformance suite every catalog.Store backend
// runs: branches, tags, commits, log, ref syntax, merges, time travel and
// optimistic concurrency, exercised through catalog.Catalog; and, under
// "Store", the contract of each Store method used directly (errors,
// prefix lookups, compare-and-swap, the atomicity of Apply, contention).
package catalogtest

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tarnhq/tarn"
	"github.com/tarnhq/tarn/catalog"
)

// NewStore returns a fresh, empty store for one test.
type NewStore func(t *testing.T) catalog.Store

// clock is a deterministic, advancing test clock.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(time.Second)
	return c.now
}

func open(t *testing.T, newStore NewStore) (*catalog.Catalog, *clock) {
	t.Helper()
	clk := &clock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	c, err := catalog.Open(context.Background(), newStore(t), catalog.WithClock(clk.Now))
	if err != nil {
		t.Fatalf("open catalog: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c, clk
}

func table(name string) string {
	return tarn.TableIdent{Namespace: tarn.DefaultNamespace, Name: name}.Key()
}

func tbl(loc string) *tarn.Entry { return &tarn.Entry{Kind: tarn.EntryTable, Metadata: loc} }

func commit(t *testing.T, c *catalog.Catalog, branch string, changes map[string]*tarn.Entry) *tarn.Commit {
	t.Helper()
	cm, err := c.Commit(context.Background(), catalog.CommitRequest{Branch: branch, Changes: changes,
		Info: tarn.CommitInfo{Author: "test", Message: fmt.Sprintf("change %d keys", len(changes))}})
	if err != nil {
		t.Fatalf("commit to %s: %v", branch, err)
	}
	return cm
}

func entryAt(t *testing.T, c *catalog.Catalog, ref, key string) *tarn.Entry {
	t.Helper()
	cm, err := c.Resolve(context.Background(), ref)
	if err != nil {
		t.Fatalf("resolve %s: %v", ref, err)
	}
	e, err := c.GetEntry(context.Background(), cm, key)
	if err != nil {
		t.Fatalf("entry %s at %s: %v", key, ref, err)
	}
	return e
}

func wantCode(t *testing.T, err error, code string, contains ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("want %s error, got nil", code)
	}
	if got := tarn.ErrorCode(err); got != code {
		t.Fatalf("want code %s, got %s: %v", code, got, err)
	}
	for _, s := range contains {
		if !strings.Contains(err.Error(), s) {
			t.Fatalf("error %q does not mention %q", err, s)
		}
	}
}

func location(e *tarn.Entry) string {
	if e == nil {
		return "<absent>"
	}
	return e.Metadata
}

// Run runs the whole suite against stores made by newStore.
func Run(t *testing.T, newStore NewStore) {
	t.Run("Init", func(t *testing.T) { testInit(t, newStore) })
	t.Run("Branches", func(t *testing.T) { testBranches(t, newStore) })
	t.Run("Tags", func(t *testing.T) { testTags(t, newStore) })
	t.Run("CommitAndLog", func(t *testing.T) { testCommitAndLog(t, newStore) })
	t.Run("HistoryPages", func(t *testing.T) { testHistoryPages(t, newStore) })
	t.Run("RefSyntax", func(t *testing.T) { testRefSyntax(t, newStore) })
	t.Run("AmbiguousPrefix", func(t *testing.T) { testAmbiguousPrefix(t, newStore) })
	t.Run("RefInHistory", func(t *testing.T) { testRefInHistory(t, newStore) })
	t.Run("TimeTravel", func(t *testing.T) { testTimeTravel(t, newStore) })
	t.Run("MergeFastForward", func(t *testing.T) { testMergeFastForward(t, newStore) })
	t.Run("MergeThreeWay", func(t *testing.T) { testMergeThreeWay(t, newStore) })
	t.Run("MergeConflict", func(t *testing.T) { testMergeConflict(t, newStore) })
	t.Run("Diff", func(t *testing.T) { testDiff(t, newStore) })
	t.Run("OptimisticConcurrency", func(t *testing.T) { testOptimistic(t, newStore) })
	t.Run("ConcurrentWriters", func(t *testing.T) { testConcurrentWriters(t, newStore) })
	t.Run("OnlyBranchesWritable", func(t *testing.T) { testOnlyBranchesWritable(t, newStore) })
	t.Run("Store", func(t *testing.T) { runStore(t, newStore) })
}

func testInit(t *testing.T, newStore NewStore) {
	c, _ := open(t, newStore)
	ctx := context.Background()
	main, err := c.Resolve(ctx, tarn.DefaultBranch)
	if err != nil {
		t.Fatal(err)
	}
	if len(main.Parents) != 0 {
		t.Fatalf("first commit has parents %v", main.Parents)
	}
	if e := entryAt(t, c, "main", tarn.NamespaceKey(tarn.DefaultNamespace)); e == nil || e.Kind != tarn.EntryNamespace {
		t.Fatalf("default namespace missing: %+v", e)
	}
}

func testBranches(t *testing.T, newStore NewStore) {
	c, _ := open(t, newStore)
	ctx := context.Background()
	commit(t, c, "main", map[string]*tarn.Entry{table("a"): tbl("a1")})
	b, err := c.CreateRef(ctx, tarn.KindBranch, "dev", "main")
	if err != nil {
		t.Fatal(err)
	}
	main, _ := c.Resolve(ctx, "main")
	if b.Commit != main.Hash {
		t.Fatalf("dev at %s, main at %s", b.Commit, main.Hash)
	}
	_, err = c.CreateRef(ctx, tarn.KindBranch, "dev", "main")
	wantCode(t, err, tarn.EEXISTS, "dev")
	_, err = c.CreateRef(ctx, tarn.KindBranch, "../x", "main")
	wantCode(t, err, tarn.EINVALID)
	_, err = c.CreateRef(ctx, tarn.KindBranch, "", "main")
	wantCode(t, err, tarn.EINVALID)
	_, err = c.CreateRef(ctx, tarn.KindBranch, "x", "nosuch")
	wantCode(t, err, tarn.ENOTFOUND, "nosuch")
	_, err = c.Resolve(ctx, "dve")
	wantCode(t, err, tarn.ENOTFOUND, `did you mean "dev"`)

	refs, err := c.ListRefs(ctx, tarn.KindBranch)
	if err != nil || len(refs) != 2 || refs[0].Name != "dev" || refs[1].Name != "main" {
		t.Fatalf("branches = %+v, %v", refs, err)
	}
	if _, err := c.RenameBranch(ctx, "dev", "feature"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Resolve(ctx, "dev"); tarn.ErrorCode(err) != tarn.ENOTFOUND {
		t.Fatalf("dev still resolves after rename: %v", err)
	}
	if _, err := c.RenameBranch(ctx, "main", "x"); tarn.ErrorCode(err) != tarn.EINVALID {
		t.Fatalf("renaming main: %v", err)
	}
	wantCode(t, c.DeleteRef(ctx, tarn.KindBranch, "main"), tarn.EINVALID, "main")
	if err := c.DeleteRef(ctx, tarn.KindBranch, "feature"); err != nil {
		t.Fatal(err)
	}
	wantCode(t, c.DeleteRef(ctx, tarn.KindBranch, "feature"), tarn.ENOTFOUND)
}

func testTags(t *testing.T, newStore NewStore) {
	c, _ := open(t, newStore)
	ctx := context.Background()
	first := commit(t, c, "main", map[string]*tarn.Entry{table("a"): tbl("a1")})
	if _, err := c.CreateRef(ctx, tarn.KindTag, "v1", "main"); err != nil {
		t.Fatal(err)
	}
	commit(t, c, "main", map[string]*tarn.Entry{table("a"): tbl("a2")})
	if got := location(entryAt(t, c, "v1", table("a"))); got != "a1" {
		t.Fatalf("tag v1 sees %s, want a1", got)
	}
	tag, err := c.Resolve(ctx, "v1")
	if err != nil || tag.Hash != first.Hash {
		t.Fatalf("v1 = %v, %v", tag, err)
	}
	_, err = c.CreateRef(ctx, tarn.KindTag, "v1", "main")
	wantCode(t, err, tarn.EEXISTS)
	_, err = c.CreateRef(ctx, tarn.KindTag, "main", "main")
	wantCode(t, err, tarn.EEXISTS)
	wantCode(t, c.DeleteRef(ctx, tarn.KindBranch, "v1"), tarn.ENOTFOUND)
	// A rename moves the name in one batch; the commit stays.
	if _, err := c.CreateRef(ctx, tarn.KindTag, "v0", "main"); err != nil {
		t.Fatal(err)
	}
	renamed, err := c.RenameTag(ctx, "v1", "release-1")
	if err != nil || renamed.Kind != tarn.KindTag || renamed.Commit != first.Hash {
		t.Fatalf("rename v1: %+v, %v", renamed, err)
	}
	_, err = c.GetRef(ctx, "v1")
	wantCode(t, err, tarn.ENOTFOUND)
	_, err = c.RenameTag(ctx, "release-1", "v0")
	wantCode(t, err, tarn.EEXISTS, `tag "v0" already exists`)
	_, err = c.RenameTag(ctx, "release-1", "main")
	wantCode(t, err, tarn.EEXISTS, `branch "main" already exists`)
	_, err = c.RenameTag(ctx, "main", "x")
	wantCode(t, err, tarn.ENOTFOUND, "tag")
	_, err = c.RenameBranch(ctx, "release-1", "x")
	wantCode(t, err, tarn.ENOTFOUND, "branch")
	_, err = c.RenameTag(ctx, "release-1", "bad name")
	wantCode(t, err, tarn.EINVALID)
	if got := location(entryAt(t, c, "release-1", table("a"))); got != "a1" {
		t.Fatalf("renamed tag sees %s, want a1", got)
	}
	if err := c.DeleteRef(ctx, tarn.KindTag, "release-1"); err != nil {
		t.Fatal(err)
	}
}

func testCommitAndLog(t *testing.T, newStore NewStore) {
	c, _ := open(t, newStore)
	ctx := context.Background()
	for i := 1; i <= 5; i++ {
		commit(t, c, "main", map[string]*tarn.Entry{table("a"): tbl(fmt.Sprint("a", i))})
	}
	log, err := c.Log(ctx, "main", 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(log) != 6 {
		t.Fatalf("log has %d commits, want 6", len(log))
	}
	for i := 1; i < len(log); i++ {
		if log[i-1].Parents[0] != log[i].Hash {
			t.Fatalf("log order broken at %d", i)
		}
	}
	if short, _ := c.Log(ctx, "main", 2); len(short) != 2 {
		t.Fatalf("log -n 2 gave %d", len(short))
	}
	// A no-op commit creates nothing.
	head, _ := c.Resolve(ctx, "main")
	same := commit(t, c, "main", map[string]*tarn.Entry{table("a"): tbl("a5")})
	if same.Hash != head.Hash {
		t.Fatal("no-op commit created a commit")
	}
	// Deleting an entry.
	commit(t, c, "main", map[string]*tarn.Entry{table("a"): nil})
	if e := entryAt(t, c, "main", table("a")); e != nil {
		t.Fatalf("deleted entry still there: %+v", e)
	}
	if got := location(entryAt(t, c, "main~1", table("a"))); got != "a5" {
		t.Fatalf("main~1 sees %s", got)
	}
}

func testRefSyntax(t *testing.T, newStore NewStore) {
	c, _ := open(t, newStore)
	ctx := context.Background()
	var commits []*tarn.Commit
	for i := 1; i <= 3; i++ {
		commits = append(commits, commit(t, c, "main", map[string]*tarn.Entry{table("a"): tbl(fmt.Sprint("a", i))}))
	}
	cases := []struct{ ref, want string }{
		{"main", commits[2].Hash},
		{"main~1", commits[1].Hash},
		{"main~", commits[1].Hash},
		{"main~2", commits[0].Hash},
		{"main~1~1", commits[0].Hash},
		{commits[1].Hash, commits[1].Hash},
		{commits[1].Hash[:8], commits[1].Hash},
		{commits[1].Hash[:8] + "~1", commits[0].Hash},
	}
	for _, tc := range cases {
		got, err := c.Resolve(ctx, tc.ref)
		if err != nil {
			t.Fatalf("resolve %s: %v", tc.ref, err)
		}
		if got.Hash != tc.want {
			t.Fatalf("resolve %s = %s, want %s", tc.ref, got.ShortHash(), tarn.ShortHash(tc.want))
		}
	}
	_, err := c.Resolve(ctx, "main~10")
	wantCode(t, err, tarn.ENOTFOUND, "history")
	_, err = c.Resolve(ctx, commits[0].Hash[:7])
	wantCode(t, err, tarn.ENOTFOUND)
	_, err = c.Resolve(ctx, "main@{yesterday}")
	wantCode(t, err, tarn.EINVALID, "RFC3339")
	_, err = c.Resolve(ctx, "~1")
	wantCode(t, err, tarn.EINVALID)
	_, err = c.Resolve(ctx, "ffffffffffffffff")
	wantCode(t, err, tarn.ENOTFOUND)
}

func testTimeTravel(t *testing.T, newStore NewStore) {
	c, _ := open(t, newStore)
	ctx := context.Background()
	a1 := commit(t, c, "main", map[string]*tarn.Entry{table("a"): tbl("a1")})
	a2 := commit(t, c, "main", map[string]*tarn.Entry{table("a"): tbl("a2")})
	at := func(ts time.Time) string { return "main@{" + ts.UTC().Format(time.RFC3339) + "}" }
	if got := location(entryAt(t, c, at(a1.Time), table("a"))); got != "a1" {
		t.Fatalf("at a1's time: %s", got)
	}
	if got := location(entryAt(t, c, at(a2.Time.Add(time.Hour)), table("a"))); got != "a2" {
		t.Fatalf("after a2: %s", got)
	}
	if got := location(entryAt(t, c, at(a2.Time.Add(-time.Millisecond)), table("a"))); got != "a1" {
		t.Fatalf("just before a2: %s", got)
	}
	_, err := c.Resolve(ctx, at(a1.Time.Add(-time.Hour)))
	wantCode(t, err, tarn.ENOTFOUND, "no commit at or before")
}

func testMergeFastForward(t *testing.T, newStore NewStore) {
	c, _ := open(t, newStore)
	ctx := context.Background()
	if _, err := c.CreateRef(ctx, tarn.KindBranch, "dev", "main"); err != nil {
		t.Fatal(err)
	}
	head := commit(t, c, "dev", map[string]*tarn.Entry{table("a"): tbl("a1")})
	res, err := c.Merge(ctx, tarn.MergeRequest{Source: "dev", Into: "main"})
	if err != nil {
		t.Fatal(err)
	}
	if !res.FastForward || res.Commit.Hash != head.Hash || len(res.Changes) != 1 {
		t.Fatalf("merge result %+v", res)
	}
	res, err = c.Merge(ctx, tarn.MergeRequest{Source: "dev", Into: "main"})
	if err != nil || !res.UpToDate {
		t.Fatalf("second merge: %+v %v", res, err)
	}
	_, err = c.Merge(ctx, tarn.MergeRequest{Source: "main", Into: "main"})
	wantCode(t, err, tarn.EINVALID, "itself")
	_, err = c.Merge(ctx, tarn.MergeRequest{Source: "dev", Into: "nosuch"})
	wantCode(t, err, tarn.ENOTFOUND)
}

func testMergeThreeWay(t *testing.T, newStore NewStore) {
	c, _ := open(t, newStore)
	ctx := context.Background()
	commit(t, c, "main", map[string]*tarn.Entry{table("a"): tbl("a1"), table("b"): tbl("b1"), table("c"): tbl("c1")})
	if _, err := c.CreateRef(ctx, tarn.KindBranch, "dev", "main"); err != nil {
		t.Fatal(err)
	}
	commit(t, c, "dev", map[string]*tarn.Entry{table("a"): tbl("a2"), table("d"): tbl("d1"), table("c"): nil})
	commit(t, c, "main", map[string]*tarn.Entry{table("b"): tbl("b2"), table("e"): tbl("e1")})
	mainHead, _ := c.Resolve(ctx, "main")
	devHead, _ := c.Resolve(ctx, "dev")
	res, err := c.Merge(ctx, tarn.MergeRequest{Source: "dev", Into: "main", Info: tarn.CommitInfo{Author: "t"}})
	if err != nil {
		t.Fatal(err)
	}
	if res.FastForward || len(res.Commit.Parents) != 2 || res.Commit.Parents[0] != mainHead.Hash || res.Commit.Parents[1] != devHead.Hash {
		t.Fatalf("merge commit parents %v", res.Commit.Parents)
	}
	want := map[string]string{"a": "a2", "b": "b2", "c": "<absent>", "d": "d1", "e": "e1"}
	for name, loc := range want {
		if got := location(entryAt(t, c, "main", table(name))); got != loc {
			t.Fatalf("after merge %s = %s, want %s", name, got, loc)
		}
	}
	// dev is unchanged by the merge.
	if got := location(entryAt(t, c, "dev", table("b"))); got != "b1" {
		t.Fatalf("dev's b = %s", got)
	}
	// Merging again the other way fast-forwards dev.
	res, err = c.Merge(ctx, tarn.MergeRequest{Source: "main", Into: "dev"})
	if err != nil || !res.FastForward {
		t.Fatalf("back-merge: %+v %v", res, err)
	}
}

func testMergeConflict(t *testing.T, newStore NewStore) {
	c, _ := open(t, newStore)
	ctx := context.Background()
	commit(t, c, "main", map[string]*tarn.Entry{table("a"): tbl("a1"), table("b"): tbl("b1")})
	if _, err := c.CreateRef(ctx, tarn.KindBranch, "dev", "main"); err != nil {
		t.Fatal(err)
	}
	commit(t, c, "dev", map[string]*tarn.Entry{table("a"): tbl("a-dev"), table("b"): tbl("b-dev"), table("x"): tbl("x")})
	commit(t, c, "main", map[string]*tarn.Entry{table("a"): tbl("a-main"), table("b"): nil})
	before, _ := c.Resolve(ctx, "main")
	_, err := c.Merge(ctx, tarn.MergeRequest{Source: "dev", Into: "main"})
	wantCode(t, err, tarn.ECONFLICT, table("a"), table("b"))
	after, _ := c.Resolve(ctx, "main")
	if after.Hash != before.Hash {
		t.Fatal("a conflicting merge moved main")
	}
	// The same change on both sides is not a conflict.
	c2, _ := open(t, newStore)
	commit(t, c2, "main", map[string]*tarn.Entry{table("a"): tbl("a1")})
	if _, err := c2.CreateRef(ctx, tarn.KindBranch, "dev", "main"); err != nil {
		t.Fatal(err)
	}
	commit(t, c2, "dev", map[string]*tarn.Entry{table("a"): tbl("same"), table("y"): tbl("y")})
	commit(t, c2, "main", map[string]*tarn.Entry{table("a"): tbl("same")})
	if _, err := c2.Merge(ctx, tarn.MergeRequest{Source: "dev", Into: "main"}); err != nil {
		t.Fatalf("identical changes conflicted: %v", err)
	}
}

func testDiff(t *testing.T, newStore NewStore) {
	c, _ := open(t, newStore)
	ctx := context.Background()
	a := commit(t, c, "main", map[string]*tarn.Entry{table("a"): tbl("a1"), table("b"): tbl("b1")})
	b := commit(t, c, "main", map[string]*tarn.Entry{table("a"): tbl("a2"), table("b"): nil, table("c"): tbl("c1")})
	changes, err := c.DiffCommits(ctx, a, b)
	if err != nil {
		t.Fatal(err)
	}
	got := []string{}
	for _, ch := range changes {
		got = append(got, ch.Kind+":"+ch.Key)
	}
	want := "changed:tarn.a added:tarn.c removed:tarn.b"
	sortedGot := strings.Join(got, " ")
	if sortedGot != "changed:tarn.a removed:tarn.b added:tarn.c" && sortedGot != want {
		t.Fatalf("diff = %s", sortedGot)
	}
	if none, _ := c.DiffCommits(ctx, b, b); len(none) != 0 {
		t.Fatalf("diff of a commit with itself: %v", none)
	}
}

func testOptimistic(t *testing.T, newStore NewStore) {
	c, _ := open(t, newStore)
	ctx := context.Background()
	base := commit(t, c, "main", map[string]*tarn.Entry{table("a"): tbl("a1"), table("b"): tbl("b1")})
	// Another writer changes b.
	commit(t, c, "main", map[string]*tarn.Entry{table("b"): tbl("b2")})
	// A writer based on the old head changing only a is rebased.
	cm, err := c.Commit(ctx, catalog.CommitRequest{Branch: "main", Base: base.Hash, Changes: map[string]*tarn.Entry{table("a"): tbl("a2")}})
	if err != nil {
		t.Fatalf("untouched table should rebase: %v", err)
	}
	if location(entryAt(t, c, cm.Hash, table("b"))) != "b2" || location(entryAt(t, c, cm.Hash, table("a"))) != "a2" {
		t.Fatal("rebased commit lost a concurrent change")
	}
	// A writer based on the old head changing b conflicts.
	_, err = c.Commit(ctx, catalog.CommitRequest{Branch: "main", Base: base.Hash, Changes: map[string]*tarn.Entry{table("b"): tbl("b3")}})
	wantCode(t, err, tarn.ECONFLICT, table("b"))
	if location(entryAt(t, c, "main", table("b"))) != "b2" {
		t.Fatal("a conflicting commit changed b")
	}
}

func testConcurrentWriters(t *testing.T, newStore NewStore) {
	c, _ := open(t, newStore)
	ctx := context.Background()
	const writers, each = 8, 10
	var wg sync.WaitGroup
	errs := make(chan error, writers*each)
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < each; i++ {
				_, err := c.Commit(ctx, catalog.CommitRequest{Branch: "main",
					Changes: map[string]*tarn.Entry{table(fmt.Sprintf("w%d_%d", w, i)): tbl("x")}})
				if err != nil {
					errs <- err
				}
			}
		}(w)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("concurrent commit: %v", err)
	}
	head, _ := c.Resolve(ctx, "main")
	entries, _, err := c.Entries(ctx, head)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != writers*each+1 {
		t.Fatalf("%d entries after %d acknowledged commits (+1 namespace)", len(entries), writers*each)
	}
	log, _ := c.Log(ctx, "main", 0)
	if len(log) != writers*each+1 {
		t.Fatalf("log has %d commits", len(log))
	}
	// Contended writes to the same key: exactly the acknowledged ones win,
	// the others fail with a conflict.
	base, _ := c.Resolve(ctx, "main")
	ok, conflicts := race(t, writers, func(w int) error {
		_, err := c.Commit(ctx, catalog.CommitRequest{Branch: "main", Base: base.Hash,
			Changes: map[string]*tarn.Entry{table("hot"): tbl(fmt.Sprint("hot", w))}})
		return err
	}, func(err error) bool { return tarn.ErrorCode(err) == tarn.ECONFLICT })
	if ok != 1 || conflicts != writers-1 {
		t.Fatalf("same-key writers from one base: %d succeeded, %d conflicted", ok, conflicts)
	}
}

// race runs try(0) to try(n-1) in n goroutines released at once, and
// returns how many succeeded and how many lost (the errors lost accepts);
// any other error fails the test.
func race(t *testing.T, n int, try func(i int) error, lost func(error) bool) (wins, losses int) {
	t.Helper()
	errs := make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			<-start
			errs[i] = try(i)
		}(i)
	}
	close(start)
	wg.Wait()
	for _, err := range errs {
		switch {
		case err == nil:
			wins++
		case lost(err):
			losses++
		default:
			t.Errorf("racing: %v", err)
		}
	}
	return wins, losses
}

func testOnlyBranchesWritable(t *testing.T, newStore NewStore) {
	c, _ := open(t, newStore)
	ctx := context.Background()
	first := commit(t, c, "main", map[string]*tarn.Entry{table("a"): tbl("a1")})
	commit(t, c, "main", map[string]*tarn.Entry{table("a"): tbl("a2")})
	if _, err := c.CreateRef(ctx, tarn.KindTag, "v1", "main"); err != nil {
		t.Fatal(err)
	}
	for _, ref := range []string{"v1", first.Hash, first.Hash[:10], "main~1", "main@{2030-01-01T00:00:00Z}"} {
		_, err := c.Commit(ctx, catalog.CommitRequest{Branch: ref, Changes: map[string]*tarn.Entry{table("a"): tbl("z")}})
		wantCode(t, err, tarn.EINVALID, "only branches are writable")
	}
	_, err := c.Merge(ctx, tarn.MergeRequest{Source: "main", Into: "v1"})
	wantCode(t, err, tarn.EINVALID, "only branches are writable")
}
