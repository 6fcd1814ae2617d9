package table

import (
	"context"

	"github.com/tarnhq/tarn"
	"github.com/tarnhq/tarn/ingest"
)

// The Service is the embedded TableService: the methods of the interface
// that take files by path (CreateTable, ImportTable) read them with
// ingest and call Create and Import.
var (
	_ tarn.TableService = (*Service)(nil)
	_ tarn.TablePlanner = (*Service)(nil)
)

// CreateTable creates a table from files in one commit (EEXISTS,
// EINVALID), with the schema inferred from them or the columns given.
func (s *Service) CreateTable(ctx context.Context, req tarn.CreateTableRequest) (*tarn.WriteResult, error) {
	creq, err := createRequest(ctx, req)
	if err != nil {
		return nil, err
	}
	return s.Create(ctx, creq)
}

// PlanTable works out what CreateTable would do with req, writing nothing
// (the same errors): the table, the branch head, the columns (inferred or
// given) and the partition spec.
func (s *Service) PlanTable(ctx context.Context, req tarn.CreateTableRequest) (*tarn.TablePlan, error) {
	creq, err := createRequest(ctx, req)
	if err != nil {
		return nil, err
	}
	c, err := s.prepare(ctx, creq)
	if err != nil {
		return nil, err
	}
	plan := &tarn.TablePlan{Table: req.Table, Branch: req.Branch, Commit: c.ss.Base().Hash, Action: tarn.PlanCreate,
		Columns: []tarn.ColumnSpec{}, PartitionBy: req.PartitionBy, Partition: []tarn.PartitionField{}, Files: []string{}}
	for _, f := range creq.Source.Files {
		plan.Files = append(plan.Files, f.Path)
	}
	switch {
	case c.existing != nil && req.IfNotExists:
		plan.Action = tarn.PlanKeep
		return plan, nil
	case c.existing != nil:
		plan.Action = tarn.PlanReplace
	}
	p, err := NewPlan(req.Table, req.From, req.PartitionBy, c.arrow)
	if err != nil {
		return nil, err
	}
	for _, col := range p.Columns {
		plan.Columns = append(plan.Columns, tarn.ColumnSpec{Name: col.Name, Type: col.Type, Required: col.Required})
	}
	plan.Partition = partitionFields(c.spec, c.schema)
	return plan, nil
}

// createRequest reads the files of req (and its columns, an edited plan)
// into a CreateRequest.
func createRequest(ctx context.Context, req tarn.CreateTableRequest) (CreateRequest, error) {
	if err := validIdent(req.Table); err != nil {
		return CreateRequest{}, err
	}
	src, err := ReadSource(ctx, req.From)
	if err != nil {
		return CreateRequest{}, err
	}
	creq := CreateRequest{Ident: req.Table, Branch: req.Branch, Source: src, PartitionBy: req.PartitionBy,
		Replace: req.Replace, IfNotExists: req.IfNotExists, Info: req.Info}
	if len(req.Columns) > 0 {
		p := &Plan{Table: req.Table.String()}
		for _, c := range req.Columns {
			p.Columns = append(p.Columns, PlanColumn{Name: c.Name, Type: c.Type, Required: c.Required})
		}
		if creq.Schema, err = p.Schema(); err != nil {
			return CreateRequest{}, err
		}
	}
	return creq, nil
}

// ImportTable appends files to a table in one commit (ENOTFOUND, EINVALID).
func (s *Service) ImportTable(ctx context.Context, req tarn.ImportRequest) (*tarn.WriteResult, error) {
	if err := validIdent(req.Table); err != nil {
		return nil, err
	}
	src, err := ReadSource(ctx, req.From)
	if err != nil {
		return nil, err
	}
	return s.Import(ctx, ImportRequest{Ident: req.Table, Branch: req.Branch, Source: src, Info: req.Info})
}

// validIdent checks both parts of a table name, whoever built it.
func validIdent(id tarn.TableIdent) error {
	_, err := tarn.ParseTableIdent(id.Namespace+"."+id.Name, tarn.DefaultNamespace)
	return err
}

// ReadSource expands input files and infers their schema.
func ReadSource(ctx context.Context, from []string) (*ingest.Source, error) {
	if len(from) == 0 {
		return nil, tarn.Errorf(tarn.EINVALID, "--from is required: give files, globs or directories of Parquet, CSV or JSON Lines")
	}
	files, err := ingest.Expand(from)
	if err != nil {
		return nil, inputErr(err)
	}
	src, err := ingest.Infer(ctx, files)
	if err != nil {
		return nil, inputErr(err)
	}
	return src, nil
}

func inputErr(err error) error {
	if tarn.ErrorCode(err) != tarn.EINTERNAL {
		return err
	}
	return tarn.Errorf(tarn.EINVALID, "%w", err) // unreadable, malformed or missing input files
}

// PlanFiles infers the schema of input files and returns an editable plan
// (YAML for `tarn table create --plan`). It reads local files only.
func PlanFiles(ctx context.Context, ident tarn.TableIdent, from []string, partitionBy string) (*Plan, error) {
	src, err := ReadSource(ctx, from)
	if err != nil {
		return nil, err
	}
	return NewPlan(ident, from, partitionBy, src.Schema)
}

// ParsePlanFile reads an edited plan file: its sources, partition spec
// and columns.
func ParsePlanFile(name string, data []byte) (from []string, partitionBy string, cols []tarn.ColumnSpec, err error) {
	p, err := ParsePlan(name, data)
	if err != nil {
		return nil, "", nil, err
	}
	if _, err := p.Schema(); err != nil {
		return nil, "", nil, err
	}
	for _, c := range p.Columns {
		cols = append(cols, tarn.ColumnSpec{Name: c.Name, Type: c.Type, Required: c.Required})
	}
	return p.From, p.PartitionBy, cols, nil
}
