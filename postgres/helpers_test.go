//go:build integration

package postgres_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/tarnhq/tarn/postgres"
)

// testDSN returns the URL of a fresh schema in the test database
// ($TARN_TEST_POSTGRES, set by scripts/test.sh from scripts/postgres.sh),
// dropped when the test ends.
func testDSN(t testing.TB) string {
	t.Helper()
	base := os.Getenv("TARN_TEST_POSTGRES")
	if base == "" {
		t.Fatal("TARN_TEST_POSTGRES is not set: start a database with scripts/postgres.sh start and export TARN_TEST_POSTGRES=$(scripts/postgres.sh dsn)")
	}
	b := make([]byte, 6)
	rand.Read(b)
	schema := "t_" + hex.EncodeToString(b)
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	t.Cleanup(func() {
		conn, err := pgx.Connect(context.Background(), base)
		if err != nil {
			t.Logf("drop schema %s: %v", schema, err)
			return
		}
		defer conn.Close(context.Background())
		conn.Exec(context.Background(), `DROP SCHEMA IF EXISTS `+schema+` CASCADE`)
	})
	return u.String()
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
