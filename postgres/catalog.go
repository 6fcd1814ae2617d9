package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/tarnhq/tarn"
	"github.com/tarnhq/tarn/catalog"
)

const catalogSchema = `
CREATE TABLE IF NOT EXISTS tarn_objects (hash text COLLATE "C" PRIMARY KEY, data bytea NOT NULL);
CREATE TABLE IF NOT EXISTS tarn_commits (
	hash text COLLATE "C" PRIMARY KEY,
	parents text NOT NULL,
	author text NOT NULL,
	message text NOT NULL,
	time text NOT NULL,
	properties text NOT NULL,
	tree text NOT NULL,
	generation bigint NOT NULL
);
CREATE TABLE IF NOT EXISTS tarn_refs (name text COLLATE "C" PRIMARY KEY, kind text NOT NULL, commit_hash text NOT NULL);
`

// CatalogStore is a catalog.Store on PostgreSQL, shared by every server
// and command that opens the same database. Objects and commits are
// immutable rows (inserted once); a ref moves only by a conditional
// UPDATE in the transaction of its batch, so of two servers moving one
// ref from the same commit exactly one wins and the other sees
// catalog.ErrRefMoved.
type CatalogStore struct{ handle }

var _ catalog.Store = (*CatalogStore)(nil)

// Catalog returns the catalog store of the database.
func (db *DB) Catalog() *CatalogStore { return &CatalogStore{newHandle(db)} }

// GetObject implements catalog.Store.
func (s *CatalogStore) GetObject(ctx context.Context, hash string) ([]byte, error) {
	if err := s.usable(ctx); err != nil {
		return nil, err
	}
	var data []byte
	err := s.db.pool.QueryRow(ctx, `SELECT data FROM tarn_objects WHERE hash = $1`, hash).Scan(&data)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("object %s: %w", hash, catalog.ErrNotFound)
	}
	return data, s.db.fail("read the catalog", err)
}

// GetCommit implements catalog.Store.
func (s *CatalogStore) GetCommit(ctx context.Context, hash string) (*tarn.Commit, error) {
	if err := s.usable(ctx); err != nil {
		return nil, err
	}
	var c tarn.Commit
	var parents, props, ts string
	err := s.db.pool.QueryRow(ctx,
		`SELECT hash, parents, author, message, time, properties, tree, generation FROM tarn_commits WHERE hash = $1`, hash).
		Scan(&c.Hash, &parents, &c.Author, &c.Message, &ts, &props, &c.Tree, &c.Generation)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("commit %s: %w", hash, catalog.ErrNotFound)
	}
	if err != nil {
		return nil, s.db.fail("read the catalog", err)
	}
	if err := json.Unmarshal([]byte(parents), &c.Parents); err != nil {
		return nil, fmt.Errorf("decode commit %s: %w", hash, err)
	}
	if err := json.Unmarshal([]byte(props), &c.Properties); err != nil {
		return nil, fmt.Errorf("decode commit %s: %w", hash, err)
	}
	if c.Time, err = time.Parse(time.RFC3339Nano, ts); err != nil {
		return nil, fmt.Errorf("decode commit %s: %w", hash, err)
	}
	return &c, nil
}

// FindCommits implements catalog.Store: hashes in ascending order; a
// negative limit means no limit.
func (s *CatalogStore) FindCommits(ctx context.Context, prefix string, limit int) ([]string, error) {
	if err := s.usable(ctx); err != nil {
		return nil, err
	}
	var lim *int
	if limit >= 0 {
		lim = &limit
	}
	// The range keeps the lookup on the index (C collation: byte order);
	// starts_with makes it exact for any prefix.
	rows, err := s.db.pool.Query(ctx, `SELECT hash FROM tarn_commits WHERE hash >= $1 AND hash < $2 AND starts_with(hash, $1) ORDER BY hash LIMIT $3`,
		prefix, prefix+"\U0010FFFF", lim)
	if err != nil {
		return nil, s.db.fail("read the catalog", err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	return out, s.db.fail("read the catalog", err)
}

// GetRef implements catalog.Store.
func (s *CatalogStore) GetRef(ctx context.Context, name string) (*tarn.Ref, error) {
	if err := s.usable(ctx); err != nil {
		return nil, err
	}
	var r tarn.Ref
	err := s.db.pool.QueryRow(ctx, `SELECT name, kind, commit_hash FROM tarn_refs WHERE name = $1`, name).Scan(&r.Name, &r.Kind, &r.Commit)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("ref %s: %w", name, catalog.ErrNotFound)
	}
	if err != nil {
		return nil, s.db.fail("read the catalog", err)
	}
	return &r, nil
}

// ListRefs implements catalog.Store.
func (s *CatalogStore) ListRefs(ctx context.Context, kind tarn.RefKind) ([]tarn.Ref, error) {
	if err := s.usable(ctx); err != nil {
		return nil, err
	}
	rows, err := s.db.pool.Query(ctx, `SELECT name, kind, commit_hash FROM tarn_refs WHERE $1 = '' OR kind = $1 ORDER BY name`, string(kind))
	if err != nil {
		return nil, s.db.fail("read the catalog", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (tarn.Ref, error) {
		var r tarn.Ref
		err := row.Scan(&r.Name, &r.Kind, &r.Commit)
		return r, err
	})
	return out, s.db.fail("read the catalog", err)
}

// Apply implements catalog.Store: one transaction, its statements sent
// in one round trip. Objects and commits go in in hash order, so two
// batches that share some never wait on each other in a cycle.
func (s *CatalogStore) Apply(ctx context.Context, b *catalog.Batch) error {
	if err := s.usable(ctx); err != nil {
		return err
	}
	for _, u := range b.Refs {
		if u.Old == "" && u.New == "" {
			return fmt.Errorf("update ref %s: neither an expected nor a new commit", u.Name)
		}
	}
	batch := &pgx.Batch{}
	for _, h := range slices.Sorted(maps.Keys(b.Objects)) {
		batch.Queue(`INSERT INTO tarn_objects (hash, data) VALUES ($1, $2) ON CONFLICT (hash) DO NOTHING`, h, b.Objects[h])
	}
	commits := slices.SortedFunc(slices.Values(b.Commits), func(x, y *tarn.Commit) int { return strings.Compare(x.Hash, y.Hash) })
	for _, c := range commits {
		parents, _ := json.Marshal(c.Parents)
		props, _ := json.Marshal(c.Properties)
		batch.Queue(`INSERT INTO tarn_commits (hash, parents, author, message, time, properties, tree, generation)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (hash) DO NOTHING`,
			c.Hash, string(parents), c.Author, c.Message, c.Time.UTC().Format(time.RFC3339Nano), string(props), c.Tree, c.Generation)
	}
	writes := batch.Len()
	for _, u := range b.Refs {
		switch {
		case u.Old == "":
			batch.Queue(`INSERT INTO tarn_refs (name, kind, commit_hash) VALUES ($1, $2, $3) ON CONFLICT (name) DO NOTHING`, u.Name, string(u.Kind), u.New)
		case u.New == "":
			batch.Queue(`DELETE FROM tarn_refs WHERE name = $1 AND commit_hash = $2`, u.Name, u.Old)
		default:
			batch.Queue(`UPDATE tarn_refs SET commit_hash = $1 WHERE name = $2 AND commit_hash = $3`, u.New, u.Name, u.Old)
		}
	}
	return s.db.inTx(ctx, "write to the catalog", func(tx pgx.Tx) error {
		results := tx.SendBatch(ctx, batch)
		defer results.Close()
		for i := range batch.Len() {
			tag, err := results.Exec()
			if err != nil {
				return err
			}
			if i >= writes && tag.RowsAffected() != 1 {
				return fmt.Errorf("ref %s: %w", b.Refs[i-writes].Name, catalog.ErrRefMoved)
			}
		}
		return results.Close()
	})
}
