package table

import (
	"context"
	"fmt"
	"math"
	"math/big"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/apache/iceberg-go"
	icetable "github.com/apache/iceberg-go/table"
	"github.com/apache/iceberg-go/table/dv"
	"github.com/google/uuid"
	"github.com/tarnhq/tarn"
	"github.com/tarnhq/tarn/objcache"
)

// Predicate operators understood by planning.
const (
	OpEQ         = "="
	OpLT         = "<"
	OpLE         = "<="
	OpGT         = ">"
	OpGE         = ">="
	OpIn         = "in"
	OpIsNull     = "is null"
	OpNotNull    = "is not null"
	OpStartsWith = "starts with"
)

// Predicate is one condition on a column that scan planning uses to skip
// data files by partition values and column statistics. Values holds the
// operand (one value, several for OpIn, none for the null tests) as a Go
// value of the column's type: bool, int32/int64, float32/float64, string,
// []byte, time.Time (dates and timestamps; an instant for timestamptz),
// [16]byte or string for uuid, and a decimal string ("12.50") or integer
// for decimals. A predicate whose column or value does not fit the table
// is ignored: planning then keeps more files, never fewer.
type Predicate struct {
	Column string
	Op     string
	Values []any
}

// String renders the predicate for messages.
func (p Predicate) String() string {
	switch p.Op {
	case OpIsNull, OpNotNull:
		return p.Column + " " + p.Op
	case OpIn:
		return fmt.Sprintf("%s in %v", p.Column, p.Values)
	}
	return fmt.Sprintf("%s %s %v", p.Column, p.Op, p.Values)
}

// Filter is a condition on a table's rows in disjunctive normal form: a row
// can match when it satisfies every predicate of at least one conjunction.
// A nil Filter, or any empty conjunction, keeps every file.
type Filter [][]Predicate

// ScanColumn is a column of a table's current schema.
type ScanColumn struct {
	ID       int    `json:"id"`
	Name     string `json:"name"`
	Type     string `json:"type"`     // Iceberg type: long, decimal(15, 2), ...
	SQLType  string `json:"sql_type"` // DuckDB type: BIGINT, DECIMAL(15,2), ...
	Required bool   `json:"required"`
}

// TableScan is one table at one commit, opened for planning.
type TableScan struct {
	Table    tarn.TableIdent
	Commit   *tarn.Commit
	Metadata string // metadata location
	tbl      *icetable.Table
	columns  []ScanColumn
	svc      *Service
}

// ScanPlan is the result of planning a scan: the data files that may hold
// matching rows.
type ScanPlan struct {
	Table    tarn.TableIdent `json:"table"`
	Snapshot int64           `json:"snapshot_id,omitempty"`
	Columns  []ScanColumn    `json:"columns"`
	// Files are local paths of the selected data files, without file://
	// (for a table in an object store, their copies in the local cache).
	Files []string `json:"files"`
	// Downloaded counts the files (data and delete files) and bytes
	// planning copied from the object store into the local cache, and how
	// long that took.
	Downloaded      int     `json:"downloaded_files,omitempty"`
	DownloadedBytes int64   `json:"downloaded_bytes,omitempty"`
	DownloadSeconds float64 `json:"download_seconds,omitempty"`
	// TotalFiles counts the data files of the snapshot; TotalFiles minus
	// len(Files) were skipped.
	TotalFiles int `json:"total_files"`
	// Rows counts the rows in the selected files.
	Rows int64 `json:"rows"`
	// Filter is the Iceberg expression planning used ("" for none).
	Filter string `json:"filter,omitempty"`
	// Evolved is true when the table's schema changed over its history:
	// older files may lack columns or use other names and types, so they
	// must be read by field id.
	Evolved bool `json:"evolved"`
	// Deletes are the row-level deletes of the planned files, one entry
	// per data file that has any: other engines write them (Spark's
	// DELETE, UPDATE and MERGE INTO in merge-on-read mode, Flink's
	// upserts), and reading a file must drop the rows they name.
	Deletes []FileDeletes `json:"deletes,omitempty"`
	// DeleteFiles counts the delete files that apply to the planned files.
	DeleteFiles int `json:"delete_files,omitempty"`

	// objects are the remote files of Files and Deletes, which Hold pins.
	objects []objcache.Object
}

// FileDeletes are the row-level deletes that apply to one data file.
type FileDeletes struct {
	// File is the data file's local path, as in ScanPlan.Files.
	File string `json:"file"`
	// Location is the data file's location as the table's manifests, and
	// so its position delete files, name it.
	Location string `json:"location"`
	// Positions are local paths of position delete files (columns
	// file_path and pos, 0-based) that may name rows of the file.
	Positions []string `json:"positions,omitempty"`
	// Vector holds the positions the file's deletion vector deletes.
	Vector []int64 `json:"vector,omitempty"`
	// Equality are equality deletes: a row whose values in Columns equal
	// those of a row of one of Files (null equal to null) is deleted.
	Equality []EqualityDeletes `json:"equality,omitempty"`
}

// EqualityDeletes are equality delete files with the same columns.
type EqualityDeletes struct {
	// Columns are the equality fields as the table's current schema has
	// them (an equality delete file holds them by field id).
	Columns []ScanColumn `json:"columns"`
	Files   []string     `json:"files"`
}

// OpenScan opens a table at a resolved commit for planning. ref is the
// name the user gave, for messages. A missing table returns ENOTFOUND
// with close names.
func (s *Service) OpenScan(ctx context.Context, commit *tarn.Commit, ref string, ident tarn.TableIdent) (*TableScan, error) {
	e, err := s.cat.GetEntry(ctx, commit, ident.Key())
	if err != nil {
		return nil, err
	}
	if e == nil || e.Kind != tarn.EntryTable {
		return nil, s.TableNotFound(ctx, commit, ref, ident)
	}
	tbl, err := s.loadTable(ctx, icetable.Identifier{ident.Namespace, ident.Name}, e.Metadata, &readOnly{ref: ref})
	if err != nil {
		return nil, err
	}
	cols, err := scanColumns(tbl.Schema())
	if err != nil {
		return nil, fmt.Errorf("table %s: %w", ident, err)
	}
	return &TableScan{Table: ident, Commit: commit, Metadata: e.Metadata, tbl: tbl, columns: cols, svc: s}, nil
}

// Columns returns the table's current columns.
func (t *TableScan) Columns() []ScanColumn { return slices.Clone(t.columns) }

// PlanScan resolves ref, opens the table and plans a scan with a filter.
func (s *Service) PlanScan(ctx context.Context, ident tarn.TableIdent, ref string, f Filter) (*ScanPlan, error) {
	commit, err := s.cat.Resolve(ctx, ref)
	if err != nil {
		return nil, err
	}
	ts, err := s.OpenScan(ctx, commit, ref, ident)
	if err != nil {
		return nil, err
	}
	return ts.Plan(ctx, f)
}

// Plan selects the data files that may hold rows matching f, using the
// table's partition values and column statistics, with the row-level
// deletes that apply to each (position and equality delete files, and
// deletion vectors, which are read here). Files outside the local file
// system are copied into the local cache (CacheDir) first.
func (t *TableScan) Plan(ctx context.Context, f Filter) (*ScanPlan, error) {
	meta := t.tbl.Metadata()
	plan := &ScanPlan{Table: t.Table, Columns: t.Columns(), Files: []string{}, Evolved: len(meta.Schemas()) > 1}
	snap := meta.CurrentSnapshot()
	if snap == nil {
		return plan, nil
	}
	plan.Snapshot = snap.SnapshotID
	if snap.Summary != nil {
		plan.TotalFiles = int(propInt(snap.Summary.Properties, "total-data-files"))
	}
	expr := t.filterExpr(f)
	var opts []icetable.ScanOption
	if expr != nil {
		plan.Filter = expr.String()
		opts = append(opts, icetable.WithRowFilter(expr), icetable.WithCaseSensitive(false))
	}
	tasks, err := t.tbl.Scan(opts...).PlanFiles(ctx)
	if err != nil {
		return nil, fmt.Errorf("plan scan of %s: %w", t.Table, err)
	}
	fetch, err := t.fetchRemote(ctx, tasks)
	if err != nil {
		return nil, err
	}
	defer fetch.release() // Hold pins them for a query
	plan.objects = fetch.objects
	seen := map[string]bool{}
	deleteFiles := map[string]bool{}
	for _, task := range tasks {
		loc := task.File.FilePath()
		if seen[loc] { // large files are split into several tasks
			continue
		}
		seen[loc] = true
		p, err := t.local(ctx, fetch, "data file", task.File)
		if err != nil {
			return nil, err
		}
		plan.Files = append(plan.Files, p)
		plan.Rows += task.File.Count()
		d, err := t.deletes(ctx, fetch, task, p)
		if err != nil {
			return nil, err
		}
		if d != nil {
			plan.Deletes = append(plan.Deletes, *d)
			for _, df := range slices.Concat(task.DeleteFiles, task.EqualityDeleteFiles, task.DeletionVectorFiles) {
				deleteFiles[df.FilePath()] = true
			}
		}
	}
	plan.DeleteFiles = len(deleteFiles)
	if plan.TotalFiles < len(plan.Files) {
		plan.TotalFiles = len(plan.Files)
	}
	plan.Downloaded, plan.DownloadedBytes, plan.DownloadSeconds = fetch.cost.Files, fetch.cost.Bytes, fetch.cost.Wait.Seconds()
	return plan, nil
}

// local returns the local path of one of the table's files: its own, or,
// for a file in an object store, its copy in the local cache.
func (t *TableScan) local(ctx context.Context, fetch *planFetch, what string, f iceberg.DataFile) (string, error) {
	loc := f.FilePath()
	if p, ok := localPath(loc); ok {
		return p, nil
	}
	if p, ok := fetch.paths[loc]; ok {
		return p, nil
	}
	return "", fmt.Errorf("table %s: %s %s was not fetched", t.Table, what, loc)
}

// planFetch holds the local copies of a plan's remote files (data files
// and the delete files read as files), pinned until release.
type planFetch struct {
	objects []objcache.Object
	paths   map[string]string // location → local copy
	release func()
	cost    fetched
}

// fetchRemote makes local copies of the remote files the tasks read,
// several at once.
func (t *TableScan) fetchRemote(ctx context.Context, tasks []icetable.FileScanTask) (*planFetch, error) {
	fetch := &planFetch{paths: map[string]string{}, release: func() {}}
	seen := map[string]bool{}
	add := func(f iceberg.DataFile) {
		loc := f.FilePath()
		if _, local := localPath(loc); local || seen[loc] {
			return
		}
		seen[loc] = true
		fetch.objects = append(fetch.objects, objcache.Object{Location: loc, Size: f.FileSizeBytes()})
	}
	for _, task := range tasks {
		add(task.File)
		for _, df := range slices.Concat(task.DeleteFiles, task.EqualityDeleteFiles) {
			add(df)
		}
	}
	paths, release, err := t.svc.localCopies(ctx, fetch.objects, &fetch.cost)
	if err != nil {
		return nil, fmt.Errorf("plan scan of %s: %w", t.Table, err)
	}
	for i, obj := range fetch.objects {
		fetch.paths[obj.Location] = paths[i]
	}
	fetch.release = release
	return fetch, nil
}

// deletes collects the row-level deletes of one planned task (nil for
// none), reading its deletion vector.
func (t *TableScan) deletes(ctx context.Context, fetch *planFetch, task icetable.FileScanTask, path string) (*FileDeletes, error) {
	if len(task.DeleteFiles) == 0 && len(task.EqualityDeleteFiles) == 0 && len(task.DeletionVectorFiles) == 0 {
		return nil, nil
	}
	d := &FileDeletes{File: path, Location: task.File.FilePath()}
	for _, df := range task.DeleteFiles {
		p, err := t.local(ctx, fetch, "position delete file", df)
		if err != nil {
			return nil, err
		}
		d.Positions = append(d.Positions, p)
	}
	if len(task.DeletionVectorFiles) > 0 {
		fs, err := t.tbl.FS(ctx)
		if err != nil {
			return nil, err
		}
		vectors, err := dv.ReadDVs(fs, task.DeletionVectorFiles)
		if err != nil {
			return nil, fmt.Errorf("table %s: read deletion vector of %s: %w", t.Table, task.File.FilePath(), err)
		}
		for _, v := range vectors {
			for pos := range v.Positions() {
				d.Vector = append(d.Vector, int64(pos))
			}
		}
	}
	for _, df := range task.EqualityDeleteFiles {
		p, err := t.local(ctx, fetch, "equality delete file", df)
		if err != nil {
			return nil, err
		}
		var cols []ScanColumn
		for _, id := range df.EqualityFieldIDs() {
			col, ok := columnByID(t.columns, id)
			if !ok {
				return nil, tarn.Errorf(tarn.EINVALID, "table %s has equality deletes on field %d, which its current schema does not have; rewrite the table (Spark: CALL system.rewrite_data_files) to read it", t.Table, id)
			}
			cols = append(cols, col)
		}
		if len(cols) == 0 {
			return nil, tarn.Errorf(tarn.EINVALID, "table %s: equality delete file %s names no columns", t.Table, df.FilePath())
		}
		i := slices.IndexFunc(d.Equality, func(e EqualityDeletes) bool { return slices.Equal(e.Columns, cols) })
		if i < 0 {
			d.Equality = append(d.Equality, EqualityDeletes{Columns: cols})
			i = len(d.Equality) - 1
		}
		d.Equality[i].Files = append(d.Equality[i].Files, p)
	}
	return d, nil
}

// columnByID finds a top-level column by field id.
func columnByID(cols []ScanColumn, id int) (ScanColumn, bool) {
	for _, c := range cols {
		if c.ID == id {
			return c, true
		}
	}
	return ScanColumn{}, false
}

// filterExpr turns f into an Iceberg expression, dropping the predicates
// that do not fit the schema. nil means no filter.
func (t *TableScan) filterExpr(f Filter) iceberg.BooleanExpression {
	if len(f) == 0 {
		return nil
	}
	schema := t.tbl.Schema()
	var disjuncts []iceberg.BooleanExpression
	for _, conj := range f {
		var parts []iceberg.BooleanExpression
		for _, p := range conj {
			if e := predicateExpr(schema, p); e != nil {
				parts = append(parts, e)
			}
		}
		if len(parts) == 0 {
			return nil // this conjunction keeps every file
		}
		disjuncts = append(disjuncts, joinExprs(parts, iceberg.NewAnd))
	}
	return joinExprs(disjuncts, iceberg.NewOr)
}

func joinExprs(es []iceberg.BooleanExpression, join func(l, r iceberg.BooleanExpression, more ...iceberg.BooleanExpression) iceberg.BooleanExpression) iceberg.BooleanExpression {
	if len(es) == 1 {
		return es[0]
	}
	return join(es[0], es[1], es[2:]...)
}

// predicateExpr converts one predicate, or returns nil when it cannot be
// used safely.
func predicateExpr(schema *iceberg.Schema, p Predicate) iceberg.BooleanExpression {
	field, ok := schema.FindFieldByNameCaseInsensitive(p.Column)
	if !ok {
		return nil
	}
	ref := iceberg.Reference(field.Name)
	switch p.Op {
	case OpIsNull:
		return iceberg.UnaryPredicate(iceberg.OpIsNull, ref)
	case OpNotNull:
		return iceberg.UnaryPredicate(iceberg.OpNotNull, ref)
	}
	if !prunable(field.Type) {
		return nil
	}
	var lits []iceberg.Literal
	for _, v := range p.Values {
		if v == nil {
			continue // x IN (1, NULL) filters like x IN (1); x = NULL matches nothing but stays safe unpruned
		}
		lit, ok := literalFor(field.Type, v)
		if !ok {
			return nil
		}
		lits = append(lits, lit)
	}
	ops := map[string]iceberg.Operation{OpEQ: iceberg.OpEQ, OpLT: iceberg.OpLT, OpLE: iceberg.OpLTEQ,
		OpGT: iceberg.OpGT, OpGE: iceberg.OpGTEQ, OpStartsWith: iceberg.OpStartsWith}
	switch {
	case p.Op == OpIn && len(lits) > 0:
		return iceberg.SetPredicate(iceberg.OpIn, ref, lits)
	case ops[p.Op] != 0 && len(lits) == 1 && len(p.Values) == 1:
		if p.Op == OpStartsWith && field.Type.Type() != "string" {
			return nil
		}
		return iceberg.LiteralPredicate(ops[p.Op], ref, lits[0])
	}
	return nil
}

// prunable reports whether file statistics of a type can prune safely
// under SQL semantics. Floating point is excluded: DuckDB orders NaN above
// every number while Iceberg bounds leave NaN out.
func prunable(t iceberg.Type) bool {
	switch t.(type) {
	case iceberg.BooleanType, iceberg.Int32Type, iceberg.Int64Type, iceberg.DecimalType, iceberg.DateType,
		iceberg.TimeType, iceberg.TimestampType, iceberg.TimestampTzType, iceberg.TimestampNsType,
		iceberg.TimestampTzNsType, iceberg.StringType, iceberg.BinaryType, iceberg.FixedType, iceberg.UUIDType:
		return true
	}
	return false
}

// literalFor converts a Go value to a literal of type t, exactly or not at all.
func literalFor(t iceberg.Type, v any) (iceberg.Literal, bool) {
	switch t := t.(type) {
	case iceberg.BooleanType:
		b, ok := v.(bool)
		return iceberg.NewLiteral(b), ok
	case iceberg.Int32Type:
		n, ok := toInt64(v)
		if !ok || n < math.MinInt32 || n > math.MaxInt32 {
			return nil, false
		}
		return iceberg.NewLiteral(int32(n)), true
	case iceberg.Int64Type:
		n, ok := toInt64(v)
		return iceberg.NewLiteral(n), ok
	case iceberg.DecimalType:
		var s string
		switch v := v.(type) {
		case string:
			s = v
		case *big.Rat:
			s = v.FloatString(t.Scale())
			if r, ok := new(big.Rat).SetString(s); !ok || r.Cmp(v) != 0 {
				return nil, false
			}
		default:
			n, ok := toInt64(v)
			if !ok {
				return nil, false
			}
			s = strconv.FormatInt(n, 10)
		}
		num, err := decimal128.FromString(s, int32(t.Precision()), int32(t.Scale()))
		if err != nil || num.ToString(int32(t.Scale())) != canonicalDecimal(s, t.Scale()) {
			return nil, false
		}
		return iceberg.NewLiteral(iceberg.Decimal{Val: num, Scale: t.Scale()}), true
	case iceberg.DateType:
		tm, ok := v.(time.Time)
		if !ok {
			return nil, false
		}
		y, m, d := tm.Date()
		day := time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
		if !day.Equal(time.Date(y, m, d, tm.Hour(), tm.Minute(), tm.Second(), tm.Nanosecond(), time.UTC)) {
			return nil, false
		}
		return iceberg.NewLiteral(iceberg.Date(day.Unix() / 86400)), true
	case iceberg.TimeType:
		tm, ok := v.(time.Time)
		if !ok {
			return nil, false
		}
		micros := int64(tm.Hour())*3600e6 + int64(tm.Minute())*60e6 + int64(tm.Second())*1e6 + int64(tm.Nanosecond())/1e3
		return iceberg.NewLiteral(iceberg.Time(micros)), tm.Nanosecond()%1000 == 0
	case iceberg.TimestampType, iceberg.TimestampTzType:
		tm, ok := v.(time.Time)
		if !ok || tm.Nanosecond()%1000 != 0 {
			return nil, false
		}
		return iceberg.NewLiteral(iceberg.Timestamp(tm.UnixMicro())), true
	case iceberg.TimestampNsType, iceberg.TimestampTzNsType:
		tm, ok := v.(time.Time)
		if !ok {
			return nil, false
		}
		return iceberg.NewLiteral(iceberg.TimestampNano(tm.UnixNano())), true
	case iceberg.StringType:
		s, ok := v.(string)
		return iceberg.NewLiteral(s), ok
	case iceberg.BinaryType, iceberg.FixedType:
		b, ok := v.([]byte)
		if ft, fixed := t.(iceberg.FixedType); ok && fixed && len(b) != ft.Len() {
			return nil, false
		}
		return iceberg.NewLiteral(b), ok
	case iceberg.UUIDType:
		switch v := v.(type) {
		case [16]byte:
			return iceberg.NewLiteral(uuid.UUID(v)), true
		case uuid.UUID:
			return iceberg.NewLiteral(v), true
		case string:
			u, err := uuid.Parse(v)
			return iceberg.NewLiteral(u), err == nil
		}
	}
	return nil, false
}

// canonicalDecimal renders a decimal string with exactly scale digits
// after the point, so a conversion that rounded can be detected.
func canonicalDecimal(s string, scale int) string {
	r, ok := new(big.Rat).SetString(s)
	if !ok {
		return ""
	}
	return r.FloatString(scale)
}

func toInt64(v any) (int64, bool) {
	switch v := v.(type) {
	case int:
		return int64(v), true
	case int8:
		return int64(v), true
	case int16:
		return int64(v), true
	case int32:
		return int64(v), true
	case int64:
		return v, true
	case uint8:
		return int64(v), true
	case uint16:
		return int64(v), true
	case uint32:
		return int64(v), true
	case uint64:
		return int64(v), v <= math.MaxInt64
	}
	return 0, false
}

func scanColumns(schema *iceberg.Schema) ([]ScanColumn, error) {
	cols := make([]ScanColumn, 0, len(schema.Fields()))
	for _, f := range schema.Fields() {
		sqlType, err := SQLType(f.Type)
		if err != nil {
			return nil, fmt.Errorf("column %s: %w", f.Name, err)
		}
		cols = append(cols, ScanColumn{ID: f.ID, Name: f.Name, Type: f.Type.String(), SQLType: sqlType, Required: f.Required})
	}
	return cols, nil
}

// SQLType returns the DuckDB type of an Iceberg type.
func SQLType(t iceberg.Type) (string, error) {
	switch t := t.(type) {
	case iceberg.BooleanType:
		return "BOOLEAN", nil
	case iceberg.Int32Type:
		return "INTEGER", nil
	case iceberg.Int64Type:
		return "BIGINT", nil
	case iceberg.Float32Type:
		return "FLOAT", nil
	case iceberg.Float64Type:
		return "DOUBLE", nil
	case iceberg.DecimalType:
		return fmt.Sprintf("DECIMAL(%d,%d)", t.Precision(), t.Scale()), nil
	case iceberg.DateType:
		return "DATE", nil
	case iceberg.TimeType:
		return "TIME", nil
	case iceberg.TimestampType:
		return "TIMESTAMP", nil
	case iceberg.TimestampTzType:
		return "TIMESTAMP WITH TIME ZONE", nil
	case iceberg.TimestampNsType:
		return "TIMESTAMP_NS", nil
	case iceberg.StringType:
		return "VARCHAR", nil
	case iceberg.UUIDType:
		return "UUID", nil
	case iceberg.BinaryType, iceberg.FixedType:
		return "BLOB", nil
	case *iceberg.ListType:
		elem, err := SQLType(t.Element)
		if err != nil {
			return "", err
		}
		return elem + "[]", nil
	case *iceberg.MapType:
		k, err := SQLType(t.KeyType)
		if err != nil {
			return "", err
		}
		v, err := SQLType(t.ValueType)
		if err != nil {
			return "", err
		}
		return "MAP(" + k + ", " + v + ")", nil
	case *iceberg.StructType:
		parts := make([]string, 0, len(t.FieldList))
		for _, f := range t.FieldList {
			ft, err := SQLType(f.Type)
			if err != nil {
				return "", err
			}
			parts = append(parts, QuoteIdent(f.Name)+" "+ft)
		}
		return "STRUCT(" + strings.Join(parts, ", ") + ")", nil
	}
	return "", fmt.Errorf("type %s has no SQL equivalent yet", t)
}

// QuoteIdent quotes a SQL identifier.
func QuoteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

// hasDeletes says whether a scan task's rows need delete files applied.
func hasDeletes(task icetable.FileScanTask) bool {
	return len(task.DeleteFiles) > 0 || len(task.EqualityDeleteFiles) > 0 || len(task.DeletionVectorFiles) > 0
}
