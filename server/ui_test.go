package server_test

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/tarnhq/tarn/server"
	"github.com/tarnhq/tarn/ui"
)

// TestServer_UI: with a UI the server serves its pages without a token,
// while every /v1 route still needs one; without a UI, / is a 404 as any
// unknown path.
func TestServer_UI(t *testing.T) {
	ts, _ := newFakeServer(t, func(s *server.Server) { s.UI = ui.Handler() })
	res, err := http.Get(ts.url + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || !strings.Contains(string(body), `<div id="app">`) {
		t.Fatalf("GET /: %d %.200s", res.StatusCode, body)
	}
	if code, eb := ts.raw("GET", "/v1/refs", "", "", nil); code != 401 || eb.Error.Code != "unauthorized" {
		t.Fatalf("GET /v1/refs without a token beside the UI: %d %+v", code, eb)
	}
	if code, _ := ts.raw("POST", "/", "", "", nil); code != 405 {
		t.Fatalf("POST /: %d, want 405", code)
	}
	if res, err := http.Get(ts.url + "/assets/missing.js"); err != nil || res.StatusCode != 404 {
		t.Fatalf("GET a missing asset: %v %v", res, err)
	} else {
		res.Body.Close()
	}

	bare, _ := newFakeServer(t, nil)
	if code, eb := bare.raw("GET", "/", "", "", nil); code != 404 || eb.Error.Code != "not_found" {
		t.Fatalf("GET / without a UI: %d %+v", code, eb)
	}
}
