package tarn

import (
	"context"
	"errors"
)

// JobSpec describes work to run as a job (JobRunner.Start, Track).
type JobSpec struct {
	Kind, User, Ref, Summary string
	// Serial jobs (runs) wait for the runner's run slot: one at a time.
	Serial bool
	// Slots, when set, is a semaphore the job waits on (queued, in
	// arrival order) before it runs: a server's limit on queries at once.
	// Serial jobs use the run slot instead.
	Slots chan struct{}
	// Cleanup is a folder removed when the job ends (an uploaded project).
	Cleanup string
	// Do is the work of a started job; log appends an event to the job's
	// log. Its result is the job's (a run's).
	Do func(ctx context.Context, log func(RunEvent)) (*RunResult, error)
}

// JobRunner records and runs jobs: the JobService, and the work a server
// turns into jobs (runs, queries, imports). Implementations: package jobs
// (records in a home, work in this process).
type JobRunner interface {
	JobService
	// CancelJobAs cancels a job on behalf of user, who is named in the
	// job's error (ENOTFOUND, ECONFLICT when it has ended).
	CancelJobAs(ctx context.Context, id, user string) (*Job, error)
	// Start records a job and runs spec.Do in the background. The job's
	// context is not ctx: a caller that goes away does not stop it (a
	// job ends by itself, by CancelJob or when the runner stops). done is
	// closed when the job has ended.
	Start(ctx context.Context, spec JobSpec) (job *Job, done <-chan struct{}, err error)
	// Track runs do as a recorded job in the caller's goroutine; the job
	// ends with ctx (a caller that goes away cancels it) or CancelJob. A
	// cancelled job's error has code ECANCELLED and says who or what
	// cancelled it.
	Track(ctx context.Context, spec JobSpec, do func(ctx context.Context) error) error
}

type jobIDKey struct{}

// WithJobID returns a context that carries the id of the job its work
// belongs to (set by a JobRunner).
func WithJobID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, jobIDKey{}, id)
}

// JobIDFromContext returns the id of the job whose work ctx belongs to
// ("" outside one).
func JobIDFromContext(ctx context.Context) string {
	id, _ := ctx.Value(jobIDKey{}).(string)
	return id
}

// ErrClientGone is what a job's work returns when its client went away
// (a result stream that cannot be written): the job ends cancelled.
var ErrClientGone = errors.New("cancelled: the client went away")

// JobNotFound is the error for a job that does not exist (or that the
// caller may not see: the two answer alike).
func JobNotFound(id string) error {
	return Errorf(ENOTFOUND, "job %s not found (`tarn job ls` lists jobs)", Quote(id)).About(ResourceJob)
}

// ProjectFile is the file that makes a folder a tarn project.
const ProjectFile = "tarn_project.yml"
