package ingest

import (
	"context"
	"fmt"
	"os"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
)

// parquetFile is an open Parquet file with its Arrow schema as stored.
type parquetFile struct {
	pf     *file.Reader
	fr     *pqarrow.FileReader
	schema *arrow.Schema
}

// openParquet opens a Parquet file and reads its footer.
func openParquet(f File, batch int64) (*parquetFile, error) {
	osf, err := os.Open(f.Path)
	if err != nil {
		return nil, fmt.Errorf("reading input: %w", err)
	}
	pf, err := file.NewParquetReader(osf)
	if err != nil {
		osf.Close()
		return nil, &Error{File: f.Path, Msg: fmt.Sprintf("not a valid parquet file: %v", err)}
	}
	fr, err := pqarrow.NewFileReader(pf, pqarrow.ArrowReadProperties{BatchSize: batch}, mem)
	if err != nil {
		pf.Close()
		return nil, &Error{File: f.Path, Msg: fmt.Sprintf("unsupported parquet schema: %v", err)}
	}
	sc, err := fr.Schema()
	if err != nil {
		pf.Close()
		return nil, &Error{File: f.Path, Msg: fmt.Sprintf("unsupported parquet schema: %v", err)}
	}
	return &parquetFile{pf: pf, fr: fr, schema: sc}, nil
}

func (p *parquetFile) close() error { return p.pf.Close() }

// parquetType maps a stored Parquet column type to the type ingest exposes:
// timestamps become microseconds (same time zone), uint8/16/32 become long,
// large and view strings and binaries their plain variants, dictionaries
// their value type. ok is false for uint64, which has no lossless signed
// equivalent.
func parquetType(dt arrow.DataType) (out arrow.DataType, ok bool) {
	switch dt.ID() {
	case arrow.TIMESTAMP:
		ts := dt.(*arrow.TimestampType)
		if ts.Unit != arrow.Microsecond {
			return &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: ts.TimeZone}, true
		}
	case arrow.UINT8, arrow.UINT16, arrow.UINT32:
		return arrow.PrimitiveTypes.Int64, true
	case arrow.UINT64:
		return nil, false
	case arrow.LARGE_STRING, arrow.STRING_VIEW:
		return arrow.BinaryTypes.String, true
	case arrow.LARGE_BINARY, arrow.BINARY_VIEW:
		return arrow.BinaryTypes.Binary, true
	case arrow.DICTIONARY:
		return parquetType(dt.(*arrow.DictionaryType).ValueType)
	}
	return dt, true
}

// inferParquet reads the schema from a Parquet file's footer.
func inferParquet(f File) (*fileInfo, error) {
	p, err := openParquet(f, 0)
	if err != nil {
		return nil, err
	}
	defer p.close()
	if err := checkFields(f.Path, p.schema.Fields(), true); err != nil {
		return nil, err
	}
	info := &fileInfo{}
	for _, fld := range p.schema.Fields() {
		dt, ok := parquetType(fld.Type)
		if !ok {
			return nil, &Error{File: f.Path, Column: fld.Name, Msg: "unsigned 64-bit integers are not supported"}
		}
		info.names = append(info.names, fld.Name)
		info.types = append(info.types, dt)
	}
	return info, nil
}

// parquetReader produces record batches of the target schema from a
// Parquet file, converting column types where they differ.
type parquetReader struct {
	p      *parquetFile
	path   string
	target *arrow.Schema
	srcIdx []int // per target field: file column index, or -1
	rr     pqarrow.RecordReader
	rows   int64 // rows returned so far
}

func newParquetReader(ctx context.Context, f File, target *arrow.Schema) (*parquetReader, error) {
	p, err := openParquet(f, batchRows)
	if err != nil {
		return nil, err
	}
	r := &parquetReader{p: p, path: f.Path, target: target, srcIdx: make([]int, target.NumFields())}
	names := make([]string, p.schema.NumFields())
	for i, fld := range p.schema.Fields() {
		names[i] = fld.Name
	}
	if err := checkColumns(f.Path, names, target); err != nil {
		p.close()
		return nil, err
	}
	for ti, tf := range target.Fields() {
		r.srcIdx[ti] = -1
		idx := p.schema.FieldIndices(tf.Name)
		if len(idx) == 0 {
			continue
		}
		r.srcIdx[ti] = idx[0]
		from := p.schema.Field(idx[0]).Type
		if !canConvert(from, tf.Type) {
			p.close()
			return nil, &Error{File: f.Path, Column: tf.Name, Msg: fmt.Sprintf("cannot convert %s to %s", typeName(from), typeName(tf.Type))}
		}
	}
	if p.pf.NumRows() == 0 || p.schema.NumFields() == 0 {
		return r, nil
	}
	r.rr, err = p.fr.GetRecordReader(ctx, nil, nil)
	if err != nil {
		p.close()
		return nil, &Error{File: f.Path, Msg: fmt.Sprintf("unreadable parquet data: %v", err)}
	}
	return r, nil
}

// next returns the next batch, or nil at the end of the file.
func (r *parquetReader) next(ctx context.Context) (arrow.RecordBatch, error) {
	if r.rr == nil {
		return nil, nil
	}
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if !r.rr.Next() {
			if err := r.rr.Err(); err != nil {
				if ctx.Err() != nil {
					return nil, ctx.Err()
				}
				return nil, &Error{File: r.path, Msg: fmt.Sprintf("unreadable parquet data: %v", err)}
			}
			return nil, nil
		}
		rec := r.rr.RecordBatch()
		if rec.NumRows() == 0 {
			continue
		}
		out, err := r.convert(ctx, rec)
		r.rows += rec.NumRows()
		return out, err
	}
}

// convert builds a record of the target schema from a file record.
func (r *parquetReader) convert(ctx context.Context, rec arrow.RecordBatch) (arrow.RecordBatch, error) {
	n := rec.NumRows()
	cols := make([]arrow.Array, 0, r.target.NumFields())
	defer func() {
		for _, c := range cols {
			c.Release()
		}
	}()
	for ti, tf := range r.target.Fields() {
		si := r.srcIdx[ti]
		if si < 0 {
			cols = append(cols, array.MakeArrayOfNull(mem, tf.Type, int(n)))
			continue
		}
		col, err := convertArray(ctx, rec.Column(si), tf.Type, r.path, tf.Name, r.rows+1)
		if err != nil {
			return nil, err
		}
		cols = append(cols, col)
		if !tf.Nullable && col.NullN() > 0 {
			return nil, &Error{File: r.path, Column: tf.Name, Msg: errNotNullable}
		}
	}
	return array.NewRecordBatch(r.target, cols, n), nil
}

func (r *parquetReader) close() {
	if r.rr != nil {
		r.rr.Release()
	}
	r.p.close()
}
