package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// The black-box tests run the built binary, as a user would.
var tarnBin string

// remote is set when the suite runs against `tarn serve`, shared when
// against two of them on one database (see modes_test.go).
var (
	shared = os.Getenv(modeEnv) == "shared"
	remote = os.Getenv(modeEnv) == "remote" || shared
)

func TestMain(m *testing.M) {
	flag.Parse()
	tarnBin = os.Getenv("TARN_BIN")
	if tarnBin == "" {
		dir, err := os.MkdirTemp("", "tarn-bin-")
		if err != nil {
			panic(err)
		}
		tarnBin = filepath.Join(dir, "tarn")
		out, err := exec.Command("go", "build", "-o", tarnBin, ".").CombinedOutput()
		if err != nil {
			fmt.Fprintf(os.Stderr, "build tarn: %v\n%s", err, out)
			os.Exit(1)
		}
		code := runModes(m)
		os.RemoveAll(dir)
		os.Exit(code)
	}
	os.Exit(runModes(m))
}

type result struct {
	stdout, stderr string
	code           int
}

// lakehouse is a fresh TARN_HOME for one test.
type lakehouse struct {
	t    *testing.T
	home string
	dir  string
	env  []string
	// endpoints are the servers of a shared-mode lakehouse; each command
	// goes to the next.
	endpoints []string
	calls     int
	catalog   string // the database of a shared-mode lakehouse
}

func newLakehouse(t *testing.T) *lakehouse {
	t.Helper()
	dir := t.TempDir()
	l := &lakehouse{t: t, home: filepath.Join(dir, "home"), dir: dir}
	// A profile file of the user running the tests must not leak in.
	l.env = append(l.env, "TARN_CONFIG="+filepath.Join(dir, "config.yml"))
	if remote {
		l.serve()
	}
	return l
}

// command is tarn with args on the lakehouse (through the next of its
// servers, in shared mode).
func (l *lakehouse) command(args ...string) *exec.Cmd {
	cmd := exec.Command(tarnBin, args...)
	cmd.Dir = l.dir
	cmd.Env = append(append(os.Environ(), "TARN_HOME="+l.home, "TARN_AUTHOR=tester"), l.env...)
	if len(l.endpoints) > 0 {
		cmd.Env = append(cmd.Env, "TARN_ENDPOINT="+l.endpoints[l.calls%len(l.endpoints)])
		l.calls++
	}
	return cmd
}

func (l *lakehouse) run(args ...string) result {
	l.t.Helper()
	cmd := l.command(args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		l.t.Fatalf("run tarn %v: %v", args, err)
	}
	return result{out.String(), errb.String(), code}
}

// ok runs a command that must succeed and returns its stdout.
func (l *lakehouse) ok(args ...string) string {
	l.t.Helper()
	r := l.run(args...)
	if r.code != 0 {
		l.t.Fatalf("tarn %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
	}
	return r.stdout
}

// json runs a command with -o json and decodes its output.
func (l *lakehouse) json(v any, args ...string) {
	l.t.Helper()
	out := l.ok(append(args, "-o", "json")...)
	if err := json.Unmarshal([]byte(out), v); err != nil {
		l.t.Fatalf("decode output of %v: %v\n%s", args, err, out)
	}
}

// fails runs a command that must fail with the exit code and mention each
// string in stderr.
func (l *lakehouse) fails(code int, mentions []string, args ...string) result {
	l.t.Helper()
	r := l.run(args...)
	if r.code != code {
		l.t.Fatalf("tarn %s: exit %d, want %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), r.code, code, r.stdout, r.stderr)
	}
	for _, m := range mentions {
		if !strings.Contains(r.stderr, m) {
			l.t.Fatalf("tarn %s: stderr does not mention %q:\n%s", strings.Join(args, " "), m, r.stderr)
		}
	}
	return r
}

func (l *lakehouse) write(name, content string) string {
	l.t.Helper()
	p := filepath.Join(l.dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		l.t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		l.t.Fatal(err)
	}
	return p
}

type tableRow struct {
	Table struct{ Namespace, Name string }
	Rows  int64
	Files int64
}

func (l *lakehouse) rows(ref, table string) int64 {
	l.t.Helper()
	var list []tableRow
	l.json(&list, "table", "ls", "--ref", ref)
	for _, r := range list {
		if r.Table.Namespace+"."+r.Table.Name == table {
			return r.Rows
		}
	}
	return -1
}

func csvRows(from, n int) string {
	var b strings.Builder
	b.WriteString("id,name,amount,ts\n")
	for i := from; i < from+n; i++ {
		fmt.Fprintf(&b, "%d,name%d,%d.5,2026-01-%02dT10:00:00Z\n", i, i, i, 1+i%28)
	}
	return b.String()
}

func TestCLI_Workflow(t *testing.T) {
	l := newLakehouse(t)
	l.write("a.csv", csvRows(0, 10))
	l.write("b.csv", csvRows(10, 5))
	l.ok("table", "create", "trips", "--from", "a.csv", "--partition-by", "day(ts)")
	if got := l.rows("main", "tarn.trips"); got != 10 {
		t.Fatalf("rows after create = %d", got)
	}
	l.ok("tag", "create", "v1")
	l.ok("branch", "create", "dev")
	l.ok("checkout", "dev")
	var status struct {
		ActiveBranch string `json:"active_branch"`
	}
	l.json(&status, "status")
	if status.ActiveBranch != "dev" {
		t.Fatalf("active branch %q", status.ActiveBranch)
	}
	l.ok("table", "import", "trips", "--from", "b.csv")
	if l.rows("dev", "tarn.trips") != 15 || l.rows("main", "tarn.trips") != 10 {
		t.Fatal("import on dev leaked to main or was lost")
	}
	var diff struct {
		Changes []struct {
			Name   string
			Change string
			Before int64 `json:"rows_before"`
			After  int64 `json:"rows_after"`
		}
	}
	l.json(&diff, "branch", "diff", "dev")
	if len(diff.Changes) != 1 || diff.Changes[0].Name != "tarn.trips" || diff.Changes[0].Before != 10 || diff.Changes[0].After != 15 {
		t.Fatalf("diff = %+v", diff)
	}
	l.ok("checkout", "main")
	l.ok("namespace", "create", "staging")
	l.ok("table", "create", "staging.extra", "--from", "a.csv")
	var merge struct {
		FastForward bool `json:"fast_forward"`
		Commit      struct{ Parents []string }
	}
	l.json(&merge, "branch", "merge", "dev", "-m", "publish")
	if merge.FastForward || len(merge.Commit.Parents) != 2 {
		t.Fatalf("merge = %+v", merge)
	}
	if l.rows("main", "tarn.trips") != 15 || l.rows("main", "staging.extra") != 10 {
		t.Fatal("merge result wrong")
	}
	// Time travel: v1 and main~N still show the old state.
	if l.rows("v1", "tarn.trips") != 10 {
		t.Fatal("tag v1 moved")
	}
	var log []struct {
		Hash, Author, Message string
		Parents               []string
	}
	l.json(&log, "log", "-n", "3")
	if len(log) != 3 || log[0].Message != "publish" || log[0].Author != "tester" {
		t.Fatalf("log = %+v", log)
	}
	if l.rows(log[0].Hash[:10]+"~1", "tarn.trips") != 10 {
		t.Fatal("first parent of the merge should have 10 rows")
	}
	// BRANCH@HASH: the merge's second parent is dev's import, in main's history.
	devImport := log[0].Parents[1]
	if l.rows("main@"+devImport[:6], "tarn.trips") != 15 || l.rows("main@"+devImport[:6]+"~1", "tarn.trips") != 10 {
		t.Fatal("main@HASH of dev's import should have 15 rows, its parent 10")
	}
	var got struct{ Rows int64 }
	l.json(&got, "table", "get", "trips", "--ref", "dev@"+devImport[:8])
	if got.Rows != 15 {
		t.Fatalf("table get --ref dev@HASH: %d rows", got.Rows)
	}
	l.fails(3, []string{"commit " + log[0].Hash[:8] + " is not in the history of branch dev"}, "query", "select 1", "--ref", "dev@"+log[0].Hash[:8])
	l.fails(3, []string{`ref "deb" not found`, `did you mean "dev"`}, "table", "ls", "--ref", "deb@"+devImport[:8])
	l.fails(2, []string{"only branches are writable"}, "table", "rm", "trips", "--ref", "main@"+devImport[:8])
	// Revert to v1 and check.
	l.ok("table", "revert", "trips", "--to", "v1")
	if l.rows("main", "tarn.trips") != 10 {
		t.Fatal("revert did not restore 10 rows")
	}
	var info struct {
		Schema []struct{ Name, Type string }
		Rows   int64
	}
	l.json(&info, "table", "get", "trips", "--ref", "dev")
	if info.Rows != 15 || len(info.Schema) != 4 || info.Schema[3].Type != "timestamptz" {
		t.Fatalf("table get = %+v", info)
	}
	l.ok("table", "rm", "trips")
	if l.rows("main", "tarn.trips") != -1 {
		t.Fatal("table rm did not remove the table")
	}
	l.ok("namespace", "rm", "staging", "--force")
	l.ok("verify", "--history")
}

func TestCLI_SchemaEvolution(t *testing.T) {
	l := newLakehouse(t)
	l.write("a.csv", "id,v\n1,1.5\n")
	l.ok("table", "create", "t", "--from", "a.csv")
	l.write("wider.csv", "id,v,note\n2,2.5,hello\n")
	out := l.ok("table", "import", "t", "--from", "wider.csv")
	if !strings.Contains(out, "add column note") {
		t.Fatalf("import did not report the new column: %s", out)
	}
	l.write("bad.csv", "id,v\nx,notanumber\n")
	l.fails(2, []string{"bad.csv:2", `"id"`, "long"}, "table", "import", "t", "--from", "bad.csv")
	l.write("a.parquet.csv", "id,v\n1,true\n")
	l.fails(2, []string{`"v"`, "double", "boolean"}, "table", "import", "t", "--from", "a.parquet.csv")
	if l.rows("main", "tarn.t") != 2 {
		t.Fatal("a failed import changed the table")
	}
}

func TestCLI_PlanApply(t *testing.T) {
	l := newLakehouse(t)
	l.write("a.csv", "id,amount\n1,10\n2,20\n")
	plan := l.ok("table", "create", "t", "--from", "a.csv", "--plan")
	if !strings.Contains(plan, "type: long") {
		t.Fatalf("plan: %s", plan)
	}
	l.write("plan.yaml", strings.Replace(strings.Replace(plan, "type: long", "type: double", 2), "type: double", "type: long", 1))
	l.ok("table", "create", "t", "--apply", "plan.yaml")
	var info struct{ Schema []struct{ Name, Type string } }
	l.json(&info, "table", "get", "t")
	if info.Schema[0].Type != "long" || info.Schema[1].Type != "double" {
		t.Fatalf("applied schema = %+v", info.Schema)
	}
	if l.rows("main", "tarn.t") != 2 {
		t.Fatal("plan apply did not import rows")
	}
	var list []tableRow
	l.json(&list, "table", "ls")
	if len(list) != 1 {
		t.Fatalf("--plan wrote something: %+v", list)
	}
}

func TestCLI_Errors(t *testing.T) {
	l := newLakehouse(t)
	l.write("a.csv", csvRows(0, 3))
	l.ok("table", "create", "trips", "--from", "a.csv")
	l.ok("branch", "create", "dev")
	l.ok("tag", "create", "v1")
	l.ok("namespace", "create", "staging")
	l.ok("table", "create", "staging.t", "--from", "a.csv")
	l.write("ragged.csv", "a,b,c\n1,2,3\n4,5\n")
	l.write("badvalue.csv", "id,name,amount,ts\n1,x,2.5,2026-01-01T00:00:00Z\n2,y,abc,2026-01-01T00:00:00Z\n")
	l.write("empty.csv", "")
	cases := []struct {
		name     string
		code     int
		mentions []string
		args     []string
	}{
		{"UnknownRef", 3, []string{`"deb"`, `did you mean "dev"`}, []string{"table", "ls", "--ref", "deb"}},
		{"UnknownTable", 3, []string{"tarn.trip", `"trips"`}, []string{"table", "get", "trip"}},
		{"UnknownNamespace", 3, []string{`"nope"`}, []string{"table", "ls", "--namespace", "nope"}},
		{"PathTraversalTable", 2, []string{"invalid"}, []string{"table", "create", "../x", "--from", "a.csv"}},
		{"PathTraversalBranch", 2, []string{"invalid branch name"}, []string{"branch", "create", "../x"}},
		{"EmptyBranchName", 2, []string{"empty"}, []string{"branch", "create", ""}},
		{"ReservedNamespace", 2, []string{"reserved"}, []string{"namespace", "create", "information_schema"}},
		{"RaggedCSV", 2, []string{"ragged.csv:3", "3"}, []string{"table", "create", "r", "--from", "ragged.csv"}},
		{"UnparseableValue", 2, []string{"badvalue.csv:3", `"amount"`, "abc"}, []string{"table", "import", "trips", "--from", "badvalue.csv"}},
		{"EmptyFile", 2, []string{"empty.csv", "empty"}, []string{"table", "create", "e", "--from", "empty.csv"}},
		{"NoSuchFile", 2, []string{"nosuch.csv"}, []string{"table", "create", "e", "--from", "nosuch.csv"}},
		{"MergeIntoItself", 2, []string{"itself"}, []string{"branch", "merge", "main", "--into", "main"}},
		{"DeleteMain", 2, []string{"main"}, []string{"branch", "rm", "main"}},
		{"CreateExistingBranch", 4, []string{"already exists"}, []string{"branch", "create", "dev"}},
		{"CreateExistingTable", 4, []string{"already exists", "--replace"}, []string{"table", "create", "trips", "--from", "a.csv"}},
		{"WriteToTag", 2, []string{"only branches are writable"}, []string{"table", "import", "trips", "--from", "a.csv", "--ref", "v1"}},
		{"WriteToPast", 2, []string{"only branches are writable"}, []string{"table", "rm", "trips", "--ref", "main~1"}},
		{"CheckoutTag", 2, []string{"only branches"}, []string{"checkout", "v1"}},
		{"UnknownFlag", 2, []string{"--nope"}, []string{"table", "ls", "--nope"}},
		{"MissingArg", 2, []string{"TABLE"}, []string{"table", "get"}},
		{"UnknownCommand", 2, []string{"unknown command"}, []string{"frobnicate"}},
		{"BadPartition", 2, []string{"partition", `did you mean "amount"`}, []string{"table", "create", "p", "--from", "a.csv", "--partition-by", "day(amout)"}},
		{"BadRefSyntax", 2, []string{"RFC3339"}, []string{"log", "--ref", "main@{yesterday}"}},
		{"NonEmptyNamespace", 2, []string{"not empty", "--force"}, []string{"namespace", "rm", "staging"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			l.t = t
			l.fails(tc.code, tc.mentions, tc.args...)
		})
	}
	l.t = t
	// Nothing was written by any failing command.
	var log []struct{ Message string }
	l.json(&log, "log", "-n", "0")
	if len(log) != 4 {
		t.Fatalf("failing commands wrote commits: %+v", log)
	}
	// --if-not-exists turns "exists" into success.
	l.ok("branch", "create", "dev", "--if-not-exists")
	l.ok("table", "create", "trips", "--from", "a.csv", "--if-not-exists")
	l.ok("namespace", "create", "tarn", "--if-not-exists")
	// The active branch cannot be deleted.
	l.ok("checkout", "dev")
	l.fails(2, []string{"active branch"}, "branch", "rm", "dev")
	// JSON errors carry the code.
	r := l.fails(3, nil, "table", "get", "nosuch", "-o", "json")
	var je struct{ Error struct{ Code string } }
	if err := json.Unmarshal([]byte(r.stderr), &je); err != nil || je.Error.Code != "not_found" {
		t.Fatalf("json error = %q (%v)", r.stderr, err)
	}
}

func TestCLI_CorruptCatalog(t *testing.T) {
	embeddedOnly(t)
	l := newLakehouse(t)
	if err := os.MkdirAll(l.home, 0o755); err != nil {
		t.Fatal(err)
	}
	garbage := []byte("definitely not an sqlite database, but someone's precious notes")
	db := filepath.Join(l.home, "catalog.db")
	if err := os.WriteFile(db, garbage, 0o644); err != nil {
		t.Fatal(err)
	}
	l.fails(1, []string{"corrupt", "refusing"}, "branch", "ls")
	after, _ := os.ReadFile(db)
	if !bytes.Equal(after, garbage) {
		t.Fatal("a corrupt catalog file was modified")
	}
}

func TestCLI_Help(t *testing.T) {
	embeddedOnly(t)
	a := &app{}
	root := a.rootCommand()
	for _, c := range allCommands(root) {
		path := strings.Fields(c.CommandPath())[1:]
		t.Run(strings.Join(path, "_"), func(t *testing.T) {
			l := newLakehouse(t)
			out := l.ok(append(path, "--help")...)
			if !strings.Contains(out, "Examples:") {
				t.Fatalf("tarn %s --help has no example:\n%s", strings.Join(path, " "), out)
			}
		})
	}
}

// TestCLI_ImportSampleAndProgress: types come from the first --infer-rows
// rows; a later value that does not fit fails naming file, line and column
// and writes nothing; --infer-rows 0 reads every row. --progress reports
// on stderr (embedded: the engine runs in the process) beside -o json.
func TestCLI_ImportSampleAndProgress(t *testing.T) {
	l := newLakehouse(t)
	var b strings.Builder
	b.WriteString("id,v\n")
	for i := 0; i < 20; i++ {
		fmt.Fprintf(&b, "%d,%d\n", i, i)
	}
	b.WriteString("20,2.5\n")
	l.write("late.csv", b.String())
	l.fails(2, []string{"late.csv:22", `column "v"`, "--infer-rows"}, "table", "create", "t", "--from", "late.csv", "--infer-rows", "10")
	r := l.run("table", "create", "t", "--from", "late.csv", "--infer-rows", "0", "--progress", "-o", "json")
	if r.code != 0 {
		t.Fatalf("create with --infer-rows 0: exit %d: %s", r.code, r.stderr)
	}
	var res struct {
		Added int64 `json:"added_rows"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &res); err != nil || res.Added != 21 {
		t.Fatalf("-o json result %q: %v", r.stdout, err)
	}
	if !remote && !strings.Contains(r.stderr, "importing tarn.t: ") {
		t.Fatalf("--progress printed nothing on stderr: %q", r.stderr)
	}
	if l.rows("main", "tarn.t") != 21 {
		t.Fatal("the table does not hold every row")
	}
}
