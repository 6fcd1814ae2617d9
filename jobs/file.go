package jobs

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/tarnhq/tarn"
	"github.com/tarnhq/tarn/internal/atomicfile"
)

// FileStore is a Store in a folder (HOME/jobs), for a home that one
// server uses:
//
//	ID/job.json        the job's record (tarn.Job)
//	ID/record.json     its input and cleanup folder
//	ID/events.ndjson   its log
//	ID/cancel          a request to cancel it (who asked)
//	queue/ID           present while the job waits for a runner
//	held/ID            the lease of the runner that holds it
//
// A job moves from the queue to a runner by renaming its queue file, so
// of two claims (or a claim and a cancel) one wins even across
// processes; any process can read jobs and ask for a cancel. Leases use
// this machine's clock.
type FileStore struct {
	Dir string
	mu  sync.Mutex
}

var _ Store = (*FileStore)(nil)

// NewFileStore returns the store of the jobs in dir.
func NewFileStore(dir string) *FileStore { return &FileStore{Dir: dir} }

type fileRecord struct {
	Input   []byte `json:"input,omitempty"`
	Cleanup string `json:"cleanup,omitempty"`
}

type fileLease struct {
	Owner string    `json:"owner"`
	Until time.Time `json:"until"`
}

func (s *FileStore) jobFile(id, name string) string { return filepath.Join(s.Dir, id, name) }
func (s *FileStore) queued(id string) string        { return filepath.Join(s.Dir, "queue", id) }
func (s *FileStore) held(id string) string          { return filepath.Join(s.Dir, "held", id) }

func (s *FileStore) writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.Write(path, b, 0o644)
}

func (s *FileStore) writeLease(id, owner string, lease time.Duration) error {
	return s.writeJSON(s.held(id), fileLease{Owner: owner, Until: time.Now().Add(lease).UTC()})
}

// lease reads a held job's lease (nil when it is not held; a lease being
// written is not read as anyone's).
func (s *FileStore) lease(id string) *fileLease {
	b, err := os.ReadFile(s.held(id))
	if err != nil {
		return nil
	}
	var l fileLease
	if json.Unmarshal(b, &l) != nil || l.Owner == "" {
		return &fileLease{}
	}
	return &l
}

// holds reports whether owner holds the job id.
func (s *FileStore) holds(id, owner string) bool {
	l := s.lease(id)
	return validID(id) && l != nil && l.Owner == owner
}

// entries lists a folder of the store ("" for its root, "queue", "held");
// one not made yet is empty.
func (s *FileStore) entries(sub string) ([]os.DirEntry, error) {
	entries, err := os.ReadDir(filepath.Join(s.Dir, sub))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	return entries, err
}

func (s *FileStore) record(id string, j *tarn.Job, owner string) *Record {
	r := &Record{Job: j, Owner: owner}
	if b, err := os.ReadFile(s.jobFile(id, "record.json")); err == nil {
		var fr fileRecord
		if json.Unmarshal(b, &fr) == nil {
			r.Input, r.Cleanup = fr.Input, fr.Cleanup
		}
	}
	return r
}

// Create implements Store.
func (s *FileStore) Create(ctx context.Context, r *Record, lease time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	id := r.Job.ID
	if !validID(id) {
		return tarn.Errorf(tarn.EINVALID, "job id %s: ids look like j20260101-120000-abcdef", tarn.Quote(id))
	}
	for _, dir := range []string{s.Dir, filepath.Join(s.Dir, "queue"), filepath.Join(s.Dir, "held")} {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
	}
	if err := os.Mkdir(filepath.Join(s.Dir, id), 0o755); errors.Is(err, fs.ErrExist) {
		return tarn.Errorf(tarn.EEXISTS, "job %s exists", id)
	} else if err != nil {
		return err
	}
	if r.Input != nil || r.Cleanup != "" {
		if err := s.writeJSON(s.jobFile(id, "record.json"), fileRecord{Input: r.Input, Cleanup: r.Cleanup}); err != nil {
			return err
		}
	}
	if err := s.writeJSON(s.jobFile(id, "job.json"), r.Job); err != nil {
		return err
	}
	if r.Owner != "" {
		return s.writeLease(id, r.Owner, lease)
	}
	return os.WriteFile(s.queued(id), nil, 0o644)
}

// Get implements Store.
func (s *FileStore) Get(ctx context.Context, id string) (*tarn.Job, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if !validID(id) {
		return nil, NotFound(id)
	}
	p := s.jobFile(id, "job.json")
	b, err := os.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, NotFound(id)
	}
	if err != nil {
		return nil, err
	}
	var j tarn.Job
	if err := json.Unmarshal(b, &j); err != nil {
		return nil, tarn.Errorf(tarn.EINTERNAL, "job record %s is corrupt: %v", p, err)
	}
	return &j, nil
}

// List implements Store.
func (s *FileStore) List(ctx context.Context) ([]*tarn.Job, error) {
	entries, err := s.entries("")
	if err != nil {
		return nil, err
	}
	out := []*tarn.Job{}
	for _, e := range entries {
		if !e.IsDir() || !validID(e.Name()) {
			continue
		}
		if j, err := s.Get(ctx, e.Name()); err == nil {
			out = append(out, j)
		} else if ctx.Err() != nil {
			return nil, ctx.Err()
		}
	}
	sort.Slice(out, func(i, k int) bool { return out[i].Created.After(out[k].Created) })
	return out, nil
}

// Claim implements Store.
func (s *FileStore) Claim(ctx context.Context, owner string, kinds []string, lease time.Duration) (*Record, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	entries, err := s.entries("queue")
	if err != nil {
		return nil, err
	}
	var waiting []*tarn.Job
	for _, e := range entries {
		if j, err := s.Get(ctx, e.Name()); err == nil && slices.Contains(kinds, j.Kind) {
			waiting = append(waiting, j)
		}
	}
	sort.Slice(waiting, func(i, k int) bool { return waiting[i].Created.Before(waiting[k].Created) })
	for _, j := range waiting {
		if err := os.Rename(s.queued(j.ID), s.held(j.ID)); err != nil {
			continue // cancelled, or claimed by another process
		}
		if err := s.writeLease(j.ID, owner, lease); err != nil {
			return nil, err
		}
		MarkRunning(j)
		if err := s.writeJSON(s.jobFile(j.ID, "job.json"), j); err != nil {
			return nil, err
		}
		return s.record(j.ID, j, owner), nil
	}
	return nil, nil
}

// Renew implements Store.
func (s *FileStore) Renew(ctx context.Context, owner string, ids []string, lease time.Duration) (*Renewal, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	out := &Renewal{Cancel: map[string]string{}}
	for _, id := range ids {
		if !s.holds(id, owner) {
			out.Lost = append(out.Lost, id)
			continue
		}
		if err := s.writeLease(id, owner, lease); err != nil {
			return nil, err
		}
		if why, err := os.ReadFile(s.jobFile(id, "cancel")); err == nil {
			out.Cancel[id] = string(why)
		}
	}
	return out, nil
}

// Update implements Store.
func (s *FileStore) Update(ctx context.Context, owner string, j *tarn.Job) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.holds(j.ID, owner) {
		return ErrNotHeld
	}
	if err := s.writeJSON(s.jobFile(j.ID, "job.json"), j); err != nil {
		return err
	}
	if j.Done() {
		os.Remove(s.held(j.ID))
	}
	return nil
}

// Cancel implements Store.
func (s *FileStore) Cancel(ctx context.Context, id, owner, why string, lease time.Duration) (*Record, error) {
	j, err := s.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	if j.Done() {
		return nil, Ended(j)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := os.Rename(s.queued(id), s.held(id)); err == nil {
		if err := s.writeLease(id, owner, lease); err != nil {
			return nil, err
		}
		return s.record(id, j, owner), nil
	}
	if err := atomicfile.Write(s.jobFile(id, "cancel"), []byte(why), 0o644); err != nil {
		return nil, err
	}
	r := s.record(id, j, "")
	if l := s.lease(id); l != nil {
		r.Owner = l.Owner
	}
	return r, nil
}

// Expire implements Store.
func (s *FileStore) Expire(ctx context.Context, opts ExpireOptions) ([]*Record, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	entries, err := s.entries("held")
	if err != nil {
		return nil, err
	}
	var out []*Record
	end := func(id string) error {
		j, err := s.Get(ctx, id)
		if err != nil || j.Done() {
			return nil
		}
		MarkExpired(j, opts.Message)
		if err := s.writeJSON(s.jobFile(id, "job.json"), j); err != nil {
			return err
		}
		out = append(out, s.record(id, j, ""))
		return nil
	}
	now := time.Now()
	for _, e := range entries {
		l := s.lease(e.Name())
		if l == nil || l.Owner == "" || (opts.Abandoned && l.Owner == opts.Except) || (!opts.Abandoned && l.Until.After(now)) {
			continue
		}
		if os.Remove(s.held(e.Name())) != nil {
			continue // ended by its owner meanwhile
		}
		if err := end(e.Name()); err != nil {
			return out, err
		}
	}
	if !opts.Abandoned {
		return out, nil
	}
	// Jobs unfinished but neither queued nor held (left by a tarn that kept
	// no leases).
	jobs, err := s.List(ctx)
	if err != nil {
		return out, err
	}
	for _, j := range jobs {
		if j.Done() || exists(s.queued(j.ID)) || exists(s.held(j.ID)) {
			continue
		}
		if err := end(j.ID); err != nil {
			return out, err
		}
	}
	return out, nil
}

func exists(path string) bool {
	_, err := os.Lstat(path)
	return err == nil
}

// AppendLog implements Store.
func (s *FileStore) AppendLog(ctx context.Context, id string, lines []byte) error {
	if !validID(id) {
		return NotFound(id)
	}
	f, err := os.OpenFile(s.jobFile(id, "events.ndjson"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.Write(lines); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// ReadLog implements Store: the cursor is a byte offset.
func (s *FileStore) ReadLog(ctx context.Context, id string, cursor int64) ([]byte, int64, error) {
	if !validID(id) {
		return nil, cursor, NotFound(id)
	}
	f, err := os.Open(s.jobFile(id, "events.ndjson"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, cursor, nil
	}
	if err != nil {
		return nil, cursor, err
	}
	defer f.Close()
	if _, err := f.Seek(cursor, io.SeekStart); err != nil {
		return nil, cursor, err
	}
	b, err := io.ReadAll(f)
	if err != nil {
		return nil, cursor, err
	}
	b = b[:bytes.LastIndexByte(b, '\n')+1] // a line being written waits for the next read
	return b, cursor + int64(len(b)), nil
}

// Cleanups implements Store.
func (s *FileStore) Cleanups(ctx context.Context) ([]string, error) {
	var out []string
	for _, dir := range []string{"queue", "held"} {
		entries, err := s.entries(dir)
		if err != nil {
			return nil, err
		}
		for _, e := range entries {
			if r := s.record(e.Name(), nil, ""); r.Cleanup != "" {
				out = append(out, r.Cleanup)
			}
		}
	}
	return out, ctx.Err()
}

// Prune implements Store.
func (s *FileStore) Prune(ctx context.Context, keep int) (int, error) {
	jobs, err := s.List(ctx)
	if err != nil {
		return 0, err
	}
	n := 0
	for i, j := range jobs {
		if i < keep || !j.Done() {
			continue
		}
		if err := os.RemoveAll(filepath.Join(s.Dir, j.ID)); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

// Close implements Store (nothing to release).
func (s *FileStore) Close() error { return nil }
