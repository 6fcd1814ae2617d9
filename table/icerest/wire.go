package icerest

import (
	"encoding/json"
	"net/http"
	"sort"
	"strconv"
	"strings"

	"github.com/apache/iceberg-go"
	icetable "github.com/apache/iceberg-go/table"
	"github.com/tarnhq/tarn"
)

// The request and response bodies of the spec
// (open-api/rest-catalog-open-api.yaml of apache/iceberg) that tarn uses.

type configResponse struct {
	Defaults  map[string]string `json:"defaults"`
	Overrides map[string]string `json:"overrides"`
	Endpoints []string          `json:"endpoints"`
}

// identifier is the spec's TableIdentifier.
type identifier struct {
	Namespace []string `json:"namespace"`
	Name      string   `json:"name"`
}

func (id *identifier) ident(what string) (icetable.Identifier, error) {
	if id == nil || id.Name == "" {
		return nil, tarn.Errorf(tarn.EINVALID, "%s: a table identifier needs a namespace and a name", what)
	}
	return append(append(icetable.Identifier{}, id.Namespace...), id.Name), nil
}

type namespaceBody struct {
	Namespace  []string          `json:"namespace"`
	Properties map[string]string `json:"properties"`
}

type listNamespacesResponse struct {
	Namespaces    [][]string `json:"namespaces"`
	NextPageToken *string    `json:"next-page-token"`
}

type listTablesResponse struct {
	Identifiers   []identifier `json:"identifiers"`
	NextPageToken *string      `json:"next-page-token"`
}

type updatePropertiesRequest struct {
	Removals []string          `json:"removals"`
	Updates  map[string]string `json:"updates"`
}

type updatePropertiesResponse struct {
	Updated []string `json:"updated"`
	Removed []string `json:"removed"`
	Missing []string `json:"missing"`
}

// createTableRequest is decoded with the spec's unbound partition spec and
// sort order: their source ids refer to the request's schema, which
// table.NewMetadata renumbers.
type createTableRequest struct {
	Name          string                        `json:"name"`
	Location      string                        `json:"location"`
	Schema        *iceberg.Schema               `json:"schema"`
	PartitionSpec *iceberg.UnboundPartitionSpec `json:"partition-spec"`
	WriteOrder    *icetable.UnboundSortOrder    `json:"write-order"`
	StageCreate   bool                          `json:"stage-create"`
	Properties    map[string]string             `json:"properties"`
}

type registerTableRequest struct {
	Name             string `json:"name"`
	MetadataLocation string `json:"metadata-location"`
	Overwrite        bool   `json:"overwrite"`
}

type renameTableRequest struct {
	Source      *identifier `json:"source"`
	Destination *identifier `json:"destination"`
}

// commitTableRequest is the spec's CommitTableRequest: both lists are
// required (an unknown requirement or update fails decoding: 400).
type commitTableRequest struct {
	Identifier   *identifier       `json:"identifier"`
	Requirements *requirements     `json:"requirements"`
	Updates      *icetable.Updates `json:"updates"`
}

// requirements decodes a commit's requirements. An assert-ref-snapshot-id
// without "snapshot-id" asserts that the ref does not exist, as one with
// null does: PyIceberg leaves null fields out.
type requirements icetable.Requirements

func (r *requirements) UnmarshalJSON(data []byte) error {
	var raw []map[string]json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		return err
	}
	for _, req := range raw {
		if _, ok := req["snapshot-id"]; !ok && string(req["type"]) == `"assert-ref-snapshot-id"` {
			req["snapshot-id"] = json.RawMessage("null")
		}
	}
	patched, err := json.Marshal(raw)
	if err != nil {
		return err
	}
	return (*icetable.Requirements)(r).UnmarshalJSON(patched)
}

func (c *commitTableRequest) check(what string) error {
	if c.Requirements == nil || c.Updates == nil {
		return tarn.Errorf(tarn.EINVALID, "%s: a table commit needs \"requirements\" and \"updates\" (lists, which may be empty)", what)
	}
	return nil
}

type commitTransactionRequest struct {
	TableChanges []commitTableRequest `json:"table-changes"`
}

// loadTableResult is the spec's LoadTableResult (and CommitTableResponse,
// which has no config). A staged table has no metadata location yet.
type loadTableResult struct {
	MetadataLocation string            `json:"metadata-location,omitempty"`
	Metadata         json.RawMessage   `json:"metadata"`
	Config           map[string]string `json:"config,omitempty"`
}

// splitNamespace reads a namespace path parameter: its levels are
// separated by the unit separator (%1F), the spec's default.
func splitNamespace(s string) icetable.Identifier {
	return strings.Split(s, "\x1f")
}

// page cuts a sorted listing after the request's pageToken (the last key
// of the previous page) to at most pageSize items; without pageSize the
// whole listing is one page. The next token is nil on the last page.
func page[T any](r *http.Request, items []T, key func(T) string) ([]T, *string, error) {
	q := r.URL.Query()
	size := q.Get("pageSize")
	if size == "" {
		return items, nil, nil
	}
	n, err := strconv.Atoi(size)
	if err != nil || n < 1 {
		return nil, nil, tarn.Errorf(tarn.EINVALID, "pageSize=%s: give a number of at least 1", tarn.Quote(size))
	}
	start := 0
	if token := q.Get("pageToken"); token != "" {
		start = sort.Search(len(items), func(i int) bool { return key(items[i]) > token })
	}
	end := start + min(n, len(items)-start) // start+n overflows for a huge pageSize
	var next *string
	if end < len(items) {
		k := key(items[end-1])
		next = &k
	}
	return items[start:end], next, nil
}
