package postgres

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
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
CREATE OR REPLACE FUNCTION tarn_expect_one(n bigint, ref text) RETURNS int LANGUAGE plpgsql AS $$
BEGIN
	IF n <> 1 THEN
		RAISE EXCEPTION 'ref % moved', ref USING ERRCODE = '` + refMoved + `';
	END IF;
	RETURN 1;
END $$;
`

// refMoved is the SQLSTATE tarn_expect_one raises: a compare-and-swap on a
// ref did not hold, which aborts the batch's transaction.
const refMoved = "TM001"

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
	if err := catalog.SetCommitColumns(&c, parents, props, ts); err != nil {
		return nil, err
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

// Apply implements catalog.Store: one implicit transaction, its
// statements sent in one round trip (a pipeline with one Sync). Objects
// and commits go in in hash order, so two batches that share some never
// wait on each other in a cycle; a ref update that finds the ref moved
// raises an error (tarn_expect_one), which rolls the whole batch back.
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
		parents, props, ts := catalog.CommitColumns(c)
		batch.Queue(`INSERT INTO tarn_commits (hash, parents, author, message, time, properties, tree, generation)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (hash) DO NOTHING`,
			c.Hash, parents, c.Author, c.Message, ts, props, c.Tree, c.Generation)
	}
	for _, u := range b.Refs {
		var change string
		args := []any{u.Name}
		switch {
		case u.Old == "":
			change = `INSERT INTO tarn_refs (name, kind, commit_hash) VALUES ($1, $2, $3) ON CONFLICT (name) DO NOTHING RETURNING 1`
			args = append(args, string(u.Kind), u.New)
		case u.New == "":
			change = `DELETE FROM tarn_refs WHERE name = $1 AND commit_hash = $2 RETURNING 1`
			args = append(args, u.Old)
		default:
			change = `UPDATE tarn_refs SET commit_hash = $3 WHERE name = $1 AND commit_hash = $2 RETURNING 1`
			args = append(args, u.Old, u.New)
		}
		batch.Queue(`WITH changed AS (`+change+`) SELECT tarn_expect_one((SELECT count(*) FROM changed), $1)`, args...)
	}
	for attempt := 1; ; attempt++ {
		err := s.db.pool.SendBatch(ctx, batch).Close()
		var pe *pgconn.PgError
		switch {
		case errors.As(err, &pe) && pe.Code == refMoved:
			return fmt.Errorf("%s: %w", pe.Message, catalog.ErrRefMoved)
		case errors.As(err, &pe) && (pe.Code == "40P01" || pe.Code == "40001") && attempt < 5:
			continue // a deadlock or serialization failure: nothing was stored
		}
		return s.db.fail("write to the catalog", err)
	}
}
