package main

import (
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"
)

// wideCSV is a header of n columns named prefix0, prefix1, ... and one row.
func wideCSV(prefix string, n int) string {
	head, row := make([]string, n), make([]string, n)
	for i := range n {
		head[i], row[i] = fmt.Sprintf("%s%d", prefix, i), "1"
	}
	return strings.Join(head, ",") + "\n" + strings.Join(row, ",") + "\n"
}

// written returns the number of commits and of files in the warehouse,
// which a refused command must leave as they were.
func (l *lakehouse) written() (commits, files int) {
	l.t.Helper()
	var log []struct{ Hash string }
	l.json(&log, "log", "-n", "0")
	filepath.WalkDir(filepath.Join(l.home, "warehouse"), func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			files++
		}
		return nil
	})
	return len(log), files
}

// TestCLI_BadInput: bad column names, too many columns and names SQL
// cannot resolve are refused with exit 2 (or 4 for a name taken) and a
// message saying what to change, before anything is written; against
// `tarn serve` the same requests are 4xx.
func TestCLI_BadInput(t *testing.T) {
	l := newLakehouse(t)
	l.write("trips.csv", "id,fare\n1,2.5\n")
	l.ok("table", "create", "trips", "--from", "trips.csv")
	l.ok("namespace", "create", "staging")
	l.write("wide.csv", wideCSV("c", 4096))
	l.ok("table", "create", "wide", "--from", "wide.csv")

	l.write("ctrl.csv", "id,fare\x01amount\n1,2\n")
	l.write("nul.csv", "id,fare\x00amount\n1,2\n")
	l.write("case.csv", "id,Fare,fare\n1,2,3\n")
	l.write("empty.jsonl", "{\"id\":1,\"\":2}\n")
	l.write("upper.csv", "ID,fare\n2,3.5\n")
	l.write("more.csv", "c0,extra\n1,2\n")
	l.write("c20000.csv", wideCSV("c", 20000))
	long := strings.Repeat("a_long_column_name_", 13) // 247 bytes: names of 250
	l.write("long.csv", wideCSV(long, 4096))
	l.write("tab.yaml", "table: tarn.p\nfrom: [trips.csv]\ncolumns:\n  - name: \"fare\\tamount\"\n    type: double\n")
	l.write("dup.yaml", "table: tarn.p\nfrom: [trips.csv]\ncolumns:\n  - name: id\n    type: long\n  - name: ID\n    type: long\n")
	l.write("notype.yaml", "table: tarn.p\nfrom: [trips.csv]\ncolumns:\n  - name: id\n    type: long\n  - name: fare\n")
	cases := []struct {
		name     string
		code     int
		mentions []string
		args     []string
	}{
		{"ControlCharacter", 2, []string{"ctrl.csv:1", "header column 2", `"fare\x01amount"`, "U+0001", "rename"}, []string{"table", "create", "t", "--from", "ctrl.csv"}},
		{"NUL", 2, []string{"nul.csv:1", "U+0000"}, []string{"table", "create", "t", "--from", "nul.csv"}},
		{"CaseOnlyDuplicate", 2, []string{"case.csv:1", `"Fare" and "fare" differ only in case`}, []string{"table", "create", "t", "--from", "case.csv"}},
		{"EmptyJSONKey", 2, []string{"empty.jsonl:1", "empty column name"}, []string{"table", "create", "t", "--from", "empty.jsonl"}},
		{"CaseAcrossFiles", 2, []string{`column "ID"`, `differs only in case from column "id"`}, []string{"table", "create", "t", "--from", "trips.csv", "--from", "upper.csv"}},
		{"ImportCaseOnly", 2, []string{`column "ID" differs only in case from the table's column "id"`}, []string{"table", "import", "trips", "--from", "upper.csv"}},
		{"TooManyColumns", 2, []string{"c20000.csv:1", "20000 columns", "4096"}, []string{"table", "create", "t", "--from", "c20000.csv"}},
		{"EvolutionBeyondLimit", 2, []string{"tarn.wide", "4097 columns"}, []string{"table", "import", "wide", "--from", "more.csv"}},
		{"SchemaTooLargeForManifest", 2, []string{"as JSON", "1.0 MiB", "shorten the column names"}, []string{"table", "create", "t", "--from", "long.csv"}},
		{"PlanControlCharacter", 2, []string{"plan column 1", "U+0009"}, []string{"table", "create", "p", "--apply", "tab.yaml"}},
		{"PlanCaseOnlyDuplicate", 2, []string{`"id" and "ID" differ only in case`}, []string{"table", "create", "p", "--apply", "dup.yaml"}},
		{"PlanNoType", 2, []string{`plan column "fare" has no type`}, []string{"table", "create", "p", "--apply", "notype.yaml"}},
		{"ReservedNamespace", 2, []string{`"memory" is reserved`, "choose another name"}, []string{"namespace", "create", "memory"}},
		{"ReservedNamespaceOfTable", 2, []string{`"Memory" is reserved`}, []string{"table", "create", "Memory.t", "--from", "trips.csv"}},
		{"TableDifferingInCase", 4, []string{"tarn.Trips differs only in case from the existing table tarn.trips"}, []string{"table", "create", "Trips", "--from", "trips.csv"}},
		{"NamespaceDifferingInCase", 4, []string{"Staging differs only in case"}, []string{"namespace", "create", "Staging"}},
	}
	commits, files := l.written()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			l.t = t
			r := l.fails(tc.code, tc.mentions, tc.args...)
			if len(r.stderr) > 1000 {
				t.Errorf("a message of %d bytes: it echoes the input", len(r.stderr))
			}
			if c, f := l.written(); c != commits || f != files {
				t.Errorf("a refused command wrote %d commits and %d files", c-commits, f-files)
			}
		})
	}
	l.t = t
	// The table that was refused a twin can still be replaced.
	l.ok("table", "create", "trips", "--from", "trips.csv", "--replace")
}

// TestCLIQuery_Statements: text with several statements is refused as such,
// and tables named in query_table() are read.
func TestCLIQuery_Statements(t *testing.T) {
	l := newLakehouse(t)
	l.write("trips.csv", "id,fare\n1,2.5\n2,3.5\n")
	l.ok("table", "create", "trips", "--from", "trips.csv")
	l.fails(2, []string{"holds 2 statements (SELECT, COPY)", "one statement at a time"}, "query", "select 1; copy trips to 'x.csv'")
	if rows := l.queryJSON("select count(*) as n from query_table('trips')"); rows[0]["n"] != 2.0 {
		t.Fatalf("query_table: %v", rows)
	}
	r := l.fails(2, []string{"table trips is at main", "name it in FROM"}, "query", "select * from query('select * from trips')")
	if strings.Contains(r.stderr, `did you mean "trips"`) {
		t.Fatalf("the suggestion is the name asked for: %s", r.stderr)
	}
}
