//go:build integration

package postgres_test

import (
	"context"
	"net/url"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/tarnhq/tarn/internal/pgtest"
	"github.com/tarnhq/tarn/postgres"
)

// testDSN returns the URL of a fresh schema in the test database,
// dropped when the test ends.
func testDSN(t testing.TB) string {
	t.Helper()
	dsn := pgtest.URL(t)
	u, _ := url.Parse(dsn)
	schema := u.Query().Get("search_path")
	t.Cleanup(func() {
		conn, err := pgx.Connect(context.Background(), pgtest.Base(t))
		if err != nil {
			t.Logf("drop schema %s: %v", schema, err)
			return
		}
		defer conn.Close(context.Background())
		conn.Exec(context.Background(), `DROP SCHEMA IF EXISTS `+pgx.Identifier{schema}.Sanitize()+` CASCADE`)
	})
	return dsn
}

// openDB opens a fresh database for one test, closed when it ends.
func openDB(t testing.TB) *postgres.DB {
	t.Helper()
	db, err := postgres.Open(context.Background(), testDSN(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}
