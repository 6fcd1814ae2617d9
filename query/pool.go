package query

import (
	"database/sql"
	"fmt"
	"os"
	"strings"

	"github.com/tarnhq/tarn"
)

// database is one DuckDB database of the pool, with the folder it spills
// to (Limits.TempDir), removed when it closes.
type database struct {
	*sql.DB
	tempDir string
}

func (d *database) close() error {
	err := d.DB.Close()
	if d.tempDir != "" {
		os.RemoveAll(d.tempDir)
	}
	return err
}

// acquire takes an idle database or opens one.
func (e *Engine) acquire() (*database, error) {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return nil, tarn.Errorf(tarn.EINTERNAL, "query engine is closed")
	}
	if n := len(e.idle); n > 0 {
		db := e.idle[n-1]
		e.idle = e.idle[:n-1]
		e.mu.Unlock()
		return db, nil
	}
	e.mu.Unlock()
	return e.newDB(e.opts.AllowedDirs)
}

// newDB opens a DuckDB database with the engine's settings, confined to
// allowed when that is set.
func (e *Engine) newDB(allowed []string) (*database, error) {
	sqlDB, err := sql.Open("duckdb", "")
	if err != nil {
		return nil, fmt.Errorf("open duckdb: %w", err)
	}
	db := &database{DB: sqlDB}
	lim := e.opts.Limits
	var settings []string
	if e.opts.Threads > 0 {
		settings = append(settings, fmt.Sprintf("SET threads = %d", e.opts.Threads))
	}
	if lim.Memory > 0 {
		settings = append(settings, fmt.Sprintf("SET memory_limit = '%dB'", lim.Memory))
	}
	if lim.TempDir != "" {
		if err := os.MkdirAll(lim.TempDir, 0o700); err == nil {
			db.tempDir, err = os.MkdirTemp(lim.TempDir, "db-")
		}
		if err != nil {
			sqlDB.Close()
			return nil, tarn.Errorf(tarn.EINTERNAL, "create a folder for DuckDB to spill to: %v", err)
		}
		settings = append(settings, "SET temp_directory = "+quoteString(db.tempDir))
	}
	if lim.Disk > 0 {
		settings = append(settings, fmt.Sprintf("SET max_temp_directory_size = '%dB'", lim.Disk))
	}
	if len(allowed) > 0 {
		dirs := make([]string, len(allowed))
		for i, d := range allowed {
			dirs[i] = quoteString(strings.TrimSuffix(d, "/") + "/")
		}
		settings = append(settings, "SET allowed_directories = ["+strings.Join(dirs, ", ")+"]", "SET enable_external_access = false")
	}
	for _, stmt := range settings {
		if _, err := db.Exec(stmt); err != nil {
			db.close()
			return nil, tarn.Errorf(tarn.EINVALID, "configure duckdb (%s): %v", stmt, err)
		}
	}
	return db, nil
}

// release returns a database to the pool, or closes it when the pool is
// full or closed.
func (e *Engine) release(db *database) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if !e.closed && len(e.idle) < e.opts.MaxIdle {
		e.idle = append(e.idle, db)
		return
	}
	go db.close()
}

func (e *Engine) discard(db *database) { go db.close() }
