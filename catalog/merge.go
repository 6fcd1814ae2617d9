package catalog

import (
	"container/heap"
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/tarnhq/tarn"
)

// Merge merges Source into the branch Into: three-way at table granularity
// from the merge base, fast-forward when Into has not diverged. A key
// changed on both sides is resolved by the catalog's Resolver when one is
// set (tables both sides only appended to are combined) and is a conflict
// otherwise: nothing is written and the error names every such key with
// its reason. With DryRun nothing is written and the result's Plan says
// what a merge would do, conflicts included.
func (c *Catalog) Merge(ctx context.Context, req tarn.MergeRequest) (*tarn.MergeResult, error) {
	expr, err := tarn.ParseRef(req.Source)
	if err != nil {
		return nil, err
	}
	if expr.IsPlain() && expr.Base == req.Into {
		return nil, tarn.Errorf(tarn.EINVALID, "cannot merge branch %q into itself", req.Into)
	}
	if _, err := c.BranchHead(ctx, req.Into); err != nil {
		return nil, err
	}
	source, err := c.Resolve(ctx, req.Source)
	if err != nil {
		return nil, err
	}
	for attempt := 0; attempt < maxCommitAttempts; attempt++ {
		ref, err := c.store.GetRef(ctx, req.Into)
		if err != nil {
			return nil, fmt.Errorf("read branch %s: %w", req.Into, err)
		}
		target, err := c.GetCommit(ctx, ref.Commit)
		if err != nil {
			return nil, err
		}
		result := &tarn.MergeResult{Source: req.Source, Into: req.Into, DryRun: req.DryRun, Plan: []tarn.MergeItem{}}
		base, err := c.MergeBaseOf(ctx, source, target)
		if err != nil {
			return nil, err
		}
		if base != nil {
			result.Base = base.Hash
		}
		if base != nil && base.Hash == source.Hash {
			result.UpToDate, result.Commit = true, target
			return result, nil
		}
		var batch *Batch
		var commit *tarn.Commit
		var resolutions []*Resolution
		if base != nil && base.Hash == target.Hash && !req.NoFastForward {
			result.FastForward, commit = true, source
			if result.Changes, err = c.diffTrees(ctx, target.Tree, source.Tree); err != nil {
				return nil, err
			}
			for _, ch := range result.Changes {
				result.Plan = append(result.Plan, tarn.MergeItem{Key: ch.Key, Action: tarn.MergeTake, Source: describeChange(ch.Old, ch.New)})
			}
			batch = &Batch{}
		} else {
			baseTree := ""
			if base != nil {
				baseTree = base.Tree
			} else {
				baseTree, _ = emptyTree()
			}
			m := threeWay{c: c, req: req, source: source, target: target, baseTree: baseTree}
			if err := m.run(ctx); err != nil {
				return nil, err
			}
			result.Changes, result.Plan, resolutions = m.apply, m.plan, m.resolutions
			if len(m.conflicts) > 0 && !req.DryRun {
				discardList(resolutions)
				return nil, m.conflictError()
			}
			result.Conflicts = len(m.conflicts)
			if req.DryRun {
				result.Commit = target
				return result, nil
			}
			updates := make(map[string]*tarn.Entry, len(result.Changes))
			for _, ch := range result.Changes {
				updates[ch.Key] = ch.New
			}
			tree, objects, err := c.applyChanges(ctx, target.Tree, updates)
			if err != nil {
				discardList(resolutions)
				return nil, err
			}
			info := req.Info
			if info.Message == "" {
				info.Message = fmt.Sprintf("merge %s into %s", req.Source, req.Into)
			}
			commit = c.newCommit([]*tarn.Commit{target, source}, tree, info)
			batch = &Batch{Objects: objects, Commits: []*tarn.Commit{commit}}
		}
		if req.DryRun {
			result.Commit = target
			return result, nil
		}
		batch.Refs = []RefUpdate{{Name: req.Into, Kind: tarn.KindBranch, Old: target.Hash, New: commit.Hash}}
		err = c.store.Apply(ctx, batch)
		if errors.Is(err, ErrRefMoved) {
			discardList(resolutions)
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("merge into %s: %w", req.Into, err)
		}
		result.Commit = commit
		return result, nil
	}
	return nil, tarn.Errorf(tarn.ECONFLICT, "branch %q is changing too fast: gave up merging after %d attempts", req.Into, maxCommitAttempts)
}

// threeWay computes a merge that is not a fast-forward: the changes to
// apply to target (what source changed since base, minus what target
// already has, with keys changed on both sides resolved) and the plan.
type threeWay struct {
	c              *Catalog
	req            tarn.MergeRequest
	source, target *tarn.Commit
	baseTree       string
	apply          []tarn.Change
	plan           []tarn.MergeItem
	conflicts      []tarn.MergeItem
	resolutions    []*Resolution
}

func (m *threeWay) run(ctx context.Context) error {
	ours, err := m.c.diffTrees(ctx, m.baseTree, m.target.Tree)
	if err != nil {
		return err
	}
	theirs, err := m.c.diffTrees(ctx, m.baseTree, m.source.Tree)
	if err != nil {
		return err
	}
	oursByKey := make(map[string]tarn.Change, len(ours))
	for _, ch := range ours {
		oursByKey[ch.Key] = ch
	}
	for _, ch := range theirs {
		item := tarn.MergeItem{Key: ch.Key, Action: tarn.MergeTake, Source: describeChange(ch.Old, ch.New)}
		mine, both := oursByKey[ch.Key]
		switch {
		case !both:
			m.apply = append(m.apply, ch)
		case tarn.SameState(mine.New, ch.New):
			item.Action, item.Target = tarn.MergeSame, item.Source // both sides made the same change
		default:
			item.Target = describeChange(mine.Old, mine.New)
			if err := m.resolve(ctx, &item, ch.Old, mine.New, ch.New); err != nil {
				return err
			}
		}
		m.plan = append(m.plan, item)
	}
	return nil
}

// resolve asks the resolver to combine a key both sides changed; a key it
// cannot combine (or any, without one) becomes a conflict in the plan.
func (m *threeWay) resolve(ctx context.Context, item *tarn.MergeItem, base, target, source *tarn.Entry) error {
	item.Action, item.Reason = tarn.MergeConflict, "changed on both sides since the merge base"
	if m.c.resolver != nil {
		res, err := m.c.resolver.Resolve(ctx, ResolveRequest{Key: item.Key, Base: base, Target: target, Source: source,
			TargetName: m.req.Into, SourceName: m.req.Source, DryRun: m.req.DryRun})
		if res != nil {
			item.Source, item.Target = res.Source, res.Target
		}
		switch {
		case err == nil:
			item.Action, item.Reason = tarn.MergeCombine, ""
			m.resolutions = append(m.resolutions, res)
			if !m.req.DryRun {
				m.apply = append(m.apply, tarn.Change{Key: item.Key, Kind: tarn.ChangeChanged, Old: target, New: res.Entry})
			}
			return nil
		case tarn.ErrorCode(err) != tarn.ECONFLICT:
			discardList(m.resolutions)
			return err
		default:
			item.Reason = tarn.ErrorMessage(err)
		}
	}
	m.conflicts = append(m.conflicts, *item)
	return nil
}

// conflictError names every conflicting key and why.
func (m *threeWay) conflictError() error {
	var parts []string
	for i, it := range m.conflicts {
		if i == 10 {
			parts = append(parts, fmt.Sprintf("and %d more", len(m.conflicts)-10))
			break
		}
		parts = append(parts, it.Key+": "+it.Reason)
	}
	return tarn.Errorf(tarn.ECONFLICT, "merge conflict between %s and %s: %s; nothing was merged (`tarn branch merge --dry-run` shows the plan; revert one side with `tarn table revert`, then merge again)",
		m.req.Source, m.req.Into, strings.Join(parts, "; ")).Because(tarn.ReasonMergeConflict)
}

// MergeBase returns the merge base of two refs, nil when they share no
// history (ENOTFOUND, EINVALID for refs that do not resolve).
func (c *Catalog) MergeBase(ctx context.Context, a, b string) (*tarn.Commit, error) {
	ca, cb, err := c.resolveBoth(ctx, a, b)
	if err != nil {
		return nil, err
	}
	return c.MergeBaseOf(ctx, ca, cb)
}

// MergeBaseOf returns the best common ancestor of a and b (nil when they share
// no history). It walks both histories together, highest generation first:
// a commit is popped only after all its descendants in either history, so
// the first one reached from both sides is a best common ancestor, and the
// walk stops there instead of visiting all of history.
func (c *Catalog) MergeBaseOf(ctx context.Context, a, b *tarn.Commit) (*tarn.Commit, error) {
	if a.Hash == b.Hash {
		return a, nil
	}
	const fromA, fromB = 1, 2
	flags := map[string]int{a.Hash: fromA, b.Hash: fromB}
	queue := &commitHeap{a, b}
	heap.Init(queue)
	queued := map[string]bool{a.Hash: true, b.Hash: true}
	for queue.Len() > 0 {
		cur := heap.Pop(queue).(*tarn.Commit)
		f := flags[cur.Hash]
		if f == fromA|fromB {
			return cur, nil
		}
		for _, p := range cur.Parents {
			flags[p] |= f
			if queued[p] {
				continue
			}
			queued[p] = true
			pc, err := c.GetCommit(ctx, p)
			if err != nil {
				return nil, err
			}
			heap.Push(queue, pc)
		}
	}
	return nil, nil
}

// commitHeap orders commits by generation, highest first.
type commitHeap []*tarn.Commit

func (h commitHeap) Len() int { return len(h) }
func (h commitHeap) Less(i, j int) bool {
	if h[i].Generation != h[j].Generation {
		return h[i].Generation > h[j].Generation
	}
	return h[i].Hash < h[j].Hash
}
func (h commitHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *commitHeap) Push(x any)   { *h = append(*h, x.(*tarn.Commit)) }
func (h *commitHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}
