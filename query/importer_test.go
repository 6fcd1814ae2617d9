package query_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
	iceio "github.com/apache/iceberg-go/io"
	icetable "github.com/apache/iceberg-go/table"
	"github.com/tarnhq/tarn"
	"github.com/tarnhq/tarn/catalog"
	"github.com/tarnhq/tarn/catalog/sqlstore"
	"github.com/tarnhq/tarn/ingest"
	"github.com/tarnhq/tarn/query"
	"github.com/tarnhq/tarn/table"
)

// importLakes are two lakehouses over one test folder: fast writes imports
// with the DuckDB importer, general with ingest and iceberg-go, the path
// the importer must agree with.
type importLakes struct {
	*lake         // the test folder (t, dir, write)
	fast, general *table.Service
}

func newImportLakes(t *testing.T) *importLakes {
	t.Helper()
	dir := t.TempDir()
	open := func(name string, bulk table.BulkWriter) *table.Service {
		ctx := context.Background()
		store, err := sqlstore.OpenSQLite(ctx, filepath.Join(dir, name+".db"))
		if err != nil {
			t.Fatal(err)
		}
		cat, err := catalog.Open(ctx, store)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cat.Close() })
		return table.NewService(cat, table.Config{Warehouse: filepath.Join(dir, name), Bulk: bulk})
	}
	return &importLakes{lake: &lake{t: t, dir: dir},
		fast:    open("fast", query.NewImporter(query.ImportOptions{Threads: 2, TempDir: filepath.Join(dir, "tmp")})),
		general: open("general", nil)}
}

func sampledSource(t *testing.T, sample int, paths ...string) *ingest.Source {
	t.Helper()
	files, err := ingest.Expand(paths)
	if err != nil {
		t.Fatal(err)
	}
	src, err := ingest.InferSample(context.Background(), files, sample)
	if err != nil {
		t.Fatal(err)
	}
	return src
}

func create(svc *table.Service, name string, src *ingest.Source) (*tarn.WriteResult, error) {
	return svc.Create(context.Background(), table.CreateRequest{Ident: tarn.TableIdent{Namespace: "tarn", Name: name}, Branch: "main",
		Source: src, Info: tarn.CommitInfo{Author: "test"}})
}

// icebergRead reads a table with iceberg-go, which finds columns by
// Parquet field id: the schema and every row as text.
func icebergRead(t *testing.T, metadata string) (*arrow.Schema, [][]string) {
	t.Helper()
	ctx := context.Background()
	tbl, err := icetable.NewFromLocation(ctx, icetable.Identifier{"tarn", "t"}, metadata, iceio.LoadFSFunc(nil, metadata), nil)
	if err != nil {
		t.Fatal(err)
	}
	schema, recs, err := tbl.Scan().ToArrowRecords(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var rows [][]string
	for rec, err := range recs {
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < int(rec.NumRows()); i++ {
			row := make([]string, rec.NumCols())
			for j := range row {
				row[j] = cell(rec.Column(j), i)
			}
			rows = append(rows, row)
		}
		rec.Release()
	}
	return schema, rows
}

// bothPaths imports the files into both lakehouses and checks that the
// fast one wrote with the importer and that iceberg-go reads equal
// schemas and rows from both. It returns the fast side's result and rows.
func (l *importLakes) bothPaths(name string, paths ...string) (*tarn.WriteResult, *arrow.Schema, [][]string) {
	l.t.Helper()
	fres, err := create(l.fast, name, sampledSource(l.t, 0, paths...))
	if err != nil {
		l.t.Fatalf("fast import: %v", err)
	}
	gres, err := create(l.general, name, sampledSource(l.t, 0, paths...))
	if err != nil {
		l.t.Fatalf("general import: %v", err)
	}
	imported, _ := filepath.Glob(filepath.Join(l.dir, "fast", "tarn", name, "data", "import-*", "*.parquet"))
	if len(imported) == 0 {
		l.t.Fatalf("the fast lakehouse did not write with the importer")
	}
	fs, frows := icebergRead(l.t, fres.Entry.Metadata)
	gs, grows := icebergRead(l.t, gres.Entry.Metadata)
	if !fs.Equal(gs) {
		l.t.Fatalf("schemas differ:\nimporter %v\ngeneral  %v", fs, gs)
	}
	if !sameRows(frows, grows, false) {
		l.t.Fatalf("rows differ:\nimporter %v\ngeneral  %v", frows, grows)
	}
	if fres.Added != gres.Added || fres.Added != int64(len(frows)) {
		l.t.Fatalf("added %d (importer) and %d (general), read %d", fres.Added, gres.Added, len(frows))
	}
	return fres, fs, frows
}

func TestImporter_CSVTypesNullsQuoting(t *testing.T) {
	l := newImportLakes(t)
	p := l.write("a.csv", "id,name,price,day,at,at_tz,ok,empty\n"+
		"1,plain,1.5,2026-01-02,2026-01-02 03:04:05,2026-01-02T03:04:05+02:00,true,\n"+
		"2,\"quoted, with comma\",2,2026-01-03,2026-01-03T00:00:00.123456,2026-01-03T00:00:00Z,FALSE,\n"+
		"3,\"say \"\"hi\"\"\",,,,,,\n"+
		"-4,\"two\nlines\",-0.25,2026-12-31,2026-12-31 23:59:59,2026-12-31T23:59:59-01:00,True,\n"+
		",\"\",1e3,,,,,\n")
	res, schema, rows := l.bothPaths("t", p)
	if res.Added != 5 {
		t.Fatalf("added %d rows, want 5", res.Added)
	}
	want := map[string]arrow.Type{"id": arrow.INT64, "name": arrow.STRING, "price": arrow.FLOAT64, "day": arrow.DATE32,
		"at": arrow.TIMESTAMP, "at_tz": arrow.TIMESTAMP, "ok": arrow.BOOL, "empty": arrow.STRING}
	for name, typ := range want {
		f, ok := schema.FieldsByName(name)
		if !ok || f[0].Type.ID() != typ {
			t.Fatalf("column %s: %v, want %v", name, f, typ)
		}
	}
	found := false
	for _, r := range rows {
		if r[0] == "3" {
			found = true
			if r[1] != `say "hi"` || r[2] != "NULL" || r[6] != "NULL" {
				t.Fatalf("row 3 read back as %q", r)
			}
		}
	}
	if !found {
		t.Fatalf("row 3 missing from %q", rows)
	}
}

func TestImporter_JSONLAndImportEvolution(t *testing.T) {
	l := newImportLakes(t)
	a := l.write("a.jsonl", `{"id": 1, "name": "x", "v": 1.5}`+"\n"+`{"id": 2, "name": null, "v": 2}`+"\n"+`{"id": 3, "v": -1e-3}`+"\n")
	l.bothPaths("t", a)
	b := l.write("b.csv", "id,extra\n10,e\n11,\n")
	for _, svc := range []*table.Service{l.fast, l.general} {
		src := sampledSource(t, 0, b)
		if _, err := svc.Import(context.Background(), table.ImportRequest{Ident: tarn.TableIdent{Namespace: "tarn", Name: "t"}, Branch: "main", Source: src}); err != nil {
			t.Fatal(err)
		}
	}
	read := func(svc *table.Service) [][]string {
		info, err := svc.GetTable(context.Background(), tarn.TableIdent{Namespace: "tarn", Name: "t"}, "main")
		if err != nil {
			t.Fatal(err)
		}
		_, rows := icebergRead(t, info.MetadataLocation)
		return rows
	}
	f, g := read(l.fast), read(l.general)
	if len(f) != 5 || !sameRows(f, g, false) {
		t.Fatalf("after import: importer %q, general %q", f, g)
	}
}

func TestImporter_ParquetKeepsTypes(t *testing.T) {
	l := newImportLakes(t)
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "i32", Type: arrow.PrimitiveTypes.Int32, Nullable: true},
		{Name: "f32", Type: arrow.PrimitiveTypes.Float32, Nullable: true},
		{Name: "dec", Type: &arrow.Decimal128Type{Precision: 12, Scale: 2}, Nullable: true},
		{Name: "ts", Type: &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}, Nullable: true},
		{Name: "d", Type: arrow.FixedWidthTypes.Date32, Nullable: true},
		{Name: "s", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "b", Type: arrow.BinaryTypes.Binary, Nullable: true},
	}, nil)
	bld := array.NewRecordBuilder(memory.DefaultAllocator, schema)
	defer bld.Release()
	for i := 0; i < 300; i++ {
		if i%7 == 0 {
			for j := range schema.NumFields() {
				bld.Field(j).AppendNull()
			}
			continue
		}
		bld.Field(0).(*array.Int32Builder).Append(int32(i - 150))
		bld.Field(1).(*array.Float32Builder).Append(float32(i) / 4)
		bld.Field(2).(*array.Decimal128Builder).Append(decimal128.FromI64(int64(i*1001 - 5)))
		bld.Field(3).(*array.TimestampBuilder).Append(arrow.Timestamp(1_700_000_000_000_000 + int64(i)*1_000_001))
		bld.Field(4).(*array.Date32Builder).Append(arrow.Date32(19000 + i))
		bld.Field(5).(*array.StringBuilder).Append(fmt.Sprintf("s%03d", i))
		bld.Field(6).(*array.BinaryBuilder).Append([]byte{byte(i), 0, 255})
	}
	rec := bld.NewRecordBatch()
	defer rec.Release()
	path := filepath.Join(l.dir, "in.parquet")
	out, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w, err := pqarrow.NewFileWriter(schema, out, parquet.NewWriterProperties(), pqarrow.DefaultWriterProps())
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Write(rec); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	res, got, rows := l.bothPaths("t", path)
	for i, f := range schema.Fields() {
		if !arrow.TypeEqual(got.Field(i).Type, f.Type) {
			t.Fatalf("column %s read back as %s, written as %s", f.Name, got.Field(i).Type, f.Type)
		}
	}
	if len(rows) != 300 {
		t.Fatalf("read %d rows", len(rows))
	}
	// The importer's files carry the table's field ids, and the manifest
	// has column statistics for pruning.
	imported, _ := filepath.Glob(filepath.Join(l.dir, "fast", "tarn", "t", "data", "import-*", "*.parquet"))
	pf, err := file.OpenParquetFile(imported[0], false)
	if err != nil {
		t.Fatal(err)
	}
	defer pf.Close()
	root := pf.MetaData().Schema.Root()
	for i := 0; i < root.NumFields(); i++ {
		if id := root.Field(i).FieldID(); id != int32(i+1) {
			t.Fatalf("column %s has field id %d, want %d", root.Field(i).Name(), id, i+1)
		}
	}
	plan, err := l.fast.PlanScan(context.Background(), res.Table, "main", table.Filter{{{Column: "i32", Op: table.OpGT, Values: []any{int32(1000)}}}})
	if err != nil {
		t.Fatal(err)
	}
	if len(plan.Files) != 0 || plan.TotalFiles == 0 {
		t.Fatalf("a filter no row passes planned %d of %d files: the files lack statistics", len(plan.Files), plan.TotalFiles)
	}
}

func TestImporter_LaterRowBeyondSample(t *testing.T) {
	l := newImportLakes(t)
	var b strings.Builder
	b.WriteString("id,v\n")
	for i := 1; i <= 50; i++ {
		fmt.Fprintf(&b, "%d,%d\n", i, i)
	}
	b.WriteString("51,2.5\n") // line 52: the sample of 50 rows said bigint
	p := l.write("late.csv", b.String())
	src := sampledSource(t, 50, p)
	_, err := create(l.fast, "t", src)
	if err == nil {
		t.Fatal("a value that does not fit the sampled type was imported")
	}
	msg := err.Error()
	for _, want := range []string{p + ":52:", `column "v"`, "--infer-rows", "nothing was written"} {
		if !strings.Contains(msg, want) {
			t.Fatalf("error %q does not say %q", msg, want)
		}
	}
	if tarn.ErrorCode(err) != tarn.EINVALID {
		t.Fatalf("code %s, want EINVALID", tarn.ErrorCode(err))
	}
	if tables, _, err := l.fast.ListTables(context.Background(), "main", ""); err != nil || len(tables) != 0 {
		t.Fatalf("tables after a failed import: %v %v", tables, err)
	}
	if left, _ := filepath.Glob(filepath.Join(l.dir, "fast", "tarn", "t", "data", "*", "*.parquet")); len(left) != 0 {
		t.Fatalf("a failed import left data files: %v", left)
	}
	// Widening: infer from every row.
	if res, err := create(l.fast, "t", sampledSource(t, 0, p)); err != nil || res.Added != 51 {
		t.Fatalf("with a full inference: %v", err)
	}
}

func TestImporter_MalformedRows(t *testing.T) {
	l := newImportLakes(t)
	// A ragged row past the inference sample: DuckDB names the line.
	ragged := l.write("ragged.csv", "a,b\n1,2\n3,4\n5,6,7\n")
	if _, err := create(l.fast, "r", sampledSource(t, 1, ragged)); err == nil || !strings.Contains(err.Error(), ragged+":4:") {
		t.Fatalf("ragged row beyond the sample: %v", err)
	}
	// Values DuckDB would take with another meaning: a time of day in a
	// date column, an exponent in an integer column.
	for name, content := range map[string]string{
		"late_time.csv": "d\n2026-01-01\n2026-01-02 10:00:00\n",
		"late_exp.csv":  "n\n1\n1e3\n",
		"late_dot.csv":  "n\n1\n2.5\n",
		"late_sep.csv":  "n\n1\n1_000\n",
		"late_hex.csv":  "n\n1\n0x10\n",
		"late_bin.csv":  "n\n1\n0b101\n",
	} {
		p := l.write(name, content)
		if _, err := create(l.fast, strings.TrimSuffix(name, ".csv"), sampledSource(t, 1, p)); err == nil || !strings.Contains(err.Error(), p+":3:") {
			t.Fatalf("%s: %v", name, err)
		}
	}
	// Signs and blanks around digits are integers, as in ingest.
	signed := l.write("signed.csv", "n,m\n1,a\n+2,b\n -3 ,c\n\t4,d\n0015,e\n\"6\",\"f,\"\"g\"\"\"\n")
	if res, err := create(l.fast, "signed", sampledSource(t, 1, signed)); err != nil || res.Added != 6 {
		t.Fatalf("signed, padded and quoted integers: %v", err)
	}
	// An unterminated quote.
	open := l.write("open.csv", "a,b\n1,2\n3,\"x\n")
	if _, err := create(l.fast, "o", sampledSource(t, 1, open)); err == nil || !strings.Contains(err.Error(), "open.csv:") {
		t.Fatalf("unterminated quote: %v", err)
	}
	// JSON Lines: DuckDB does not say where; the importer's error is
	// located by reading the file again.
	j := l.write("bad.jsonl", `{"n": 1}`+"\n"+`{"n": 2}`+"\n"+`{"n": "x"}`+"\n")
	src := &ingest.Source{Files: []ingest.File{{Path: j, Format: ingest.JSONL}},
		Schema: arrow.NewSchema([]arrow.Field{{Name: "n", Type: arrow.PrimitiveTypes.Int64, Nullable: true}}, nil)}
	src2 := sampledSource(t, 0, j) // string: every value fits
	if src2.Schema.Field(0).Type.ID() != arrow.STRING {
		t.Fatalf("mixed JSON values inferred as %s", src2.Schema.Field(0).Type)
	}
	_, err := l.fast.Create(context.Background(), table.CreateRequest{Ident: tarn.TableIdent{Namespace: "tarn", Name: "j"}, Branch: "main",
		Source: src2, Schema: src.Schema})
	if err == nil || !strings.Contains(err.Error(), "bad.jsonl:3") || !strings.Contains(err.Error(), `column "n"`) {
		t.Fatalf("a JSON value that does not fit: %v", err)
	}
}

func TestImporter_JSONKeyBeyondSample(t *testing.T) {
	l := newImportLakes(t)
	var b strings.Builder
	for i := 0; i < 30; i++ {
		fmt.Fprintf(&b, `{"id": %d, "v": %d}`+"\n", i, i)
	}
	b.WriteString(`{"id": 30, "v": 1, "late": "x"}` + "\n")
	p := l.write("late.jsonl", b.String())
	_, err := create(l.fast, "t", sampledSource(t, 10, p))
	if err == nil || !strings.Contains(err.Error(), p+":31:") || !strings.Contains(err.Error(), `column "late"`) {
		t.Fatalf("a key first seen after the sample: %v", err)
	}
	if left, _ := filepath.Glob(filepath.Join(l.dir, "fast", "tarn", "t", "data", "*", "*.parquet")); len(left) != 0 {
		t.Fatalf("a failed import left data files: %v", left)
	}
	if res, err := create(l.fast, "t", sampledSource(t, 0, p)); err != nil || res.Added != 31 {
		t.Fatalf("with every row read: %v", err)
	}
}

// TestImporter_JSONKeyCheckBesideCopy: the key check runs beside the COPY;
// when both find a problem, the first in the file is reported, whichever
// finishes first, and nothing is left behind.
func TestImporter_JSONKeyCheckBesideCopy(t *testing.T) {
	l := newImportLakes(t)
	badValue := `{"id": 30, "v": 2.5}`           // does not fit v's bigint: the COPY fails
	lateKey := `{"id": 31, "v": 1, "late": "x"}` // the key check fails
	for name, tc := range map[string]struct {
		lines []string
		want  string
	}{
		"ValueFirst": {[]string{badValue, lateKey}, `:31: column "v"`},
		"KeyFirst":   {[]string{lateKey, badValue}, `:31: column "late"`},
	} {
		t.Run(name, func(t *testing.T) {
			var b strings.Builder
			for i := 0; i < 30; i++ {
				fmt.Fprintf(&b, `{"id": %d, "v": %d}`+"\n", i, i)
			}
			b.WriteString(strings.Join(tc.lines, "\n") + "\n")
			p := l.write(name+".jsonl", b.String())
			tbl := strings.ToLower(name)
			_, err := create(l.fast, tbl, sampledSource(t, 10, p))
			if err == nil || !strings.Contains(err.Error(), p+tc.want) {
				t.Fatalf("want %q: %v", tc.want, err)
			}
			if left, _ := filepath.Glob(filepath.Join(l.dir, "fast", "tarn", tbl, "data", "*", "*.parquet")); len(left) != 0 {
				t.Fatalf("a failed import left data files: %v", left)
			}
		})
	}
}

// TestImporter_JSONIntegers: JSON Lines integer columns, read by DuckDB as
// integers, take the values ingest takes, and refuse the others with its
// error, past the rows the type was inferred from: DuckDB alone would
// truncate 2.5 to 2 and read 1e3 as 1000, true as 1 and "0x10" as 16. A
// value ingest takes and DuckDB refuses ("+5", "0015") is imported by the
// general path.
func TestImporter_JSONIntegers(t *testing.T) {
	l := newImportLakes(t)
	head := `{"n": 1, "s": "a"}` + "\n" + `{"n": 2, "s": "b"}` + "\n" // the sample: n is a bigint
	both := func(name, content string) (fast, general *tarn.WriteResult, ferr, gerr error) {
		t.Helper()
		p := l.write(name+".jsonl", head+content)
		fast, ferr = create(l.fast, name, sampledSource(t, 2, p))
		general, gerr = create(l.general, name, sampledSource(t, 2, p))
		return
	}
	for name, line := range map[string]string{
		"fraction": `{"n": 2.5, "s": "c"}`, "whole_fraction": `{"n": 1.0, "s": "c"}`, "exponent": `{"n": 1e3, "s": "c"}`,
		"true": `{"s": "c", "n": true}`, "false": `{"n":false}`, "hex": `{"n": "0x10"}`, "text": `{"n": "twelve"}`, "escaped": `{"n": "1\u002e5"}`,
	} {
		t.Run("Refused/"+name, func(t *testing.T) {
			_, _, ferr, gerr := both(name, `{"n": 3}`+"\n"+line+"\n")
			if ferr == nil || gerr == nil {
				t.Fatalf("imported: importer %v, general path %v", ferr, gerr)
			}
			if !strings.Contains(ferr.Error(), name+".jsonl:4: column \"n\": cannot parse") || ferr.Error() != gerr.Error() {
				t.Fatalf("importer: %v\ngeneral path: %v", ferr, gerr)
			}
			if left, _ := filepath.Glob(filepath.Join(l.dir, "fast", "tarn", name, "data", "*", "*.parquet")); len(left) != 0 {
				t.Fatalf("a failed import left data files: %v", left)
			}
		})
	}
	for name, tc := range map[string]struct {
		lines string
		duck  bool // written by DuckDB, not the general path
	}{
		"strings":  {`{"n": "12"}` + "\n" + `{"n": " 13 ", "s": "x"}` + "\n" + `{"n": "-14"}`, true},
		"extremes": {`{"n": 9223372036854775807}` + "\n" + `{"n": -9223372036854775808}` + "\n" + `{"n": -0}` + "\n" + `{"n": null}` + "\n" + `{"s": "no n"}`, true},
		"fallback": {`{"n": "+5"}` + "\n" + `{"n": "0015"}`, false},
	} {
		t.Run("Taken/"+name, func(t *testing.T) {
			fast, general, ferr, gerr := both(name, tc.lines+"\n")
			if ferr != nil || gerr != nil {
				t.Fatalf("importer: %v; general path: %v", ferr, gerr)
			}
			_, frows := icebergRead(t, fast.Entry.Metadata)
			_, grows := icebergRead(t, general.Entry.Metadata)
			if !sameRows(frows, grows, false) {
				t.Fatalf("rows differ:\nimporter %v\ngeneral  %v", frows, grows)
			}
			imported, _ := filepath.Glob(filepath.Join(l.dir, "fast", "tarn", name, "data", "import-*", "*.parquet"))
			if (len(imported) > 0) != tc.duck {
				t.Fatalf("files written by DuckDB: %v, want them: %v", imported, tc.duck)
			}
		})
	}
}

// TestImporter_JSONLEdgeCases: values a byte scanner of JSON could get
// wrong read the same through the importer as through the general path
// (encoding/json): integers beyond int64, mixed integers and floats,
// nested values, escapes, unicode, nulls, keys first seen late.
func TestImporter_JSONLEdgeCases(t *testing.T) {
	l := newImportLakes(t)
	lines := []string{
		`{"id": 1, "n": 9223372036854775807, "mixed": 1, "s": "plain", "nested": {"a": [1, {"b": null}]}}`,
		`{"id": 2, "n": -9223372036854775808, "mixed": 2.5, "s": "é ☃ 𝄞 日本語", "nested": [1, "x"]}`,
		`{"id": 3, "big": 18446744073709551616, "mixed": -1e3, "s": "quote \" backslash \\ tab \t \u00e9", "nested": null}`,
		`{"id": 4, "s": null, "late": true, "nested": {}}`,
		`{"id":5,"mixed":0,"late":false,"k\u00e9y":"escaped key","s":"x"}`,
		`{"s": "", "id": 6}`,
	}
	p := l.write("edge.jsonl", strings.Join(lines, "\n")+"\n")
	_, schema, rows := l.bothPaths("edge", p)
	want := map[string]arrow.Type{"id": arrow.INT64, "n": arrow.INT64, "big": arrow.FLOAT64, "mixed": arrow.FLOAT64, "s": arrow.STRING, "nested": arrow.STRING, "late": arrow.BOOL, "kéy": arrow.STRING}
	if schema.NumFields() != len(want) {
		t.Fatalf("schema %v, want the columns %v", schema, want)
	}
	for _, f := range schema.Fields() {
		if want[f.Name] != f.Type.ID() {
			t.Errorf("column %s: type %s, want %s", f.Name, f.Type, want[f.Name])
		}
	}
	if len(rows) != len(lines) {
		t.Fatalf("%d rows, want %d", len(rows), len(lines))
	}
}

// TestImporter_Concurrent: imports into one table at the same time share
// the importer's DuckDB instance and all land once; the instance (and its
// spill folder) is gone after the last.
func TestImporter_Concurrent(t *testing.T) {
	l := newImportLakes(t)
	if _, err := create(l.fast, "t", sampledSource(t, 0, l.write("first.csv", "id\n0\n"))); err != nil {
		t.Fatal(err)
	}
	const writers = 8
	errs := make(chan error, writers)
	for w := 1; w <= writers; w++ {
		var b strings.Builder
		b.WriteString("id\n")
		for i := 0; i < 100; i++ {
			fmt.Fprintf(&b, "%d\n", w*1000+i)
		}
		src := sampledSource(t, 0, l.write(fmt.Sprintf("in%d.csv", w), b.String()))
		go func() {
			_, err := l.fast.Import(context.Background(), table.ImportRequest{Ident: tarn.TableIdent{Namespace: "tarn", Name: "t"}, Branch: "main", Source: src})
			errs <- err
		}()
	}
	for range writers {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	info, err := l.fast.GetTable(context.Background(), tarn.TableIdent{Namespace: "tarn", Name: "t"}, "main")
	if err != nil {
		t.Fatal(err)
	}
	_, rows := icebergRead(t, info.MetadataLocation)
	seen := map[string]bool{}
	for _, r := range rows {
		seen[r[0]] = true
	}
	if len(rows) != writers*100+1 || len(seen) != len(rows) {
		t.Fatalf("%d rows (%d distinct), want %d", len(rows), len(seen), writers*100+1)
	}
	if left, _ := filepath.Glob(filepath.Join(l.dir, "tmp", "import-*")); len(left) != 0 {
		t.Fatalf("spill folders left after the imports: %v", left)
	}
}
