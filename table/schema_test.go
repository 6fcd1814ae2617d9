package table_test

import (
	"context"
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/tarnhq/tarn"
	"github.com/tarnhq/tarn/table"
)

// writeNullRow writes an Arrow IPC file of the schema holding one row of
// nulls.
func writeNullRow(t *testing.T, path string, schema *arrow.Schema) {
	t.Helper()
	writeRecordIPC(t, path, schema, func(b *array.RecordBuilder) {
		for _, fb := range b.Fields() {
			fb.AppendNull()
		}
	})
}

// columns returns n nullable long columns named prefix0, prefix1, ...
func columns(prefix string, n int) []arrow.Field {
	fs := make([]arrow.Field, n)
	for i := range fs {
		fs[i] = arrow.Field{Name: fmt.Sprintf("%s%d", prefix, i), Type: arrow.PrimitiveTypes.Int64, Nullable: true}
	}
	return fs
}

// countFiles counts the regular files under dir (0 when it is missing).
func countFiles(t *testing.T, dir string) int {
	t.Helper()
	n := 0
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			n++
		}
		return nil
	})
	return n
}

// wantError fails the test unless err carries code and mentions each
// string.
func wantError(t *testing.T, err error, code string, mentions ...string) {
	t.Helper()
	if !tarn.IsCode(err, code) {
		t.Fatalf("error %.400v, want code %s", err, code)
	}
	for _, m := range mentions {
		if !strings.Contains(err.Error(), m) {
			t.Errorf("error %.400q does not mention %q", err, m)
		}
	}
}

func TestService_MaterializeRefusesBadSchemas(t *testing.T) {
	i64 := arrow.PrimitiveTypes.Int64
	field := func(name string, dt arrow.DataType) arrow.Field {
		return arrow.Field{Name: name, Type: dt, Nullable: true}
	}
	long := strings.Repeat("n", 250)
	wideLong := make([]arrow.Field, tarn.MaxColumns)
	for i := range wideLong {
		wideLong[i] = field(fmt.Sprintf("%s%04d", long, i), i64)
	}
	tests := []struct {
		name     string
		fields   []arrow.Field
		mentions []string
	}{
		{"null column", []arrow.Field{field("a", i64), field("n", arrow.Null)}, []string{`column "n"`, "type null", "pa.string()"}},
		{"null inside a list", []arrow.Field{field("l", arrow.ListOf(arrow.Null))}, []string{`column "l.element"`, "type null"}},
		{"duplicate", []arrow.Field{field("a", i64), field("a", i64)}, []string{`duplicate column name "a"`}},
		{"case-only duplicate", []arrow.Field{field("fare", i64), field("Fare", i64)}, []string{`"fare" and "Fare" differ only in case`}},
		{"nested case-only duplicate", []arrow.Field{field("s", arrow.StructOf(field("x", i64), field("X", i64)))}, []string{`column "s"`, `"x" and "X"`}},
		{"NUL", []arrow.Field{field("b\x00c", i64)}, []string{`"b\x00c"`, "U+0000"}},
		{"empty name", []arrow.Field{field("a", i64), field("", i64)}, []string{"empty column name"}},
		{"too many columns", columns("c", tarn.MaxColumns+1), []string{"4097 columns", "4096"}},
		{"schema too large for a manifest", wideLong, []string{"as JSON", "1.0 MiB", "shorten the column names"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			dir := t.TempDir()
			svc := newServiceAt(t, dir)
			out := filepath.Join(t.TempDir(), "out.arrow")
			writeNullRow(t, out, arrow.NewSchema(tt.fields, nil))
			ss, err := svc.OpenSession(ctx, "main")
			if err != nil {
				t.Fatal(err)
			}
			ident := tarn.TableIdent{Namespace: "out", Name: "m"} // a new namespace: nothing may be staged for it either
			_, err = svc.Materialize(ctx, ss, table.MaterializeRequest{Ident: ident, Path: out, Strategy: table.StrategyReplace, Writer: &goParquet{}})
			wantError(t, err, tarn.EINVALID, tt.mentions...)
			if ss.Pending() {
				t.Error("the session staged a change")
			}
			if n := countFiles(t, filepath.Join(dir, "warehouse")); n != 0 {
				t.Errorf("%d files were written", n)
			}
		})
	}
}

func TestService_EvolutionRefusesBadColumns(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	svc := newServiceAt(t, dir)
	out := filepath.Join(t.TempDir(), "out.arrow")
	write := func(ident tarn.TableIdent, strategy table.Strategy, fields []arrow.Field) error {
		t.Helper()
		writeNullRow(t, out, arrow.NewSchema(fields, nil))
		ss, err := svc.OpenSession(ctx, "main")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := svc.Materialize(ctx, ss, table.MaterializeRequest{Ident: ident, Path: out, Strategy: strategy}); err != nil {
			if ss.Pending() {
				t.Error("a refused write staged a change")
			}
			return err
		}
		_, err = ss.Flush(ctx, tarn.CommitInfo{Message: string(strategy)})
		return err
	}
	narrow := tarn.TableIdent{Namespace: "tarn", Name: "narrow"}
	if err := write(narrow, table.StrategyReplace, columns("c", 2)); err != nil {
		t.Fatal(err)
	}
	wide := tarn.TableIdent{Namespace: "tarn", Name: "wide"}
	if err := write(wide, table.StrategyReplace, columns("c", tarn.MaxColumns)); err != nil {
		t.Fatal(err)
	}
	before := countFiles(t, filepath.Join(dir, "warehouse"))
	tests := []struct {
		name     string
		ident    tarn.TableIdent
		fields   []arrow.Field
		mentions []string
	}{
		{"column differing only in case", narrow, append(columns("c", 1), columns("C", 2)[1]),
			[]string{`column "C1" differs only in case from the table's column "c1"`, `name it "c1"`}},
		{"one column too many", wide, append(columns("c", 1), columns("new", 1)...), []string{"cannot write into tarn.wide", "4097 columns"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := write(tt.ident, table.StrategyAppend, tt.fields)
			wantError(t, err, tarn.EINVALID, tt.mentions...)
			if n := countFiles(t, filepath.Join(dir, "warehouse")); n != before {
				t.Errorf("%d files were written", n-before)
			}
		})
	}
}

func TestPlan_Schema(t *testing.T) {
	tests := []struct {
		name     string
		columns  []table.PlanColumn
		mentions []string // nil: valid
	}{
		{"OK", []table.PlanColumn{{Name: "id", Type: "long"}, {Name: "fare amount", Type: "decimal(10,2)"}}, nil},
		{"Err/no name", []table.PlanColumn{{Name: "id", Type: "long"}, {Type: "long"}}, []string{"plan column 2", "empty column name"}},
		{"Err/duplicate", []table.PlanColumn{{Name: "id", Type: "long"}, {Name: "id", Type: "int"}}, []string{`duplicate column name "id"`}},
		{"Err/case-only duplicate", []table.PlanColumn{{Name: "id", Type: "long"}, {Name: "ID", Type: "int"}}, []string{`"id" and "ID" differ only in case`}},
		{"Err/control character", []table.PlanColumn{{Name: "a\tb", Type: "long"}}, []string{"U+0009"}},
		{"Err/no type", []table.PlanColumn{{Name: "n"}}, []string{`plan column "n" has no type`, "string"}},
		{"Err/unknown type", []table.PlanColumn{{Name: "n", Type: "null"}}, []string{`unknown type "null"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := &table.Plan{Table: "t", Columns: tt.columns}
			_, err := p.Schema()
			if tt.mentions == nil {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			wantError(t, err, tarn.EINVALID, tt.mentions...)
		})
	}
	p := &table.Plan{Table: "t"}
	for _, f := range columns("c", tarn.MaxColumns+1) {
		p.Columns = append(p.Columns, table.PlanColumn{Name: f.Name, Type: "long"})
	}
	if _, err := p.Schema(); err == nil || !strings.Contains(err.Error(), "4097 columns") {
		t.Errorf("plan of 4097 columns: %v", err)
	}
}

func TestSession_RefusesNamesDifferingOnlyInCase(t *testing.T) {
	ctx := context.Background()
	svc := newService(t)
	if _, err := svc.CreateNamespace(ctx, "main", "staging", tarn.CommitInfo{}); err != nil {
		t.Fatal(err)
	}
	_, err := svc.CreateNamespace(ctx, "main", "Staging", tarn.CommitInfo{})
	wantError(t, err, tarn.EEXISTS, "namespace Staging differs only in case from the existing namespace staging")
	out := filepath.Join(t.TempDir(), "out.arrow")
	writeNullRow(t, out, arrow.NewSchema(columns("c", 1), nil))
	materialize := func(name string) error {
		ss, err := svc.OpenSession(ctx, "main")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := svc.Materialize(ctx, ss, table.MaterializeRequest{Ident: tarn.TableIdent{Namespace: "staging", Name: name}, Path: out, Strategy: table.StrategyReplace}); err != nil {
			return err
		}
		_, err = ss.Flush(ctx, tarn.CommitInfo{Message: name})
		return err
	}
	if err := materialize("trips"); err != nil {
		t.Fatal(err)
	}
	wantError(t, materialize("Trips"), tarn.EEXISTS, "table staging.Trips differs only in case from the existing table staging.trips")
	if err := materialize("trips"); err != nil { // the table itself can be replaced
		t.Fatal(err)
	}
}
