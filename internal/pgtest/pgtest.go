// Package pgtest gives tests a PostgreSQL database of their own: a fresh
// schema (tarn creates it on first use) in the database that
// $TARN_TEST_POSTGRES names. scripts/postgres.sh starts that database and
// scripts/test.sh sets the variable for the integration tier; a test that
// asks for a database without it fails, saying how to start one.
package pgtest

import (
	"fmt"
	"net/url"
	"os"
	"sync/atomic"
	"testing"
	"time"
)

// Env is the variable that names the test database.
const Env = "TARN_TEST_POSTGRES"

var n atomic.Int64

// Base returns the test database's URL.
func Base(t testing.TB) string {
	t.Helper()
	base := os.Getenv(Env)
	if base == "" {
		t.Fatalf("%s is not set: start a database with scripts/postgres.sh start and export %s=$(scripts/postgres.sh dsn)", Env, Env)
	}
	return base
}

// URL returns the URL of a fresh schema in the test database, for one
// lakehouse. The schemas go with the cluster (scripts/postgres.sh stop).
func URL(t testing.TB) string {
	t.Helper()
	u, err := url.Parse(Base(t))
	if err != nil {
		t.Fatalf("%s: %v", Env, err)
	}
	q := u.Query()
	q.Set("search_path", Schema())
	u.RawQuery = q.Encode()
	return u.String()
}

// Schema returns a fresh schema name.
func Schema() string {
	return fmt.Sprintf("t_%d_%d_%d", time.Now().UnixNano(), os.Getpid(), n.Add(1))
}
