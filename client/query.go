package client

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/tarnhq/tarn"
	"github.com/tarnhq/tarn/api"
)

type queries Client

var _ tarn.QueryService = (*queries)(nil)

func (q *queries) c() *Client { return (*Client)(q) }

func jsonBody(v any) io.Reader {
	b, _ := json.Marshal(v)
	return bytes.NewReader(b)
}

// Query streams the result as Arrow IPC: batches are decoded as they
// arrive. An error after the first batch arrives in a trailer and is
// returned by Records.Err.
func (q *queries) Query(ctx context.Context, req tarn.QueryRequest) (*tarn.QueryResult, error) {
	hreq, err := q.c().request(ctx, "POST", "/v1/query", nil, jsonBody(req), "application/json")
	if err != nil {
		return nil, err
	}
	resp, err := q.c().send(hreq)
	if err != nil {
		return nil, err
	}
	job := resp.Header.Get(api.HeaderJob)
	rdr, err := ipc.NewReader(resp.Body)
	if err != nil {
		resp.Body.Close()
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, q.c().jobFailure(job, err)
	}
	schema, info, err := api.SplitQueryInfo(rdr.Schema())
	if err != nil {
		rdr.Release()
		resp.Body.Close()
		return nil, tarn.Errorf(tarn.EINTERNAL, "the server sent a query result without its description: %v", err)
	}
	rr := &remoteReader{Reader: rdr, body: resp.Body, ctx: ctx, schema: schema, broken: func(err error) error {
		return q.c().jobFailure(job, err)
	}}
	return &tarn.QueryResult{QueryInfo: info, Schema: schema, Records: rr, Closer: rr.close}, nil
}

// remoteReader reads batches from the response; a stream broken off by
// the server is turned into the error its job ended with.
type remoteReader struct {
	*ipc.Reader
	schema *arrow.Schema // the stream's, without the query's description
	body   io.ReadCloser
	broken func(error) error
	ctx    context.Context
	err    error
	once   sync.Once
	// cur is the stream's current batch and view the same batch under
	// schema.
	cur, view arrow.RecordBatch
}

func (r *remoteReader) Next() bool {
	if r.err != nil {
		return false
	}
	if r.Reader.Next() {
		return true
	}
	err := r.Reader.Err()
	if err == nil {
		_, err = io.Copy(io.Discard, r.body) // a body cut short fails here
	}
	switch {
	case err == nil:
	case r.ctx.Err() != nil:
		r.err = r.ctx.Err()
	default:
		r.err = r.broken(err)
	}
	return false
}

func (r *remoteReader) Schema() *arrow.Schema { return r.schema }

// RecordBatch returns the current batch under the schema without the
// query's description.
func (r *remoteReader) RecordBatch() arrow.RecordBatch {
	rec := r.Reader.RecordBatch()
	if r.cur != rec {
		if r.view != nil {
			r.view.Release()
		}
		r.cur, r.view = rec, array.NewRecordBatch(r.schema, rec.Columns(), rec.NumRows())
	}
	return r.view
}
func (r *remoteReader) Err() error { return r.err }

func (r *remoteReader) close() error {
	r.once.Do(func() {
		if r.view != nil {
			r.view.Release()
		}
		r.Reader.Release()
		r.body.Close()
	})
	return nil
}

// CopyTo has the server write the file and downloads it next to path,
// renaming it into place only when complete.
func (q *queries) CopyTo(ctx context.Context, req tarn.QueryRequest, format, path string) (*tarn.CopyResult, error) {
	hreq, err := q.c().request(ctx, "POST", "/v1/query/export", nil, jsonBody(api.ExportRequest{QueryRequest: req, Format: format}), "application/json")
	if err != nil {
		return nil, err
	}
	resp, err := q.c().send(hreq)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var res tarn.CopyResult
	if err := api.DecodeHeader(resp.Header.Get(api.HeaderCopy), &res); err != nil {
		return nil, tarn.Errorf(tarn.EINTERNAL, "the server sent a result file without its description: %v", err)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	f, err := os.CreateTemp(filepath.Dir(abs), "."+filepath.Base(abs)+".tarn-tmp-*")
	if err != nil {
		return nil, tarn.Errorf(tarn.EINVALID, "cannot write next to %s: %v", path, err)
	}
	_, err = io.Copy(f, resp.Body)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = ctx.Err()
	}
	if err == nil {
		err = os.Rename(f.Name(), abs)
	}
	if err != nil {
		os.Remove(f.Name())
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, tarn.Errorf(tarn.EINTERNAL, "download the result to %s: %v", path, err)
	}
	res.Path = abs
	return &res, nil
}

// jobFailure explains a result stream that broke off: the error of the
// query's job, else the transport error.
func (c *Client) jobFailure(id string, cause error) error {
	if id != "" {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		for i := 0; i < 100; i++ {
			j, err := (*jobs)(c).GetJob(ctx, id)
			if err != nil {
				break
			}
			if j.Done() {
				if j.Error != nil {
					return &tarn.Error{Code: j.Error.Code, Message: j.Error.Message}
				}
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	return tarn.Errorf(tarn.EINTERNAL, "the result stream from the server broke off: %v", cause)
}
