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
	}{
		{"Code", tarn.Errorf(tarn.ENOTFOUND, "table %q not found", "t"), 404, tarn.ENOTFOUND},
		{"Plain", errors.New("disk on fire"), 500, tarn.EINTERNAL},
		{"TooLargeJSON", bodyTooLarge(&http.MaxBytesError{Limit: maxJSON}, authed), 413, tarn.EINVALID},
		{"TooLargeUpload", bodyTooLarge(&http.MaxBytesError{Limit: 1 << 30}, upload), 413, tarn.EINVALID},
		// A last resort: no message leaves the server longer than tarn.MaxMessage.
		{"Long", tarn.Errorf(tarn.EINVALID, "bad name %s", strings.Repeat("n", 5<<20)), 400, tarn.EINVALID},
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
		})
	}
}
