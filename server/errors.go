package server

import (
	"encoding/json"
	"errors"
	"net/http"

	"github.com/tarnhq/tarn"
	"github.com/tarnhq/tarn/api"
)

// statuses maps error codes to HTTP statuses; the client maps the code in
// the body back, so EEXISTS and ECONFLICT stay apart although both are 409.
var statuses = map[string]int{
	tarn.EINVALID:      http.StatusBadRequest,
	tarn.EUNAUTHORIZED: http.StatusUnauthorized,
	tarn.EFORBIDDEN:    http.StatusForbidden,
	tarn.ENOTFOUND:     http.StatusNotFound,
	tarn.ECONFLICT:     http.StatusConflict,
	tarn.EEXISTS:       http.StatusConflict,
	tarn.ECANCELLED:    http.StatusConflict, // the job was cancelled: not the server's failure
	tarn.EINTERNAL:     http.StatusInternalServerError,
}

// statusError gives an error a status the code table does not: 413 for
// a body over its route's cap, 405 for a method a path does not take.
type statusError struct {
	status int
	err    error
}

func (e *statusError) Error() string { return e.err.Error() }
func (e *statusError) Unwrap() error { return e.err }

func statusOf(err error) int {
	var se *statusError
	if errors.As(err, &se) {
		return se.status
	}
	if s, ok := statuses[tarn.ErrorCode(err)]; ok {
		return s
	}
	return http.StatusInternalServerError
}

// bodyTooLarge turns a body read past its cap into a 413 that names the
// cap and what to do; other errors pass unchanged.
func bodyTooLarge(err error, rt route) error {
	var tooBig *http.MaxBytesError
	if !errors.As(err, &tooBig) {
		return err
	}
	limit := tarn.FormatBytes(tooBig.Limit)
	msg := "the request body is larger than the server's limit of " + limit + " for JSON requests: send a shorter request"
	if rt.upload {
		msg = "the upload is larger than the server's limit of " + limit + ": upload fewer or smaller files, or raise the limit (tarn serve --max-upload)"
	}
	return &statusError{status: http.StatusRequestEntityTooLarge, err: tarn.Errorf(tarn.EINVALID, "%s", msg)}
}

// writeError sends an error with its server paths redacted.
func (s *Server) writeError(w http.ResponseWriter, err error) {
	writeError(w, s.redact.redactErr(err))
}

func writeError(w http.ResponseWriter, err error) {
	var body api.ErrorBody
	body.Error.Code = tarn.ErrorCode(err)
	body.Error.Resource = tarn.ErrorResource(err)
	body.Error.Reason = tarn.ErrorReason(err)
	body.Error.Message = tarn.CapMessage(err.Error())
	status := statusOf(err)
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="tarn"`)
	}
	writeJSON(w, status, body)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.Encode(v)
}

// decodeJSON reads a JSON request body strictly.
func decodeJSON(r *http.Request, v any) error {
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return err
		}
		return tarn.Errorf(tarn.EINVALID, "malformed JSON request body: %v", err)
	}
	if dec.More() {
		return tarn.Errorf(tarn.EINVALID, "malformed JSON request body: more than one JSON value")
	}
	return nil
}
