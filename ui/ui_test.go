package ui_test

import (
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/tarnhq/tarn/ui"
)

func get(t *testing.T, h http.Handler, path string) *http.Response {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	return rec.Result()
}

// TestHandler: / is the built index.html, every script and style it names
// is served with its type and cached for good, under a policy that loads
// nothing from elsewhere; other paths are 404.
func TestHandler(t *testing.T) {
	h := ui.Handler()
	res := get(t, h, "/")
	body, _ := io.ReadAll(res.Body)
	if res.StatusCode != 200 || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("GET /: %d %s", res.StatusCode, res.Header.Get("Content-Type"))
	}
	csp := res.Header.Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'none'", "script-src 'self'", "connect-src 'self'", "frame-ancestors 'none'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("Content-Security-Policy %q lacks %q", csp, want)
		}
	}
	if res.Header.Get("Cache-Control") != "no-cache" {
		t.Errorf("index.html Cache-Control %q", res.Header.Get("Cache-Control"))
	}
	if strings.Contains(string(body), "src/main.jsx") {
		t.Fatal("index.html is the source page, not the build (scripts/ui.sh build)")
	}
	refs := regexp.MustCompile(`(?:src|href)="\./(assets/[^"]+)"`).FindAllStringSubmatch(string(body), -1)
	types := map[string]string{}
	for _, m := range refs {
		res := get(t, h, "/"+m[1])
		if res.StatusCode != 200 {
			t.Fatalf("GET /%s: %d", m[1], res.StatusCode)
		}
		if !strings.Contains(res.Header.Get("Cache-Control"), "immutable") {
			t.Errorf("/%s Cache-Control %q", m[1], res.Header.Get("Cache-Control"))
		}
		types[m[1][strings.LastIndex(m[1], "."):]] = res.Header.Get("Content-Type")
	}
	if !strings.HasPrefix(types[".js"], "text/javascript") || !strings.HasPrefix(types[".css"], "text/css") {
		t.Fatalf("index.html names assets %v with types %v", refs, types)
	}
	for _, p := range []string{"/index.htm", "/assets/none.js", "/src/main.jsx", "/package.json", "/assets/../ui.go"} {
		if res := get(t, h, p); res.StatusCode != 404 {
			t.Errorf("GET %s: %d, want 404", p, res.StatusCode)
		}
	}
}

// TestFiles: the bundle loads nothing from another origin (it works
// offline) and stays small.
func TestFiles(t *testing.T) {
	total := 0
	err := fs.WalkDir(ui.Files(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(ui.Files(), p)
		if err != nil {
			return err
		}
		total += len(b)
		if m := regexp.MustCompile(`(?:src|href)="(?:https?:)?//`).Find(b); m != nil {
			t.Errorf("%s loads from another origin: %s", p, m)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if total == 0 || total > 2<<20 {
		t.Fatalf("the bundle is %d bytes", total)
	}
}
