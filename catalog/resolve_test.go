package catalog_test

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/tarnhq/tarn"
	"github.com/tarnhq/tarn/catalog"
	"github.com/tarnhq/tarn/catalog/memstore"
)

// appendResolver stands for the table service: an entry's Metadata is a
// list of "+file" parts, and a side that only added parts to the base's
// list is an append, which it combines; anything else is a conflict.
type appendResolver struct {
	resolved, discarded atomic.Int64
}

func (r *appendResolver) Resolve(ctx context.Context, req catalog.ResolveRequest) (*catalog.Resolution, error) {
	if req.Base == nil || req.Target == nil || req.Source == nil {
		return nil, tarn.Errorf(tarn.ECONFLICT, "created or dropped")
	}
	added := func(e *tarn.Entry) (string, bool) { return strings.CutPrefix(e.Metadata, req.Base.Metadata) }
	theirs, okT := added(req.Target)
	mine, okS := added(req.Source)
	res := &catalog.Resolution{Source: "appended " + mine, Target: "appended " + theirs}
	if !okT || !okS {
		return res, tarn.Errorf(tarn.ECONFLICT, "%s replaced the table; %s appended %s", req.SourceName, req.TargetName, theirs)
	}
	if !req.DryRun {
		r.resolved.Add(1)
		res.Entry = &tarn.Entry{Kind: tarn.EntryTable, Metadata: req.Target.Metadata + mine}
		res.Discard = func() { r.discarded.Add(1) }
	}
	return res, nil
}

func openResolving(t *testing.T) (*catalog.Catalog, *appendResolver) {
	t.Helper()
	c, err := catalog.Open(context.Background(), memstore.New())
	if err != nil {
		t.Fatal(err)
	}
	r := &appendResolver{}
	c.SetResolver(r)
	return c, r
}

func put(t *testing.T, c *catalog.Catalog, branch, key, meta string) *tarn.Commit {
	t.Helper()
	cm, err := c.Commit(context.Background(), catalog.CommitRequest{Branch: branch, Changes: map[string]*tarn.Entry{key: {Kind: tarn.EntryTable, Metadata: meta}}})
	if err != nil {
		t.Fatal(err)
	}
	return cm
}

func metaAt(t *testing.T, c *catalog.Catalog, ref, key string) string {
	t.Helper()
	cm, err := c.Resolve(context.Background(), ref)
	if err != nil {
		t.Fatal(err)
	}
	e, err := c.GetEntry(context.Background(), cm, key)
	if err != nil || e == nil {
		t.Fatalf("entry %s at %s: %v %v", key, ref, e, err)
	}
	return e.Metadata
}

func TestCommit_ResolveOK(t *testing.T) {
	c, r := openResolving(t)
	ctx := context.Background()
	base := put(t, c, "main", "tarn.t", "t")
	put(t, c, "main", "tarn.t", "t+a")
	_, err := c.Commit(ctx, catalog.CommitRequest{Branch: "main", Base: base.Hash, Resolve: true,
		Changes: map[string]*tarn.Entry{"tarn.t": {Kind: tarn.EntryTable, Metadata: "t+b"}}})
	if err != nil {
		t.Fatal(err)
	}
	if got := metaAt(t, c, "main", "tarn.t"); got != "t+a+b" {
		t.Fatalf("resolved entry = %q", got)
	}
	if r.resolved.Load() != 1 || r.discarded.Load() != 0 {
		t.Fatalf("resolved %d, discarded %d", r.resolved.Load(), r.discarded.Load())
	}
}

func TestCommit_ResolveErrConflict(t *testing.T) {
	c, _ := openResolving(t)
	ctx := context.Background()
	base := put(t, c, "main", "tarn.t", "t")
	head := put(t, c, "main", "tarn.t", "other")
	_, err := c.Commit(ctx, catalog.CommitRequest{Branch: "main", Base: base.Hash, Resolve: true,
		Changes: map[string]*tarn.Entry{"tarn.t": {Kind: tarn.EntryTable, Metadata: "t+b"}}})
	if tarn.ErrorCode(err) != tarn.ECONFLICT || !strings.Contains(err.Error(), "tarn.t: this write replaced the table") {
		t.Fatalf("err = %v", err)
	}
	if now, _ := c.Resolve(ctx, "main"); now.Hash != head.Hash {
		t.Fatal("a refused commit moved main")
	}
	// Without Resolve the same commit is the plain conflict.
	_, err = c.Commit(ctx, catalog.CommitRequest{Branch: "main", Base: base.Hash,
		Changes: map[string]*tarn.Entry{"tarn.t": {Kind: tarn.EntryTable, Metadata: "t+b"}}})
	if tarn.ErrorCode(err) != tarn.ECONFLICT || !strings.Contains(err.Error(), "reload and try again") {
		t.Fatalf("err = %v", err)
	}
}

// TestCommit_ResolveConcurrent: writers that all read the same base and
// append to one table all succeed, and every append is there once.
func TestCommit_ResolveConcurrent(t *testing.T) {
	c, r := openResolving(t)
	ctx := context.Background()
	base := put(t, c, "main", "tarn.t", "t")
	const writers = 20
	var wg sync.WaitGroup
	errs := make([]error, writers)
	for i := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = c.Commit(ctx, catalog.CommitRequest{Branch: "main", Base: base.Hash, Resolve: true,
				Changes: map[string]*tarn.Entry{"tarn.t": {Kind: tarn.EntryTable, Metadata: fmt.Sprintf("t+%02d", i)}}})
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("writer %d: %v", i, err)
		}
	}
	parts := strings.Split(metaAt(t, c, "main", "tarn.t"), "+")[1:]
	sort.Strings(parts)
	if len(parts) != writers {
		t.Fatalf("%d appends in %v", len(parts), parts)
	}
	for i, p := range parts {
		if p != fmt.Sprintf("%02d", i) {
			t.Fatalf("appends %v", parts)
		}
	}
	// Every resolution but the committed ones was discarded.
	if committed := r.resolved.Load() - r.discarded.Load(); committed > writers-1 {
		t.Fatalf("%d resolutions, %d discarded", r.resolved.Load(), r.discarded.Load())
	}
}

func TestMerge_Resolve(t *testing.T) {
	c, r := openResolving(t)
	ctx := context.Background()
	put(t, c, "main", "tarn.t", "t")
	put(t, c, "main", "tarn.u", "u")
	if _, err := c.CreateRef(ctx, tarn.KindBranch, "dev", "main"); err != nil {
		t.Fatal(err)
	}
	put(t, c, "dev", "tarn.t", "t+d1+d2")
	put(t, c, "dev", "tarn.n", "n")
	put(t, c, "main", "tarn.t", "t+m1")

	plan, err := c.Merge(ctx, tarn.MergeRequest{Source: "dev", Into: "main", DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	head, _ := c.Resolve(ctx, "main")
	if !plan.DryRun || plan.Commit.Hash != head.Hash || plan.Conflicts != 0 || len(plan.Changes) != 1 {
		t.Fatalf("dry run: %+v", plan)
	}
	got := []string{}
	for _, it := range plan.Plan {
		got = append(got, it.Key+"="+it.Action+"("+it.Source+"|"+it.Target+")")
	}
	if want := "[tarn.n=take(created the table (0 rows, 0 files)|) tarn.t=combine(appended +d1+d2|appended +m1)]"; fmt.Sprint(got) != want {
		t.Fatalf("plan %v, want %s", got, want)
	}
	if r.resolved.Load() != 0 {
		t.Fatal("a dry run wrote")
	}

	res, err := c.Merge(ctx, tarn.MergeRequest{Source: "dev", Into: "main"})
	if err != nil {
		t.Fatal(err)
	}
	if got := metaAt(t, c, "main", "tarn.t"); got != "t+m1+d1+d2" || res.FastForward {
		t.Fatalf("merged t = %q (%+v)", got, res)
	}
	if metaAt(t, c, "main", "tarn.n") != "n" {
		t.Fatal("the merge lost dev's new table")
	}
}

func TestMerge_ResolveErrConflict(t *testing.T) {
	c, r := openResolving(t)
	ctx := context.Background()
	put(t, c, "main", "tarn.t", "t")
	if _, err := c.CreateRef(ctx, tarn.KindBranch, "dev", "main"); err != nil {
		t.Fatal(err)
	}
	put(t, c, "dev", "tarn.t", "replaced")
	put(t, c, "dev", "tarn.n", "n")
	put(t, c, "main", "tarn.t", "t+m1")
	put(t, c, "main", "tarn.n", "n2")
	before, _ := c.Resolve(ctx, "main")

	plan, err := c.Merge(ctx, tarn.MergeRequest{Source: "dev", Into: "main", DryRun: true})
	if err != nil || plan.Conflicts != 2 {
		t.Fatalf("dry run: %+v %v", plan, err)
	}
	for _, it := range plan.Plan {
		if it.Action != tarn.MergeConflict || it.Reason == "" {
			t.Fatalf("plan item %+v", it)
		}
	}
	_, err = c.Merge(ctx, tarn.MergeRequest{Source: "dev", Into: "main"})
	if tarn.ErrorCode(err) != tarn.ECONFLICT || !strings.Contains(err.Error(), "tarn.t: dev replaced the table; main appended +m1") ||
		!strings.Contains(err.Error(), "tarn.n: created or dropped") {
		t.Fatalf("err = %v", err)
	}
	if after, _ := c.Resolve(ctx, "main"); after.Hash != before.Hash || r.resolved.Load() != 0 {
		t.Fatal("a conflicting merge wrote")
	}
}
