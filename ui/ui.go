// Package ui holds tarn's web UI: the static pages built from ui/src
// (scripts/ui.sh build) into ui/dist, which is committed, so `go build`
// needs no npm. tarn serve mounts Handler at / (server.Server.UI); the
// pages talk to the server only through its HTTP API, with the user's
// token, so they can do exactly what that user's API calls can.
package ui

import (
	"bytes"
	"embed"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"time"
)

//go:embed dist
var dist embed.FS

// Files is the built UI: index.html and assets/.
func Files() fs.FS {
	sub, err := fs.Sub(dist, "dist")
	if err != nil {
		panic(err) // dist is embedded: a test reads it
	}
	return sub
}

// csp lets the pages load only the binary's own scripts, styles and API:
// nothing from another origin, no inline scripts, no frames.
const csp = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; connect-src 'self'; font-src 'self'; " +
	"base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// Handler serves / (index.html) and /assets/NAME. Asset names carry a
// hash of their content, so they are cached for good; index.html is
// checked every time.
func Handler() http.Handler {
	files := Files()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := strings.TrimPrefix(path.Clean(r.URL.Path), "/")
		if name == "" {
			name = "index.html"
		}
		if name != "index.html" && !strings.HasPrefix(name, "assets/") {
			http.NotFound(w, r)
			return
		}
		b, err := fs.ReadFile(files, name)
		if err != nil {
			http.NotFound(w, r)
			return
		}
		h := w.Header()
		h.Set("Content-Security-Policy", csp)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("X-Frame-Options", "DENY")
		if name == "index.html" {
			h.Set("Cache-Control", "no-cache")
		} else {
			h.Set("Cache-Control", "public, max-age=31536000, immutable")
		}
		switch path.Ext(name) {
		case ".html":
			h.Set("Content-Type", "text/html; charset=utf-8")
		case ".js":
			h.Set("Content-Type", "text/javascript; charset=utf-8")
		case ".css":
			h.Set("Content-Type", "text/css; charset=utf-8")
		}
		http.ServeContent(w, r, name, time.Time{}, bytes.NewReader(b))
	})
}
