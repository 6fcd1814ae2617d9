package catalogtest

import (
	"context"
	"strings"
	"testing"

	"github.com/tarnhq/tarn"
	"github.com/tarnhq/tarn/catalog"
)

// testRefInHistory: REF@HASH is the commit of REF's history (every
// parent followed) whose hash starts with HASH, even when commits
// elsewhere share the prefix; a commit outside that history, an unknown
// prefix and an unknown ref are errors saying which. The history is
// written into the store directly, with hashes chosen for their prefixes.
func testRefInHistory(t *testing.T, newStore NewStore) {
	ctx := context.Background()
	s := newStore(t)
	node := func(hash string, gen int64, parents ...string) *tarn.Commit {
		c := fakeCommit(hash)
		c.Parents, c.Generation = append([]string{}, parents...), gen
		return c
	}
	root := fakeHash("0000aa", 0)
	m1, m2, side := fakeHash("1111", 1), fakeHash("2222", 1), fakeHash("3333", 1)
	merge := fakeHash("4444", 1)
	twin1, twin2, elsewhere := fakeHash("5555aa", 1), fakeHash("5555bb", 1), fakeHash("5555cc", 1)
	other := fakeHash("6666", 1)
	//   root ─ m1 ─ m2 ──── merge ─ twin1 ─ twin2   main
	//           └── side ──┘                        side (at side)
	//   root ─ other ─ elsewhere                    other
	commits := []*tarn.Commit{
		node(root, 1), node(m1, 2, root), node(m2, 3, m1), node(side, 3, m1), node(merge, 4, m2, side),
		node(twin1, 5, merge), node(twin2, 6, twin1), node(other, 2, root), node(elsewhere, 3, other),
	}
	for i := 0; i <= 64; i++ { // more commits starting with 7777 than a prefix may match
		commits = append(commits, node(fakeHash("7777", i), 2, root))
	}
	refs := []catalog.RefUpdate{
		{Name: tarn.DefaultBranch, Kind: tarn.KindBranch, New: twin2},
		{Name: "side", Kind: tarn.KindBranch, New: side},
		{Name: "other", Kind: tarn.KindBranch, New: elsewhere},
		{Name: "v1", Kind: tarn.KindTag, New: m2},
	}
	if err := s.Apply(ctx, &catalog.Batch{Commits: commits, Refs: refs}); err != nil {
		t.Fatal(err)
	}
	c, err := catalog.Open(ctx, s)
	if err != nil {
		t.Fatalf("open catalog: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	cases := []struct {
		ref  string
		want string // a hash, or an error code
		// for an error: what it is about and what its message says
		resource, mentions string
	}{
		{ref: "main@1111", want: m1},
		{ref: "main@" + m1, want: m1},
		{ref: "main@0000", want: root},
		{ref: "main@3333", want: side}, // through the merge's second parent
		{ref: "main@3333~1", want: m1},
		{ref: "main@5555aa", want: twin1},
		{ref: "other@5555", want: elsewhere}, // the prefix is unique in other's history
		{ref: "v1@1111", want: m1},
		{ref: "main@5555", want: tarn.EINVALID, mentions: "commit prefix 5555 is ambiguous in the history of branch main (5555aa000000, 5555bb000000)"},
		{ref: "side@2222", want: tarn.ENOTFOUND, resource: tarn.ResourceCommit, mentions: "commit 2222 is not in the history of branch side"},
		{ref: "v1@4444", want: tarn.ENOTFOUND, resource: tarn.ResourceCommit, mentions: "commit 4444 is not in the history of tag v1"},
		{ref: "main@9999", want: tarn.ENOTFOUND, resource: tarn.ResourceCommit, mentions: "commit 9999 not found: no commit hash starts with it"},
		{ref: "nosuch@1111", want: tarn.ENOTFOUND, resource: tarn.ResourceRef, mentions: `ref "nosuch" not found (in nosuch@1111, nosuch must be a branch or tag)`},
		{ref: "main@7777", want: tarn.EINVALID, mentions: "matches more than 64 commits"},
		{ref: "main@111", want: tarn.EINVALID, mentions: "after @ give a commit hash"},
	}
	for _, tc := range cases {
		t.Run(tc.ref, func(t *testing.T) {
			got, err := c.Resolve(ctx, tc.ref)
			if len(tc.want) < 64 {
				wantCode(t, err, tc.want, tc.mentions)
				if r := tarn.ErrorResource(err); r != tc.resource {
					t.Fatalf("error %q is about %q, want %q", err, r, tc.resource)
				}
				return
			}
			if err != nil || got.Hash != tc.want {
				t.Fatalf("resolve %s = %v, %v; want %s", tc.ref, got, err, tc.want)
			}
		})
	}
	// What names a past commit is not writable.
	_, err = c.BranchHead(ctx, "main@1111")
	wantCode(t, err, tarn.EINVALID, "only branches are writable")
	if log, err := c.Log(ctx, "main@3333", 0); err != nil || len(log) != 3 || !strings.HasPrefix(log[0].Hash, "3333") {
		t.Fatalf("log main@3333: %v, %v", log, err)
	}
}
