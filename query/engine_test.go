package query_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tarnhq/tarn"
	"github.com/tarnhq/tarn/query"
)

// tripsCSV makes trips id from..to-1 on days 1..3 of January (by id range
// thirds when spread is true), zones 0..3, and a NULL amount every 7th.
func tripsCSV(from, to, day int) string {
	var b strings.Builder
	b.WriteString("id,zone,amount,note,ts\n")
	for i := from; i < to; i++ {
		amount := fmt.Sprintf("%d.25", i%50)
		if i%7 == 0 {
			amount = ""
		}
		fmt.Fprintf(&b, "%d,%d,%s,n%03d,2026-01-%02dT%02d:00:00Z\n", i, i%4, amount, i, day, i%24)
	}
	return b.String()
}

// tripsLake has trips in three files (one per day) and zones.
func tripsLake(t *testing.T) *lake {
	l := newLake(t)
	l.create("main", "trips", "", l.write("d1.csv", tripsCSV(0, 100, 1)))
	l.append("main", "trips", l.write("d2.csv", tripsCSV(100, 200, 2)))
	l.append("main", "trips", l.write("d3.csv", tripsCSV(200, 300, 3)))
	l.create("main", "zones", "", l.write("zones.csv", "zone,name\n0,north\n1,south\n2,east\n5,nowhere\n"))
	return l
}

func TestEngine_MatchesDuckDB(t *testing.T) {
	l := tripsLake(t)
	views := map[string][]string{"trips": l.dataFiles("tarn", "trips"), "zones": l.dataFiles("tarn", "zones")}
	if len(views["trips"]) != 3 {
		t.Fatalf("trips has %d data files, want 3", len(views["trips"]))
	}
	queries := []struct {
		sql     string
		ordered bool
	}{
		{"select count(*), sum(amount), avg(amount), min(ts), max(note) from trips", true},
		{"select zone, count(*), sum(amount) from trips group by zone order by zone", true},
		{"select z.name, count(*) from trips t join zones z on z.zone = t.zone group by all order by all", true},
		{"select z.name, count(t.id) from zones z left join trips t on t.zone = z.zone and t.id < 150 group by all order by all", true},
		// IS NULL above an outer join must not prune trips.
		{"select z.name from zones z left join trips t on t.zone = z.zone where t.id is null order by 1", true},
		{"select count(*) from trips where amount is null", true},
		{"select id, amount, sum(amount) over (partition by zone order by id rows 3 preceding) from trips where id between 95 and 205 order by id", true},
		{"select id, rank() over (order by amount desc nulls last, id) from trips qualify rank() over (order by amount desc nulls last, id) <= 5 order by 2", true},
		{"with hot as (select zone, count(*) as n from trips where ts >= '2026-01-02' group by zone) select * from hot where n > 10 order by zone", true},
		{"select count(*) from trips where id in (1, 150, 299, 1000) or note like 'n00%'", true},
		{"select count(*) from trips where note like 'n1%' and zone = 2", true},
		{"select count(*) from trips where id < 2.5", true},
		{"select count(*) from trips where ts < timestamptz '2026-01-02 00:00:00+00'", true},
		{"select count(*) from trips where ts::date = date '2026-01-02'", true},
		// A self-join whose references filter differently.
		{"select count(*) from trips a join trips b on a.id + 200 = b.id where a.id < 50 and b.id >= 200", true},
		{"select id from trips where id > (select max(id) - 3 from trips) order by id", true},
		{"select zone from trips where id < 10 union select zone from zones order by 1", true},
		{"select * from trips where id >= 290", false},
		{"from zones select name where zone in (select zone from trips where id = 101)", true},
		// A select alias named like a column: DuckDB binds WHERE to the column.
		{"select zone as id from trips where id = 1", true},
		{"select t.id from trips t where t.id < 5 and exists (select 1 from trips u where u.id = t.id + 200 and u.id > 200) order by 1", true},
	}
	for _, q := range queries {
		t.Run(q.sql, func(t *testing.T) {
			l.t = t
			got, _ := l.query("main", q.sql)
			want := plainDuckDB(t, views, q.sql)
			if !sameRows(got, want, q.ordered) {
				t.Fatalf("tarn and duckdb differ:\ntarn:   %v\nduckdb: %v", head(got), head(want))
			}
		})
	}
}

func TestEngine_Pruning(t *testing.T) {
	l := tripsLake(t)
	views := map[string][]string{"trips": l.dataFiles("tarn", "trips")}
	cases := []struct {
		sql     string
		planned int
	}{
		{"select count(*), sum(amount) from trips where id < 100", 1},
		{"select count(*) from trips where id between 150 and 250", 2},
		{"select count(*) from trips where ts >= timestamptz '2026-01-03 00:00:00+00'", 1},
		{"select count(*) from trips where ts >= '2026-01-03 00:00:00+00'", 1},
		{"select count(*) from trips where note = 'n250'", 1},
		{"select count(*) from trips where note like 'n25%'", 1},
		{"select count(*) from trips where id in (5, 205)", 2},
		{"select count(*) from trips where id > 1000", 0},
		{"select count(*) from trips t where t.id >= 200 + 50", 1},
		{"with x as (select * from trips where id < 100) select count(*) from x", 1},
		{"select count(*) from trips a join trips b on a.id = b.id where a.id < 100", 3},              // b reads everything
		{"select count(*) from trips a, trips b where a.id = b.id and a.id < 100 and b.id >= 200", 2}, // each side its file
		{"select count(*) from trips where id < 100 or id >= 200", 3},                                 // OR is not split
		{"select count(*) from trips where zone = 1", 3},                                              // every file holds zone 1
		{"select count(*) from trips where amount > 1000", 3},                                         // floats never prune
		{"select count(*) from trips where id < 2.5", 3},                                              // an inexact constant is dropped, ...
		{"select count(*) from trips where id = 150.0", 1},                                            // ... an exact one is kept
		{"select count(*) from trips using sample 100%", 3},                                           // samples read every file
	}
	for _, tc := range cases {
		t.Run(tc.sql, func(t *testing.T) {
			l.t = t
			got, res := l.query("main", tc.sql)
			planned, total := 0, 0
			for _, s := range res.Tables {
				planned += s.FilesPlanned
				total += s.FilesTotal
				if s.FilesSkipped != s.FilesTotal-s.FilesPlanned {
					t.Fatalf("stats inconsistent: %+v", s)
				}
			}
			if len(res.Tables) != 1 || total != 3 || planned != tc.planned {
				t.Fatalf("planned %d of %d files, want %d of 3 (%+v)", planned, total, tc.planned, res.Tables)
			}
			if strings.Contains(tc.sql, "sample") {
				return // a sample's answer is random
			}
			want := plainDuckDB(t, views, tc.sql)
			if !sameRows(got, want, true) {
				t.Fatalf("pruned answer %v, duckdb says %v", got, want)
			}
		})
	}
}

func TestEngine_PartitionPruning(t *testing.T) {
	l := newLake(t)
	var all strings.Builder
	all.WriteString(tripsCSV(0, 100, 1))
	all.WriteString(strings.SplitN(tripsCSV(100, 200, 2), "\n", 2)[1])
	all.WriteString(strings.SplitN(tripsCSV(200, 300, 3), "\n", 2)[1])
	l.create("main", "trips", "day(ts)", l.write("all.csv", all.String()))
	got, res := l.query("main", "select count(*), min(id) from trips where ts >= timestamptz '2026-01-02 00:00:00+00' and ts < timestamptz '2026-01-03 00:00:00+00'")
	if res.Tables[0].FilesTotal != 3 || res.Tables[0].FilesPlanned != 1 {
		t.Fatalf("partition pruning: %+v", res.Tables)
	}
	if got[0][0] != "100" || got[0][1] != "100" {
		t.Fatalf("answer %v, want 100 rows from id 100", got)
	}
}

func TestEngine_Refs(t *testing.T) {
	l := newLake(t)
	ctx := context.Background()
	l.create("main", "trips", "", l.write("a.csv", tripsCSV(0, 10, 1)))
	cat := l.svc.Catalog()
	if _, err := cat.CreateRef(ctx, tarn.KindTag, "v1", "main"); err != nil {
		t.Fatal(err)
	}
	if _, err := cat.CreateRef(ctx, tarn.KindBranch, "dev", "main"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1100 * time.Millisecond)
	asOf := time.Now().UTC().Format(time.RFC3339)
	time.Sleep(1100 * time.Millisecond)
	l.append("dev", "trips", l.write("b.csv", tripsCSV(10, 15, 2)))
	l.append("main", "trips", l.write("c.csv", tripsCSV(15, 35, 2)))
	for ref, want := range map[string]string{"main": "30", "dev": "15", "v1": "10", "main~1": "10", "main@{" + asOf + "}": "10"} {
		got, res := l.query(ref, "select count(*) from trips")
		if got[0][0] != want {
			t.Fatalf("count at %s = %s, want %s", ref, got[0][0], want)
		}
		if res.Commit == nil {
			t.Fatalf("no commit reported at %s", ref)
		}
	}
	_, err := l.engine.Run(ctx, query.Request{SQL: "select 1", Ref: "nosuch"})
	if tarn.ErrorCode(err) != tarn.ENOTFOUND {
		t.Fatalf("unknown ref: %v", err)
	}
}

func TestEngine_Errors(t *testing.T) {
	l := tripsLake(t)
	cases := []struct {
		sql, code string
		mentions  []string
	}{
		{"select * from trps", tarn.ENOTFOUND, []string{`"trps"`, `did you mean "trips"`, "trips, zones"}},
		{"select * from nosuch.trips", tarn.ENOTFOUND, []string{"trips"}},
		{"select from where", tarn.EINVALID, []string{"syntax error", "line 1"}},
		{"insert into trips select * from trips", tarn.EINVALID, []string{"INSERT", "only reads"}},
		{"create view v as select 1", tarn.EINVALID, []string{"CREATE"}},
		{"attach 'x.db' as x", tarn.EINVALID, []string{"ATTACH"}},
		{"copy trips to 'x.csv'", tarn.EINVALID, []string{"COPY"}},
		{"select 1; select 2", tarn.EINVALID, []string{"2 statements"}},
		// DuckDB refuses to serialize the COPY: the message is about the count.
		{"select 1; copy trips to 'x.csv'", tarn.EINVALID, []string{"holds 2 statements (SELECT, COPY)", "one statement at a time"}},
		{"select 1;\n-- done\n;", tarn.EINVALID, nil}, // one statement: no error
		{"select * from query_table('trps')", tarn.ENOTFOUND, []string{`"trps"`, `did you mean "trips"`}},
		// A table inside query('...') is not planned: say so rather than
		// "trips not found (did you mean trips?)".
		{"select * from query('select * from trips')", tarn.EINVALID, []string{"table trips is at main", "name it in FROM"}},
		{"", tarn.EINVALID, []string{"empty"}},
		{"select nope from trips", tarn.EINVALID, []string{"nope"}},
	}
	for _, tc := range cases {
		_, err := l.engine.Run(context.Background(), query.Request{SQL: tc.sql})
		if tc.mentions == nil {
			if err != nil {
				t.Fatalf("%q: %v", tc.sql, err)
			}
			continue
		}
		if tarn.ErrorCode(err) != tc.code {
			t.Fatalf("%q: error %v, want code %s", tc.sql, err, tc.code)
		}
		for _, m := range tc.mentions {
			if !strings.Contains(err.Error(), m) {
				t.Fatalf("%q: error %q does not mention %q", tc.sql, err, m)
			}
		}
	}
	if _, err := os.Stat(filepath.Join(l.dir, "x.csv")); err == nil {
		t.Fatal("a refused COPY wrote a file")
	}
}

// TestEngine_TableFunctions: tables named by string in query_table() and
// pragma_table_info(), and through DuckDB's catalog name, are planned like
// tables in FROM.
func TestEngine_TableFunctions(t *testing.T) {
	l := tripsLake(t)
	for sql, want := range map[string]string{
		"select count(*) from query_table('trips')":                  "300",
		"select count(*) from query_table('tarn.trips')":             "300",
		`select count(*) from query_table('"trips"')`:                "300",
		"select count(*) from query_table(['trips', 'zones'], true)": "304",
		"select count(*) from memory.tarn.trips":                     "300",
		"select count(*) from pragma_table_info('zones')":            "2",
	} {
		if got, _ := l.query("main", sql); got[0][0] != want {
			t.Errorf("%s = %s, want %s", sql, got[0][0], want)
		}
	}
}

func TestEngine_CopyTo(t *testing.T) {
	l := tripsLake(t)
	ctx := context.Background()
	for _, f := range query.Formats {
		out := filepath.Join(l.dir, "out."+string(f))
		res, err := l.engine.CopyFile(ctx, query.Request{SQL: "select * from trips where id < 100"}, f, out)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if res.Rows != 100 || res.Tables[0].FilesPlanned != 1 {
			t.Fatalf("%s: %+v", f, res)
		}
	}
	got, _ := l.query("main", fmt.Sprintf("select count(*), sum(id) from read_parquet('%s')", filepath.Join(l.dir, "out.parquet")))
	if got[0][0] != "100" || got[0][1] != "4950" {
		t.Fatalf("parquet output holds %v", got)
	}
}

func TestEngine_Interrupt(t *testing.T) {
	l := tripsLake(t)
	slow := "select count(*) from trips, range(100000000000) r where hash(r.range + trips.id) = 42"
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(500*time.Millisecond, cancel)
	started := time.Now()
	res, err := l.engine.Run(ctx, query.Request{SQL: slow})
	if err == nil {
		for res.Records.Next() {
		}
		err = res.Records.Err()
		res.Close()
	}
	if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "interrupted") {
		t.Fatalf("canceled query: %v", err)
	}
	if d := time.Since(started); d > 5*time.Second {
		t.Fatalf("took %s to stop", d)
	}
	out := filepath.Join(l.dir, "slow.parquet")
	ctx, cancel = context.WithCancel(context.Background())
	time.AfterFunc(500*time.Millisecond, cancel)
	if _, err := l.engine.CopyFile(ctx, query.Request{SQL: slow}, query.FormatParquet, out); !errors.Is(err, context.Canceled) {
		t.Fatalf("canceled copy: %v", err)
	}
	entries, _ := os.ReadDir(l.dir)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), "slow") || strings.Contains(e.Name(), "tarn-tmp") {
			t.Fatalf("canceled copy left %s", e.Name())
		}
	}
	// The engine still answers afterwards.
	if got, _ := l.query("main", "select count(*) from trips"); got[0][0] != "300" {
		t.Fatalf("after interrupts: %v", got)
	}
}

func TestEngine_Preview(t *testing.T) {
	l := tripsLake(t)
	res, err := l.engine.Run(context.Background(), query.Request{SQL: "select id, id as id, note from trips where id >= 10 order by id desc", MaxRows: 3})
	if err != nil {
		t.Fatal(err)
	}
	rows := readRecords(t, res.Records)
	res.Close()
	// More rows than shown: the total is not computed (-1).
	if res.TotalRows != -1 || len(rows) != 3 || rows[0][0] != "299" || rows[2][0] != "297" {
		t.Fatalf("preview: total %d, rows %v", res.TotalRows, rows)
	}
	if names := []string{res.Columns[0].Name, res.Columns[1].Name}; names[0] != "id" || names[1] != "id" {
		t.Fatalf("preview renamed columns: %v", res.Columns)
	}
	// A preview that holds the whole result knows its total, also when
	// the result has exactly MaxRows rows.
	for _, n := range []int{290, 500} {
		res, err = l.engine.Run(context.Background(), query.Request{SQL: "select id from trips where id >= 10 order by id", MaxRows: n})
		if err != nil {
			t.Fatal(err)
		}
		rows = readRecords(t, res.Records)
		res.Close()
		if res.TotalRows != 290 || len(rows) != 290 || rows[0][0] != "10" || rows[289][0] != "299" {
			t.Fatalf("preview of %d: total %d, %d rows", n, res.TotalRows, len(rows))
		}
	}
	// Without MaxRows the total is unknown up front and every row streams.
	rows, res = l.query("main", "select id from trips")
	if res.TotalRows != -1 || len(rows) != 300 {
		t.Fatalf("stream: total %d, %d rows", res.TotalRows, len(rows))
	}
}

// TestEngine_PreviewStopsEarly: a preview of a result far too large to
// compute (10^12 rows) reads only the rows it shows plus one: it returns
// them, says more exist, and what DuckDB stored for it is those rows.
func TestEngine_PreviewStopsEarly(t *testing.T) {
	l := tripsLake(t)
	res, err := l.engine.Run(context.Background(), query.Request{
		SQL: "select r.range as i, t.id from range(1000000000000) r cross join (select id from trips limit 1) t", MaxRows: 5})
	if err != nil {
		t.Fatal(err)
	}
	rows := readRecords(t, res.Records)
	res.Close()
	if res.TotalRows != -1 || len(rows) != 5 || rows[0][0] != "0" || rows[4][0] != "4" {
		t.Fatalf("preview of a huge result: total %d, rows %v", res.TotalRows, rows)
	}
	// The stored preview holds MaxRows+1 rows, not the result (100000).
	n, err := query.PreviewRowsStored(l.engine, context.Background(), query.Request{SQL: "select * from range(100000)", MaxRows: 7})
	if err != nil {
		t.Fatal(err)
	}
	if n != 8 {
		t.Fatalf("preview stored %d rows, want 8", n)
	}
}

// TestEngine_EscapedColumnNames: columns whose names a Parquet writer
// escapes ("fare amount" is stored as "fare_x20amount") are read by field id.
func TestEngine_EscapedColumnNames(t *testing.T) {
	l := newLake(t)
	l.create("main", "odd", "", l.write("odd.csv", "fare amount,zone-id,ok\n1.5,a,x\n2.5,b,y\n"))
	got, _ := l.query("main", `select sum("fare amount"), max("zone-id"), count(ok) from odd`)
	if got[0][0] != "4" || got[0][1] != "b" || got[0][2] != "2" {
		t.Fatalf("query over escaped column names: %v", got)
	}
}
