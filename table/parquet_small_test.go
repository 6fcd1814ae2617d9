package table_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/parquet/compress"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/tarnhq/tarn"
	"github.com/tarnhq/tarn/table"
)

// TestService_MaterializeInProcess: a small unpartitioned output already of
// the table's types is written in tarn's process (the request's writer is
// not called), as one zstd file holding the table's field ids, which a
// later run can publish again; an output that needs a cast, is larger
// than InProcessBytes or is partitioned goes to the writer.
func TestService_MaterializeInProcess(t *testing.T) {
	ctx := context.Background()
	svc := newService(t)
	dir := t.TempDir()
	writer := &goParquet{}
	var last *table.MaterializeResult
	materialize := func(ident tarn.TableIdent, strategy table.Strategy, partitionBy, src string, limit int64, reuse *table.DataFiles) {
		t.Helper()
		ss, err := svc.OpenSession(ctx, "main")
		if err != nil {
			t.Fatal(err)
		}
		if last, err = svc.Materialize(ctx, ss, table.MaterializeRequest{Ident: ident, Path: src, Strategy: strategy, PartitionBy: partitionBy,
			Writer: writer, InProcessBytes: limit, Reuse: reuse}); err != nil {
			t.Fatalf("%s %s: %v", strategy, ident, err)
		}
		if _, err := ss.Flush(ctx, tarn.CommitInfo{Message: string(strategy)}); err != nil {
			t.Fatal(err)
		}
	}
	check := func(ident tarn.TableIdent, wantRows, wantSum int64) {
		t.Helper()
		checkRowsSum(t, svc, ident, filepath.Join(dir, "check.arrow"), wantRows, wantSum)
	}
	inProcess := func(what string) {
		t.Helper()
		if writer.calls != 0 || last.Writer != table.WriterArrowGo || last.Files == nil || len(last.Files.Paths) != 1 {
			t.Fatalf("%s: writer called %d times, written by %s (%s), files %v; want one file written in process", what, writer.calls, last.Writer, last.Fallback, last.Files)
		}
	}
	small := filepath.Join(dir, "small.arrow")
	writeIPC(t, small, []string{"a", "b", "c"}, []int64{1, 2, 3})
	flat := tarn.TableIdent{Namespace: "out", Name: "flat"}

	materialize(flat, table.StrategyReplace, "", small, table.SmallOutputBytes, nil)
	inProcess("replace (create)")
	check(flat, 3, 6)
	// The file: one row group, zstd, each column with the table's field id.
	pf, err := file.OpenParquetFile(last.Files.Paths[0], false)
	if err != nil {
		t.Fatal(err)
	}
	md := pf.MetaData()
	if md.NumRowGroups() != 1 || md.NumRows != 3 {
		t.Fatalf("%d row groups, %d rows; want 1 row group of 3 rows", md.NumRowGroups(), md.NumRows)
	}
	for i := range md.Schema.NumColumns() {
		col := md.Schema.Column(i)
		if id, want := col.SchemaNode().FieldID(), last.Files.FieldIDs[col.Name()]; id != int32(want) || want == 0 {
			t.Errorf("column %s has field id %d, want the table's %d", col.Name(), id, want)
		}
		chunk, err := md.RowGroup(0).ColumnChunk(i)
		if err != nil {
			t.Fatal(err)
		}
		if chunk.Compression() != compress.Codecs.Zstd {
			t.Errorf("column %s compressed with %s, want zstd (the table's default)", col.Name(), chunk.Compression())
		}
		if ok, _ := chunk.StatsSet(); !ok {
			t.Errorf("column %s has no statistics", col.Name())
		}
	}
	pf.Close()

	materialize(flat, table.StrategyAppend, "", small, table.SmallOutputBytes, nil)
	inProcess("append")
	check(flat, 6, 12)
	// What was written in process is published again by a later run.
	materialize(flat, table.StrategyReplace, "", small, table.SmallOutputBytes, nil)
	files := last.Files
	materialize(flat, table.StrategyReplace, "", small, table.SmallOutputBytes, files)
	if !last.Unchanged || writer.calls != 0 {
		t.Fatalf("the same output again with its files: unchanged %v, writer calls %d", last.Unchanged, writer.calls)
	}
	check(flat, 3, 6)

	// An output that needs a cast (int32 into the table's int64 amount).
	narrow := filepath.Join(dir, "narrow.arrow")
	writeRecordIPC(t, narrow, arrow.NewSchema([]arrow.Field{{Name: "zone", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "amount", Type: arrow.PrimitiveTypes.Int32, Nullable: true}}, nil), func(b *array.RecordBuilder) {
		b.Field(0).(*array.StringBuilder).AppendValues([]string{"d"}, nil)
		b.Field(1).(*array.Int32Builder).AppendValues([]int32{4}, nil)
	})
	materialize(flat, table.StrategyAppend, "", narrow, table.SmallOutputBytes, nil)
	if writer.calls != 1 || last.Writer != table.WriterPyArrow {
		t.Fatalf("an output needing a cast: writer calls %d, written by %s", writer.calls, last.Writer)
	}
	check(flat, 4, 10)
	// Larger than the limit, and with no limit.
	for _, limit := range []int64{16, 0} {
		calls := writer.calls
		materialize(flat, table.StrategyAppend, "", small, limit, nil)
		if writer.calls != calls+1 || last.Writer != table.WriterPyArrow {
			t.Fatalf("InProcessBytes %d: writer calls %d, written by %s", limit, writer.calls-calls, last.Writer)
		}
	}
	check(flat, 10, 22)
	// Partitioned: the writer's (it groups rows by partition).
	calls := writer.calls
	parts := tarn.TableIdent{Namespace: "out", Name: "parts"}
	materialize(parts, table.StrategyReplace, "zone", small, table.SmallOutputBytes, nil)
	if last.Writer == table.WriterArrowGo {
		t.Fatalf("a partitioned output was written in process (writer calls %d)", writer.calls-calls)
	}
	check(parts, 3, 6)
	// No rows: nothing written in process; iceberg-go writes the empty table.
	empty := filepath.Join(dir, "empty.arrow")
	writeIPC(t, empty, []string{}, []int64{})
	materialize(flat, table.StrategyReplace, "", empty, table.SmallOutputBytes, nil)
	if last.Writer != table.WriterIcebergGo {
		t.Fatalf("an empty output: written by %s", last.Writer)
	}
	check(flat, 0, 0)
}

// refusingWriter is a ParquetWriter that fails every write with its error,
// counting the calls.
type refusingWriter struct {
	calls int
	err   error
}

func (r *refusingWriter) WriteParquet(context.Context, table.ParquetWrite) ([]table.ParquetFile, error) {
	r.calls++
	return nil, r.err
}

// TestService_MaterializeInProcessMalformed: an output whose string offsets
// point past its data (user code wrote it) does not crash tarn's process:
// the write goes to the ParquetWriter (the sandboxed one, in a run), whose
// error is the write's.
func TestService_MaterializeInProcessMalformed(t *testing.T) {
	ctx := context.Background()
	svc := newService(t)
	src := writeMalformedIPC(t, [4]uint32{0, 2, 4, 0x70000000}) // the last one far past the data
	writer := &refusingWriter{err: errors.New("the sandboxed writer: offsets out of bounds")}
	ss, err := svc.OpenSession(ctx, "main")
	if err != nil {
		t.Fatal(err)
	}
	_, err = svc.Materialize(ctx, ss, table.MaterializeRequest{Ident: tarn.TableIdent{Namespace: "out", Name: "bad"}, Path: src,
		Strategy: table.StrategyReplace, Writer: writer, InProcessBytes: table.SmallOutputBytes})
	if err == nil || !strings.Contains(err.Error(), "offsets out of bounds") || writer.calls != 1 {
		t.Fatalf("a malformed output: %v (writer calls %d); want the ParquetWriter's error", err, writer.calls)
	}
}

// writeMalformedIPC writes an Arrow IPC file of the zones aa bb cc (and the
// amounts 1 2 3) whose string offsets are then set to offsets, as user code
// could, and returns its path.
func writeMalformedIPC(t *testing.T, offsets [4]uint32) string {
	t.Helper()
	src := filepath.Join(t.TempDir(), "bad.arrow")
	writeIPC(t, src, []string{"aa", "bb", "cc"}, []int64{1, 2, 3})
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	// The offsets of the zone column, 0 2 4 6 as little-endian int32.
	at := bytes.Index(data, []byte{0, 0, 0, 0, 2, 0, 0, 0, 4, 0, 0, 0, 6, 0, 0, 0})
	if at < 0 {
		t.Fatal("the string offsets are not in the file")
	}
	for i, o := range offsets {
		binary.LittleEndian.PutUint32(data[at+4*i:], o)
	}
	if err := os.WriteFile(src, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return src
}

// TestService_MaterializeMalformedInProcess: every write that reads an
// output in tarn's process (iceberg-go's writer, with no ParquetWriter or
// for an overwrite_filter; the distinct partition values of
// OVERWRITE_PARTITIONS) refuses a malformed output with an error naming the
// column, and commits nothing, instead of reading past its buffers (a
// panic, which in iceberg-go's writer goroutines would end the server).
func TestService_MaterializeMalformedInProcess(t *testing.T) {
	ctx := context.Background()
	svc := newService(t)
	good := filepath.Join(t.TempDir(), "good.arrow")
	writeIPC(t, good, []string{"aa", "bb"}, []int64{1, 2})
	// Every offset within the data, which arrow-go's reader checks, but
	// the second string ends before it starts.
	bad := writeMalformedIPC(t, [4]uint32{0, 4, 2, 6})
	ident := tarn.TableIdent{Namespace: "out", Name: "zones"}
	for _, c := range []struct {
		name     string
		strategy table.Strategy
		filter   string
	}{
		{"iceberg-go create", table.StrategyReplace, ""},
		{"iceberg-go append", table.StrategyAppend, ""},
		{"overwrite_filter", table.StrategyOverwritePartitions, "amount >= 0"},
		{"partition values", table.StrategyOverwritePartitions, ""},
	} {
		ss, err := svc.OpenSession(ctx, "main")
		if err != nil {
			t.Fatal(err)
		}
		src, target := bad, ident
		if c.strategy != table.StrategyReplace {
			// Into a table with rows, partitioned by zone.
			if _, err := svc.Materialize(ctx, ss, table.MaterializeRequest{Ident: ident, Path: good, Strategy: table.StrategyReplace, PartitionBy: "zone"}); err != nil {
				t.Fatal(err)
			}
		} else {
			target = tarn.TableIdent{Namespace: "out", Name: "fresh"}
		}
		_, err = svc.Materialize(ctx, ss, table.MaterializeRequest{Ident: target, Path: src, Strategy: c.strategy, OverwriteFilter: c.filter})
		if err == nil || !strings.Contains(err.Error(), "malformed") || !strings.Contains(err.Error(), `"zone"`) {
			t.Errorf("%s of a malformed output: %v; want an error saying the zone column is malformed", c.name, err)
		}
	}
}
