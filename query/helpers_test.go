package query_test

import (
	"context"
	"database/sql"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/tarnhq/tarn"
	"github.com/tarnhq/tarn/catalog"
	"github.com/tarnhq/tarn/catalog/sqlstore"
	"github.com/tarnhq/tarn/ingest"
	"github.com/tarnhq/tarn/query"
	"github.com/tarnhq/tarn/table"
)

// lake is a fresh lakehouse with a query engine for one test.
type lake struct {
	t      *testing.T
	dir    string
	svc    *table.Service
	engine *query.Engine
}

func newLake(t *testing.T) *lake {
	t.Helper()
	dir := t.TempDir()
	ctx := context.Background()
	store, err := sqlstore.OpenSQLite(ctx, filepath.Join(dir, "catalog.db"))
	if err != nil {
		t.Fatal(err)
	}
	cat, err := catalog.Open(ctx, store)
	if err != nil {
		t.Fatal(err)
	}
	svc := table.NewService(cat, table.Config{Warehouse: filepath.Join(dir, "warehouse")})
	e := query.New(svc, query.Options{})
	t.Cleanup(func() { e.Close(); cat.Close() })
	return &lake{t: t, dir: dir, svc: svc, engine: e}
}

// write puts a file in the test directory and returns its path.
func (l *lake) write(name, content string) string {
	l.t.Helper()
	p := filepath.Join(l.dir, name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		l.t.Fatal(err)
	}
	return p
}

func (l *lake) source(paths ...string) *ingest.Source {
	l.t.Helper()
	files, err := ingest.Expand(paths)
	if err != nil {
		l.t.Fatal(err)
	}
	src, err := ingest.Infer(context.Background(), files)
	if err != nil {
		l.t.Fatal(err)
	}
	return src
}

// create creates a table on a branch from files.
func (l *lake) create(branch, name, partitionBy string, paths ...string) {
	l.t.Helper()
	ident, err := tarn.ParseTableIdent(name, tarn.DefaultNamespace)
	if err != nil {
		l.t.Fatal(err)
	}
	if _, err := l.svc.Create(context.Background(), table.CreateRequest{Ident: ident, Branch: branch, Source: l.source(paths...),
		PartitionBy: partitionBy, Info: tarn.CommitInfo{Author: "test", Message: "create " + name}}); err != nil {
		l.t.Fatal(err)
	}
}

// append imports files into an existing table on a branch.
func (l *lake) append(branch, name string, paths ...string) {
	l.t.Helper()
	ident, err := tarn.ParseTableIdent(name, tarn.DefaultNamespace)
	if err != nil {
		l.t.Fatal(err)
	}
	if _, err := l.svc.Import(context.Background(), table.ImportRequest{Ident: ident, Branch: branch, Source: l.source(paths...),
		Info: tarn.CommitInfo{Author: "test", Message: "import into " + name}}); err != nil {
		l.t.Fatal(err)
	}
}

// query runs SQL and returns the result's rows as strings.
func (l *lake) query(ref, sqlText string) ([][]string, *query.Result) {
	l.t.Helper()
	res, err := l.engine.Run(context.Background(), query.Request{SQL: sqlText, Ref: ref})
	if err != nil {
		l.t.Fatalf("query %q at %s: %v", sqlText, ref, err)
	}
	defer res.Close()
	return readRecords(l.t, res.Records), res
}

// readRecords renders every cell of a record stream as text.
func readRecords(t *testing.T, rr array.RecordReader) [][]string {
	t.Helper()
	var out [][]string
	for rr.Next() {
		rec := rr.RecordBatch()
		for i := 0; i < int(rec.NumRows()); i++ {
			row := make([]string, rec.NumCols())
			for j := range row {
				row[j] = cell(rec.Column(j), i)
			}
			out = append(out, row)
		}
	}
	if err := rr.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func cell(a arrow.Array, i int) string {
	if a.IsNull(i) {
		return "NULL"
	}
	switch a := a.(type) {
	case *array.Float64:
		return roundFloat(a.Value(i))
	case *array.Float32:
		return roundFloat(float64(a.Value(i)))
	}
	return a.ValueStr(i)
}

// roundFloat renders a float with 9 significant digits, so that sums
// whose addition order differs between runs compare equal.
func roundFloat(f float64) string {
	if f == 0 || math.IsNaN(f) || math.IsInf(f, 0) {
		return fmt.Sprint(f)
	}
	return fmt.Sprintf("%.9g", f)
}

// plainDuckDB runs SQL in a fresh DuckDB database whose views read the
// given Parquet files directly: the reference tarn is checked against.
func plainDuckDB(t *testing.T, views map[string][]string, sqlText string) [][]string {
	t.Helper()
	db, err := sql.Open("duckdb", "")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	conn, err := db.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	for name, files := range views {
		quoted := make([]string, len(files))
		for i, f := range files {
			quoted[i] = "'" + f + "'"
		}
		if _, err := conn.ExecContext(context.Background(), fmt.Sprintf("CREATE VIEW %s AS SELECT * FROM read_parquet([%s])", name, strings.Join(quoted, ", "))); err != nil {
			t.Fatal(err)
		}
	}
	rows, err := conn.QueryContext(context.Background(), sqlText)
	if err != nil {
		t.Fatalf("plain duckdb %q: %v", sqlText, err)
	}
	rr, _, err := query.NewRecordReader(rows, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer rr.Release()
	return readRecords(t, rr)
}

// sameRows compares results; unordered compares them as multisets.
func sameRows(a, b [][]string, ordered bool) bool {
	join := func(rows [][]string) []string {
		out := make([]string, len(rows))
		for i, r := range rows {
			out[i] = strings.Join(r, "\x1f")
		}
		if !ordered {
			sort.Strings(out)
		}
		return out
	}
	x, y := join(a), join(b)
	if len(x) != len(y) {
		return false
	}
	for i := range x {
		if x[i] != y[i] {
			return false
		}
	}
	return true
}

// dataFiles lists the Parquet files under a table's data directory.
func (l *lake) dataFiles(ns, name string) []string {
	l.t.Helper()
	files, err := filepath.Glob(filepath.Join(l.dir, "warehouse", ns, name, "data", "*.parquet"))
	if err != nil {
		l.t.Fatal(err)
	}
	partitioned, _ := filepath.Glob(filepath.Join(l.dir, "warehouse", ns, name, "data", "*", "*.parquet"))
	return append(files, partitioned...)
}
