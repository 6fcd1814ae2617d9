package catalog

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/tarnhq/tarn"
)

// Resolve resolves ref syntax (branch, tag, hash prefix, REF~N,
// REF@{time}) to a commit.
func (c *Catalog) Resolve(ctx context.Context, ref string) (*tarn.Commit, error) {
	expr, err := tarn.ParseRef(ref)
	if err != nil {
		return nil, err
	}
	commit, err := c.resolveBase(ctx, expr.Base)
	if err != nil {
		return nil, err
	}
	for _, step := range expr.Steps {
		if step.Ancestors > 0 || step.AsOf.IsZero() {
			for i := 0; i < step.Ancestors; i++ {
				if len(commit.Parents) == 0 {
					return nil, tarn.Errorf(tarn.ENOTFOUND, "ref %s: history has only %d commit(s) before %s", tarn.Quote(ref), i, expr.Base)
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
					tarn.Quote(ref), step.AsOf.UTC().Format("2006-01-02T15:04:05Z07:00"), commit.Time.Format("2006-01-02T15:04:05Z07:00"))
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

func (c *Catalog) refNotFound(ctx context.Context, name string) error {
	refs, _ := c.store.ListRefs(ctx, "")
	names := make([]string, 0, len(refs))
	for _, r := range refs {
		names = append(names, r.Name)
	}
	return tarn.Errorf(tarn.ENOTFOUND, "ref %s not found%s", tarn.Quote(name), tarn.Suggest(name, names))
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
		return nil, c.refNotFound(ctx, expr.Base)
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
			return nil, tarn.Errorf(tarn.EEXISTS, "%s %q already exists (a %s at %s)", kind, name, existing.Kind, tarn.ShortHash(existing.Commit))
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
	if err := tarn.ValidateRefName(tarn.KindBranch, newName); err != nil {
		return nil, err
	}
	r, err := c.kindRef(ctx, tarn.KindBranch, oldName)
	if err != nil {
		return nil, err
	}
	err = c.store.Apply(ctx, &Batch{Refs: []RefUpdate{
		{Name: newName, Kind: tarn.KindBranch, New: r.Commit},
		{Name: oldName, Kind: tarn.KindBranch, Old: r.Commit},
	}})
	if errors.Is(err, ErrRefMoved) {
		if _, gerr := c.store.GetRef(ctx, newName); gerr == nil {
			return nil, tarn.Errorf(tarn.EEXISTS, "ref %q already exists", newName)
		}
		return nil, tarn.Errorf(tarn.ECONFLICT, "branch %q moved while being renamed; try again", oldName)
	}
	if err != nil {
		return nil, err
	}
	return &tarn.Ref{Name: newName, Kind: tarn.KindBranch, Commit: r.Commit}, nil
}

func (c *Catalog) kindRef(ctx context.Context, kind tarn.RefKind, name string) (*tarn.Ref, error) {
	r, err := c.store.GetRef(ctx, name)
	if errors.Is(err, ErrNotFound) || (err == nil && r.Kind != kind) {
		refs, _ := c.store.ListRefs(ctx, kind)
		names := make([]string, 0, len(refs))
		for _, x := range refs {
			names = append(names, x.Name)
		}
		return nil, tarn.Errorf(tarn.ENOTFOUND, "%s %s not found%s", kind, tarn.Quote(name), tarn.Suggest(name, names))
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
