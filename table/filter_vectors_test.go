package table_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/tarnhq/tarn"
	"github.com/tarnhq/tarn/table"
)

// filterVectors are testdata/filter/cases.json, shared with
// python/tests/test_filter.py.
type filterVectors struct {
	Cases []struct {
		Filter string  `json:"filter"`
		Rows   []int64 `json:"rows"`
	} `json:"cases"`
	Errors []struct {
		Filter string `json:"filter"`
		Error  string `json:"error"`
	} `json:"errors"`
	Overwrite []struct {
		Filter string `json:"filter"`
		Error  string `json:"error"`
	} `json:"overwrite"`
}

// vectorData is testdata/filter/data.json: typed columns and rows.
type vectorData struct {
	Columns []struct {
		Name string `json:"name"`
		Type string `json:"type"`
	} `json:"columns"`
	Rows []map[string]any `json:"rows"`
}

func readVectors(t *testing.T, name string, v any) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, v); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
}

// vectorSchema is the Arrow schema of data.json's columns.
func vectorSchema(t *testing.T, d *vectorData) *arrow.Schema {
	t.Helper()
	var fields []arrow.Field
	plain := map[string]arrow.DataType{
		"int32": arrow.PrimitiveTypes.Int32, "int64": arrow.PrimitiveTypes.Int64,
		"float": arrow.PrimitiveTypes.Float32, "double": arrow.PrimitiveTypes.Float64,
		"string": arrow.BinaryTypes.String, "bool": arrow.FixedWidthTypes.Boolean, "date": arrow.FixedWidthTypes.Date32,
		"timestamp": &arrow.TimestampType{Unit: arrow.Microsecond}, "timestamptz": &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"},
	}
	for _, c := range d.Columns {
		typ, ok := plain[c.Type]
		switch {
		case ok:
		case strings.HasPrefix(c.Type, "decimal("):
			var p, s int32
			if _, err := fmt.Sscanf(c.Type, "decimal(%d,%d)", &p, &s); err != nil {
				t.Fatalf("column %s: %v", c.Name, err)
			}
			typ = &arrow.Decimal128Type{Precision: p, Scale: s}
		default:
			t.Fatalf("column %s: unknown type %s", c.Name, c.Type)
		}
		fields = append(fields, arrow.Field{Name: c.Name, Type: typ, Nullable: true})
	}
	return arrow.NewSchema(fields, nil)
}

// appendVectorRow appends one row of data.json to b.
func appendVectorRow(t *testing.T, b *array.RecordBuilder, d *vectorData, row map[string]any) {
	t.Helper()
	for i, c := range d.Columns {
		v := row[c.Name]
		fb := b.Field(i)
		if v == nil {
			fb.AppendNull()
			continue
		}
		switch fb := fb.(type) {
		case *array.Int32Builder:
			fb.Append(int32(v.(float64)))
		case *array.Int64Builder:
			fb.Append(int64(v.(float64)))
		case *array.Float32Builder:
			fb.Append(float32(v.(float64)))
		case *array.Float64Builder:
			if s, ok := v.(string); ok && s == "NaN" {
				fb.Append(math.NaN())
			} else {
				fb.Append(v.(float64))
			}
		case *array.StringBuilder:
			fb.Append(v.(string))
		case *array.BooleanBuilder:
			fb.Append(v.(bool))
		case *array.Date32Builder:
			day, err := time.Parse(time.DateOnly, v.(string))
			if err != nil {
				t.Fatal(err)
			}
			fb.Append(arrow.Date32FromTime(day))
		case *array.TimestampBuilder:
			ts, err := time.Parse("2006-01-02T15:04:05.999999", v.(string))
			if err != nil {
				t.Fatal(err)
			}
			fb.Append(arrow.Timestamp(ts.UnixMicro()))
		case *array.Decimal128Builder:
			typ := fb.Type().(*arrow.Decimal128Type)
			n, err := decimal128.FromString(v.(string), typ.Precision, typ.Scale)
			if err != nil {
				t.Fatal(err)
			}
			fb.Append(n)
		default:
			t.Fatalf("column %s: no builder for %T", c.Name, fb)
		}
	}
}

// vectorTable writes data.json into a lake table: one data file per row
// (Iceberg prunes by each row's own statistics), or all rows at once into
// a table partitioned by partitionBy.
func vectorTable(t *testing.T, svc *table.Service, ident tarn.TableIdent, d *vectorData, filePerRow bool, partitionBy string) {
	t.Helper()
	ctx := context.Background()
	schema := vectorSchema(t, d)
	batches := [][]map[string]any{d.Rows}
	if filePerRow {
		batches = nil
		for _, row := range d.Rows {
			batches = append(batches, []map[string]any{row})
		}
	}
	path := filepath.Join(t.TempDir(), "rows.arrow")
	for i, rows := range batches {
		writeRecordIPC(t, path, schema, func(b *array.RecordBuilder) {
			for _, row := range rows {
				appendVectorRow(t, b, d, row)
			}
		})
		ss, err := svc.OpenSession(ctx, "main")
		if err != nil {
			t.Fatal(err)
		}
		strategy := table.StrategyAppend
		if i == 0 {
			strategy = table.StrategyReplace
		}
		if _, err := svc.Materialize(ctx, ss, table.MaterializeRequest{Ident: ident, Path: path, Strategy: strategy, PartitionBy: partitionBy}); err != nil {
			t.Fatal(err)
		}
		if _, err := ss.Flush(ctx, tarn.CommitInfo{Message: "rows"}); err != nil {
			t.Fatal(err)
		}
	}
}

// readIDs reads the id column of an exported Arrow file and the names of
// its columns.
func readIDs(t *testing.T, path string) (ids []int64, columns []string) {
	t.Helper()
	schema := eachRecord(t, path, func(rec arrow.RecordBatch) {
		a := rec.Column(rec.Schema().FieldIndices("id")[0]).(*array.Int64)
		ids = append(ids, a.Int64Values()...)
	})
	for _, fl := range schema.Fields() {
		columns = append(columns, fl.Name)
	}
	slices.Sort(ids)
	return ids, columns
}

// TestExportArrow_FilterVectors runs the shared filter vectors through the
// lake-table input path: an Iceberg table exported with the filter (what
// Iceberg can express pushed into the scan, the whole filter applied to
// the rows) keeps exactly the expected rows.
func TestExportArrow_FilterVectors(t *testing.T) {
	var vectors filterVectors
	var data vectorData
	readVectors(t, "filter/cases.json", &vectors)
	readVectors(t, "filter/data.json", &data)
	if len(vectors.Cases) == 0 || len(vectors.Errors) == 0 || len(data.Rows) == 0 {
		t.Fatal("no vectors")
	}
	ctx := context.Background()
	svc := newService(t)
	layouts := []struct {
		name        string
		filePerRow  bool
		partitionBy string
	}{
		{"FilePerRow", true, ""},
		{"PartitionedByFlag", false, "flag"},
	}
	for _, layout := range layouts {
		ident := tarn.TableIdent{Namespace: "vectors", Name: strings.ToLower(layout.name)}
		vectorTable(t, svc, ident, &data, layout.filePerRow, layout.partitionBy)
		out := filepath.Join(t.TempDir(), "out.arrow")
		for _, tc := range vectors.Cases {
			t.Run(layout.name+"/OK/"+tc.Filter, func(t *testing.T) {
				// Only id is selected: the filter's columns are read for it
				// and left out of the output.
				res, err := svc.ExportArrow(ctx, table.ExportRequest{Ident: ident, Ref: "main", Columns: []string{"id"}, Filter: tc.Filter}, out)
				if err != nil {
					t.Fatalf("export with filter %q: %v", tc.Filter, err)
				}
				ids, columns := readIDs(t, out)
				if want := tc.Rows; !slices.Equal(ids, want) && !(len(ids) == 0 && len(want) == 0) {
					t.Errorf("filter %q kept rows %v, want %v", tc.Filter, ids, want)
				}
				if res.Rows != int64(len(ids)) || !slices.Equal(columns, []string{"id"}) {
					t.Errorf("filter %q: result %d rows, columns %v; want %d rows, columns [id]", tc.Filter, res.Rows, columns, len(ids))
				}
			})
		}
	}
	ident := tarn.TableIdent{Namespace: "vectors", Name: "fileperrow"}
	for _, tc := range vectors.Errors {
		t.Run("Err/"+tc.Filter, func(t *testing.T) {
			var err error
			if tc.Filter == "" { // an empty ExportRequest.Filter is no filter
				_, err = table.ParseRowFilter(tc.Filter)
			} else {
				_, err = svc.ExportArrow(ctx, table.ExportRequest{Ident: ident, Ref: "main", Filter: tc.Filter}, filepath.Join(t.TempDir(), "out.arrow"))
			}
			if err == nil || !strings.Contains(err.Error(), tc.Error) || tarn.ErrorCode(err) != tarn.EINVALID {
				t.Fatalf("filter %q: error %v (code %s), want EINVALID containing %q", tc.Filter, err, tarn.ErrorCode(err), tc.Error)
			}
		})
	}
	tbl, _, err := svc.Load(ctx, ident, "main")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range vectors.Overwrite {
		t.Run("Overwrite/"+tc.Filter, func(t *testing.T) {
			_, err := table.ParsePredicate(tc.Filter, tbl.Schema())
			switch {
			case tc.Error == "" && err != nil:
				t.Fatalf("overwrite filter %q: %v", tc.Filter, err)
			case tc.Error != "" && (err == nil || !strings.Contains(err.Error(), tc.Error)):
				t.Fatalf("overwrite filter %q: error %v, want one containing %q", tc.Filter, err, tc.Error)
			}
		})
	}
}
