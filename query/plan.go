package query

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

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
	} else {
		if err := s.plan(ctx); err != nil {
			return err
		}
		c.put("statement", key, &prepared{sql: s.sql, explain: s.explain, tables: s.tables})
	}
	started := time.Now()
	defer func() { s.phases.Views = time.Since(started) }()
	if err := s.await(); err != nil {
		return err
	}
	if err := s.hold(ctx); err != nil {
		return err
	}
	return s.createViews(ctx)
}

// hold pins the local copies of the remote files the session's plans
// read until the session closes, downloading again those evicted since
// a cached plan was made (counted as this query's downloads).
func (s *session) hold(ctx context.Context) error {
	for _, t := range s.tables {
		release, files, bytes, wait, err := s.engine.tables.Hold(ctx, t.plan)
		if err != nil {
			return err
		}
		s.holds = append(s.holds, release)
		if files > 0 {
			if s.fetched == nil {
				s.fetched = map[*boundTable]table.ScanPlan{}
			}
			d := s.fetched[t]
			d.Downloaded += files
			d.DownloadedBytes += bytes
			d.DownloadSeconds += wait.Seconds()
			s.fetched[t] = d
		}
	}
	return nil
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
	started := time.Now()
	root, err := s.parse(ctx, stmt)
	if err != nil {
		return err
	}
	s.phases.Parse = time.Since(started)
	s.sql, s.explain = s.req.SQL, explain != ""
	if !s.explain {
		s.sql = stmt
	}
	an := analyze(root)
	started = time.Now()
	if err := s.bind(ctx, an); err != nil {
		return err
	}
	s.phases.Open = time.Since(started)
	started = time.Now()
	defer func() { s.phases.Plan = time.Since(started) }()
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
				err = checkDeletes(plan)
			}
			t.plan = plan
			if err == nil {
				// The downloads were this query's: a plan reused later waits for none.
				cached := *plan
				cached.Downloaded, cached.DownloadedBytes, cached.DownloadSeconds = 0, 0, 0
				c.put("plan", key, &cached)
			}
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	for _, t := range s.tables {
		if t.plan.Downloaded > 0 {
			if s.fetched == nil {
				s.fetched = map[*boundTable]table.ScanPlan{}
			}
			s.fetched[t] = *t.plan
		}
	}
	return nil
}

// parse runs DuckDB's parser and returns the single statement's tree.
func (s *session) parse(ctx context.Context, stmt string) (node, error) {
	var text string
	db, err := planner()
	if err != nil {
		return nil, err
	}
	if err := db.QueryRowContext(ctx, "SELECT json_serialize_sql(?::VARCHAR)::VARCHAR", stmt).Scan(&text); err != nil {
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
// "a b" as "a_x20b"). Other tables are read by name, which is the same
// for the files of every Iceberg writer (their columns are the schema's)
// and lets DuckDB estimate the files' rows. An empty plan is a typed
// empty relation.
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
	byName := !p.Evolved && plainNames(p.Columns)
	if len(p.Deletes) == 0 {
		return "SELECT " + strings.Join(cols, ", ") + " FROM " + readFiles(p.Files, p.Columns, byName, "")
	}
	return deletedView(p, cols, byName)
}

// readFiles is a read_parquet of files, by name or by field id (schema
// holds the columns' ids, names and types), with extra options.
func readFiles(files []string, schema []table.ScanColumn, byName bool, extra string) string {
	quoted := make([]string, len(files))
	for i, f := range files {
		quoted[i] = quoteString(f)
	}
	args := "[" + strings.Join(quoted, ", ") + "]"
	if !byName {
		fields := make([]string, len(schema))
		for i, c := range schema {
			fields[i] = fmt.Sprintf("%d: {name: %s, type: %s, default_value: NULL}", c.ID, quoteString(c.Name), quoteString(c.SQLType))
		}
		args += ", schema = MAP {" + strings.Join(fields, ", ") + "}"
	}
	return "read_parquet(" + args + extra + ")"
}

// checkDeletes refuses a table with row-level deletes whose columns
// shadow the virtual columns that applying them reads.
func checkDeletes(p *table.ScanPlan) error {
	if len(p.Deletes) == 0 {
		return nil
	}
	for _, c := range p.Columns {
		if strings.EqualFold(c.Name, "file_row_number") || strings.EqualFold(c.Name, "file_index") {
			return tarn.Errorf(tarn.EINVALID, "table %s has row-level deletes and a column named %s, which tarn needs to apply them: rename the column or rewrite the table without deletes",
				p.Table, c.Name)
		}
	}
	return nil
}

// rowKey is the key of a row within a read_parquet of several files:
// DuckDB's virtual columns file_index (the file's place in the list) and
// file_row_number (its 0-based position, a position delete's pos).
const rowKey = "d.file_index * 1099511627776 + d.file_row_number"

// deletedView reads a table with row-level deletes: files without any in
// one read_parquet; files with position deletes or deletion vectors
// without the rows whose keys those name (NOT IN: DuckDB builds its hash
// table on the deletes, whatever it estimates of the data); files with
// equality deletes, grouped by the deletes that apply to them (which
// depend on sequence numbers and partitions), anti-joined with the rows
// of those files as well, null equal to null. Filters and projections
// still reach every read_parquet.
func deletedView(p *table.ScanPlan, cols []string, byName bool) string {
	deleted := map[string]*table.FileDeletes{}
	for i := range p.Deletes {
		deleted[p.Deletes[i].File] = &p.Deletes[i]
	}
	var clean []string
	type group struct {
		files   []string
		deletes []*table.FileDeletes
	}
	var groups []*group
	byKey := map[string]*group{}
	for _, f := range p.Files {
		d := deleted[f]
		if d == nil {
			clean = append(clean, f)
			continue
		}
		key := equalityKey(d.Equality)
		g := byKey[key]
		if g == nil {
			g = &group{}
			byKey[key] = g
			groups = append(groups, g)
		}
		g.files = append(g.files, f)
		g.deletes = append(g.deletes, d)
	}
	dcols := make([]string, len(cols))
	for i, c := range cols {
		dcols[i] = "d." + c
	}
	var parts []string
	if len(clean) > 0 {
		parts = append(parts, "SELECT "+strings.Join(cols, ", ")+" FROM "+readFiles(clean, p.Columns, byName, ""))
	}
	for _, g := range groups {
		var b strings.Builder
		b.WriteString("SELECT " + strings.Join(dcols, ", ") + " FROM " + readFiles(g.files, p.Columns, byName, "") + " d")
		for i, eq := range g.deletes[0].Equality {
			names := make([]string, len(eq.Columns))
			on := make([]string, len(eq.Columns))
			for j, c := range eq.Columns {
				names[j] = quoteIdent(c.Name)
				on[j] = fmt.Sprintf("d.%s IS NOT DISTINCT FROM e%d.%s", names[j], i, names[j])
			}
			fmt.Fprintf(&b, " ANTI JOIN (SELECT %s FROM %s) e%d ON %s", strings.Join(names, ", "),
				readFiles(eq.Files, eq.Columns, false, ""), i, strings.Join(on, " AND "))
		}
		if keys := positionDeletes(g.deletes); keys != "" {
			fmt.Fprintf(&b, " WHERE %s NOT IN (%s)", rowKey, keys)
		}
		parts = append(parts, b.String())
	}
	return strings.Join(parts, "\nUNION ALL\n")
}

// equalityKey identifies the equality deletes that apply to a file.
func equalityKey(eqs []table.EqualityDeletes) string {
	var b strings.Builder
	for _, e := range eqs {
		for _, c := range e.Columns {
			fmt.Fprintf(&b, "%d,", c.ID)
		}
		b.WriteString(":" + strings.Join(e.Files, "\x00") + ";")
	}
	return b.String()
}

// positionDeletes is a query of the row keys (see rowKey) that position
// delete files and deletion vectors remove from a group's files, the
// i-th file of the group being deletes[i] ("" for none). Position delete
// files name data files by their location, so a VALUES list maps
// locations to file indexes.
func positionDeletes(deletes []*table.FileDeletes) string {
	var files, mapping, vectors []string
	seen := map[string]bool{}
	for i, d := range deletes {
		if len(d.Positions) > 0 {
			mapping = append(mapping, fmt.Sprintf("(%s, %d)", quoteString(d.Location), i))
		}
		for _, f := range d.Positions {
			if !seen[f] {
				seen[f] = true
				files = append(files, f)
			}
		}
		if len(d.Vector) > 0 {
			pos := make([]string, len(d.Vector))
			for j, v := range d.Vector {
				pos[j] = strconv.FormatInt(v, 10)
			}
			vectors = append(vectors, fmt.Sprintf("SELECT %d * 1099511627776 + unnest([%s]::BIGINT[])", i, strings.Join(pos, ",")))
		}
	}
	var rels []string
	if len(files) > 0 {
		quoted := make([]string, len(files))
		for i, f := range files {
			quoted[i] = quoteString(f)
		}
		rels = append(rels, "SELECT m.i * 1099511627776 + p.pos FROM read_parquet(["+strings.Join(quoted, ", ")+"]) p JOIN (VALUES "+
			strings.Join(mapping, ", ")+") m(loc, i) ON p.file_path = m.loc")
	}
	rels = append(rels, vectors...)
	return strings.Join(rels, " UNION ALL ")
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
