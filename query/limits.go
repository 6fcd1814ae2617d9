package query

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/tarnhq/tarn"
)

// Limits bound what one query may use. A server sets them (tarn serve
// --query-memory, --query-disk, --max-result, --max-export); the zero
// value bounds nothing, as embedded `tarn query` runs. A query over a
// limit fails with EINVALID and a message naming the limit, its value and
// the flag that raises it.
type Limits struct {
	// Memory is DuckDB's memory_limit of each query's database, in bytes
	// (DuckDB's own default is 80% of RAM). With it, Query stores a
	// statement's result in a DuckDB temp table, which the limit covers
	// and which spills to TempDir, and reads it back in pages: duckdb-go
	// would otherwise build the whole result outside the limit before the
	// first row.
	Memory int64
	// TempDir is where the databases spill, one folder each (removed with
	// it); it is not among the folders SQL may read.
	TempDir string
	// Disk bounds one query's spill (DuckDB's max_temp_directory_size).
	Disk int64
	// Result bounds the Arrow data one Query yields, in bytes.
	Result int64
	// Export bounds the file one CopyTo writes, in bytes.
	Export int64
}

func resultTooLarge(limit int64) error {
	return tarn.Errorf(tarn.EINVALID, "the result is larger than the server's limit of %s (tarn serve --max-result): add a LIMIT, aggregate or select fewer columns, or write it to a file with --out (up to --max-export)",
		tarn.FormatBytes(limit))
}

func exportTooLarge(limit int64) error {
	return tarn.Errorf(tarn.EINVALID, "the result file is larger than the server's limit of %s (tarn serve --max-export): add a LIMIT, aggregate or select fewer columns",
		tarn.FormatBytes(limit))
}

// outOfMemory explains DuckDB's out-of-memory error by the limit that
// caused it.
func (e *Engine) outOfMemory(msg string) error {
	lim := e.opts.Limits
	first, _, _ := strings.Cut(msg, "\n")
	switch {
	case lim.Disk > 0 && strings.Contains(msg, "max_temp_directory_size"):
		return tarn.Errorf(tarn.EINVALID, "the query needs more disk to spill to than the server's limit of %s per query (tarn serve --query-disk): aggregate or filter more, or select fewer columns (DuckDB: %s)",
			tarn.FormatBytes(lim.Disk), first)
	case lim.Memory > 0:
		return tarn.Errorf(tarn.EINVALID, "the query needs more memory than the server's limit of %s per query (tarn serve --query-memory): aggregate or filter more, or select fewer columns (DuckDB: %s)",
			tarn.FormatBytes(lim.Memory), first)
	}
	return tarn.Errorf(tarn.EINTERNAL, "duckdb: %s", msg)
}

// recordBytes is the size of a record batch's buffers.
func recordBytes(rec arrow.RecordBatch) int64 {
	var n int64
	for _, col := range rec.Columns() {
		n += dataBytes(col.Data())
	}
	return n
}

func dataBytes(d arrow.ArrayData) int64 {
	var n int64
	for _, b := range d.Buffers() {
		if b != nil {
			n += int64(b.Len())
		}
	}
	for _, c := range d.Children() {
		n += dataBytes(c)
	}
	return n
}

// pageBytes is about how much of a stored result one page reads: a page
// is built whole (outside DuckDB's memory limit) before its first row.
const pageBytes = 32 << 20

// pages stores the statement's result and reads it back page by page.
func (s *session) pages(ctx context.Context) (array.RecordReader, []tarn.QueryColumn, error) {
	names, err := s.store(ctx)
	if err != nil {
		return nil, nil, err
	}
	var total int64
	if err := s.conn.QueryRowContext(ctx, "SELECT count(*) FROM "+previewTable).Scan(&total); err != nil {
		return nil, nil, s.execError(ctx, err)
	}
	p := &pagedReader{ctx: ctx, s: s, columns: storedColumns(names), total: total, size: DefaultBatchRows, refs: 1}
	cols, err := p.open()
	if err != nil {
		return nil, nil, err
	}
	p.schema = p.cur.Schema()
	return p, cols, nil
}

// pagedReader reads a stored result in pages of rowids, each sized from
// the bytes per row of the one before.
type pagedReader struct {
	ctx     context.Context
	s       *session
	columns string
	total   int64 // rows stored
	next    int64 // first rowid of the next page
	size    int64 // rows of the next page
	cur     array.RecordReader
	schema  *arrow.Schema
	rows    int64 // rows and bytes read of the current page
	bytes   int64
	err     error
	refs    int64
}

// open starts the next page.
func (p *pagedReader) open() ([]tarn.QueryColumn, error) {
	from := p.next
	p.next += p.size
	rdr, cols, err := p.s.run(p.ctx, fmt.Sprintf("SELECT %s FROM %s WHERE rowid >= %d AND rowid < %d", p.columns, previewTable, from, p.next))
	if err != nil {
		return nil, err
	}
	p.cur, p.rows, p.bytes = rdr, 0, 0
	return cols, nil
}

func (p *pagedReader) Next() bool {
	for p.err == nil {
		if p.cur.Next() {
			p.rows += p.cur.RecordBatch().NumRows()
			p.bytes += recordBytes(p.cur.RecordBatch())
			return true
		}
		if p.err = p.cur.Err(); p.err != nil || p.next >= p.total {
			break
		}
		if p.rows > 0 && p.bytes > 0 {
			p.size = min(max(pageBytes*p.rows/p.bytes, DefaultBatchRows), 1<<20)
		}
		p.cur.Release()
		p.cur = nil
		if _, p.err = p.open(); p.err != nil {
			break
		}
	}
	return false
}

func (p *pagedReader) Schema() *arrow.Schema          { return p.schema }
func (p *pagedReader) RecordBatch() arrow.RecordBatch { return p.cur.RecordBatch() }
func (p *pagedReader) Record() arrow.RecordBatch      { return p.cur.RecordBatch() }
func (p *pagedReader) Err() error                     { return p.err }
func (p *pagedReader) Retain()                        { atomic.AddInt64(&p.refs, 1) }

func (p *pagedReader) Release() {
	if atomic.AddInt64(&p.refs, -1) == 0 && p.cur != nil {
		p.cur.Release()
		p.cur = nil
	}
}

// errExportLimit stops a COPY whose file grew past Limits.Export.
var errExportLimit = errors.New("export limit")

// watchExport cancels the returned context when the files at paths add
// up to more than the export limit, checked as they grow; stop ends the
// watch and checks their final size. With no limit, ctx is returned as
// it is.
func (e *Engine) watchExport(ctx context.Context, paths ...string) (context.Context, func() error) {
	limit := e.opts.Limits.Export
	if limit <= 0 {
		return ctx, func() error { return nil }
	}
	var files []string
	for _, p := range slices.Compact(slices.Sorted(slices.Values(paths))) {
		// DuckDB's COPY writes tmp_NAME and renames it to NAME at the end.
		files = append(files, p, filepath.Join(filepath.Dir(p), "tmp_"+filepath.Base(p)))
	}
	size := func() int64 {
		var n int64
		for _, f := range files {
			if st, err := os.Stat(f); err == nil {
				n += st.Size()
			}
		}
		return n
	}
	wctx, cancel := context.WithCancelCause(ctx)
	done := make(chan struct{})
	go func() {
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-wctx.Done():
				return
			case <-tick.C:
			}
			if size() > limit {
				cancel(errExportLimit)
				return
			}
		}
	}()
	return wctx, func() error {
		close(done)
		cancel(nil)
		if size() > limit {
			return errExportLimit
		}
		return nil
	}
}

// exportError is the export limit's error when the watch stopped the
// copy, else err.
func (e *Engine) exportError(ctx context.Context, err error) error {
	if errors.Is(context.Cause(ctx), errExportLimit) || errors.Is(err, errExportLimit) {
		return exportTooLarge(e.opts.Limits.Export)
	}
	return err
}

// limitedWriter fails a write that would take it past n bytes (n <= 0:
// no limit).
type limitedWriter struct {
	w       io.Writer
	n, done int64
}

func (l *limitedWriter) Write(b []byte) (int, error) {
	if l.n > 0 && l.done+int64(len(b)) > l.n {
		return 0, errExportLimit
	}
	n, err := l.w.Write(b)
	l.done += int64(n)
	return n, err
}
