package query

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"

	duckdb "github.com/duckdb/duckdb-go/v2"
	"github.com/tarnhq/tarn"
	"github.com/tarnhq/tarn/table"
	"golang.org/x/sync/errgroup"
)

// boundTable is a lakehouse table a statement reads, with its plan.
type boundTable struct {
	ident tarn.TableIdent
	scan  *table.TableScan
	refs  []*tableRef
	plan  *table.ScanPlan
}

// prepare parses the statement, refuses anything but a query, plans the
// referenced tables and creates their views.
func (s *session) prepare(ctx context.Context) error {
	c := &s.engine.cache
	key := s.commit.Hash + "\x00" + s.req.Namespace + "\x00" + s.req.SQL
	if p, ok := c.get("statement", key).(*prepared); ok {
		s.sql, s.explain, s.tables = p.sql, p.explain, p.tables
		return s.createViews(ctx)
	}
	if err := s.plan(ctx); err != nil {
		return err
	}
	c.put("statement", key, &prepared{sql: s.sql, explain: s.explain, tables: s.tables})
	return s.createViews(ctx)
}

// prepared is a planned statement: everything in it follows from the
// commit, the namespace and the SQL text.
type prepared struct {
	sql     string
	explain bool
	tables  []*boundTable
}

// plan parses, binds and plans the statement.
func (s *session) plan(ctx context.Context) error {
	explain, stmt := splitExplain(s.req.SQL)
	root, err := s.parse(ctx, stmt)
	if err != nil {
		return err
	}
	s.sql, s.explain = s.req.SQL, explain != ""
	if !s.explain {
		s.sql = stmt
	}
	an := analyze(root)
	if err := s.bind(ctx, an); err != nil {
		return err
	}
	filters := map[*boundTable]table.Filter{}
	if !an.sampled {
		filters, err = s.filters(ctx, an)
		if err != nil {
			return err
		}
	}
	c := &s.engine.cache
	g, gctx := errgroup.WithContext(ctx)
	for _, t := range s.tables {
		key := fmt.Sprintf("%s %s %#v", s.commit.Hash, t.ident.Key(), filters[t])
		if p, ok := c.get("plan", key).(*table.ScanPlan); ok {
			t.plan = p
			continue
		}
		g.Go(func() error {
			plan, err := t.scan.Plan(gctx, filters[t])
			if err == nil {
				c.put("plan", key, plan)
			}
			t.plan = plan
			return err
		})
	}
	return g.Wait()
}

// parse runs DuckDB's parser and returns the single statement's tree.
func (s *session) parse(ctx context.Context, stmt string) (node, error) {
	var text string
	if err := s.conn.QueryRowContext(ctx, "SELECT json_serialize_sql(?::VARCHAR)::VARCHAR", stmt).Scan(&text); err != nil {
		return nil, s.execError(ctx, err)
	}
	p, err := decodeParse(text)
	if err != nil {
		return nil, fmt.Errorf("read duckdb parse tree: %w", err)
	}
	if p.Error {
		if p.ErrorType == "parser" {
			return nil, syntaxError(s.req.SQL, len(s.req.SQL)-len(stmt), p)
		}
		// DuckDB serializes only SELECT statements: a refusal of text
		// holding several is about one of them, perhaps not the first.
		if words := statementWords(stmt); len(words) > 1 {
			return nil, manyStatements(words)
		}
		return nil, notAQuery(stmt)
	}
	switch len(p.Statements) {
	case 0:
		return nil, tarn.Errorf(tarn.EINVALID, "the SQL is empty: give one SELECT statement")
	case 1:
		return p.Statements[0].Node, nil
	}
	return nil, manyStatements(statementWords(stmt))
}

// manyStatements says that tarn query runs one statement, naming the
// statements the text holds by their first words.
func manyStatements(words []string) error {
	shown := words[:min(len(words), 5)]
	list := strings.Join(shown, ", ")
	if len(words) > len(shown) {
		list += ", ..."
	}
	return tarn.Errorf(tarn.EINVALID, "the SQL holds %d statements (%s); tarn query runs one statement at a time: run each with its own tarn query", len(words), list)
}

func syntaxError(sql string, base int, p *parsedStatement) error {
	pos, err := strconv.Atoi(p.Position)
	if err != nil {
		return tarn.Errorf(tarn.EINVALID, "SQL %s", p.ErrorMessage)
	}
	line, col, text := lineColumn(sql, base+pos)
	text, at := excerpt(text, col)
	caret := strings.Repeat(" ", max(0, at-1)) + "^"
	return tarn.Errorf(tarn.EINVALID, "SQL %s at line %d, column %d:\n  %s\n  %s", p.ErrorMessage, line, col, text, caret)
}

// notAQuery explains that tarn query does not write.
func notAQuery(stmt string) error {
	word := firstWord(stmt)
	switch word {
	case "COPY", "EXPORT":
		return tarn.Errorf(tarn.EINVALID, "%s is not allowed in tarn query, which only reads: to save a result, use `tarn query SQL -o csv|json|jsonl|parquet|arrow --out FILE`; to load files into a table, use `tarn table import`", word)
	case "SET", "RESET", "PRAGMA", "USE", "LOAD", "INSTALL", "CALL", "CHECKPOINT", "VACUUM", "BEGIN", "COMMIT", "ROLLBACK", "PREPARE", "EXECUTE", "DEALLOCATE":
		return tarn.Errorf(tarn.EINVALID, "%s statements are not supported by tarn query: give one SELECT statement", word)
	}
	if word == "" {
		word = "this statement"
	}
	return tarn.Errorf(tarn.EINVALID, "tarn query only reads, and %s is not a query: change tables with `tarn table create|import|rm|revert` or with SQL models in `tarn run`", word)
}

// defaultCatalog is the name DuckDB gives its in-memory database, where
// the views of lakehouse tables are: memory.tarn.trips is tarn.trips.
const defaultCatalog = "memory"

// bind finds the lakehouse tables the statement names and opens them at
// the session's commit. Names that are not lakehouse tables (CTEs,
// DuckDB's own catalogs) are left for DuckDB to resolve.
func (s *session) bind(ctx context.Context, an *analysis) error {
	c := &s.engine.cache
	entries, ok := c.get("entries", s.commit.Hash).(map[string]*tarn.Entry)
	if !ok {
		var err error
		if entries, _, err = s.engine.tables.Catalog().Entries(ctx, s.commit); err != nil {
			return err
		}
		c.put("entries", s.commit.Hash, entries)
	}
	lower := map[string]string{}
	for key, e := range entries {
		if e.Kind == tarn.EntryTable {
			lower[strings.ToLower(key)] = key
		}
	}
	byKey := map[string]*boundTable{}
	for _, r := range an.refs {
		if r.catalog != "" && !strings.EqualFold(r.catalog, defaultCatalog) {
			continue
		}
		ns := r.schema
		if ns == "" {
			if an.ctes[strings.ToLower(r.name)] {
				continue
			}
			ns = s.req.Namespace
		}
		key, ok := lower[strings.ToLower(ns+"."+r.name)]
		if !ok {
			continue
		}
		bt := byKey[key]
		if bt == nil {
			namespace, name := tarn.ParseKey(key)
			bt = &boundTable{ident: tarn.TableIdent{Namespace: namespace, Name: name}}
			byKey[key] = bt
			s.tables = append(s.tables, bt)
		}
		bt.refs = append(bt.refs, r)
	}
	sort.Slice(s.tables, func(i, j int) bool { return s.tables[i].ident.Key() < s.tables[j].ident.Key() })
	g, gctx := errgroup.WithContext(ctx)
	for _, t := range s.tables {
		key := s.commit.Hash + " " + t.ident.Key()
		if scan, ok := c.get("scan", key).(*table.TableScan); ok {
			t.scan = scan
			continue
		}
		g.Go(func() error {
			scan, err := s.engine.tables.OpenScan(gctx, s.commit, s.req.Ref, t.ident)
			if err == nil {
				c.put("scan", key, scan)
			}
			t.scan = scan
			return err
		})
	}
	return g.Wait()
}

// createViews makes every bound table a view over its planned files, in
// a schema named after its namespace, and puts the default namespace on
// the search path.
func (s *session) createViews(ctx context.Context) error {
	schemas := map[string]bool{s.req.Namespace: true}
	for _, t := range s.tables {
		schemas[t.ident.Namespace] = true
	}
	for name := range schemas {
		s.schemas = append(s.schemas, name)
	}
	sort.Strings(s.schemas)
	var b strings.Builder
	for _, name := range s.schemas {
		fmt.Fprintf(&b, "CREATE SCHEMA IF NOT EXISTS %s;\n", quoteIdent(name))
	}
	for _, t := range s.tables {
		fmt.Fprintf(&b, "CREATE OR REPLACE VIEW %s.%s AS %s;\n", quoteIdent(t.ident.Namespace), quoteIdent(t.ident.Name), viewQuery(t.plan))
	}
	fmt.Fprintf(&b, "SET search_path = %s;\n", quoteString(s.req.Namespace))
	if _, err := s.conn.ExecContext(ctx, b.String()); err != nil {
		return s.execError(ctx, fmt.Errorf("create views: %w", err))
	}
	return nil
}

// viewQuery reads a plan's files. Tables whose schema changed are read by
// field id, which maps renamed, added and widened columns; so are tables
// with column names a Parquet writer may have escaped (iceberg-go writes
// "a b" as "a_x20b"). An empty plan is a typed empty relation.
func viewQuery(p *table.ScanPlan) string {
	cols := make([]string, len(p.Columns))
	for i, c := range p.Columns {
		cols[i] = quoteIdent(c.Name)
	}
	if len(p.Files) == 0 {
		for i, c := range p.Columns {
			cols[i] = "CAST(NULL AS " + c.SQLType + ") AS " + quoteIdent(c.Name)
		}
		return "SELECT " + strings.Join(cols, ", ") + " WHERE false"
	}
	files := make([]string, len(p.Files))
	for i, f := range p.Files {
		files[i] = quoteString(f)
	}
	list := "[" + strings.Join(files, ", ") + "]"
	if !p.Evolved && plainNames(p.Columns) {
		return "SELECT " + strings.Join(cols, ", ") + " FROM read_parquet(" + list + ")"
	}
	fields := make([]string, len(p.Columns))
	for i, c := range p.Columns {
		fields[i] = fmt.Sprintf("%d: {name: %s, type: %s, default_value: NULL}", c.ID, quoteString(c.Name), quoteString(c.SQLType))
	}
	return "SELECT " + strings.Join(cols, ", ") + " FROM read_parquet(" + list + ", schema = MAP {" + strings.Join(fields, ", ") + "})"
}

var plainNameRe = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

func plainNames(cols []table.ScanColumn) bool {
	for _, c := range cols {
		if !plainNameRe.MatchString(c.Name) {
			return false
		}
	}
	return true
}

var missingTableRe = regexp.MustCompile(`Table with name ([^ !]+) does not exist`)

// execError turns a DuckDB error into a tarn error.
func (s *session) execError(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return interrupted(ctx.Err())
	}
	var de *duckdb.Error
	if !errors.As(err, &de) {
		return err
	}
	switch de.Type {
	case duckdb.ErrorTypeInterrupt:
		return interrupted(context.Canceled)
	case duckdb.ErrorTypeCatalog:
		if m := missingTableRe.FindStringSubmatch(de.Msg); m != nil {
			return s.tableNotFound(ctx, m[1])
		}
		return tarn.Errorf(tarn.ENOTFOUND, "%s", de.Msg)
	case duckdb.ErrorTypeOutOfMemory:
		return s.engine.outOfMemory(de.Msg)
	case duckdb.ErrorTypeIO, duckdb.ErrorTypeInternal, duckdb.ErrorTypeFatal:
		return tarn.Errorf(tarn.EINTERNAL, "duckdb: %s", de.Msg)
	}
	return tarn.Errorf(tarn.EINVALID, "%s", de.Msg)
}

// tableNotFound lists the tables of the ref, closest names first.
func (s *session) tableNotFound(ctx context.Context, name string) error {
	name = strings.Trim(name, `"`) // DuckDB quotes qualified names
	list, _, err := s.engine.tables.ListTables(ctx, s.commit.Hash, "")
	if err != nil {
		return err
	}
	var names []string
	for _, t := range list {
		if t.Table.Namespace == s.req.Namespace {
			names = append(names, t.Table.Name)
		} else {
			names = append(names, t.Table.Key())
		}
	}
	for _, n := range names {
		if strings.EqualFold(n, name) {
			// DuckDB did not see a table tarn has: the statement reaches
			// it in a way tarn does not plan.
			return tarn.Errorf(tarn.EINVALID, "table %s is at %s, but the statement names it where tarn does not look for tables "+
				"(inside query('...') or another table function, or in a catalog other than %s): name it in FROM, as in SELECT * FROM %s",
				n, s.req.Ref, defaultCatalog, n)
		}
	}
	msg := fmt.Sprintf("table %s not found at %s%s", tarn.Quote(name), s.req.Ref, tarn.Suggest(name, names))
	switch {
	case len(names) == 0:
		msg += "; there are no tables at " + s.req.Ref
	case len(names) <= 20:
		msg += "; tables at " + s.req.Ref + ": " + strings.Join(names, ", ")
	default:
		msg += fmt.Sprintf("; %d tables at %s: list them with `tarn table ls --ref %s`", len(names), s.req.Ref, s.req.Ref)
	}
	return tarn.Errorf(tarn.ENOTFOUND, "%s", msg).About(tarn.ResourceTable)
}

// errInterrupted marks a query stopped by its context.
var errInterrupted = errors.New("query interrupted")

func interrupted(cause error) error {
	return fmt.Errorf("%w: %w", errInterrupted, cause)
}
