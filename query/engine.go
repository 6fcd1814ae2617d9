package query

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	_ "github.com/duckdb/duckdb-go/v2" // registers the "duckdb" database/sql driver
	"github.com/tarnhq/tarn"
	"github.com/tarnhq/tarn/table"
)

// Engine runs read-only SQL over the tables of any ref with embedded
// DuckDB. It is safe for concurrent use: each query runs on its own DuckDB
// database, taken from a small pool.
type Engine struct {
	tables *table.Service
	opts   Options

	mu     sync.Mutex
	idle   []*database
	closed bool
	cache  cache
}

// Options tune an Engine. The zero value is ready to use.
type Options struct {
	// MaxIdle is how many DuckDB databases are kept for reuse (default 2).
	MaxIdle int
	// Threads limits DuckDB's worker threads per query (default: all cores).
	Threads int
	// Limits bound what one query may use (default: none).
	Limits Limits
	// AllowedDirs, when set, confines DuckDB to these folders: reading
	// or writing any other file (read_csv('/etc/passwd'), COPY TO) fails.
	// A server sets it to the warehouse. CopyTo then runs on a database
	// of its own that may also use the folder of the file it writes, so
	// no other query can read that folder.
	AllowedDirs []string
}

// New returns an engine reading tables through tables.
func New(tables *table.Service, opts Options) *Engine {
	if opts.MaxIdle <= 0 {
		opts.MaxIdle = 2
	}
	return &Engine{tables: tables, opts: opts}
}

// Close releases the pooled DuckDB databases. Queries still running keep
// theirs until their results are closed.
func (e *Engine) Close() error {
	e.mu.Lock()
	idle := e.idle
	e.idle, e.closed = nil, true
	e.mu.Unlock()
	var errs []error
	for _, db := range idle {
		errs = append(errs, db.close())
	}
	return errors.Join(errs...)
}

// Request is one SQL statement to run at a ref.
type Request struct {
	// SQL is one SELECT statement (WITH, FROM-first, DESCRIBE, SUMMARIZE
	// and EXPLAIN [ANALYZE] of those included).
	SQL string
	// Ref is a branch, tag, commit or time ref (default "main").
	Ref string
	// Namespace is where unqualified table names resolve (default "tarn").
	Namespace string
	// MaxRows, when above 0, asks for a preview: only MaxRows+1 rows are
	// computed (kept in a DuckDB temp table), Records yields at most
	// MaxRows and Result.TotalRows is their count when that is the whole
	// result, -1 when there are more.
	MaxRows int
}

// Result is a running query's output. Close it when done: it holds a
// DuckDB database until then.
type Result struct {
	// Commit is the commit the ref resolved to; every table was read at it.
	Commit *tarn.Commit
	// Schema is the Arrow schema of Records.
	Schema *arrow.Schema
	// Columns are the result's names and DuckDB types.
	Columns []tarn.QueryColumn
	// Records streams the rows as Arrow record batches.
	Records array.RecordReader
	// Tables says how each referenced table was planned.
	Tables []tarn.QueryTableStats
	// TotalRows is the result's row count for a preview (Request.MaxRows)
	// that holds all of it, -1 otherwise.
	TotalRows int64
	// PlanTime is the time spent resolving the ref, parsing, planning the
	// tables' files and creating their views.
	PlanTime time.Duration
	// Phases divides PlanTime (benchmarks and diagnostics read it).
	Phases Phases

	release func()
	once    sync.Once
	stored  int64 // rows a preview stored in DuckDB
}

// Phases are the parts of a query's planning, in the order they run.
// A phase served by the engine's caches takes next to nothing.
type Phases struct {
	// Resolve is resolving the ref to a commit.
	Resolve time.Duration
	// Database is taking a DuckDB database from the pool, or starting
	// one, while Parse, Open and Plan run.
	Database time.Duration
	// Parse is parsing the statement (by DuckDB).
	Parse time.Duration
	// Open is opening the tables named: reading their metadata files.
	Open time.Duration
	// Plan is planning their scans: reading manifest lists and
	// manifests, and downloading the files of an object store
	// (Result.Tables says how long those downloads took).
	Plan time.Duration
	// Views is waiting for the database if it is not started yet,
	// pinning the files and creating the tables' views.
	Views time.Duration
}

// Close releases the result and the resources behind it. It is safe to
// call more than once.
func (r *Result) Close() error {
	r.once.Do(func() {
		if r.Records != nil {
			r.Records.Release()
		}
		if r.release != nil {
			r.release()
		}
	})
	return nil
}

// Run plans req at its ref and starts it. Errors carry tarn codes:
// EINVALID for syntax errors, writes and other bad SQL, ENOTFOUND for
// unknown refs and tables; a canceled context gives an error wrapping
// context.Canceled.
func (e *Engine) Run(ctx context.Context, req Request) (*Result, error) {
	started := time.Now()
	s, err := e.open(ctx, req, "")
	if err != nil {
		return nil, err
	}
	planTime := time.Since(started)
	res := &Result{Commit: s.commit, Tables: s.stats(), PlanTime: planTime, Phases: s.phases, TotalRows: -1}
	var rdr array.RecordReader
	stored := !s.explain && previewable[firstWord(s.sql)]
	switch {
	case req.MaxRows > 0 && stored:
		rdr, res.Columns, res.TotalRows, res.stored, err = s.preview(ctx, req.MaxRows)
	case e.opts.Limits.Memory > 0 && stored:
		rdr, res.Columns, err = s.pages(ctx)
	default:
		rdr, res.Columns, err = s.run(ctx, s.sql)
	}
	if err != nil {
		s.close()
		return nil, err
	}
	res.Schema = rdr.Schema()
	res.Records = &ctxReader{RecordReader: rdr, ctx: ctx, session: s, maxBytes: e.opts.Limits.Result}
	res.release = s.close
	return res, nil
}

// run starts a statement on the session's connection and reads its rows
// as Arrow.
func (s *session) run(ctx context.Context, sqlText string) (array.RecordReader, []tarn.QueryColumn, error) {
	rows, err := s.conn.QueryContext(ctx, sqlText)
	if err != nil {
		return nil, nil, s.execError(ctx, err)
	}
	rdr, cols, err := NewRecordReader(rows, 0)
	if err != nil {
		rows.Close()
		return nil, nil, s.execError(ctx, err)
	}
	return rdr, cols, nil
}

// previewable are the first words of statements a preview can store.
var previewable = map[string]bool{"SELECT": true, "WITH": true, "FROM": true, "VALUES": true, "TABLE": true}

// previewTable holds a preview's full result on the session's connection.
const previewTable = "temp.main.__tarn_result"

// preview stores the first n+1 rows of the statement's result (DuckDB
// stops reading once it has them: LIMIT ends its pipelines early and a
// sort keeps only the top rows) and reads the first n. The total is exact
// when the result has at most n rows, -1 when it has more: counting them
// would mean computing the whole result.
func (s *session) preview(ctx context.Context, n int) (rdr array.RecordReader, cols []tarn.QueryColumn, total, stored int64, err error) {
	names, err := s.storeLimit(ctx, int64(n)+1)
	if err != nil {
		return nil, nil, 0, 0, err
	}
	if err := s.conn.QueryRowContext(ctx, "SELECT count(*) FROM "+previewTable).Scan(&stored); err != nil {
		return nil, nil, 0, 0, s.execError(ctx, err)
	}
	total = stored
	if stored > int64(n) {
		total = -1
	}
	rdr, cols, err = s.run(ctx, fmt.Sprintf("SELECT %s FROM %s ORDER BY rowid LIMIT %d", storedColumns(names), previewTable, n))
	return rdr, cols, total, stored, err
}

// store runs the statement into a temp table (DuckDB's memory limit
// covers it, and it spills to disk) and returns the result's column
// names: CREATE TABLE renames duplicates, storedColumns puts them back.
func (s *session) store(ctx context.Context) ([]string, error) { return s.storeLimit(ctx, -1) }

// storeLimit is store of at most limit rows (all when limit < 0), in the
// statement's order.
func (s *session) storeLimit(ctx context.Context, limit int64) ([]string, error) {
	desc, err := s.conn.QueryContext(ctx, "DESCRIBE "+trimStatement(s.sql))
	if err != nil {
		return nil, s.execError(ctx, err)
	}
	var names []string
	for desc.Next() {
		vals := make([]any, 6)
		ptrs := make([]any, len(vals))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := desc.Scan(ptrs...); err != nil {
			desc.Close()
			return nil, s.execError(ctx, err)
		}
		name, _ := vals[0].(string)
		names = append(names, name)
	}
	desc.Close()
	body := trimStatement(s.sql)
	if limit >= 0 {
		body = fmt.Sprintf("SELECT * FROM (%s\n) LIMIT %d", body, limit)
	}
	if _, err := s.conn.ExecContext(ctx, "CREATE OR REPLACE TEMP TABLE __tarn_result AS "+body); err != nil {
		return nil, s.execError(ctx, err)
	}
	s.temp = true
	return names, nil
}

// storedColumns selects a stored result's columns by position with their
// original names.
func storedColumns(names []string) string {
	cols := make([]string, len(names))
	for i, name := range names {
		cols[i] = fmt.Sprintf("#%d AS %s", i+1, quoteIdent(name))
	}
	return strings.Join(cols, ", ")
}

// session is one query's DuckDB connection with the views of its tables.
type session struct {
	engine  *Engine
	db      *database
	conn    *sql.Conn
	req     Request
	commit  *tarn.Commit
	sql     string
	tables  []*boundTable
	fetched map[*boundTable]table.ScanPlan // the downloads of the plans this session made
	holds   []func()                       // pins on the plans' cached copies of remote files
	schemas []string
	explain bool         // the statement is EXPLAIN [ANALYZE] ...
	temp    bool         // a preview table exists
	own     bool         // db is the session's own, closed with it
	ready   chan dbReady // the database being started, until await
	dbErr   error        // why it could not start
	phases  Phases
	once    sync.Once
}

// open resolves the ref, parses and plans the statement, and prepares a
// connection whose views show the ref's tables. With writeDir, a
// confined engine opens a database of its own that may also use that
// folder (CopyTo), closed with the session.
func (e *Engine) open(ctx context.Context, req Request, writeDir string) (*session, error) {
	if req.Ref == "" {
		req.Ref = tarn.DefaultBranch
	}
	if req.Namespace == "" {
		req.Namespace = tarn.DefaultNamespace
	}
	if isBlank(req.SQL) {
		return nil, tarn.Errorf(tarn.EINVALID, "the SQL is empty: give one SELECT statement")
	}
	started := time.Now()
	commit, err := e.tables.Catalog().Resolve(ctx, req.Ref)
	if err != nil {
		return nil, err
	}
	s := &session{engine: e, req: req, commit: commit, own: writeDir != "" && len(e.opts.AllowedDirs) > 0}
	s.phases.Resolve = time.Since(started)
	// DuckDB starts while the tables' metadata is read and their files
	// downloaded: planning parses and evaluates constants on the
	// process's planner database (see planner), and the session's own
	// database is needed only for the views.
	s.ready = make(chan dbReady, 1)
	go func() {
		started := time.Now()
		var r dbReady
		if s.own {
			r.db, r.err = e.newDB(append(slices.Clip(e.opts.AllowedDirs), writeDir))
		} else {
			r.db, r.err = e.acquire()
		}
		if r.err == nil {
			if r.conn, r.err = r.db.Conn(ctx); r.err != nil {
				e.discard(r.db)
				r.db, r.err = nil, fmt.Errorf("open duckdb connection: %w", r.err)
			}
		}
		r.took = time.Since(started)
		s.ready <- r
	}()
	if err := s.prepare(ctx); err != nil {
		s.close()
		return nil, err
	}
	return s, nil
}

// dbReady is the session's database once started.
type dbReady struct {
	db   *database
	conn *sql.Conn
	err  error
	took time.Duration
}

// await waits for the session's database and connection.
func (s *session) await() error {
	if s.ready != nil {
		r := <-s.ready
		s.ready = nil
		s.db, s.conn, s.dbErr = r.db, r.conn, r.err
		s.phases.Database = r.took
	}
	return s.dbErr
}

// close drops the session's views and returns its database to the pool.
func (s *session) close() {
	s.once.Do(func() {
		defer func() {
			for _, release := range s.holds {
				release()
			}
		}()
		if s.await() != nil {
			return // no database started
		}
		ctx := context.Background()
		var b strings.Builder
		if s.temp {
			b.WriteString("DROP TABLE IF EXISTS " + previewTable + ";\n")
		}
		for _, schema := range s.schemas {
			b.WriteString("DROP SCHEMA IF EXISTS " + quoteIdent(schema) + " CASCADE;\n")
		}
		b.WriteString("RESET search_path;")
		_, err := s.conn.ExecContext(ctx, b.String())
		ok := err == nil && !s.own
		if err := s.conn.Close(); err != nil {
			ok = false
		}
		if ok {
			s.engine.release(s.db)
		} else {
			s.engine.discard(s.db)
		}
	})
}

func (s *session) stats() []tarn.QueryTableStats {
	out := make([]tarn.QueryTableStats, 0, len(s.tables))
	for _, t := range s.tables {
		d := s.fetched[t]
		out = append(out, tarn.QueryTableStats{Table: t.ident, Snapshot: t.plan.Snapshot, FilesTotal: t.plan.TotalFiles,
			FilesPlanned: len(t.plan.Files), FilesSkipped: t.plan.TotalFiles - len(t.plan.Files), Filter: t.plan.Filter,
			DownloadedFiles: d.Downloaded, DownloadedBytes: d.DownloadedBytes, DownloadedSeconds: d.DownloadSeconds})
	}
	return out
}

// cache keeps what is immutable once written: a commit's catalog entries,
// a table opened at a commit, a table's plan for a filter, and a planned
// statement. A moving
// branch resolves to a new commit and so misses.
type cache struct {
	mu      sync.Mutex
	entries map[string]map[string]*tarn.Entry // commit hash -> catalog entries
	scans   map[string]*table.TableScan       // commit hash + table -> scan
	plans   map[string]*table.ScanPlan        // commit hash + table + filter -> plan
	stmts   map[string]*prepared              // commit hash + namespace + SQL -> planned statement
}

const cacheLimit = 512

func (c *cache) get(kind, key string) any {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch kind {
	case "entries":
		if v, ok := c.entries[key]; ok {
			return v
		}
	case "scan":
		if v, ok := c.scans[key]; ok {
			return v
		}
	case "plan":
		if v, ok := c.plans[key]; ok {
			return v
		}
	case "statement":
		if v, ok := c.stmts[key]; ok {
			return v
		}
	}
	return nil
}

func (c *cache) put(kind, key string, v any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.entries == nil || len(c.entries)+len(c.scans)+len(c.plans)+len(c.stmts) > cacheLimit {
		c.entries, c.scans, c.plans = map[string]map[string]*tarn.Entry{}, map[string]*table.TableScan{}, map[string]*table.ScanPlan{}
		c.stmts = map[string]*prepared{}
	}
	switch kind {
	case "entries":
		c.entries[key] = v.(map[string]*tarn.Entry)
	case "scan":
		c.scans[key] = v.(*table.TableScan)
	case "plan":
		c.plans[key] = v.(*table.ScanPlan)
	case "statement":
		c.stmts[key] = v.(*prepared)
	}
}

// ctxReader stops a record stream when its context ends, and when it
// has yielded more than maxBytes (above 0) of Arrow data.
type ctxReader struct {
	array.RecordReader
	ctx      context.Context
	session  *session
	maxBytes int64
	bytes    int64
	err      error
}

func (r *ctxReader) Next() bool {
	if r.err != nil {
		return false
	}
	if err := r.ctx.Err(); err != nil {
		r.err = interrupted(err)
		return false
	}
	if r.RecordReader.Next() {
		if r.maxBytes > 0 {
			if r.bytes += recordBytes(r.RecordReader.RecordBatch()); r.bytes > r.maxBytes {
				r.err = resultTooLarge(r.maxBytes)
				return false
			}
		}
		return true
	}
	if err := r.RecordReader.Err(); err != nil {
		r.err = r.session.execError(r.ctx, err)
	}
	return false
}

func (r *ctxReader) Err() error { return r.err }
