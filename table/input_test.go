package table_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/tarnhq/tarn"
	"github.com/tarnhq/tarn/table"
)

// zoneCSV makes rows first..last-1: id, zone, amount (and note).
func zoneCSV(first, last int, note bool) string {
	var b strings.Builder
	b.WriteString("id,zone,amount")
	if note {
		b.WriteString(",note")
	}
	b.WriteString("\n")
	for i := first; i < last; i++ {
		fmt.Fprintf(&b, "%d,z%d,%d", i, i%4, i)
		if note {
			b.WriteString(",n")
		}
		b.WriteString("\n")
	}
	return b.String()
}

// TestService_PlanInput: a lake input's files are pruned by the filter's
// pushdown against column statistics, its columns are listed in the
// table's order, its schema travels as an IPC message, its size is
// estimated; a table whose files cannot be read as they are falls back.
func TestService_PlanInput(t *testing.T) {
	ctx := context.Background()
	svc := newService(t)
	ident := tarn.TableIdent{Namespace: "tarn", Name: "t"}
	importCSV(t, svc, ident, "", zoneCSV(0, 100, false))
	importCSV(t, svc, ident, "", zoneCSV(100, 200, false))
	plan, err := svc.PlanInput(ctx, table.ExportRequest{Ident: ident, Ref: "main", Columns: []string{"amount", "id"}, Filter: "id >= 150"})
	if err != nil {
		t.Fatal(err)
	}
	if len(plan.Files) != 1 || plan.TotalFiles != 2 || plan.Rows != 100 || plan.Fallback != "" {
		t.Fatalf("plan: %d of %d files, %d rows, fallback %q", len(plan.Files), plan.TotalFiles, plan.Rows, plan.Fallback)
	}
	if _, err := os.Stat(plan.Files[0]); err != nil {
		t.Fatalf("planned file is not a local path: %v", err)
	}
	if strings.Join(plan.Columns, ",") != "id,amount" {
		t.Fatalf("columns %v", plan.Columns)
	}
	// 100 rows of two 64-bit columns (the filter's column is one of them).
	if plan.EstimatedBytes != 100*8*2 {
		t.Fatalf("estimated %d bytes", plan.EstimatedBytes)
	}
	r, err := ipc.NewReader(bytes.NewReader(plan.Schema))
	if err != nil {
		t.Fatal(err)
	}
	if s := r.Schema(); s.NumFields() != 3 || s.Field(1).Name != "zone" {
		t.Fatalf("schema %v", s)
	}
	all, err := svc.PlanInput(ctx, table.ExportRequest{Ident: ident, Ref: "main"})
	if err != nil || len(all.Files) != 2 || all.Rows != 200 || len(all.Columns) != 3 {
		t.Fatalf("unfiltered plan %+v (%v)", all, err)
	}
	if _, err := svc.PlanInput(ctx, table.ExportRequest{Ident: ident, Ref: "main", Columns: []string{"amout"}}); err == nil || !strings.Contains(err.Error(), `did you mean "amount"`) {
		t.Fatalf("unknown column: %v", err)
	}
	if _, err := svc.PlanInput(ctx, table.ExportRequest{Ident: ident, Ref: "main", Filter: "nope > 1"}); err == nil {
		t.Fatal("a filter on an unknown column was planned")
	}
	// A column added: older files lack it, so the worker cannot read them
	// by name against the current schema; the input is exported instead.
	importCSV(t, svc, ident, "", zoneCSV(200, 210, true))
	evolved, err := svc.PlanInput(ctx, table.ExportRequest{Ident: ident, Ref: "main"})
	if err != nil || !strings.Contains(evolved.Fallback, "schema changed") {
		t.Fatalf("evolved table: %+v (%v)", evolved, err)
	}
}
