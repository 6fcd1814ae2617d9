package query

import (
	"context"

	"github.com/tarnhq/tarn"
)

// The Engine is the embedded QueryService: Query and CopyTo are Run and
// CopyFile with the service's request and result types.
var _ tarn.QueryService = (*Engine)(nil)

func request(req tarn.QueryRequest) Request {
	return Request{SQL: req.SQL, Ref: req.Ref, Namespace: req.Namespace, MaxRows: req.MaxRows}
}

// Query starts a statement; the rows stream from Records (EINVALID for
// bad or writing SQL, ENOTFOUND for unknown refs and tables).
func (e *Engine) Query(ctx context.Context, req tarn.QueryRequest) (*tarn.QueryResult, error) {
	if req.Namespace != "" {
		if err := tarn.ValidateNamespace(req.Namespace); err != nil {
			return nil, err
		}
	}
	res, err := e.Run(ctx, request(req))
	if err != nil {
		return nil, err
	}
	return &tarn.QueryResult{
		QueryInfo: tarn.QueryInfo{Commit: res.Commit, Columns: res.Columns, Tables: res.Tables, TotalRows: res.TotalRows, PlanTime: res.PlanTime},
		Schema:    res.Schema, Records: res.Records, Closer: res.Close,
	}, nil
}

// CopyTo writes a result to a local file atomically in a format (csv,
// json, jsonl, parquet, arrow).
func (e *Engine) CopyTo(ctx context.Context, req tarn.QueryRequest, format, path string) (*tarn.CopyResult, error) {
	f, err := ParseFormat(format)
	if err != nil {
		return nil, err
	}
	res, err := e.CopyFile(ctx, request(req), f, path)
	if err != nil {
		return nil, err
	}
	return &tarn.CopyResult{Path: res.Path, Format: string(res.Format), Rows: res.Rows, Commit: res.Commit, Tables: res.Tables, Duration: res.Duration}, nil
}
