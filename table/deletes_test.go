package table_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/tarnhq/tarn"
	"github.com/tarnhq/tarn/table"
)

// TestService_ExportArrowDeletes: exports (a pipeline's lake inputs)
// apply position and equality deletes, with and without a filter, and
// the table's row count leaves position deletes out.
func TestService_ExportArrowDeletes(t *testing.T) {
	ctx := context.Background()
	svc := newService(t)
	ident := tarn.TableIdent{Namespace: "tarn", Name: "t"}
	importCSV(t, svc, ident, "", rowsCSV(0, 50, 1))
	importCSV(t, svc, ident, "", rowsCSV(50, 100, 2))
	for _, d := range []struct {
		mode table.DeleteMode
		ids  []int64
	}{
		{table.DeletePositions, []int64{1, 2, 60}},
		{table.DeleteEquality, []int64{3, 70}},
	} {
		if _, err := svc.DeleteRows(ctx, table.DeleteRowsRequest{Ident: ident, Branch: "main", Mode: d.mode, Column: "id", Values: d.ids}); err != nil {
			t.Fatal(err)
		}
	}
	want := int64(0)
	for i := int64(0); i < 100; i++ {
		if i != 1 && i != 2 && i != 60 && i != 3 && i != 70 {
			want += i
		}
	}
	for _, tc := range []struct {
		filter      string
		rows, idSum int64
	}{
		{"", 95, want},
		{"id >= 50", 48, want - (50*49/2 - 1 - 2 - 3)},
	} {
		out := filepath.Join(t.TempDir(), "out.arrow")
		res, err := svc.ExportArrow(ctx, table.ExportRequest{Ident: ident, Ref: "main", Columns: []string{"id"}, Filter: tc.filter}, out)
		if err != nil {
			t.Fatal(err)
		}
		rows, sum, _ := readIPCSum(t, out, "id")
		if res.Rows != tc.rows || rows != tc.rows || sum != tc.idSum {
			t.Errorf("export %q: %d rows (file %d) summing to %d, want %d summing to %d", tc.filter, res.Rows, rows, sum, tc.rows, tc.idSum)
		}
	}
	info, err := svc.GetTable(ctx, ident, "main")
	if err != nil {
		t.Fatal(err)
	}
	if info.Rows != 97 { // 100 less 3 position deletes; equality deletes count until read
		t.Errorf("table rows %d, want 97", info.Rows)
	}
}
