package icerest

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"path"
	"strings"
	"time"

	"github.com/tarnhq/tarn"
	"github.com/tarnhq/tarn/table"
)

// DefaultMaxBody caps a request body when Options.MaxBody is 0.
const DefaultMaxBody = 16 << 20

// Options configure a Handler. The zero value serves a local warehouse.
type Options struct {
	// TableConfig is sent with every table an engine loads, creates or
	// registers (LoadTableResult.config): what the engine needs to reach
	// the table's files, such as the s3.* properties of an S3 warehouse
	// (StorageConfig builds them). Nil for a local warehouse, whose
	// metadata names file:// paths.
	TableConfig map[string]string
	// MaxBody caps a request body in bytes (default DefaultMaxBody).
	MaxBody int64
	// WriteLease is how long after an engine loads a table on a branch it
	// may write (or stages a create) garbage collection keeps the
	// unreferenced files made since, for the commit that may follow
	// (table.Service.EngineMayWrite; default DefaultWriteLease).
	WriteLease time.Duration
}

// DefaultWriteLease is Options.WriteLease when it is not set.
const DefaultWriteLease = time.Hour

// Handler serves the Apache Iceberg REST catalog API over the versioned
// catalog: the routes of the spec from /v1 on (mount it under /iceberg
// with http.StripPrefix). Every catalog route sits under a prefix that
// names a ref (GET /v1/config?warehouse=REF returns it): a branch is read
// at its head and written by commits on it; tags and commits are read
// only. Each request needs a tarn.Caller in its context (tarn serve puts
// it there after authenticating): without one it is refused (401).
type Handler struct {
	tables *table.Service
	opts   Options
	mux    *http.ServeMux
}

// New returns a handler over a table service.
func New(tables *table.Service, opts Options) *Handler {
	if opts.MaxBody == 0 {
		opts.MaxBody = DefaultMaxBody
	}
	if opts.WriteLease <= 0 {
		opts.WriteLease = DefaultWriteLease
	}
	h := &Handler{tables: tables, opts: opts, mux: http.NewServeMux()}
	h.route("GET /v1/config", h.config)
	h.route("GET /v1/{prefix}/namespaces", h.listNamespaces)
	h.route("POST /v1/{prefix}/namespaces", h.createNamespace)
	h.route("GET /v1/{prefix}/namespaces/{namespace}", h.loadNamespace)
	h.route("HEAD /v1/{prefix}/namespaces/{namespace}", h.namespaceExists)
	h.route("DELETE /v1/{prefix}/namespaces/{namespace}", h.dropNamespace)
	h.route("POST /v1/{prefix}/namespaces/{namespace}/properties", h.updateProperties)
	h.route("GET /v1/{prefix}/namespaces/{namespace}/tables", h.listTables)
	h.route("POST /v1/{prefix}/namespaces/{namespace}/tables", h.createTable)
	h.route("POST /v1/{prefix}/namespaces/{namespace}/register", h.registerTable)
	h.route("GET /v1/{prefix}/namespaces/{namespace}/tables/{table}", h.loadTable)
	h.route("HEAD /v1/{prefix}/namespaces/{namespace}/tables/{table}", h.tableExists)
	h.route("POST /v1/{prefix}/namespaces/{namespace}/tables/{table}", h.commitTable)
	h.route("DELETE /v1/{prefix}/namespaces/{namespace}/tables/{table}", h.dropTable)
	h.route("POST /v1/{prefix}/namespaces/{namespace}/tables/{table}/metrics", h.reportMetrics)
	h.route("POST /v1/{prefix}/tables/rename", h.renameTable)
	h.route("POST /v1/{prefix}/transactions/commit", h.commitTransaction)
	h.mux.HandleFunc("/", h.noRoute)
	return h
}

// endpoints are the routes the config advertises (the spec's notation).
var endpoints = []string{
	"GET /v1/{prefix}/namespaces",
	"POST /v1/{prefix}/namespaces",
	"GET /v1/{prefix}/namespaces/{namespace}",
	"HEAD /v1/{prefix}/namespaces/{namespace}",
	"DELETE /v1/{prefix}/namespaces/{namespace}",
	"POST /v1/{prefix}/namespaces/{namespace}/properties",
	"GET /v1/{prefix}/namespaces/{namespace}/tables",
	"POST /v1/{prefix}/namespaces/{namespace}/tables",
	"GET /v1/{prefix}/namespaces/{namespace}/tables/{table}",
	"HEAD /v1/{prefix}/namespaces/{namespace}/tables/{table}",
	"POST /v1/{prefix}/namespaces/{namespace}/tables/{table}",
	"DELETE /v1/{prefix}/namespaces/{namespace}/tables/{table}",
	"POST /v1/{prefix}/namespaces/{namespace}/register",
	"POST /v1/{prefix}/namespaces/{namespace}/tables/{table}/metrics",
	"POST /v1/{prefix}/tables/rename",
	"POST /v1/{prefix}/transactions/commit",
}

type handlerFunc func(w http.ResponseWriter, r *http.Request) error

func (h *Handler) route(pattern string, fn handlerFunc) {
	h.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, h.opts.MaxBody)
		if err := fn(w, r); err != nil {
			h.fail(w, r, err)
		}
	})
}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if p := r.URL.EscapedPath(); p == "" || p[0] != '/' || path.Clean(p) != p {
		h.fail(w, r, noRouteError(r)) // ServeMux would redirect it
		return
	}
	h.mux.ServeHTTP(w, r)
}

// noRoute answers a path the API does not have (404) or a method the path
// does not take (405).
func (h *Handler) noRoute(w http.ResponseWriter, r *http.Request) {
	var allowed []string
	for _, m := range []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodDelete} {
		probe := r.Clone(r.Context())
		probe.Method = m
		if _, p := h.mux.Handler(probe); p != "/" && p != "" {
			allowed = append(allowed, m)
		}
	}
	if len(allowed) == 0 {
		h.fail(w, r, noRouteError(r))
		return
	}
	w.Header().Set("Allow", strings.Join(allowed, ", "))
	h.fail(w, r, &statusError{status: http.StatusMethodNotAllowed, typ: "MethodNotAllowedException",
		err: tarn.Errorf(tarn.EINVALID, "%s %s is not allowed: this path takes %s", r.Method, tarn.Quote(r.URL.Path), strings.Join(allowed, ", "))})
}

func noRouteError(r *http.Request) error {
	return &statusError{status: http.StatusNotFound, typ: "NoSuchRouteException",
		err: tarn.Errorf(tarn.ENOTFOUND, "no Iceberg REST route %s %s: see docs/ICEBERG_REST.md for what tarn serves", r.Method, tarn.Quote(r.URL.Path))}
}

// Prefix returns the path segment that names a ref in the routes: the
// ref's name with each "/" written "~" (ref names never hold "~"), or a
// full commit hash.
func Prefix(ref string) string { return strings.ReplaceAll(ref, "/", "~") }

// refOfPrefix undoes Prefix.
func refOfPrefix(p string) string { return strings.ReplaceAll(p, "~", "/") }

// callerOf returns who makes a request, or refuses it.
func callerOf(r *http.Request) (tarn.Caller, error) {
	c := tarn.CallerFromContext(r.Context())
	if c == nil {
		return nil, tarn.Errorf(tarn.EUNAUTHORIZED, "this catalog needs a tarn token: set the catalog's token (or credential USER:TOKEN)")
	}
	return c, nil
}

// config answers GET /v1/config: the prefix of the ref the warehouse
// names (main by default) and the endpoints served.
func (h *Handler) config(w http.ResponseWriter, r *http.Request) error {
	if _, err := callerOf(r); err != nil {
		return err
	}
	ref := r.URL.Query().Get("warehouse")
	if ref == "" {
		ref = tarn.DefaultBranch
	}
	name, err := h.warehouse(r.Context(), ref)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, configResponse{
		Defaults:  map[string]string{},
		Overrides: map[string]string{"prefix": Prefix(name)},
		Endpoints: endpoints,
	})
	return nil
}

// warehouse resolves a warehouse (any ref syntax) to the name its prefix
// holds: a branch or tag by name, anything else as its commit's hash.
func (h *Handler) warehouse(ctx context.Context, ref string) (string, error) {
	cat := h.tables.Catalog()
	expr, err := tarn.ParseRef(ref)
	if err != nil {
		return "", &statusError{status: http.StatusBadRequest, typ: "BadRequestException", err: err}
	}
	if expr.IsPlain() {
		if named, err := cat.GetRef(ctx, expr.Base); err == nil {
			return named.Name, nil
		} else if !tarn.IsCode(err, tarn.ENOTFOUND) {
			return "", err
		}
	}
	commit, err := cat.Resolve(ctx, ref)
	if err != nil {
		return "", noWarehouse(err)
	}
	return commit.Hash, nil
}

func noWarehouse(err error) error {
	if !tarn.IsCode(err, tarn.ENOTFOUND) {
		return err
	}
	return &statusError{status: http.StatusNotFound, typ: "NoSuchWarehouseException",
		err: tarn.Errorf(tarn.ENOTFOUND, "warehouse: %w; a warehouse is a tarn ref (branch, tag or commit): list them with `tarn branch ls` and `tarn tag ls`", err)}
}

// open returns a session reading the ref of the request's prefix: a
// branch at its head, a tag or commit read-only.
func (h *Handler) open(r *http.Request) (*table.Session, error) {
	if _, err := callerOf(r); err != nil {
		return nil, err
	}
	ctx := r.Context()
	name := refOfPrefix(r.PathValue("prefix"))
	cat := h.tables.Catalog()
	named, err := cat.GetRef(ctx, name)
	switch {
	case err == nil && named.Kind == tarn.KindBranch:
		ss, err := h.tables.OpenSession(ctx, name)
		return ss, noWarehouse(err)
	case err == nil:
		commit, err := cat.GetCommit(ctx, named.Commit)
		if err != nil {
			return nil, err
		}
		return h.tables.ReadSession(commit, "tag "+name), nil
	case !tarn.IsCode(err, tarn.ENOTFOUND):
		return nil, err
	case len(name) == 64 && tarn.LooksLikeHash(name):
		commit, err := cat.GetCommit(ctx, name)
		if err != nil {
			return nil, noWarehouse(err)
		}
		return h.tables.ReadSession(commit, "commit "+commit.ShortHash()), nil
	}
	return nil, noWarehouse(err)
}

// write runs change on a session of the request's branch, after checking
// that the caller may write it, and commits what it staged as one tarn
// commit by the caller, with the message change returns.
func (h *Handler) write(r *http.Request, change func(ctx context.Context, ss *table.Session) (string, error)) (*table.Session, error) {
	ss, err := h.open(r)
	if err != nil {
		return nil, err
	}
	caller, _ := callerOf(r)
	if ss.Branch() == "" {
		name := refOfPrefix(r.PathValue("prefix"))
		return nil, tarn.Errorf(tarn.EFORBIDDEN, "%s is a tag or a commit, which is read-only: write through a branch (warehouse=BRANCH)", tarn.Quote(name))
	}
	if err := caller.CanWrite(ss.Branch()); err != nil {
		return nil, err
	}
	ctx := r.Context()
	defer ss.Close(ctx) // what a refused or failed change wrote goes
	message, err := change(ctx, ss)
	if err != nil {
		return nil, err
	}
	_, err = ss.Flush(ctx, tarn.CommitInfo{Author: caller.User().Name, Message: "iceberg: " + message})
	return ss, err
}

// decode reads a JSON request body. Fields the catalog does not know are
// ignored (clients of newer spec versions send more).
func decode(r *http.Request, v any) error {
	dec := json.NewDecoder(r.Body)
	if err := dec.Decode(v); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return &statusError{status: http.StatusRequestEntityTooLarge, typ: "BadRequestException",
				err: tarn.Errorf(tarn.EINVALID, "the request body is larger than the catalog's limit of %s", tarn.FormatBytes(tooBig.Limit))}
		}
		if errors.Is(err, io.EOF) {
			return tarn.Errorf(tarn.EINVALID, "the request has no body: send a JSON object")
		}
		return tarn.Errorf(tarn.EINVALID, "malformed request body: %v", err)
	}
	if dec.More() {
		return tarn.Errorf(tarn.EINVALID, "malformed request body: more than one JSON value")
	}
	return nil
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}
