package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/tarnhq/tarn"
	"github.com/tarnhq/tarn/api"
	"github.com/tarnhq/tarn/server"
)

func (ts *testServer) rowDiff(path string) api.RowDiff {
	ts.t.Helper()
	resp := ts.get(path, ts.aliceToken)
	defer resp.Body.Close()
	var d api.RowDiff
	if err := json.NewDecoder(resp.Body).Decode(&d); err != nil {
		ts.t.Fatal(err)
	}
	return d
}

// ids renders the first column of rows.
func ids(rows [][]any) string {
	var out []string
	for _, r := range rows {
		out = append(out, fmt.Sprint(r[0]))
	}
	return strings.Join(out, ",")
}

func TestServer_TableDiff(t *testing.T) {
	ts := newTestServer(t, func(s *server.Server) { s.MaxDiffRows = 30 })
	ctx := context.Background()
	tbl := tarn.TableIdent{Namespace: "tarn", Name: "d"}
	if _, err := ts.admin.Tables.CreateTable(ctx, tarn.CreateTableRequest{Table: tbl, Branch: "main", From: []string{ts.file("d.csv", "id,name\n1,a\n2,b\n3,c\n4,d\n5,e\n")}}); err != nil {
		t.Fatal(err)
	}
	for _, b := range []string{"imp", "over", "schema", "big"} {
		if _, err := ts.admin.Refs.CreateRef(ctx, tarn.KindBranch, b, "main"); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := ts.admin.Tables.ImportTable(ctx, tarn.ImportRequest{Table: tbl, Branch: "imp", From: []string{ts.file("more.csv", "id,name\n6,f\n7,g\n2,b\n")}}); err != nil {
		t.Fatal(err)
	}
	// An overwrite that keeps 1-3, loses 4 and 5 and one of two 2s... and gains 8.
	if _, err := ts.admin.Tables.CreateTable(ctx, tarn.CreateTableRequest{Table: tbl, Branch: "over", Replace: true, From: []string{ts.file("over.csv", "id,name\n1,a\n2,b\n3,c\n8,h\n")}}); err != nil {
		t.Fatal(err)
	}
	if _, err := ts.admin.Tables.CreateTable(ctx, tarn.CreateTableRequest{Table: tbl, Branch: "schema", Replace: true, From: []string{ts.file("s.csv", "id,name,extra\n1,a,x\n")}}); err != nil {
		t.Fatal(err)
	}
	var big strings.Builder
	big.WriteString("id,name\n")
	for i := 100; i < 130; i++ {
		fmt.Fprintf(&big, "%d,n%d\n", i, i)
	}
	if _, err := ts.admin.Tables.ImportTable(ctx, tarn.ImportRequest{Table: tbl, Branch: "big", From: []string{ts.file("big.csv", big.String())}}); err != nil {
		t.Fatal(err)
	}
	t.Run("Import", func(t *testing.T) {
		d := ts.rowDiff("/v1/tables/d/diff?from=main&to=imp")
		if d.Reason != "" || ids(d.Added) != "6,7,2" || len(d.Removed) != 0 || d.AddedTotal != 3 || d.RemovedTotal != 0 || d.ChangedRows != 3 {
			t.Fatalf("import: %+v", d)
		}
		if len(d.Columns) != 2 || d.Columns[1].Name != "name" || d.Added[0][1] != "f" {
			t.Fatalf("columns and values: %+v", d)
		}
		back := ts.rowDiff("/v1/tables/d/diff?from=imp&to=main&limit=2")
		if ids(back.Removed) != "6,7" || back.RemovedTotal != 3 || len(back.Added) != 0 {
			t.Fatalf("reversed, limited to 2: %+v", back)
		}
	})
	t.Run("Overwrite", func(t *testing.T) {
		d := ts.rowDiff("/v1/tables/d/diff?from=main&to=over")
		if d.Reason != "" || ids(d.Added) != "8" || ids(d.Removed) != "4,5" || d.ChangedRows != 9 {
			t.Fatalf("overwrite: %+v", d)
		}
	})
	t.Run("Unchanged", func(t *testing.T) {
		d := ts.rowDiff("/v1/tables/d/diff?from=main&to=main")
		if d.Reason != "" || d.AddedTotal+d.RemovedTotal+d.ChangedRows != 0 {
			t.Fatalf("same version: %+v", d)
		}
	})
	t.Run("SchemaChanged", func(t *testing.T) {
		d := ts.rowDiff("/v1/tables/d/diff?from=main&to=schema")
		if d.Reason != "schema changed" || len(d.Added)+len(d.Removed) != 0 {
			t.Fatalf("schema: %+v", d)
		}
	})
	t.Run("TooLarge", func(t *testing.T) {
		d := ts.rowDiff("/v1/tables/d/diff?from=main&to=big")
		if d.Reason != "too large to preview: 30 rows changed" || len(d.Added) != 0 {
			t.Fatalf("too large: %+v", d)
		}
	})
	t.Run("Absent", func(t *testing.T) {
		if _, err := ts.admin.Tables.DropTable(ctx, tbl, "big", tarn.CommitInfo{Author: "admin", Message: "drop"}); err != nil {
			t.Fatal(err)
		}
		d := ts.rowDiff("/v1/tables/d/diff?from=main&to=big")
		if d.Reason != "table absent" || d.ChangedRows != 5 {
			t.Fatalf("dropped: %+v", d)
		}
	})
	t.Run("ErrBadInput", func(t *testing.T) {
		ts.wantGetErrors(t, map[string]string{
			"/v1/tables/d/diff?from=main":                "required",
			"/v1/tables/d/diff?from=main&to=nosuch":      "not found",
			"/v1/tables/d/diff?from=main&to=imp&limit=0": "limit",
			"/v1/tables/nosuch/diff?from=main&to=imp":    "not found",
		})
	})
}
