package ingest

import (
	"context"
	"fmt"
	"sync/atomic"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// batchRows is the number of rows per record batch.
const batchRows = 64 * 1024

// mem is the allocator for all Arrow data; tests swap in a checked one.
var mem memory.Allocator = memory.DefaultAllocator

// errNotNullable is the message for a null in a non-nullable target column.
const errNotNullable = "null value but the target column is not nullable"

// fileReader yields the batches of one file.
type fileReader interface {
	next(ctx context.Context) (arrow.RecordBatch, error)
	close()
}

// Records streams all rows of all files, in file order, as record batches of
// about 64Ki rows of exactly the target schema (s.Schema if target is nil).
//
// Columns are matched by name (case-sensitive). Where a file's type differs
// from the target's the values are converted: Parquet columns are cast
// (int32 to long, float to double, long to double, timestamp units, ...) and
// text is parsed as the target type. A target column missing from a file is
// filled with nulls if it is nullable, else it is an *Error; a file column
// missing from the target is an *Error naming it, as is a value that does not
// convert (with file, line or row, column and value).
//
// Files are checked against the target as far as Infer saw them before the
// reader is returned; values are checked as they are read. The caller must
// call Release on the reader.
func (s *Source) Records(ctx context.Context, target *arrow.Schema) (array.RecordReader, error) {
	if target == nil {
		target = s.Schema
	}
	if target == nil {
		return nil, fmt.Errorf("ingest: no schema: call Infer or pass a target schema")
	}
	seen := make(map[string]bool, target.NumFields())
	for _, f := range target.Fields() {
		if seen[f.Name] {
			return nil, &Error{Column: f.Name, Msg: "duplicate column name in the target schema"}
		}
		seen[f.Name] = true
	}
	if len(s.infos) == len(s.Files) {
		for i, info := range s.infos {
			if info == nil || info.path != s.Files[i].Path {
				continue
			}
			if err := checkColumns(info.path, info.names, target); err != nil {
				return nil, err
			}
			for j, name := range info.names {
				tf := target.Field(target.FieldIndices(name)[0])
				if info.textual && !textLoadable(tf.Type) {
					return nil, &Error{File: info.path, Column: name, Msg: fmt.Sprintf("cannot load text values into type %s", typeName(tf.Type))}
				}
				if !info.textual && !canConvert(info.types[j], tf.Type) {
					return nil, &Error{File: info.path, Column: name, Msg: fmt.Sprintf("cannot convert %s to %s", typeName(info.types[j]), typeName(tf.Type))}
				}
			}
		}
	}
	r := &multiReader{ctx: ctx, files: s.Files, schema: target}
	r.refs.Store(1)
	return r, nil
}

// multiReader reads the files one after another.
type multiReader struct {
	refs   atomic.Int64
	ctx    context.Context
	files  []File
	schema *arrow.Schema
	idx    int        // next file to open
	cur    fileReader // open file, or nil
	rec    arrow.RecordBatch
	err    error
}

var _ array.RecordReader = (*multiReader)(nil)

// Retain increases the reference count.
func (r *multiReader) Retain() { r.refs.Add(1) }

// Release decreases the reference count and closes the reader at zero.
func (r *multiReader) Release() {
	if r.refs.Add(-1) != 0 {
		return
	}
	if r.rec != nil {
		r.rec.Release()
		r.rec = nil
	}
	if r.cur != nil {
		r.cur.close()
		r.cur = nil
	}
	r.idx = len(r.files)
}

// Schema returns the target schema.
func (r *multiReader) Schema() *arrow.Schema { return r.schema }

// RecordBatch returns the current batch, valid until the next call to Next.
func (r *multiReader) RecordBatch() arrow.RecordBatch { return r.rec }

// Record returns the current batch.
//
// Deprecated: use RecordBatch.
func (r *multiReader) Record() arrow.RecordBatch { return r.rec }

// Err returns the error that stopped Next, if any.
func (r *multiReader) Err() error { return r.err }

// Next advances to the next non-empty batch.
func (r *multiReader) Next() bool {
	if r.rec != nil {
		r.rec.Release()
		r.rec = nil
	}
	if r.err != nil {
		return false
	}
	for {
		if r.cur == nil {
			if r.idx >= len(r.files) {
				return false
			}
			f := r.files[r.idx]
			r.idx++
			cur, err := openReader(r.ctx, f, r.schema)
			if err != nil {
				r.err = err
				return false
			}
			r.cur = cur
		}
		rec, err := r.cur.next(r.ctx)
		if err != nil {
			r.err = err
			r.cur.close()
			r.cur = nil
			return false
		}
		if rec == nil {
			r.cur.close()
			r.cur = nil
			continue
		}
		r.rec = rec
		return true
	}
}

// openReader opens the reader for one file.
func openReader(ctx context.Context, f File, target *arrow.Schema) (fileReader, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	switch f.Format {
	case CSV:
		return newCSVReader(f, target)
	case JSONL:
		return newJSONLReader(f, target)
	case Parquet:
		return newParquetReader(ctx, f, target)
	}
	return nil, &Error{File: f.Path, Msg: fmt.Sprintf("unknown format %q", f.Format)}
}
