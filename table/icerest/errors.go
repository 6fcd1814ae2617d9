package icerest

import (
	"errors"
	"net/http"

	icecat "github.com/apache/iceberg-go/catalog"
	"github.com/tarnhq/tarn"
)

// statusError gives an error a status and Iceberg type the tables below
// do not (405, 413, 422, a missing warehouse).
type statusError struct {
	status int
	typ    string
	err    error
}

func (e *statusError) Error() string { return e.err.Error() }
func (e *statusError) Unwrap() error { return e.err }

// sentinels maps iceberg-go's catalog errors, which the session returns,
// to the spec's statuses and exception types.
var sentinels = []struct {
	err    error
	status int
	typ    string
}{
	{icecat.ErrNoSuchTable, http.StatusNotFound, "NoSuchTableException"},
	{icecat.ErrNoSuchNamespace, http.StatusNotFound, "NoSuchNamespaceException"},
	{icecat.ErrTableAlreadyExists, http.StatusConflict, "AlreadyExistsException"},
	{icecat.ErrNamespaceAlreadyExists, http.StatusConflict, "AlreadyExistsException"},
	{icecat.ErrNamespaceNotEmpty, http.StatusConflict, "NamespaceNotEmptyException"},
}

// codes maps tarn's error codes to statuses and exception types.
var codes = map[string]struct {
	status int
	typ    string
}{
	tarn.EINVALID:      {http.StatusBadRequest, "BadRequestException"},
	tarn.EUNAUTHORIZED: {http.StatusUnauthorized, "NotAuthorizedException"},
	tarn.EFORBIDDEN:    {http.StatusForbidden, "ForbiddenException"},
	tarn.ENOTFOUND:     {http.StatusNotFound, "NotFoundException"},
	tarn.ECONFLICT:     {http.StatusConflict, "CommitFailedException"},
	tarn.EEXISTS:       {http.StatusConflict, "AlreadyExistsException"},
	tarn.ECANCELLED:    {http.StatusServiceUnavailable, "ServiceUnavailableException"},
	tarn.EINTERNAL:     {http.StatusInternalServerError, "InternalServerError"},
}

// classify returns the status and exception type of an error.
func classify(err error) (int, string) {
	var se *statusError
	if errors.As(err, &se) {
		return se.status, se.typ
	}
	for _, s := range sentinels {
		if errors.Is(err, s.err) {
			return s.status, s.typ
		}
	}
	c, ok := codes[tarn.ErrorCode(err)]
	if !ok {
		c = codes[tarn.EINTERNAL]
	}
	return c.status, c.typ
}

// errorModel is the spec's IcebergErrorResponse.
type errorModel struct {
	Error struct {
		Message string `json:"message"`
		Type    string `json:"type"`
		Code    int    `json:"code"`
	} `json:"error"`
}

// WriteError answers with err as the spec's ErrorModel (a HEAD request
// gets the status only). tarn serve calls it for requests it refuses
// before the handler runs.
func (h *Handler) WriteError(w http.ResponseWriter, err error) {
	h.writeError(w, err, false)
}

func (h *Handler) writeError(w http.ResponseWriter, err error, head bool) {
	status, typ := classify(err)
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="tarn"`)
	}
	if head {
		w.WriteHeader(status)
		return
	}
	var body errorModel
	body.Error.Message = tarn.CapMessage(err.Error())
	body.Error.Type = typ
	body.Error.Code = status
	writeJSON(w, status, body)
}

// fail answers a request with err, its message cleaned of server paths.
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	if c := tarn.CallerFromContext(r.Context()); c != nil {
		err = &redacted{err: err, msg: c.Redact(err.Error())}
	}
	h.writeError(w, err, r.Method == http.MethodHead)
}

// redacted is an error whose message was cleaned; its chain (and so its
// status) is the original's.
type redacted struct {
	err error
	msg string
}

func (e *redacted) Error() string { return e.msg }
func (e *redacted) Unwrap() error { return e.err }
