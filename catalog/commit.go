package catalog

import (
	"context"
	"errors"
	"fmt"
	"sort"

	"github.com/tarnhq/tarn"
)

// maxCommitAttempts bounds the optimistic-concurrency retry loop.
const maxCommitAttempts = 64

// CommitRequest asks for one commit on a branch.
type CommitRequest struct {
	Branch string
	// Base is the commit the writer read (full hash). When the branch head
	// has moved past it, the commit is rebased onto the head if none of the
	// changed keys was touched in between, and refused with a conflict
	// otherwise. "" means the current head.
	Base string
	// Changes maps keys to their new entry; nil deletes.
	Changes map[string]*tarn.Entry
	Info    tarn.CommitInfo
}

// Commit writes one commit on a branch. It returns the branch's head
// unchanged when the changes change nothing.
func (c *Catalog) Commit(ctx context.Context, req CommitRequest) (*tarn.Commit, error) {
	head, err := c.BranchHead(ctx, req.Branch)
	if err != nil {
		return nil, err
	}
	var base *tarn.Commit
	if req.Base != "" {
		if base, err = c.GetCommit(ctx, req.Base); err != nil {
			return nil, err
		}
	}
	for attempt := 0; attempt < maxCommitAttempts; attempt++ {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if attempt > 0 { // the branch moved: read its head again (a round trip less on the first)
			ref, err := c.store.GetRef(ctx, req.Branch)
			if err != nil {
				return nil, fmt.Errorf("read branch %s: %w", req.Branch, err)
			}
			if head, err = c.GetCommit(ctx, ref.Commit); err != nil {
				return nil, err
			}
		}
		if base == nil {
			base = head
		}
		if head.Hash != base.Hash {
			if err := c.checkUntouched(ctx, req.Branch, base, head, req.Changes); err != nil {
				return nil, err
			}
		}
		tree, objects, err := c.applyChanges(ctx, head.Tree, req.Changes)
		if err != nil {
			return nil, err
		}
		if tree == head.Tree {
			return head, nil
		}
		commit := c.newCommit([]*tarn.Commit{head}, tree, req.Info)
		err = c.store.Apply(ctx, &Batch{
			Objects: objects,
			Commits: []*tarn.Commit{commit},
			Refs:    []RefUpdate{{Name: req.Branch, Kind: tarn.KindBranch, Old: head.Hash, New: commit.Hash}},
		})
		if errors.Is(err, ErrRefMoved) {
			continue // someone else committed; re-check and rebase
		}
		if err != nil {
			return nil, fmt.Errorf("commit to %s: %w", req.Branch, err)
		}
		c.commits.Add(commit.Hash, commit)
		return commit, nil
	}
	return nil, tarn.Errorf(tarn.ECONFLICT, "branch %q is changing too fast: gave up after %d attempts", req.Branch, maxCommitAttempts)
}

// checkUntouched fails with a conflict when any key in changes differs
// between base and head.
func (c *Catalog) checkUntouched(ctx context.Context, branch string, base, head *tarn.Commit, changes map[string]*tarn.Entry) error {
	var touched []string
	for key := range changes {
		was, err := c.getEntry(ctx, base.Tree, key)
		if err != nil {
			return err
		}
		now, err := c.getEntry(ctx, head.Tree, key)
		if err != nil {
			return err
		}
		if !tarn.SameState(was, now) {
			touched = append(touched, key)
		}
	}
	if len(touched) > 0 {
		sort.Strings(touched)
		return tarn.Errorf(tarn.ECONFLICT, "conflict on branch %q: %s changed since commit %s (now at %s); reload and try again",
			branch, keysList(touched), base.ShortHash(), head.ShortHash())
	}
	return nil
}
