package postgres

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/tarnhq/tarn"
	"github.com/tarnhq/tarn/jobs"
)

const jobsSchema = `
CREATE TABLE IF NOT EXISTS tarn_jobs (
	id text COLLATE "C" PRIMARY KEY,
	kind text NOT NULL,
	state text NOT NULL,
	created timestamptz NOT NULL,
	owner text NOT NULL DEFAULT '',
	lease_until timestamptz,
	cancel text,
	input bytea,
	cleanup text NOT NULL DEFAULT '',
	job text NOT NULL
);
CREATE INDEX IF NOT EXISTS tarn_jobs_created ON tarn_jobs (created DESC, id DESC);
CREATE INDEX IF NOT EXISTS tarn_jobs_queue ON tarn_jobs (created, id) WHERE owner = '' AND state = 'queued';
CREATE INDEX IF NOT EXISTS tarn_jobs_held ON tarn_jobs (lease_until) WHERE owner <> '' AND state IN ('queued', 'running');
CREATE TABLE IF NOT EXISTS tarn_job_logs (
	job_id text COLLATE "C" NOT NULL REFERENCES tarn_jobs (id) ON DELETE CASCADE,
	seq bigserial,
	data bytea NOT NULL,
	PRIMARY KEY (job_id, seq)
);
`

// JobStore is a jobs.Store on PostgreSQL: job records, logs and the queue
// of runs shared by every server on the database. A run is claimed with
// SELECT ... FOR UPDATE SKIP LOCKED, so servers never take one job twice
// and never wait for each other; leases are kept in the database's clock.
// A job's log is appended by the server that holds it, a chunk a row.
type JobStore struct{ handle }

var _ jobs.Store = (*JobStore)(nil)

// Jobs returns the job store of the database.
func (db *DB) Jobs() *JobStore { return &JobStore{newHandle(db)} }

// leaseEnd is the SQL for now + lease, lease in seconds as parameter n.
func leaseEnd(n string) string { return `now() + $` + n + `::double precision * interval '1 second'` }

const unfinished = `state IN ('queued', 'running')`

func encodeJob(j *tarn.Job) string {
	b, _ := json.Marshal(j)
	return string(b)
}

func decodeJob(s string) (*tarn.Job, error) {
	var j tarn.Job
	if err := json.Unmarshal([]byte(s), &j); err != nil {
		return nil, tarn.Errorf(tarn.EINTERNAL, "a job record in the database is corrupt: %v", err)
	}
	return &j, nil
}

// Create implements jobs.Store.
func (s *JobStore) Create(ctx context.Context, r *jobs.Record, lease time.Duration) error {
	if err := s.usable(ctx); err != nil {
		return err
	}
	j := r.Job
	_, err := s.db.pool.Exec(ctx, `INSERT INTO tarn_jobs (id, kind, state, created, owner, lease_until, input, cleanup, job)
		VALUES ($1, $2, $3, $4, $5, CASE WHEN $5 <> '' THEN `+leaseEnd("6")+` END, $7, $8, $9)`,
		j.ID, j.Kind, j.State, j.Created, r.Owner, lease.Seconds(), r.Input, r.Cleanup, encodeJob(j))
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == "23505" {
		return tarn.Errorf(tarn.EEXISTS, "job %s exists", j.ID)
	}
	return s.db.fail("record job "+j.ID, err)
}

// Get implements jobs.Store.
func (s *JobStore) Get(ctx context.Context, id string) (*tarn.Job, error) {
	if err := s.usable(ctx); err != nil {
		return nil, err
	}
	var doc string
	err := s.db.pool.QueryRow(ctx, `SELECT job FROM tarn_jobs WHERE id = $1`, id).Scan(&doc)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, jobs.NotFound(id)
	}
	if err != nil {
		return nil, s.db.fail("read job "+tarn.Quote(id), err)
	}
	return decodeJob(doc)
}

// List implements jobs.Store.
func (s *JobStore) List(ctx context.Context) ([]*tarn.Job, error) {
	if err := s.usable(ctx); err != nil {
		return nil, err
	}
	rows, err := s.db.pool.Query(ctx, `SELECT job FROM tarn_jobs ORDER BY created DESC, id DESC`)
	if err != nil {
		return nil, s.db.fail("list jobs", err)
	}
	docs, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, s.db.fail("list jobs", err)
	}
	out := make([]*tarn.Job, 0, len(docs))
	for _, doc := range docs {
		j, err := decodeJob(doc)
		if err != nil {
			return nil, err
		}
		out = append(out, j)
	}
	return out, nil
}

// Claim implements jobs.Store: the oldest queued job no other claim has
// locked.
func (s *JobStore) Claim(ctx context.Context, owner string, kinds []string, lease time.Duration) (*jobs.Record, error) {
	if err := s.usable(ctx); err != nil {
		return nil, err
	}
	var out *jobs.Record
	err := s.db.inTx(ctx, "claim a queued job", func(tx pgx.Tx) error {
		out = nil
		var doc string
		r := &jobs.Record{Owner: owner}
		err := tx.QueryRow(ctx, `SELECT job, input, cleanup FROM tarn_jobs WHERE owner = '' AND state = 'queued' AND kind = ANY($1)
			ORDER BY created, id LIMIT 1 FOR UPDATE SKIP LOCKED`, kinds).Scan(&doc, &r.Input, &r.Cleanup)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		}
		if err != nil {
			return err
		}
		if r.Job, err = decodeJob(doc); err != nil {
			return err
		}
		jobs.MarkRunning(r.Job)
		if _, err := tx.Exec(ctx, `UPDATE tarn_jobs SET owner = $2, state = $3, lease_until = `+leaseEnd("4")+`, job = $5 WHERE id = $1`,
			r.Job.ID, owner, r.Job.State, lease.Seconds(), encodeJob(r.Job)); err != nil {
			return err
		}
		out = r
		return nil
	})
	return out, err
}

// Renew implements jobs.Store.
func (s *JobStore) Renew(ctx context.Context, owner string, ids []string, lease time.Duration) (*jobs.Renewal, error) {
	if err := s.usable(ctx); err != nil {
		return nil, err
	}
	rows, err := s.db.pool.Query(ctx, `UPDATE tarn_jobs SET lease_until = `+leaseEnd("3")+`
		WHERE owner = $1 AND id = ANY($2) AND `+unfinished+` RETURNING id, cancel`, owner, ids, lease.Seconds())
	if err != nil {
		return nil, s.db.fail("renew job leases", err)
	}
	out := &jobs.Renewal{Cancel: map[string]string{}}
	held := map[string]bool{}
	var id string
	var cancel *string
	_, err = pgx.ForEachRow(rows, []any{&id, &cancel}, func() error {
		held[id] = true
		if cancel != nil {
			out.Cancel[id] = *cancel
		}
		return nil
	})
	if err != nil {
		return nil, s.db.fail("renew job leases", err)
	}
	for _, id := range ids {
		if !held[id] {
			out.Lost = append(out.Lost, id)
		}
	}
	return out, nil
}

// Update implements jobs.Store.
func (s *JobStore) Update(ctx context.Context, owner string, j *tarn.Job) error {
	if err := s.usable(ctx); err != nil {
		return err
	}
	tag, err := s.db.pool.Exec(ctx, `UPDATE tarn_jobs SET state = $3, job = $4 WHERE id = $1 AND owner = $2 AND `+unfinished,
		j.ID, owner, j.State, encodeJob(j))
	if err != nil {
		return s.db.fail("record job "+j.ID, err)
	}
	if tag.RowsAffected() != 1 {
		return jobs.ErrNotHeld
	}
	return nil
}

// Cancel implements jobs.Store.
func (s *JobStore) Cancel(ctx context.Context, id, owner, why string, lease time.Duration) (*jobs.Record, error) {
	if err := s.usable(ctx); err != nil {
		return nil, err
	}
	var out *jobs.Record
	err := s.db.inTx(ctx, "cancel job "+tarn.Quote(id), func(tx pgx.Tx) error {
		var doc string
		r := &jobs.Record{}
		err := tx.QueryRow(ctx, `SELECT job, owner, input, cleanup FROM tarn_jobs WHERE id = $1 FOR UPDATE`, id).Scan(&doc, &r.Owner, &r.Input, &r.Cleanup)
		if errors.Is(err, pgx.ErrNoRows) {
			return jobs.NotFound(id)
		}
		if err != nil {
			return err
		}
		if r.Job, err = decodeJob(doc); err != nil {
			return err
		}
		if r.Job.Done() {
			return jobs.Ended(r.Job)
		}
		if r.Owner == "" {
			r.Owner = owner
			_, err = tx.Exec(ctx, `UPDATE tarn_jobs SET owner = $2, lease_until = `+leaseEnd("3")+` WHERE id = $1`, id, owner, lease.Seconds())
		} else {
			_, err = tx.Exec(ctx, `UPDATE tarn_jobs SET cancel = $2 WHERE id = $1`, id, why)
		}
		out = r
		return err
	})
	return out, err
}

// Expire implements jobs.Store.
func (s *JobStore) Expire(ctx context.Context, opts jobs.ExpireOptions) ([]*jobs.Record, error) {
	if err := s.usable(ctx); err != nil {
		return nil, err
	}
	var out []*jobs.Record
	err := s.db.inTx(ctx, "end the jobs of stopped servers", func(tx pgx.Tx) error {
		out = nil
		rows, err := tx.Query(ctx, `SELECT job, cleanup FROM tarn_jobs WHERE owner <> '' AND `+unfinished+`
			AND (CASE WHEN $1 THEN owner <> $2 ELSE lease_until < now() END) FOR UPDATE SKIP LOCKED`, opts.Abandoned, opts.Except)
		if err != nil {
			return err
		}
		var doc, cleanup string
		_, err = pgx.ForEachRow(rows, []any{&doc, &cleanup}, func() error {
			j, err := decodeJob(doc)
			if err != nil {
				return err
			}
			out = append(out, &jobs.Record{Job: j, Cleanup: cleanup})
			return nil
		})
		if err != nil {
			return err
		}
		for _, r := range out {
			jobs.MarkExpired(r.Job, opts.Message)
			if _, err := tx.Exec(ctx, `UPDATE tarn_jobs SET state = $2, job = $3 WHERE id = $1`, r.Job.ID, r.Job.State, encodeJob(r.Job)); err != nil {
				return err
			}
		}
		return nil
	})
	return out, err
}

// AppendLog implements jobs.Store.
func (s *JobStore) AppendLog(ctx context.Context, id string, lines []byte) error {
	if err := s.usable(ctx); err != nil {
		return err
	}
	_, err := s.db.pool.Exec(ctx, `INSERT INTO tarn_job_logs (job_id, data) VALUES ($1, $2)`, id, lines)
	return s.db.fail("write the log of job "+id, err)
}

// ReadLog implements jobs.Store: the cursor is the last chunk read.
func (s *JobStore) ReadLog(ctx context.Context, id string, cursor int64) ([]byte, int64, error) {
	if err := s.usable(ctx); err != nil {
		return nil, cursor, err
	}
	rows, err := s.db.pool.Query(ctx, `SELECT seq, data FROM tarn_job_logs WHERE job_id = $1 AND seq > $2 ORDER BY seq`, id, cursor)
	if err != nil {
		return nil, cursor, s.db.fail("read the log of job "+tarn.Quote(id), err)
	}
	var out bytes.Buffer
	var seq int64
	var data []byte
	_, err = pgx.ForEachRow(rows, []any{&seq, &data}, func() error {
		out.Write(data)
		cursor = seq
		return nil
	})
	return out.Bytes(), cursor, s.db.fail("read the log of job "+tarn.Quote(id), err)
}

// Cleanups implements jobs.Store.
func (s *JobStore) Cleanups(ctx context.Context) ([]string, error) {
	if err := s.usable(ctx); err != nil {
		return nil, err
	}
	rows, err := s.db.pool.Query(ctx, `SELECT cleanup FROM tarn_jobs WHERE cleanup <> '' AND `+unfinished)
	if err != nil {
		return nil, s.db.fail("list the uploads of queued jobs", err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	return out, s.db.fail("list the uploads of queued jobs", err)
}

// Prune implements jobs.Store.
func (s *JobStore) Prune(ctx context.Context, keep int) (int, error) {
	if err := s.usable(ctx); err != nil {
		return 0, err
	}
	tag, err := s.db.pool.Exec(ctx, `DELETE FROM tarn_jobs WHERE id IN (
		SELECT id FROM (SELECT id, state, row_number() OVER (ORDER BY created DESC, id DESC) AS n FROM tarn_jobs) ranked
		WHERE n > $1 AND state NOT IN ('queued', 'running'))`, keep)
	if err != nil {
		return 0, s.db.fail("prune jobs", err)
	}
	return int(tag.RowsAffected()), nil
}
