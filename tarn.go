package tarn

import (
	"maps"
	"strings"
	"time"
)

// DefaultBranch is the branch every lakehouse starts with. It cannot be
// deleted or renamed.
const DefaultBranch = "main"

// DefaultNamespace is the namespace of unqualified table names.
const DefaultNamespace = "tarn"

// Commit is an immutable point in a lakehouse's history. Its Tree names the
// full state of every namespace and table at that point.
type Commit struct {
	Hash       string            `json:"hash"`
	Parents    []string          `json:"parents"`
	Author     string            `json:"author"`
	Message    string            `json:"message"`
	Time       time.Time         `json:"time"`
	Properties map[string]string `json:"properties,omitempty"`
	Tree       string            `json:"tree"`
	// Generation is 1 + the largest parent generation (1 for a root
	// commit). It is derived, not part of the hash.
	Generation int64 `json:"generation"`
}

// ShortHash returns the first 12 characters of the commit hash.
func (c *Commit) ShortHash() string { return ShortHash(c.Hash) }

// ShortHash abbreviates a commit hash for display.
func ShortHash(h string) string {
	if len(h) > 12 {
		return h[:12]
	}
	return h
}

// RefKind says whether a named ref is a branch or a tag.
type RefKind string

// Ref kinds.
const (
	KindBranch RefKind = "branch"
	KindTag    RefKind = "tag"
)

// Ref is a named pointer to a commit: a branch (movable) or a tag (fixed).
type Ref struct {
	Name   string  `json:"name"`
	Kind   RefKind `json:"kind"`
	Commit string  `json:"commit"`
}

// EntryKind says what a catalog entry describes.
type EntryKind string

// Entry kinds.
const (
	EntryNamespace EntryKind = "namespace"
	EntryTable     EntryKind = "table"
)

// Entry is the state of one namespace or table in a commit. For tables,
// Metadata is the location of the Iceberg metadata file; the counters are a
// summary of its current snapshot so that listings and diffs need not read
// the metadata. Namespaces may carry properties (set through the Iceberg
// REST catalog).
type Entry struct {
	Kind       EntryKind         `json:"kind"`
	Metadata   string            `json:"metadata,omitempty"`
	Snapshot   int64             `json:"snapshot,omitempty"`
	Rows       int64             `json:"rows,omitempty"`
	Files      int64             `json:"files,omitempty"`
	Bytes      int64             `json:"bytes,omitempty"`
	Properties map[string]string `json:"properties,omitempty"`
}

// SameState reports whether two entries describe the same state (both
// absent, or the same kind, metadata location and properties).
func SameState(a, b *Entry) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return a.Kind == b.Kind && a.Metadata == b.Metadata && maps.Equal(a.Properties, b.Properties)
}

// TableIdent names a table: a namespace and a name.
type TableIdent struct {
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
}

// String returns "namespace.name".
func (t TableIdent) String() string { return t.Namespace + "." + t.Name }

// Key returns the catalog key of the table.
func (t TableIdent) Key() string { return t.Namespace + "." + t.Name }

// NamespaceKey returns the catalog key of a namespace.
func NamespaceKey(ns string) string { return ns }

// ParseKey splits a catalog key into a namespace and (for tables) a name.
func ParseKey(key string) (ns, name string) {
	ns, name, _ = strings.Cut(key, ".")
	return ns, name
}

// ParseTableIdent parses "name" (in defaultNS) or "namespace.name" and
// validates both parts.
func ParseTableIdent(s, defaultNS string) (TableIdent, error) {
	ns, name, ok := strings.Cut(s, ".")
	if !ok {
		ns, name = defaultNS, s
	}
	if strings.Contains(name, ".") {
		return TableIdent{}, Errorf(EINVALID, "invalid table name %s: use NAME or NAMESPACE.NAME (namespaces have one level)", Quote(s))
	}
	if err := ValidateNamespace(ns); err != nil {
		return TableIdent{}, err
	}
	if err := ValidateTableName(name); err != nil {
		return TableIdent{}, err
	}
	return TableIdent{Namespace: ns, Name: name}, nil
}

// Change is one difference between two commits.
type Change struct {
	Key  string `json:"key"`
	Kind string `json:"change"` // added, removed, changed
	Old  *Entry `json:"old,omitempty"`
	New  *Entry `json:"new,omitempty"`
}

// Change kinds.
const (
	ChangeAdded   = "added"
	ChangeRemoved = "removed"
	ChangeChanged = "changed"
)

// CommitInfo is what a writer says about a commit it asks for.
type CommitInfo struct {
	Author     string            `json:"author"`
	Message    string            `json:"message"`
	Properties map[string]string `json:"properties,omitempty"`
}

// MergeResult describes a merge (or, with DryRun, what a merge would do).
type MergeResult struct {
	Source      string   `json:"source"`
	Into        string   `json:"into"`
	Commit      *Commit  `json:"commit"`
	FastForward bool     `json:"fast_forward"`
	UpToDate    bool     `json:"up_to_date"`
	Base        string   `json:"base,omitempty"`
	Changes     []Change `json:"changes"`
	// Plan says, per key the source changed since the merge base, what the
	// merge does with it.
	Plan []MergeItem `json:"plan"`
	// DryRun is set when nothing was written: Commit is the target's head
	// and Conflicts counts the plan's conflicts (a real merge refuses them).
	DryRun    bool `json:"dry_run,omitempty"`
	Conflicts int  `json:"conflicts,omitempty"`
}

// What a merge does with one key the source changed (MergeItem.Action).
const (
	MergeTake     = "take"     // changed on the source only: the source's state is taken
	MergeSame     = "same"     // both sides made the same change: nothing to do
	MergeCombine  = "combine"  // both sides only appended: one snapshot holds both sides' files
	MergeConflict = "conflict" // changed differently on both sides: nothing is merged
)

// MergeItem is what a merge does with one key: the action, what each side
// did since the merge base (for people: "appended 2 files (200 rows)") and,
// for a conflict, why.
type MergeItem struct {
	Key    string `json:"key"`
	Action string `json:"action"`
	Source string `json:"source,omitempty"`
	Target string `json:"target,omitempty"`
	Reason string `json:"reason,omitempty"`
}
