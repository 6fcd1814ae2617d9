package local

import (
	"context"

	"github.com/tarnhq/tarn"
	"github.com/tarnhq/tarn/query"
)

// queryService implements tarn.QueryService over the DuckDB engine.
type queryService struct{ engine *query.Engine }

var _ tarn.QueryService = (*queryService)(nil)

func request(req tarn.QueryRequest) query.Request {
	return query.Request{SQL: req.SQL, Ref: req.Ref, Namespace: req.Namespace, MaxRows: req.MaxRows}
}

func (s *queryService) Query(ctx context.Context, req tarn.QueryRequest) (*tarn.QueryResult, error) {
	if req.Namespace != "" {
		if err := tarn.ValidateNamespace(req.Namespace); err != nil {
			return nil, err
		}
	}
	res, err := s.engine.Query(ctx, request(req))
	if err != nil {
		return nil, err
	}
	return &tarn.QueryResult{
		QueryInfo: tarn.QueryInfo{Commit: res.Commit, Columns: res.Columns, Tables: res.Tables, TotalRows: res.TotalRows, PlanTime: res.PlanTime},
		Schema:    res.Schema, Records: res.Records, Closer: res.Close,
	}, nil
}

func (s *queryService) CopyTo(ctx context.Context, req tarn.QueryRequest, format, path string) (*tarn.CopyResult, error) {
	f, err := query.ParseFormat(format)
	if err != nil {
		return nil, err
	}
	res, err := s.engine.CopyTo(ctx, request(req), f, path)
	if err != nil {
		return nil, err
	}
	return &tarn.CopyResult{Path: res.Path, Format: string(res.Format), Rows: res.Rows, Commit: res.Commit, Tables: res.Tables, Duration: res.Duration}, nil
}
