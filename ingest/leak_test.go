package ingest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
)

// TestRecords_NoLeaks reads to the end, stops early and fails midway with a
// checked allocator and verifies every buffer is released.
func TestRecords_NoLeaks(t *testing.T) {
	dir := t.TempDir()
	var csvB, jsonB strings.Builder
	csvB.WriteString("x,s\n")
	for i := range 70_000 {
		fmt.Fprintf(&csvB, "%d,v%d\n", i, i)
		fmt.Fprintf(&jsonB, "{\"x\": %d, \"s\": \"v%d\"}\n", i, i)
	}
	csvPath := filepath.Join(dir, "a.csv")
	jsonPath := filepath.Join(dir, "b.jsonl")
	badPath := filepath.Join(dir, "c.csv")
	for p, c := range map[string]string{csvPath: csvB.String(), jsonPath: jsonB.String(), badPath: "x,s\n1,a\nzz,b\n"} {
		if err := os.WriteFile(p, []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	pqPath := filepath.Join(dir, "d.parquet")
	{
		schema := arrow.NewSchema([]arrow.Field{{Name: "x", Type: arrow.PrimitiveTypes.Int32}, {Name: "s", Type: arrow.BinaryTypes.String}}, nil)
		b := array.NewRecordBuilder(memory.DefaultAllocator, schema)
		for i := range 100_000 {
			b.Field(0).(*array.Int32Builder).Append(int32(i))
			b.Field(1).(*array.StringBuilder).Append("p")
		}
		rec := b.NewRecordBatch()
		b.Release()
		f, err := os.Create(pqPath)
		if err != nil {
			t.Fatal(err)
		}
		if err := pqarrow.WriteTable(array.NewTableFromRecords(schema, []arrow.RecordBatch{rec}), f, 30_000, nil, pqarrow.DefaultWriterProps()); err != nil {
			t.Fatal(err)
		}
		rec.Release()
	}

	for _, tc := range []struct {
		name   string
		files  []File
		stopAt int // batches to read, -1 for all
		rows   int64
		fail   bool
	}{
		{"all", []File{{Path: csvPath, Format: CSV}, {Path: jsonPath, Format: JSONL}, {Path: pqPath, Format: Parquet}}, -1, 240_000, false},
		{"early stop", []File{{Path: pqPath, Format: Parquet}, {Path: csvPath, Format: CSV}}, 1, -1, false},
		{"error", []File{{Path: jsonPath, Format: JSONL}, {Path: badPath, Format: CSV}}, -1, -1, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			checked := memory.NewCheckedAllocator(memory.NewGoAllocator())
			mem = checked
			defer func() { mem = memory.DefaultAllocator }()
			defer checked.AssertSize(t, 0)

			src, err := Infer(context.Background(), tc.files)
			if err != nil {
				t.Fatal(err)
			}
			target := arrow.NewSchema([]arrow.Field{
				{Name: "x", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
				{Name: "s", Type: arrow.BinaryTypes.String, Nullable: true},
				{Name: "extra", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
			}, nil)
			rr, err := src.Records(context.Background(), target)
			if err != nil {
				t.Fatal(err)
			}
			var rows int64
			for n := 0; (tc.stopAt < 0 || n < tc.stopAt) && rr.Next(); n++ {
				rows += rr.RecordBatch().NumRows()
			}
			if (rr.Err() != nil) != tc.fail {
				t.Errorf("err %v, want failure %v", rr.Err(), tc.fail)
			}
			if tc.rows >= 0 && rows != tc.rows {
				t.Errorf("rows %d, want %d", rows, tc.rows)
			}
			rr.Release()
		})
	}
}
