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
	creq, staged, err := createRequest(ctx, req, s.stageDir)
	defer staged.Close()
	if err != nil {
		return nil, staged.rename(err)
	}
	res, err := s.Create(ctx, creq)
	return res, staged.rename(err)
}

// PlanTable works out what CreateTable would do with req, writing nothing
// (the same errors): the table, the branch head, the columns (inferred or
// given) and the partition spec.
func (s *Service) PlanTable(ctx context.Context, req tarn.CreateTableRequest) (*tarn.TablePlan, error) {
	creq, staged, err := createRequest(ctx, req, s.stageDir)
	defer staged.Close()
	if err != nil {
		return nil, staged.rename(err)
	}
	c, err := s.prepare(ctx, creq)
	if err != nil {
		return nil, staged.rename(err)
	}
	plan := &tarn.TablePlan{Table: req.Table, Branch: req.Branch, Commit: c.ss.Base().Hash, Action: tarn.PlanCreate,
		Columns: []tarn.ColumnSpec{}, PartitionBy: req.PartitionBy, Partition: []tarn.PartitionField{}, Files: []string{}}
	for _, f := range creq.Source.Files {
		plan.Files = append(plan.Files, staged.url(f.Path))
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
// into a CreateRequest, its objects in a bucket staged under stageDir.
func createRequest(ctx context.Context, req tarn.CreateTableRequest, stageDir string) (CreateRequest, *stagedInputs, error) {
	if err := validIdent(req.Table); err != nil {
		return CreateRequest{}, nil, err
	}
	src, staged, err := readSource(ctx, req.From, req.InferRows, stageDir)
	if err != nil {
		return CreateRequest{}, staged, err
	}
	creq := CreateRequest{Ident: req.Table, Branch: req.Branch, Source: src, PartitionBy: req.PartitionBy,
		Replace: req.Replace, IfNotExists: req.IfNotExists, Info: req.Info}
	if len(req.Columns) > 0 {
		p := &Plan{Table: req.Table.String()}
		for _, c := range req.Columns {
			p.Columns = append(p.Columns, PlanColumn{Name: c.Name, Type: c.Type, Required: c.Required})
		}
		if creq.Schema, err = p.Schema(); err != nil {
			return CreateRequest{}, staged, err
		}
	}
	return creq, staged, nil
}

// ImportTable appends files to a table in one commit (ENOTFOUND, EINVALID).
func (s *Service) ImportTable(ctx context.Context, req tarn.ImportRequest) (*tarn.WriteResult, error) {
	if err := validIdent(req.Table); err != nil {
		return nil, err
	}
	src, staged, err := readSource(ctx, req.From, req.InferRows, s.stageDir)
	defer staged.Close()
	if err != nil {
		return nil, staged.rename(err)
	}
	res, err := s.Import(ctx, ImportRequest{Ident: req.Table, Branch: req.Branch, Source: src, Info: req.Info})
	return res, staged.rename(err)
}

// validIdent checks both parts of a table name, whoever built it.
func validIdent(id tarn.TableIdent) error {
	_, err := tarn.ParseTableIdent(id.Namespace+"."+id.Name, tarn.DefaultNamespace)
	return err
}

// readSource is ReadSource for inputs that may be objects in a bucket:
// those are downloaded into a folder under stageDir first, which the
// caller removes by closing the staged inputs (also after an error).
func readSource(ctx context.Context, from []string, inferRows int, stageDir string) (*ingest.Source, *stagedInputs, error) {
	local, staged, err := stageObjects(ctx, from, stageDir)
	if err != nil {
		return nil, staged, err
	}
	src, err := ReadSource(ctx, local, inferRows)
	return src, staged, err
}

// ReadSource expands local input files and infers their schema, from the
// first inferRows rows of each CSV or JSON Lines file (0:
// ingest.DefaultSampleRows, -1: all). Objects in a bucket (s3://) are
// read by CreateTable, ImportTable and PlanFiles, which stage them.
func ReadSource(ctx context.Context, from []string, inferRows int) (*ingest.Source, error) {
	if len(from) == 0 {
		return nil, tarn.Errorf(tarn.EINVALID, "--from is required: give files, globs or directories of Parquet, CSV or JSON Lines")
	}
	files, err := ingest.Expand(from)
	if err != nil {
		return nil, inputErr(err)
	}
	switch {
	case inferRows == 0:
		inferRows = ingest.DefaultSampleRows
	case inferRows < 0:
		inferRows = 0
	}
	src, err := ingest.InferSample(ctx, files, inferRows)
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
// (YAML for `tarn table create --plan`). Objects in a bucket are read
// here, with this process's AWS settings, through a temporary copy.
func PlanFiles(ctx context.Context, ident tarn.TableIdent, from []string, partitionBy string, inferRows int) (*Plan, error) {
	src, staged, err := readSource(ctx, from, inferRows, "")
	defer staged.Close()
	if err != nil {
		return nil, staged.rename(err)
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
