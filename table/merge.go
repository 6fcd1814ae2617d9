package table

import (
	"context"
	"fmt"
	"strings"
	"sync"

	"github.com/apache/iceberg-go"
	iceio "github.com/apache/iceberg-go/io"
	icetable "github.com/apache/iceberg-go/table"
	"github.com/tarnhq/tarn"
	"github.com/tarnhq/tarn/catalog"
)

var _ catalog.Resolver = (*Service)(nil)

// Resolve implements catalog.Resolver: it combines two versions of a table
// that both only appended since their common base (and evolved the schema
// compatibly) into one version holding both sides' data files: the target's
// version with one more snapshot, which adds the source's new files. No
// data file is read or written. Anything else (a side that replaced,
// overwrote, deleted, reverted or dropped the table, or columns that
// clash) is an ECONFLICT saying what each side did.
func (s *Service) Resolve(ctx context.Context, req catalog.ResolveRequest) (*catalog.Resolution, error) {
	ns, name := tarn.ParseKey(req.Key)
	ident := tarn.TableIdent{Namespace: ns, Name: name}
	if res, err := existenceConflict(req); res != nil || err != nil {
		return res, err
	}
	base, err := s.readTable(ctx, ident, req.Base.Metadata)
	if err != nil {
		return nil, err
	}
	target, err := s.readTable(ctx, ident, req.Target.Metadata)
	if err != nil {
		return nil, err
	}
	source, err := s.readTable(ctx, ident, req.Source.Metadata)
	if err != nil {
		return nil, err
	}
	theirs, err := s.sideChange(ctx, base, target)
	if err != nil {
		return nil, err
	}
	mine, err := s.sideChange(ctx, base, source)
	if err != nil {
		return nil, err
	}
	res := &catalog.Resolution{Source: mine.what, Target: theirs.what}
	if !theirs.appendOnly || !mine.appendOnly {
		return res, tarn.Errorf(tarn.ECONFLICT, "%s %s; %s %s", req.SourceName, mine.what, req.TargetName, theirs.what)
	}
	union, err := unionForMerge(target.Schema(), mine, req)
	if err != nil {
		return res, err
	}
	files := withoutFiles(mine.files, theirs.files)
	if req.DryRun {
		return res, nil
	}
	scratch := s.scratchSession(req.Key, req.Target)
	tbl, err := scratch.LoadTable(ctx, icetable.Identifier{ns, name})
	if err != nil {
		return nil, err
	}
	tx := tbl.NewTransaction()
	if union != nil {
		if err := tx.UpdateSchema(true, false).UnionByNameWith(union).Commit(); err != nil {
			return res, tarn.Errorf(tarn.ECONFLICT, "the schemas of %s and %s do not combine: %v", req.SourceName, req.TargetName, err)
		}
		if err := sameFieldIDs(tx, mine.schema, req); err != nil {
			return res, err
		}
	}
	if len(files) > 0 {
		props := iceberg.Properties{"tarn.combined-files": fmt.Sprint(len(files))}
		if err := tx.AddDataFiles(ctx, files, props, icetable.WithoutDuplicateCheck()); err != nil {
			scratch.log.removeAll(ctx)
			return nil, fmt.Errorf("combine %s: %w", ident, err)
		}
	}
	if _, err := tx.Commit(ctx); err != nil {
		scratch.log.removeAll(ctx)
		return nil, translate(err, "combine "+ident.String())
	}
	res.Entry = scratch.pending[req.Key]
	written := scratch.log.take()
	res.Discard = func() { s.removeFiles(context.WithoutCancel(ctx), written) }
	// The lease ends here: the catalog commits or discards the resolution
	// at once, and the write it resolves for holds a lease of its own.
	scratch.log.done()
	return res, nil
}

// existenceConflict handles keys absent on a side: nothing to combine.
func existenceConflict(req catalog.ResolveRequest) (*catalog.Resolution, error) {
	what := func(e *tarn.Entry) string {
		switch {
		case e == nil && req.Base != nil:
			return "dropped the table"
		case e == nil:
			return "has no such table"
		case req.Base == nil:
			return "created the table"
		}
		return "changed the table"
	}
	if req.Base != nil && req.Target != nil && req.Source != nil &&
		req.Base.Kind == tarn.EntryTable && req.Target.Kind == tarn.EntryTable && req.Source.Kind == tarn.EntryTable {
		return nil, nil
	}
	res := &catalog.Resolution{Source: what(req.Source), Target: what(req.Target)}
	return res, tarn.Errorf(tarn.ECONFLICT, "%s %s; %s %s", req.SourceName, res.Source, req.TargetName, res.Target)
}

// scratchSession is a session that only sees one entry, on no branch: a
// resolution writes the combined version's metadata with it.
func (s *Service) scratchSession(key string, e *tarn.Entry) *Session {
	return &Session{svc: s, branch: "(resolve)", base: &tarn.Commit{}, pending: map[string]*tarn.Entry{key: e}, log: s.newWriteLog()}
}

// readTable reads a table's metadata, for reading only.
func (s *Service) readTable(ctx context.Context, ident tarn.TableIdent, loc string) (*icetable.Table, error) {
	return s.loadTable(ctx, icetable.Identifier{ident.Namespace, ident.Name}, loc, &readOnly{})
}

// sideChange is what one side did to a table since the base.
type sideChange struct {
	// appendOnly: only appends (and compatible schema additions).
	appendOnly bool
	what       string
	files      []iceberg.DataFile // the data files appended since the base
	schema     *iceberg.Schema    // the side's current schema
	added      []iceberg.NestedField
	promoted   []iceberg.NestedField // columns widened (with the new type)
}

// sideChange classifies what side did to the table since base. It
// compares their live files, reading only the manifests one has and the
// other has not (manifests are immutable and shared between versions): a
// side appended only when it still has every file of the base, and its
// other files are data files.
func (s *Service) sideChange(ctx context.Context, base, side *icetable.Table) (*sideChange, error) {
	bm, sm := base.Metadata(), side.Metadata()
	ch := &sideChange{schema: side.Schema()}
	if bm.TableUUID() != sm.TableUUID() {
		ch.what = "replaced the table"
		return ch, nil
	}
	if bm.DefaultPartitionSpec() != sm.DefaultPartitionSpec() {
		ch.what = "changed the partition spec"
		return ch, nil
	}
	var problem string
	ch.added, ch.promoted, problem = schemaChanges(base.Schema(), side.Schema())
	if problem != "" {
		ch.what = problem
		return ch, nil
	}
	fsys, err := side.FS(ctx)
	if err != nil {
		return nil, err
	}
	baseOnly, sideOnly, err := s.manifestDifference(fsys, bm.CurrentSnapshot(), sm.CurrentSnapshot())
	if err != nil {
		return nil, err
	}
	baseFiles, _, err := s.liveFiles(fsys, baseOnly)
	if err != nil {
		return nil, err
	}
	sideFiles, deletes, err := s.liveFiles(fsys, sideOnly)
	if err != nil {
		return nil, err
	}
	kept := map[string]bool{}
	for _, f := range sideFiles {
		kept[f.FilePath()] = true
	}
	for _, f := range baseFiles {
		if !kept[f.FilePath()] {
			ch.what = describeRewrite(bm, sm)
			return ch, nil
		}
	}
	if deletes > 0 {
		ch.what = "deleted rows (delete files)"
		return ch, nil
	}
	ch.files = withoutFiles(sideFiles, baseFiles)
	ch.appendOnly = true
	var rows int64
	for _, f := range ch.files {
		rows += f.Count()
	}
	var parts []string
	if len(ch.files) > 0 {
		parts = append(parts, fmt.Sprintf("appended %s (%s)", plural(len(ch.files), "file"), plural(int(rows), "row")))
	}
	for _, f := range ch.added {
		parts = append(parts, fmt.Sprintf("added column %s %s", f.Name, f.Type))
	}
	for _, f := range ch.promoted {
		parts = append(parts, fmt.Sprintf("widened column %s to %s", f.Name, f.Type))
	}
	if len(parts) == 0 {
		parts = append(parts, "changed the table's properties")
	}
	ch.what = strings.Join(parts, ", ")
	return ch, nil
}

// manifestDifference returns the manifests of a's snapshot that b's has
// not, and those of b's that a's has not (nil snapshots have none).
func (s *Service) manifestDifference(fsys iceio.IO, a, b *icetable.Snapshot) (aOnly, bOnly []iceberg.ManifestFile, err error) {
	list := func(snap *icetable.Snapshot) ([]iceberg.ManifestFile, error) {
		if snap == nil {
			return nil, nil
		}
		if m, ok := s.manifestLists.get(snap.ManifestList); ok {
			return m, nil
		}
		m, err := snap.Manifests(fsys)
		if err != nil {
			return nil, fmt.Errorf("read manifest list %s: %w", snap.ManifestList, err)
		}
		s.manifestLists.add(snap.ManifestList, m)
		return m, nil
	}
	am, err := list(a)
	if err != nil {
		return nil, nil, err
	}
	bm, err := list(b)
	if err != nil {
		return nil, nil, err
	}
	in := func(ms []iceberg.ManifestFile) map[string]bool {
		set := make(map[string]bool, len(ms))
		for _, m := range ms {
			set[m.FilePath()] = true
		}
		return set
	}
	inA, inB := in(am), in(bm)
	for _, m := range am {
		if !inB[m.FilePath()] {
			aOnly = append(aOnly, m)
		}
	}
	for _, m := range bm {
		if !inA[m.FilePath()] {
			bOnly = append(bOnly, m)
		}
	}
	return aOnly, bOnly, nil
}

// liveFiles returns the live data files of manifests and how many live
// delete files they hold. Manifests are immutable, so what a manifest
// holds is kept (s.manifests, as manifestDifference keeps manifest lists): a table appended to by many writers at once
// is resolved once per writer, each time against all the appends of the
// others since their common base, and reads only the manifests it has not
// read before.
func (s *Service) liveFiles(fsys iceio.IO, manifests []iceberg.ManifestFile) ([]iceberg.DataFile, int, error) {
	var files []iceberg.DataFile
	deletes := 0
	for _, m := range manifests {
		held, ok := s.manifests.get(m.FilePath())
		if !ok {
			entries, err := m.FetchEntries(fsys, true)
			if err != nil {
				return nil, 0, fmt.Errorf("read manifest %s: %w", m.FilePath(), err)
			}
			held = manifestFiles{}
			for _, e := range entries {
				if m.ManifestContent() != iceberg.ManifestContentData || e.DataFile().ContentType() != iceberg.EntryContentData {
					held.deletes++
					continue
				}
				held.files = append(held.files, e.DataFile())
			}
			s.manifests.add(m.FilePath(), held)
		}
		files = append(files, held.files...)
		deletes += held.deletes
	}
	return files, deletes, nil
}

// manifestFiles is what liveFiles found in one manifest.
type manifestFiles struct {
	files   []iceberg.DataFile
	deletes int
}

// pathCacheSize is how many files a pathCache holds.
const pathCacheSize = 4096

// pathCache holds what was read of the immutable files read last
// (manifests, manifest lists), by path.
type pathCache[V any] struct {
	mu     sync.Mutex
	byPath map[string]V
	order  []string // paths, oldest first
}

func newPathCache[V any]() *pathCache[V] { return &pathCache[V]{byPath: map[string]V{}} }

func (c *pathCache[V]) get(path string) (V, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	v, ok := c.byPath[path]
	return v, ok
}

func (c *pathCache[V]) add(path string, v V) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.byPath[path]; ok {
		return
	}
	if len(c.order) >= pathCacheSize {
		delete(c.byPath, c.order[0])
		c.order = c.order[1:]
	}
	c.byPath[path] = v
	c.order = append(c.order, path)
}

// describeRewrite says what a side that removed some of the base's files
// did: the operation of the first snapshot of its own that is not an
// append, or a revert when its version is older than the base's.
func describeRewrite(base, side icetable.Metadata) string {
	if cur := side.CurrentSnapshot(); cur != nil && base.SnapshotByID(cur.SnapshotID) != nil {
		return "reverted the table to an earlier version"
	}
	for cur := side.CurrentSnapshot(); cur != nil && base.SnapshotByID(cur.SnapshotID) == nil; {
		if cur.Summary != nil && cur.Summary.Operation != icetable.OpAppend {
			return describeOperation(*cur)
		}
		if cur.ParentSnapshotID == nil {
			break
		}
		cur = side.SnapshotByID(*cur.ParentSnapshotID)
	}
	return "rewrote the table's files"
}

// describeOperation says what a snapshot other than an append did.
func describeOperation(snap icetable.Snapshot) string {
	switch snap.Summary.Operation {
	case icetable.OpOverwrite:
		if snap.Summary.Properties["total-records"] == snap.Summary.Properties["added-records"] {
			return "replaced the table's rows"
		}
		return "overwrote rows"
	case icetable.OpDelete:
		return "deleted rows"
	case icetable.OpReplace:
		return "rewrote the table's files (compaction)"
	}
	return fmt.Sprintf("made a %q snapshot", snap.Summary.Operation)
}

// withoutFiles returns files minus those (by path) in other.
func withoutFiles(files, other []iceberg.DataFile) []iceberg.DataFile {
	seen := make(map[string]bool, len(other))
	for _, f := range other {
		seen[f.FilePath()] = true
	}
	var out []iceberg.DataFile
	for _, f := range files {
		if !seen[f.FilePath()] {
			out = append(out, f)
		}
	}
	return out
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}
