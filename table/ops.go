package table

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/iceberg-go"
	icecat "github.com/apache/iceberg-go/catalog"
	icetable "github.com/apache/iceberg-go/table"
	"github.com/tarnhq/tarn"
	"github.com/tarnhq/tarn/ingest"
)

// CreateRequest asks for a new table, optionally filled from files.
type CreateRequest struct {
	Ident  tarn.TableIdent
	Branch string
	// Source holds the files to import (nil: an empty table of Schema).
	Source *ingest.Source
	// Schema overrides the inferred schema (from an edited plan).
	Schema *arrow.Schema
	// PartitionBy is a partition spec like "day(ts), region".
	PartitionBy string
	// Replace drops an existing table of that name in the same commit.
	Replace bool
	// IfNotExists returns the existing table without writing.
	IfNotExists bool
	Info        tarn.CommitInfo
}

// createCheck is what a create works out before it writes (prepare).
type createCheck struct {
	ss       *Session
	existing *tarn.Entry // the table of that name on the branch, if any
	// arrow and schema are the table's schema, spec its partition spec;
	// all unset when an existing table is kept (IfNotExists).
	arrow  *arrow.Schema
	schema *iceberg.Schema
	spec   iceberg.PartitionSpec
}

// prepare opens a session on the branch and checks a create as Create
// does, writing nothing: the namespace, an existing table, the schema, the
// partition spec, a name differing only in case from another.
func (s *Service) prepare(ctx context.Context, req CreateRequest) (*createCheck, error) {
	ss, err := s.OpenSession(ctx, req.Branch)
	if err != nil {
		return nil, err
	}
	if ns, err := ss.entry(ctx, tarn.NamespaceKey(req.Ident.Namespace)); err != nil {
		return nil, err
	} else if ns == nil {
		all, _ := ss.entries(ctx)
		return nil, s.namespaceNotFound(sortedKeys(all), all, req.Branch, req.Ident.Namespace)
	}
	existing, err := ss.entry(ctx, req.Ident.Key())
	if err != nil {
		return nil, err
	}
	c := &createCheck{ss: ss, existing: existing}
	if existing != nil {
		switch {
		case req.IfNotExists:
			return c, nil
		case !req.Replace:
			return nil, tarn.Errorf(tarn.EEXISTS, "table %s already exists on %s: use --replace to replace it, --if-not-exists to keep it, or `tarn table import` to append", req.Ident, req.Branch).
				About(tarn.ResourceTable)
		}
	}
	c.arrow = req.Schema
	if c.arrow == nil && req.Source != nil {
		c.arrow = req.Source.Schema
	}
	if c.arrow == nil {
		return nil, tarn.Errorf(tarn.EINVALID, "table %s: no schema: give files with --from or a plan with --apply", req.Ident)
	}
	if err := ingest.CheckSchema(c.arrow); err != nil {
		return nil, tarn.Errorf(tarn.EINVALID, "table %s: %w", req.Ident, err)
	}
	if c.schema, err = icetable.ArrowSchemaToIcebergWithFreshIDs(c.arrow, true); err != nil {
		return nil, tarn.Errorf(tarn.EINVALID, "table %s: unsupported schema: %v", req.Ident, err)
	}
	if c.spec, err = ParsePartitionSpec(req.PartitionBy, c.schema); err != nil {
		return nil, err
	}
	if err := checkSchema(req.Ident, c.schema); err != nil {
		return nil, err
	}
	if err := ss.checkTwin(ctx, tarn.ResourceTable, req.Ident.Key()); err != nil {
		return nil, err
	}
	return c, nil
}

// Create creates a table on a branch and imports its files, in one commit.
func (s *Service) Create(ctx context.Context, req CreateRequest) (*tarn.WriteResult, error) {
	c, err := s.prepare(ctx, req)
	if err != nil {
		return nil, err
	}
	ss, existing := c.ss, c.existing
	defer ss.Close(ctx) // what a failed create wrote goes
	if existing != nil && req.IfNotExists {
		return &tarn.WriteResult{Table: req.Ident, Branch: req.Branch, Commit: ss.Base(), Entry: existing, Existed: true}, nil
	}
	if existing != nil {
		ss.set(req.Ident.Key(), nil) // replaced in the same commit
	}
	id := icetable.Identifier{req.Ident.Namespace, req.Ident.Name}
	tbl, err := ss.CreateTable(ctx, id, c.schema, icecat.WithPartitionSpec(&c.spec))
	if err != nil {
		return nil, translate(err, "create table "+req.Ident.String())
	}
	if req.Source != nil {
		if err := s.appendSource(ctx, tbl, req.Source, nil, true); err != nil {
			return nil, err
		}
	}
	if req.Info.Message == "" {
		verb := "create"
		if existing != nil {
			verb = "replace"
		}
		req.Info.Message = fmt.Sprintf("%s table %s%s", verb, req.Ident, sourceNote(req.Source))
	}
	return s.finish(ctx, ss, req.Ident, req.Branch, req.Info, nil, nil)
}

func sourceNote(src *ingest.Source) string {
	if src == nil || len(src.Files) == 0 {
		return ""
	}
	if len(src.Files) == 1 {
		return " from " + src.Files[0].Path
	}
	return fmt.Sprintf(" from %d files", len(src.Files))
}

func (s *Service) finish(ctx context.Context, ss *Session, ident tarn.TableIdent, branch string, info tarn.CommitInfo, before *tarn.Entry, evolved []string) (*tarn.WriteResult, error) {
	commit, err := ss.Flush(ctx, info)
	if err != nil {
		return nil, err
	}
	entry, err := s.cat.GetEntry(ctx, commit, ident.Key())
	if err != nil {
		return nil, err
	}
	res := &tarn.WriteResult{Table: ident, Branch: branch, Commit: commit, Entry: entry, Evolved: evolved}
	if entry != nil {
		res.Added = entry.Rows
		if before != nil {
			res.Added -= before.Rows
		}
	}
	return res, nil
}

// appendSource appends the source's rows to tbl in one Iceberg snapshot,
// committed into the session, cast to the table's schema. creating says
// the table is new (for the hints of errors). The bulk writer (Config.Bulk)
// writes the data files when it can; otherwise ingest's reader feeds
// iceberg-go's writer. Either way a row that does not fit fails the whole
// import before anything is committed.
func (s *Service) appendSource(ctx context.Context, tbl *icetable.Table, src *ingest.Source, tx *icetable.Transaction, creating bool) error {
	if tx == nil {
		tx = tbl.NewTransaction()
	}
	staged, err := tx.StagedTable()
	if err != nil {
		return err
	}
	target, err := icetable.SchemaToArrowSchema(staged.Schema(), nil, false, false)
	if err != nil {
		return fmt.Errorf("table schema: %w", err)
	}
	handled, err := s.bulkAppend(ctx, tbl, src, tx, staged.Schema(), target)
	if err != nil {
		return widenHint(inputError(err), src, creating)
	}
	if !handled {
		rdr, err := src.Records(ctx, target)
		if err != nil {
			return widenHint(inputError(err), src, creating)
		}
		defer rdr.Release()
		if err := tx.Append(ctx, rdr, iceberg.Properties{}); err != nil {
			return widenHint(inputError(err), src, creating)
		}
	}
	if err := s.crashPoint("after-data-write"); err != nil {
		return err
	}
	if _, err := tx.Commit(ctx); err != nil {
		return translate(err, "commit table "+strings.Join(tbl.Identifier(), "."))
	}
	return nil
}

// inputError marks located input errors as invalid input.
func inputError(err error) error {
	var ie *ingest.Error
	if errors.As(err, &ie) {
		return tarn.Errorf(tarn.EINVALID, "%w", err)
	}
	return err
}

// ImportRequest asks to append files to a table.
type ImportRequest struct {
	Ident  tarn.TableIdent
	Branch string
	Source *ingest.Source
	Info   tarn.CommitInfo
}

// Import appends files to an existing table in one commit. New nullable
// columns and the widenings int→long and float→double are applied as
// schema evolution; any other mismatch fails before anything is written.
// When another writer changed the table meanwhile, the append is
// re-applied on top of its version (the data files stay, only metadata is
// written again) if that writer too only appended; otherwise it is refused
// with what the other writer did, and its files are removed.
func (s *Service) Import(ctx context.Context, req ImportRequest) (*tarn.WriteResult, error) {
	ss, err := s.OpenSession(ctx, req.Branch)
	if err != nil {
		return nil, err
	}
	defer ss.Close(ctx)
	ss.SetResolve(true) // a concurrent append to the table is combined with this one
	id := icetable.Identifier{req.Ident.Namespace, req.Ident.Name}
	before, err := ss.entry(ctx, req.Ident.Key())
	if err != nil {
		return nil, err
	}
	if before == nil {
		return nil, s.TableNotFound(ctx, ss.Base(), req.Branch, req.Ident)
	}
	tbl, err := ss.LoadTable(ctx, id)
	if err != nil {
		return nil, translate(err, "load table "+req.Ident.String())
	}
	tx := tbl.NewTransaction()
	evolved, err := s.evolve(tx, tbl.Schema(), req.Source.Schema, req.Ident, "import into")
	if err != nil {
		return nil, err
	}
	if err := s.appendSource(ctx, tbl, req.Source, tx, false); err != nil {
		return nil, err
	}
	if req.Info.Message == "" {
		req.Info.Message = fmt.Sprintf("import into %s%s", req.Ident, sourceNote(req.Source))
	}
	return s.finish(ctx, ss, req.Ident, req.Branch, req.Info, before, evolved)
}

// planEvolution compares the table's schema with the source's. It returns
// the schema changes needed (as text) and the schema to union with, or an
// error naming every incompatible column.
func planEvolution(current *iceberg.Schema, src *arrow.Schema) ([]string, *iceberg.Schema, error) {
	incoming, err := icetable.ArrowSchemaToIcebergWithFreshIDs(src, true)
	if err != nil {
		return nil, nil, err
	}
	problems := checkNewColumns(current, incoming)
	var changes []string
	for _, f := range incoming.Fields() {
		have, ok := current.FindFieldByName(f.Name)
		if !ok {
			changes = append(changes, fmt.Sprintf("add column %s %s", f.Name, f.Type))
			continue
		}
		switch {
		case have.Type.Equals(f.Type):
		case widens(have.Type, f.Type):
			changes = append(changes, fmt.Sprintf("widen column %s %s -> %s", f.Name, have.Type, f.Type))
		case castable(f.Type, have.Type):
		default:
			problems = append(problems, fmt.Sprintf("column %q is %s in the table but %s in the files", f.Name, have.Type, f.Type))
		}
	}
	for _, f := range current.Fields() {
		if _, ok := incoming.FindFieldByName(f.Name); !ok && f.Required {
			problems = append(problems, fmt.Sprintf("required column %q is missing from the files", f.Name))
		}
	}
	if len(problems) > 0 {
		return nil, nil, fmt.Errorf("schema mismatch: %s", strings.Join(problems, "; "))
	}
	if len(changes) == 0 {
		return nil, nil, nil
	}
	// Union only what must change: new columns and widened types.
	var fields []iceberg.NestedField
	for _, f := range incoming.Fields() {
		have, ok := current.FindFieldByName(f.Name)
		if !ok || widens(have.Type, f.Type) {
			f.Required = false
			fields = append(fields, f)
		}
	}
	return changes, iceberg.NewSchema(0, fields...), nil
}

// widens reports whether from -> to is an Iceberg type promotion tarn
// applies on import.
func widens(from, to iceberg.Type) bool {
	switch from.(type) {
	case iceberg.Int32Type:
		_, ok := to.(iceberg.Int64Type)
		return ok
	case iceberg.Float32Type:
		_, ok := to.(iceberg.Float64Type)
		return ok
	}
	return false
}

// castable reports whether incoming values of type from can be written
// into a column of type to without loss.
func castable(from, to iceberg.Type) bool {
	if _, ok := from.(iceberg.StringType); ok {
		// Text inferred from CSV or JSON is parsed as the column's type; a
		// value that does not parse is reported with its file, line and column.
		return true
	}
	switch to.(type) {
	case iceberg.Int64Type:
		_, ok := from.(iceberg.Int32Type)
		return ok
	case iceberg.Float64Type:
		switch from.(type) {
		case iceberg.Float32Type, iceberg.Int32Type, iceberg.Int64Type:
			return true
		}
	case iceberg.TimestampTzType:
		_, ok := from.(iceberg.TimestampType)
		return ok
	case iceberg.TimestampType:
		_, ok := from.(iceberg.DateType)
		return ok
	}
	return false
}

// DropTable removes a table from a branch (one commit). Its files stay: other
// commits and branches may still point at them.
func (s *Service) DropTable(ctx context.Context, ident tarn.TableIdent, branch string, info tarn.CommitInfo) (*tarn.Commit, error) {
	if err := validIdent(ident); err != nil {
		return nil, err
	}
	ss, err := s.OpenSession(ctx, branch)
	if err != nil {
		return nil, err
	}
	if e, err := ss.entry(ctx, ident.Key()); err != nil {
		return nil, err
	} else if e == nil {
		return nil, s.TableNotFound(ctx, ss.Base(), branch, ident)
	}
	ss.set(ident.Key(), nil)
	if info.Message == "" {
		info.Message = "drop table " + ident.String()
	}
	return ss.Flush(ctx, info)
}

// RevertTable sets a table on a branch back to its state at another ref (or
// removes it if it did not exist there), in one commit.
func (s *Service) RevertTable(ctx context.Context, ident tarn.TableIdent, branch, to string, info tarn.CommitInfo) (*tarn.WriteResult, error) {
	if err := validIdent(ident); err != nil {
		return nil, err
	}
	target, err := s.cat.Resolve(ctx, to)
	if err != nil {
		return nil, err
	}
	old, err := s.cat.GetEntry(ctx, target, ident.Key())
	if err != nil {
		return nil, err
	}
	ss, err := s.OpenSession(ctx, branch)
	if err != nil {
		return nil, err
	}
	cur, err := ss.entry(ctx, ident.Key())
	if err != nil {
		return nil, err
	}
	if cur == nil && old == nil {
		return nil, tarn.Errorf(tarn.ENOTFOUND, "table %s exists neither on %s nor at %s", ident, branch, to).About(tarn.ResourceTable)
	}
	if old != nil {
		if ns, err := ss.entry(ctx, tarn.NamespaceKey(ident.Namespace)); err != nil {
			return nil, err
		} else if ns == nil {
			ss.set(tarn.NamespaceKey(ident.Namespace), &tarn.Entry{Kind: tarn.EntryNamespace})
		}
	}
	ss.set(ident.Key(), old)
	if info.Message == "" {
		info.Message = fmt.Sprintf("revert table %s to %s", ident, to)
	}
	return s.finish(ctx, ss, ident, branch, info, cur, nil)
}
