package table

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
	"sync"

	iceio "github.com/apache/iceberg-go/io"
	icetable "github.com/apache/iceberg-go/table"
	"github.com/tarnhq/tarn"
	"github.com/tarnhq/tarn/catalog"
)

// writeLog records the files a session writes (data files, manifests,
// manifest lists, metadata), so that a write that is refused, fails or is
// superseded removes them instead of leaving them for garbage collection.
// A file is recorded before it is created: a crash in between leaves a
// file garbage collection reclaims.
type writeLog struct {
	mu    sync.Mutex
	files []string
	// lease, while files are recorded, tells garbage collection that a
	// write is in progress (see leases.go).
	lease *lease
	svc   *Service
}

func (s *Service) newWriteLog() *writeLog { return &writeLog{svc: s} }

// add records files about to be written.
func (w *writeLog) add(paths ...string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.lease == nil && w.svc != nil {
		w.lease = w.svc.leases.take()
	}
	w.files = append(w.files, paths...)
}

// take returns the recorded files and forgets them.
func (w *writeLog) take() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	files := w.files
	w.files = nil
	return files
}

// done forgets the recorded files and ends the write's lease: they are
// committed, or left for garbage collection.
func (w *writeLog) done() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.files = nil
	w.lease.release()
	w.lease = nil
}

// removeAll removes every recorded file (the write did not happen) and
// ends the lease.
func (w *writeLog) removeAll(ctx context.Context) {
	w.svc.removeFiles(ctx, w.take())
	w.done()
}

// tidy removes, once the table whose committed metadata is metaLoc is
// committed, the recorded metadata-side files of that table (manifests,
// manifest lists, metadata files) that the committed version does not
// reference: intermediate versions (a created table's first metadata,
// before its data), and everything of a version that a resolution
// replaced. Data files stay: they belong to the committed version.
func (w *writeLog) tidy(ctx context.Context, metaLoc string) {
	dir := metaLoc[:strings.LastIndex(metaLoc, "/")+1] // TABLE/metadata/ (path.Dir would clean file:///)
	w.mu.Lock()
	var mine, rest []string
	for _, f := range w.files {
		if strings.HasPrefix(f, dir) {
			mine = append(mine, f)
		} else {
			rest = append(rest, f)
		}
	}
	w.files = rest
	w.mu.Unlock()
	if len(mine) == 0 {
		return
	}
	keep := map[string]bool{metaLoc: true}
	recorded := map[string]bool{}
	for _, f := range mine {
		recorded[f] = true
	}
	tbl, err := w.svc.loadTable(ctx, icetable.Identifier{"t", "t"}, metaLoc, &readOnly{})
	if err != nil {
		return // leave them all for garbage collection
	}
	fsys, err := tbl.FS(ctx)
	if err != nil {
		return
	}
	for _, snap := range tbl.Metadata().Snapshots() {
		keep[snap.ManifestList] = true
		if !recorded[snap.ManifestList] {
			continue // an earlier version's
		}
		manifests, err := snap.Manifests(fsys)
		if err != nil {
			return
		}
		for _, m := range manifests {
			keep[m.FilePath()] = true
		}
	}
	var drop []string
	for _, f := range mine {
		if !keep[f] {
			drop = append(drop, f)
		}
	}
	w.svc.removeFiles(ctx, drop)
}

// removeFiles removes files that no commit references, ignoring those
// already gone.
func (s *Service) removeFiles(ctx context.Context, files []string) {
	for _, f := range files {
		if p, ok := localPath(f); ok {
			_ = os.Remove(p) // a failure leaves it for garbage collection
			continue
		}
		fsys, err := iceio.LoadFS(ctx, s.ioProps, f)
		if err == nil {
			_ = fsys.Remove(f) // a failure leaves it for garbage collection
		}
	}
}

// fsFunc returns the file system of a table at loc; a table of a session
// records what it writes in the session's log.
func (s *Service) fsFunc(loc string, cat icetable.CatalogIO) icetable.FSysF {
	load := func(ctx context.Context) (iceio.IO, error) {
		fsys, err := s.loadFS(ctx, loc)
		if err != nil {
			return nil, fmt.Errorf("open the file system of %s: %w", loc, err)
		}
		return fsys, nil
	}
	ss, ok := cat.(*Session)
	if !ok || ss.log == nil {
		return load
	}
	return func(ctx context.Context) (iceio.IO, error) {
		fsys, err := load(ctx)
		if err != nil {
			return nil, err
		}
		return &recordingIO{IO: fsys, log: ss.log}, nil
	}
}

// recordingIO is a table's file system that records the files written
// through it.
type recordingIO struct {
	iceio.IO
	log *writeLog
}

func (r *recordingIO) writer() (iceio.WriteFileIO, error) {
	w, ok := r.IO.(iceio.WriteFileIO)
	if !ok {
		return nil, errors.New("the table's storage is read-only")
	}
	return w, nil
}

// Create implements iceio.WriteFileIO.
func (r *recordingIO) Create(name string) (iceio.FileWriter, error) {
	w, err := r.writer()
	if err != nil {
		return nil, err
	}
	r.log.add(name)
	return w.Create(name)
}

// WriteFile implements iceio.WriteFileIO.
func (r *recordingIO) WriteFile(name string, p []byte) error {
	w, err := r.writer()
	if err != nil {
		return err
	}
	r.log.add(name)
	return w.WriteFile(name, p)
}

// ReadFile implements iceio.ReadFileIO.
func (r *recordingIO) ReadFile(name string) ([]byte, error) {
	if rf, ok := r.IO.(iceio.ReadFileIO); ok {
		return rf.ReadFile(name)
	}
	f, err := r.IO.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(f)
}

// Stat implements iceio.StatIO.
func (r *recordingIO) Stat(name string) (fs.FileInfo, error) {
	if st, ok := r.IO.(iceio.StatIO); ok {
		return st.Stat(name)
	}
	f, err := r.IO.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return f.Stat()
}

// Close ends the session: what it wrote and did not commit is removed (a
// write that failed or was abandoned leaves nothing behind). Call it when
// done with a session that writes; after a successful Flush it does
// nothing.
func (ss *Session) Close(ctx context.Context) {
	if ss.log != nil {
		ss.log.removeAll(context.WithoutCancel(ctx))
	}
}

// commit makes the catalog commit of a Flush. Keys another writer changed
// since the session's base are resolved when the session resolves (see
// SetResolve): the session's own metadata of such a table is then removed,
// its data files now belonging to the resolved version. A commit the
// catalog refuses removes every file the session wrote; one whose outcome
// is unknown (the store failed) leaves them for garbage collection.
func (ss *Session) commit(ctx context.Context, info tarn.CommitInfo) (*tarn.Commit, error) {
	commit, err := ss.svc.cat.Commit(ctx, catalog.CommitRequest{Branch: ss.branch, Base: ss.base.Hash, Changes: ss.pending, Info: info, Resolve: ss.resolve})
	if ss.log == nil {
		return commit, err
	}
	switch {
	case err == nil:
		for key := range ss.pending {
			if e, gerr := ss.svc.cat.GetEntry(ctx, commit, key); gerr == nil && e != nil && e.Kind == tarn.EntryTable {
				ss.log.tidy(ctx, e.Metadata)
			}
		}
		ss.log.done()
	case tarn.ErrorCode(err) != tarn.EINTERNAL:
		ss.log.removeAll(context.WithoutCancel(ctx))
	default:
		ss.log.done()
	}
	return commit, err
}

// SetResolve makes Flush re-apply a table change whose table another
// writer changed meanwhile on top of that writer's version, when both only
// appended (see Service.Resolve), instead of refusing it. tarn's own
// writes set it; a front end that must answer with exactly the metadata it
// committed does not.
func (ss *Session) SetResolve(on bool) { ss.resolve = on }

// record notes files the session is about to write.
func (ss *Session) record(paths ...string) {
	if ss.log != nil {
		ss.log.add(paths...)
	}
}
