package table

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/compress"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
)

// SmallOutputBytes is the size of Arrow IPC file up to which the
// pipeline has Materialize write a step's output in this process rather
// than with its ParquetWriter (MaterializeRequest.InProcessBytes): the
// pyarrow writer is a sandboxed interpreter started for the write
// (0.15-0.25 s before its first byte), arrow-go writes about 240 MB/s,
// so below this it finishes first (16 MiB: ~70 ms).
const SmallOutputBytes = 16 << 20

// WriterArrowGo names (MaterializeResult.Writer) an output written in
// tarn's own process (see MaterializeRequest.InProcessBytes).
const WriterArrowGo = "arrow-go"

// errSmallUnread is writeSmall's error for an output arrow-go could not
// read (see writeSmall).
var errSmallUnread = errors.New("arrow-go could not read the output")

// smallCodecs are the codecs the in-process writer writes exactly as the
// pyarrow writer would; others (lz4, whose Parquet flavour pyarrow picks)
// go to the ParquetWriter.
var smallCodecs = map[string]compress.Compression{
	"zstd": compress.Codecs.Zstd, "snappy": compress.Codecs.Snappy, "gzip": compress.Codecs.Gzip, "none": compress.Codecs.Uncompressed,
}

// writesSmall says whether writeSmall takes w: an unpartitioned output of
// one file, at most limit bytes of Arrow, whose columns are the
// table's (target) with the same types (no cast), in a codec it writes.
func writesSmall(w ParquetWrite, source, target *arrow.Schema, size, limit int64) bool {
	if size > limit || len(w.Partition) > 0 || len(w.Paths) != 1 || source.NumFields() != target.NumFields() {
		return false
	}
	if _, ok := smallCodecs[w.Compression]; !ok {
		return false
	}
	for i, f := range source.Fields() {
		t := target.Field(i)
		if f.Name != t.Name || !arrow.TypeEqual(f.Type, t.Type) {
			return false
		}
		if _, ok := w.FieldIDs[f.Name]; !ok {
			return false
		}
	}
	return true
}

// writeSmall writes the rows of w.Source as the single file w.Paths[0],
// with the Parquet field ids of w.FieldIDs, every column optional (as the
// pyarrow writer does), in one row group (what writesSmall accepts is
// small), through w.Put when set (the local file then goes in the
// temporary directory): the file appears whole or not at all. It returns
// nothing when the output has no rows, as a ParquetWriter does.
//
// The output was written by user code: when arrow-go cannot read it (or
// panics on what its reader did not check), the error is errSmallUnread,
// upon which the caller hands the output to the ParquetWriter in the
// sandbox, which reports what is wrong with it as before.
func writeSmall(ctx context.Context, w ParquetWrite) (_ []ParquetFile, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: %v", errSmallUnread, r)
		}
	}()
	rdr, closeFile, err := openIPC(w.Source)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errSmallUnread, err)
	}
	defer closeFile()
	src := rdr.Schema()
	fields := make([]arrow.Field, src.NumFields())
	for i, f := range src.Fields() {
		f.Nullable = true
		f.Metadata = arrow.NewMetadata([]string{"PARQUET:field_id"}, []string{strconv.Itoa(w.FieldIDs[f.Name])})
		fields[i] = f
	}
	schema := arrow.NewSchema(fields, nil)
	dst := w.Paths[0]
	dir := filepath.Dir(dst)
	if w.Put != nil {
		dir = "" // dst is in an object store: written locally, then put
	}
	tmp, err := os.CreateTemp(dir, ".small-*.parquet")
	if err != nil {
		return nil, err
	}
	defer os.Remove(tmp.Name()) // after the rename, or the put, nothing is there
	defer tmp.Close()
	opts := []parquet.WriterProperty{parquet.WithCompression(smallCodecs[w.Compression]), parquet.WithStats(true)}
	if w.Level != 0 && w.Compression != "none" {
		opts = append(opts, parquet.WithCompressionLevel(w.Level))
	}
	fw, err := pqarrow.NewFileWriter(schema, tmp, parquet.NewWriterProperties(opts...), pqarrow.NewArrowWriterProperties(pqarrow.WithAllocator(memory.DefaultAllocator)))
	if err != nil {
		return nil, err
	}
	rows := int64(0)
	for rdr.Next() {
		rec := rdr.RecordBatch()
		rows += rec.NumRows()
		if rec.NumRows() == 0 {
			continue
		}
		batch := array.NewRecordBatch(schema, rec.Columns(), rec.NumRows())
		err = fw.WriteBuffered(batch)
		batch.Release()
		if err != nil {
			fw.Close()
			return nil, fmt.Errorf("write %s: %w", filepath.Base(dst), err)
		}
	}
	if err := rdr.Err(); err != nil {
		fw.Close()
		return nil, fmt.Errorf("%w: %v", errSmallUnread, err)
	}
	if err := fw.Close(); err != nil { // closes tmp too
		return nil, fmt.Errorf("write %s: %w", filepath.Base(dst), err)
	}
	if rows == 0 {
		return nil, nil
	}
	if w.Put != nil {
		if err := w.Put(ctx, tmp.Name(), dst); err != nil {
			return nil, err
		}
	} else if err := os.Rename(tmp.Name(), dst); err != nil {
		return nil, err
	}
	return []ParquetFile{{Path: dst}}, nil
}
