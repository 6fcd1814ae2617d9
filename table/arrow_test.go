package table_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
	"github.com/tarnhq/tarn"
	"github.com/tarnhq/tarn/ingest"
	"github.com/tarnhq/tarn/table"
)

func writeIPC(t *testing.T, path string, zones []string, amounts []int64) {
	t.Helper()
	schema := arrow.NewSchema([]arrow.Field{{Name: "zone", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "amount", Type: arrow.PrimitiveTypes.Int64, Nullable: true}}, nil)
	writeRecordIPC(t, path, schema, func(b *array.RecordBuilder) {
		b.Field(0).(*array.StringBuilder).AppendValues(zones, nil)
		b.Field(1).(*array.Int64Builder).AppendValues(amounts, nil)
	})
}

// writeRecordIPC writes an Arrow IPC file of one record of the schema,
// filled by build.
func writeRecordIPC(t *testing.T, path string, schema *arrow.Schema, build func(b *array.RecordBuilder)) {
	t.Helper()
	b := array.NewRecordBuilder(memory.DefaultAllocator, schema)
	defer b.Release()
	build(b)
	rec := b.NewRecordBatch()
	defer rec.Release()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w, err := ipc.NewFileWriter(f, ipc.WithSchema(schema))
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Write(rec); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

// checkRowsSum exports ident at main to out and fails t unless it holds
// wantRows rows whose "amount" sums to wantSum.
func checkRowsSum(t *testing.T, svc *table.Service, ident tarn.TableIdent, out string, wantRows, wantSum int64) {
	t.Helper()
	if _, err := svc.ExportArrow(context.Background(), table.ExportRequest{Ident: ident, Ref: "main"}, out); err != nil {
		t.Fatal(err)
	}
	if rows, sum, _ := readIPCSum(t, out, "amount"); rows != wantRows || sum != wantSum {
		t.Fatalf("%s: %d rows, sum %d; want %d rows, sum %d", ident, rows, sum, wantRows, wantSum)
	}
}

func readIPCSum(t *testing.T, path, col string) (rows int64, sum int64, cols int) {
	t.Helper()
	eachRecord(t, path, func(rec arrow.RecordBatch) {
		rows += rec.NumRows()
		cols = int(rec.NumCols())
		idx := rec.Schema().FieldIndices(col)
		if len(idx) > 0 {
			a := rec.Column(idx[0]).(*array.Int64)
			for j := 0; j < a.Len(); j++ {
				sum += a.Value(j)
			}
		}
	})
	return
}

// eachRecord calls fn with every record of an Arrow IPC file, and returns
// the file's schema.
func eachRecord(t *testing.T, path string, fn func(rec arrow.RecordBatch)) *arrow.Schema {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := ipc.NewFileReader(f)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for i := 0; i < r.NumRecords(); i++ {
		rec, err := r.RecordAt(i)
		if err != nil {
			t.Fatal(err)
		}
		fn(rec)
		rec.Release()
	}
	return r.Schema()
}

func TestService_ExportArrow(t *testing.T) {
	ctx := context.Background()
	svc := newService(t)
	dir := t.TempDir()
	var b strings.Builder
	b.WriteString("id,zone,amount\n")
	for i := 0; i < 100; i++ {
		fmt.Fprintf(&b, "%d,z%d,%d\n", i, i%4, i)
	}
	csv := filepath.Join(dir, "in.csv")
	os.WriteFile(csv, []byte(b.String()), 0o644)
	files, _ := ingest.Expand([]string{csv})
	src, err := ingest.Infer(ctx, files)
	if err != nil {
		t.Fatal(err)
	}
	ident := tarn.TableIdent{Namespace: "tarn", Name: "t"}
	if _, err := svc.Create(ctx, table.CreateRequest{Ident: ident, Branch: "main", Source: src, PartitionBy: "zone"}); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out.arrow")
	res, err := svc.ExportArrow(ctx, table.ExportRequest{Ident: ident, Ref: "main", Columns: []string{"amount"}, Filter: "zone = 'z1' and amount >= 50"}, out)
	if err != nil {
		t.Fatal(err)
	}
	rows, sum, cols := readIPCSum(t, out, "amount")
	want := int64(0)
	for i := 50; i < 100; i++ {
		if i%4 == 1 {
			want += int64(i)
		}
	}
	if rows != 12 || res.Rows != 12 || sum != want || cols != 1 {
		t.Fatalf("export: rows %d (reported %d), sum %d want %d, cols %d", rows, res.Rows, sum, want, cols)
	}
	_, err = svc.ExportArrow(ctx, table.ExportRequest{Ident: ident, Ref: "main", Columns: []string{"amout"}}, out)
	if err == nil || !strings.Contains(err.Error(), `did you mean "amount"`) {
		t.Fatalf("unknown column: %v", err)
	}
}

func TestService_Materialize(t *testing.T) {
	ctx := context.Background()
	svc := newService(t)
	dir := t.TempDir()
	ident := tarn.TableIdent{Namespace: "out", Name: "m"}
	write := func(strategy table.Strategy, zones []string, amounts []int64, filter string) *tarn.Entry {
		t.Helper()
		p := filepath.Join(dir, "o.arrow")
		writeIPC(t, p, zones, amounts)
		ss, err := svc.OpenSession(ctx, "main")
		if err != nil {
			t.Fatal(err)
		}
		res, err := svc.Materialize(ctx, ss, table.MaterializeRequest{Ident: ident, Path: p, Strategy: strategy, PartitionBy: "zone", OverwriteFilter: filter,
			Properties: map[string]string{"tarn.model": "m"}})
		if err != nil {
			t.Fatalf("%s: %v", strategy, err)
		}
		if _, err := ss.Flush(ctx, tarn.CommitInfo{Message: string(strategy)}); err != nil {
			t.Fatal(err)
		}
		return res.Entry
	}
	if e := write(table.StrategyReplace, []string{"a", "b"}, []int64{1, 2}, ""); e.Rows != 2 {
		t.Fatalf("replace (create): %d rows", e.Rows)
	}
	if e := write(table.StrategyReplace, []string{"a", "b", "c"}, []int64{1, 2, 3}, ""); e.Rows != 3 {
		t.Fatalf("replace: %d rows", e.Rows)
	}
	if e := write(table.StrategyAppend, []string{"d"}, []int64{4}, ""); e.Rows != 4 {
		t.Fatalf("append: %d rows", e.Rows)
	}
	// Replace partitions a and d: 4 rows - 2 + 3 = 5.
	if e := write(table.StrategyOverwritePartitions, []string{"a", "a", "d"}, []int64{10, 11, 12}, ""); e.Rows != 5 {
		t.Fatalf("overwrite partitions: %d rows", e.Rows)
	}
	if e := write(table.StrategyOverwritePartitions, []string{"z"}, []int64{100}, "amount >= 10"); e.Rows != 3 {
		t.Fatalf("overwrite with filter: %d rows", e.Rows)
	}
	out := filepath.Join(dir, "check.arrow")
	if _, err := svc.ExportArrow(ctx, table.ExportRequest{Ident: ident, Ref: "main"}, out); err != nil {
		t.Fatal(err)
	}
	if rows, sum, _ := readIPCSum(t, out, "amount"); rows != 3 || sum != 2+3+100 {
		t.Fatalf("final table: %d rows, sum %d", rows, sum)
	}
}

// goParquet is a table.ParquetWriter over arrow-go's Parquet writer, for
// testing the write path the pipeline drives with pyarrow.
type goParquet struct {
	calls int
	fail  error
}

func (g *goParquet) WriteParquet(ctx context.Context, w table.ParquetWrite) ([]table.ParquetFile, error) {
	g.calls++
	if g.fail != nil {
		return nil, g.fail
	}
	f, err := os.Open(w.Source)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r, err := ipc.NewFileReader(f)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	rec, err := r.RecordAt(0)
	if err != nil {
		return nil, err
	}
	if rec.NumRows() == 0 {
		return nil, nil
	}
	fields := make([]arrow.Field, 0, rec.NumCols())
	for _, fd := range rec.Schema().Fields() {
		fd.Metadata = arrow.NewMetadata([]string{"PARQUET:field_id"}, []string{fmt.Sprint(w.FieldIDs[fd.Name])})
		fields = append(fields, fd)
	}
	schema := arrow.NewSchema(fields, nil)
	n := rec.NumRows()
	for i, p := range w.Paths {
		part := array.NewRecordBatch(schema, rec.NewSlice(n*int64(i)/int64(len(w.Paths)), n*int64(i+1)/int64(len(w.Paths))).Columns(), -1)
		out, err := os.Create(p)
		if err != nil {
			return nil, err
		}
		pw, err := pqarrow.NewFileWriter(schema, out, nil, pqarrow.NewArrowWriterProperties(pqarrow.WithStoreSchema()))
		if err != nil {
			return nil, err
		}
		if err := pw.Write(part); err != nil {
			return nil, err
		}
		if err := pw.Close(); err != nil {
			return nil, err
		}
	}
	files := make([]table.ParquetFile, len(w.Paths))
	for i, p := range w.Paths {
		files[i].Path = p
	}
	return files, nil
}

func TestService_MaterializeParquetWriter(t *testing.T) {
	ctx := context.Background()
	svc := newService(t)
	dir := t.TempDir()
	writer := &goParquet{}
	var reuse *table.DataFiles
	var last *table.MaterializeResult
	write := func(ident tarn.TableIdent, strategy table.Strategy, partitionBy string, zones []string, amounts []int64) (*tarn.Entry, error) {
		t.Helper()
		p := filepath.Join(dir, "o.arrow")
		writeIPC(t, p, zones, amounts)
		ss, err := svc.OpenSession(ctx, "main")
		if err != nil {
			t.Fatal(err)
		}
		res, err := svc.Materialize(ctx, ss, table.MaterializeRequest{Ident: ident, Path: p, Strategy: strategy, PartitionBy: partitionBy, Writer: writer, Reuse: reuse})
		if err != nil {
			return nil, err
		}
		if _, err := ss.Flush(ctx, tarn.CommitInfo{Message: string(strategy)}); err != nil {
			t.Fatal(err)
		}
		last = res
		return res.Entry, nil
	}
	check := func(ident tarn.TableIdent, wantRows, wantSum int64) {
		t.Helper()
		checkRowsSum(t, svc, ident, filepath.Join(dir, "check.arrow"), wantRows, wantSum)
	}
	flat := tarn.TableIdent{Namespace: "out", Name: "flat"}
	steps := []struct {
		strategy     table.Strategy
		zones        []string
		amounts      []int64
		rows, sum    int64
		calls, files int
	}{
		{table.StrategyReplace, []string{"a", "b"}, []int64{1, 2}, 2, 3, 1, 1},         // creates the table
		{table.StrategyReplace, []string{"a", "b", "c"}, []int64{1, 2, 3}, 3, 6, 2, 1}, // replaces every file
		{table.StrategyAppend, []string{"d"}, []int64{4}, 4, 10, 3, 2},
		{table.StrategyReplace, []string{}, []int64{}, 0, 0, 4, 1}, // no rows: the writer writes nothing, iceberg-go writes an empty file
	}
	for _, s := range steps {
		e, err := write(flat, s.strategy, "", s.zones, s.amounts)
		if err != nil {
			t.Fatalf("%s: %v", s.strategy, err)
		}
		if writer.calls != s.calls || e.Rows != s.rows || int(e.Files) != s.files {
			t.Fatalf("%s: writer calls %d, entry %d rows in %d files; want %d calls, %d rows in %d files", s.strategy, writer.calls, e.Rows, e.Files, s.calls, s.rows, s.files)
		}
		check(flat, s.rows, s.sum)
	}
	// Files written once are published again without a write; when they
	// already are the table's content, nothing changes.
	if _, err := write(flat, table.StrategyReplace, "", []string{"r", "s"}, []int64{5, 6}); err != nil || last.Files == nil {
		t.Fatalf("replace: %v, files %v", err, last.Files)
	}
	reuse = last.Files
	calls := writer.calls
	head, _ := svc.Catalog().BranchHead(ctx, "main")
	if _, err := write(flat, table.StrategyReplace, "", []string{"r", "s"}, []int64{5, 6}); err != nil || !last.Unchanged || writer.calls != calls {
		t.Fatalf("reuse of the current files: %v, unchanged %v, writer calls %d", err, last.Unchanged, writer.calls-calls)
	}
	if after, _ := svc.Catalog().BranchHead(ctx, "main"); after.Hash != head.Hash {
		t.Fatal("an unchanged table made a commit")
	}
	rsFiles := last.Files
	reuse = nil
	write(flat, table.StrategyReplace, "", []string{"q"}, []int64{100})
	check(flat, 1, 100)
	reuse, calls = rsFiles, writer.calls
	if _, err := write(flat, table.StrategyReplace, "", []string{"r", "s"}, []int64{5, 6}); err != nil || !last.Reused || last.Unchanged || writer.calls != calls {
		t.Fatalf("reuse: %v, reused %v unchanged %v, writer calls %d", err, last.Reused, last.Unchanged, writer.calls-calls)
	}
	check(flat, 2, 11)
	reuse = nil
	write(flat, table.StrategyReplace, "", []string{}, []int64{}) // empty again for what follows
	// Partition fields the writer does not write go through iceberg-go.
	calls = writer.calls
	if _, err := write(tarn.TableIdent{Namespace: "out", Name: "parts"}, table.StrategyReplace, "truncate(1, zone)", []string{"a", "b"}, []int64{1, 2}); err != nil {
		t.Fatal(err)
	}
	if writer.calls != calls || last.Writer != table.WriterIcebergGo || !strings.Contains(last.Fallback, "truncate") {
		t.Fatalf("a string truncate partition: writer calls %d, written by %s (%s)", writer.calls-calls, last.Writer, last.Fallback)
	}
	check(tarn.TableIdent{Namespace: "out", Name: "parts"}, 2, 3)
	// A failing writer fails the write and changes nothing.
	writer.fail = fmt.Errorf("disk on fire")
	if _, err := write(flat, table.StrategyReplace, "", []string{"x"}, []int64{99}); err == nil || !strings.Contains(err.Error(), "disk on fire") {
		t.Fatalf("failing writer: %v", err)
	}
	check(flat, 0, 0)
}
