package catalog

import (
	"container/heap"
	"context"
	"errors"
	"fmt"
	"sort"

	"github.com/tarnhq/tarn"
)

// Merge merges Source into the branch Into: three-way at table granularity
// from the merge base, fast-forward when Into has not diverged. A key
// changed differently on both sides is a conflict: nothing is written and the
// error names every such key.
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
		result := &tarn.MergeResult{Source: req.Source, Into: req.Into}
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
		if base != nil && base.Hash == target.Hash && !req.NoFastForward {
			result.FastForward, commit = true, source
			if result.Changes, err = c.diffTrees(ctx, target.Tree, source.Tree); err != nil {
				return nil, err
			}
			batch = &Batch{}
		} else {
			baseTree := ""
			if base != nil {
				baseTree = base.Tree
			} else {
				baseTree, _ = emptyTree()
			}
			changes, err := c.threeWay(ctx, baseTree, source, target)
			if err != nil {
				return nil, err
			}
			result.Changes = changes
			updates := make(map[string]*tarn.Entry, len(changes))
			for _, ch := range changes {
				updates[ch.Key] = ch.New
			}
			tree, objects, err := c.applyChanges(ctx, target.Tree, updates)
			if err != nil {
				return nil, err
			}
			info := req.Info
			if info.Message == "" {
				info.Message = fmt.Sprintf("merge %s into %s", req.Source, req.Into)
			}
			commit = c.newCommit([]*tarn.Commit{target, source}, tree, info)
			batch = &Batch{Objects: objects, Commits: []*tarn.Commit{commit}}
		}
		batch.Refs = []RefUpdate{{Name: req.Into, Kind: tarn.KindBranch, Old: target.Hash, New: commit.Hash}}
		err = c.store.Apply(ctx, batch)
		if errors.Is(err, ErrRefMoved) {
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

// threeWay returns the changes to apply to target: what source changed since
// base, minus what target already has. Keys changed differently on both sides
// are conflicts.
func (c *Catalog) threeWay(ctx context.Context, baseTree string, source, target *tarn.Commit) ([]tarn.Change, error) {
	ours, err := c.diffTrees(ctx, baseTree, target.Tree)
	if err != nil {
		return nil, err
	}
	theirs, err := c.diffTrees(ctx, baseTree, source.Tree)
	if err != nil {
		return nil, err
	}
	oursByKey := make(map[string]tarn.Change, len(ours))
	for _, ch := range ours {
		oursByKey[ch.Key] = ch
	}
	var conflicts []string
	var apply []tarn.Change
	for _, ch := range theirs {
		if mine, ok := oursByKey[ch.Key]; ok {
			if tarn.SameState(mine.New, ch.New) {
				continue // both sides made the same change
			}
			conflicts = append(conflicts, ch.Key)
			continue
		}
		apply = append(apply, ch)
	}
	if len(conflicts) > 0 {
		sort.Strings(conflicts)
		return nil, tarn.Errorf(tarn.ECONFLICT, "merge conflict: %s changed on both %s and %s since their merge base; nothing was merged (revert one side with `tarn table revert`, then merge again)",
			keysList(conflicts), source.ShortHash(), target.ShortHash()).Because(tarn.ReasonMergeConflict)
	}
	return apply, nil
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
