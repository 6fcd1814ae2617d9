package server

import (
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"

	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/tarnhq/tarn"
	"github.com/tarnhq/tarn/api"
)

func (s *Server) decodeQuery(r *http.Request) (tarn.QueryRequest, error) {
	var req tarn.QueryRequest
	if err := decodeJSON(r, &req); err != nil {
		return req, err
	}
	if req.Namespace != "" {
		if err := tarn.ValidateNamespace(req.Namespace); err != nil {
			return req, err
		}
	}
	return req, nil
}

// query streams a result as Arrow IPC, batch by batch: the server holds
// one batch at a time, never the whole result.
func (s *Server) query(w http.ResponseWriter, r *http.Request) error {
	req, err := s.decodeQuery(r)
	if err != nil {
		return err
	}
	return s.stream(w, r, req, firstLine(req.SQL))
}

// stream runs a query as a job of the caller and streams its result.
func (s *Server) stream(w http.ResponseWriter, r *http.Request, req tarn.QueryRequest, summary string) error {
	streaming := false
	err := s.track(r, "query", req.Ref, summary, func(ctx context.Context) error {
		res, err := s.Services.Query.Query(ctx, req)
		if err != nil {
			return err
		}
		defer res.Close()
		h := w.Header()
		h.Set("Content-Type", api.ArrowStream)
		h.Set(api.HeaderJob, tarn.JobIDFromContext(ctx))
		w.WriteHeader(http.StatusOK)
		streaming = true
		rc := http.NewResponseController(w)
		iw := ipc.NewWriter(w, ipc.WithSchema(api.WithQueryInfo(res.Schema, res.QueryInfo)))
		for res.Records.Next() {
			if err := iw.Write(res.Records.RecordBatch()); err != nil {
				return tarn.ErrClientGone // the job ends cancelled
			}
			rc.Flush()
		}
		if err := res.Records.Err(); err != nil {
			return err // no end-of-stream marker: see below
		}
		iw.Close()
		return nil
	})
	if streaming && err != nil {
		// The status is sent: break the response off so that no client
		// takes a partial result for a whole one. The job has the error.
		panic(http.ErrAbortHandler)
	}
	return err
}

// export writes a result in a file format on the server's disk (DuckDB
// streams it there in bounded memory) and sends the file. The file goes
// into a folder of the export's job that only its own database may use.
func (s *Server) export(w http.ResponseWriter, r *http.Request) error {
	var req api.ExportRequest
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	var res *tarn.CopyResult
	var dir string
	err := s.track(r, "query", req.Ref, firstLine(req.SQL), func(ctx context.Context) (err error) {
		dir = filepath.Join(s.ExportDir, tarn.JobIDFromContext(ctx))
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return err
		}
		res, err = s.Services.Query.CopyTo(ctx, req.QueryRequest, req.Format, filepath.Join(dir, "result"))
		return err
	})
	if dir != "" {
		defer os.RemoveAll(dir)
	}
	if err != nil {
		return err
	}
	f, err := os.Open(res.Path)
	if err != nil {
		return err
	}
	defer f.Close()
	res.Path = ""
	w.Header().Set("Content-Type", api.ContentOctet)
	w.Header().Set(api.HeaderCopy, api.EncodeHeader(res))
	if st, err := f.Stat(); err == nil {
		w.Header().Set("Content-Length", strconv.FormatInt(st.Size(), 10))
	}
	w.WriteHeader(http.StatusOK)
	io.Copy(w, f)
	return nil
}

func firstLine(s string) string {
	for i, r := range s {
		if r == '\n' || i >= 80 {
			return s[:i]
		}
	}
	return s
}
