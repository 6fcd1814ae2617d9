package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// queryJSON runs tarn query -o json and decodes the rows.
func (l *lakehouse) queryJSON(sql string, args ...string) []map[string]any {
	l.t.Helper()
	var rows []map[string]any
	l.json(&rows, append([]string{"query", sql}, args...)...)
	return rows
}

func TestCLIQuery_SQL(t *testing.T) {
	l := newLakehouse(t)
	l.write("a.csv", csvRows(0, 10))
	l.write("zones.csv", "id,zone\n0,north\n1,south\n2,east\n")
	l.ok("table", "create", "trips", "--from", "a.csv")
	l.ok("namespace", "create", "ref")
	l.ok("table", "create", "ref.zones", "--from", "zones.csv")

	rows := l.queryJSON("select count(*) as n, sum(id) as s from trips")
	if len(rows) != 1 || rows[0]["n"] != 10.0 || rows[0]["s"] != 45.0 {
		t.Fatalf("aggregate = %v", rows)
	}
	// A join across namespaces, a CTE and a window function.
	rows = l.queryJSON(`with t as (select id % 3 as zid, amount from trips)
		select z.zone, count(*) as n, sum(sum(amount)) over () as total
		from t join ref.zones z on z.id = t.zid group by z.zone order by z.zone`)
	if len(rows) != 3 || rows[0]["zone"] != "east" || rows[0]["n"] != 3.0 || rows[0]["total"] != 50.0 {
		t.Fatalf("join/cte/window = %v", rows)
	}
	// --namespace makes unqualified names resolve elsewhere.
	if rows := l.queryJSON("select count(*) as n from zones", "--namespace", "ref"); rows[0]["n"] != 3.0 {
		t.Fatalf("--namespace: %v", rows)
	}
	// Text output: header with types, truncation, row count.
	out := l.ok("query", "select id, name from trips order by id", "--max-rows", "3")
	for _, want := range []string{"id", "bigint", "varchar", "name0", "name2", "first 3 rows shown, more not read"} {
		if !strings.Contains(out, want) {
			t.Fatalf("text output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "name3") {
		t.Fatalf("--max-rows 3 showed a 4th row:\n%s", out)
	}
	// A preview that holds the whole result tells its count.
	if out := l.ok("query", "select id from trips", "--max-rows", "10"); !strings.Contains(out, "(10 rows,") {
		t.Fatalf("--max-rows 10 of 10:\n%s", out)
	}
	// The printout of a result far too large to compute (10^12 rows) reads
	// only the rows it shows and says so.
	if out := l.ok("query", "select range as i from range(1000000000000)", "--max-rows", "2"); !strings.Contains(out, "first 2 rows shown, more not read") || strings.Count(out, "\n") != 6 {
		t.Fatalf("printout of a huge result:\n%s", out)
	}
	if out := l.ok("query", "select id from trips", "--all-rows"); !strings.Contains(out, "(10 rows") || strings.Count(out, "\n") != 14 {
		t.Fatalf("--all-rows:\n%s", out)
	}
	// CSV and JSON Lines on stdout.
	if out := l.ok("query", "select id, name from trips where id < 2 order by id", "-o", "csv"); out != "id,name\n0,name0\n1,name1\n" {
		t.Fatalf("csv = %q", out)
	}
	if out := l.ok("query", "select id from trips where id < 2 order by id", "-o", "jsonl"); out != "{\"id\":0}\n{\"id\":1}\n" {
		t.Fatalf("jsonl = %q", out)
	}
	// SQL from a file and from standard input.
	l.write("q.sql", "-- count\nselect count(*) as n from trips where id >= 5;\n")
	var fromFile []map[string]any
	l.json(&fromFile, "query", "-f", "q.sql")
	if len(fromFile) != 1 || fromFile[0]["n"] != 5.0 {
		t.Fatalf("-f: %v", fromFile)
	}
	r := l.runStdin("select 42 as answer", "query", "-o", "csv")
	if r.code != 0 || r.stdout != "answer\n42\n" {
		t.Fatalf("stdin SQL: %+v", r)
	}
	// Other commands keep -o text|json only.
	l.fails(2, []string{"-o text or -o json"}, "table", "ls", "-o", "csv")
}

func TestCLIQuery_OutFiles(t *testing.T) {
	l := newLakehouse(t)
	l.write("a.csv", csvRows(0, 100))
	l.ok("table", "create", "trips", "--from", "a.csv")
	for _, name := range []string{"r.parquet", "r.csv", "r.json", "r.jsonl", "r.arrow"} {
		l.ok("query", "select id, name, amount, ts from trips where id >= 10", "--out", name)
		st, err := os.Stat(filepath.Join(l.dir, name))
		if err != nil || st.Size() == 0 {
			t.Fatalf("%s: %v", name, err)
		}
	}
	// The files hold the rows: read them back with DuckDB's readers (a
	// server reads only its warehouse, so this part runs embedded).
	for _, q := range []string{"select count(*) as n from read_parquet('r.parquet')", "select count(*) as n from read_csv('r.csv')",
		"select count(*) as n from read_json('r.json')", "select count(*) as n from read_json('r.jsonl')"} {
		if remote {
			break
		}
		if rows := l.queryJSON(q); rows[0]["n"] != 90.0 {
			t.Fatalf("%s = %v", q, rows)
		}
	}
	if b, _ := os.ReadFile(filepath.Join(l.dir, "r.arrow")); !bytes.HasPrefix(b, []byte("ARROW1")) {
		t.Fatal("r.arrow is not an Arrow IPC file")
	}
	// -o overrides the extension; an unknown extension needs -o.
	l.ok("query", "select 1 as x", "-o", "csv", "--out", "x.txt")
	if b, _ := os.ReadFile(filepath.Join(l.dir, "x.txt")); string(b) != "x\n1\n" {
		t.Fatalf("x.txt = %q", b)
	}
	l.fails(2, []string{"extension", "-o"}, "query", "select 1", "--out", "x.dat")
	// A failing query leaves an existing file alone and no temp files.
	l.fails(2, nil, "query", "select nosuchcolumn from trips", "--out", "r.csv")
	if b, _ := os.ReadFile(filepath.Join(l.dir, "r.csv")); !strings.HasPrefix(string(b), "id,name,amount,ts\n") {
		t.Fatalf("failed query damaged r.csv: %q", b)
	}
	assertNoTempFiles(t, l.dir)
}

func assertNoTempFiles(t *testing.T, dir string) {
	t.Helper()
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.Contains(e.Name(), ".tarn-tmp-") {
			t.Fatalf("temporary file left behind: %s", e.Name())
		}
	}
}

func TestCLIQuery_Refs(t *testing.T) {
	l := newLakehouse(t)
	l.write("a.csv", csvRows(0, 10))
	l.write("b.csv", csvRows(10, 5))
	l.ok("table", "create", "trips", "--from", "a.csv")
	l.ok("tag", "create", "v1")
	time.Sleep(1100 * time.Millisecond) // time refs have second precision
	before := time.Now().UTC().Format(time.RFC3339)
	time.Sleep(1100 * time.Millisecond)
	l.ok("branch", "create", "dev")
	l.ok("table", "import", "trips", "--from", "b.csv", "--ref", "dev")
	l.ok("table", "import", "trips", "--from", "b.csv")
	l.ok("table", "import", "trips", "--from", "b.csv")
	n := func(ref string) float64 {
		t.Helper()
		rows := l.queryJSON("select count(*) as n from trips", "--ref", ref)
		return rows[0]["n"].(float64)
	}
	for ref, want := range map[string]float64{"main": 20, "dev": 15, "v1": 10, "main~1": 15, "main@{" + before + "}": 10} {
		if got := n(ref); got != want {
			t.Fatalf("count at %s = %v, want %v", ref, got, want)
		}
	}
	// The active branch is the default ref.
	l.ok("checkout", "dev")
	if rows := l.queryJSON("select count(*) as n from trips"); rows[0]["n"] != 15.0 {
		t.Fatalf("active branch: %v", rows)
	}
}

func TestCLIQuery_Pruning(t *testing.T) {
	l := newLakehouse(t)
	var b strings.Builder
	b.WriteString("id,name,amount,ts\n")
	for i := 0; i < 90; i++ {
		b.WriteString(strings.Join([]string{strconv.Itoa(i), "n" + strconv.Itoa(i), strconv.Itoa(i), "2026-01-0" + strconv.Itoa(1+i/30) + "T10:00:00Z"}, ",") + "\n")
	}
	l.write("a.csv", b.String())
	l.ok("table", "create", "trips", "--from", "a.csv", "--partition-by", "day(ts)")
	out := l.ok("query", "select count(*) as n, sum(id) as s from trips where ts >= timestamptz '2026-01-03 00:00:00+00'")
	if !strings.Contains(out, "read 1 of 3 data files") {
		t.Fatalf("no files skipped:\n%s", out)
	}
	rows := l.queryJSON("select count(*) as n, sum(id) as s from trips where ts >= timestamptz '2026-01-03 00:00:00+00'")
	if rows[0]["n"] != 30.0 || rows[0]["s"] != float64(60*30+435) {
		t.Fatalf("pruned answer = %v", rows)
	}
}

func TestCLIQuery_Errors(t *testing.T) {
	l := newLakehouse(t)
	l.write("a.csv", csvRows(0, 3))
	l.ok("table", "create", "trips", "--from", "a.csv")
	l.ok("branch", "create", "dev")
	cases := []struct {
		name     string
		code     int
		mentions []string
		args     []string
	}{
		{"Syntax", 2, []string{"syntax error", "line 2, column 5", "^"}, []string{"query", "select 1\nfrm trips"}},
		{"UnknownTable", 3, []string{`"trip"`, `did you mean "trips"`, "tables at main: trips"}, []string{"query", "select * from trip"}},
		{"UnknownTableOnRef", 3, []string{"at dev"}, []string{"query", "select * from nosuch", "--ref", "dev"}},
		{"UnknownRef", 3, []string{`"deb"`, `did you mean "dev"`}, []string{"query", "select 1", "--ref", "deb"}},
		{"UnknownColumn", 2, []string{"amout"}, []string{"query", "select amout from trips"}},
		{"Insert", 2, []string{"INSERT", "tarn table"}, []string{"query", "insert into trips select * from trips"}},
		{"Create", 2, []string{"CREATE", "tarn run"}, []string{"query", "create table x as select 1"}},
		{"Drop", 2, []string{"DROP"}, []string{"query", "drop table trips"}},
		{"Update", 2, []string{"UPDATE"}, []string{"query", "update trips set id = 1"}},
		{"Delete", 2, []string{"DELETE"}, []string{"query", "delete from trips"}},
		{"Attach", 2, []string{"ATTACH"}, []string{"query", "attach 'x.db'"}},
		{"CopyFrom", 2, []string{"COPY", "tarn table import"}, []string{"query", "copy trips from 'a.csv'"}},
		{"CopyTo", 2, []string{"COPY", "--out"}, []string{"query", "copy trips to 'x.csv'"}},
		{"TwoStatements", 2, []string{"2 statements"}, []string{"query", "select 1; select 2"}},
		{"Empty", 2, []string{"empty"}, []string{"query", " ; "}},
		{"BadFormat", 2, []string{"xml", "csv"}, []string{"query", "select 1", "-o", "xml"}},
		{"BadNamespace", 2, []string{"invalid namespace"}, []string{"query", "select 1", "--namespace", "a-b"}},
		{"ArgAndFile", 2, []string{"not both"}, []string{"query", "select 1", "-f", "q.sql"}},
		{"MissingFile", 2, []string{"nosuch.sql"}, []string{"query", "-f", "nosuch.sql"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			l.t = t
			l.fails(tc.code, tc.mentions, tc.args...)
		})
	}
	l.t = t
	if _, err := os.Stat(filepath.Join(l.dir, "x.csv")); err == nil {
		t.Fatal("a refused COPY wrote a file")
	}
	// Nothing was written to the lakehouse.
	var log []struct{ Message string }
	l.json(&log, "log", "-n", "0")
	if len(log) != 2 {
		t.Fatalf("refused statements wrote commits: %+v", log)
	}
	// JSON errors carry the code.
	r := l.fails(3, nil, "query", "select * from nosuch", "-o", "json")
	var je struct{ Error struct{ Code string } }
	if err := json.Unmarshal([]byte(r.stderr), &je); err != nil || je.Error.Code != "not_found" {
		t.Fatalf("json error = %q (%v)", r.stderr, err)
	}
}

// runStdin runs tarn with standard input.
func (l *lakehouse) runStdin(stdin string, args ...string) result {
	l.t.Helper()
	cmd := l.command(args...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		l.t.Fatal(err)
	}
	return result{out.String(), errb.String(), code}
}

func TestCLIQuery_Interactive(t *testing.T) {
	l := newLakehouse(t)
	l.write("a.csv", csvRows(0, 10))
	l.ok("table", "create", "trips", "--from", "a.csv")
	l.ok("tag", "create", "v1")
	l.write("b.csv", csvRows(10, 5))
	l.ok("table", "import", "trips", "--from", "b.csv")
	script := ".tables\n.schema trips\nselect count(*) as n\n  from trips;\n.ref v1\nselect count(*) as n from trips;\nselect * from nosuch;\n.frob\n.quit\nselect 'not reached';\n"
	r := l.runStdin(script, "query", "--interactive")
	if r.code != 0 {
		t.Fatalf("exit %d: %s %s", r.code, r.stdout, r.stderr)
	}
	for _, want := range []string{"tarn.trips", "timestamptz", "15", "querying v1", "10", `"nosuch" not found`, "unknown command .frob"} {
		if !strings.Contains(r.stdout, want) {
			t.Fatalf("interactive output lacks %q:\n%s", want, r.stdout)
		}
	}
	if strings.Contains(r.stdout, "not reached") {
		t.Fatalf(".quit did not stop the shell:\n%s", r.stdout)
	}
}

func TestCLIQuery_Interrupt(t *testing.T) {
	l := newLakehouse(t)
	l.write("a.csv", csvRows(0, 3))
	l.ok("table", "create", "trips", "--from", "a.csv")
	for _, out := range []string{"slow.parquet", ""} {
		args := []string{"query", "select count(*) from trips, range(100000000000) r where hash(r.range + trips.id) = 42"}
		if out != "" {
			args = append(args, "--out", out)
		}
		cmd := l.command(args...)
		var errb bytes.Buffer
		cmd.Stderr = &errb
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(1500 * time.Millisecond)
		started := time.Now()
		cmd.Process.Signal(syscall.SIGINT)
		err := cmd.Wait()
		ee, ok := err.(*exec.ExitError)
		if !ok || ee.ExitCode() != 130 || !strings.Contains(errb.String(), "interrupted") {
			t.Fatalf("interrupted query: %v, stderr %q", err, errb.String())
		}
		if d := time.Since(started); d > 5*time.Second {
			t.Fatalf("query took %s to stop", d)
		}
		if out != "" {
			if _, err := os.Stat(filepath.Join(l.dir, out)); err == nil {
				t.Fatal("an interrupted query left an output file")
			}
		}
		assertNoTempFiles(t, l.dir)
	}
}
