package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/tarnhq/tarn"
)

// Server serves a lakehouse over HTTP.
type Server struct {
	Services *tarn.Services
	Jobs     tarn.JobRunner
	Users    Authenticator
	// Insecure serves every request as an admin without a token (loopback only).
	Insecure bool
	// Protected branches change only by merge (default: main).
	Protected []string
	// JobVisibility says whose jobs a user sees: VisibleOwn (the default:
	// their own; admins see every job) or VisibleAll.
	JobVisibility Visibility
	// ImportSources are the s3:// prefixes users may import from: the
	// server reads those objects with its own credentials, so without a
	// list anyone who may write a branch could copy whatever those
	// credentials reach into a table. Empty: no imports from a bucket.
	ImportSources []string
	// MaxUpload caps one upload (files of an import, a project) in bytes.
	MaxUpload int64
	// MaxProjectFiles caps the files and folders of a project archive
	// (default DefaultMaxProjectFiles).
	MaxProjectFiles int
	// MaxImportFiles caps the files one import (table create or import)
	// uploads (default DefaultMaxImportFiles).
	MaxImportFiles int
	// MaxQueries is how many queries and exports run at once (0: any
	// number); more wait queued, in arrival order.
	MaxQueries int
	// MaxDiffRows caps the rows of both versions of a table that a row
	// diff (GET /v1/tables/{table}/diff) reads (default DefaultMaxDiffRows).
	MaxDiffRows int64
	// Home is the lakehouse home the services work on: no message the
	// server sends shows it.
	Home string
	// UploadDir holds uploads while they are used (default HOME/uploads).
	UploadDir string
	// Projects, when set, keeps the projects of queued runs in the
	// warehouse's bucket (table.RunUploads) instead of UploadDir: the
	// server that claims a run downloads its project, so the servers of
	// one lakehouse need no shared home folder. The job's Cleanup is
	// the object, which the jobs.Manager removes when the job ends (its
	// Options.Uploads is the same store).
	Projects ProjectStore
	// ExportDir holds query exports while they are sent, one folder per
	// job (default HOME/exports). SQL cannot read either folder.
	ExportDir string
	// UI, when set, serves the web UI's pages: GET / and GET /assets/...
	// (package ui). The pages need no token; everything they show comes
	// from the API, with the user's token.
	UI http.Handler
	// Log, when set, gets one line per request: time, user, method, path,
	// status, duration.
	Log io.Writer
	// Iceberg, when set, serves the Iceberg REST catalog at /iceberg
	// (cmd/tarn sets table/icerest's handler), with the same
	// authentication and write rules as /v1.
	Iceberg IcebergHandler

	mux     *http.ServeMux
	handler http.Handler
	routes  []string
	queries chan struct{} // slots of MaxQueries
	redact  *redactor
	spec    *apiSpec
}

// DefaultMaxUpload is the default upload limit.
const DefaultMaxUpload = 256 << 20

// maxJSON caps a JSON request body.
const maxJSON = 4 << 20

type handlerFunc func(w http.ResponseWriter, r *http.Request) error

// route says how a route is served.
type route struct {
	// open routes need no token (the health checks).
	open bool
	// upload routes take a multipart body of up to MaxUpload bytes; every
	// other route reads at most maxJSON, whatever its Content-Type says.
	upload bool
}

var (
	authed = route{}
	open   = route{open: true}
	upload = route{upload: true}
)

// Handler returns the server's HTTP handler.
func (s *Server) Handler() http.Handler {
	if s.handler != nil {
		return s.handler
	}
	if s.MaxUpload == 0 {
		s.MaxUpload = DefaultMaxUpload
	}
	if s.Protected == nil {
		s.Protected = []string{tarn.DefaultBranch}
	}
	if s.MaxProjectFiles == 0 {
		s.MaxProjectFiles = DefaultMaxProjectFiles
	}
	if s.MaxImportFiles == 0 {
		s.MaxImportFiles = DefaultMaxImportFiles
	}
	if s.UploadDir == "" {
		s.UploadDir = filepath.Join(s.Home, "uploads")
	}
	if s.ExportDir == "" {
		s.ExportDir = filepath.Join(s.Home, "exports")
	}
	if s.MaxQueries > 0 {
		s.queries = make(chan struct{}, s.MaxQueries)
	}
	s.redact = newRedactor(s.Home, s.UploadDir, s.ExportDir)
	spec, err := loadSpec()
	if err != nil {
		panic(err) // the document is part of the binary: a test loads it
	}
	s.spec = spec
	s.Jobs.Handle("run", s.doRun) // runs queued by this server or another on the same store
	s.mux = http.NewServeMux()
	s.handle("GET /healthz", s.healthz, open)
	s.handle("GET /readyz", s.readyz, open)
	s.handle("GET /v1/whoami", s.whoami, authed)
	s.handle("GET /v1/public-key", s.publicKey, authed)

	s.handle("GET /v1/refs", s.listRefs, authed)
	s.handle("POST /v1/refs", s.createRef, authed)
	s.handle("GET /v1/refs/{name}", s.getRef, authed)
	s.handle("DELETE /v1/refs/{name}", s.deleteRef, authed)
	s.handle("POST /v1/refs/{name}/rename", s.renameRef, authed)
	s.handle("GET /v1/resolve", s.resolve, authed)
	s.handle("GET /v1/commits/{hash}", s.getCommit, authed)
	s.handle("GET /v1/log", s.log, authed)
	s.handle("GET /v1/history", s.history, authed)
	s.handle("GET /v1/merge-base", s.mergeBase, authed)
	s.handle("GET /v1/diff", s.diff, authed)
	s.handle("POST /v1/merge", s.merge, authed)

	s.handle("GET /v1/namespaces", s.listNamespaces, authed)
	s.handle("POST /v1/namespaces", s.createNamespace, authed)
	s.handle("DELETE /v1/namespaces/{namespace}", s.dropNamespace, authed)
	s.handle("GET /v1/tables", s.listTables, authed)
	s.handle("POST /v1/tables", s.createTable, upload)
	s.handle("GET /v1/tables/{table}", s.getTable, authed)
	s.handle("GET /v1/tables/{table}/rows", s.tableRows, authed)
	s.handle("GET /v1/tables/{table}/stats", s.tableStats, authed)
	s.handle("GET /v1/tables/{table}/diff", s.tableDiff, authed)
	s.handle("DELETE /v1/tables/{table}", s.dropTable, authed)
	s.handle("POST /v1/tables/{table}/import", s.importTable, upload)
	s.handle("POST /v1/tables/{table}/revert", s.revertTable, authed)
	s.handle("POST /v1/tables/{table}/optimize", s.optimizeTable, authed)
	s.handle("POST /v1/verify", s.verify, authed)
	s.handle("POST /v1/gc", s.gc, authed)

	s.handle("POST /v1/query", s.query, authed)
	s.handle("POST /v1/query/export", s.export, authed)
	s.handle("POST /v1/runs", s.run, upload)
	s.handle("GET /v1/jobs", s.listJobs, authed)
	s.handle("GET /v1/jobs/{id}", s.getJob, authed)
	s.handle("GET /v1/jobs/{id}/logs", s.jobLogs, authed)
	s.handle("POST /v1/jobs/{id}/cancel", s.cancelJob, authed)
	s.handle("GET /v1/users", s.listUsers, authed)
	s.handle("POST /v1/users", s.addUser, authed)
	s.handle("DELETE /v1/users/{name}", s.removeUser, authed)
	s.handle("POST /v1/users/{name}/token", s.resetToken, authed)
	if s.UI != nil {
		s.mux.Handle("GET /{$}", s.UI)
		s.mux.Handle("GET /assets/", s.UI)
	}
	s.mux.HandleFunc("/", s.noRoute)
	s.handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.isIceberg(r.URL.Path) {
			s.serveIceberg(w, r) // a second API with its own routes and errors
			return
		}
		if p := r.URL.EscapedPath(); p == "" || p[0] != '/' || path.Clean(p) != p {
			s.noRoute(w, r) // not a path the API has (ServeMux would redirect it)
			return
		}
		s.mux.ServeHTTP(w, r)
	})
	return s.handler
}

// noRoute answers a request no route matches: 405 with Allow when the
// path has routes for other methods, else 404.
func (s *Server) noRoute(w http.ResponseWriter, r *http.Request) {
	var allowed []string
	if p := r.URL.EscapedPath(); path.Clean(p) == p {
		for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
			probe := r.Clone(r.Context())
			probe.Method = m
			if _, p := s.mux.Handler(probe); p != "" && p != "/" {
				allowed = append(allowed, m)
			}
		}
	}
	if len(allowed) == 0 {
		s.writeError(w, tarn.Errorf(tarn.ENOTFOUND, "no route %s %s: see api/openapi.yaml for the API", r.Method, tarn.Quote(r.URL.Path)))
		return
	}
	w.Header().Set("Allow", strings.Join(allowed, ", "))
	s.writeError(w, &statusError{status: http.StatusMethodNotAllowed,
		err: tarn.Errorf(tarn.EINVALID, "%s %s is not allowed: this path takes %s (see api/openapi.yaml)", r.Method, tarn.Quote(r.URL.Path), strings.Join(allowed, ", "))})
}

// Routes lists the registered route patterns ("METHOD /path").
func (s *Server) Routes() []string {
	s.Handler()
	return append([]string(nil), s.routes...)
}

func (s *Server) handle(pattern string, h handlerFunc, rt route) {
	s.routes = append(s.routes, pattern)
	s.mux.HandleFunc(pattern, func(rw http.ResponseWriter, r *http.Request) {
		started := time.Now()
		w := &statusWriter{ResponseWriter: rw}
		if s.Log != nil {
			defer func() {
				fmt.Fprintf(s.Log, "%s %s %s %s %d %s\n", started.UTC().Format(time.RFC3339), userOf(r.Context()).Name, r.Method, r.URL.Path,
					w.status, time.Since(started).Round(time.Millisecond))
			}()
		}
		if !rt.open {
			u, err := s.authenticate(r)
			if err != nil {
				s.writeError(w, err)
				return
			}
			r = r.WithContext(context.WithValue(r.Context(), userKey{}, u))
		}
		limit := int64(maxJSON)
		if rt.upload {
			limit = s.MaxUpload
		}
		r.Body = http.MaxBytesReader(w, r.Body, limit)
		err := s.spec.check(pattern, r)
		if err == nil {
			err = h(w, r)
		}
		if err != nil {
			s.writeError(w, bodyTooLarge(err, rt))
		}
	})
}

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) error {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	return nil
}

// readyTimeout bounds /readyz: a load balancer's check wants an answer.
const readyTimeout = 5 * time.Second

// readyz checks that the catalog (and so, on a shared database, the
// users and jobs) answers in time, and that the warehouse's object store
// (when its tables live in one) takes a write.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) error {
	ctx, cancel := context.WithTimeout(r.Context(), readyTimeout)
	defer cancel()
	if _, err := s.Services.Refs.Resolve(ctx, tarn.DefaultBranch); err != nil {
		reason := err.Error()
		if errors.Is(err, context.DeadlineExceeded) {
			reason = fmt.Sprintf("the catalog did not answer within %s (%v): check that its database runs and is reachable", readyTimeout, err)
		}
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "unavailable", "reason": s.redact.redact(reason)})
		return nil
	}
	if s.Services.Ready != nil {
		if err := s.Services.Ready(ctx); err != nil {
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "unavailable", "reason": s.redact.redact(err.Error())})
			return nil
		}
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
	return nil
}

func (s *Server) whoami(w http.ResponseWriter, r *http.Request) error {
	writeJSON(w, http.StatusOK, userOf(r.Context()))
	return nil
}

// uploadDir creates a fresh folder for one request's uploads.
func (s *Server) uploadDir() (string, error) {
	if err := os.MkdirAll(s.UploadDir, 0o700); err != nil {
		return "", err
	}
	return os.MkdirTemp(s.UploadDir, "up-")
}

func queryInt(r *http.Request, name string, def int) (int, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return 0, tarn.Errorf(tarn.EINVALID, "query parameter %s=%s is not a number", name, tarn.Quote(v))
	}
	return n, nil
}

// queryBool reads a boolean query parameter (checked against the API
// document: true or false).
func queryBool(r *http.Request, name string) bool {
	return r.URL.Query().Get(name) == "true"
}

// Pattern returns the route pattern a request matches ("" for none).
func (s *Server) Pattern(r *http.Request) string {
	s.Handler()
	_, p := s.mux.Handler(r)
	if p == "/" {
		return ""
	}
	return p
}

// statusWriter remembers the status for the access log; Unwrap lets
// http.ResponseController reach the connection (Flush, trailers).
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(p)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
