package postgres

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/tarnhq/tarn"
	"github.com/tarnhq/tarn/catalog"
)

// schemaVersion is written to tarn_meta; Open refuses other versions.
const schemaVersion = "1"

// migrationLock is the advisory lock key that serializes schema creation
// by servers starting at once ("tarn" in ASCII).
const migrationLock = 0x7461726e

// ErrClosed is returned by every method of a store after its Close.
var ErrClosed = errors.New("postgres store is closed")

// DB is the PostgreSQL database of a lakehouse: the catalog, users, jobs
// and the run queue, in tables whose names start with tarn_ (in the
// schema the DSN's search_path names, created when absent). The stores
// made from it share its connections, which close when the DB and every
// store are closed.
type DB struct {
	pool  *pgxpool.Pool
	where string
	host  string
	user  string
	refs  atomic.Int32
	once  sync.Once
}

// IsURL reports whether s names a PostgreSQL database
// (postgres://... or postgresql://...).
func IsURL(s string) bool {
	return strings.HasPrefix(s, "postgres://") || strings.HasPrefix(s, "postgresql://")
}

// Redact returns dsn without its password, for messages and status lines.
func Redact(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil || u.User == nil {
		if err != nil {
			return "postgres://(unparsable URL)"
		}
		return dsn
	}
	if _, ok := u.User.Password(); ok {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	return u.String()
}

// Open connects to the database dsn names (a postgres:// URL; PG*
// environment variables such as PGPASSWORD fill what it leaves out),
// checks that it answers, and creates tarn's tables on first use (the
// first server on an empty database; later ones find them). It refuses a
// database whose tarn tables have another schema version.
func Open(ctx context.Context, dsn string) (*DB, error) {
	if !IsURL(dsn) {
		return nil, tarn.Errorf(tarn.EINVALID, "catalog %s is not a PostgreSQL URL: use postgres://USER:PASSWORD@HOST:PORT/DATABASE", tarn.Quote(Redact(dsn)))
	}
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, tarn.Errorf(tarn.EINVALID, "catalog URL %s: %v: use postgres://USER:PASSWORD@HOST:PORT/DATABASE", tarn.Quote(Redact(dsn)), unwrapAll(err))
	}
	if cfg.ConnConfig.ConnectTimeout == 0 {
		cfg.ConnConfig.ConnectTimeout = 5 * time.Second
	}
	if cfg.ConnConfig.RuntimeParams["application_name"] == "" {
		cfg.ConnConfig.RuntimeParams["application_name"] = "tarn"
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, tarn.Errorf(tarn.EINVALID, "catalog URL %s: %v", tarn.Quote(Redact(dsn)), unwrapAll(err))
	}
	db := &DB{pool: pool, host: fmt.Sprintf("%s:%d", cfg.ConnConfig.Host, cfg.ConnConfig.Port), user: cfg.ConnConfig.User}
	db.where = fmt.Sprintf("postgres://%s@%s/%s", cfg.ConnConfig.User, db.host, cfg.ConnConfig.Database)
	if sp := cfg.ConnConfig.RuntimeParams["search_path"]; sp != "" {
		db.where += "?search_path=" + url.QueryEscape(sp)
	}
	db.refs.Store(1)
	if err := db.fail("open the catalog database", pool.Ping(ctx)); err != nil {
		pool.Close()
		return nil, err
	}
	if err := db.migrate(ctx, cfg.ConnConfig.RuntimeParams["search_path"]); err != nil {
		pool.Close()
		return nil, err
	}
	return db, nil
}

// Where names the database without its password.
func (db *DB) Where() string { return db.where }

// Close releases the caller's handle on the database.
func (db *DB) Close() error {
	db.once.Do(db.release)
	return nil
}

func (db *DB) acquire() { db.refs.Add(1) }

func (db *DB) release() {
	if db.refs.Add(-1) == 0 {
		db.pool.Close()
	}
}

// Ping checks that the database answers (a server's /readyz).
func (db *DB) Ping(ctx context.Context) error {
	return db.fail("reach the database", db.pool.Ping(ctx))
}

const metaSchema = `
CREATE TABLE IF NOT EXISTS tarn_meta (key text PRIMARY KEY, value text NOT NULL);
`

// migrate creates the schema named by searchPath when it does not exist
// and tarn's tables in it, under an advisory lock: servers that start at
// once on an empty database do it once.
func (db *DB) migrate(ctx context.Context, searchPath string) error {
	return db.inTx(ctx, "create tarn's tables", func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(migrationLock)); err != nil {
			return err
		}
		var current *string
		if err := tx.QueryRow(ctx, `SELECT current_schema()`).Scan(&current); err != nil {
			return err
		}
		if current == nil {
			name := strings.TrimSpace(strings.Split(searchPath, ",")[0])
			if name == "" {
				return tarn.Errorf(tarn.EINVALID, "the catalog database %s has no schema to create tables in: set ?search_path=SCHEMA in --catalog", db.where)
			}
			if _, err := tx.Exec(ctx, `CREATE SCHEMA IF NOT EXISTS `+pgx.Identifier{strings.Trim(name, `"`)}.Sanitize()); err != nil {
				return err
			}
		}
		var exists bool
		if err := tx.QueryRow(ctx, `SELECT to_regclass('tarn_meta') IS NOT NULL`).Scan(&exists); err != nil {
			return err
		}
		if exists {
			var version string
			err := tx.QueryRow(ctx, `SELECT value FROM tarn_meta WHERE key = 'schema_version'`).Scan(&version)
			if err != nil && !errors.Is(err, pgx.ErrNoRows) {
				return err
			}
			if err == nil && version != schemaVersion {
				return tarn.Errorf(tarn.EINTERNAL, "the catalog database %s has tarn schema version %s; this tarn understands version %s: use a tarn of that version, or another database", db.where, version, schemaVersion)
			}
		}
		for _, ddl := range []string{metaSchema, catalogSchema, usersSchema, jobsSchema} {
			if _, err := tx.Exec(ctx, ddl); err != nil {
				return err
			}
		}
		_, err := tx.Exec(ctx, `INSERT INTO tarn_meta (key, value) VALUES ('schema_version', $1) ON CONFLICT (key) DO NOTHING`, schemaVersion)
		return err
	})
}

// Claim records value under key in the database's metadata unless the key
// has a value already, and returns the value in force: how servers agree
// on a setting the first of them chose (the warehouse of a lakehouse).
func (db *DB) Claim(ctx context.Context, key, value string) (string, error) {
	var got string
	err := db.pool.QueryRow(ctx, `INSERT INTO tarn_meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET key = EXCLUDED.key RETURNING value`,
		key, value).Scan(&got)
	return got, db.fail("read the lakehouse's settings", err)
}

// Setting returns the value recorded under key in the database's
// metadata (by Claim), and whether there is one.
func (db *DB) Setting(ctx context.Context, key string) (string, bool, error) {
	var got string
	err := db.pool.QueryRow(ctx, `SELECT value FROM tarn_meta WHERE key = $1`, key).Scan(&got)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", false, nil
	}
	return got, err == nil, db.fail("read the lakehouse's settings", err)
}

// inTx runs f in a transaction, again when PostgreSQL asks for a retry
// (a deadlock or a serialization failure), and commits it.
func (db *DB) inTx(ctx context.Context, what string, f func(tx pgx.Tx) error) error {
	for attempt := 1; ; attempt++ {
		err := db.tryTx(ctx, f)
		var pe *pgconn.PgError
		if attempt < 5 && errors.As(err, &pe) && (pe.Code == "40P01" || pe.Code == "40001") {
			continue
		}
		return db.fail(what, err)
	}
}

func (db *DB) tryTx(ctx context.Context, f func(tx pgx.Tx) error) error {
	tx, err := db.pool.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	if err := f(tx); err != nil {
		return err
	}
	return tx.Commit(ctx)
}

// fail turns a database error into one that says what tarn was doing,
// which database it could not use and what to do about it. Errors that
// are already tarn's, and the caller's own cancellations, pass as they
// are.
func (db *DB) fail(what string, err error) error {
	if err == nil {
		return nil
	}
	var te *tarn.Error
	if errors.As(err, &te) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, ErrClosed) ||
		errors.Is(err, catalog.ErrRefMoved) || errors.Is(err, catalog.ErrNotFound) {
		return err
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch {
		case pe.Code == "28P01" || pe.Code == "28000":
			return tarn.Errorf(tarn.EINTERNAL, "%s: PostgreSQL at %s refused user %q (%s): fix the user or password in --catalog (or `catalog:` in the home's config.yml, or PGPASSWORD)",
				what, db.host, db.user, pe.Message)
		case pe.Code == "3D000":
			return tarn.Errorf(tarn.EINTERNAL, "%s: %s (at %s): create it (createdb -O %s NAME) or fix the database name in --catalog", what, pe.Message, db.host, db.user)
		case pe.Code == "42501":
			return tarn.Errorf(tarn.EINTERNAL, "%s: user %q lacks a privilege in the catalog database %s (%s): grant it CREATE on the database or schema, or connect as its owner",
				what, db.user, db.where, pe.Message)
		case strings.HasPrefix(pe.Code, "08") || pe.Code == "57P01" || pe.Code == "57P03":
			return tarn.Errorf(tarn.EINTERNAL, "%s: the catalog database %s is not available (%s): check that PostgreSQL runs and accepts connections", what, db.where, pe.Message)
		}
		return fmt.Errorf("%s: catalog database %s: %w", what, db.where, err)
	}
	var ce *pgconn.ConnectError
	var ne net.Error
	if errors.As(err, &ce) || errors.As(err, &ne) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || pgconn.SafeToRetry(err) ||
		strings.Contains(err.Error(), "conn closed") {
		return tarn.Errorf(tarn.EINTERNAL, "%s: cannot reach PostgreSQL at %s (%v): check that it runs there and that --catalog (or `catalog:` in the home's config.yml) names the right host and port",
			what, db.host, unwrapAll(err))
	}
	return fmt.Errorf("%s: catalog database %s: %w", what, db.where, err)
}

// unwrapAll returns the cause of err that a user needs: PostgreSQL's own
// message, the network operation that failed, or the innermost error
// (pgx's wrappers repeat the connection parameters).
func unwrapAll(err error) error {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe
	}
	var oe *net.OpError
	if errors.As(err, &oe) {
		return oe
	}
	for next := errors.Unwrap(err); next != nil; next = errors.Unwrap(err) {
		err = next
	}
	return err
}

// handle is one store's share of a DB: closing it makes the store refuse
// calls and releases its share of the connections.
type handle struct {
	db     *DB
	closed atomic.Bool
}

func newHandle(db *DB) handle {
	db.acquire()
	return handle{db: db}
}

// usable checks that the store is open and ctx alive.
func (h *handle) usable(ctx context.Context) error {
	if h.closed.Load() {
		return ErrClosed
	}
	return ctx.Err()
}

// Close implements the stores' Close: later calls return ErrClosed.
func (h *handle) Close() error {
	if h.closed.CompareAndSwap(false, true) {
		h.db.release()
	}
	return nil
}
