package catalog

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/tarnhq/tarn"
)

// Resolve resolves ref syntax (branch, tag, hash prefix, REF~N,
// REF@{time}, REF@HASH) to a commit.
func (c *Catalog) Resolve(ctx context.Context, ref string) (*tarn.Commit, error) {
	expr, err := tarn.ParseRef(ref)
	if err != nil {
		return nil, err
	}
	var commit *tarn.Commit
	steps := expr.Steps
	if len(steps) > 0 && steps[0].Commit != "" {
		commit, err = c.inHistory(ctx, expr.Base, steps[0].Commit)
		steps = steps[1:]
	} else {
		commit, err = c.resolveBase(ctx, expr.Base)
	}
	if err != nil {
		return nil, err
	}
	for _, step := range steps {
		if step.Ancestors > 0 || step.AsOf.IsZero() {
			for i := 0; i < step.Ancestors; i++ {
				if len(commit.Parents) == 0 {
					return nil, tarn.Errorf(tarn.ENOTFOUND, "ref %s: history has only %d commit(s) before %s", tarn.Quote(ref), i, expr.Base).About(tarn.ResourceCommit)
				}
				if commit, err = c.GetCommit(ctx, commit.Parents[0]); err != nil {
					return nil, err
				}
			}
			continue
		}
		for commit.Time.After(step.AsOf) {
			if len(commit.Parents) == 0 {
				return nil, tarn.Errorf(tarn.ENOTFOUND, "ref %s: no commit at or before %s (the first commit is from %s)",
					tarn.Quote(ref), step.AsOf.UTC().Format("2006-01-02T15:04:05Z07:00"), commit.Time.Format("2006-01-02T15:04:05Z07:00")).About(tarn.ResourceCommit)
			}
			if commit, err = c.GetCommit(ctx, commit.Parents[0]); err != nil {
				return nil, err
			}
		}
	}
	return commit, nil
}

func (c *Catalog) resolveBase(ctx context.Context, name string) (*tarn.Commit, error) {
	ref, err := c.store.GetRef(ctx, name)
	if err == nil {
		return c.GetCommit(ctx, ref.Commit)
	}
	if !errors.Is(err, ErrNotFound) {
		return nil, fmt.Errorf("read ref %s: %w", name, err)
	}
	if tarn.LooksLikeHash(name) {
		hashes, err := c.store.FindCommits(ctx, name, 2)
		if err != nil {
			return nil, fmt.Errorf("find commit %s: %w", name, err)
		}
		switch len(hashes) {
		case 1:
			return c.GetCommit(ctx, hashes[0])
		case 2:
			return nil, tarn.Errorf(tarn.EINVALID, "commit prefix %s is ambiguous: give more characters", tarn.Quote(name))
		}
	}
	return nil, c.refNotFound(ctx, name)
}

// maxHistoryCandidates bounds the commits a REF@HASH prefix may match in
// the whole catalog before it is refused as too short.
const maxHistoryCandidates = 64

// inHistory returns the commit of the history of branch or tag name (all
// parents followed) whose hash starts with prefix: REF@HASH. The walk
// stops at the generation of the oldest commit the prefix matches.
func (c *Catalog) inHistory(ctx context.Context, name, prefix string) (*tarn.Commit, error) {
	r, err := c.store.GetRef(ctx, name)
	if errors.Is(err, ErrNotFound) {
		e := c.refNotFound(ctx, name)
		e.Message += fmt.Sprintf(" (in %s@%s, %s must be a branch or tag)", name, prefix, name)
		return nil, e
	}
	if err != nil {
		return nil, fmt.Errorf("read ref %s: %w", name, err)
	}
	hashes, err := c.store.FindCommits(ctx, prefix, maxHistoryCandidates+1)
	if err != nil {
		return nil, fmt.Errorf("find commit %s: %w", prefix, err)
	}
	switch {
	case len(hashes) == 0:
		return nil, tarn.Errorf(tarn.ENOTFOUND, "commit %s not found: no commit hash starts with it (`tarn log %s` lists the history of %s %s)",
			prefix, name, r.Kind, name).About(tarn.ResourceCommit)
	case len(hashes) > maxHistoryCandidates:
		return nil, tarn.Errorf(tarn.EINVALID, "commit prefix %s matches more than %d commits: give more characters", prefix, maxHistoryCandidates)
	}
	candidates := map[string]bool{}
	oldest := int64(-1)
	for _, h := range hashes {
		cm, err := c.GetCommit(ctx, h)
		if err != nil {
			return nil, err
		}
		candidates[h] = true
		if oldest < 0 || cm.Generation < oldest {
			oldest = cm.Generation
		}
	}
	head, err := c.GetCommit(ctx, r.Commit)
	if err != nil {
		return nil, err
	}
	var found []string
	seen := map[string]bool{head.Hash: true}
	for stack := []*tarn.Commit{head}; len(stack) > 0; {
		cm := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if candidates[cm.Hash] {
			found = append(found, cm.Hash)
		}
		for _, p := range cm.Parents {
			if seen[p] {
				continue
			}
			seen[p] = true
			parent, err := c.GetCommit(ctx, p)
			if err != nil {
				return nil, err
			}
			if parent.Generation >= oldest { // older ones cannot be a candidate, nor their ancestors
				stack = append(stack, parent)
			}
		}
	}
	switch len(found) {
	case 0:
		return nil, tarn.Errorf(tarn.ENOTFOUND, "commit %s is not in the history of %s %s (`tarn log %s` lists it)", prefix, r.Kind, name, name).
			About(tarn.ResourceCommit)
	case 1:
		return c.GetCommit(ctx, found[0])
	}
	sort.Strings(found)
	short := make([]string, len(found))
	for i, h := range found {
		short[i] = tarn.ShortHash(h)
	}
	return nil, tarn.Errorf(tarn.EINVALID, "commit prefix %s is ambiguous in the history of %s %s (%s): give more characters",
		prefix, r.Kind, name, keysList(short))
}

func (c *Catalog) refNotFound(ctx context.Context, name string) *tarn.Error {
	refs, _ := c.store.ListRefs(ctx, "")
	names := make([]string, 0, len(refs))
	for _, r := range refs {
		names = append(names, r.Name)
	}
	return tarn.Errorf(tarn.ENOTFOUND, "ref %s not found%s", tarn.Quote(name), tarn.Suggest(name, names)).About(tarn.ResourceRef)
}

// BranchHead checks that ref names an existing branch (the only writable
// kind of ref) and returns its current head.
func (c *Catalog) BranchHead(ctx context.Context, ref string) (*tarn.Commit, error) {
	expr, err := tarn.ParseRef(ref)
	if err != nil {
		return nil, err
	}
	r, err := c.store.GetRef(ctx, expr.Base)
	switch {
	case errors.Is(err, ErrNotFound):
		if _, rerr := c.Resolve(ctx, ref); rerr == nil {
			return nil, tarn.Errorf(tarn.EINVALID, "cannot write to %s: it is a commit, only branches are writable", tarn.Quote(ref))
		}
		return nil, c.refNotFound(ctx, expr.Base).About(tarn.ResourceBranch)
	case err != nil:
		return nil, fmt.Errorf("read ref %s: %w", ref, err)
	case r.Kind != tarn.KindBranch:
		return nil, tarn.Errorf(tarn.EINVALID, "cannot write to tag %s: only branches are writable", tarn.Quote(ref))
	case !expr.IsPlain():
		return nil, tarn.Errorf(tarn.EINVALID, "cannot write to %s: it names a past commit, only branches are writable", tarn.Quote(ref))
	}
	return c.GetCommit(ctx, r.Commit)
}

// GetRef returns a branch or tag.
func (c *Catalog) GetRef(ctx context.Context, name string) (*tarn.Ref, error) {
	r, err := c.store.GetRef(ctx, name)
	if errors.Is(err, ErrNotFound) {
		return nil, c.refNotFound(ctx, name)
	}
	return r, err
}

// ListRefs returns branches or tags sorted by name.
func (c *Catalog) ListRefs(ctx context.Context, kind tarn.RefKind) ([]tarn.Ref, error) {
	return c.store.ListRefs(ctx, kind)
}

// CreateRef creates a branch or tag at the commit that from resolves to.
// It copies no data: O(1) in the size of the lakehouse.
func (c *Catalog) CreateRef(ctx context.Context, kind tarn.RefKind, name, from string) (*tarn.Ref, error) {
	if err := tarn.ValidateRefName(kind, name); err != nil {
		return nil, err
	}
	commit, err := c.Resolve(ctx, from)
	if err != nil {
		return nil, err
	}
	err = c.store.Apply(ctx, &Batch{Refs: []RefUpdate{{Name: name, Kind: kind, New: commit.Hash}}})
	if errors.Is(err, ErrRefMoved) {
		existing, gerr := c.store.GetRef(ctx, name)
		if gerr == nil {
			return nil, tarn.Errorf(tarn.EEXISTS, "%s %q already exists (a %s at %s)", kind, name, existing.Kind, tarn.ShortHash(existing.Commit)).
				About(string(existing.Kind))
		}
		return nil, tarn.Errorf(tarn.ECONFLICT, "create %s %q: concurrent change, try again", kind, name)
	}
	if err != nil {
		return nil, fmt.Errorf("create %s %s: %w", kind, name, err)
	}
	return &tarn.Ref{Name: name, Kind: kind, Commit: commit.Hash}, nil
}

// DeleteRef deletes a branch or tag. The default branch cannot be deleted.
func (c *Catalog) DeleteRef(ctx context.Context, kind tarn.RefKind, name string) error {
	if kind == tarn.KindBranch && name == tarn.DefaultBranch {
		return tarn.Errorf(tarn.EINVALID, "branch %q cannot be deleted", name)
	}
	r, err := c.kindRef(ctx, kind, name)
	if err != nil {
		return err
	}
	err = c.store.Apply(ctx, &Batch{Refs: []RefUpdate{{Name: name, Kind: kind, Old: r.Commit}}})
	if errors.Is(err, ErrRefMoved) {
		return tarn.Errorf(tarn.ECONFLICT, "%s %q moved while being deleted; look at it and try again", kind, name)
	}
	return err
}

// RenameBranch renames a branch atomically.
func (c *Catalog) RenameBranch(ctx context.Context, oldName, newName string) (*tarn.Ref, error) {
	if oldName == tarn.DefaultBranch {
		return nil, tarn.Errorf(tarn.EINVALID, "branch %q cannot be renamed", oldName)
	}
	return c.renameRef(ctx, tarn.KindBranch, oldName, newName)
}

// RenameTag renames a tag atomically: its commit never lacks a name.
func (c *Catalog) RenameTag(ctx context.Context, oldName, newName string) (*tarn.Ref, error) {
	return c.renameRef(ctx, tarn.KindTag, oldName, newName)
}

// renameRef moves a branch or tag to a new name in one ref update batch.
func (c *Catalog) renameRef(ctx context.Context, kind tarn.RefKind, oldName, newName string) (*tarn.Ref, error) {
	if err := tarn.ValidateRefName(kind, newName); err != nil {
		return nil, err
	}
	r, err := c.kindRef(ctx, kind, oldName)
	if err != nil {
		return nil, err
	}
	err = c.store.Apply(ctx, &Batch{Refs: []RefUpdate{
		{Name: newName, Kind: kind, New: r.Commit},
		{Name: oldName, Kind: kind, Old: r.Commit},
	}})
	if errors.Is(err, ErrRefMoved) {
		if existing, gerr := c.store.GetRef(ctx, newName); gerr == nil {
			return nil, tarn.Errorf(tarn.EEXISTS, "%s %q already exists", existing.Kind, newName).About(string(existing.Kind))
		}
		return nil, tarn.Errorf(tarn.ECONFLICT, "%s %q moved while being renamed; try again", kind, oldName)
	}
	if err != nil {
		return nil, err
	}
	return &tarn.Ref{Name: newName, Kind: kind, Commit: r.Commit}, nil
}

func (c *Catalog) kindRef(ctx context.Context, kind tarn.RefKind, name string) (*tarn.Ref, error) {
	r, err := c.store.GetRef(ctx, name)
	if errors.Is(err, ErrNotFound) || (err == nil && r.Kind != kind) {
		refs, _ := c.store.ListRefs(ctx, kind)
		names := make([]string, 0, len(refs))
		for _, x := range refs {
			names = append(names, x.Name)
		}
		return nil, tarn.Errorf(tarn.ENOTFOUND, "%s %s not found%s", kind, tarn.Quote(name), tarn.Suggest(name, names)).About(string(kind))
	}
	return r, err
}

// Log returns up to limit commits reachable from ref, newest first (all
// parents are followed; ties keep first-parent order).
func (c *Catalog) Log(ctx context.Context, ref string, limit int) ([]*tarn.Commit, error) {
	page, err := c.History(ctx, ref, "", limit)
	if err != nil {
		return nil, err
	}
	return page.Commits, nil
}

// keysList renders keys for messages.
func keysList(keys []string) string {
	if len(keys) > 10 {
		return strings.Join(keys[:10], ", ") + fmt.Sprintf(" and %d more", len(keys)-10)
	}
	return strings.Join(keys, ", ")
}
