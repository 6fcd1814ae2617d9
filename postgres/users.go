package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/tarnhq/tarn/users"
)

const usersSchema = `
CREATE TABLE IF NOT EXISTS tarn_users (
	name text COLLATE "C" PRIMARY KEY,
	admin boolean NOT NULL,
	created timestamptz NOT NULL,
	expires timestamptz,
	token_sha256 text NOT NULL UNIQUE
);
`

// UserStore is a users.Store on PostgreSQL: every server on the database
// knows every user and token.
type UserStore struct{ handle }

var _ users.Store = (*UserStore)(nil)

// Users returns the user store of the database.
func (db *DB) Users() *UserStore { return &UserStore{newHandle(db)} }

// Add implements users.Store.
func (s *UserStore) Add(ctx context.Context, r users.Record) error {
	if err := s.usable(ctx); err != nil {
		return err
	}
	var expires *time.Time
	if !r.Expires.IsZero() {
		expires = &r.Expires
	}
	_, err := s.db.pool.Exec(ctx, `INSERT INTO tarn_users (name, admin, created, expires, token_sha256) VALUES ($1, $2, $3, $4, $5)`,
		r.Name, r.Admin, r.Created, expires, r.TokenHash)
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == "23505" && pe.ConstraintName == "tarn_users_pkey" {
		return users.Exists(r.Name)
	}
	return s.db.fail("add user "+r.Name, err)
}

// List implements users.Store.
func (s *UserStore) List(ctx context.Context) ([]users.Record, error) {
	return s.query(ctx, "list users", `SELECT name, admin, created, expires, token_sha256 FROM tarn_users ORDER BY name`)
}

// ByTokenHash implements users.Store.
func (s *UserStore) ByTokenHash(ctx context.Context, h string) (*users.Record, error) {
	found, err := s.query(ctx, "check a token", `SELECT name, admin, created, expires, token_sha256 FROM tarn_users WHERE token_sha256 = $1`, h)
	if err != nil {
		return nil, err
	}
	if len(found) == 0 {
		return nil, users.ErrNotFound
	}
	return &found[0], nil
}

// Remove implements users.Store. It locks the user and every admin in
// one statement, in name order (so two removals cannot deadlock), then
// decides: two servers removing the last two admins at once cannot both
// succeed (the second sees the first's delete once its lock is granted).
func (s *UserStore) Remove(ctx context.Context, name string) error {
	if err := s.usable(ctx); err != nil {
		return err
	}
	what := "remove user " + name
	tx, err := s.db.pool.Begin(ctx)
	if err != nil {
		return s.db.fail(what, err)
	}
	defer tx.Rollback(ctx)
	rows, err := tx.Query(ctx, `SELECT name, admin FROM tarn_users WHERE admin OR name = $1 ORDER BY name FOR UPDATE`, name)
	if err != nil {
		return s.db.fail(what, err)
	}
	type row struct {
		Name  string
		Admin bool
	}
	locked, err := pgx.CollectRows(rows, pgx.RowToStructByPos[row])
	if err != nil {
		return s.db.fail(what, err)
	}
	found, admins := false, 0
	var isAdmin bool
	for _, r := range locked {
		if r.Admin {
			admins++
		}
		if r.Name == name {
			found, isAdmin = true, r.Admin
		}
	}
	if !found {
		return users.NotFound(name)
	}
	if isAdmin && admins <= 1 {
		return users.LastAdmin(name)
	}
	if _, err := tx.Exec(ctx, `DELETE FROM tarn_users WHERE name = $1`, name); err != nil {
		return s.db.fail(what, err)
	}
	return s.db.fail(what, tx.Commit(ctx))
}

// SetTokenHash implements users.Store.
func (s *UserStore) SetTokenHash(ctx context.Context, name, h string) error {
	if err := s.usable(ctx); err != nil {
		return err
	}
	tag, err := s.db.pool.Exec(ctx, `UPDATE tarn_users SET token_sha256 = $2 WHERE name = $1`, name, h)
	if err != nil {
		return s.db.fail("new token for user "+name, err)
	}
	if tag.RowsAffected() == 0 {
		return users.NotFound(name)
	}
	return nil
}

func (s *UserStore) query(ctx context.Context, what, sql string, args ...any) ([]users.Record, error) {
	if err := s.usable(ctx); err != nil {
		return nil, err
	}
	rows, err := s.db.pool.Query(ctx, sql, args...)
	if err != nil {
		return nil, s.db.fail(what, err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (users.Record, error) {
		var r users.Record
		var expires *time.Time
		err := row.Scan(&r.Name, &r.Admin, &r.Created, &expires, &r.TokenHash)
		r.Created = r.Created.UTC()
		if expires != nil {
			r.Expires = expires.UTC()
		}
		return r, err
	})
	if out == nil && err == nil {
		out = []users.Record{}
	}
	return out, s.db.fail(what, err)
}
