package table

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"runtime"
	"strconv"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/iceberg-go"
	icetable "github.com/apache/iceberg-go/table"
	"github.com/google/uuid"
	"github.com/tarnhq/tarn"
)

// ParquetWrite asks a ParquetWriter to write the rows of an Arrow IPC file
// as Parquet data files of an Iceberg table.
type ParquetWrite struct {
	Source string // Arrow IPC file
	// Paths are the local files to write, in row order: the writer splits
	// the rows into len(Paths) contiguous parts of about equal size. Each
	// file must appear whole or not at all (write then rename).
	Paths []string
	// FieldIDs maps each top-level column to its Iceberg field id; the
	// writer stores it as the Parquet field id so that readers resolve
	// columns by id after schema evolution.
	FieldIDs map[string]int
	// Schema is the table's Arrow schema, as an Arrow IPC stream holding
	// only the schema: the writer casts columns whose type differs (safe
	// casts only) and reports ErrCannotCast when one does not convert.
	Schema      []byte
	Compression string // zstd, snappy, gzip, lz4 or none
	Level       int    // compression level, 0 for the codec's default
	// Partition, for a partitioned table, says how rows are grouped: the
	// writer then ignores Paths and writes into Dir files named
	// Prefix-NNNNN.parquet, each holding rows of one partition (and about
	// PartBytes of Arrow data at most), and returns their paths. A file's
	// partition values are read from its column statistics, so the
	// writer must not mix partitions in one file.
	Partition []PartitionField
	Dir       string
	Prefix    string
	PartBytes int64
	// Put, when set, stores a finished file at its destination (a path
	// above, an s3:// URL for a table in an object store) in place of the
	// writer moving it there: the writer calls it for each file it wrote,
	// concurrently, and still owns (and removes) the local file.
	Put func(ctx context.Context, local, dst string) error
}

// PartitionField is one field of a partition spec as a ParquetWriter
// groups rows by it: the top-level source column and its transform
// (identity, year, month, day, hour, truncate with Width, bucket with
// Buckets).
type PartitionField struct {
	Column    string `json:"column"`
	Transform string `json:"transform"`
	Width     int    `json:"width,omitempty"`
	Buckets   int    `json:"buckets,omitempty"`
	// exact is set when a file's column statistics give its partition
	// value exactly (an order-preserving transform of an integer, date or
	// timestamp column): files can then be registered again from their
	// footers alone (MaterializeRequest.Reuse).
	exact bool
}

// ParquetFile is a file a ParquetWriter wrote.
type ParquetFile struct {
	Path string
	// Partition, for a partitioned write, holds for each Partition field
	// the value of its source column in the file's rows, as JSON: null, a
	// number or a string, dates as days and timestamps as microseconds
	// since the epoch. The file's partition values are computed from it
	// with iceberg-go's transforms, so the writer only groups rows.
	Partition []json.RawMessage
}

// ParquetWriter writes Parquet data files from an Arrow IPC file. The
// pipeline implements it with pyarrow in the step's own environment (about
// twice as fast as the Go Parquet writer, and it runs beside the DAG).
// Materialize uses it for tables whose columns are the output's (types may
// differ by a safe cast) and whose partition spec it can write, on the
// local disk or in an object store (the files are then uploaded through
// ParquetWrite.Put), and writes through iceberg-go otherwise.
type ParquetWriter interface {
	// WriteParquet returns the files it wrote: all of them, or none when
	// the input has no rows.
	WriteParquet(ctx context.Context, w ParquetWrite) ([]ParquetFile, error)
}

// ErrCannotCast is what a ParquetWriter returns when the output does not
// convert to the table's types; Materialize then writes through iceberg-go,
// which reports the column that does not fit.
var ErrCannotCast = errors.New("output does not convert to the table's types")

// ErrWriterDeclined is what a ParquetWriter returns (wrapped) for an
// output it does not write, such as a partition column holding nulls;
// Materialize then writes through iceberg-go.
var ErrWriterDeclined = errors.New("the Parquet writer declined the output")

// parquetPartBytes is the Arrow size of the rows that go into one data
// file when a ParquetWriter writes an output (the compressed file is 4-8
// times smaller). Parts are written in parallel.
const parquetPartBytes = 384 << 20

// maxParquetParts bounds the number of data files of one write.
const maxParquetParts = 16

// minParquetPartBytes is the smallest part an output is split into so
// that every core writes one: below it, one file.
const minParquetPartBytes = 64 << 20

// parquetParts is how many files an output of size bytes of Arrow is
// written as: parts of at most parquetPartBytes, and at least one per
// core while each keeps minParquetPartBytes (pyarrow writes a file on
// one thread), up to maxParquetParts.
func parquetParts(size int64, cpus int) int {
	parts := (size + parquetPartBytes - 1) / parquetPartBytes
	parts = max(parts, min(int64(cpus), size/minParquetPartBytes))
	return int(min(max(1, parts), maxParquetParts))
}

// Writers named by MaterializeResult.Writer.
const (
	WriterPyArrow   = "pyarrow"
	WriterIcebergGo = "iceberg-go"
)

// writeParquet writes the output with req.Writer (or publishes req.Reuse)
// and adds the files to the table, replacing the current data files that
// replace selects (AlwaysTrue: all of them; nil: none), then commits the
// transaction into the session. A nil
// result without an error means the fast path does not apply and the
// caller must write through iceberg-go; why says what it did not take
// ("" when no Writer was given).
func (s *Service) writeParquet(ctx context.Context, ss *Session, tbl *icetable.Table, tx *icetable.Transaction, schema *arrow.Schema, req MaterializeRequest, replace iceberg.BooleanExpression, sets map[int]map[any]bool) (_ *MaterializeResult, why string, _ error) {
	if req.Writer == nil {
		return nil, "", nil
	}
	dir, remote := tableDir(tbl.Location())
	if dir == "" {
		return nil, "the table's location " + tbl.Location() + " is neither a local folder nor s3://", nil
	}
	staged, err := tx.StagedTable()
	if err != nil {
		return nil, "", err
	}
	target, err := icetable.SchemaToArrowSchema(staged.Schema(), nil, false, false)
	if err != nil || !sameFlatColumns(schema, target) {
		return nil, "the output's columns are not the table's, or nested", nil
	}
	ids := map[string]int{}
	for _, f := range staged.Schema().Fields() {
		ids[f.Name] = f.ID
	}
	spec := staged.Spec()
	partition, why := writerPartition(spec, staged.Schema())
	if why != "" {
		return nil, why, nil
	}
	var old []iceberg.DataFile
	if replace != nil && tbl.CurrentSnapshot() != nil {
		if old, why, err = replaced(ctx, tbl, replace, sets); why != "" || err != nil {
			return nil, why, err
		}
	}
	res := &MaterializeResult{Writer: WriterPyArrow}
	var written []string
	var files []iceberg.DataFile
	if replace == (iceberg.AlwaysTrue{}) && req.Reuse != nil && maps.Equal(req.Reuse.FieldIDs, ids) && !remote && allExact(partition) && allExist(req.Reuse.Paths) {
		if sameFiles(old, req.Reuse.Paths) {
			// Already the table's content: nothing to write, nothing to commit.
			e, err := ss.entry(ctx, req.Ident.Key())
			res := &MaterializeResult{Entry: e, Files: req.Reuse, Reused: true, Unchanged: true}
			for _, f := range old {
				res.Bytes += f.FileSizeBytes()
			}
			return res, "", err
		}
		written, res.Reused = req.Reuse.Paths, true
	} else {
		out, why, err := s.callWriter(ctx, ss, dir, remote, staged, schema, target, ids, partition, req)
		if why != "" || err != nil {
			return nil, why, err
		}
		written, files, res.Writer = out.paths, out.files, out.writer
	}
	if files == nil {
		fs, err := staged.FS(ctx)
		if err != nil {
			return nil, "", err
		}
		for _, p := range written {
			df, err := icetable.FileToDataFile(ctx, fs, "file://"+p, staged.Schema(), staged.Spec(), 0, staged.Properties())
			if err != nil {
				return nil, "", tarn.Errorf(tarn.EINTERNAL, "read back data file %s of %s: %v", p, req.Ident, err)
			}
			files = append(files, df)
		}
	}
	if len(old) > 0 {
		err = tx.ReplaceDataFilesWithDataFiles(ctx, old, files, iceberg.Properties{})
	} else {
		err = tx.AddDataFiles(ctx, files, iceberg.Properties{})
	}
	if err != nil {
		return nil, "", tarn.Errorf(tarn.EINVALID, "write %s: %w", req.Ident, err)
	}
	if _, err := tx.Commit(ctx); err != nil {
		return nil, "", translate(err, "commit table "+req.Ident.String())
	}
	res.Entry, err = ss.entry(ctx, req.Ident.Key())
	res.Files = &DataFiles{Paths: written, FieldIDs: ids}
	for _, f := range files {
		res.Bytes += f.FileSizeBytes()
	}
	return res, "", err
}

// tableDir is the folder of a table's files as a ParquetWriter names
// them: a local path, or for an object store the s3:// URL itself
// (remote set); "" for anything else.
func tableDir(loc string) (dir string, remote bool) {
	if p, ok := strings.CutPrefix(loc, "file://"); ok && strings.HasPrefix(p, "/") {
		return strings.TrimSuffix(p, "/"), false
	}
	if strings.HasPrefix(loc, "s3://") || strings.HasPrefix(loc, "s3a://") {
		return strings.TrimSuffix(loc, "/"), true
	}
	return "", false
}

// writerOutput is what a ParquetWriter wrote: the files' paths, and for a
// table in an object store their data files, read from the local copies
// before they were uploaded.
type writerOutput struct {
	paths  []string
	files  []iceberg.DataFile
	writer string // WriterPyArrow, or WriterArrowGo for a small output
}

// callWriter has req.Writer write the output into the table's data
// directory (uploading each file for a remote table). why is set when
// there is nothing to add (no rows) or the writer did not take the
// output (it does not cast to the table's types, or it declined).
func (s *Service) callWriter(ctx context.Context, ss *Session, dir string, remote bool, staged *icetable.StagedTable, source, target *arrow.Schema, ids map[string]int, partition []PartitionField, req MaterializeRequest) (_ *writerOutput, why string, _ error) {
	props := staged.Properties()
	var schemaMsg bytes.Buffer
	sw := ipc.NewWriter(&schemaMsg, ipc.WithSchema(stripMetadata(target)))
	if err := sw.Close(); err != nil {
		return nil, "", err
	}
	st, err := os.Stat(req.Path)
	if err != nil {
		return nil, "", err
	}
	data := dir + "/data"
	prefix := uuid.NewString()
	codec, level := parquetCodec(props)
	w := ParquetWrite{Source: req.Path, FieldIDs: ids, Schema: schemaMsg.Bytes(), Compression: codec, Level: level}
	if len(partition) > 0 {
		w.Partition, w.Dir, w.Prefix, w.PartBytes = partition, data, prefix, parquetPartBytes
	} else {
		parts := parquetParts(st.Size(), runtime.NumCPU())
		w.Paths = make([]string, parts)
		for i := range w.Paths {
			w.Paths[i] = fmt.Sprintf("%s/%s-%05d.parquet", data, prefix, i)
		}
		ss.record(w.Paths...)
	}
	var up *uploads
	if remote {
		if up, err = s.newUploads(ctx, ss, staged); err != nil {
			return nil, "", err
		}
		w.Put = up.put
	} else if err := os.MkdirAll(data, 0o755); err != nil {
		return nil, "", tarn.Errorf(tarn.EINTERNAL, "create data directory of %s: %v", req.Ident, err)
	}
	var wrote []ParquetFile
	writer := WriterPyArrow
	if writesSmall(w, source, target, st.Size(), req.InProcessBytes) {
		wrote, err = writeSmall(ctx, w)
		writer = WriterArrowGo
	}
	if writer == WriterPyArrow || errors.Is(err, errSmallUnread) {
		wrote, err = req.Writer.WriteParquet(ctx, w)
		writer = WriterPyArrow
	}
	written := make([]string, len(wrote))
	for i, f := range wrote {
		written[i] = f.Path
	}
	if len(partition) > 0 {
		ss.record(written...) // named by the writer: known once written
	}
	if errors.Is(err, ErrCannotCast) || errors.Is(err, ErrWriterDeclined) {
		return nil, strings.TrimPrefix(err.Error(), ErrWriterDeclined.Error()+": "), nil
	}
	if err != nil {
		return nil, "", tarn.Errorf(tarn.EINTERNAL, "write Parquet files of %s: %w", req.Ident, err)
	}
	if len(written) == 0 {
		return nil, "the output has no rows", nil
	}
	out := &writerOutput{paths: written, writer: writer}
	if up != nil {
		if out.files, err = up.dataFiles(written); err != nil {
			return nil, "", tarn.Errorf(tarn.EINTERNAL, "write Parquet files of %s: %w", req.Ident, err)
		}
	} else {
		fs, err := staged.FS(ctx)
		if err != nil {
			return nil, "", err
		}
		for _, p := range written {
			df, err := icetable.FileToDataFile(ctx, fs, "file://"+p, staged.Schema(), *iceberg.UnpartitionedSpec, 0, props)
			if err != nil {
				return nil, "", tarn.Errorf(tarn.EINTERNAL, "read back data file %s of %s: %v", p, req.Ident, err)
			}
			out.files = append(out.files, df)
		}
	}
	if len(partition) > 0 {
		for i, f := range wrote {
			if out.files[i], err = withPartition(out.files[i], staged.Spec(), staged.Schema(), f.Partition); err != nil {
				return nil, "", tarn.Errorf(tarn.EINTERNAL, "partition values of %s of %s: %v", f.Path, req.Ident, err)
			}
		}
	}
	return out, "", nil
}

func allExist(paths []string) bool {
	for _, p := range paths {
		if _, err := os.Stat(p); err != nil {
			return false
		}
	}
	return len(paths) > 0
}

// sameFiles reports whether the table's data files are exactly paths.
func sameFiles(files []iceberg.DataFile, paths []string) bool {
	if len(files) != len(paths) {
		return false
	}
	want := map[string]bool{}
	for _, p := range paths {
		want[p] = true
	}
	for _, f := range files {
		if !want[strings.TrimPrefix(f.FilePath(), "file://")] {
			return false
		}
	}
	return true
}

// sameFlatColumns reports whether two schemas have the same top-level
// columns, in order, none of them nested.
func sameFlatColumns(a, b *arrow.Schema) bool {
	if a.NumFields() != b.NumFields() {
		return false
	}
	for i := range a.NumFields() {
		fa, fb := a.Field(i), b.Field(i)
		if fa.Name != fb.Name {
			return false
		}
		_, na := fa.Type.(arrow.NestedType)
		_, nb := fb.Type.(arrow.NestedType)
		if na || nb {
			return false
		}
	}
	return true
}

// parquetCodec reads the table's Parquet compression properties, with
// tarn's defaults: zstd at level 1 (Iceberg's default codec, at the level
// that costs about as much time as snappy for a quarter smaller files).
func parquetCodec(props iceberg.Properties) (string, int) {
	codec := strings.ToLower(props.Get(icetable.ParquetCompressionKey, "zstd"))
	if codec == "uncompressed" {
		codec = "none"
	}
	level := 1
	if v, ok := props[icetable.ParquetCompressionLevelKey]; ok {
		if n, err := strconv.Atoi(v); err == nil {
			level = n
		}
	} else if codec != "zstd" {
		level = 0
	}
	return codec, level
}
