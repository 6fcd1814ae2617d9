package api

import (
	"encoding/base64"
	"encoding/json"
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/tarnhq/tarn"
)

// The wire types of the HTTP API: what the server sends and the clients
// (client/ in Go, python/tarn/_client*.py) read, as openapi.yaml
// describes. Bodies that are domain types (tarn.Ref, tarn.Commit, ...)
// are those types.

// Media types and headers.
//
// Query protocol: the rows as an Arrow IPC stream in the body, the
// result's QueryInfo as JSON in the stream's schema metadata under
// MetaQuery (a header grew with the columns past what clients read). An
// error after the status was sent breaks the response off (no end of the
// chunked body, no end-of-stream marker): the client then reads the error
// from the job named in HeaderJob.
const (
	ArrowStream   = "application/vnd.apache.arrow.stream"
	MetaQuery     = "tarn.query"
	HeaderCopy    = "X-Tarn-Copy"
	HeaderJob     = "X-Tarn-Job"
	ContentNDJSON = "application/x-ndjson"
	ContentOctet  = "application/octet-stream"
)

// ErrorBody is the JSON body of every error response. Resource and
// Reason are those of the tarn.Error (tarn.ErrorResource, tarn.ErrorReason).
type ErrorBody struct {
	Error struct {
		Code     string `json:"code"`
		Resource string `json:"resource,omitempty"`
		Reason   string `json:"reason,omitempty"`
		Message  string `json:"message"`
	} `json:"error"`
}

// CreateRefRequest is the body of POST /v1/refs.
type CreateRefRequest struct {
	Kind tarn.RefKind `json:"kind"`
	Name string       `json:"name"`
	From string       `json:"from"`
}

// RefHead is a ref with its head commit (GET /v1/refs?heads=true).
type RefHead struct {
	tarn.Ref
	Head *tarn.Commit `json:"head"`
}

// RenameRequest is the body of POST /v1/refs/{name}/rename.
type RenameRequest struct {
	NewName string `json:"new_name"`
}

// NamespaceRequest is the body of POST /v1/namespaces.
type NamespaceRequest struct {
	Branch    string          `json:"branch"`
	Namespace string          `json:"namespace"`
	Info      tarn.CommitInfo `json:"info"`
}

// TableList is the body of GET /v1/tables.
type TableList struct {
	Tables []tarn.TableSummary `json:"tables"`
	Commit *tarn.Commit        `json:"commit"`
}

// RevertRequest is the body of POST /v1/tables/{table}/revert.
type RevertRequest struct {
	Branch string          `json:"branch"`
	To     string          `json:"to"`
	Info   tarn.CommitInfo `json:"info"`
}

// OptimizeRequest is the body of POST /v1/tables/{table}/optimize.
type OptimizeRequest struct {
	Branch         string          `json:"branch"`
	TargetFileSize int64           `json:"target_file_size,omitempty"` // bytes (0: 256 MiB)
	Info           tarn.CommitInfo `json:"info"`
}

// VerifyRequest is the body of POST /v1/verify.
type VerifyRequest struct {
	History bool `json:"history"`
}

// GCRequest is the body of POST /v1/gc.
type GCRequest struct {
	OlderThan     string `json:"older_than,omitempty"`      // an age: 7d, 36h, 90m, 30s (default 7d)
	RunsOlderThan string `json:"runs_older_than,omitempty"` // the age of failed runs' branches to delete (default 7d)
	KeepHistory   string `json:"keep_history,omitempty"`    // an age or "all" (default the lakehouse's gc.keep_history)
	DryRun        bool   `json:"dry_run,omitempty"`
}

// ExportRequest is the body of POST /v1/query/export.
type ExportRequest struct {
	tarn.QueryRequest
	Format string `json:"format"`
}

// RunLine is one line of the NDJSON stream of POST /v1/runs: first the
// job, then events as they happen, last the job again with the result.
type RunLine struct {
	Job   *tarn.Job      `json:"job,omitempty"`
	Event *tarn.RunEvent `json:"event,omitempty"`
	Done  bool           `json:"done,omitempty"`
}

// AddUserResponse carries the new token, shown only once.
type AddUserResponse struct {
	User  *tarn.User `json:"user"`
	Token string     `json:"token"`
}

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

// EncodeHeader encodes a value for a header (JSON, base64).
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

// TableStats is the body of GET /v1/tables/{table}/stats: statistics of
// each column at one commit.
type TableStats struct {
	Table   tarn.TableIdent `json:"table"`
	Commit  string          `json:"commit"`
	Rows    int64           `json:"rows"`
	Columns []ColumnStats   `json:"columns"`
	// Truncated says that only the first columns have statistics.
	Truncated bool `json:"truncated,omitempty"`
}

// ColumnStats describes the values of one column. Min and Max are
// rendered as text (cut to 100 characters); Distinct is an estimate
// (HyperLogLog); Histogram, for numeric columns, has equal-width bins.
type ColumnStats struct {
	Name      string         `json:"name"`
	Type      string         `json:"type"`
	Nulls     int64          `json:"nulls"`
	Min       *string        `json:"min,omitempty"`
	Max       *string        `json:"max,omitempty"`
	Distinct  *int64         `json:"distinct,omitempty"`
	Histogram []HistogramBin `json:"histogram,omitempty"`
}

// HistogramBin counts the values in [Lower, Upper) (the last bin also
// holds Upper).
type HistogramBin struct {
	Lower float64 `json:"lower"`
	Upper float64 `json:"upper"`
	Count int64   `json:"count"`
}

// RowDiff is the body of GET /v1/tables/{table}/diff: the rows a table
// gained (in To, not in From) and lost (in From, not in To), counted as
// multisets, when that is cheap to compute. Otherwise Reason says why
// there is no preview and the row lists are empty.
type RowDiff struct {
	Table tarn.TableIdent `json:"table"`
	From  string          `json:"from"` // the commits compared
	To    string          `json:"to"`
	// ChangedRows counts the rows of the data files in one version and
	// not the other (an upper bound of what changed).
	ChangedRows int64         `json:"changed_rows"`
	Reason      string        `json:"reason,omitempty"`
	Columns     []tarn.Column `json:"columns"`
	Added       [][]any       `json:"added"`
	Removed     [][]any       `json:"removed"`
	// AddedTotal and RemovedTotal count all gained and lost rows (Added
	// and Removed hold the first few).
	AddedTotal   int64 `json:"added_total"`
	RemovedTotal int64 `json:"removed_total"`
}
