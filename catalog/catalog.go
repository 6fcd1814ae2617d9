package catalog

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
	"github.com/tarnhq/tarn"
)

// Catalog is the versioned catalog: branches, tags, commits and merges over
// a Store. It is safe for concurrent use, also by several processes sharing
// one store: every ref change is a compare-and-swap.
type Catalog struct {
	store   Store
	objects *lru.Cache[string, []byte]
	decoded *lru.Cache[string, any] // *nodeObject and *bucketObject by hash; read-only
	commits *lru.Cache[string, *tarn.Commit]
	now     func() time.Time
	// resolver combines keys changed on both sides (SetResolver).
	resolver Resolver
	// resolving serializes this process's resolving commits per branch
	// (branch name → *sync.Mutex): a writer that resolves while holding it
	// cannot lose its compare-and-swap to another of this process, so N
	// concurrent appends cost N resolutions, not N²/2. Other processes
	// still race by compare-and-swap.
	resolving sync.Map
}

// Option configures a Catalog.
type Option func(*Catalog)

// WithClock sets the clock used for commit times (tests).
func WithClock(now func() time.Time) Option { return func(c *Catalog) { c.now = now } }

// Open returns a catalog over store, creating the first commit and the
// default branch when the store has no refs yet.
func Open(ctx context.Context, store Store, opts ...Option) (*Catalog, error) {
	objects, _ := lru.New[string, []byte](8192)
	commits, _ := lru.New[string, *tarn.Commit](8192)
	decoded, _ := lru.New[string, any](8192)
	c := &Catalog{store: store, objects: objects, decoded: decoded, commits: commits, now: time.Now}
	for _, o := range opts {
		o(c)
	}
	if _, err := store.GetRef(ctx, tarn.DefaultBranch); err == nil {
		return c, nil
	} else if !errors.Is(err, ErrNotFound) {
		return nil, fmt.Errorf("open catalog: %w", err)
	}
	refs, err := store.ListRefs(ctx, "")
	if err != nil {
		return nil, fmt.Errorf("open catalog: %w", err)
	}
	if len(refs) > 0 {
		return c, nil // main was renamed away? never allowed; keep going
	}
	if err := c.initialize(ctx); err != nil {
		return nil, fmt.Errorf("initialize catalog: %w", err)
	}
	return c, nil
}

func (c *Catalog) initialize(ctx context.Context) error {
	empty, _ := emptyTree()
	tree, objects, err := c.applyChanges(ctx, empty, map[string]*tarn.Entry{
		tarn.NamespaceKey(tarn.DefaultNamespace): {Kind: tarn.EntryNamespace},
	})
	if err != nil {
		return err
	}
	commit := c.newCommit(nil, tree, tarn.CommitInfo{Author: "tarn", Message: "initialize lakehouse"})
	err = c.store.Apply(ctx, &Batch{
		Objects: objects,
		Commits: []*tarn.Commit{commit},
		Refs:    []RefUpdate{{Name: tarn.DefaultBranch, Kind: tarn.KindBranch, New: commit.Hash}},
	})
	if errors.Is(err, ErrRefMoved) {
		return nil // another process initialized it first
	}
	return err
}

// Close closes the store.
func (c *Catalog) Close() error { return c.store.Close() }

func (c *Catalog) newCommit(parents []*tarn.Commit, tree string, info tarn.CommitInfo) *tarn.Commit {
	commit := &tarn.Commit{
		Author:     info.Author,
		Message:    info.Message,
		Time:       c.now().UTC().Truncate(time.Microsecond),
		Properties: info.Properties,
		Tree:       tree,
		Parents:    []string{},
		Generation: 1,
	}
	for _, p := range parents {
		commit.Parents = append(commit.Parents, p.Hash)
		if p.Generation+1 > commit.Generation {
			commit.Generation = p.Generation + 1
		}
	}
	commit.Hash = commitHash(commit)
	return commit
}

func commitHash(c *tarn.Commit) string {
	b, _ := json.Marshal(struct {
		Parents    []string          `json:"parents"`
		Author     string            `json:"author"`
		Message    string            `json:"message"`
		Time       string            `json:"time"`
		Properties map[string]string `json:"properties"`
		Tree       string            `json:"tree"`
	}{c.Parents, c.Author, c.Message, c.Time.Format(time.RFC3339Nano), c.Properties, c.Tree})
	return hashBytes(b)
}

// CommitHashes returns the hash of every commit stored, whether a ref
// reaches it or not (garbage collection keeps young unreachable ones).
func (c *Catalog) CommitHashes(ctx context.Context) ([]string, error) {
	return c.store.FindCommits(ctx, "", -1)
}

// GetCommit returns a commit by full hash.
func (c *Catalog) GetCommit(ctx context.Context, hash string) (*tarn.Commit, error) {
	if cm, ok := c.commits.Get(hash); ok {
		return cm, nil
	}
	cm, err := c.store.GetCommit(ctx, hash)
	if errors.Is(err, ErrNotFound) {
		return nil, tarn.Errorf(tarn.ENOTFOUND, "commit %s not found", tarn.ShortHash(hash)).About(tarn.ResourceCommit)
	}
	if err != nil {
		return nil, fmt.Errorf("read commit %s: %w", tarn.ShortHash(hash), err)
	}
	c.commits.Add(hash, cm)
	return cm, nil
}

// GetEntry returns the entry for key in a commit, or nil if absent.
func (c *Catalog) GetEntry(ctx context.Context, commit *tarn.Commit, key string) (*tarn.Entry, error) {
	return c.getEntry(ctx, commit.Tree, key)
}

// Entries returns every entry of a commit, sorted by key.
func (c *Catalog) Entries(ctx context.Context, commit *tarn.Commit) (map[string]*tarn.Entry, []string, error) {
	list, err := c.listEntries(ctx, commit.Tree)
	if err != nil {
		return nil, nil, err
	}
	m := make(map[string]*tarn.Entry, len(list))
	keys := make([]string, 0, len(list))
	for _, e := range list {
		m[e.Key] = e.Entry
		keys = append(keys, e.Key)
	}
	return m, keys, nil
}

// Diff returns the changes from one ref to another (ENOTFOUND, EINVALID
// for refs that do not resolve).
func (c *Catalog) Diff(ctx context.Context, from, to string) ([]tarn.Change, error) {
	a, b, err := c.resolveBoth(ctx, from, to)
	if err != nil {
		return nil, err
	}
	return c.DiffCommits(ctx, a, b)
}

// resolveBoth resolves two refs.
func (c *Catalog) resolveBoth(ctx context.Context, a, b string) (*tarn.Commit, *tarn.Commit, error) {
	ca, err := c.Resolve(ctx, a)
	if err != nil {
		return nil, nil, err
	}
	cb, err := c.Resolve(ctx, b)
	if err != nil {
		return nil, nil, err
	}
	return ca, cb, nil
}

// DiffCommits returns the changes from commit a to commit b.
func (c *Catalog) DiffCommits(ctx context.Context, a, b *tarn.Commit) ([]tarn.Change, error) {
	return c.diffTrees(ctx, a.Tree, b.Tree)
}
