package ingest_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/tarnhq/tarn"
	"github.com/tarnhq/tarn/ingest"
)

// wideCSV is a header of n columns c0..c(n-1) and one row.
func wideCSV(n int) string {
	head, row := make([]string, n), make([]string, n)
	for i := range n {
		head[i], row[i] = fmt.Sprintf("c%d", i), "1"
	}
	return strings.Join(head, ",") + "\n" + strings.Join(row, ",") + "\n"
}

// wideJSONL is one object of n keys c0..c(n-1).
func wideJSONL(n int) string {
	parts := make([]string, n)
	for i := range n {
		parts[i] = fmt.Sprintf(`"c%d":1`, i)
	}
	return "{" + strings.Join(parts, ",") + "}\n"
}

func TestInfer_ColumnNames(t *testing.T) {
	tests := []struct {
		name    string
		file    string
		content string
		want    []string // nil: accepted
		line    int
	}{
		{"OK/punctuation and unicode", "ok.csv", "fare amount,a.b,é,É\n1,2,3,4\n", nil, 0},
		{"OK/widest", "w.csv", wideCSV(tarn.MaxColumns), nil, 0},
		{"Err/csv NUL", "nul.csv", "a,b\x00c\n1,2\n", []string{"nul.csv:1:", "header column 2", `"b\x00c"`, "U+0000"}, 1},
		{"Err/csv control", "ctl.csv", "a,b\x01c\n1,2\n", []string{"U+0001", "rename"}, 1},
		{"Err/tsv newline in quoted name", "q.tsv", "a\t\"b\nc\"\n1\t2\n", []string{"q.tsv:1:", "U+000A"}, 1},
		{"Err/csv case-only duplicate", "case.csv", "id,Fare,fare\n1,2,3\n", []string{"case.csv:1:", "columns 2 and 3", `"Fare" and "fare" differ only in case`}, 1},
		{"Err/csv too many columns", "wide.csv", wideCSV(tarn.MaxColumns + 1), []string{"wide.csv:1:", "4097 columns", "4096"}, 1},
		{"Err/csv name too long", "long.csv", strings.Repeat("n", 300) + "\n1\n", []string{"300 bytes", `"nnnn`, `"… (300 bytes)`, "longer than the 255 bytes allowed"}, 1},
		{"Err/jsonl empty key", "e.jsonl", "{\"a\":1,\"\":2}\n", []string{"e.jsonl:1:", "empty column name"}, 1},
		{"Err/jsonl NUL key", "n.jsonl", "{\"a\":1}\n{\"x\\u0000y\":2}\n", []string{"n.jsonl:2:", `"x\x00y"`}, 2},
		{"Err/jsonl case-only keys", "c.jsonl", "{\"id\":1}\n{\"ID\":2}\n", []string{"c.jsonl:2:", `"id" and "ID"`}, 2},
		{"Err/jsonl too many keys", "w.jsonl", wideJSONL(tarn.MaxColumns + 1), []string{"w.jsonl:1:", "4097 columns"}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := writeFile(t, t.TempDir(), tt.file, tt.content)
			_, err := ingest.Infer(context.Background(), files(t, p))
			if tt.want == nil {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			ie := asError(t, err, tt.want...)
			if ie.Line != tt.line || ie.File != p {
				t.Errorf("at %s:%d, want %s:%d", ie.File, ie.Line, p, tt.line)
			}
			if len(err.Error()) > 400 {
				t.Errorf("message of %d bytes echoes the input", len(err.Error()))
			}
		})
	}
}

func TestInfer_ColumnNamesAcrossFiles(t *testing.T) {
	dir := t.TempDir()
	a := writeFile(t, dir, "a.csv", "id,fare\n1,2\n")
	b := writeFile(t, dir, "b.jsonl", "{\"id\":2,\"Fare\":3}\n")
	_, err := ingest.Infer(context.Background(), files(t, a, b))
	ie := asError(t, err, `column "Fare"`, `differs only in case from column "fare" in `+a)
	if ie.File != b {
		t.Errorf("file %q, want %q", ie.File, b)
	}

	half := tarn.MaxColumns/2 + 1
	c := writeFile(t, dir, "c.csv", wideCSV(half))
	d := writeFile(t, dir, "d.csv", strings.ReplaceAll(wideCSV(half), "c", "d"))
	_, err = ingest.Infer(context.Background(), files(t, c, d))
	asError(t, err, fmt.Sprintf("the files have %d columns together", 2*half), "4096")
}

func TestInfer_ParquetColumnNames(t *testing.T) {
	i64 := arrow.PrimitiveTypes.Int64
	tests := []struct {
		name   string
		fields []arrow.Field
		want   []string // nil: accepted
	}{
		{"OK/null column becomes string", []arrow.Field{{Name: "a", Type: i64}, {Name: "n", Type: arrow.Null, Nullable: true}}, nil},
		{"Err/NUL", []arrow.Field{{Name: "a\x00b", Type: i64}}, []string{`"a\x00b"`, "U+0000"}},
		{"Err/case-only duplicate", []arrow.Field{{Name: "a", Type: i64}, {Name: "A", Type: i64}}, []string{`"a" and "A" differ only in case`}},
		{"Err/nested case-only duplicate", []arrow.Field{{Name: "s", Type: arrow.StructOf(
			arrow.Field{Name: "x", Type: i64, Nullable: true}, arrow.Field{Name: "X", Type: i64, Nullable: true}), Nullable: true}},
			[]string{`column "s"`, `"x" and "X"`}},
		{"Err/nested control character", []arrow.Field{{Name: "s", Type: arrow.ListOf(arrow.StructOf(
			arrow.Field{Name: "x\ny", Type: i64, Nullable: true})), Nullable: true}},
			[]string{`column "s.element"`, "U+000A"}},
		{"Err/nested null type", []arrow.Field{{Name: "s", Type: arrow.StructOf(
			arrow.Field{Name: "x", Type: arrow.Null, Nullable: true}), Nullable: true}},
			[]string{`column "s.x"`, "type null", "give it a type"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			schema := arrow.NewSchema(tt.fields, nil)
			p := writeParquet(t, t.TempDir(), "f.parquet", schema, func(b *array.RecordBuilder) {
				for _, fb := range b.Fields() {
					fb.AppendNull()
				}
			})
			src, err := ingest.Infer(context.Background(), files(t, p))
			if tt.want == nil {
				if err != nil {
					t.Fatal(err)
				}
				if got := src.Schema.Field(1).Type; got.ID() != arrow.STRING {
					t.Errorf("null column inferred as %s, want string", got)
				}
				return
			}
			ie := asError(t, err, tt.want...)
			if ie.File != p {
				t.Errorf("file %q, want %q", ie.File, p)
			}
		})
	}
}

func TestCheckSchema(t *testing.T) {
	i64 := arrow.PrimitiveTypes.Int64
	wide := func(n int) []arrow.Field {
		fs := make([]arrow.Field, n)
		for i := range fs {
			fs[i] = arrow.Field{Name: fmt.Sprintf("c%d", i), Type: i64}
		}
		return fs
	}
	tests := []struct {
		name   string
		fields []arrow.Field
		want   []string // nil: valid
	}{
		{"OK/flat", []arrow.Field{{Name: "id", Type: i64}, {Name: "Fare amount", Type: arrow.PrimitiveTypes.Float64}}, nil},
		{"OK/widest", wide(tarn.MaxColumns), nil},
		{"OK/same name at two levels", []arrow.Field{{Name: "x", Type: i64}, {Name: "s", Type: arrow.StructOf(arrow.Field{Name: "X", Type: i64})}}, nil},
		{"Err/too many", wide(tarn.MaxColumns + 1), []string{"4097 columns"}},
		// Each list element and map key and value takes a field id too.
		{"Err/too many counting nested", append(wide(tarn.MaxColumns-2), arrow.Field{Name: "m", Type: arrow.MapOf(arrow.BinaryTypes.String, i64)}), []string{"4097 columns"}},
		{"Err/empty", []arrow.Field{{Name: "", Type: i64}}, []string{"empty column name"}},
		{"Err/duplicate", []arrow.Field{{Name: "a", Type: i64}, {Name: "a", Type: i64}}, []string{`duplicate column name "a"`}},
		{"Err/null", []arrow.Field{{Name: "n", Type: arrow.Null, Nullable: true}}, []string{`column "n"`, "type null"}},
		{"Err/null in a map", []arrow.Field{{Name: "m", Type: arrow.MapOf(arrow.BinaryTypes.String, arrow.Null)}}, []string{`column "m.value"`, "type null"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := ingest.CheckSchema(arrow.NewSchema(tt.fields, nil))
			if tt.want == nil {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			asError(t, err, tt.want...)
		})
	}
}
