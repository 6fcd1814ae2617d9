package tarn

import (
	"context"
	"errors"
)

// JobSpec describes work to run as a job (JobRunner.Start, Track).
type JobSpec struct {
	Kind, User, Ref, Summary string
	// Input is the work of a job started with Start, as data: the
	// runner's handler for Kind (JobRunner.Handle) does it, on whichever
	// server takes the job from the queue.
	Input []byte
	// Slots, when set, is a semaphore a tracked job waits on (queued, in
	// arrival order) before it runs: a server's limit on queries at once.
	Slots chan struct{}
	// Cleanup is a folder removed when the job ends (an uploaded project).
	Cleanup string
}

// JobWork does a job from its input; log appends an event to the job's
// log. Its result is the job's (a run's). The context ends when the job
// is cancelled, from any server, or its runner stops.
type JobWork func(ctx context.Context, input []byte, log func(RunEvent)) (*RunResult, error)

// JobRunner records and runs jobs: the JobService, and the work a server
// turns into jobs (runs, queries, imports). Implementation: package jobs
// (records, logs and the queue in a jobs.Store: a home's folder, or a
// database several servers share).
type JobRunner interface {
	JobService
	// CancelJobAs cancels a job on behalf of user, who is named in the
	// job's error (ENOTFOUND, ECONFLICT when it has ended). It reaches the
	// job on whichever server runs it.
	CancelJobAs(ctx context.Context, id, user string) (*Job, error)
	// Handle says how this runner does the jobs of kind that Start
	// queues; a runner takes such jobs once it knows how.
	Handle(kind string, work JobWork)
	// Start records a job and queues it: a runner with a handler for
	// spec.Kind and a free run slot (this one or, on a shared store, any
	// server's) does it with spec.Input, in arrival order. The job's
	// context is not ctx: a caller that goes away does not stop it (a
	// job ends by itself, by CancelJob or when its runner stops).
	Start(ctx context.Context, spec JobSpec) (*Job, error)
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
