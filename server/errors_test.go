package server

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/tarnhq/tarn"
	"github.com/tarnhq/tarn/api"
)

func TestWriteError(t *testing.T) {
	cases := []struct {
		name   string
		err    error
		status int
		code   string
		// resource and reason of the body (tarn.ErrorResource, tarn.ErrorReason)
		resource, reason string
	}{
		{"Code", tarn.Errorf(tarn.ENOTFOUND, "table %q not found", "t"), 404, tarn.ENOTFOUND, "", ""},
		{"Resource", tarn.Errorf(tarn.ENOTFOUND, "table %q not found", "t").About(tarn.ResourceTable), 404, tarn.ENOTFOUND, tarn.ResourceTable, ""},
		{"Reason", tarn.Errorf(tarn.ECONFLICT, "merge conflict").Because(tarn.ReasonMergeConflict), 409, tarn.ECONFLICT, "", tarn.ReasonMergeConflict},
		// The redactor's copy of a message keeps what the error is about.
		{"Redacted", newRedactor("/srv/home", "/srv/home/uploads", "/srv/home/exports").redactErr(tarn.Errorf(tarn.ENOTFOUND, "branch %s", strings.Repeat("b", 10<<10)).About(tarn.ResourceBranch)),
			404, tarn.ENOTFOUND, tarn.ResourceBranch, ""},
		{"Plain", errors.New("disk on fire"), 500, tarn.EINTERNAL, "", ""},
		{"TooLargeJSON", bodyTooLarge(&http.MaxBytesError{Limit: maxJSON}, authed), 413, tarn.EINVALID, "", ""},
		{"TooLargeUpload", bodyTooLarge(&http.MaxBytesError{Limit: 1 << 30}, upload), 413, tarn.EINVALID, "", ""},
		// A last resort: no message leaves the server longer than tarn.MaxMessage.
		{"Long", tarn.Errorf(tarn.EINVALID, "bad name %s", strings.Repeat("n", 5<<20)), 400, tarn.EINVALID, "", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w := httptest.NewRecorder()
			writeError(w, tc.err)
			var body api.ErrorBody
			if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil {
				t.Fatal(err)
			}
			if w.Code != tc.status || body.Error.Code != tc.code || len(body.Error.Message) > tarn.MaxMessage+100 {
				t.Fatalf("%d %s %.200q (%d bytes)", w.Code, body.Error.Code, body.Error.Message, len(body.Error.Message))
			}
			if body.Error.Resource != tc.resource || body.Error.Reason != tc.reason {
				t.Fatalf("resource %q reason %q, want %q %q", body.Error.Resource, body.Error.Reason, tc.resource, tc.reason)
			}
		})
	}
}
