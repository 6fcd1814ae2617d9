package catalog

import (
	"context"
	"fmt"

	"github.com/tarnhq/tarn"
)

// A Resolver combines two changes of one key that two lines of history made
// since a common base, which the catalog alone must call a conflict: it
// knows entries, not what they point at. The table service is the
// resolver of a lakehouse: it combines tables that both lines only
// appended to.
//
// The catalog asks it in two places: a merge, for a key both the source
// and the target changed (Source is the source's entry, Target the
// target's), and a commit with CommitRequest.Resolve, for a key another
// writer changed on the branch since the writer's base (Source is the
// writer's change, Target the branch head's entry).
type Resolver interface {
	// Resolve returns the entry holding both changes, written on top of
	// Target, with what each side did. A change it cannot combine is an
	// ECONFLICT error whose message says why; the Resolution, when not
	// nil, still describes both sides. With DryRun nothing is written and
	// Entry stays nil.
	Resolve(ctx context.Context, req ResolveRequest) (*Resolution, error)
}

// ResolveRequest is one key for a Resolver.
type ResolveRequest struct {
	Key string
	// Base is the key's entry at the common base (nil: absent), Target
	// what the target line holds now and Source the change to bring onto
	// it (nil: deleted).
	Base, Target, Source *tarn.Entry
	// TargetName and SourceName name the two lines in messages ("main",
	// "dev", "this write").
	TargetName, SourceName string
	DryRun                 bool
}

// Resolution is a resolved key.
type Resolution struct {
	Entry *tarn.Entry // the combined entry (nil on a dry run)
	// Source and Target say what each side did since the base.
	Source, Target string
	// Discard, when set, removes what Resolve wrote: the catalog calls it
	// when the entry is not committed after all (the branch moved again,
	// another key conflicts).
	Discard func()
}

// SetResolver sets the resolver merges and resolving commits use (nil:
// none, every key changed on both sides is a conflict). Set it before the
// catalog is used.
func (c *Catalog) SetResolver(r Resolver) { c.resolver = r }

func (r *Resolution) discard() {
	if r != nil && r.Discard != nil {
		r.Discard()
	}
}

func discardAll(rs map[string]*Resolution) {
	for _, r := range rs {
		r.discard()
	}
}

// describeChange says for people what a change of one entry did, from the
// entries' counters (a Resolver says more).
func describeChange(old, cur *tarn.Entry) string {
	switch {
	case old == nil && cur == nil:
		return ""
	case old == nil:
		if cur.Kind == tarn.EntryNamespace {
			return "created the namespace"
		}
		return fmt.Sprintf("created the table (%s, %s)", plural(cur.Rows, "row"), plural(cur.Files, "file"))
	case cur == nil:
		if old.Kind == tarn.EntryNamespace {
			return "dropped the namespace"
		}
		return "dropped the table"
	case old.Kind != cur.Kind:
		return fmt.Sprintf("replaced the %s with a %s", old.Kind, cur.Kind)
	case tarn.SameState(old, cur):
		return ""
	}
	return fmt.Sprintf("changed the table: %d -> %d rows, %d -> %d files", old.Rows, cur.Rows, old.Files, cur.Files)
}

func plural(n int64, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}

func discardList(rs []*Resolution) {
	for _, r := range rs {
		r.discard()
	}
}
