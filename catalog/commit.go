package catalog

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
	"sync"
	"time"

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
	// otherwise (but see Resolve). "" means the current head.
	Base string
	// Changes maps keys to their new entry; nil deletes.
	Changes map[string]*tarn.Entry
	Info    tarn.CommitInfo
	// Resolve, when set, has the catalog's Resolver redo a change whose key
	// another writer changed since Base on top of what that writer left
	// (an append re-applied to the latest snapshot); only what it cannot
	// combine is a conflict. Without a Resolver it does nothing.
	Resolve bool
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
	changes := make(map[string]*tarn.Entry, len(req.Changes))
	for k, e := range req.Changes {
		changes[k] = e
	}
	// derived holds, per key a resolution redid, the entry it was redone
	// on; the other keys' changes derive from base.
	derived := map[string]*tarn.Entry{}
	pending := map[string]*Resolution{} // resolutions not committed yet, by key
	if req.Resolve && c.resolver != nil {
		mu, _ := c.resolving.LoadOrStore(req.Branch, &sync.Mutex{})
		mu.(*sync.Mutex).Lock()
		defer mu.(*sync.Mutex).Unlock()
	}
	for attempt := 0; attempt < maxCommitAttempts; attempt++ {
		if err := ctx.Err(); err != nil {
			discardAll(pending)
			return nil, err
		}
		// The head read above serves the first attempt, unless this commit
		// waited for another resolving commit of the branch (a round trip
		// less on the common path); a retry reads it again.
		if attempt > 0 || (req.Resolve && c.resolver != nil) {
			ref, err := c.store.GetRef(ctx, req.Branch)
			if err != nil {
				discardAll(pending)
				return nil, fmt.Errorf("read branch %s: %w", req.Branch, err)
			}
			if head, err = c.GetCommit(ctx, ref.Commit); err != nil {
				discardAll(pending)
				return nil, err
			}
		}
		if base == nil {
			base = head
		}
		if head.Hash != base.Hash {
			touched, err := c.touched(ctx, base, head, changes, derived)
			if err != nil {
				discardAll(pending)
				return nil, err
			}
			if len(touched) > 0 {
				if !req.Resolve || c.resolver == nil {
					discardAll(pending)
					return nil, c.commitConflict(req.Branch, base, head, touched)
				}
				if err := c.resolveTouched(ctx, req.Branch, head, touched, changes, derived, pending); err != nil {
					discardAll(pending)
					return nil, err
				}
			}
		}
		tree, objects, err := c.applyChanges(ctx, head.Tree, changes)
		if err != nil {
			discardAll(pending)
			return nil, err
		}
		if tree == head.Tree {
			discardAll(pending)
			return head, nil
		}
		commit := c.newCommit([]*tarn.Commit{head}, tree, req.Info)
		err = c.store.Apply(ctx, &Batch{
			Objects: objects,
			Commits: []*tarn.Commit{commit},
			Refs:    []RefUpdate{{Name: req.Branch, Kind: tarn.KindBranch, Old: head.Hash, New: commit.Hash}},
		})
		if errors.Is(err, ErrRefMoved) {
			if len(pending) > 0 {
				backoff(ctx, attempt) // writers racing for one table: let one through
			}
			continue // someone else committed; re-check and rebase
		}
		if err != nil {
			// The commit may or may not be stored: what the resolutions
			// wrote stays (garbage collection reclaims it if unused).
			return nil, fmt.Errorf("commit to %s: %w", req.Branch, err)
		}
		c.commits.Add(commit.Hash, commit)
		return commit, nil
	}
	discardAll(pending)
	return nil, tarn.Errorf(tarn.ECONFLICT, "branch %q is changing too fast: gave up after %d attempts", req.Branch, maxCommitAttempts)
}

// touchedKey is a changed key that moved on the branch: was is what the
// change derives from, now what the head holds.
type touchedKey struct {
	key      string
	was, now *tarn.Entry
}

// touched returns the changed keys whose entry at head differs from the
// one their change derives from (derived, else base's), sorted.
func (c *Catalog) touched(ctx context.Context, base, head *tarn.Commit, changes, derived map[string]*tarn.Entry) ([]touchedKey, error) {
	var out []touchedKey
	for key := range changes {
		was, ok := derived[key]
		if !ok {
			var err error
			if was, err = c.getEntry(ctx, base.Tree, key); err != nil {
				return nil, err
			}
		}
		now, err := c.getEntry(ctx, head.Tree, key)
		if err != nil {
			return nil, err
		}
		if !tarn.SameState(was, now) {
			out = append(out, touchedKey{key: key, was: was, now: now})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].key < out[j].key })
	return out, nil
}

// resolveTouched has the resolver redo each touched change on the head's
// entry, updating changes and derived. A key it cannot combine fails the
// whole commit with every reason.
func (c *Catalog) resolveTouched(ctx context.Context, branch string, head *tarn.Commit, touched []touchedKey, changes, derived map[string]*tarn.Entry, pending map[string]*Resolution) error {
	done := make([]*Resolution, 0, len(touched))
	var reasons []string
	for _, t := range touched {
		res, err := c.resolver.Resolve(ctx, ResolveRequest{Key: t.key, Base: t.was, Target: t.now, Source: changes[t.key],
			TargetName: branch, SourceName: "this write"})
		if err != nil {
			if tarn.ErrorCode(err) != tarn.ECONFLICT {
				discardList(done)
				return err
			}
			reasons = append(reasons, t.key+": "+tarn.ErrorMessage(err))
			continue
		}
		done = append(done, res)
	}
	if len(reasons) > 0 {
		discardList(done)
		return tarn.Errorf(tarn.ECONFLICT, "conflict on branch %q since commit %s: %s; nothing was written",
			branch, head.ShortHash(), strings.Join(reasons, "; "))
	}
	for i, t := range touched {
		changes[t.key], derived[t.key] = done[i].Entry, t.now
		// A resolution an earlier attempt made of this key is superseded.
		pending[t.key].discard()
		pending[t.key] = done[i]
	}
	return nil
}

// commitConflict is the error of a commit whose keys another writer
// changed.
func (c *Catalog) commitConflict(branch string, base, head *tarn.Commit, touched []touchedKey) error {
	keys := make([]string, len(touched))
	for i, t := range touched {
		keys[i] = t.key
	}
	return tarn.Errorf(tarn.ECONFLICT, "conflict on branch %q: %s changed since commit %s (now at %s); reload and try again",
		branch, keysList(keys), base.ShortHash(), head.ShortHash())
}

// backoff waits a little, growing with attempt, with jitter, so that
// writers racing for one table do not keep colliding.
func backoff(ctx context.Context, attempt int) {
	limit := min(time.Duration(1<<min(attempt, 8))*time.Millisecond, 200*time.Millisecond)
	t := time.NewTimer(limit/2 + rand.N(limit/2+1))
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
