package query

import "context"

// PreviewRowsStored runs req as a preview and returns how many rows
// DuckDB stored for it.
func PreviewRowsStored(e *Engine, ctx context.Context, req Request) (int64, error) {
	res, err := e.Run(ctx, req)
	if err != nil {
		return 0, err
	}
	defer res.Close()
	return res.stored, nil
}
