package query

import (
	"database/sql"
	"fmt"
	"sync"
)

// plannerDB is the process's DuckDB database for planning: parsing
// statements and evaluating the constants of their filters, which need
// no tables. It is started once, so a query's own database (a new one
// for a fresh engine) starts while its tables are planned and their
// files downloaded rather than before. It reads no file and runs on one
// thread: it is confined more strictly than any session's database, and
// evaluates only what planning gives it.
var plannerDB struct {
	once sync.Once
	db   *sql.DB
	err  error
}

// planner returns the planning database, starting it on first use.
func planner() (*sql.DB, error) {
	plannerDB.once.Do(func() {
		db, err := sql.Open("duckdb", "")
		if err != nil {
			plannerDB.err = fmt.Errorf("open duckdb: %w", err)
			return
		}
		for _, stmt := range []string{"SET threads = 1", "SET memory_limit = '256MB'", "SET enable_external_access = false"} {
			if _, err := db.Exec(stmt); err != nil {
				db.Close()
				plannerDB.err = fmt.Errorf("configure duckdb (%s): %w", stmt, err)
				return
			}
		}
		plannerDB.db = db
	})
	return plannerDB.db, plannerDB.err
}
