package query

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
	"github.com/tarnhq/tarn"
)

// Format is a file format for query results.
type Format string

// Result file formats.
const (
	FormatCSV     Format = "csv"     // with a header row
	FormatJSON    Format = "json"    // one JSON array of row objects
	FormatJSONL   Format = "jsonl"   // one JSON object per line
	FormatParquet Format = "parquet" // zstd-compressed
	FormatArrow   Format = "arrow"   // Arrow IPC file (Feather v2)
)

// Formats lists the file formats CopyTo writes.
var Formats = []Format{FormatCSV, FormatJSON, FormatJSONL, FormatParquet, FormatArrow}

// ParseFormat checks a format name.
func ParseFormat(s string) (Format, error) {
	for _, f := range Formats {
		if string(f) == strings.ToLower(s) {
			return f, nil
		}
	}
	names := make([]string, len(Formats))
	for i, f := range Formats {
		names[i] = string(f)
	}
	return "", tarn.Errorf(tarn.EINVALID, "unknown result format %q: use %s", s, strings.Join(names, ", "))
}

// CopyResult describes a result written to a file.
type CopyResult struct {
	Path     string                 `json:"path"`
	Format   Format                 `json:"format"`
	Rows     int64                  `json:"rows"`
	Commit   *tarn.Commit           `json:"commit"`
	Tables   []tarn.QueryTableStats `json:"tables"`
	Duration time.Duration          `json:"duration_ns"`
}

// CopyFile runs req and writes its result to path in a format. DuckDB
// streams the rows to a temporary file next to path, which is renamed
// into place only when complete: an error or a canceled context leaves no
// file behind (and an existing file at path untouched). Memory use does not
// grow with the result's size.
func (e *Engine) CopyFile(ctx context.Context, req Request, format Format, path string) (*CopyResult, error) {
	started := time.Now()
	if _, err := ParseFormat(string(format)); err != nil {
		return nil, err
	}
	if prefix, _ := splitExplain(req.SQL); prefix != "" {
		return nil, tarn.Errorf(tarn.EINVALID, "EXPLAIN output cannot be written to a file; run it without --out")
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, tarn.Errorf(tarn.EINVALID, "output path %q: %v", path, err)
	}
	if st, err := os.Stat(abs); err == nil && st.IsDir() {
		return nil, tarn.Errorf(tarn.EINVALID, "output path %s is a directory: give a file name", path)
	}
	s, err := e.open(ctx, req, filepath.Dir(abs))
	if err != nil {
		return nil, err
	}
	defer s.close()
	tmp, err := tempPath(abs)
	if err != nil {
		return nil, err
	}
	defer os.Remove(tmp) // after a successful rename this finds nothing
	duckFormat, target := string(format), tmp
	if format == FormatArrow {
		duckFormat = "parquet-temp"
		target = tmp + ".parquet"
		defer os.Remove(target)
	}
	wctx, stop := e.watchExport(ctx, tmp, target)
	rows, err := s.copy(wctx, duckFormat, target)
	if serr := stop(); err == nil {
		err = serr
	}
	if err != nil {
		return nil, e.exportError(wctx, err)
	}
	if format == FormatArrow {
		if err := parquetToArrow(ctx, target, tmp, e.opts.Limits.Export); err != nil {
			if ctx.Err() != nil {
				return nil, interrupted(ctx.Err())
			}
			return nil, e.exportError(ctx, err)
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, interrupted(err)
	}
	if err := os.Rename(tmp, abs); err != nil {
		return nil, tarn.Errorf(tarn.EINTERNAL, "move result into place at %s: %v", path, err)
	}
	return &CopyResult{Path: abs, Format: format, Rows: rows, Commit: s.commit, Tables: s.stats(), Duration: time.Since(started)}, nil
}

// tempPath reserves a hidden temporary file name next to path.
func tempPath(path string) (string, error) {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tarn-tmp-*")
	if err != nil {
		return "", tarn.Errorf(tarn.EINVALID, "cannot write next to %s: %v", path, err)
	}
	f.Close()
	return f.Name(), nil
}

// copy runs COPY (statement) TO target and returns the row count.
func (s *session) copy(ctx context.Context, format, target string) (int64, error) {
	opts := "FORMAT " + format
	switch format {
	case string(FormatCSV):
		opts += ", HEADER true"
	case string(FormatJSON):
		opts = "FORMAT json, ARRAY true"
	case string(FormatJSONL):
		opts = "FORMAT json"
	case string(FormatParquet):
		opts += ", COMPRESSION zstd"
	case "parquet-temp": // an intermediate file read once, from the page cache: no codec to run twice
		opts = "FORMAT parquet, COMPRESSION uncompressed"
	}
	// Without insertion order DuckDB writes as it goes; with it, parallel
	// pipelines buffer batches and memory grows with the result. ORDER BY
	// is still honored.
	if _, err := s.conn.ExecContext(ctx, "SET preserve_insertion_order = false"); err != nil {
		return 0, s.execError(ctx, err)
	}
	defer s.conn.ExecContext(context.Background(), "RESET preserve_insertion_order")
	stmt := "COPY (" + trimStatement(s.sql) + "\n) TO " + quoteString(target) + " (" + opts + ")"
	res, err := s.conn.ExecContext(ctx, stmt)
	if err != nil {
		return 0, s.execError(ctx, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("count copied rows: %w", err)
	}
	return n, nil
}

// parquetToArrow rewrites a Parquet file as an Arrow IPC file of at most
// limit bytes (0: any size). Decoding and writing overlap: one goroutine
// decodes row groups (columns in parallel) while this one writes the
// batches before, with at most arrowQueue batches in between, so memory
// stays bounded by a few batches whatever the result's size.
func parquetToArrow(ctx context.Context, src, dst string, limit int64) error {
	// Column chunks are read through a small buffer, not whole.
	props := parquet.NewReaderProperties(memory.DefaultAllocator)
	props.BufferedStreamEnabled, props.BufferSize = true, 1<<20
	pf, err := file.OpenParquetFile(src, false, file.WithReadProps(props))
	if err != nil {
		return fmt.Errorf("read result: %w", err)
	}
	defer pf.Close()
	fr, err := pqarrow.NewFileReader(pf, pqarrow.ArrowReadProperties{BatchSize: 32 * 1024, Parallel: true}, memory.DefaultAllocator)
	if err != nil {
		return fmt.Errorf("read result: %w", err)
	}
	rctx, stop := context.WithCancel(ctx)
	defer stop()
	rr, err := fr.GetRecordReader(rctx, nil, nil)
	if err != nil {
		return fmt.Errorf("read result: %w", err)
	}
	defer rr.Release()
	// A new file, so that it gets the usual mode (the reserved name is 0600).
	os.Remove(dst)
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o666)
	if err != nil {
		return fmt.Errorf("write result: %w", err)
	}
	defer out.Close()
	batches := make(chan arrow.RecordBatch, arrowQueue)
	var readErr error
	go func() {
		defer close(batches)
		for rr.Next() {
			rec := rr.RecordBatch()
			rec.Retain()
			select {
			case batches <- rec:
			case <-rctx.Done():
				rec.Release()
				return
			}
		}
		readErr = rr.Err()
	}()
	drain := func() {
		stop()
		for rec := range batches {
			rec.Release()
		}
	}
	bw := bufio.NewWriterSize(&limitedWriter{w: out, n: limit}, 4<<20)
	w, err := ipc.NewFileWriter(bw, ipc.WithSchema(rr.Schema()))
	if err != nil {
		drain()
		return fmt.Errorf("write result: %w", err)
	}
	for rec := range batches {
		err := w.Write(rec)
		rec.Release()
		if err != nil {
			drain()
			return fmt.Errorf("write result: %w", err)
		}
	}
	if readErr != nil {
		return fmt.Errorf("read result: %w", readErr)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("write result: %w", err)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write result: %w", err)
	}
	return out.Close()
}

// arrowQueue is how many decoded batches may wait for the writer.
const arrowQueue = 2
