package ingest

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/tarnhq/tarn"
)

// csvFile is an open CSV file positioned after its header.
type csvFile struct {
	f      *os.File
	r      *csv.Reader
	path   string
	header []string
}

// openCSV opens a CSV (or TSV) file and reads and checks its header.
func openCSV(file File) (*csvFile, error) {
	f, err := os.Open(file.Path)
	if err != nil {
		return nil, fmt.Errorf("reading input: %w", err)
	}
	r := csv.NewReader(f)
	if isTSV(file.Path) {
		r.Comma = '\t'
		r.LazyQuotes = true
	}
	r.FieldsPerRecord = -1 // checked against the header to report lines
	r.ReuseRecord = true
	c := &csvFile{f: f, r: r, path: file.Path}
	rec, err := r.Read()
	if err != nil {
		f.Close()
		if err == io.EOF {
			return nil, &Error{File: file.Path, Msg: "file is empty"}
		}
		return nil, c.readError(err)
	}
	line, _ := r.FieldPos(0)
	c.header = append([]string(nil), rec...)
	c.header[0] = strings.TrimPrefix(c.header[0], "\ufeff") // UTF-8 BOM
	if err := checkHeader(c.header); err != nil {
		f.Close()
		err.File, err.Line = file.Path, line
		return nil, err
	}
	return c, nil
}

// checkHeader checks the column names of a header (tarn.ColumnNames),
// naming the columns by position.
func checkHeader(header []string) *Error {
	if err := tarn.ValidColumnCount(len(header)); err != nil {
		return &Error{Msg: fmt.Sprintf("header: %v", err)}
	}
	var names tarn.ColumnNames
	for i, name := range header {
		if err := names.Add(name); err != nil {
			where := fmt.Sprintf("column %d", i+1)
			if j, ok := names.Position(name); ok {
				where = fmt.Sprintf("columns %d and %d", j+1, i+1)
			}
			return &Error{Msg: fmt.Sprintf("header %s: %v", where, err)}
		}
	}
	return nil
}

// read returns the next row, nil at the end of the file, or an *Error for a
// malformed or ragged row.
func (c *csvFile) read() ([]string, error) {
	rec, err := c.r.Read()
	if err == io.EOF {
		return nil, nil
	}
	if err != nil {
		return nil, c.readError(err)
	}
	if len(rec) != len(c.header) {
		line, _ := c.r.FieldPos(0)
		return nil, &Error{File: c.path, Line: line, Msg: fmt.Sprintf("row has %d fields, header has %d", len(rec), len(c.header))}
	}
	return rec, nil
}

// readError turns a csv.ParseError into an *Error; other errors are I/O.
func (c *csvFile) readError(err error) error {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return &Error{File: c.path, Line: pe.Line, Msg: pe.Err.Error()}
	}
	return fmt.Errorf("reading %s: %w", c.path, err)
}

// line returns the line of field i of the last row read.
func (c *csvFile) line(i int) int {
	line, _ := c.r.FieldPos(i)
	return line
}

func (c *csvFile) close() error { return c.f.Close() }

// inferCSV reads a CSV file (its first sample rows when sample > 0) and
// infers each column's kind.
func inferCSV(ctx context.Context, file File, sample int) (*fileInfo, error) {
	c, err := openCSV(file)
	if err != nil {
		return nil, err
	}
	defer c.close()
	kinds := make([]kind, len(c.header))
	for n := 0; sample == 0 || n < sample; n++ {
		if n%8192 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		rec, err := c.read()
		if err != nil {
			return nil, err
		}
		if rec == nil {
			break
		}
		for i, v := range rec {
			if v == "" || kinds[i] == kString {
				continue
			}
			kinds[i] = join(kinds[i], classifyText(v))
		}
	}
	info := &fileInfo{names: c.header, types: make([]arrow.DataType, len(kinds)), textual: true}
	for i, k := range kinds {
		info.types[i] = k.arrowType()
	}
	return info, nil
}

// csvReader produces record batches of the target schema from a CSV file.
type csvReader struct {
	c      *csvFile
	schema *arrow.Schema
	bld    *array.RecordBuilder
	target []int          // file column -> target field index
	apps   []textAppender // per target field
	absent []int          // target fields missing from the file
	done   bool
}

func newCSVReader(file File, target *arrow.Schema) (*csvReader, error) {
	c, err := openCSV(file)
	if err != nil {
		return nil, err
	}
	if err := checkColumns(file.Path, c.header, target); err != nil {
		c.close()
		return nil, err
	}
	r := &csvReader{c: c, schema: target, bld: array.NewRecordBuilder(mem, target)}
	r.apps = make([]textAppender, target.NumFields())
	present := make([]bool, target.NumFields())
	for _, name := range c.header {
		ti := target.FieldIndices(name)[0]
		present[ti] = true
		r.target = append(r.target, ti)
		app, err := newTextAppender(r.bld.Field(ti), target.Field(ti).Type)
		if err != nil {
			r.close()
			return nil, &Error{File: file.Path, Column: name, Msg: err.Error()}
		}
		r.apps[ti] = app
	}
	for i, p := range present {
		if !p {
			r.absent = append(r.absent, i)
		}
	}
	return r, nil
}

// next returns the next batch, or nil at the end of the file.
func (r *csvReader) next(ctx context.Context) (arrow.RecordBatch, error) {
	if r.done {
		return nil, nil
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	n := 0
	for n < batchRows {
		rec, err := r.c.read()
		if err != nil {
			return nil, err
		}
		if rec == nil {
			r.done = true
			break
		}
		for i, v := range rec {
			ti := r.target[i]
			if v == "" {
				if !r.schema.Field(ti).Nullable {
					return nil, &Error{File: r.c.path, Line: r.c.line(i), Column: r.c.header[i], Msg: errNotNullable}
				}
				r.bld.Field(ti).AppendNull()
				continue
			}
			if err := r.apps[ti](v); err != nil {
				return nil, &Error{File: r.c.path, Line: r.c.line(i), Column: r.c.header[i], Msg: err.Error()}
			}
		}
		for _, ti := range r.absent {
			r.bld.Field(ti).AppendNull()
		}
		n++
	}
	if n == 0 {
		return nil, nil
	}
	return r.bld.NewRecordBatch(), nil
}

func (r *csvReader) close() {
	r.bld.Release()
	r.c.close()
}
