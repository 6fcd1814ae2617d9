package local

import (
	"context"

	"github.com/tarnhq/tarn"
	"github.com/tarnhq/tarn/ingest"
	"github.com/tarnhq/tarn/table"
)

// tableService implements tarn.TableService over the table package.
type tableService struct{ tables *table.Service }

var _ tarn.TableService = (*tableService)(nil)

func (s *tableService) ListNamespaces(ctx context.Context, ref string) ([]tarn.Namespace, error) {
	return s.tables.ListNamespaces(ctx, ref)
}

func (s *tableService) CreateNamespace(ctx context.Context, branch, ns string, info tarn.CommitInfo) (*tarn.Commit, error) {
	return s.tables.CreateNamespace(ctx, branch, ns, info)
}

func (s *tableService) DropNamespace(ctx context.Context, branch, ns string, force bool, info tarn.CommitInfo) (*tarn.Commit, error) {
	if ns == tarn.DefaultNamespace {
		return nil, tarn.Errorf(tarn.EINVALID, "namespace %q is the default namespace and cannot be deleted", ns)
	}
	return s.tables.DropNamespace(ctx, branch, ns, force, info)
}

func (s *tableService) ListTables(ctx context.Context, ref, namespace string) ([]tarn.TableSummary, *tarn.Commit, error) {
	return s.tables.List(ctx, ref, namespace)
}

func (s *tableService) GetTable(ctx context.Context, ident tarn.TableIdent, ref string) (*tarn.TableInfo, error) {
	if err := validIdent(ident); err != nil {
		return nil, err
	}
	return s.tables.Get(ctx, ident, ref)
}

func (s *tableService) CreateTable(ctx context.Context, req tarn.CreateTableRequest) (*tarn.WriteResult, error) {
	if err := validIdent(req.Table); err != nil {
		return nil, err
	}
	src, err := ReadSource(ctx, req.From)
	if err != nil {
		return nil, err
	}
	treq := table.CreateRequest{Ident: req.Table, Branch: req.Branch, Source: src, PartitionBy: req.PartitionBy,
		Replace: req.Replace, IfNotExists: req.IfNotExists, Info: req.Info}
	if len(req.Columns) > 0 {
		p := &table.Plan{Table: req.Table.String()}
		for _, c := range req.Columns {
			p.Columns = append(p.Columns, table.PlanColumn{Name: c.Name, Type: c.Type, Required: c.Required})
		}
		if treq.Schema, err = p.Schema(); err != nil {
			return nil, err
		}
	}
	return s.tables.Create(ctx, treq)
}

func (s *tableService) ImportTable(ctx context.Context, req tarn.ImportRequest) (*tarn.WriteResult, error) {
	if err := validIdent(req.Table); err != nil {
		return nil, err
	}
	src, err := ReadSource(ctx, req.From)
	if err != nil {
		return nil, err
	}
	return s.tables.Import(ctx, table.ImportRequest{Ident: req.Table, Branch: req.Branch, Source: src, Info: req.Info})
}

func (s *tableService) DropTable(ctx context.Context, ident tarn.TableIdent, branch string, info tarn.CommitInfo) (*tarn.Commit, error) {
	if err := validIdent(ident); err != nil {
		return nil, err
	}
	return s.tables.Drop(ctx, ident, branch, info)
}

func (s *tableService) RevertTable(ctx context.Context, ident tarn.TableIdent, branch, to string, info tarn.CommitInfo) (*tarn.WriteResult, error) {
	if err := validIdent(ident); err != nil {
		return nil, err
	}
	return s.tables.Revert(ctx, ident, branch, to, info)
}

func (s *tableService) Verify(ctx context.Context, history bool) (*tarn.VerifyReport, error) {
	return s.tables.Verify(ctx, history)
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

// Plan infers the schema of input files and returns an editable plan as
// YAML (or the plan itself for JSON output). It reads local files only.
func Plan(ctx context.Context, ident tarn.TableIdent, from []string, partitionBy string) (*table.Plan, error) {
	src, err := ReadSource(ctx, from)
	if err != nil {
		return nil, err
	}
	return table.NewPlan(ident, from, partitionBy, src.Schema)
}

// ParsePlan reads an edited plan file: its sources, partition spec and columns.
func ParsePlan(name string, data []byte) (from []string, partitionBy string, cols []tarn.ColumnSpec, err error) {
	p, err := table.ParsePlan(name, data)
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
