package server

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/tarnhq/tarn"
	"github.com/tarnhq/tarn/local"
)

// Query protocol: the rows as an Arrow IPC stream in the body, the
// result's QueryInfo as JSON in the stream's schema metadata under
// MetaQuery (a header grew with the columns past what clients read). An
// error after the status was sent breaks the response off (no end of the
// chunked body, no end-of-stream marker): the client then reads the error
// from the job named in X-Tarn-Job.
const (
	ArrowStream   = "application/vnd.apache.arrow.stream"
	MetaQuery     = "tarn.query"
	HeaderCopy    = "X-Tarn-Copy"
	HeaderJob     = "X-Tarn-Job"
	ContentNDJSON = "application/x-ndjson"
	ContentOctet  = "application/octet-stream"
)

// WithQueryInfo returns schema with info in its metadata (MetaQuery).
func WithQueryInfo(schema *arrow.Schema, info tarn.QueryInfo) *arrow.Schema {
	b, _ := json.Marshal(info)
	meta := arrow.NewMetadata([]string{MetaQuery}, []string{string(b)})
	return arrow.NewSchema(schema.Fields(), &meta)
}

// SplitQueryInfo reads the QueryInfo from a result stream's schema and
// returns the schema without it.
func SplitQueryInfo(schema *arrow.Schema) (*arrow.Schema, tarn.QueryInfo, error) {
	var info tarn.QueryInfo
	md := schema.Metadata()
	i := md.FindKey(MetaQuery)
	if i < 0 {
		return schema, info, fmt.Errorf("no %s in the stream's schema metadata", MetaQuery)
	}
	if err := json.Unmarshal([]byte(md.Values()[i]), &info); err != nil {
		return schema, info, err
	}
	var keys, values []string
	for k, key := range md.Keys() {
		if k != i {
			keys, values = append(keys, key), append(values, md.Values()[k])
		}
	}
	var rest *arrow.Metadata
	if len(keys) > 0 {
		m := arrow.NewMetadata(keys, values)
		rest = &m
	}
	return arrow.NewSchema(schema.Fields(), rest), info, nil
}

// EncodeHeader encodes a value for a header.
func EncodeHeader(v any) string {
	b, _ := json.Marshal(v)
	return base64.StdEncoding.EncodeToString(b)
}

// DecodeHeader decodes a value from a header.
func DecodeHeader(s string, v any) error {
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}

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
	streaming := false
	err = s.track(r, "query", req.Ref, firstLine(req.SQL), func(ctx context.Context) error {
		res, err := s.Services.Query.Query(ctx, req)
		if err != nil {
			return err
		}
		defer res.Close()
		h := w.Header()
		h.Set("Content-Type", ArrowStream)
		h.Set(HeaderJob, local.JobID(ctx))
		w.WriteHeader(http.StatusOK)
		streaming = true
		rc := http.NewResponseController(w)
		iw := ipc.NewWriter(w, ipc.WithSchema(WithQueryInfo(res.Schema, res.QueryInfo)))
		for res.Records.Next() {
			if err := iw.Write(res.Records.RecordBatch()); err != nil {
				return local.ErrClientGone // the job ends cancelled
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

// ExportRequest is the body of POST /v1/query/export.
type ExportRequest struct {
	tarn.QueryRequest
	Format string `json:"format"`
}

// export writes a result in a file format on the server's disk (DuckDB
// streams it there in bounded memory) and sends the file. The file goes
// into a folder of the export's job that only its own database may use.
func (s *Server) export(w http.ResponseWriter, r *http.Request) error {
	var req ExportRequest
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	var res *tarn.CopyResult
	var dir string
	err := s.track(r, "query", req.Ref, firstLine(req.SQL), func(ctx context.Context) (err error) {
		dir = filepath.Join(s.ExportDir, local.JobID(ctx))
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
	w.Header().Set("Content-Type", ContentOctet)
	w.Header().Set(HeaderCopy, EncodeHeader(res))
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
