package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/spf13/cobra"
	"github.com/tarnhq/tarn"
	"golang.org/x/term"
)

// queryFormats are the -o values `tarn query` accepts.
var queryFormats = []string{"text", "json", "jsonl", "csv", "parquet", "arrow"}

type queryFlags struct {
	ref, namespace, file, out string
	maxRows                   int
	allRows, interactive      bool
}

func (a *app) queryCommand() *cobra.Command {
	var f queryFlags
	cmd := &cobra.Command{
		Use:   "query [SQL]",
		Short: "Run SQL over the tables of any ref (branch, tag, commit, time) with DuckDB",
		Long: `Runs one SELECT statement with embedded DuckDB over the lakehouse as it is at
a ref: the active branch by default, or --ref with a branch, tag, commit,
REF~N or REF@{TIME}. Table names resolve at that ref: NAME in the namespace
"tarn" (or --namespace), NAMESPACE.NAME qualified. Joins, CTEs, window
functions and the rest of DuckDB's SQL work over them.

Only what the query needs is read: filters on columns skip data files by
partition and column statistics, and only referenced columns are decoded.
tarn query never writes; change tables with ` + "`tarn table`" + ` or ` + "`tarn run`" + `.

The SQL comes from the argument, from -f FILE (- for standard input), or
from standard input when it is not a terminal. With none of them on a
terminal, an interactive prompt starts (.help lists its commands).

Output (-o): text (a table, --max-rows rows), csv, json (an array of
objects), jsonl, parquet or arrow (Arrow IPC file). --out FILE writes the
result to a file atomically (the format follows the extension unless -o
says otherwise); file outputs stream and do not hold the result in memory.
An Arrow file is uncompressed: 6-7 times the size of the zstd Parquet file
of the same result, and about that much slower to write on a slow disk
(it passes through an uncompressed Parquet file beside it, removed after).`,
		Example: `  tarn query "select count(*) from trips"
  tarn query "select zone, avg(fare) from trips join zones using (zone_id) group by all" --ref v1
  tarn query "select * from trips where pickup_at >= date '2026-02-01'" --all-rows
  tarn query -f report.sql -o csv --out report.csv
  tarn query "from staging.events" --ref "main@{2026-05-19T06:00:00Z}" -o parquet --out events.parquet
  tarn query            # interactive prompt`,
		Args: rangeArgs(0, 1, "[SQL] [-f FILE] [--ref REF]"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.runQuery(cmd, args, &f)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.ref, "ref", "", "ref to query (default: the active branch)")
	fl.StringVar(&f.namespace, "namespace", tarn.DefaultNamespace, "namespace of unqualified table names")
	fl.StringVarP(&f.file, "file", "f", "", "read the SQL from FILE (- for standard input)")
	fl.StringVar(&f.out, "out", "", "write the result to FILE (atomically); the format follows -o or the extension")
	fl.IntVar(&f.maxRows, "max-rows", 20, "rows shown in text output")
	fl.BoolVar(&f.allRows, "all-rows", false, "show every row in text output")
	fl.BoolVar(&f.interactive, "interactive", false, "start the interactive prompt even when standard input is not a terminal")
	return cmd
}

// checkQueryOutput validates -o for the query command.
func checkQueryOutput(format string) error {
	for _, f := range queryFormats {
		if format == f {
			return nil
		}
	}
	return &usageError{fmt.Sprintf("unknown output format %q for tarn query: use -o %s", format, strings.Join(queryFormats, ", -o "))}
}

func (a *app) runQuery(cmd *cobra.Command, args []string, f *queryFlags) error {
	ctx := cmd.Context()
	if f.maxRows < 0 {
		return &usageError{"--max-rows must be 0 or more"}
	}
	if len(args) == 1 && f.file != "" {
		return &usageError{"give the SQL either as an argument or with -f FILE, not both"}
	}
	sqlText, haveSQL, err := a.querySQL(cmd, args, f)
	if err != nil {
		return err
	}
	format, err := queryOutputFormat(cmd, a.output, f.out)
	if err != nil {
		return err
	}
	if err := tarn.ValidateNamespace(f.namespace); err != nil {
		return err
	}
	if err := a.open(ctx); err != nil {
		return err
	}
	if !haveSQL {
		return a.queryShell(ctx, cmd.InOrStdin(), f)
	}
	req := tarn.QueryRequest{SQL: sqlText, Ref: a.ref(f.ref), Namespace: f.namespace}
	if format == "text" {
		return a.printQuery(ctx, req, f)
	}
	return a.copyQuery(ctx, req, format, f.out)
}

// querySQL returns the SQL from the argument, -f, or a piped stdin;
// haveSQL is false when the interactive prompt should start.
func (a *app) querySQL(cmd *cobra.Command, args []string, f *queryFlags) (string, bool, error) {
	switch {
	case len(args) == 1:
		return args[0], true, nil
	case f.file == "-":
		b, err := io.ReadAll(cmd.InOrStdin())
		return string(b), true, err
	case f.file != "":
		b, err := os.ReadFile(f.file)
		if err != nil {
			return "", false, tarn.Errorf(tarn.EINVALID, "read SQL file: %v", err)
		}
		return string(b), true, nil
	case f.interactive || isTerminal(cmd.InOrStdin()):
		return "", false, nil
	}
	b, err := io.ReadAll(cmd.InOrStdin())
	if err != nil {
		return "", false, err
	}
	if strings.TrimSpace(string(b)) == "" {
		return "", false, &usageError{"no SQL given: tarn query \"SELECT ...\", -f FILE, or SQL on standard input"}
	}
	return string(b), true, nil
}

// queryOutputFormat picks the result format from -o and --out.
func queryOutputFormat(cmd *cobra.Command, output, out string) (string, error) {
	explicit := cmd.Flags().Changed("output") || cmd.InheritedFlags().Changed("output")
	if out == "" {
		return output, nil
	}
	if explicit && output != "text" {
		return output, nil
	}
	ext := strings.ToLower(filepath.Ext(out))
	switch ext {
	case ".csv":
		return "csv", nil
	case ".json":
		return "json", nil
	case ".jsonl", ".ndjson":
		return "jsonl", nil
	case ".parquet":
		return "parquet", nil
	case ".arrow", ".feather", ".ipc":
		return "arrow", nil
	}
	return "", &usageError{fmt.Sprintf("cannot tell the format of --out %s from its extension: add -o csv|json|jsonl|parquet|arrow", out)}
}

// copyQuery writes a result in a file format, to --out or to stdout.
func (a *app) copyQuery(ctx context.Context, req tarn.QueryRequest, format, out string) error {
	if out != "" {
		res, err := a.svc.Query.CopyTo(ctx, req, format, out)
		if err != nil {
			return err
		}
		a.progress("wrote %s rows to %s (%s, %.3f s at %s %s)", count(res.Rows), out, format, res.Duration.Seconds(), req.Ref, res.Commit.ShortHash())
		return nil
	}
	if (format == "parquet" || format == "arrow") && isTerminal(a.stdout) {
		return &usageError{fmt.Sprintf("-o %s is binary: write it to a file with --out FILE or redirect standard output", format)}
	}
	dir, err := os.MkdirTemp("", "tarn-query-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	tmp := filepath.Join(dir, "result."+format)
	if _, err := a.svc.Query.CopyTo(ctx, req, format, tmp); err != nil {
		return err
	}
	fh, err := os.Open(tmp)
	if err != nil {
		return err
	}
	defer fh.Close()
	_, err = io.Copy(a.stdout, fh)
	return err
}

// printQuery runs a query and prints it as a table.
func (a *app) printQuery(ctx context.Context, req tarn.QueryRequest, f *queryFlags) error {
	started := time.Now()
	limit := f.maxRows
	if f.allRows {
		limit = -1
	} else {
		req.MaxRows = max(1, limit) // DuckDB stops after limit+1 rows
	}
	res, err := a.svc.Query.Query(ctx, req)
	if err != nil {
		return err
	}
	defer res.Close()
	var shown [][]string
	var total int64 // -1: more rows than shown, not counted
	for res.Records.Next() {
		rec := res.Records.RecordBatch()
		n := int(rec.NumRows())
		for i := 0; i < n && (limit < 0 || len(shown) < limit); i++ {
			shown = append(shown, rowCells(rec, i))
		}
		total += int64(n)
	}
	if err := res.Records.Err(); err != nil {
		return err
	}
	if req.MaxRows > 0 {
		total = res.TotalRows
	}
	if len(res.Columns) == 2 && res.Columns[0].Name == "explain_key" && res.Columns[1].Name == "explain_value" {
		for _, r := range shown { // EXPLAIN: the plan as DuckDB draws it
			fmt.Fprintln(a.stdout, r[1])
		}
		return nil
	}
	printTable(a.stdout, res.Columns, shown, rightAligned(res.Schema))
	fmt.Fprintln(a.stdout, footer(res, len(shown), total, time.Since(started), req.Ref))
	return nil
}

func rowCells(rec arrow.RecordBatch, i int) []string {
	row := make([]string, rec.NumCols())
	for j := range row {
		switch col := rec.Column(j).(type) {
		case *array.Decimal128:
			if col.IsNull(i) {
				row[j] = "NULL"
			} else {
				row[j] = col.Value(i).ToString(col.DataType().(*arrow.Decimal128Type).Scale)
			}
		default:
			if col.IsNull(i) {
				row[j] = "NULL"
			} else {
				row[j] = col.ValueStr(i)
			}
		}
	}
	return row
}

func rightAligned(schema *arrow.Schema) []bool {
	out := make([]bool, schema.NumFields())
	for i, f := range schema.Fields() {
		switch f.Type.ID() {
		case arrow.INT8, arrow.INT16, arrow.INT32, arrow.INT64, arrow.UINT8, arrow.UINT16, arrow.UINT32, arrow.UINT64,
			arrow.FLOAT32, arrow.FLOAT64, arrow.DECIMAL128, arrow.DECIMAL256:
			out[i] = true
		}
	}
	return out
}

const maxCellWidth = 48

// printTable prints names, types, a rule and the rows, aligned.
func printTable(w io.Writer, cols []tarn.QueryColumn, rows [][]string, right []bool) {
	widths := make([]int, len(cols))
	header := make([]string, len(cols))
	types := make([]string, len(cols))
	for i, c := range cols {
		header[i], types[i] = c.Name, strings.ToLower(c.Type)
		widths[i] = max(width(header[i]), width(types[i]))
	}
	for _, r := range rows {
		for i, v := range r {
			r[i] = clip(v)
			widths[i] = max(widths[i], width(r[i]))
		}
	}
	line := func(cells []string, rightAlign bool) {
		var b strings.Builder
		for i, c := range cells {
			if i > 0 {
				b.WriteString("  ")
			}
			pad := strings.Repeat(" ", widths[i]-width(c))
			if rightAlign && right[i] {
				b.WriteString(pad + c)
			} else if i < len(cells)-1 {
				b.WriteString(c + pad)
			} else {
				b.WriteString(c)
			}
		}
		fmt.Fprintln(w, b.String())
	}
	line(header, false)
	line(types, false)
	rule := make([]string, len(cols))
	for i := range rule {
		rule[i] = strings.Repeat("-", widths[i])
	}
	line(rule, false)
	for _, r := range rows {
		line(r, true)
	}
}

func width(s string) int { return utf8.RuneCountInString(s) }

// clip shortens long cells and makes control characters visible.
func clip(s string) string {
	s = strings.NewReplacer("\n", `\n`, "\r", `\r`, "\t", `\t`).Replace(s)
	if width(s) <= maxCellWidth {
		return s
	}
	return string([]rune(s)[:maxCellWidth-1]) + "…"
}

func footer(res *tarn.QueryResult, shown int, total int64, took time.Duration, ref string) string {
	var b strings.Builder
	noun := "rows"
	if total == 1 {
		noun = "row"
	}
	if total < 0 {
		fmt.Fprintf(&b, "(first %s rows shown, more not read: --all-rows or --max-rows N for more", count(int64(shown)))
	} else if int64(shown) < total {
		fmt.Fprintf(&b, "(%s of %s rows shown: --all-rows or --max-rows N for more", count(int64(shown)), count(total))
	} else {
		fmt.Fprintf(&b, "(%s %s", count(total), noun)
	}
	fmt.Fprintf(&b, ", %.3f s at %s %s", took.Seconds(), ref, res.Commit.ShortHash())
	var planned, all int
	for _, t := range res.Tables {
		planned += t.FilesPlanned
		all += t.FilesTotal
	}
	if planned < all {
		fmt.Fprintf(&b, "; read %d of %d data files", planned, all)
	}
	var files int
	var bytes int64
	var wait float64
	for _, t := range res.Tables {
		files, bytes, wait = files+t.DownloadedFiles, bytes+t.DownloadedBytes, wait+t.DownloadedSeconds
	}
	if files > 0 {
		noun := "files"
		if files == 1 {
			noun = "file"
		}
		fmt.Fprintf(&b, "; waited %.3f s downloading %d data %s (%s) from the object store", wait, files, noun, tarn.FormatBytes(bytes))
	}
	b.WriteString(")")
	return b.String()
}

func isTerminal(v any) bool {
	f, ok := v.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// queryShell is the interactive prompt: SQL statements end with ";",
// dot commands inspect the lakehouse.
func (a *app) queryShell(ctx context.Context, in io.Reader, f *queryFlags) error {
	// Ctrl-C stops a running statement only (see run); the process's
	// interrupt handler would otherwise cancel the whole shell.
	signal.Reset(os.Interrupt)
	sh := &shell{app: a, ref: a.ref(f.ref), ns: f.namespace, flags: f}
	if _, err := a.svc.Refs.Resolve(ctx, sh.ref); err != nil {
		return err
	}
	read, cleanup, err := sh.lineReader(in)
	if err != nil {
		return err
	}
	defer cleanup()
	fmt.Fprintf(a.stdout, "tarn query at %s: end statements with ';', .help for commands, .quit to leave\n", sh.ref)
	var pending strings.Builder
	for {
		prompt := "tarn " + sh.ref + "> "
		if pending.Len() > 0 {
			prompt = strings.Repeat(" ", len(prompt)-4) + "..> "
		}
		line, err := read(prompt)
		if ctx.Err() != nil { // SIGTERM
			return ctx.Err()
		}
		if errors.Is(err, io.EOF) {
			fmt.Fprintln(a.stdout)
			return nil
		}
		if err != nil {
			return err
		}
		if pending.Len() == 0 && strings.HasPrefix(strings.TrimSpace(line), ".") {
			if quit := sh.command(ctx, strings.Fields(strings.TrimSpace(line))); quit {
				return nil
			}
			continue
		}
		pending.WriteString(line)
		pending.WriteString("\n")
		text := strings.TrimSpace(pending.String())
		if text == "" || !strings.HasSuffix(text, ";") {
			if text == "" {
				pending.Reset()
			}
			continue
		}
		pending.Reset()
		sh.run(ctx, text)
	}
}

type shell struct {
	app   *app
	ref   string
	ns    string
	flags *queryFlags
}

// lineReader returns a prompt-and-read function: with line editing and
// history on a terminal, plain lines otherwise.
func (sh *shell) lineReader(in io.Reader) (func(prompt string) (string, error), func(), error) {
	f, ok := in.(*os.File)
	if ok && term.IsTerminal(int(f.Fd())) && isTerminal(sh.app.stdout) {
		t := term.NewTerminal(struct {
			io.Reader
			io.Writer
		}{f, sh.app.stdout}, "")
		t.History = openHistory(filepath.Join(sh.app.home, "query_history"))
		// Raw mode only while a line is edited: output and Ctrl-C behave
		// normally while statements run.
		read := func(prompt string) (string, error) {
			old, err := term.MakeRaw(int(f.Fd()))
			if err != nil {
				return "", err
			}
			defer term.Restore(int(f.Fd()), old)
			t.SetPrompt(prompt)
			return t.ReadLine()
		}
		return read, func() {}, nil
	}
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 64*1024), 16*1024*1024)
	read := func(prompt string) (string, error) {
		if !sc.Scan() {
			if err := sc.Err(); err != nil {
				return "", err
			}
			return "", io.EOF
		}
		return sc.Text(), nil
	}
	return read, func() {}, nil
}

// run executes one statement; Ctrl-C stops the statement, not the shell.
func (sh *shell) run(parent context.Context, sqlText string) {
	ctx, stop := signal.NotifyContext(parent, os.Interrupt)
	defer stop()
	req := tarn.QueryRequest{SQL: sqlText, Ref: sh.ref, Namespace: sh.ns}
	if err := sh.app.printQuery(ctx, req, sh.flags); err != nil {
		if errors.Is(err, context.Canceled) {
			err = errors.New("interrupted")
		}
		fmt.Fprintf(sh.app.stdout, "error: %v\n", err)
	}
}

// command runs a dot command and reports whether to quit.
func (sh *shell) command(ctx context.Context, words []string) bool {
	w := sh.app.stdout
	switch words[0] {
	case ".quit", ".exit", ".q":
		return true
	case ".help":
		fmt.Fprint(w, `.tables            list the tables at the current ref
.schema TABLE      show a table's columns
.ref REF           query another ref (branch, tag, commit, REF~N, REF@{TIME})
.quit              leave (also Ctrl-D or Ctrl-C at the prompt)
SQL statements end with ';'. Ctrl-C stops a running statement.
`)
	case ".tables":
		list, _, err := sh.app.svc.Tables.ListTables(ctx, sh.ref, "")
		if err != nil {
			fmt.Fprintf(w, "error: %v\n", err)
			break
		}
		if len(list) == 0 {
			fmt.Fprintf(w, "no tables at %s\n", sh.ref)
		}
		t := newTable(w, "TABLE", "ROWS", "FILES")
		for _, s := range list {
			t.row(s.Table, count(s.Rows), s.Files)
		}
		t.flush()
	case ".schema":
		if len(words) != 2 {
			fmt.Fprintln(w, "usage: .schema TABLE")
			break
		}
		ident, err := tarn.ParseTableIdent(words[1], sh.ns)
		if err != nil {
			fmt.Fprintf(w, "error: %v\n", err)
			break
		}
		info, err := sh.app.svc.Tables.GetTable(ctx, ident, sh.ref)
		if err != nil {
			fmt.Fprintf(w, "error: %v\n", err)
			break
		}
		t := newTable(w, "COLUMN", "TYPE", "NULLABLE")
		for _, c := range info.Schema {
			t.row(c.Name, c.Type, !c.Required)
		}
		t.flush()
	case ".ref":
		if len(words) != 2 {
			fmt.Fprintf(w, "querying %s; usage: .ref REF\n", sh.ref)
			break
		}
		commit, err := sh.app.svc.Refs.Resolve(ctx, words[1])
		if err != nil {
			fmt.Fprintf(w, "error: %v\n", err)
			break
		}
		sh.ref = words[1]
		fmt.Fprintf(w, "querying %s (commit %s)\n", sh.ref, commit.ShortHash())
	default:
		fmt.Fprintf(w, "unknown command %s%s; .help lists the commands\n", words[0],
			tarn.Suggest(words[0], []string{".tables", ".schema", ".ref", ".quit", ".help"}))
	}
	return false
}

// fileHistory is the prompt's history, kept in a file across sessions
// (the last historyLimit lines).
type fileHistory struct {
	path  string
	lines []string
}

const historyLimit = 1000

func openHistory(path string) *fileHistory {
	h := &fileHistory{path: path}
	if b, err := os.ReadFile(path); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if line != "" {
				h.lines = append(h.lines, line)
			}
		}
	}
	if len(h.lines) > historyLimit {
		h.lines = h.lines[len(h.lines)-historyLimit:]
	}
	return h
}

// Add records a line; a failure to save it is not worth stopping for.
func (h *fileHistory) Add(line string) {
	if strings.TrimSpace(line) == "" || (len(h.lines) > 0 && h.lines[len(h.lines)-1] == line) {
		return
	}
	h.lines = append(h.lines, line)
	if f, err := os.OpenFile(h.path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600); err == nil {
		fmt.Fprintln(f, line)
		f.Close()
	}
}

// Len returns the number of lines.
func (h *fileHistory) Len() int { return len(h.lines) }

// At returns the idx-th most recent line (0 is the newest).
func (h *fileHistory) At(idx int) string { return h.lines[len(h.lines)-1-idx] }
