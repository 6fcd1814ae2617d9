package jobs

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"github.com/tarnhq/tarn/internal/atomicfile"

	"github.com/tarnhq/tarn"
)

// Manager runs jobs in this process and keeps their records and logs in
// a folder (HOME/jobs/ID/: job.json, events.ndjson). Any process can read
// them; only the process that started a job (a server) can cancel it. Runs
// execute one at a time (each run already uses every core); others wait
// queued.
type Manager struct {
	dir string
	// Runs, when set (a server), lets SubmitRun start runs as jobs.
	Runs tarn.RunService

	mu     sync.Mutex
	active map[string]context.CancelCauseFunc
	wg     sync.WaitGroup
	slot   chan struct{}
}

var _ tarn.JobRunner = (*Manager)(nil)

// New returns a manager of the jobs recorded in dir.
func New(dir string) *Manager {
	return &Manager{dir: dir, active: map[string]context.CancelCauseFunc{}, slot: make(chan struct{}, 1)}
}

func newJobID() string {
	b := make([]byte, 3)
	rand.Read(b)
	return "j" + time.Now().UTC().Format("20060102-150405") + "-" + hex.EncodeToString(b)
}

func (m *Manager) path(id, name string) (string, error) {
	if !validJobID(id) {
		return "", tarn.Errorf(tarn.ENOTFOUND, "job %s not found: job ids look like j20260101-120000-abcdef (`tarn job ls`)", tarn.Quote(id)).About(tarn.ResourceJob)
	}
	return filepath.Join(m.dir, id, name), nil
}

func validJobID(id string) bool {
	if len(id) < 2 || len(id) > 40 || id[0] != 'j' {
		return false
	}
	for _, r := range id[1:] {
		if !(r >= '0' && r <= '9' || r >= 'a' && r <= 'f' || r == '-') {
			return false
		}
	}
	return true
}

func (m *Manager) save(j *tarn.Job) error {
	b, err := json.MarshalIndent(j, "", "  ")
	if err != nil {
		return err
	}
	p, err := m.path(j.ID, "job.json")
	if err != nil {
		return err
	}
	return atomicfile.Write(p, b, 0o644)
}

// GetJob reads a job record.
func (m *Manager) GetJob(ctx context.Context, id string) (*tarn.Job, error) {
	p, err := m.path(id, "job.json")
	if err != nil {
		return nil, err
	}
	b, err := os.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, tarn.JobNotFound(id)
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

// ListJobs lists jobs, newest first.
func (m *Manager) ListJobs(ctx context.Context) ([]*tarn.Job, error) {
	entries, err := os.ReadDir(m.dir)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	out := []*tarn.Job{}
	for _, e := range entries {
		if !e.IsDir() || !validJobID(e.Name()) {
			continue
		}
		if j, err := m.GetJob(ctx, e.Name()); err == nil {
			out = append(out, j)
		}
	}
	sort.Slice(out, func(i, k int) bool { return out[i].Created.After(out[k].Created) })
	return out, nil
}

// JobLogs copies the job's events (NDJSON, one tarn.RunEvent a line) to
// w; with follow it keeps copying until the job has ended.
func (m *Manager) JobLogs(ctx context.Context, id string, follow bool, w io.Writer) error {
	if _, err := m.GetJob(ctx, id); err != nil {
		return err
	}
	p, _ := m.path(id, "events.ndjson")
	f, err := os.Open(p)
	if errors.Is(err, fs.ErrNotExist) {
		f = nil
	} else if err != nil {
		return err
	}
	if f != nil {
		defer f.Close()
	}
	var r *bufio.Reader
	var partial []byte
	flush := func() {}
	if fl, ok := w.(interface{ Flush() }); ok {
		flush = fl.Flush
	}
	for {
		if f == nil {
			if f, err = os.Open(p); err == nil {
				defer f.Close()
			}
		}
		if f != nil {
			if r == nil {
				r = bufio.NewReaderSize(f, 64*1024)
			}
			for {
				line, err := r.ReadBytes('\n')
				partial = append(partial, line...)
				if err != nil {
					break
				}
				if _, err := w.Write(partial); err != nil {
					return err
				}
				partial = partial[:0]
			}
			flush()
		}
		if !follow {
			return nil
		}
		j, err := m.GetJob(ctx, id)
		if err != nil {
			return err
		}
		if j.Done() {
			follow = false // one more pass for lines written before the end
			continue
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// CancelJob cancels a job this process runs.
func (m *Manager) CancelJob(ctx context.Context, id string) (*tarn.Job, error) {
	return m.CancelJobAs(ctx, id, "")
}

// CancelJobAs cancels a job this process runs on behalf of user (named
// in the job's error; "" for nobody in particular).
func (m *Manager) CancelJobAs(ctx context.Context, id, user string) (*tarn.Job, error) {
	j, err := m.GetJob(ctx, id)
	if err != nil {
		return nil, err
	}
	if j.Done() {
		return nil, tarn.Errorf(tarn.ECONFLICT, "job %s has already ended (%s): nothing to cancel", id, j.State)
	}
	m.mu.Lock()
	cancel := m.active[id]
	m.mu.Unlock()
	if cancel == nil {
		return nil, tarn.Errorf(tarn.EINVALID, "job %s runs in a server: cancel it there (tarn --endpoint URL job cancel %s)", id, id)
	}
	by := "`tarn job cancel`"
	if user != "" {
		by = user + " (" + by + ")"
	}
	cancel(&cancelled{why: "cancelled by " + by})
	for !j.Done() { // the job notices at once: workers are killed, nothing is published
		select {
		case <-ctx.Done():
			return j, nil
		case <-time.After(20 * time.Millisecond):
		}
		if j, err = m.GetJob(ctx, id); err != nil {
			return nil, err
		}
	}
	return j, nil
}

// cancelled is why a job's context was cancelled.
type cancelled struct{ why string }

func (c *cancelled) Error() string { return c.why }

// errServerStopping cancels the jobs still running when a server stops.
var errServerStopping = &cancelled{why: "cancelled: the server stopped"}

// cancelCause says why a job ended cancelled: who cancelled it, or that
// its client went away, or that the server stopped.
func cancelCause(ctx context.Context, err error) string {
	var c *cancelled
	if errors.As(context.Cause(ctx), &c) || errors.As(err, &c) {
		return c.why
	}
	return tarn.ErrClientGone.Error() // the caller's context ended (Track), or its stream broke
}

// Start records a job and runs it in the background. The job's context
// is not the caller's: a client that goes away does not stop it.
func (m *Manager) Start(ctx context.Context, spec tarn.JobSpec) (*tarn.Job, <-chan struct{}, error) {
	return m.start(context.WithoutCancel(ctx), spec)
}

// start runs a job whose context ends with parent's.
func (m *Manager) start(parent context.Context, spec tarn.JobSpec) (*tarn.Job, <-chan struct{}, error) {
	j := &tarn.Job{ID: newJobID(), Kind: spec.Kind, State: tarn.JobQueued, User: spec.User, Ref: spec.Ref, Summary: spec.Summary,
		Created: time.Now().UTC()}
	if err := os.MkdirAll(filepath.Join(m.dir, j.ID), 0o755); err != nil {
		return nil, nil, err
	}
	if err := m.save(j); err != nil {
		return nil, nil, err
	}
	ctx, cancel := context.WithCancelCause(parent)
	m.mu.Lock()
	m.active[j.ID] = cancel
	m.mu.Unlock()
	done := make(chan struct{})
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		defer close(done)
		m.execute(ctx, j, spec)
		m.mu.Lock()
		delete(m.active, j.ID)
		m.mu.Unlock()
		cancel(nil)
		if spec.Cleanup != "" {
			os.RemoveAll(spec.Cleanup)
		}
	}()
	return j, done, nil
}

func (m *Manager) execute(ctx context.Context, j *tarn.Job, spec tarn.JobSpec) {
	logPath, _ := m.path(j.ID, "events.ndjson")
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	var logMu sync.Mutex
	log := func(e tarn.RunEvent) {
		if logFile == nil {
			return
		}
		b, _ := json.Marshal(e)
		logMu.Lock()
		logFile.Write(append(b, '\n'))
		logMu.Unlock()
	}
	if err == nil {
		defer logFile.Close()
	}
	if spec.Serial {
		spec.Slots = m.slot
	}
	if slots := spec.Slots; slots != nil {
		select {
		case slots <- struct{}{}:
			defer func() { <-slots }()
		case <-ctx.Done():
		}
	}
	var res *tarn.RunResult
	ctx = tarn.WithJobID(ctx, j.ID)
	if err = ctx.Err(); err == nil {
		now := time.Now().UTC()
		j.State, j.Started = tarn.JobRunning, &now
		m.save(j)
		res, err = spec.Do(ctx, log)
	}
	now := time.Now().UTC()
	j.Finished, j.Result = &now, res
	switch {
	case err == nil:
		j.State = tarn.JobSucceeded
	case ctx.Err() != nil || errors.Is(err, tarn.ErrClientGone):
		j.State = tarn.JobCancelled
		msg := cancelCause(ctx, err)
		if j.Kind != "query" {
			msg += "; nothing was published"
		}
		j.Error = &tarn.JobError{Code: tarn.ECANCELLED, Message: msg}
	default:
		j.State = tarn.JobFailed
		j.Error = &tarn.JobError{Code: tarn.ErrorCode(err), Message: tarn.CapMessage(err.Error())}
	}
	log(tarn.RunEvent{Kind: tarn.EventJob, State: j.State, Message: fmt.Sprintf("job %s %s", j.ID, j.State)})
	m.save(j)
}

// Track runs a short job (a query, an import) in the caller's goroutine
// and records it. The job ends with ctx: a caller that goes away cancels
// it, and so does CancelJob. A cancelled job's error has code ECANCELLED
// and says who or what cancelled it.
func (m *Manager) Track(ctx context.Context, spec tarn.JobSpec, do func(ctx context.Context) error) error {
	var doErr error
	spec.Do = func(jctx context.Context, _ func(tarn.RunEvent)) (*tarn.RunResult, error) {
		doErr = do(jctx)
		if doErr != nil && (jctx.Err() != nil || errors.Is(doErr, tarn.ErrClientGone)) {
			doErr = &tarn.Error{Code: tarn.ECANCELLED, Message: fmt.Sprintf("%s job %s was %s", spec.Kind, tarn.JobIDFromContext(jctx), cancelCause(jctx, doErr)), Err: doErr}
		}
		return nil, doErr
	}
	_, done, err := m.start(ctx, spec)
	if err != nil {
		return err
	}
	<-done
	return doErr
}

// SubmitRun starts a run as a job (only when Runs is set: a server).
func (m *Manager) SubmitRun(ctx context.Context, req tarn.RunRequest) (*tarn.Job, error) {
	if m.Runs == nil {
		return nil, tarn.Errorf(tarn.EINVALID, "--detach needs a server: set TARN_ENDPOINT or --endpoint (tarn serve), or run without --detach")
	}
	j, _, err := m.Start(ctx, tarn.JobSpec{Kind: "run", User: req.Author, Ref: req.Ref, Summary: "tarn run", Serial: true,
		Do: func(ctx context.Context, log func(tarn.RunEvent)) (*tarn.RunResult, error) {
			return m.Runs.Run(ctx, req, log)
		}})
	return j, err
}

// Recover marks jobs left queued or running by a process that died as
// failed. A run publishes by one atomic merge, so such a run published
// nothing. Call it only when no other server uses the home.
func (m *Manager) Recover(ctx context.Context) (int, error) {
	jobs, err := m.ListJobs(ctx)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, j := range jobs {
		if j.Done() {
			continue
		}
		now := time.Now().UTC()
		j.State, j.Finished = tarn.JobFailed, &now
		j.Error = &tarn.JobError{Code: tarn.EINTERNAL, Message: "the server stopped while this job ran; nothing was published (run it again)"}
		if err := m.save(j); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

// Prune removes the records and logs of ended jobs beyond the newest
// keep, and returns how many it removed.
func (m *Manager) Prune(ctx context.Context, keep int) (int, error) {
	jobs, err := m.ListJobs(ctx)
	if err != nil {
		return 0, err
	}
	n := 0
	for i, j := range jobs {
		if i < keep || !j.Done() {
			continue
		}
		if err := os.RemoveAll(filepath.Join(m.dir, j.ID)); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

// CancelAll cancels every job this process runs and waits for them.
func (m *Manager) CancelAll() {
	m.mu.Lock()
	for _, c := range m.active {
		c(errServerStopping)
	}
	m.mu.Unlock()
	m.wg.Wait()
}

// Wait waits for running jobs up to timeout, then cancels the rest.
func (m *Manager) Wait(timeout time.Duration) {
	done := make(chan struct{})
	go func() { m.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(timeout):
		m.CancelAll()
	}
}
