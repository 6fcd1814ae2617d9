package client

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"sync"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/tarnhq/tarn"
	"github.com/tarnhq/tarn/server"
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
	var info tarn.QueryInfo
	if err := server.DecodeHeader(resp.Header.Get(server.HeaderQuery), &info); err != nil {
		resp.Body.Close()
		return nil, tarn.Errorf(tarn.EINTERNAL, "the server sent a query result without its description: %v", err)
	}
	rdr, err := ipc.NewReader(resp.Body)
	if err != nil {
		resp.Body.Close()
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, tarn.Errorf(tarn.EINTERNAL, "read the result stream: %v", err)
	}
	rr := &remoteReader{Reader: rdr, body: resp.Body, trailer: func() error {
		if v := resp.Trailer.Get(server.TrailerError); v != "" {
			var eb server.ErrorBody
			if server.DecodeHeader(v, &eb) == nil {
				return &tarn.Error{Code: eb.Error.Code, Message: eb.Error.Message}
			}
		}
		return nil
	}, ctx: ctx}
	return &tarn.QueryResult{QueryInfo: info, Schema: rdr.Schema(), Records: rr, Closer: rr.close}, nil
}

// remoteReader reads batches from the response and, at the end, the
// error trailer.
type remoteReader struct {
	*ipc.Reader
	body    io.ReadCloser
	trailer func() error
	ctx     context.Context
	err     error
	once    sync.Once
}

func (r *remoteReader) Next() bool {
	if r.err != nil {
		return false
	}
	if r.Reader.Next() {
		return true
	}
	if err := r.Reader.Err(); err != nil {
		r.err = err
		if r.ctx.Err() != nil {
			r.err = r.ctx.Err()
		}
		return false
	}
	io.Copy(io.Discard, r.body) // trailers come after the body
	r.err = r.trailer()
	return false
}

func (r *remoteReader) RecordBatch() arrow.RecordBatch { return r.Reader.RecordBatch() }
func (r *remoteReader) Err() error                     { return r.err }

func (r *remoteReader) close() error {
	r.once.Do(func() {
		r.Reader.Release()
		r.body.Close()
	})
	return nil
}

// CopyTo has the server write the file and downloads it next to path,
// renaming it into place only when complete.
func (q *queries) CopyTo(ctx context.Context, req tarn.QueryRequest, format, path string) (*tarn.CopyResult, error) {
	hreq, err := q.c().request(ctx, "POST", "/v1/query/export", nil, jsonBody(server.ExportRequest{QueryRequest: req, Format: format}), "application/json")
	if err != nil {
		return nil, err
	}
	resp, err := q.c().send(hreq)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var res tarn.CopyResult
	if err := server.DecodeHeader(resp.Header.Get(server.HeaderCopy), &res); err != nil {
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
