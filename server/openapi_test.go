package server_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tarnhq/tarn"
	"gopkg.in/yaml.v3"
)

// spec is the OpenAPI document, decoded as plain maps.
type spec struct{ doc map[string]any }

func loadSpec(t *testing.T) *spec {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "api", "openapi.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := yaml.Unmarshal(b, &doc); err != nil {
		t.Fatalf("api/openapi.yaml: %v", err)
	}
	return &spec{doc: doc}
}

func (s *spec) operations() map[string]map[string]any {
	out := map[string]map[string]any{}
	for path, item := range s.doc["paths"].(map[string]any) {
		for method, op := range item.(map[string]any) {
			if method == "parameters" {
				continue
			}
			out[strings.ToUpper(method)+" "+path] = op.(map[string]any)
		}
	}
	return out
}

// resolve follows a $ref into the document.
func (s *spec) resolve(v map[string]any) map[string]any {
	for {
		ref, ok := v["$ref"].(string)
		if !ok {
			return v
		}
		var cur any = s.doc
		for _, part := range strings.Split(strings.TrimPrefix(ref, "#/"), "/") {
			cur = cur.(map[string]any)[part]
		}
		v = cur.(map[string]any)
	}
}

// validate checks a decoded JSON value against a schema (the subset of
// OpenAPI 3.0 the document uses: type, properties, required, items, enum,
// nullable, allOf, additionalProperties, $ref).
func (s *spec) validate(schema map[string]any, v any, at string) error {
	schema = s.resolve(schema)
	if v == nil {
		if schema["nullable"] == true {
			return nil
		}
		return fmt.Errorf("%s: null where the schema does not allow it", at)
	}
	for _, sub := range asList(schema["allOf"]) {
		if err := s.validate(sub.(map[string]any), v, at); err != nil {
			return err
		}
	}
	if enum := asList(schema["enum"]); enum != nil {
		found := false
		for _, e := range enum {
			found = found || fmt.Sprint(e) == fmt.Sprint(v)
		}
		if !found {
			return fmt.Errorf("%s: %v is not one of %v", at, v, enum)
		}
	}
	switch schema["type"] {
	case "object":
		obj, ok := v.(map[string]any)
		if !ok {
			return fmt.Errorf("%s: %T, want an object", at, v)
		}
		for _, r := range asList(schema["required"]) {
			if _, ok := obj[r.(string)]; !ok {
				return fmt.Errorf("%s: required property %q missing", at, r)
			}
		}
		props, _ := schema["properties"].(map[string]any)
		for k, pv := range obj {
			if ps, ok := props[k]; ok {
				if err := s.validate(ps.(map[string]any), pv, at+"."+k); err != nil {
					return err
				}
			} else if ap, ok := schema["additionalProperties"].(map[string]any); ok {
				if err := s.validate(ap, pv, at+"."+k); err != nil {
					return err
				}
			} else if props != nil {
				return fmt.Errorf("%s: property %q is not documented", at, k)
			}
		}
	case "array":
		arr, ok := v.([]any)
		if !ok {
			return fmt.Errorf("%s: %T, want an array", at, v)
		}
		if items, ok := schema["items"].(map[string]any); ok {
			for i, x := range arr {
				if err := s.validate(items, x, fmt.Sprintf("%s[%d]", at, i)); err != nil {
					return err
				}
			}
		}
	case "string":
		if _, ok := v.(string); !ok {
			return fmt.Errorf("%s: %T, want a string", at, v)
		}
	case "integer":
		if f, ok := v.(float64); !ok || f != float64(int64(f)) {
			return fmt.Errorf("%s: %v, want an integer", at, v)
		}
	case "number":
		if _, ok := v.(float64); !ok {
			return fmt.Errorf("%s: %T, want a number", at, v)
		}
	case "boolean":
		if _, ok := v.(bool); !ok {
			return fmt.Errorf("%s: %T, want a boolean", at, v)
		}
	}
	return nil
}

func asList(v any) []any {
	l, _ := v.([]any)
	return l
}

// exchange is one recorded response.
type exchange struct {
	route, path, contentType string
	status                   int
	body                     []byte
}

type recorder struct {
	http.ResponseWriter
	status int
	body   bytes.Buffer
}

func (r *recorder) WriteHeader(code int) { r.status = code; r.ResponseWriter.WriteHeader(code) }
func (r *recorder) Write(p []byte) (int, error) {
	if r.status == 0 {
		r.status = 200
	}
	if r.body.Len() < 1<<20 {
		r.body.Write(p)
	}
	return r.ResponseWriter.Write(p)
}
func (r *recorder) Flush() { r.ResponseWriter.(http.Flusher).Flush() }

// record serves ts through a handler that records every exchange (ts.url
// changes to it) and returns what it recorded so far.
func (ts *testServer) record() func() []exchange {
	var mu sync.Mutex
	var seen []exchange
	inner := ts.srv.Handler()
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &recorder{ResponseWriter: w}
		route := ts.srv.Pattern(r)
		inner.ServeHTTP(rec, r)
		mu.Lock()
		seen = append(seen, exchange{route: route, path: r.URL.Path, status: rec.status, contentType: w.Header().Get("Content-Type"), body: rec.body.Bytes()})
		mu.Unlock()
	}))
	ts.t.Cleanup(hs.Close)
	ts.url = hs.URL
	return func() []exchange {
		mu.Lock()
		defer mu.Unlock()
		return append([]exchange(nil), seen...)
	}
}

// TestOpenAPI checks the server against api/openapi.yaml: every route is
// documented and every documented route exists, and every response of a
// session that uses each route has a documented status and content type
// and a body that validates against the documented schema.
func TestOpenAPI(t *testing.T) {
	sp := loadSpec(t)
	ops := sp.operations()
	ts := newTestServer(t, nil)
	routes := ts.srv.Routes()
	for _, r := range routes {
		if _, ok := ops[r]; !ok {
			t.Errorf("route %s is not documented in api/openapi.yaml", r)
		}
	}
	for op := range ops {
		found := false
		for _, r := range routes {
			found = found || r == op
		}
		if !found {
			t.Errorf("api/openapi.yaml documents %s, which the server does not have", op)
		}
	}

	// Record a session through a server whose handler is wrapped.
	seen := ts.record()
	admin, alice := ts.client(ts.adminToken), ts.client(ts.aliceToken)
	session(t, ts, admin, alice)

	used := map[string]bool{}
	for _, ex := range seen() {
		if ex.route == "" {
			continue // unknown routes: a JSON 404, checked in TestServer_BadInput
		}
		used[ex.route] = true
		op := ops[ex.route]
		responses := op["responses"].(map[string]any)
		resp, ok := responses[strconv.Itoa(ex.status)].(map[string]any)
		if !ok {
			t.Errorf("%s answered %d, which is not documented (body %.200s)", ex.route, ex.status, ex.body)
			continue
		}
		resp = sp.resolve(resp)
		content, _ := resp["content"].(map[string]any)
		media, ok := content[ex.contentType].(map[string]any)
		if !ok {
			t.Errorf("%s %d: content type %q is not documented", ex.route, ex.status, ex.contentType)
			continue
		}
		schema, _ := media["schema"].(map[string]any)
		var values []any
		switch ex.contentType {
		case "application/json":
			var v any
			if err := json.Unmarshal(ex.body, &v); err != nil {
				t.Errorf("%s %d: invalid JSON: %v", ex.route, ex.status, err)
				continue
			}
			values = append(values, v)
		case "application/x-ndjson":
			sc := bufio.NewScanner(bytes.NewReader(ex.body))
			for sc.Scan() {
				var v any
				if err := json.Unmarshal(sc.Bytes(), &v); err != nil {
					t.Errorf("%s %d: invalid NDJSON line: %v", ex.route, ex.status, err)
				}
				values = append(values, v)
			}
		}
		for _, v := range values {
			if err := sp.validate(schema, v, ex.route); err != nil {
				t.Errorf("%s %d: %v", ex.route, ex.status, err)
			}
		}
	}
	var unused []string
	for _, r := range routes {
		if !used[r] {
			unused = append(unused, r)
		}
	}
	sort.Strings(unused)
	if len(unused) > 0 {
		t.Errorf("the session did not use %v: extend it", unused)
	}
}

// session uses every route, with successes and failures.
func session(t *testing.T, ts *testServer, admin, alice *tarn.Services) {
	ctx := context.Background()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	raw := func(method, path string) {
		t.Helper()
		req, _ := http.NewRequest(method, ts.url+path, nil)
		req.Header.Set("Authorization", "Bearer "+ts.adminToken)
		resp, err := http.DefaultClient.Do(req)
		must(err)
		resp.Body.Close()
	}
	raw("GET", "/healthz")
	raw("GET", "/readyz")
	raw("GET", "/v1/whoami")
	_, err := alice.Secrets.PublicKey(ctx)
	must(err)
	csv := ts.file("a.csv", "id,v,ts\n1,2.5,2026-01-01T00:00:00Z\n2,3.5,2026-01-02T00:00:00Z\n")
	ident := tarn.TableIdent{Namespace: "tarn", Name: "t"}
	plan, err := admin.Tables.(tarn.TablePlanner).PlanTable(ctx, tarn.CreateTableRequest{Table: ident, Branch: "main", From: []string{csv}, PartitionBy: "day(ts)"})
	must(err)
	if !slices.Equal(plan.Files, []string{"a.csv"}) || len(plan.Columns) != 3 {
		t.Fatalf("plan %+v: the files as the client named them, no server path", plan)
	}
	_, err = admin.Tables.CreateTable(ctx, tarn.CreateTableRequest{Table: ident, Branch: "main", From: []string{csv}, PartitionBy: "day(ts)"})
	must(err)
	_, err = admin.Tables.CreateTable(ctx, tarn.CreateTableRequest{Table: ident, Branch: "main", From: []string{csv}})
	wantErr(t, err, tarn.EEXISTS)
	_, err = alice.Refs.CreateRef(ctx, tarn.KindBranch, "alice.dev", "main")
	must(err)
	_, err = alice.Refs.CreateRef(ctx, tarn.KindTag, "v0", "main")
	wantErr(t, err, tarn.EFORBIDDEN)
	_, err = admin.Refs.CreateRef(ctx, tarn.KindTag, "v2", "main")
	must(err)
	_, err = admin.Refs.RenameTag(ctx, "v2", "v1")
	must(err)
	_, err = admin.Refs.ListRefs(ctx, tarn.KindTag)
	must(err)
	_, err = admin.Refs.GetRef(ctx, "nosuch")
	wantErr(t, err, tarn.ENOTFOUND)
	_, err = alice.Tables.ImportTable(ctx, tarn.ImportRequest{Table: ident, Branch: "alice.dev", From: []string{csv}})
	must(err)
	_, err = alice.Tables.CreateNamespace(ctx, "alice.dev", "staging", info("ns"))
	must(err)
	_, err = alice.Tables.ListNamespaces(ctx, "alice.dev")
	must(err)
	_, err = alice.Tables.DropNamespace(ctx, "alice.dev", "staging", false, info(""))
	must(err)
	list, head, err := alice.Tables.ListTables(ctx, "alice.dev", "")
	must(err)
	if len(list) != 1 {
		t.Fatalf("tables %+v", list)
	}
	_, err = admin.Tables.GetTable(ctx, ident, "alice.dev")
	must(err)
	_, err = admin.Refs.GetCommit(ctx, head.Hash)
	must(err)
	_, err = admin.Refs.BranchHead(ctx, "v1")
	wantErr(t, err, tarn.EINVALID)
	_, err = admin.Refs.MergeBase(ctx, "main", "alice.dev")
	must(err)
	_, err = admin.Refs.Diff(ctx, "main", "alice.dev")
	must(err)
	_, err = admin.Refs.Log(ctx, "alice.dev", 0)
	must(err)
	page, err := admin.Refs.History(ctx, "alice.dev", "", 1)
	must(err)
	_, err = admin.Refs.History(ctx, "alice.dev", page.Next, 1)
	must(err)
	_, err = admin.Refs.History(ctx, "alice.dev", strings.Repeat("0", 64), 1)
	wantErr(t, err, tarn.ENOTFOUND)
	raw("GET", "/v1/refs?heads=true")
	raw("GET", "/v1/tables/t/rows?ref=alice.dev&limit=1&offset=1&sort=v&desc=true")
	raw("GET", "/v1/tables/t/rows?ref=alice.dev&sort=nosuch")
	raw("GET", "/v1/tables/t/stats?ref=alice.dev")
	raw("GET", "/v1/tables/nosuch/stats")
	raw("GET", "/v1/tables/t/diff?from=main&to=alice.dev&limit=5")
	raw("GET", "/v1/tables/t/diff?from=main")
	_, err = alice.Refs.Merge(ctx, tarn.MergeRequest{Source: "alice.dev", Into: "main"})
	must(err)
	_, err = alice.Tables.RevertTable(ctx, ident, "alice.dev", "v1", info(""))
	must(err)
	opt, err := alice.Tables.(tarn.Optimizer).Optimize(ctx, tarn.OptimizeRequest{Table: ident, Branch: "alice.dev", TargetFileSize: 1 << 20, Info: info("")})
	must(err)
	if opt.Rows == 0 || opt.FilesAfter == 0 || opt.Commit == nil {
		t.Fatalf("optimize through the server: %+v", opt)
	}
	_, err = alice.Tables.(tarn.Optimizer).Optimize(ctx, tarn.OptimizeRequest{Table: ident, Branch: "main", Info: info("")})
	wantErr(t, err, tarn.EFORBIDDEN)
	_, err = alice.Tables.DropTable(ctx, ident, "main", info(""))
	wantErr(t, err, tarn.EFORBIDDEN)
	_, err = alice.Refs.RenameBranch(ctx, "alice.dev", "alice.old")
	must(err)
	must(alice.Refs.DeleteRef(ctx, tarn.KindBranch, "alice.old"))
	_, err = admin.Tables.DropTable(ctx, ident, "main", info(""))
	must(err)
	_, err = admin.Tables.Verify(ctx, true)
	must(err)
	_, err = alice.Tables.(tarn.Collector).CollectGarbage(ctx, tarn.GCRequest{DryRun: true})
	wantErr(t, err, tarn.EFORBIDDEN)
	gc, err := admin.Tables.(tarn.Collector).CollectGarbage(ctx, tarn.GCRequest{OlderThan: time.Nanosecond, RunsOlderThan: 24 * time.Hour, DryRun: true})
	must(err)
	if !gc.DryRun || gc.Referenced == 0 || gc.Commits == 0 || gc.Files < gc.Referenced {
		t.Fatalf("gc through the server: %+v", gc)
	}
	res, err := admin.Query.Query(ctx, tarn.QueryRequest{SQL: "select 1 as one", Ref: "v1"})
	must(err)
	for res.Records.Next() {
	}
	res.Close()
	_, err = admin.Query.Query(ctx, tarn.QueryRequest{SQL: "drop table t", Ref: "v1"})
	wantErr(t, err, tarn.EINVALID)
	_, err = admin.Query.CopyTo(ctx, tarn.QueryRequest{SQL: "select 1 as one", Ref: "main"}, "csv", filepath.Join(ts.dir, "out.csv"))
	must(err)
	jobs, err := admin.Jobs.ListJobs(ctx)
	must(err)
	_, err = admin.Jobs.GetJob(ctx, jobs[0].ID)
	must(err)
	must(admin.Jobs.JobLogs(ctx, jobs[0].ID, false, &bytes.Buffer{}))
	_, err = admin.Jobs.CancelJob(ctx, jobs[0].ID)
	wantErr(t, err, tarn.ECONFLICT, "already ended")
	_, err = alice.Jobs.CancelJob(ctx, jobs[0].ID) // root's job: alice does not see it
	wantErr(t, err, tarn.ENOTFOUND)
	_, err = admin.Runs.Run(ctx, tarn.RunRequest{ProjectDir: ts.dir, Ref: "nosuch"}, nil)
	wantErr(t, err, tarn.ENOTFOUND)
	_, _, err = admin.Users.AddUser(ctx, tarn.NewUser{Name: "carol"})
	must(err)
	_, _, err = admin.Users.AddUser(ctx, tarn.NewUser{Name: "carol"})
	wantErr(t, err, tarn.EEXISTS)
	_, err = admin.Users.ListUsers(ctx)
	must(err)
	_, err = alice.Users.ResetToken(ctx, "carol")
	wantErr(t, err, tarn.EFORBIDDEN)
	_, err = admin.Users.ResetToken(ctx, "carol")
	must(err)
	must(admin.Users.RemoveUser(ctx, "carol"))
	wantErr(t, admin.Users.RemoveUser(ctx, "carol"), tarn.ENOTFOUND)
}
