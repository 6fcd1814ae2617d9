package jobs

import (
	"context"
	"errors"
	"time"

	"github.com/tarnhq/tarn"
)

// ErrNotHeld is what Store.Update returns when the runner no longer holds
// the job: its lease ran out and another runner ended it.
var ErrNotHeld = errors.New("the job is no longer held by this runner")

// Record is a job as a Store keeps it: the public record and what only
// runners see.
type Record struct {
	Job *tarn.Job
	// Input is a queued job's work as data, for the handler of its kind
	// on whichever runner takes it (Manager.Handle).
	Input []byte
	// Cleanup is a folder removed when the job ends (an uploaded project).
	Cleanup string
	// Owner is the runner that holds the job, "" while it waits in the
	// queue for any runner.
	Owner string
}

// Renewal is what Store.Renew learned of a runner's jobs.
type Renewal struct {
	// Cancel has the jobs whose cancellation was asked, with who asked
	// ("cancelled by ann (`tarn job cancel`)").
	Cancel map[string]string
	// Lost has the jobs the runner no longer holds (ended by another).
	Lost []string
}

// ExpireOptions say which held jobs Store.Expire ends, and how.
type ExpireOptions struct {
	// Message is the error the jobs end failed with.
	Message string
	// Abandoned ends every held job whose owner is not Except, its lease
	// run out or not: for a store only one runner uses, when that runner
	// starts (the jobs of its previous life).
	Abandoned bool
	// Except is the runner whose jobs Abandoned spares.
	Except string
}

// Store keeps job records and logs, and the queue of jobs that wait for
// a runner. Implementations: FileStore (a folder, for one server) and
// postgres.JobStore (several servers on one database); jobstest is their
// conformance suite.
//
// A job is held by at most one runner (its owner) under a lease the
// owner renews; a runner that stops renewing loses its jobs to whichever
// runner calls Expire after the lease has run out.
type Store interface {
	// Create stores a new job. A record with an Owner is held by it from
	// the start, for lease; one without waits in the queue. EEXISTS when
	// the id is taken.
	Create(ctx context.Context, r *Record, lease time.Duration) error
	// Get returns a job (ENOTFOUND, as tarn.JobNotFound).
	Get(ctx context.Context, id string) (*tarn.Job, error)
	// List returns every job, newest first.
	List(ctx context.Context) ([]*tarn.Job, error)
	// Claim hands owner the oldest queued job of one of kinds, now
	// running (Started set) and held for lease, or nil when none waits.
	// Two claims never get one job.
	Claim(ctx context.Context, owner string, kinds []string, lease time.Duration) (*Record, error)
	// Renew extends owner's leases on ids by lease and reports which of
	// them were asked to cancel and which owner no longer holds.
	Renew(ctx context.Context, owner string, ids []string, lease time.Duration) (*Renewal, error)
	// Update saves the state of a job owner holds; a job that has ended
	// is held no more. ErrNotHeld when owner does not hold it.
	Update(ctx context.Context, owner string, j *tarn.Job) error
	// Cancel asks for the end of a job, why saying who asked. A job in
	// the queue is handed to owner (who ends it: the record returned has
	// Owner == owner); a held one gets the request, which its owner sees
	// at its next Renew. ECONFLICT when the job has ended, ENOTFOUND when
	// there is none.
	Cancel(ctx context.Context, id, owner, why string, lease time.Duration) (*Record, error)
	// Expire ends as failed every held job whose lease has run out (or,
	// with Abandoned, every job held by another runner) and returns them.
	Expire(ctx context.Context, opts ExpireOptions) ([]*Record, error)
	// AppendLog adds whole lines (NDJSON events) to a job's log.
	AppendLog(ctx context.Context, id string, lines []byte) error
	// ReadLog returns the whole lines of a job's log after cursor (0: the
	// start) and the cursor after them.
	ReadLog(ctx context.Context, id string, cursor int64) ([]byte, int64, error)
	// Cleanups returns the cleanup folders of the jobs that have not
	// ended (the uploads queued runs will read), which a server's sweep
	// of its scratch folders keeps.
	Cleanups(ctx context.Context) ([]string, error)
	// Prune removes the records and logs of ended jobs beyond the newest
	// keep and returns how many it removed.
	Prune(ctx context.Context, keep int) (int, error)
	// Close releases the store.
	Close() error
}

// validID reports whether id can be a job's (they look like
// j20260101-120000-abcdef).
func validID(id string) bool {
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

// NotFound is the error for an id no job has; a malformed id says what
// ids look like.
func NotFound(id string) error {
	if !validID(id) {
		return tarn.Errorf(tarn.ENOTFOUND, "job %s not found: job ids look like j20260101-120000-abcdef (`tarn job ls`)", tarn.Quote(id)).About(tarn.ResourceJob)
	}
	return tarn.JobNotFound(id)
}

// Ended is the error for cancelling a job that has ended.
func Ended(j *tarn.Job) error {
	return tarn.Errorf(tarn.ECONFLICT, "job %s has already ended (%s): nothing to cancel", j.ID, j.State)
}

// MarkExpired ends j failed with message: what Store.Expire does to a job.
func MarkExpired(j *tarn.Job, message string) {
	now := time.Now().UTC()
	j.State, j.Finished = tarn.JobFailed, &now
	j.Error = &tarn.JobError{Code: tarn.EINTERNAL, Message: message}
}

// MarkRunning marks j running from now: what Store.Claim does to a job.
func MarkRunning(j *tarn.Job) {
	now := time.Now().UTC()
	j.State, j.Started = tarn.JobRunning, &now
}
