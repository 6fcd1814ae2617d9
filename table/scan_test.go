package table_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tarnhq/tarn"
	"github.com/tarnhq/tarn/ingest"
	"github.com/tarnhq/tarn/table"
)

// importCSV creates (first call) or appends to a table from CSV text: one
// data file per call for an unpartitioned table.
func importCSV(t *testing.T, svc *table.Service, ident tarn.TableIdent, partitionBy, csv string) {
	t.Helper()
	ctx := context.Background()
	p := filepath.Join(t.TempDir(), "in.csv")
	if err := os.WriteFile(p, []byte(csv), 0o644); err != nil {
		t.Fatal(err)
	}
	files, err := ingest.Expand([]string{p})
	if err != nil {
		t.Fatal(err)
	}
	src, err := ingest.Infer(ctx, files)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := svc.Load(ctx, ident, "main"); err != nil {
		_, err = svc.Create(ctx, table.CreateRequest{Ident: ident, Branch: "main", Source: src, PartitionBy: partitionBy})
		if err != nil {
			t.Fatal(err)
		}
		return
	}
	if _, err := svc.Import(ctx, table.ImportRequest{Ident: ident, Branch: "main", Source: src}); err != nil {
		t.Fatal(err)
	}
}

// rowsCSV makes rows id from..to-1 with a name, an amount and a day.
func rowsCSV(from, to int, day int) string {
	var b strings.Builder
	b.WriteString("id,name,amount,ts\n")
	for i := from; i < to; i++ {
		fmt.Fprintf(&b, "%d,name%03d,%d.5,2026-01-%02dT10:00:00Z\n", i, i, i, day)
	}
	return b.String()
}

func TestTableScan_Plan(t *testing.T) {
	ctx := context.Background()
	svc := newService(t)
	ident := tarn.TableIdent{Namespace: "tarn", Name: "t"}
	// Three files with disjoint id ranges and days 1, 2, 3.
	for i := 0; i < 3; i++ {
		importCSV(t, svc, ident, "", rowsCSV(i*10, i*10+10, i+1))
	}
	day := func(d int) time.Time { return time.Date(2026, 1, d, 0, 0, 0, 0, time.UTC) }
	p := func(col, op string, vals ...any) table.Predicate {
		return table.Predicate{Column: col, Op: op, Values: vals}
	}
	cases := []struct {
		name   string
		filter table.Filter
		files  int
	}{
		{"NoFilter", nil, 3},
		{"EqualLong", table.Filter{{p("id", "=", int64(15))}}, 1},
		{"EqualInt32Value", table.Filter{{p("id", "=", int32(15))}}, 1},
		{"LessThan", table.Filter{{p("id", "<", int64(10))}}, 1},
		{"Range", table.Filter{{p("id", ">=", int64(5)), p("id", "<=", int64(12))}}, 2},
		{"CaseInsensitiveColumn", table.Filter{{p("ID", ">", int64(25))}}, 1},
		{"In", table.Filter{{p("id", "in", int64(1), int64(25), nil)}}, 2},
		{"NoMatch", table.Filter{{p("id", ">", int64(1000))}}, 0},
		{"IsNullNoNulls", table.Filter{{p("id", "is null")}}, 0},
		{"NotNull", table.Filter{{p("id", "is not null")}}, 3},
		{"String", table.Filter{{p("name", "=", "name021")}}, 1},
		{"StartsWith", table.Filter{{p("name", "starts with", "name00")}}, 1},
		{"Timestamp", table.Filter{{p("ts", ">=", day(3))}}, 1},
		{"Or", table.Filter{{p("id", "<", int64(3))}, {p("id", ">", int64(27))}}, 2},
		{"OrWithUnfilteredBranch", table.Filter{{p("id", "<", int64(3))}, {}}, 3},
		{"UnknownColumnIgnored", table.Filter{{p("nope", "=", int64(1))}}, 3},
		{"UnknownColumnKeepsOthers", table.Filter{{p("nope", "=", int64(1)), p("id", "<", int64(10))}}, 1},
		{"WrongValueTypeIgnored", table.Filter{{p("id", "=", "15")}}, 3},
		{"DoubleIgnored", table.Filter{{p("amount", ">", 1000.0)}}, 3},
		{"LongOutOfRangeForIntIgnored", table.Filter{{p("id", "=", uint64(1)<<63)}}, 3},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			plan, err := svc.PlanScan(ctx, ident, "main", tc.filter)
			if err != nil {
				t.Fatal(err)
			}
			if len(plan.Files) != tc.files || plan.TotalFiles != 3 {
				t.Fatalf("planned %d of %d files, want %d of 3 (filter %q)", len(plan.Files), plan.TotalFiles, tc.files, plan.Filter)
			}
			var rows int64
			for _, f := range plan.Files {
				if strings.HasPrefix(f, "file:") {
					t.Fatalf("file %s is not a local path", f)
				}
				if _, err := os.Stat(f); err != nil {
					t.Fatal(err)
				}
			}
			rows = plan.Rows
			if rows != int64(10*tc.files) {
				t.Fatalf("rows %d for %d files", rows, tc.files)
			}
		})
	}
}

func TestTableScan_PartitionPruning(t *testing.T) {
	ctx := context.Background()
	svc := newService(t)
	ident := tarn.TableIdent{Namespace: "tarn", Name: "p"}
	var all strings.Builder
	all.WriteString(rowsCSV(0, 10, 1))
	all.WriteString(strings.TrimPrefix(rowsCSV(10, 20, 2), "id,name,amount,ts\n"))
	all.WriteString(strings.TrimPrefix(rowsCSV(20, 30, 3), "id,name,amount,ts\n"))
	importCSV(t, svc, ident, "day(ts)", all.String()) // one import, one file per day
	plan, err := svc.PlanScan(ctx, ident, "main", table.Filter{{{Column: "ts", Op: "<", Values: []any{time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC)}}}})
	if err != nil {
		t.Fatal(err)
	}
	if plan.TotalFiles != 3 || len(plan.Files) != 1 || plan.Rows != 10 {
		t.Fatalf("planned %d of %d files (%d rows), want 1 of 3 (10 rows)", len(plan.Files), plan.TotalFiles, plan.Rows)
	}
}

func TestTableScan_Columns(t *testing.T) {
	ctx := context.Background()
	svc := newService(t)
	ident := tarn.TableIdent{Namespace: "tarn", Name: "c"}
	importCSV(t, svc, ident, "", rowsCSV(0, 2, 1))
	commit, err := svc.Catalog().Resolve(ctx, "main")
	if err != nil {
		t.Fatal(err)
	}
	ts, err := svc.OpenScan(ctx, commit, "main", ident)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, c := range ts.Columns() {
		got = append(got, c.Name+" "+c.SQLType)
	}
	want := "id BIGINT, name VARCHAR, amount DOUBLE, ts TIMESTAMP WITH TIME ZONE"
	if strings.Join(got, ", ") != want {
		t.Fatalf("columns = %s, want %s", strings.Join(got, ", "), want)
	}
	plan, err := ts.Plan(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if plan.Evolved {
		t.Fatal("a table without schema changes is marked evolved")
	}
	importCSV(t, svc, ident, "", "id,extra\n7,x\n")
	plan, err = svc.PlanScan(ctx, ident, "main", nil)
	if err != nil {
		t.Fatal(err)
	}
	if !plan.Evolved || len(plan.Columns) != 5 || len(plan.Files) != 2 {
		t.Fatalf("after adding a column: evolved %v, %d columns, %d files", plan.Evolved, len(plan.Columns), len(plan.Files))
	}
	// The old state is still planned at the old commit.
	old, err := svc.OpenScan(ctx, commit, "main", ident)
	if err != nil {
		t.Fatal(err)
	}
	if plan, err := old.Plan(ctx, nil); err != nil || len(plan.Files) != 1 || len(plan.Columns) != 4 {
		t.Fatalf("old commit: %+v, %v", plan, err)
	}
}

func TestTableScan_NotFound(t *testing.T) {
	ctx := context.Background()
	svc := newService(t)
	importCSV(t, svc, tarn.TableIdent{Namespace: "tarn", Name: "trips"}, "", rowsCSV(0, 2, 1))
	_, err := svc.PlanScan(ctx, tarn.TableIdent{Namespace: "tarn", Name: "trip"}, "main", nil)
	if tarn.ErrorCode(err) != tarn.ENOTFOUND || !strings.Contains(err.Error(), `"trips"`) {
		t.Fatalf("unknown table: %v", err)
	}
	_, err = svc.PlanScan(ctx, tarn.TableIdent{Namespace: "tarn", Name: "trips"}, "nosuchref", nil)
	if tarn.ErrorCode(err) != tarn.ENOTFOUND {
		t.Fatalf("unknown ref: %v", err)
	}
}

// TestService_GetTable_SchemaHistory: a table's description lists every
// schema it has had, and each snapshot names the schema it was written with.
func TestService_GetTable_SchemaHistory(t *testing.T) {
	ctx := context.Background()
	svc := newService(t)
	ident := tarn.TableIdent{Namespace: "tarn", Name: "h"}
	importCSV(t, svc, ident, "", rowsCSV(0, 2, 1))
	importCSV(t, svc, ident, "", "id,extra\n7,x\n")
	info, err := svc.GetTable(ctx, ident, "main")
	if err != nil {
		t.Fatal(err)
	}
	if len(info.Schemas) != 2 || info.Schemas[0].Current || !info.Schemas[1].Current {
		t.Fatalf("schemas %+v", info.Schemas)
	}
	if n0, n1 := len(info.Schemas[0].Columns), len(info.Schemas[1].Columns); n0 != 4 || n1 != 5 || info.Schemas[1].Columns[4].Name != "extra" {
		t.Fatalf("schema versions have %d and %d columns: %+v", n0, n1, info.Schemas)
	}
	last := info.History[len(info.History)-1]
	if first := info.History[0]; first.SchemaID == nil || last.SchemaID == nil || *last.SchemaID != info.Schemas[1].ID || *first.SchemaID != info.Schemas[0].ID {
		t.Fatalf("snapshots name schemas %v, %v; want %d, %d", first.SchemaID, last.SchemaID, info.Schemas[0].ID, info.Schemas[1].ID)
	}
}
