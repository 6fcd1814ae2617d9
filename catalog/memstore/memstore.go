package memstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/tarnhq/tarn"
	"github.com/tarnhq/tarn/catalog"
)

var _ catalog.Store = (*Store)(nil)

// ErrClosed is returned by every method of a store after Close.
var ErrClosed = errors.New("catalog store is closed")

// Store is a catalog.Store held in memory. The zero value is not usable;
// call New.
type Store struct {
	mu      sync.RWMutex
	closed  bool
	objects map[string][]byte
	commits map[string]*tarn.Commit
	hashes  []string // commit hashes, sorted: prefix lookups
	refs    map[string]tarn.Ref
}

// New returns an empty store.
func New() *Store {
	return &Store{
		objects: map[string][]byte{},
		commits: map[string]*tarn.Commit{},
		refs:    map[string]tarn.Ref{},
	}
}

// Close implements catalog.Store. Afterwards every method returns
// ErrClosed; closing twice is harmless.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	s.objects, s.commits, s.hashes, s.refs = nil, nil, nil, nil
	return nil
}

// read runs get under the read lock, once ctx and the store are found
// usable.
func read[T any](s *Store, ctx context.Context, get func() (T, error)) (T, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if err := s.readable(ctx); err != nil {
		var zero T
		return zero, err
	}
	return get()
}

// readable checks ctx and that the store is open; the caller holds s.mu.
func (s *Store) readable(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if s.closed {
		return ErrClosed
	}
	return nil
}

// GetObject implements catalog.Store.
func (s *Store) GetObject(ctx context.Context, hash string) ([]byte, error) {
	return read(s, ctx, func() ([]byte, error) {
		data, ok := s.objects[hash]
		if !ok {
			return nil, fmt.Errorf("object %s: %w", hash, catalog.ErrNotFound)
		}
		return bytes.Clone(data), nil
	})
}

// GetCommit implements catalog.Store.
func (s *Store) GetCommit(ctx context.Context, hash string) (*tarn.Commit, error) {
	return read(s, ctx, func() (*tarn.Commit, error) {
		c, ok := s.commits[hash]
		if !ok {
			return nil, fmt.Errorf("commit %s: %w", hash, catalog.ErrNotFound)
		}
		return copyCommit(c), nil
	})
}

// FindCommits implements catalog.Store: the hashes are in ascending order.
// A negative limit means no limit.
func (s *Store) FindCommits(ctx context.Context, prefix string, limit int) ([]string, error) {
	return read(s, ctx, func() ([]string, error) {
		var out []string
		for i := sort.SearchStrings(s.hashes, prefix); i < len(s.hashes) && strings.HasPrefix(s.hashes[i], prefix); i++ {
			if limit >= 0 && len(out) == limit {
				break
			}
			out = append(out, s.hashes[i])
		}
		return out, nil
	})
}

// GetRef implements catalog.Store.
func (s *Store) GetRef(ctx context.Context, name string) (*tarn.Ref, error) {
	return read(s, ctx, func() (*tarn.Ref, error) {
		r, ok := s.refs[name]
		if !ok {
			return nil, fmt.Errorf("ref %s: %w", name, catalog.ErrNotFound)
		}
		return &r, nil
	})
}

// ListRefs implements catalog.Store.
func (s *Store) ListRefs(ctx context.Context, kind tarn.RefKind) ([]tarn.Ref, error) {
	return read(s, ctx, func() ([]tarn.Ref, error) {
		var out []tarn.Ref
		for _, r := range s.refs {
			if kind == "" || r.Kind == kind {
				out = append(out, r)
			}
		}
		slices.SortFunc(out, func(a, b tarn.Ref) int { return strings.Compare(a.Name, b.Name) })
		return out, nil
	})
}

// Apply implements catalog.Store. The ref updates are checked in order
// against the refs as the earlier updates of the batch leave them; only
// when all hold is anything stored.
func (s *Store) Apply(ctx context.Context, b *catalog.Batch) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.readable(ctx); err != nil {
		return err
	}
	refs, err := s.updatedRefs(b.Refs)
	if err != nil {
		return err
	}
	for h, data := range b.Objects {
		if _, ok := s.objects[h]; !ok {
			s.objects[h] = bytes.Clone(data)
		}
	}
	for _, c := range b.Commits {
		if _, ok := s.commits[c.Hash]; ok {
			continue
		}
		s.commits[c.Hash] = copyCommit(c)
		i, _ := slices.BinarySearch(s.hashes, c.Hash)
		s.hashes = slices.Insert(s.hashes, i, c.Hash)
	}
	for name, r := range refs {
		if r == nil {
			delete(s.refs, name)
		} else {
			s.refs[name] = *r
		}
	}
	return nil
}

// updatedRefs checks the compare-and-swaps of a batch in order and returns
// the final state of every ref they touch (nil: deleted), or ErrRefMoved
// for the first one that does not hold. It changes nothing; the caller
// holds s.mu.
func (s *Store) updatedRefs(updates []catalog.RefUpdate) (map[string]*tarn.Ref, error) {
	staged := map[string]*tarn.Ref{}
	current := func(name string) *tarn.Ref {
		if r, ok := staged[name]; ok {
			return r
		}
		if r, ok := s.refs[name]; ok {
			return &r
		}
		return nil
	}
	for _, u := range updates {
		if u.Old == "" && u.New == "" {
			return nil, fmt.Errorf("update ref %s: neither an expected nor a new commit", u.Name)
		}
		r := current(u.Name)
		switch {
		case u.Old == "" && r != nil, u.Old != "" && (r == nil || r.Commit != u.Old):
			return nil, fmt.Errorf("ref %s: %w", u.Name, catalog.ErrRefMoved)
		case u.New == "":
			staged[u.Name] = nil
		case r == nil:
			staged[u.Name] = &tarn.Ref{Name: u.Name, Kind: u.Kind, Commit: u.New}
		default:
			staged[u.Name] = &tarn.Ref{Name: u.Name, Kind: r.Kind, Commit: u.New}
		}
	}
	return staged, nil
}

// copyCommit returns a copy of c that shares nothing mutable with it. Nil
// and empty parents and properties stay as they are, as a round trip
// through the SQL store's JSON columns keeps them. The time is stored in
// UTC without a monotonic reading, as a stored time comes back.
func copyCommit(c *tarn.Commit) *tarn.Commit {
	out := *c
	out.Parents = slices.Clone(c.Parents)
	out.Properties = maps.Clone(c.Properties)
	out.Time = c.Time.UTC()
	return &out
}
