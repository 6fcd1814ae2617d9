package catalog

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/tarnhq/tarn"
)

// Store errors. Stores return these (possibly wrapped); the catalog turns
// them into user-facing *tarn.Error values.
var (
	// ErrNotFound: no object, commit or ref by that name.
	ErrNotFound = errors.New("not found")
	// ErrRefMoved: a compare-and-swap on a ref failed because the ref does
	// not point where the caller expected (or exists when it should not).
	ErrRefMoved = errors.New("ref moved")
)

// Store is the small persistence interface under the catalog. Objects and
// commits are immutable and content-addressed, so writing them twice is
// harmless; refs change only by compare-and-swap. A backend must make Apply
// atomic: either everything in the batch is stored and the ref moved, or
// nothing is.
type Store interface {
	// GetObject returns the bytes of a tree object, or ErrNotFound.
	GetObject(ctx context.Context, hash string) ([]byte, error)
	// GetCommit returns a commit, or ErrNotFound.
	GetCommit(ctx context.Context, hash string) (*tarn.Commit, error)
	// FindCommits returns up to limit commit hashes starting with prefix.
	FindCommits(ctx context.Context, prefix string, limit int) ([]string, error)
	// GetRef returns a branch or tag by name, or ErrNotFound.
	GetRef(ctx context.Context, name string) (*tarn.Ref, error)
	// ListRefs returns the refs of one kind (all kinds when kind is ""),
	// sorted by name.
	ListRefs(ctx context.Context, kind tarn.RefKind) ([]tarn.Ref, error)
	// Apply stores a batch atomically. It returns ErrRefMoved (and stores
	// nothing) when a ref update's expectation does not hold.
	Apply(ctx context.Context, b *Batch) error
	// Close releases the store.
	Close() error
}

// Batch is an atomic write: objects, commits and ref updates.
type Batch struct {
	Objects map[string][]byte
	Commits []*tarn.Commit
	Refs    []RefUpdate
}

// RefUpdate is a compare-and-swap on one ref. Old "" means the ref must not
// exist (create); New "" deletes it; otherwise the ref must point at Old and
// is moved to New. Kind is used on create (an update keeps the ref's kind).
// An update with neither Old nor New is invalid: Apply refuses the batch
// with an error other than ErrRefMoved. The updates of one batch apply in
// order, each seeing the ones before it.
type RefUpdate struct {
	Name string
	Kind tarn.RefKind
	Old  string
	New  string
}

// CommitColumns returns a commit's parents and properties as JSON and its
// time as RFC 3339 with nanoseconds in UTC: how the SQL stores keep them
// (JSON keeps nil and empty apart; a timestamp column would drop the
// nanoseconds).
func CommitColumns(c *tarn.Commit) (parents, properties, ts string) {
	p, _ := json.Marshal(c.Parents)
	props, _ := json.Marshal(c.Properties)
	return string(p), string(props), c.Time.UTC().Format(time.RFC3339Nano)
}

// SetCommitColumns decodes the columns CommitColumns made into c.
func SetCommitColumns(c *tarn.Commit, parents, properties, ts string) error {
	if err := json.Unmarshal([]byte(parents), &c.Parents); err != nil {
		return fmt.Errorf("decode commit %s: %w", c.Hash, err)
	}
	if err := json.Unmarshal([]byte(properties), &c.Properties); err != nil {
		return fmt.Errorf("decode commit %s: %w", c.Hash, err)
	}
	t, err := time.Parse(time.RFC3339Nano, ts)
	if err != nil {
		return fmt.Errorf("decode commit %s: %w", c.Hash, err)
	}
	c.Time = t
	return nil
}
