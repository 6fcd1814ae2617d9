package pipeline

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/tarnhq/tarn"
	"github.com/tarnhq/tarn/catalog"
	"github.com/tarnhq/tarn/catalog/sqlstore"
	"github.com/tarnhq/tarn/table"
)

// pyWriter is the pyarrow writer over the test's Python (TARN_PYTHON, else
// the repository's .venv), or a skip.
func pyWriter(t *testing.T) table.ParquetWriter {
	t.Helper()
	py := os.Getenv("TARN_PYTHON")
	if py == "" {
		py, _ = filepath.Abs("../.venv/bin/python")
	}
	if _, err := os.Stat(py); err != nil {
		t.Skipf("no Python with pyarrow (set TARN_PYTHON or run scripts/setup.sh): %v", err)
	}
	sdk, _ := filepath.Abs("../python")
	return NewParquetWriter(py, sdk, t.TempDir())
}

// outputRows writes rows i in [from, to) as an Arrow IPC file: id, a name
// of 5 values sharing a 30-character prefix (longer than the 16
// characters of iceberg-go's truncated statistics), a region holding
// nulls (every 7th row) and a day.
func outputRows(t *testing.T, path string, from, to int) {
	t.Helper()
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "id", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
		{Name: "name", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "region", Type: arrow.PrimitiveTypes.Int32, Nullable: true},
		{Name: "day", Type: arrow.FixedWidthTypes.Date32, Nullable: true},
	}, nil)
	b := array.NewRecordBuilder(memory.DefaultAllocator, schema)
	defer b.Release()
	for i := from; i < to; i++ {
		b.Field(0).(*array.Int64Builder).Append(int64(i))
		b.Field(1).(*array.StringBuilder).Append(fmt.Sprintf("a-customer-name-with-a-long-prefix-%d", i%5))
		if i%7 == 0 {
			b.Field(2).AppendNull()
		} else {
			b.Field(2).(*array.Int32Builder).Append(int32(i % 3))
		}
		b.Field(3).(*array.Date32Builder).Append(arrow.Date32(19000 + i%40))
	}
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

// layout is a table's rows per partition (its values by field id, as
// text) and its sorted ids.
func layout(t *testing.T, svc *table.Service, ident tarn.TableIdent) (map[string]int64, []int64) {
	t.Helper()
	ctx := context.Background()
	tbl, _, err := svc.Load(ctx, ident, "main")
	if err != nil {
		t.Fatal(err)
	}
	tasks, err := tbl.Scan().PlanFiles(ctx)
	if err != nil {
		t.Fatal(err)
	}
	parts := map[string]int64{}
	for _, task := range tasks {
		part := task.File.Partition()
		var keys []string
		for id, v := range part {
			keys = append(keys, fmt.Sprintf("%d=%v", id, v))
		}
		sort.Strings(keys)
		parts[strings.Join(keys, ",")] += task.File.Count()
	}
	out := filepath.Join(t.TempDir(), "ids.arrow")
	if _, err := svc.ExportArrow(ctx, table.ExportRequest{Ident: ident, Ref: "main", Columns: []string{"id"}}, out); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := ipc.NewFileReader(f)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var ids []int64
	for i := range r.NumRecords() {
		rec, err := r.RecordAt(i)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, rec.Column(0).(*array.Int64).Int64Values()...)
		rec.Release()
	}
	slices.Sort(ids)
	return parts, ids
}

// TestPyParquet_PartitionedLikeIcebergGo: the pyarrow writer takes
// partitioned outputs with string identity and bucket transforms (of
// integers and strings), nulls in a partition column, and
// OVERWRITE_PARTITIONS of identity partitions, and the tables it makes
// have the partitions, rows per partition and rows of the same outputs
// written by iceberg-go's writer.
func TestPyParquet_PartitionedLikeIcebergGo(t *testing.T) {
	writer := pyWriter(t)
	ctx := context.Background()
	dir := t.TempDir()
	store, err := sqlstore.OpenSQLite(ctx, filepath.Join(dir, "catalog.db"))
	if err != nil {
		t.Fatal(err)
	}
	cat, err := catalog.Open(ctx, store)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cat.Close() })
	svc := table.NewService(cat, table.Config{Warehouse: filepath.Join(dir, "warehouse")})
	type write struct {
		strategy table.Strategy
		from, to int
	}
	for _, tc := range []struct {
		name, partitionBy string
		writes            []write
	}{
		{"string_identity", "name", []write{{table.StrategyReplace, 0, 200}}},
		{"bucket_long", "bucket(4, id)", []write{{table.StrategyReplace, 0, 200}, {table.StrategyAppend, 200, 260}}},
		{"bucket_string", "bucket(3, name)", []write{{table.StrategyReplace, 0, 200}}},
		{"nulls", "region", []write{{table.StrategyReplace, 0, 200}}},
		{"mixed", "month(day), bucket(2, name), region", []write{{table.StrategyReplace, 0, 200}}},
		// Rows 200-203 have names 0-3: those four partitions are replaced, name 4's stays.
		{"overwrite_partitions", "name", []write{{table.StrategyReplace, 0, 200}, {table.StrategyOverwritePartitions, 200, 204}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			py := tarn.TableIdent{Namespace: "out", Name: tc.name + "_py"}
			gw := tarn.TableIdent{Namespace: "out", Name: tc.name + "_go"}
			for i, w := range tc.writes {
				src := filepath.Join(t.TempDir(), "out.arrow")
				outputRows(t, src, w.from, w.to)
				for _, side := range []struct {
					ident  tarn.TableIdent
					writer table.ParquetWriter
				}{{py, writer}, {gw, nil}} {
					ss, err := svc.OpenSession(ctx, "main")
					if err != nil {
						t.Fatal(err)
					}
					res, err := svc.Materialize(ctx, ss, table.MaterializeRequest{Ident: side.ident, Path: src, Strategy: w.strategy, PartitionBy: tc.partitionBy, Writer: side.writer})
					if err != nil {
						t.Fatalf("write %d (%s) into %s: %v", i+1, w.strategy, side.ident, err)
					}
					if side.writer != nil && res.Writer != table.WriterPyArrow {
						t.Fatalf("write %d (%s) into %s: written by %s (%s), want the pyarrow writer", i+1, w.strategy, side.ident, res.Writer, res.Fallback)
					}
					if _, err := ss.Flush(ctx, tarn.CommitInfo{Message: tc.name}); err != nil {
						t.Fatal(err)
					}
				}
			}
			pyParts, pyIDs := layout(t, svc, py)
			goParts, goIDs := layout(t, svc, gw)
			if fmt.Sprint(pyParts) != fmt.Sprint(goParts) {
				t.Errorf("rows per partition:\npyarrow    %v\niceberg-go %v", pyParts, goParts)
			}
			if !slices.Equal(pyIDs, goIDs) {
				t.Errorf("pyarrow's table holds %d ids, iceberg-go's %d (or other ones)", len(pyIDs), len(goIDs))
			}
			if len(pyParts) < 2 {
				t.Errorf("%d partitions: the case tests nothing", len(pyParts))
			}
		})
	}
}
