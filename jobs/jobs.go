package jobs

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tarnhq/tarn"
)

// Options configure a Manager.
type Options struct {
	// Owner names this runner in the store (default: host, process id
	// and a random suffix, new for every process).
	Owner string
	// MaxRuns is how many queued jobs (runs) this runner executes at
	// once (default 1: each run already uses every core).
	MaxRuns int
	// Lease is how long the jobs this runner holds stay its own without
	// a renewal; after that another runner ends them as failed (default
	// 30s).
	Lease time.Duration
	// Poll is how often the runner claims queued jobs, renews its leases
	// and looks for cancellations (default Lease/20, at most 500ms).
	Poll time.Duration
	// Uploads removes the uploads jobs name as their Cleanup that are
	// not local folders (the projects of queued runs in the warehouse's
	// bucket). Unset, every Cleanup is a local folder.
	Uploads Uploads
	// Log gets the stack of a job whose work panicked (default
	// os.Stderr): the job fails with an internal error, the server goes
	// on.
	Log io.Writer
}

// Uploads holds uploads of jobs (Record.Cleanup) elsewhere than in a
// local folder: the projects of queued runs in the warehouse's bucket
// (table.RunUploads), which whichever runner ends the job removes.
type Uploads interface {
	// Owns reports whether location names one of its uploads.
	Owns(location string) bool
	// Remove removes the upload at location; one gone already is no
	// error.
	Remove(ctx context.Context, location string) error
}

// cleanupTimeout bounds the removal of an ended job's upload: one left
// behind by a store that does not answer is gc's to remove.
const cleanupTimeout = 30 * time.Second

// Manager records and runs jobs over a Store: it implements
// tarn.JobRunner. Runs started with Start wait in the store's queue
// until a runner with a free slot (this one, or on a shared store any
// server's) claims one and runs it with its handler for the job's kind;
// queries and imports (Track) run in the caller's goroutine. The jobs a
// runner holds are leased; a runner that stops renewing them (killed,
// or cut off from the store) loses them to another runner, which ends
// them as failed: a run publishes by one atomic merge, so such a run
// published nothing. Jobs are not retried.
//
// The background work (claims, renewals, cancellations, expiry) starts
// with the first Handle, Start or Track: a Manager used only to read
// jobs (a CLI command) never claims any.
type Manager struct {
	store Store
	opts  Options

	mu       sync.Mutex
	handlers map[string]tarn.JobWork
	active   map[string]*activeJob
	running  int // claimed jobs running now
	draining bool
	loopOnce sync.Once
	looping  atomic.Bool
	stop     chan struct{}
	stopped  chan struct{}
	wake     chan struct{}
	wg       sync.WaitGroup

	lastRenew time.Time
}

// activeJob is a job this runner holds.
type activeJob struct {
	cancel context.CancelCauseFunc
}

var _ tarn.JobRunner = (*Manager)(nil)

// New returns a manager of the jobs in store.
func New(store Store, opts Options) *Manager {
	if opts.Owner == "" {
		opts.Owner = NewOwner()
	}
	if opts.MaxRuns <= 0 {
		opts.MaxRuns = 1
	}
	if opts.Lease <= 0 {
		opts.Lease = 30 * time.Second
	}
	if opts.Poll <= 0 {
		opts.Poll = min(opts.Lease/20, 500*time.Millisecond)
	}
	if opts.Log == nil {
		opts.Log = os.Stderr
	}
	return &Manager{store: store, opts: opts, handlers: map[string]tarn.JobWork{}, active: map[string]*activeJob{},
		stop: make(chan struct{}), stopped: make(chan struct{}), wake: make(chan struct{}, 1)}
}

// Owner is the name of this runner in the store.
func (m *Manager) Owner() string { return m.opts.Owner }

// Store returns the manager's store.
func (m *Manager) Store() Store { return m.store }

// NewOwner names a new runner: HOST-PID-RANDOM, unique among the servers
// of a lakehouse and telling which process of which host it is.
func NewOwner() string {
	host, _ := os.Hostname()
	return fmt.Sprintf("%s-%d-%s", host, os.Getpid(), randomHex(3))
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func newJobID() string {
	return "j" + time.Now().UTC().Format("20060102-150405") + "-" + randomHex(3)
}

// create stores a new job under a fresh id (another if the id is taken).
func (m *Manager) create(ctx context.Context, r *Record) error {
	for attempt := 0; ; attempt++ {
		r.Job.ID = newJobID()
		err := m.store.Create(ctx, r, m.opts.Lease)
		if tarn.ErrorCode(err) != tarn.EEXISTS || attempt == 10 {
			return err
		}
	}
}

// GetJob reads a job record.
func (m *Manager) GetJob(ctx context.Context, id string) (*tarn.Job, error) {
	return m.store.Get(ctx, id)
}

// ListJobs lists jobs, newest first.
func (m *Manager) ListJobs(ctx context.Context) ([]*tarn.Job, error) { return m.store.List(ctx) }

// followPoll is how often a followed log is read again.
const followPoll = 50 * time.Millisecond

// JobLogs copies the job's events (NDJSON, one tarn.RunEvent a line, one
// line per Write) to w; with follow it keeps copying until the job has
// ended, wherever it runs.
func (m *Manager) JobLogs(ctx context.Context, id string, follow bool, w io.Writer) error {
	if _, err := m.store.Get(ctx, id); err != nil {
		return err
	}
	flush := func() {}
	if fl, ok := w.(interface{ Flush() }); ok {
		flush = fl.Flush
	}
	var cursor int64
	for {
		data, next, err := m.store.ReadLog(ctx, id, cursor)
		if err != nil {
			return err
		}
		cursor = next
		for len(data) > 0 {
			line, rest, _ := bytes.Cut(data, []byte{'\n'})
			if _, err := w.Write(append(line, '\n')); err != nil {
				return err
			}
			data = rest
		}
		flush()
		if !follow {
			return nil
		}
		j, err := m.store.Get(ctx, id)
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
		case <-time.After(followPoll):
		}
	}
}

// CancelJob cancels a job.
func (m *Manager) CancelJob(ctx context.Context, id string) (*tarn.Job, error) {
	return m.CancelJobAs(ctx, id, "")
}

// CancelJobAs cancels a job on behalf of user (named in the job's error;
// "" for nobody in particular), wherever it runs: a queued job ends at
// once; a running one is told through the store and ends when its runner
// has stopped its work (workers killed, nothing published). It waits
// for the end unless ctx ends first.
func (m *Manager) CancelJobAs(ctx context.Context, id, user string) (*tarn.Job, error) {
	by := "`tarn job cancel`"
	if user != "" {
		by = user + " (" + by + ")"
	}
	why := "cancelled by " + by
	r, err := m.store.Cancel(ctx, id, m.opts.Owner, why, m.opts.Lease)
	if err != nil {
		return nil, err
	}
	if r.Owner == m.opts.Owner && r.Job.State == tarn.JobQueued && !m.holds(id) {
		// Handed over from the queue: it never started.
		m.finish(ctx, r, newJobLog(m.store, id), nil, &cancelled{why: why}, " before it started")
		return r.Job, nil
	}
	m.mu.Lock()
	a := m.active[id]
	m.mu.Unlock()
	if a != nil {
		a.cancel(&cancelled{why: why})
	}
	j, expired := r.Job, time.Now()
	for !j.Done() {
		select {
		case <-ctx.Done():
			return j, nil
		case <-time.After(20 * time.Millisecond):
		}
		if j, err = m.store.Get(ctx, id); err != nil {
			return nil, err
		}
		if !j.Done() && a == nil && time.Since(expired) > m.opts.Lease/4 {
			m.expire(ctx) // a runner that died with the job loses it by its lease
			expired = time.Now()
		}
	}
	return j, nil
}

func (m *Manager) holds(id string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.active[id] != nil
}

// cancelled is why a job's context was cancelled.
type cancelled struct{ why string }

func (c *cancelled) Error() string { return c.why }

var (
	// errServerStopping cancels the jobs still running when a server stops.
	errServerStopping = &cancelled{why: "cancelled: the server stopped"}
	// errLeaseLost cancels a job this runner no longer holds.
	errLeaseLost = &cancelled{why: "cancelled: this server lost the job's lease (it could not reach the job store in time) and another server ended it"}
)

// cancelCause says why a job ended cancelled: who cancelled it, or that
// its client went away, or that the server stopped.
func cancelCause(ctx context.Context, err error) string {
	var c *cancelled
	if errors.As(context.Cause(ctx), &c) || errors.As(err, &c) {
		return c.why
	}
	return tarn.ErrClientGone.Error() // the caller's context ended (Track), or its stream broke
}

// Handle says how this runner does the jobs of kind that Start queues:
// once a handler is known, the runner claims such jobs when it has a
// free slot.
func (m *Manager) Handle(kind string, work tarn.JobWork) {
	m.mu.Lock()
	m.handlers[kind] = work
	m.mu.Unlock()
	m.startLoop()
	m.nudge()
}

// Start queues a job: a runner with a handler for spec.Kind and a free
// slot (of MaxRuns) takes it, in arrival order, and does it with
// spec.Input. The job's context is not the caller's: a client that goes
// away does not stop it.
func (m *Manager) Start(ctx context.Context, spec tarn.JobSpec) (*tarn.Job, error) {
	r := &Record{Job: &tarn.Job{Kind: spec.Kind, State: tarn.JobQueued, User: spec.User, Ref: spec.Ref, Summary: spec.Summary,
		Created: time.Now().UTC()}, Input: spec.Input, Cleanup: spec.Cleanup}
	if err := m.create(context.WithoutCancel(ctx), r); err != nil {
		return nil, err
	}
	m.startLoop()
	m.nudge()
	return r.Job, nil
}

// Track runs a short job (a query, an import) in the caller's goroutine
// and records it. The job ends with ctx: a caller that goes away cancels
// it, and so does CancelJob (from any server). A cancelled job's error
// has code ECANCELLED and says who or what cancelled it.
func (m *Manager) Track(ctx context.Context, spec tarn.JobSpec, do func(ctx context.Context) error) error {
	r := &Record{Job: &tarn.Job{Kind: spec.Kind, State: tarn.JobQueued, User: spec.User, Ref: spec.Ref, Summary: spec.Summary,
		Created: time.Now().UTC()}, Cleanup: spec.Cleanup, Owner: m.opts.Owner}
	if err := m.create(ctx, r); err != nil {
		return err
	}
	m.startLoop()
	jctx, done := m.hold(ctx, r.Job.ID)
	defer done()
	log := newJobLog(m.store, r.Job.ID)
	if slots := spec.Slots; slots != nil {
		select {
		case slots <- struct{}{}:
			defer func() { <-slots }()
		case <-jctx.Done():
		}
	}
	var doErr error
	if doErr = jctx.Err(); doErr == nil {
		now := time.Now().UTC()
		r.Job.State, r.Job.Started = tarn.JobRunning, &now
		m.store.Update(context.WithoutCancel(jctx), m.opts.Owner, r.Job)
		doErr = m.protect(r.Job, func() error { return do(tarn.WithJobID(jctx, r.Job.ID)) })
	}
	// Whether the job was cancelled is decided before finish records its
	// end: from then on the store no longer counts it as this runner's,
	// and a renewal racing with the end would take it for a lost lease.
	if doErr != nil && (jctx.Err() != nil || errors.Is(doErr, tarn.ErrClientGone)) {
		doErr = &tarn.Error{Code: tarn.ECANCELLED, Message: fmt.Sprintf("%s job %s was %s", spec.Kind, r.Job.ID, cancelCause(jctx, doErr)), Err: doErr}
	}
	m.finish(jctx, r, log, nil, doErr, "")
	return doErr
}

// hold makes a job this runner holds active: its context (ending with
// parent's, with a cancel request seen at a renewal, or when the runner
// stops) and the function that releases it.
func (m *Manager) hold(parent context.Context, id string) (context.Context, func()) {
	ctx, cancel := context.WithCancelCause(parent)
	m.mu.Lock()
	m.active[id] = &activeJob{cancel: cancel}
	m.mu.Unlock()
	m.wg.Add(1)
	return ctx, func() {
		m.mu.Lock()
		delete(m.active, id)
		m.mu.Unlock()
		cancel(nil)
		m.wg.Done()
	}
}

// finish records the end of a job this runner holds: its state from
// err, its final event in the log, then the record; when the store says
// another runner ended it meanwhile, that end stands. when says more of
// a cancellation ("before it started").
func (m *Manager) finish(ctx context.Context, r *Record, log *jobLog, res *tarn.RunResult, err error, when string) {
	j := r.Job
	now := time.Now().UTC()
	j.Finished, j.Result = &now, res
	switch {
	case err == nil:
		j.State = tarn.JobSucceeded
	case ctx.Err() != nil || errors.Is(err, tarn.ErrClientGone) || errors.As(err, new(*cancelled)):
		j.State = tarn.JobCancelled
		msg := cancelCause(ctx, err) + when
		if j.Kind != "query" {
			msg += "; nothing was published"
		}
		j.Error = &tarn.JobError{Code: tarn.ECANCELLED, Message: msg}
	default:
		j.State = tarn.JobFailed
		j.Error = &tarn.JobError{Code: tarn.ErrorCode(err), Message: tarn.CapMessage(err.Error())}
	}
	bg := context.WithoutCancel(ctx)
	log.event(tarn.RunEvent{Kind: tarn.EventJob, State: j.State, Message: fmt.Sprintf("job %s %s", j.ID, j.State)})
	log.close(bg)
	m.store.Update(bg, m.opts.Owner, j)
	m.cleanup(bg, r.Cleanup)
}

// cleanup removes the upload of an ended job: a local folder, or an
// object of Options.Uploads. A location this runner cannot reach (a URL
// no Uploads owns) is left for gc.
func (m *Manager) cleanup(ctx context.Context, location string) {
	switch u := m.opts.Uploads; {
	case location == "":
	case u != nil && u.Owns(location):
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
		defer cancel()
		u.Remove(ctx, location)
	case strings.Contains(location, "://"):
	default:
		os.RemoveAll(location)
	}
}

// startLoop starts the background work once.
func (m *Manager) startLoop() {
	m.loopOnce.Do(func() {
		m.mu.Lock()
		m.lastRenew = time.Now()
		m.mu.Unlock()
		m.looping.Store(true)
		go m.loop()
	})
}

// nudge makes the loop claim now (a job was queued or a slot freed).
func (m *Manager) nudge() {
	select {
	case m.wake <- struct{}{}:
	default:
	}
}

// loop claims queued jobs, renews leases and expires other runners' lost
// jobs until Close.
func (m *Manager) loop() {
	defer close(m.stopped)
	ctx := context.Background()
	tick := time.NewTicker(m.opts.Poll)
	defer tick.Stop()
	lastExpire := time.Time{}
	for {
		select {
		case <-m.stop:
			return
		case <-tick.C:
			m.renew(ctx)
		case <-m.wake:
		}
		m.claim(ctx)
		if time.Since(lastExpire) >= m.opts.Lease/4 {
			m.expire(ctx)
			lastExpire = time.Now()
		}
	}
}

// renew extends the leases of the jobs this runner holds and acts on
// what the store says: a cancel request cancels the job, a lost job is
// cancelled too. A runner that cannot renew for half the lease cancels
// its jobs itself, before another runner may end them.
func (m *Manager) renew(ctx context.Context) {
	m.mu.Lock()
	ids := make([]string, 0, len(m.active))
	for id := range m.active {
		ids = append(ids, id)
	}
	if len(ids) == 0 {
		m.lastRenew = time.Now()
	}
	m.mu.Unlock()
	if len(ids) == 0 {
		return
	}
	rctx, cancel := context.WithTimeout(ctx, m.opts.Lease/4)
	defer cancel()
	renewal, err := m.store.Renew(rctx, m.opts.Owner, ids, m.opts.Lease)
	m.mu.Lock()
	defer m.mu.Unlock()
	if err != nil {
		if time.Since(m.lastRenew) > m.opts.Lease/2 {
			for _, a := range m.active {
				a.cancel(errLeaseLost)
			}
		}
		return
	}
	m.lastRenew = time.Now()
	for id, why := range renewal.Cancel {
		if a := m.active[id]; a != nil {
			a.cancel(&cancelled{why: why})
		}
	}
	for _, id := range renewal.Lost {
		if a := m.active[id]; a != nil {
			a.cancel(errLeaseLost)
		}
	}
}

// claim takes queued jobs while this runner has free slots.
func (m *Manager) claim(ctx context.Context) {
	for {
		m.mu.Lock()
		kinds := make([]string, 0, len(m.handlers))
		for k := range m.handlers {
			kinds = append(kinds, k)
		}
		slices.Sort(kinds)
		free := !m.draining && m.running < m.opts.MaxRuns && len(kinds) > 0
		if free {
			m.running++
		}
		m.mu.Unlock()
		if !free {
			return
		}
		r, err := m.store.Claim(ctx, m.opts.Owner, kinds, m.opts.Lease)
		if err != nil || r == nil {
			m.mu.Lock()
			m.running--
			m.mu.Unlock()
			return
		}
		m.launch(r)
	}
}

// launch runs a claimed job in the background with its kind's handler.
func (m *Manager) launch(r *Record) {
	m.mu.Lock()
	work := m.handlers[r.Job.Kind]
	m.mu.Unlock()
	ctx, done := m.hold(context.Background(), r.Job.ID)
	go func() {
		defer func() {
			done()
			m.mu.Lock()
			m.running--
			m.mu.Unlock()
			m.nudge()
		}()
		log := newJobLog(m.store, r.Job.ID)
		var res *tarn.RunResult
		err := m.protect(r.Job, func() (err error) {
			res, err = work(tarn.WithJobID(ctx, r.Job.ID), r.Input, log.event)
			return err
		})
		m.finish(ctx, r, log, res, err, "")
	}()
}

// protect does a job's work, turning a panic in it into the job's error
// (its stack goes to Options.Log): a bug in the code of one job ends that
// job, not the server and every other job with it.
func (m *Manager) protect(j *tarn.Job, work func() error) (err error) {
	defer func() {
		v := recover()
		if v == nil {
			return
		}
		fmt.Fprintf(m.opts.Log, "%s %s job %s panicked: %v\n%s", time.Now().UTC().Format(time.RFC3339), j.Kind, j.ID, v, debug.Stack())
		err = &tarn.Error{Code: tarn.EINTERNAL, Message: fmt.Sprintf(
			"internal error: the %s job %s panicked: %v (a bug in tarn: please report it, with the server's log, which has the stack)", j.Kind, j.ID, v)}
	}()
	return work()
}

// expire ends, as failed, the jobs of runners whose leases ran out.
// Their uploads go with them: the dead runner cannot remove them.
func (m *Manager) expire(ctx context.Context) {
	ended, _ := m.store.Expire(ctx, ExpireOptions{Message: fmt.Sprintf(
		"the server running this job stopped renewing its lease (it was killed, or lost the job store) for over %s; nothing was published (run it again)", m.opts.Lease)})
	for _, r := range ended {
		m.cleanup(ctx, r.Cleanup)
	}
}

// Recover ends, as failed, every job a previous run of this server left
// held (queued jobs stay queued). Call it at the start of the only
// server on a store; servers sharing one find each other's dead jobs by
// their leases instead.
func (m *Manager) Recover(ctx context.Context) (int, error) {
	ended, err := m.store.Expire(ctx, ExpireOptions{Abandoned: true, Except: m.opts.Owner,
		Message: "the server stopped while this job ran; nothing was published (run it again)"})
	for _, r := range ended {
		m.cleanup(ctx, r.Cleanup)
	}
	return len(ended), err
}

// Prune removes the records and logs of ended jobs beyond the newest
// keep, and returns how many it removed.
func (m *Manager) Prune(ctx context.Context, keep int) (int, error) { return m.store.Prune(ctx, keep) }

// SubmitRun refuses: a run from files here is `tarn run`; a detached run
// goes through a server (which queues it with Start).
func (m *Manager) SubmitRun(ctx context.Context, req tarn.RunRequest) (*tarn.Job, error) {
	return nil, tarn.Errorf(tarn.EINVALID, "--detach needs a server: set TARN_ENDPOINT or --endpoint (tarn serve), or run without --detach")
}

// CancelAll cancels every job this runner holds and waits for them; it
// claims no more.
func (m *Manager) CancelAll() {
	m.mu.Lock()
	m.draining = true
	for _, a := range m.active {
		a.cancel(errServerStopping)
	}
	m.mu.Unlock()
	m.wg.Wait()
}

// Wait stops claiming, waits for the running jobs up to timeout, then
// cancels the rest; queued jobs stay queued for another runner. It then
// stops the background work.
func (m *Manager) Wait(timeout time.Duration) {
	m.mu.Lock()
	m.draining = true
	m.mu.Unlock()
	done := make(chan struct{})
	go func() { m.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(timeout):
		m.CancelAll()
	}
	m.Close()
}

// Close stops the background work (call it once no job runs).
func (m *Manager) Close() {
	m.mu.Lock()
	m.draining = true
	m.mu.Unlock()
	select {
	case <-m.stop:
	default:
		close(m.stop)
	}
	m.loopOnce.Do(func() {}) // no loop starts after Close
	if m.looping.Load() {
		<-m.stopped
	}
}
