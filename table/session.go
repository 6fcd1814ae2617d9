package table

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"maps"
	"net/url"
	"path"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/tarnhq/tarn/internal/atomicfile"

	"github.com/apache/iceberg-go"
	icecat "github.com/apache/iceberg-go/catalog"
	iceio "github.com/apache/iceberg-go/io"
	icetable "github.com/apache/iceberg-go/table"
	"github.com/tarnhq/tarn"
)

var _ icecat.Catalog = (*Session)(nil)

// Session is an iceberg-go catalog over one branch, staging changes until
// Flush commits them as one commit. It is safe for concurrent use by
// writers of different tables (a pipeline materializes outputs in
// parallel). A session opened at a commit (ReadSession) only reads.
type Session struct {
	mu      sync.Mutex // guards base and pending
	svc     *Service
	branch  string // "" for a read-only session
	ref     string // what the reader named, for messages
	base    *tarn.Commit
	pending map[string]*tarn.Entry
	// autoFlush commits after every CommitTable/CreateTable (what an Iceberg
	// REST endpoint needs); off for tarn's own multi-step writes.
	autoFlush bool
	info      tarn.CommitInfo
	// log records the files the session writes (writes.go); resolve
	// re-applies appends on a moved branch at Flush (SetResolve).
	log     *writeLog
	resolve bool
}

// OpenSession starts a session on a branch at its current head.
func (s *Service) OpenSession(ctx context.Context, branch string) (*Session, error) {
	head, err := s.cat.BranchHead(ctx, branch)
	if err != nil {
		return nil, err
	}
	return &Session{svc: s, branch: branch, ref: branch, base: head, pending: map[string]*tarn.Entry{}, log: s.newWriteLog()}, nil
}

// ReadSession returns a session that reads commit and refuses every write
// (EFORBIDDEN); ref names it in messages (a tag, a hash).
func (s *Service) ReadSession(commit *tarn.Commit, ref string) *Session {
	return &Session{svc: s, ref: ref, base: commit, pending: map[string]*tarn.Entry{}}
}

// Branch returns the branch the session writes ("" when it only reads).
func (ss *Session) Branch() string { return ss.branch }

// writable refuses a write on a read-only session.
func (ss *Session) writable() error {
	if ss.branch == "" {
		return tarn.Errorf(tarn.EFORBIDDEN, "%s is not a branch, so it is read-only: write to a branch", tarn.Quote(ss.ref))
	}
	return nil
}

// SetAutoFlush makes every table commit its own catalog commit, with info.
func (ss *Session) SetAutoFlush(info tarn.CommitInfo) { ss.autoFlush, ss.info = true, info }

// Base returns the commit the session reads.
func (ss *Session) Base() *tarn.Commit {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	return ss.base
}

// Pending reports whether the session has staged changes.
func (ss *Session) Pending() bool {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	return len(ss.pending) > 0
}

// Flush commits the staged changes to the branch as one commit and moves
// the session to it. With nothing staged it returns the base.
func (ss *Session) Flush(ctx context.Context, info tarn.CommitInfo) (*tarn.Commit, error) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if len(ss.pending) == 0 {
		return ss.base, nil
	}
	if err := ss.svc.crashPoint("before-catalog-commit"); err != nil {
		return nil, err
	}
	commit, err := ss.commit(ctx, info)
	if err != nil {
		return nil, err
	}
	ss.base, ss.pending = commit, map[string]*tarn.Entry{}
	return commit, nil
}

func (ss *Session) entry(ctx context.Context, key string) (*tarn.Entry, error) {
	ss.mu.Lock()
	e, ok := ss.pending[key]
	base := ss.base
	ss.mu.Unlock()
	if ok {
		return e, nil
	}
	return ss.svc.cat.GetEntry(ctx, base, key)
}

// set stages an entry (nil deletes) without flushing.
func (ss *Session) set(key string, e *tarn.Entry) {
	ss.mu.Lock()
	ss.pending[key] = e
	ss.mu.Unlock()
}

func (ss *Session) stage(ctx context.Context, key string, e *tarn.Entry) error {
	ss.set(key, e)
	if ss.autoFlush {
		_, err := ss.Flush(ctx, ss.info)
		return err
	}
	return nil
}

func identOf(id icetable.Identifier) (tarn.TableIdent, error) {
	if len(id) != 2 {
		return tarn.TableIdent{}, fmt.Errorf("%w: table identifier %v must be namespace.name", icecat.ErrNoSuchTable, id)
	}
	t := tarn.TableIdent{Namespace: id[0], Name: id[1]}
	if err := tarn.ValidateNamespace(t.Namespace); err != nil {
		return t, err
	}
	return t, tarn.ValidateTableName(t.Name)
}

func nsOf(id icetable.Identifier) (string, error) {
	if len(id) != 1 {
		return "", fmt.Errorf("%w: namespace %v must have one level", icecat.ErrNoSuchNamespace, id)
	}
	return id[0], tarn.ValidateNamespace(id[0])
}

// CatalogType implements catalog.Catalog.
func (ss *Session) CatalogType() icecat.Type { return "tarn" }

// CreateTable implements catalog.Catalog: writes metadata version 0 and
// stages the new table.
func (ss *Session) CreateTable(ctx context.Context, id icetable.Identifier, schema *iceberg.Schema, opts ...icecat.CreateTableOpt) (*icetable.Table, error) {
	meta, err := ss.StageCreateTable(ctx, id, schema, opts...)
	if err != nil {
		return nil, err
	}
	ident, _ := identOf(id)
	provider, err := icetable.LoadLocationProvider(meta.Location(), meta.Properties())
	if err != nil {
		return nil, err
	}
	metaLoc, err := provider.NewTableMetadataFileLocation(0)
	if err != nil {
		return nil, err
	}
	if err := ss.svc.checkLocations(ident, meta, metaLoc); err != nil {
		return nil, err
	}
	ss.record(metaLoc)
	if err := ss.svc.writeMetadata(ctx, meta, metaLoc); err != nil {
		return nil, err
	}
	if err := ss.stage(ctx, ident.Key(), entryFor(meta, metaLoc)); err != nil {
		return nil, err
	}
	return ss.svc.newTable(id, meta, metaLoc, ss), nil
}

// StageCreateTable checks a new table and returns its first metadata
// without writing or staging anything: the first half of an Iceberg staged
// create, which a CommitTable with an assert-create requirement completes.
// The table's location, when given, must be in the warehouse.
func (ss *Session) StageCreateTable(ctx context.Context, id icetable.Identifier, schema *iceberg.Schema, opts ...icecat.CreateTableOpt) (icetable.Metadata, error) {
	if err := ss.writable(); err != nil {
		return nil, err
	}
	ident, err := identOf(id)
	if err != nil {
		return nil, err
	}
	if err := ss.checkNew(ctx, ident); err != nil {
		return nil, err
	}
	if err := checkSchema(ident, schema); err != nil {
		return nil, err
	}
	cfg := icecat.NewCreateTableCfg()
	for _, o := range opts {
		o(&cfg)
	}
	loc := strings.TrimSuffix(cfg.Location, "/")
	if loc == "" {
		loc = ss.svc.tableLocation(ident)
	}
	props := iceberg.Properties{}
	maps.Copy(props, cfg.Properties)
	meta, err := icetable.NewMetadata(schema, cfg.PartitionSpec, cfg.SortOrder, loc, props)
	if err != nil {
		return nil, tarn.Errorf(tarn.EINVALID, "new table %s: %v", ident, err)
	}
	if err := ss.svc.checkLocations(ident, meta, ""); err != nil {
		return nil, err
	}
	return meta, nil
}

// checkNew checks that a table may be created: its namespace exists (else
// ErrNoSuchNamespace), the name is free (else ErrTableAlreadyExists) and
// differs from every other in more than case.
func (ss *Session) checkNew(ctx context.Context, ident tarn.TableIdent) error {
	if ns, err := ss.entry(ctx, tarn.NamespaceKey(ident.Namespace)); err != nil {
		return err
	} else if ns == nil {
		return fmt.Errorf("%w: %s", icecat.ErrNoSuchNamespace, ident.Namespace)
	}
	if e, err := ss.entry(ctx, ident.Key()); err != nil {
		return err
	} else if e != nil {
		return fmt.Errorf("%w: %s", icecat.ErrTableAlreadyExists, ident)
	}
	return ss.checkTwin(ctx, tarn.ResourceTable, ident.Key())
}

// CommitTable implements catalog.Catalog: validates the requirements
// against the table as the session sees it, applies the updates, writes the
// new metadata file and stages it. A table that does not exist is created
// only by a commit that requires it not to (assert-create); a failed
// requirement is ECONFLICT naming it, an update that does not apply
// EINVALID.
func (ss *Session) CommitTable(ctx context.Context, id icetable.Identifier, reqs []icetable.Requirement, updates []icetable.Update) (icetable.Metadata, string, error) {
	return ss.commitTable(ctx, id, reqs, updates, ss.autoFlush)
}

// CommitTransaction implements catalog.TransactionalCatalog: every
// table's commit is checked and staged, and they become one catalog
// commit (in auto-flush mode) or stay staged for Flush; when one fails,
// nothing of the transaction is staged.
func (ss *Session) CommitTransaction(ctx context.Context, commits []icetable.TableCommit) error {
	if len(commits) == 0 {
		return tarn.Errorf(tarn.EINVALID, "the transaction has no table changes")
	}
	ss.mu.Lock()
	saved := maps.Clone(ss.pending)
	ss.mu.Unlock()
	for _, c := range commits {
		if _, _, err := ss.commitTable(ctx, c.Identifier, c.Requirements, c.Updates, false); err != nil {
			ss.mu.Lock()
			ss.pending = saved
			ss.mu.Unlock()
			return err
		}
	}
	if ss.autoFlush {
		_, err := ss.Flush(ctx, ss.info)
		return err
	}
	return nil
}

var _ icecat.TransactionalCatalog = (*Session)(nil)

func (ss *Session) commitTable(ctx context.Context, id icetable.Identifier, reqs []icetable.Requirement, updates []icetable.Update, flush bool) (icetable.Metadata, string, error) {
	if err := ss.writable(); err != nil {
		return nil, "", err
	}
	ident, err := identOf(id)
	if err != nil {
		return nil, "", err
	}
	current, err := ss.LoadTable(ctx, id)
	if err != nil && !errors.Is(err, icecat.ErrNoSuchTable) {
		return nil, "", err
	}
	var base, currentMeta icetable.Metadata
	curLoc, version := "", 0
	if current != nil {
		base, currentMeta, curLoc = current.Metadata(), current.Metadata(), current.MetadataLocation()
		version = metadataVersion(curLoc) + 1
	} else {
		if !slices.ContainsFunc(reqs, func(r icetable.Requirement) bool { return r.GetType() == "assert-create" }) {
			return nil, "", fmt.Errorf("%w: %s", icecat.ErrNoSuchTable, ident)
		}
		if err := ss.checkNew(ctx, ident); err != nil {
			return nil, "", err
		}
		if base, err = icetable.NewMetadata(iceberg.NewSchema(0), nil, icetable.UnsortedSortOrder, "", nil); err != nil {
			return nil, "", err
		}
	}
	for _, r := range reqs {
		if err := r.Validate(currentMeta); err != nil {
			return nil, "", tarn.Errorf(tarn.ECONFLICT, "table %s changed underneath this write: %s failed: %v; reload the table and retry",
				ident, r.GetType(), err)
		}
	}
	updated, err := icetable.UpdateTableMetadata(base, updates, curLoc)
	if err != nil {
		return nil, "", tarn.Errorf(tarn.EINVALID, "the updates do not apply to table %s: %v", ident, err)
	}
	if current != nil && updated.Equals(currentMeta) {
		return currentMeta, curLoc, nil
	}
	updated = ss.svc.dropExpiredSnapshots(ctx, updated, curLoc)
	if current == nil || updated.CurrentSchema().ID != currentMeta.CurrentSchema().ID {
		if err := checkSchema(ident, updated.CurrentSchema()); err != nil {
			return nil, "", err
		}
	}
	provider, err := icetable.LoadLocationProvider(updated.Location(), updated.Properties())
	if err != nil {
		return nil, "", tarn.Errorf(tarn.EINVALID, "table %s: %v", ident, err)
	}
	newLoc, err := provider.NewTableMetadataFileLocation(version)
	if err != nil {
		return nil, "", err
	}
	if err := ss.svc.checkLocations(ident, updated, newLoc); err != nil {
		return nil, "", err
	}
	ss.record(newLoc)
	if err := ss.svc.writeMetadata(ctx, updated, newLoc); err != nil {
		return nil, "", err
	}
	ss.set(ident.Key(), entryFor(updated, newLoc))
	if flush {
		if _, err := ss.Flush(ctx, ss.info); err != nil {
			return nil, "", err
		}
	}
	return updated, newLoc, nil
}

// RegisterTable adds a table whose metadata file already exists in the
// warehouse (an Iceberg registerTable). The name must be free
// (ErrTableAlreadyExists) unless overwrite is set.
func (ss *Session) RegisterTable(ctx context.Context, id icetable.Identifier, metadataLoc string, overwrite bool) (*icetable.Table, error) {
	if err := ss.writable(); err != nil {
		return nil, err
	}
	ident, err := identOf(id)
	if err != nil {
		return nil, err
	}
	if err := ss.checkNew(ctx, ident); err != nil && !(overwrite && errors.Is(err, icecat.ErrTableAlreadyExists)) {
		return nil, err
	}
	if !ss.svc.inWarehouse(metadataLoc) {
		return nil, tarn.Errorf(tarn.EINVALID, "cannot register %s: metadata %s is not in the warehouse; copy the table into it first", ident, tarn.Quote(metadataLoc))
	}
	tbl, err := ss.svc.loadTable(ctx, id, metadataLoc, ss)
	if err != nil {
		return nil, tarn.Errorf(tarn.EINVALID, "cannot register %s: %v", ident, err)
	}
	if err := ss.svc.checkLocations(ident, tbl.Metadata(), metadataLoc); err != nil {
		return nil, err
	}
	if err := checkSchema(ident, tbl.Schema()); err != nil {
		return nil, err
	}
	if err := ss.stage(ctx, ident.Key(), entryFor(tbl.Metadata(), metadataLoc)); err != nil {
		return nil, err
	}
	return tbl, nil
}

// metadataVersion parses NNNNN from "NNNNN-uuid.metadata.json".
func metadataVersion(loc string) int {
	name := path.Base(loc)
	digits, _, _ := strings.Cut(name, "-")
	v, err := strconv.Atoi(strings.TrimPrefix(digits, "v"))
	if err != nil {
		return 0
	}
	return v
}

func entryFor(meta icetable.Metadata, loc string) *tarn.Entry {
	e := &tarn.Entry{Kind: tarn.EntryTable, Metadata: loc}
	if snap := meta.CurrentSnapshot(); snap != nil {
		e.Snapshot = snap.SnapshotID
		if snap.Summary != nil {
			e.Rows = liveRows(snap.Summary.Properties)
			e.Files = propInt(snap.Summary.Properties, "total-data-files")
			e.Bytes = propInt(snap.Summary.Properties, "total-files-size")
		}
	}
	return e
}

// liveRows counts a snapshot's rows less those its position deletes and
// deletion vectors remove (rows equality deletes remove are not known
// without reading them, so they still count).
func liveRows(p iceberg.Properties) int64 {
	return propInt(p, "total-records") - propInt(p, "total-position-deletes")
}

func propInt(p iceberg.Properties, key string) int64 {
	v, _ := strconv.ParseInt(p[key], 10, 64)
	return v
}

// LoadTable implements catalog.Catalog.
func (ss *Session) LoadTable(ctx context.Context, id icetable.Identifier) (*icetable.Table, error) {
	loc, err := ss.MetadataLocation(ctx, id)
	if err != nil {
		return nil, err
	}
	return ss.svc.loadTable(ctx, id, loc, ss)
}

// MetadataLocation returns where a table's current metadata file is, or
// ErrNoSuchTable.
func (ss *Session) MetadataLocation(ctx context.Context, id icetable.Identifier) (string, error) {
	ident, err := identOf(id)
	if err != nil {
		return "", err
	}
	e, err := ss.entry(ctx, ident.Key())
	if err != nil {
		return "", err
	}
	if e == nil || e.Kind != tarn.EntryTable {
		return "", fmt.Errorf("%w: %s", icecat.ErrNoSuchTable, ident)
	}
	return e.Metadata, nil
}

// DropTable implements catalog.Catalog. Files are kept: other commits may
// still point at them.
func (ss *Session) DropTable(ctx context.Context, id icetable.Identifier) error {
	if err := ss.writable(); err != nil {
		return err
	}
	ident, err := identOf(id)
	if err != nil {
		return err
	}
	if e, err := ss.entry(ctx, ident.Key()); err != nil {
		return err
	} else if e == nil {
		return fmt.Errorf("%w: %s", icecat.ErrNoSuchTable, ident)
	}
	return ss.stage(ctx, ident.Key(), nil)
}

// RenameTable implements catalog.Catalog.
func (ss *Session) RenameTable(ctx context.Context, from, to icetable.Identifier) (*icetable.Table, error) {
	if err := ss.writable(); err != nil {
		return nil, err
	}
	src, err := identOf(from)
	if err != nil {
		return nil, err
	}
	dst, err := identOf(to)
	if err != nil {
		return nil, err
	}
	e, err := ss.entry(ctx, src.Key())
	if err != nil {
		return nil, err
	}
	if e == nil {
		return nil, fmt.Errorf("%w: %s", icecat.ErrNoSuchTable, src)
	}
	if existing, err := ss.entry(ctx, dst.Key()); err != nil {
		return nil, err
	} else if existing != nil {
		return nil, fmt.Errorf("%w: %s", icecat.ErrTableAlreadyExists, dst)
	}
	if !strings.EqualFold(src.Key(), dst.Key()) {
		if err := ss.checkTwin(ctx, tarn.ResourceTable, dst.Key()); err != nil {
			return nil, err
		}
	}
	if ns, err := ss.entry(ctx, tarn.NamespaceKey(dst.Namespace)); err != nil {
		return nil, err
	} else if ns == nil {
		return nil, fmt.Errorf("%w: %s", icecat.ErrNoSuchNamespace, dst.Namespace)
	}
	ss.set(src.Key(), nil)
	if err := ss.stage(ctx, dst.Key(), e); err != nil {
		return nil, err
	}
	return ss.LoadTable(ctx, to)
}

// CheckTableExists implements catalog.Catalog.
func (ss *Session) CheckTableExists(ctx context.Context, id icetable.Identifier) (bool, error) {
	ident, err := identOf(id)
	if err != nil {
		return false, nil
	}
	e, err := ss.entry(ctx, ident.Key())
	return e != nil && e.Kind == tarn.EntryTable, err
}

// entries lists the session's view: base entries with staged changes.
func (ss *Session) entries(ctx context.Context) (map[string]*tarn.Entry, error) {
	all, _, err := ss.svc.cat.Entries(ctx, ss.Base())
	if err != nil {
		return nil, err
	}
	ss.mu.Lock()
	defer ss.mu.Unlock()
	for k, e := range ss.pending {
		if e == nil {
			delete(all, k)
		} else {
			all[k] = e
		}
	}
	return all, nil
}

// ListTables implements catalog.Catalog.
func (ss *Session) ListTables(ctx context.Context, namespace icetable.Identifier) iter.Seq2[icetable.Identifier, error] {
	return func(yield func(icetable.Identifier, error) bool) {
		ns, err := nsOf(namespace)
		if err != nil {
			yield(nil, err)
			return
		}
		all, err := ss.entries(ctx)
		if err != nil {
			yield(nil, err)
			return
		}
		if all[tarn.NamespaceKey(ns)] == nil {
			yield(nil, fmt.Errorf("%w: %s", icecat.ErrNoSuchNamespace, ns))
			return
		}
		for _, k := range sortedKeys(all) {
			n, name := tarn.ParseKey(k)
			if n == ns && name != "" && all[k].Kind == tarn.EntryTable {
				if !yield(icetable.Identifier{n, name}, nil) {
					return
				}
			}
		}
	}
}

// checkTwin refuses a new namespace or table (what) whose key differs from
// an existing one only in case: DuckDB resolves names ignoring case, so a
// query could not reach one of the two (it would silently read the
// other). The error is EEXISTS.
func (ss *Session) checkTwin(ctx context.Context, what, key string) error {
	all, err := ss.entries(ctx)
	if err != nil {
		return err
	}
	for k := range all {
		if k != key && strings.EqualFold(k, key) {
			return tarn.Errorf(tarn.EEXISTS, "%s %s differs only in case from the existing %s %s on %s, and SQL does not tell them apart: choose another name",
				what, key, what, k, ss.branch).About(what)
		}
	}
	return nil
}

// writeMetadata writes a metadata file. Local files are written to a
// temporary name, synced and renamed, so a reader never sees a partial file.
func (s *Service) writeMetadata(ctx context.Context, meta icetable.Metadata, loc string) error {
	data, err := json.Marshal(meta)
	if err != nil {
		return fmt.Errorf("encode table metadata: %w", err)
	}
	if p, ok := localPath(loc); ok {
		if err := atomicfile.Write(p, data, 0o644); err != nil {
			return fmt.Errorf("write table metadata: %w", err)
		}
		return s.crashPoint("after-metadata-write")
	}
	fsys, err := iceio.LoadFS(ctx, s.ioProps, loc)
	if err != nil {
		return fmt.Errorf("open %s: %w", loc, err)
	}
	wfs, ok := fsys.(iceio.WriteFileIO)
	if !ok {
		return fmt.Errorf("storage for %s is read-only", loc)
	}
	if err := wfs.WriteFile(loc, data); err != nil {
		return fmt.Errorf("write table metadata: %w", err)
	}
	return s.crashPoint("after-metadata-write")
}

func localPath(loc string) (string, bool) {
	if strings.HasPrefix(loc, "/") {
		return loc, true
	}
	u, err := url.Parse(loc)
	if err != nil || u.Scheme != "file" {
		return "", false
	}
	return u.Path, true
}
