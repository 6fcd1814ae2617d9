package sqlstore

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"strings"

	"github.com/tarnhq/tarn"
	"github.com/tarnhq/tarn/catalog"
	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

// schemaVersion is written to tarn_meta; Open refuses other versions.
const schemaVersion = "1"

var _ catalog.Store = (*Store)(nil)

// Store is a catalog.Store on SQLite.
type Store struct {
	db   *sql.DB
	path string
}

const schema = `
CREATE TABLE IF NOT EXISTS tarn_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS objects (hash TEXT PRIMARY KEY, data BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS commits (
	hash TEXT PRIMARY KEY,
	parents TEXT NOT NULL,
	author TEXT NOT NULL,
	message TEXT NOT NULL,
	time TEXT NOT NULL,
	properties TEXT NOT NULL,
	tree TEXT NOT NULL,
	generation INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS refs (name TEXT PRIMARY KEY, kind TEXT NOT NULL, commit_hash TEXT NOT NULL);
`

// uriPath escapes a file path for an SQLite file: URI, in which "?"
// starts the parameters, "#" a fragment and "%" an escape (a home under
// a folder named like a Go subtest, "Test#00", put its catalog elsewhere).
func uriPath(path string) string {
	return strings.NewReplacer("%", "%25", "?", "%3F", "#", "%23").Replace(path)
}

// OpenSQLite opens (creating if absent) the catalog database at path.
func OpenSQLite(ctx context.Context, path string) (*Store, error) {
	fresh, err := checkFile(path)
	if err != nil {
		return nil, err
	}
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(30000)")
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous(FULL)")
	q.Set("_txlock", "immediate")
	db, err := sql.Open("sqlite", "file:"+uriPath(path)+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("open catalog database %s: %w", path, err)
	}
	s := &Store{db: db, path: path}
	if err := s.migrate(ctx, fresh); err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

// checkFile refuses a non-empty file that is not an SQLite database. It
// reports whether the file is new (absent or empty).
func checkFile(path string) (bool, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return true, nil
	}
	if err != nil {
		return false, fmt.Errorf("open catalog database: %w", err)
	}
	defer f.Close()
	header := make([]byte, 16)
	n, err := io.ReadFull(f, header)
	if n == 0 && (err == io.EOF) {
		return true, nil
	}
	if err != nil || !bytes.Equal(header, []byte("SQLite format 3\x00")) {
		return false, tarn.Errorf(tarn.EINTERNAL, "catalog database %s is corrupt or not a tarn catalog (bad file header); refusing to start and leaving it untouched: restore it from a backup or point --home elsewhere", path)
	}
	return false, nil
}

func (s *Store) migrate(ctx context.Context, fresh bool) error {
	corrupt := func(err error) error {
		return tarn.Errorf(tarn.EINTERNAL, "catalog database %s is unreadable (%v); refusing to start and leaving it untouched: restore it from a backup or point --home elsewhere", s.path, err)
	}
	if !fresh {
		var version string
		err := s.db.QueryRowContext(ctx, `SELECT value FROM tarn_meta WHERE key = 'schema_version'`).Scan(&version)
		if err != nil {
			if strings.Contains(err.Error(), "no such table") || errors.Is(err, sql.ErrNoRows) {
				var tables int
				if cerr := s.db.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_master`).Scan(&tables); cerr == nil && tables == 0 {
					return s.migrate(ctx, true) // created by a process that has not written its schema yet
				}
				return tarn.Errorf(tarn.EINTERNAL, "%s is an SQLite database but not a tarn catalog; refusing to use it", s.path)
			}
			return corrupt(err)
		}
		if version != schemaVersion {
			return tarn.Errorf(tarn.EINTERNAL, "catalog database %s has schema version %s; this tarn understands version %s", s.path, version, schemaVersion)
		}
		var check string
		if err := s.db.QueryRowContext(ctx, `PRAGMA quick_check(1)`).Scan(&check); err != nil {
			return corrupt(err)
		} else if check != "ok" {
			return corrupt(errors.New(check))
		}
		return nil
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("create catalog schema: %w", err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, schema); err != nil {
		return fmt.Errorf("create catalog schema: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT OR IGNORE INTO tarn_meta (key, value) VALUES ('schema_version', ?)`, schemaVersion); err != nil {
		return fmt.Errorf("create catalog schema: %w", err)
	}
	return tx.Commit()
}

// Close closes the database.
func (s *Store) Close() error { return s.db.Close() }

// GetObject implements catalog.Store.
func (s *Store) GetObject(ctx context.Context, hash string) ([]byte, error) {
	var data []byte
	err := s.db.QueryRowContext(ctx, `SELECT data FROM objects WHERE hash = ?`, hash).Scan(&data)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("object %s: %w", hash, catalog.ErrNotFound)
	}
	return data, err
}

// GetCommit implements catalog.Store.
func (s *Store) GetCommit(ctx context.Context, hash string) (*tarn.Commit, error) {
	var c tarn.Commit
	var parents, props, ts string
	err := s.db.QueryRowContext(ctx,
		`SELECT hash, parents, author, message, time, properties, tree, generation FROM commits WHERE hash = ?`, hash).
		Scan(&c.Hash, &parents, &c.Author, &c.Message, &ts, &props, &c.Tree, &c.Generation)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("commit %s: %w", hash, catalog.ErrNotFound)
	}
	if err != nil {
		return nil, err
	}
	if err := catalog.SetCommitColumns(&c, parents, props, ts); err != nil {
		return nil, err
	}
	return &c, nil
}

// FindCommits implements catalog.Store.
func (s *Store) FindCommits(ctx context.Context, prefix string, limit int) ([]string, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT hash FROM commits WHERE hash >= ? AND hash < ? ORDER BY hash LIMIT ?`,
		prefix, prefix+"\xff", limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var h string
		if err := rows.Scan(&h); err != nil {
			return nil, err
		}
		out = append(out, h)
	}
	return out, rows.Err()
}

// GetRef implements catalog.Store.
func (s *Store) GetRef(ctx context.Context, name string) (*tarn.Ref, error) {
	var r tarn.Ref
	err := s.db.QueryRowContext(ctx, `SELECT name, kind, commit_hash FROM refs WHERE name = ?`, name).Scan(&r.Name, &r.Kind, &r.Commit)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("ref %s: %w", name, catalog.ErrNotFound)
	}
	return &r, err
}

// ListRefs implements catalog.Store.
func (s *Store) ListRefs(ctx context.Context, kind tarn.RefKind) ([]tarn.Ref, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT name, kind, commit_hash FROM refs WHERE ? = '' OR kind = ? ORDER BY name`, string(kind), string(kind))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []tarn.Ref
	for rows.Next() {
		var r tarn.Ref
		if err := rows.Scan(&r.Name, &r.Kind, &r.Commit); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// Apply implements catalog.Store: one IMMEDIATE transaction.
func (s *Store) Apply(ctx context.Context, b *catalog.Batch) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer tx.Rollback()
	for h, data := range b.Objects {
		if _, err := tx.ExecContext(ctx, `INSERT OR IGNORE INTO objects (hash, data) VALUES (?, ?)`, h, data); err != nil {
			return fmt.Errorf("write object: %w", err)
		}
	}
	for _, c := range b.Commits {
		parents, props, ts := catalog.CommitColumns(c)
		if _, err := tx.ExecContext(ctx,
			`INSERT OR IGNORE INTO commits (hash, parents, author, message, time, properties, tree, generation) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
			c.Hash, parents, c.Author, c.Message, ts, props, c.Tree, c.Generation); err != nil {
			return fmt.Errorf("write commit: %w", err)
		}
	}
	for _, u := range b.Refs {
		var res sql.Result
		switch {
		case u.Old == "" && u.New == "":
			return fmt.Errorf("update ref %s: neither an expected nor a new commit", u.Name)
		case u.Old == "":
			res, err = tx.ExecContext(ctx, `INSERT OR IGNORE INTO refs (name, kind, commit_hash) VALUES (?, ?, ?)`, u.Name, string(u.Kind), u.New)
		case u.New == "":
			res, err = tx.ExecContext(ctx, `DELETE FROM refs WHERE name = ? AND commit_hash = ?`, u.Name, u.Old)
		default:
			res, err = tx.ExecContext(ctx, `UPDATE refs SET commit_hash = ? WHERE name = ? AND commit_hash = ?`, u.New, u.Name, u.Old)
		}
		if err != nil {
			return fmt.Errorf("update ref %s: %w", u.Name, err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return fmt.Errorf("update ref %s: %w", u.Name, err)
		} else if n != 1 {
			return fmt.Errorf("ref %s: %w", u.Name, catalog.ErrRefMoved)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}
