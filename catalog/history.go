package catalog

import (
	"context"
	"regexp"
	"sort"
	"strings"

	"github.com/tarnhq/tarn"
)

// MaxCursorCommits bounds the commits a history cursor names: the lines
// of history still open where a page ended (one for a linear history).
const MaxCursorCommits = 1000

var cursorRe = regexp.MustCompile(`^[0-9a-f]{64}(,[0-9a-f]{64})*$`)

// History returns up to limit commits (0: all) of a ref's history,
// newest first, from the page whose Next is cursor. The walk takes the
// newest commit (by time, then generation) of a frontier that starts at
// the ref; the cursor is the frontier left when a page is full, so a
// page costs its own commits only, however deep it is. Parents are never
// newer than their children, so no commit comes twice.
func (c *Catalog) History(ctx context.Context, ref, cursor string, limit int) (*tarn.LogPage, error) {
	start, err := c.Resolve(ctx, ref)
	if err != nil {
		return nil, err
	}
	frontier := []*tarn.Commit{start}
	if cursor != "" {
		if frontier, err = c.cursorCommits(ctx, cursor); err != nil {
			return nil, err
		}
	}
	seen := map[string]bool{}
	for _, f := range frontier {
		seen[f.Hash] = true
	}
	page := &tarn.LogPage{Commits: []*tarn.Commit{}}
	for len(frontier) > 0 && (limit <= 0 || len(page.Commits) < limit) {
		sortNewestFirst(frontier)
		next := frontier[0]
		frontier = frontier[1:]
		page.Commits = append(page.Commits, next)
		for _, p := range next.Parents {
			if seen[p] {
				continue
			}
			seen[p] = true
			pc, err := c.GetCommit(ctx, p)
			if err != nil {
				return nil, err
			}
			frontier = append(frontier, pc)
		}
	}
	if len(frontier) > MaxCursorCommits {
		return nil, tarn.Errorf(tarn.EINVALID, "history of %s: %d lines of history are open at this point, more than a cursor holds (%d): ask for larger pages", tarn.Quote(ref), len(frontier), MaxCursorCommits)
	}
	if len(frontier) > 0 {
		sortNewestFirst(frontier)
		hashes := make([]string, len(frontier))
		for i, f := range frontier {
			hashes[i] = f.Hash
		}
		page.Next = strings.Join(hashes, ",")
	}
	return page, nil
}

// sortNewestFirst orders commits by time, then generation, newest first.
func sortNewestFirst(commits []*tarn.Commit) {
	sort.SliceStable(commits, func(i, j int) bool {
		if !commits[i].Time.Equal(commits[j].Time) {
			return commits[i].Time.After(commits[j].Time)
		}
		return commits[i].Generation > commits[j].Generation
	})
}

// cursorCommits reads the commits a cursor names.
func (c *Catalog) cursorCommits(ctx context.Context, cursor string) ([]*tarn.Commit, error) {
	if !cursorRe.MatchString(cursor) || strings.Count(cursor, ",") >= MaxCursorCommits {
		return nil, tarn.Errorf(tarn.EINVALID, "invalid history cursor %s: pass the next of a previous page as it was", tarn.Quote(cursor))
	}
	var out []*tarn.Commit
	for _, h := range strings.Split(cursor, ",") {
		commit, err := c.GetCommit(ctx, h)
		if err != nil {
			return nil, err
		}
		out = append(out, commit)
	}
	return out, nil
}
