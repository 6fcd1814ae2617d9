package table

import (
	"context"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"io"
	"iter"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/compute"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/iceberg-go"
	icecat "github.com/apache/iceberg-go/catalog"
	icetable "github.com/apache/iceberg-go/table"
	"github.com/tarnhq/tarn"
	"github.com/tarnhq/tarn/ingest"
)

// ExportRequest selects what of a table to export.
type ExportRequest struct {
	Ident   tarn.TableIdent
	Ref     string   // any ref; pipelines pass a full commit hash
	Columns []string // nil: all
	Filter  string   // a row filter (see RowFilter); "" for none
}

// ExportResult describes an export.
type ExportResult struct {
	Rows   int64
	Schema *arrow.Schema
	// Bytes is the file's size and CRC32C its CRC-32C (Castagnoli),
	// computed as it was written.
	Bytes  int64
	CRC32C uint32
}

// ExportArrow writes the selected columns and rows of a table as an Arrow
// IPC file at path (written to a temporary name and renamed). Columns are
// pushed into the Iceberg scan, and of the filter what Iceberg can prune
// by (see RowFilter.pushdown): files are pruned by partition and column
// statistics, and only selected columns (and those the filter reads) are
// decoded. The whole filter is then applied to the rows.
func (s *Service) ExportArrow(ctx context.Context, req ExportRequest, path string) (*ExportResult, error) {
	tbl, _, err := s.Load(ctx, req.Ident, req.Ref)
	if err != nil {
		return nil, err
	}
	names := fieldNames(tbl.Schema())
	for _, c := range req.Columns {
		if _, ok := tbl.Schema().FindFieldByName(c); !ok {
			return nil, tarn.Errorf(tarn.EINVALID, "table %s has no column %q%s", req.Ident, c, tarn.Suggest(c, names))
		}
	}
	var filter *RowFilter
	if req.Filter != "" {
		if filter, err = ParseRowFilter(req.Filter); err == nil {
			err = filter.checkColumns(names)
		}
		if err != nil {
			return nil, tarn.Errorf(tarn.EINVALID, "input %s: %w", req.Ident, err)
		}
	}
	scanSchema, records, err := scanFiltered(ctx, tbl, req.Columns, filter)
	if err != nil {
		return nil, fmt.Errorf("scan %s: %w", req.Ident, err)
	}
	var rows *boundFilter
	if filter != nil {
		if rows, err = filter.bind(scanSchema); err != nil {
			return nil, tarn.Errorf(tarn.EINVALID, "input %s: %w", req.Ident, err)
		}
	}
	// The output has the requested columns (all when none were), in the
	// scan's order, without those only the filter needed.
	var keep []int
	var fields []arrow.Field
	for i, f := range scanSchema.Fields() {
		if len(req.Columns) == 0 || slices.Contains(req.Columns, f.Name) {
			keep = append(keep, i)
			fields = append(fields, arrow.Field{Name: f.Name, Type: f.Type, Nullable: f.Nullable})
		}
	}
	schema := arrow.NewSchema(fields, nil)
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return nil, fmt.Errorf("export %s: %w", req.Ident, err)
	}
	defer os.Remove(tmp)
	sum := &checksumWriter{w: f, h: crc32.New(crc32.MakeTable(crc32.Castagnoli))}
	w, err := ipc.NewFileWriter(sum, ipc.WithSchema(schema))
	if err != nil {
		f.Close()
		return nil, err
	}
	res := &ExportResult{Schema: schema}
	for rec, err := range records {
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("scan %s: %w", req.Ident, err)
		}
		if rows != nil {
			filtered, err := rows.apply(ctx, rec)
			rec.Release()
			if err != nil {
				f.Close()
				return nil, fmt.Errorf("filter %s: %w", req.Ident, err)
			}
			rec = filtered
		}
		cols := make([]arrow.Array, len(keep))
		for i, k := range keep {
			cols[i] = rec.Column(k)
		}
		out := array.NewRecordBatch(schema, cols, rec.NumRows())
		err = w.Write(out)
		res.Rows += rec.NumRows()
		out.Release()
		rec.Release()
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("write %s: %w", path, err)
		}
	}
	if err := w.Close(); err != nil {
		f.Close()
		return nil, err
	}
	if err := f.Close(); err != nil {
		return nil, err
	}
	res.Bytes, res.CRC32C = sum.n, sum.h.Sum32()
	return res, os.Rename(tmp, path)
}

// checksumWriter counts and checksums what it writes through.
type checksumWriter struct {
	w io.Writer
	h hash.Hash32
	n int64
}

func (c *checksumWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.h.Write(p[:n])
	c.n += int64(n)
	return n, err
}

// scanFiltered scans the columns (all when none) and those the filter
// reads, pruned by the filter's pushdown. Files are planned with all of
// it; the planned files are read with the part that iceberg-go's record
// filter evaluates correctly (see RowFilter.pushdown), which also prunes
// Parquet row groups. The rows still need the whole filter.
func scanFiltered(ctx context.Context, tbl *icetable.Table, columns []string, filter *RowFilter) (*arrow.Schema, iter.Seq2[arrow.RecordBatch, error], error) {
	scan := func(rowFilter iceberg.BooleanExpression) *icetable.Scan {
		opts := []icetable.ScanOption{icetable.WithRowFilter(rowFilter)}
		if len(columns) > 0 {
			var selected []string
			if filter != nil {
				selected = filter.Columns()
			}
			opts = append(opts, icetable.WithSelectedFields(append(slices.Clone(columns), selected...)...))
		}
		return tbl.Scan(opts...)
	}
	if filter == nil {
		return scan(iceberg.AlwaysTrue{}).ToArrowRecords(ctx)
	}
	planning, reading := filter.pushdown(tbl.Schema(), false), filter.pushdown(tbl.Schema(), true)
	if planning.Equals(reading) {
		return scan(planning).ToArrowRecords(ctx)
	}
	tasks, err := scan(planning).PlanFiles(ctx)
	if err != nil {
		return nil, nil, err
	}
	for i := range tasks {
		tasks[i].Residual = nil // the residual of planning would bring the left-out comparisons back
	}
	return scan(reading).ReadTasks(ctx, tasks)
}

func stripMetadata(s *arrow.Schema) *arrow.Schema {
	fields := make([]arrow.Field, s.NumFields())
	for i, f := range s.Fields() {
		fields[i] = arrow.Field{Name: f.Name, Type: f.Type, Nullable: f.Nullable}
	}
	return arrow.NewSchema(fields, nil)
}

// Strategy says how a pipeline output is written to its table.
type Strategy string

// Materialization strategies.
const (
	StrategyNone                Strategy = "NONE"
	StrategyReplace             Strategy = "REPLACE"
	StrategyAppend              Strategy = "APPEND"
	StrategyOverwritePartitions Strategy = "OVERWRITE_PARTITIONS"
)

// MaterializeRequest asks to write an Arrow IPC file into a table.
type MaterializeRequest struct {
	Ident           tarn.TableIdent
	Path            string // Arrow IPC file
	Strategy        Strategy
	PartitionBy     string // for new tables, e.g. "day(ts), zone"
	OverwriteFilter string // OVERWRITE_PARTITIONS: rows to replace (SQL predicate)
	Properties      map[string]string
	// Writer, when set, writes the Parquet files of the tables it can
	// (see ParquetWriter).
	Writer ParquetWriter
	// InProcessBytes: an output the Writer would write, unpartitioned, of
	// at most this many bytes of Arrow and already of the table's types, is
	// written in this process instead, with arrow-go (WriterArrowGo), which
	// finishes before a writer process has started (0: never; the
	// pipeline uses SmallOutputBytes).
	InProcessBytes int64
	// Reuse, for REPLACE, names data files that already hold exactly the
	// output's rows (written by an earlier run of the same step): they are
	// published again instead of written, and when they are already the
	// table's whole content the table is left as it is.
	Reuse *DataFiles
}

// DataFiles are local Parquet data files and the Iceberg field ids of
// their columns.
type DataFiles struct {
	Paths    []string       `json:"paths"`
	FieldIDs map[string]int `json:"field_ids"`
}

// MaterializeResult describes a materialization.
type MaterializeResult struct {
	Entry *tarn.Entry
	// Files are the data files now holding the output's rows, when the
	// request's Writer wrote them (or Reuse's were published).
	Files *DataFiles
	// Reused is set when Reuse's files were published without a write;
	// Unchanged when they already were the table's content.
	Reused, Unchanged bool
	// Writer says which writer wrote the files (WriterPyArrow: the
	// request's Writer; WriterArrowGo: in this process, see
	// InProcessBytes; WriterIcebergGo), and Fallback, for iceberg-go, why
	// the request's Writer was not used.
	Writer, Fallback string
	// Bytes is the size of the files written or published, when known.
	Bytes int64
}

// goWrite is why the request's Writer did not take a write, which
// iceberg-go's writer then did.
type goWrite string

// result is the result of that write.
func (why goWrite) result(e *tarn.Entry, err error) (*MaterializeResult, error) {
	if err != nil {
		return nil, err
	}
	return &MaterializeResult{Entry: e, Writer: WriterIcebergGo, Fallback: string(why)}, nil
}

// Materialize writes an Arrow IPC file into a table in the session
// (staged; Flush commits). REPLACE overwrites all rows (recreating the
// table when the schema changed), APPEND appends (evolving the schema as
// Import does), OVERWRITE_PARTITIONS replaces the rows matching the
// overwrite filter, or when none is given the rows whose identity-partition
// values appear in the output.
func (s *Service) Materialize(ctx context.Context, ss *Session, req MaterializeRequest) (*MaterializeResult, error) {
	rdr, closeFile, err := openIPC(req.Path)
	if err != nil {
		return nil, err
	}
	defer closeFile()
	if err := ingest.CheckSchema(rdr.Schema()); err != nil {
		return nil, tarn.Errorf(tarn.EINVALID, "output: %w", err)
	}
	id := icetable.Identifier{req.Ident.Namespace, req.Ident.Name}
	incoming, err := icetable.ArrowSchemaToIcebergWithFreshIDs(rdr.Schema(), true)
	if err != nil {
		return nil, tarn.Errorf(tarn.EINVALID, "output of %s has an unsupported schema: %v", req.Ident, err)
	}
	if err := checkSchema(req.Ident, incoming); err != nil {
		return nil, err
	}
	if ns, err := ss.entry(ctx, tarn.NamespaceKey(req.Ident.Namespace)); err != nil {
		return nil, err
	} else if ns == nil {
		if err := ss.CreateNamespace(ctx, icetable.Identifier{req.Ident.Namespace}, nil); err != nil {
			return nil, err
		}
	}
	tbl, err := ss.LoadTable(ctx, id)
	if err != nil && !errors.Is(err, icecat.ErrNoSuchTable) {
		return nil, err
	}
	if tbl != nil && req.Strategy == StrategyReplace && !sameColumns(tbl.Schema(), incoming) {
		ss.set(req.Ident.Key(), nil) // schema changed: replace the table itself
		tbl = nil
	}
	if tbl == nil {
		spec, err := ParsePartitionSpec(req.PartitionBy, incoming)
		if err != nil {
			return nil, err
		}
		if tbl, err = ss.CreateTable(ctx, id, incoming, icecat.WithPartitionSpec(&spec), icecat.WithProperties(req.Properties)); err != nil {
			return nil, translate(err, "create table "+req.Ident.String())
		}
		tx := tbl.NewTransaction()
		res, why, err := s.writeParquet(ctx, ss, tbl, tx, rdr.Schema(), req, nil, nil)
		if res != nil || err != nil {
			return res, err
		}
		return goWrite(why).result(s.writeRecords(ctx, ss, tbl, tx, rdr, nil, req.Ident))
	}
	tx := tbl.NewTransaction()
	if len(req.Properties) > 0 {
		if err := tx.SetProperties(req.Properties); err != nil {
			return nil, err
		}
	}
	switch req.Strategy {
	case StrategyReplace:
		res, why, err := s.writeParquet(ctx, ss, tbl, tx, rdr.Schema(), req, iceberg.AlwaysTrue{}, nil)
		if res != nil || err != nil {
			return res, err
		}
		return goWrite(why).result(s.writeRecords(ctx, ss, tbl, tx, rdr, iceberg.AlwaysTrue{}, req.Ident))
	case StrategyAppend:
		if _, err := s.evolve(tx, tbl.Schema(), rdr.Schema(), req.Ident, "write into"); err != nil {
			return nil, err
		}
		res, why, err := s.writeParquet(ctx, ss, tbl, tx, rdr.Schema(), req, nil, nil)
		if res != nil || err != nil {
			return res, err
		}
		return goWrite(why).result(s.writeRecords(ctx, ss, tbl, tx, rdr, nil, req.Ident))
	case StrategyOverwritePartitions:
		if _, err := s.evolve(tx, tbl.Schema(), rdr.Schema(), req.Ident, "write into"); err != nil {
			return nil, err
		}
		filter, sets, err := overwriteFilter(tbl, req.OverwriteFilter, req.Path)
		if err != nil {
			return nil, err
		}
		why := "the pyarrow writer does not take an overwrite_filter"
		if sets != nil {
			var res *MaterializeResult
			if res, why, err = s.writeParquet(ctx, ss, tbl, tx, rdr.Schema(), req, filter, sets); res != nil || err != nil {
				return res, err
			}
		}
		return goWrite(why).result(s.writeRecords(ctx, ss, tbl, tx, rdr, filter, req.Ident))
	}
	return nil, tarn.Errorf(tarn.EINVALID, "unknown materialization strategy %q", req.Strategy)
}

// evolve stages in tx the schema changes that writing rows of the incoming
// schema into a table of the current one needs (see planEvolution), and
// checks the evolved schema (checkSchema); verb says what the write is
// ("import into", "write into") for messages.
func (s *Service) evolve(tx *icetable.Transaction, current *iceberg.Schema, incoming *arrow.Schema, ident tarn.TableIdent, verb string) ([]string, error) {
	changes, union, err := planEvolution(current, incoming)
	if err != nil {
		return nil, tarn.Errorf(tarn.EINVALID, "cannot %s %s: %w", verb, ident, err)
	}
	if len(changes) == 0 {
		return nil, nil
	}
	if err := tx.UpdateSchema(true, false).UnionByNameWith(union).Commit(); err != nil {
		return nil, tarn.Errorf(tarn.EINVALID, "cannot evolve the schema of %s: %v", ident, err)
	}
	staged, err := tx.StagedTable()
	if err != nil {
		return nil, err
	}
	if err := checkSchema(ident, staged.Schema()); err != nil {
		return nil, tarn.Errorf(tarn.EINVALID, "cannot %s %s: %w", verb, ident, err)
	}
	return changes, nil
}

// writeRecords appends (filter nil) or overwrites (filter set) the reader's
// rows, cast to the table's schema, and commits into the session.
func (s *Service) writeRecords(ctx context.Context, ss *Session, tbl *icetable.Table, tx *icetable.Transaction, rdr array.RecordReader, filter iceberg.BooleanExpression, ident tarn.TableIdent) (*tarn.Entry, error) {
	staged, err := tx.StagedTable()
	if err != nil {
		return nil, err
	}
	target, err := icetable.SchemaToArrowSchema(staged.Schema(), nil, false, false)
	if err != nil {
		return nil, err
	}
	cast := newCastReader(ctx, rdr, stripMetadata(target))
	defer cast.Release()
	if filter != nil {
		err = tx.Overwrite(ctx, cast, iceberg.Properties{}, icetable.WithOverwriteFilter(filter))
	} else {
		err = tx.Append(ctx, cast, iceberg.Properties{})
	}
	if err == nil {
		err = cast.err
	}
	if err != nil {
		return nil, tarn.Errorf(tarn.EINVALID, "write %s: %w", ident, err)
	}
	if _, err := tx.Commit(ctx); err != nil {
		return nil, translate(err, "commit table "+ident.String())
	}
	return ss.entry(ctx, ident.Key())
}

func sameColumns(a, b *iceberg.Schema) bool {
	af, bf := a.Fields(), b.Fields()
	if len(af) != len(bf) {
		return false
	}
	for i := range af {
		if af[i].Name != bf[i].Name || !af[i].Type.Equals(bf[i].Type) {
			return false
		}
	}
	return true
}

// overwriteFilter returns the rows an OVERWRITE_PARTITIONS write replaces
// and, when they are given by the output's identity partition values
// (no filter), those values by source column id.
func overwriteFilter(tbl *icetable.Table, filter, path string) (iceberg.BooleanExpression, map[int]map[any]bool, error) {
	if strings.TrimSpace(filter) != "" {
		expr, err := ParsePredicate(filter, tbl.Schema())
		if err != nil {
			return nil, nil, tarn.Errorf(tarn.EINVALID, "overwrite_filter of %s: %w", strings.Join(tbl.Identifier(), "."), err)
		}
		return expr, nil, nil
	}
	spec := tbl.Spec()
	var exprs []iceberg.BooleanExpression
	sets := map[int]map[any]bool{}
	for _, f := range spec.Fields() {
		if _, ok := f.Transform.(iceberg.IdentityTransform); !ok {
			return nil, nil, tarn.Errorf(tarn.EINVALID, "OVERWRITE_PARTITIONS on %s: partition field %s uses %s; give overwrite_filter to say which rows to replace",
				strings.Join(tbl.Identifier(), "."), f.Name, f.Transform)
		}
		col, _ := tbl.Schema().FindColumnName(f.SourceID())
		lits, err := distinctValues(path, col, tbl.Schema())
		if err != nil {
			return nil, nil, err
		}
		if len(lits) == 0 {
			return iceberg.AlwaysFalse{}, nil, nil
		}
		exprs = append(exprs, iceberg.SetPredicate(iceberg.OpIn, iceberg.Reference(col), lits))
		sets[f.SourceID()] = map[any]bool{}
		for _, lit := range lits {
			sets[f.SourceID()][lit.Any()] = true
		}
	}
	switch len(exprs) {
	case 0:
		return nil, nil, tarn.Errorf(tarn.EINVALID, "OVERWRITE_PARTITIONS on %s: the table is not partitioned; give overwrite_filter or partitioned_by", strings.Join(tbl.Identifier(), "."))
	case 1:
		return exprs[0], sets, nil
	}
	return iceberg.NewAnd(exprs[0], exprs[1], exprs[2:]...), sets, nil
}

// distinctValues reads one column of an IPC file and returns its distinct
// values as literals of the column's type.
func distinctValues(path, col string, schema *iceberg.Schema) ([]iceberg.Literal, error) {
	rdr, closeFile, err := openIPC(path)
	if err != nil {
		return nil, err
	}
	defer closeFile()
	idx := rdr.Schema().FieldIndices(col)
	if len(idx) == 0 {
		return nil, tarn.Errorf(tarn.EINVALID, "output has no partition column %q", col)
	}
	field, _ := schema.FindFieldByName(col)
	seen := map[string]bool{}
	var lits []iceberg.Literal
	for rdr.Next() {
		arr := rdr.RecordBatch().Column(idx[0])
		for i := 0; i < arr.Len(); i++ {
			if arr.IsNull(i) {
				continue
			}
			v := arr.ValueStr(i)
			if seen[v] {
				continue
			}
			seen[v] = true
			lit, err := iceberg.NewLiteral(v).To(field.Type.(iceberg.PrimitiveType))
			if err != nil {
				return nil, tarn.Errorf(tarn.EINVALID, "partition value %q of %s: %v", v, col, err)
			}
			lits = append(lits, lit)
		}
	}
	return lits, rdr.Err()
}

// openIPC opens an Arrow IPC file for reading. Each batch it reads is
// checked whole (see readBatch): the files it opens are step outputs,
// written by user code.
func openIPC(path string) (_ *ipcFileReader, _ func(), err error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, fmt.Errorf("open %s: %w", filepath.Base(path), err)
	}
	defer func() {
		if p := recover(); p != nil {
			f.Close()
			err = fmt.Errorf("read Arrow file %s: malformed: %v", filepath.Base(path), p)
		}
	}()
	r, err := ipc.NewFileReader(f, ipc.WithAllocator(memory.DefaultAllocator))
	if err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("read Arrow file %s: %w", filepath.Base(path), err)
	}
	fr := &ipcFileReader{r: r, refs: 1, name: filepath.Base(path)}
	return fr, func() { r.Close(); f.Close() }, nil
}

// OpenArrow opens an Arrow IPC file written by user code (a step's output)
// for reading in this process; every batch it returns has passed
// readBatch's checks. close releases the file.
func OpenArrow(path string) (rdr array.RecordReader, close func(), err error) {
	return openIPC(path)
}

// readBatch reads batch i of an Arrow IPC file and checks every column
// whole (array.ValidateFull: offsets in order and within the data, buffer
// sizes, null counts, nested children) before anything in this process
// reads a value. arrow-go's reader checks the file's framing and the ends
// of offset buffers, not what lies between: a string whose end offset is
// before its start would panic when read, and in the goroutines of
// iceberg-go's partitioned writer that panic would end the process (the
// server). name names the file in errors.
func readBatch(r *ipc.FileReader, i int, name string) (rec arrow.RecordBatch, err error) {
	defer func() {
		if p := recover(); p != nil {
			if rec != nil {
				rec.Release()
			}
			rec, err = nil, tarn.Errorf(tarn.EINVALID, "Arrow file %s, batch %d is malformed: %v", name, i, p)
		}
	}()
	if rec, err = r.RecordAt(i); err != nil {
		return nil, tarn.Errorf(tarn.EINVALID, "Arrow file %s, batch %d is malformed: %v", name, i, err)
	}
	for c, col := range rec.Columns() {
		if err := array.ValidateFull(col); err != nil {
			column := rec.ColumnName(c)
			rec.Release()
			return nil, tarn.Errorf(tarn.EINVALID, "Arrow file %s, batch %d: column %q is malformed: %v", name, i, column, err)
		}
	}
	return rec, nil
}

// ipcFileReader adapts ipc.FileReader to array.RecordReader, each batch
// checked by readBatch.
type ipcFileReader struct {
	r    *ipc.FileReader
	name string
	i    int
	cur  arrow.RecordBatch
	err  error
	refs int64
}

func (f *ipcFileReader) Schema() *arrow.Schema { return stripMetadata(f.r.Schema()) }
func (f *ipcFileReader) Retain()               { f.refs++ }
func (f *ipcFileReader) Release()              { f.refs-- }
func (f *ipcFileReader) Err() error            { return f.err }
func (f *ipcFileReader) Record() arrow.RecordBatch {
	return f.cur
}
func (f *ipcFileReader) RecordBatch() arrow.RecordBatch { return f.cur }
func (f *ipcFileReader) Next() bool {
	if f.err != nil || f.i >= f.r.NumRecords() {
		return false
	}
	rec, err := readBatch(f.r, f.i, f.name)
	if err != nil {
		f.err = err
		return false
	}
	f.i++
	if f.cur != nil {
		f.cur.Release()
	}
	f.cur = array.NewRecordBatch(f.Schema(), rec.Columns(), rec.NumRows())
	rec.Release()
	return true
}

// castReader casts each batch to a target schema (by column name).
type castReader struct {
	ctx    context.Context
	src    array.RecordReader
	target *arrow.Schema
	cur    arrow.RecordBatch
	err    error
}

func newCastReader(ctx context.Context, src array.RecordReader, target *arrow.Schema) *castReader {
	return &castReader{ctx: ctx, src: src, target: target}
}

func (c *castReader) Schema() *arrow.Schema { return c.target }
func (c *castReader) Retain()               {}
func (c *castReader) Release() {
	if c.cur != nil {
		c.cur.Release()
		c.cur = nil
	}
}
func (c *castReader) Err() error                     { return c.err }
func (c *castReader) Record() arrow.RecordBatch      { return c.cur }
func (c *castReader) RecordBatch() arrow.RecordBatch { return c.cur }
func (c *castReader) Next() bool {
	if c.err != nil || !c.src.Next() {
		if c.err == nil {
			c.err = c.src.Err()
		}
		return false
	}
	rec := c.src.RecordBatch()
	cols := make([]arrow.Array, c.target.NumFields())
	defer func() {
		for _, col := range cols {
			if col != nil {
				col.Release()
			}
		}
	}()
	for i, f := range c.target.Fields() {
		idx := rec.Schema().FieldIndices(f.Name)
		if len(idx) == 0 {
			cols[i] = array.MakeArrayOfNull(memory.DefaultAllocator, f.Type, int(rec.NumRows()))
			continue
		}
		col := rec.Column(idx[0])
		if arrow.TypeEqual(col.DataType(), f.Type) {
			col.Retain()
			cols[i] = col
			continue
		}
		out, err := compute.CastArray(c.ctx, col, compute.SafeCastOptions(f.Type))
		if err != nil {
			c.err = fmt.Errorf("column %q: cannot convert %s to %s: %w", f.Name, col.DataType(), f.Type, err)
			return false
		}
		cols[i] = out
	}
	if c.cur != nil {
		c.cur.Release()
	}
	c.cur = array.NewRecordBatch(c.target, cols, rec.NumRows())
	return true
}
