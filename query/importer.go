package query

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/tarnhq/tarn"
	"github.com/tarnhq/tarn/ingest"
	"github.com/tarnhq/tarn/table"
)

// Importer writes the data files of imports with embedded DuckDB: it
// parses CSV, JSON Lines and Parquet and writes zstd Parquet with Iceberg
// field ids on all cores, in memory bounded by ImportOptions.Memory. It is
// the table.BulkWriter of an embedded lakehouse.
//
// Imports that run at the same time share one DuckDB instance (opened by
// the first, closed after the last): one pool of threads and one memory
// limit for all of them, and at most ImportOptions.Concurrent of their
// COPY statements run at once (the others wait their turn, their
// inference and commits going on meanwhile).
type Importer struct {
	opts  ImportOptions
	slots chan struct{}

	mu    sync.Mutex
	db    *sql.DB // while users > 0
	users int
	spill string // db's spill folder
}

var _ table.BulkWriter = (*Importer)(nil)

// ImportOptions tune an Importer. The zero value is ready to use.
type ImportOptions struct {
	// Threads limits DuckDB's threads (default: all cores).
	Threads int
	// Memory bounds DuckDB's memory (default DefaultImportMemory); it
	// spills to TempDir beyond it.
	Memory int64
	// TempDir is where DuckDB spills (default: the system's).
	TempDir string
	// RowGroupRows is the rows per Parquet row group (default 122,880,
	// DuckDB's: many row groups per file, for parallel scans and pruning).
	RowGroupRows int
	// FileBytes is the size past which a new data file is started
	// (default 256 MiB).
	FileBytes int64
	// Concurrent is how many imports write at once (default: one per
	// two cores, at least one); they share Threads and Memory.
	Concurrent int
}

// MaxImportColumns is the widest table the Importer writes: DuckDB's
// Parquet writer buffers a row group per column and thread, so a table of
// thousands of columns would not fit the memory limit. Wider tables take
// the general path.
const MaxImportColumns = 256

// DefaultImportMemory is an Importer's default memory limit.
const DefaultImportMemory = 512 << 20

// NewImporter returns an importer.
func NewImporter(opts ImportOptions) *Importer {
	if opts.Memory <= 0 {
		opts.Memory = DefaultImportMemory
	}
	if opts.RowGroupRows <= 0 {
		opts.RowGroupRows = 122880
	}
	if opts.FileBytes <= 0 {
		opts.FileBytes = 256 << 20
	}
	if opts.Concurrent <= 0 {
		opts.Concurrent = max(1, runtime.GOMAXPROCS(0)/2)
	}
	return &Importer{opts: opts, slots: make(chan struct{}, opts.Concurrent)}
}

// open returns the shared DuckDB instance, opening it for the first user;
// release it with close.
func (im *Importer) open(ctx context.Context) (*sql.DB, error) {
	im.mu.Lock()
	defer im.mu.Unlock()
	if im.db != nil {
		im.users++
		return im.db, nil
	}
	db, err := sql.Open("duckdb", "")
	if err != nil {
		return nil, fmt.Errorf("open duckdb: %w", err)
	}
	settings := []string{
		fmt.Sprintf("SET GLOBAL memory_limit = '%dB'", im.opts.Memory),
		// Without insertion order DuckDB writes as it goes: memory stays flat.
		"SET GLOBAL preserve_insertion_order = false",
		// Text timestamps without an offset are UTC wall time, as in ingest.
		"SET GLOBAL TimeZone = 'UTC'",
	}
	if im.opts.Threads > 0 {
		settings = append(settings, fmt.Sprintf("SET GLOBAL threads = %d", im.opts.Threads))
	}
	spill := ""
	if im.opts.TempDir != "" {
		if err := os.MkdirAll(im.opts.TempDir, 0o700); err != nil {
			db.Close()
			return nil, tarn.Errorf(tarn.EINTERNAL, "create a folder for DuckDB to spill to: %v", err)
		}
		if spill, err = os.MkdirTemp(im.opts.TempDir, "import-"); err != nil {
			db.Close()
			return nil, tarn.Errorf(tarn.EINTERNAL, "create a folder for DuckDB to spill to: %v", err)
		}
		settings = append(settings, "SET GLOBAL temp_directory = "+quoteString(spill))
	}
	for _, s := range settings {
		if _, err := db.ExecContext(ctx, s); err != nil {
			db.Close()
			os.RemoveAll(spill)
			return nil, tarn.Errorf(tarn.EINTERNAL, "configure duckdb (%s): %v", s, err)
		}
	}
	im.db, im.users, im.spill = db, 1, spill
	return db, nil
}

// close releases the shared instance; the last user closes it.
func (im *Importer) close() {
	im.mu.Lock()
	defer im.mu.Unlock()
	if im.users--; im.users > 0 {
		return
	}
	im.db.Close()
	if im.spill != "" {
		os.RemoveAll(im.spill)
	}
	im.db, im.spill = nil, ""
}

// WriteFiles runs one COPY (SELECT ... FROM read_csv/read_json/
// read_parquet ...) TO job.Dir with the table's columns, in order, each
// read or cast as its table type and written with its field id.
//
// CSV and JSON Lines inputs get a check of keys and integers (see checkKeys) at
// the same time as the COPY, so the file is read once from disk for both:
// a problem the check finds stops the COPY, and its error (file, line,
// column) is reported whatever the COPY found, as when the check ran
// first.
func (im *Importer) WriteFiles(ctx context.Context, job table.BulkJob) (*table.BulkResult, error) {
	stmt, err := copyStatement(job, im.opts)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(job.Dir), 0o755); err != nil {
		return nil, fmt.Errorf("create data folder: %w", err)
	}
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	check := startKeyCheck(cctx, job, cancel)
	rows, err := im.copy(cctx, stmt, job)
	// The check's error wins: it is located, and it is what a check run
	// before the COPY would have stopped the import with.
	if cerr := check(); cerr != nil {
		return nil, cerr
	}
	if err != nil {
		return nil, err
	}
	out := &table.BulkResult{Rows: rows}
	entries, err := os.ReadDir(job.Dir)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("list imported files: %w", err)
	}
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".parquet") {
			out.Files = append(out.Files, filepath.Join(job.Dir, e.Name()))
		}
	}
	return out, nil
}

// copy runs a job's COPY statement in a slot of the shared instance and
// returns the rows written.
func (im *Importer) copy(ctx context.Context, stmt string, job table.BulkJob) (int64, error) {
	// Users waiting for a slot keep the instance open for the next.
	db, err := im.open(ctx)
	if err != nil {
		return 0, err
	}
	defer im.close()
	select {
	case im.slots <- struct{}{}:
		defer func() { <-im.slots }()
	case <-ctx.Done():
		return 0, interrupted(ctx.Err())
	}
	conn, err := db.Conn(ctx)
	if err != nil {
		return 0, fmt.Errorf("open duckdb: %w", err)
	}
	defer conn.Close()
	stop := watchSize(job.Dir, job.Progress)
	res, err := conn.ExecContext(ctx, stmt)
	stop()
	if err != nil {
		if ctx.Err() != nil {
			return 0, interrupted(ctx.Err())
		}
		return 0, importError(err)
	}
	rows, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("count imported rows: %w", err)
	}
	return rows, nil
}

// startKeyCheck starts checkKeys on the job's CSV and JSON Lines inputs; on a
// problem it calls fail (which stops the COPY). The returned function
// waits for the check and returns its error.
func startKeyCheck(ctx context.Context, job table.BulkJob, fail func()) (wait func() error) {
	done := make(chan error, 1)
	go func() {
		err := checkKeys(ctx, job)
		if err != nil {
			fail()
		}
		done <- err
	}()
	return func() error { return <-done }
}

// checkKeys fails when a JSON Lines input has a top-level key that is not
// one of the file's columns (read_json with columns would drop it, and the
// columns may come from a sample of the rows), or a value of an integer
// column that is not an integer as ingest reads it (read_json parses JSON
// straight into integers, and would round 2.5 and read true as 1).
// ingest.CheckKeys finds the value (file, line, column) in a parallel pass
// that reads no more than the keys and the integers. A file that
// inference read in full, without integer columns, needs none.
//
// For CSV it checks the integer columns' values the same way
// (ingest.CheckCSVIntegers: read_csv rounds 2.5 and reads 1e3 and 0x10).
func checkKeys(ctx context.Context, job table.BulkJob) error {
	types := make(map[string]arrow.DataType, len(job.Columns))
	for _, c := range job.Columns {
		types[c.Name] = c.Type
	}
	for _, in := range job.Inputs {
		if in.Format != ingest.JSONL && in.Format != ingest.CSV {
			continue
		}
		ints := make(map[string]arrow.DataType)
		for _, n := range in.Columns {
			if integerColumn(types[n]) {
				ints[n] = types[n]
			}
		}
		file := ingest.File{Path: in.Path, Format: in.Format}
		var err error
		switch {
		case in.Format == ingest.CSV && len(ints) > 0:
			err = ingest.CheckCSVIntegers(ctx, file, in.Columns, ints)
		case in.Format == ingest.JSONL && !(in.AllKeysSeen && len(ints) == 0):
			err = ingest.CheckKeys(ctx, file, in.Columns, ints)
		}
		if err != nil {
			if ctx.Err() != nil {
				return interrupted(ctx.Err())
			}
			return err
		}
	}
	return nil
}

// watchSize calls fn with the bytes under dir every second until stopped.
func watchSize(dir string, fn func(int64)) (stop func()) {
	if fn == nil {
		return func() {}
	}
	done := make(chan struct{})
	finished := make(chan struct{})
	size := func() int64 {
		var n int64
		entries, _ := os.ReadDir(dir)
		for _, e := range entries {
			if info, err := e.Info(); err == nil {
				n += info.Size()
			}
		}
		return n
	}
	go func() {
		defer close(finished)
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		for {
			select {
			case <-done:
				fn(size())
				return
			case <-tick.C:
				fn(size())
			}
		}
	}()
	return func() { close(done); <-finished }
}

// copyStatement builds the COPY statement of a job, or an error wrapping
// table.ErrBulkUnsupported.
func copyStatement(job table.BulkJob, opts ImportOptions) (string, error) {
	if len(job.Columns) > MaxImportColumns {
		return "", fmt.Errorf("%d columns: %w", len(job.Columns), table.ErrBulkUnsupported)
	}
	types := make(map[string]string, len(job.Columns))
	ids := make([]string, len(job.Columns))
	for i, c := range job.Columns {
		t, ok := duckType(c.Type)
		if !ok {
			return "", fmt.Errorf("column %s of type %s: %w", tarn.Quote(c.Name), c.Type, table.ErrBulkUnsupported)
		}
		types[c.Name] = t
		ids[i] = quoteIdent(c.Name) + ": " + strconv.Itoa(c.FieldID)
	}
	var parts []string
	for _, in := range job.Inputs {
		has := make(map[string]bool, len(in.Columns))
		for _, n := range in.Columns {
			if _, ok := types[n]; !ok {
				return "", &ingest.Error{File: in.Path, Column: n, Msg: "not in the table"}
			}
			has[n] = true
		}
		from, err := readFunction(in, types)
		if err != nil {
			return "", err
		}
		sel := make([]string, len(job.Columns))
		for i, c := range job.Columns {
			name := quoteIdent(c.Name)
			switch {
			case !has[c.Name]:
				sel[i] = "CAST(NULL AS " + types[c.Name] + ") AS " + name
			case in.Format == ingest.Parquet:
				sel[i] = "CAST(" + name + " AS " + types[c.Name] + ") AS " + name
			case textReadType(types[c.Name]) == types[c.Name]:
				sel[i] = name // read as its type
			default:
				sel[i] = textColumn(c.Name, types[c.Name]) + " AS " + name
			}
		}
		parts = append(parts, "SELECT "+strings.Join(sel, ", ")+" FROM "+from)
	}
	if len(parts) == 0 {
		return "", fmt.Errorf("no input files: %w", table.ErrBulkUnsupported)
	}
	return fmt.Sprintf("COPY (%s) TO %s (FORMAT parquet, COMPRESSION zstd, FIELD_IDS {%s}, ROW_GROUP_SIZE %d, FILE_SIZE_BYTES %d, PER_THREAD_OUTPUT true, FILENAME_PATTERN 'data_{i}')",
		strings.Join(parts, "\nUNION ALL\n"), quoteString(job.Dir), strings.Join(ids, ", "), opts.RowGroupRows, opts.FileBytes), nil
}

// readFunction is the DuckDB table function reading one input, text
// parsed directly as the table's types.
func readFunction(in table.BulkInput, types map[string]string) (string, error) {
	cols := make([]string, len(in.Columns))
	for i, n := range in.Columns {
		read := types[n]
		if in.Format != ingest.Parquet {
			read = textReadType(read)
		}
		cols[i] = quoteString(n) + ": " + quoteString(read)
	}
	switch in.Format {
	case ingest.CSV:
		delim := ","
		if strings.EqualFold(filepath.Ext(in.Path), ".tsv") {
			return "", fmt.Errorf("tab-separated input: %w", table.ErrBulkUnsupported)
		}
		// As ingest reads CSV: a header, RFC 4180 quoting, empty fields
		// (quoted or not) are nulls, every row as wide as the header.
		return fmt.Sprintf("read_csv(%s, header = true, auto_detect = false, delim = %s, quote = '\"', escape = '\"', nullstr = '', strict_mode = true, columns = {%s})",
			quoteString(in.Path), quoteString(delim), strings.Join(cols, ", ")), nil
	case ingest.JSONL:
		return fmt.Sprintf("read_json(%s, format = 'newline_delimited', columns = {%s})", quoteString(in.Path), strings.Join(cols, ", ")), nil
	case ingest.Parquet:
		return "read_parquet(" + quoteString(in.Path) + ")", nil
	}
	return "", fmt.Errorf("format %q: %w", in.Format, table.ErrBulkUnsupported)
}

// DuckDB parses some text more loosely than ingest, in ways that change
// values: it rounds "2.5" to the integer 3, reads "1e3" as 1000, "1_000"
// as 1000, "0x10" as 16, and "2026-01-02 10:00" as the date 2026-01-02.
//
// So integer columns are read as integers, and a Go pass beside the COPY
// (checkKeys) reads the same file and refuses a value that is not an
// integer as ingest reads it, with ingest's message, file, line and
// column: ingest.CheckCSVIntegers for CSV, ingest.CheckKeys for JSON
// Lines (where read_json also truncates the JSON number 2.5 to 2 and
// reads true as 1). A value DuckDB refuses and ingest accepts stops the
// COPY, and the caller takes ingest's reader instead. At TPC-H SF1, CSV,
// reading integers as text and checking them in SQL (regexp_full_match,
// the cheapest of the SQL checks tried) took the import to 7.0 s where
// this takes 5.8 s, against DuckDB's 4.5–4.8 s (bench/import);
// the Go pass runs on another core and reads the file from the page
// cache the COPY fills.
//
// Dates are read as timestamps and refused when they have a time of day
// (which costs nothing measurable).

// integerColumn reports whether a column of type dt is an integer column
// as the importer reads it (BIGINT or INTEGER).
func integerColumn(dt arrow.DataType) bool {
	t, _ := duckType(dt)
	return t == "BIGINT" || t == "INTEGER"
}

// textReadType is the type a CSV or JSON column of type t is read as.
func textReadType(t string) string {
	switch t {
	case "DATE":
		return "TIMESTAMP"
	case "TIMESTAMP":
		// With an offset a value is that instant's UTC wall time, as in
		// ingest (the session's time zone is UTC); DuckDB's TIMESTAMP
		// would drop the offset.
		return "TIMESTAMPTZ"
	}
	return t
}

// textColumn is the expression turning a column read with textReadType
// into its type t.
func textColumn(name, t string) string {
	col := quoteIdent(name)
	refuse := "error(" + quoteString("column "+tarn.Quote(name)+": not a valid "+strings.ToLower(t)+": ") + " || " + col + ")"
	switch t {
	case "DATE":
		return fmt.Sprintf("CASE WHEN %s IS NULL OR %s = CAST(%s AS DATE) THEN CAST(%s AS DATE) ELSE %s END", col, col, col, col, refuse)
	case "TIMESTAMP":
		return "CAST(" + col + " AS TIMESTAMP)"
	}
	return col
}

// duckType is the DuckDB type DuckDB writes as the Parquet type Iceberg
// expects for an Arrow type of a table schema.
func duckType(dt arrow.DataType) (string, bool) {
	switch t := dt.(type) {
	case *arrow.BooleanType:
		return "BOOLEAN", true
	case *arrow.Int32Type:
		return "INTEGER", true
	case *arrow.Int64Type:
		return "BIGINT", true
	case *arrow.Float32Type:
		return "FLOAT", true
	case *arrow.Float64Type:
		return "DOUBLE", true
	case *arrow.Decimal128Type:
		if t.Precision > 38 {
			return "", false
		}
		return fmt.Sprintf("DECIMAL(%d, %d)", t.Precision, t.Scale), true
	case *arrow.Date32Type:
		return "DATE", true
	case *arrow.TimestampType:
		if t.Unit != arrow.Microsecond {
			return "", false
		}
		if t.TimeZone != "" {
			return "TIMESTAMPTZ", true
		}
		return "TIMESTAMP", true
	case *arrow.StringType, *arrow.LargeStringType:
		return "VARCHAR", true
	case *arrow.BinaryType, *arrow.LargeBinaryType:
		return "BLOB", true
	}
	return "", false
}

var (
	csvLineRE   = regexp.MustCompile(`CSV Error on Line: (\d+)`)
	csvColumnRE = regexp.MustCompile(`Error when converting column "((?:[^"]|"")*)"\. (.*)`)
	csvFileRE   = regexp.MustCompile(`(?m)^\s*file = (.*)$`)
)

// importError turns DuckDB's CSV errors into *ingest.Error (file, line,
// column); other errors keep DuckDB's first line.
func importError(err error) error {
	msg := err.Error()
	if m := csvLineRE.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		ie := &ingest.Error{Line: line}
		if f := csvFileRE.FindStringSubmatch(msg); f != nil {
			ie.File = strings.TrimSpace(f[1])
		}
		if c := csvColumnRE.FindStringSubmatch(msg); c != nil {
			ie.Column = strings.ReplaceAll(c[1], `""`, `"`)
			ie.Msg = strings.TrimSuffix(strings.TrimSpace(c[2]), ".")
		} else {
			ie.Msg = locatedMessage(msg)
		}
		return ie
	}
	first, _, _ := strings.Cut(msg, "\n")
	return fmt.Errorf("import: %s", first)
}

// locatedMessage is the message of a located CSV error past its
// "CSV Error on Line" and "Original Line" lines.
func locatedMessage(msg string) string {
	lines := strings.Split(msg, "\n")
	for _, l := range lines[1:] {
		l = strings.TrimSpace(l)
		if l == "" || strings.HasPrefix(l, "Original Line") {
			continue
		}
		return l
	}
	return strings.TrimSpace(lines[0])
}
