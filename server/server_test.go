package server_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/tarnhq/tarn"
	"github.com/tarnhq/tarn/api"
	"github.com/tarnhq/tarn/client"
	"github.com/tarnhq/tarn/local"
	"github.com/tarnhq/tarn/query"
	"github.com/tarnhq/tarn/server"
)

// testServer is a server over a fresh home, with an admin and a user.
type testServer struct {
	t            *testing.T
	home, dir    string
	url          string
	srv          *server.Server
	adminToken   string
	aliceToken   string
	lake         *local.Lakehouse
	admin, alice *tarn.Services
}

func newTestServer(t *testing.T, configure func(*server.Server)) *testServer {
	t.Helper()
	return newTestServerWith(t, nil, configure)
}

// newTestServerWith also configures the lakehouse (its query limits).
func newTestServerWith(t *testing.T, lake func(*local.Config), configure func(*server.Server)) *testServer {
	t.Helper()
	dir := t.TempDir()
	home := filepath.Join(dir, "home")
	ctx := context.Background()
	cfg := local.Config{Home: home, Confine: true}
	if lake != nil {
		lake(&cfg)
	}
	lh, err := local.Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { lh.Close() })
	srv := &server.Server{Services: lh.Services(), Jobs: lh.Jobs(), Users: lh.Users(), Home: home}
	if configure != nil {
		configure(srv)
	}
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(hs.Close)
	ts := &testServer{t: t, home: home, dir: dir, url: hs.URL, srv: srv, lake: lh}
	_, ts.adminToken, err = lh.Users().AddUser(ctx, tarn.NewUser{Name: "root", Admin: true})
	if err != nil {
		t.Fatal(err)
	}
	_, ts.aliceToken, err = lh.Users().AddUser(ctx, tarn.NewUser{Name: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	ts.admin = ts.client(ts.adminToken)
	ts.alice = ts.client(ts.aliceToken)
	return ts
}

func (ts *testServer) client(token string) *tarn.Services {
	svc, err := client.New(client.Config{Endpoint: ts.url, Token: token})
	if err != nil {
		ts.t.Fatal(err)
	}
	return svc
}

func (ts *testServer) file(name, content string) string {
	p := filepath.Join(ts.dir, name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		ts.t.Fatal(err)
	}
	return p
}

// raw sends a request and decodes a JSON error body, if any.
func (ts *testServer) raw(method, path, token, contentType string, body io.Reader) (int, api.ErrorBody) {
	ts.t.Helper()
	req, _ := http.NewRequest(method, ts.url+path, body)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		ts.t.Fatal(err)
	}
	defer resp.Body.Close()
	var eb api.ErrorBody
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 400 {
		if resp.Header.Get("Content-Type") != "application/json" {
			ts.t.Fatalf("%s %s: error with content type %q", method, path, resp.Header.Get("Content-Type"))
		}
		if err := json.Unmarshal(b, &eb); err != nil || eb.Error.Code == "" || eb.Error.Message == "" {
			ts.t.Fatalf("%s %s: error body %q is not {\"error\":{code,message}}", method, path, b)
		}
	}
	return resp.StatusCode, eb
}

func wantErr(t *testing.T, err error, code string, mentions ...string) {
	t.Helper()
	if tarn.ErrorCode(err) != code {
		t.Fatalf("error %v (code %q), want code %q", err, tarn.ErrorCode(err), code)
	}
	for _, m := range mentions {
		if !strings.Contains(err.Error(), m) {
			t.Fatalf("error %q does not mention %q", err, m)
		}
	}
}

func info(msg string) tarn.CommitInfo { return tarn.CommitInfo{Message: msg} }

func TestServer_Auth(t *testing.T) {
	ts, users := newFakeServer(t, nil)
	ctx := context.Background()
	code, eb := ts.raw("GET", "/v1/refs", "", "", nil)
	if code != 401 || !strings.Contains(eb.Error.Message, "needs a token") || eb.Error.Code != tarn.EUNAUTHORIZED {
		t.Fatalf("no token: %d %+v", code, eb)
	}
	_, err := ts.client("tarn_nottherighttoken").Refs.ListRefs(ctx, tarn.KindBranch)
	wantErr(t, err, tarn.EUNAUTHORIZED, "invalid token")
	// An expired token is refused with the date.
	users.expire("alice", time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC))
	_, err = ts.alice.Refs.ListRefs(ctx, tarn.KindBranch)
	wantErr(t, err, tarn.EUNAUTHORIZED, "expired", "2020-01-01")
	if _, err := ts.admin.Refs.ListRefs(ctx, tarn.KindBranch); err != nil {
		t.Fatal(err)
	}
	// The scheme is case-insensitive.
	req, _ := http.NewRequest("GET", ts.url+"/v1/whoami", nil)
	req.Header.Set("Authorization", "bearer "+ts.adminToken)
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 200 {
		t.Fatalf("lowercase bearer: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}
	// Health needs no token.
	if code, _ := ts.raw("GET", "/healthz", "", "", nil); code != 200 {
		t.Fatalf("healthz %d", code)
	}
	if code, _ := ts.raw("GET", "/readyz", "", "", nil); code != 200 {
		t.Fatalf("readyz %d", code)
	}
}

func TestServer_Permissions(t *testing.T) {
	ts, _ := newFakeServer(t, nil)
	ctx := context.Background()
	csv := ts.file("a.csv", "id,v\n1,2\n")
	admin, alice := ts.admin, ts.alice

	// Everyone reads; alice writes her own branches.
	if _, err := alice.Refs.CreateRef(ctx, tarn.KindBranch, "alice.dev", "main"); err != nil {
		t.Fatal(err)
	}
	res, err := alice.Tables.CreateTable(ctx, tarn.CreateTableRequest{Table: tarn.TableIdent{Namespace: "tarn", Name: "t"}, Branch: "alice.dev", From: []string{csv}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Commit.Author != "alice" || res.Commit.Message != "create table tarn.t from a.csv" {
		t.Fatalf("commit author %q message %q", res.Commit.Author, res.Commit.Message)
	}
	// main is protected: no direct writes, merges are fine.
	_, err = alice.Tables.CreateTable(ctx, tarn.CreateTableRequest{Table: tarn.TableIdent{Namespace: "tarn", Name: "t"}, Branch: "main", From: []string{csv}})
	wantErr(t, err, tarn.EFORBIDDEN, `"main" is protected`, "merge")
	_, err = alice.Tables.CreateNamespace(ctx, "main", "x", info(""))
	wantErr(t, err, tarn.EFORBIDDEN, "protected")
	if _, err := alice.Refs.Merge(ctx, tarn.MergeRequest{Source: "alice.dev", Into: "main"}); err != nil {
		t.Fatal(err)
	}
	// Someone else's branches are not hers.
	_, err = alice.Refs.CreateRef(ctx, tarn.KindBranch, "bob.x", "main")
	wantErr(t, err, tarn.EFORBIDDEN, "alice.*", `"bob.x"`)
	if _, err := admin.Refs.CreateRef(ctx, tarn.KindBranch, "bob.x", "main"); err != nil {
		t.Fatal(err)
	}
	_, err = alice.Refs.Merge(ctx, tarn.MergeRequest{Source: "main", Into: "bob.x"})
	wantErr(t, err, tarn.EFORBIDDEN, "alice.*")
	err = alice.Refs.DeleteRef(ctx, tarn.KindBranch, "bob.x")
	wantErr(t, err, tarn.EFORBIDDEN)
	_, err = alice.Refs.RenameBranch(ctx, "alice.dev", "dev")
	wantErr(t, err, tarn.EFORBIDDEN, `"dev"`)
	// Tags and users are for admins.
	_, err = alice.Refs.CreateRef(ctx, tarn.KindTag, "v1", "main")
	wantErr(t, err, tarn.EFORBIDDEN, "admins", "tags")
	if _, err := admin.Refs.CreateRef(ctx, tarn.KindTag, "v1", "main"); err != nil {
		t.Fatal(err)
	}
	_, err = alice.Refs.RenameTag(ctx, "v1", "alice.v1")
	wantErr(t, err, tarn.EFORBIDDEN, "admins", "rename")
	if r, err := admin.Refs.RenameTag(ctx, "v1", "v2"); err != nil || r.Kind != tarn.KindTag || r.Name != "v2" {
		t.Fatalf("admin renames a tag: %+v, %v", r, err)
	}
	_, _, err = alice.Users.AddUser(ctx, tarn.NewUser{Name: "mallory", Admin: true})
	wantErr(t, err, tarn.EFORBIDDEN, "admins")
	u, token, err := admin.Users.AddUser(ctx, tarn.NewUser{Name: "bob"})
	if err != nil || u.Admin || !strings.HasPrefix(token, "tarn_") {
		t.Fatalf("admin adds bob: %v %+v", err, u)
	}
	// Admins write anywhere, including main.
	if _, err := admin.Tables.DropTable(ctx, tarn.TableIdent{Namespace: "tarn", Name: "t"}, "main", info("")); err != nil {
		t.Fatal(err)
	}
	// Reads by anyone.
	if _, err := ts.client(token).Refs.Log(ctx, "main", 0); err != nil {
		t.Fatal(err)
	}
}

func TestServer_ProtectedConfigurable(t *testing.T) {
	ts, _ := newFakeServer(t, func(s *server.Server) { s.Protected = []string{"prod"} })
	ctx := context.Background()
	_, err := ts.alice.Tables.CreateNamespace(ctx, "main", "x", info(""))
	wantErr(t, err, tarn.EFORBIDDEN, "alice.*") // main is not protected but not hers either
	if _, err := ts.admin.Refs.CreateRef(ctx, tarn.KindBranch, "prod", "main"); err != nil {
		t.Fatal(err)
	}
	_, err = ts.alice.Tables.CreateNamespace(ctx, "prod", "x", info(""))
	wantErr(t, err, tarn.EFORBIDDEN, `"prod" is protected`)
}

func multipartBody(t *testing.T, request any, files map[string]string, fileField string) (string, *bytes.Buffer) {
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	if request != nil {
		part, _ := mw.CreateFormField("request")
		json.NewEncoder(part).Encode(request)
	}
	for name, content := range files {
		part, _ := mw.CreateFormFile(fileField, name)
		part.Write([]byte(content))
	}
	mw.Close()
	return mw.FormDataContentType(), &buf
}

func TestServer_BadInput(t *testing.T) {
	ts, _ := newFakeServer(t, func(s *server.Server) { s.MaxUpload = 64 << 10 })
	tok := ts.adminToken
	cases := []struct {
		name, method, path, ct string
		body                   io.Reader
		status                 int
		mentions               string
	}{
		{"MalformedJSON", "POST", "/v1/refs", "application/json", strings.NewReader(`{"kind":`), 400, "malformed JSON"},
		{"UnknownField", "POST", "/v1/refs", "application/json", strings.NewReader(`{"nme":"x"}`), 400, "unknown field"},
		{"TwoValues", "POST", "/v1/merge", "application/json", strings.NewReader(`{} {}`), 400, "more than one"},
		{"UnknownRoute", "GET", "/v1/nothing", "", nil, 404, `no route GET "/v1/nothing"`},
		{"WrongMethod", "PUT", "/v1/refs", "", nil, 405, "this path takes GET, POST"},
		{"TraversalTable", "GET", "/v1/tables/..%2F..%2Fetc", "", nil, 400, "invalid"},
		{"TraversalNamespace", "DELETE", "/v1/namespaces/..%2Fwarehouse?branch=main", "", nil, 400, "invalid namespace"},
		{"DotDotPath", "GET", "/v1/tables/../../users.json", "", nil, 404, "no route"},
		{"TraversalJob", "GET", "/v1/jobs/..%2F..%2Fusers.json", "", nil, 400, "does not match"},
		{"NotMultipart", "POST", "/v1/tables", "application/json", strings.NewReader(`{}`), 400, "multipart/form-data"},
		{"BadLimit", "GET", "/v1/log?ref=main&limit=lots", "", nil, 400, "limit: \"lots\" is not an integer"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, eb := ts.raw(tc.method, tc.path, tok, tc.ct, tc.body)
			if code != tc.status || !strings.Contains(eb.Error.Message, tc.mentions) {
				t.Fatalf("%s %s: %d %+v, want %d mentioning %q", tc.method, tc.path, code, eb, tc.status, tc.mentions)
			}
		})
	}
	req := tarn.CreateTableRequest{Table: tarn.TableIdent{Namespace: "tarn", Name: "t"}, Branch: "main"}
	t.Run("UploadTraversalName", func(t *testing.T) {
		ct, body := multipartBody(t, req, map[string]string{"..": "a\n1\n"}, "file")
		code, eb := ts.raw("POST", "/v1/tables", tok, ct, body)
		if code != 400 || !strings.Contains(eb.Error.Message, "invalid upload file name") {
			t.Fatalf("%d %+v", code, eb)
		}
	})
	t.Run("UploadTraversalTable", func(t *testing.T) {
		bad := req
		bad.Table.Name = "../x"
		ct, body := multipartBody(t, bad, map[string]string{"a.csv": "a\n1\n"}, "file")
		if code, eb := ts.raw("POST", "/v1/tables", tok, ct, body); code != 400 || !strings.Contains(eb.Error.Message, "invalid table name") {
			t.Fatalf("%d %+v", code, eb)
		}
	})
	t.Run("Oversize", func(t *testing.T) {
		ct, body := multipartBody(t, req, map[string]string{"big.csv": "a\n" + strings.Repeat("1\n", 100<<10)}, "file")
		code, eb := ts.raw("POST", "/v1/tables", tok, ct, body)
		if code != 413 || !strings.Contains(eb.Error.Message, "larger than the server's limit of 64.0 KiB") {
			t.Fatalf("%d %+v", code, eb)
		}
	})
	for _, tc := range []struct {
		name, entry string
		data        []byte
		mentions    string
	}{
		{"ProjectTraversal", "../../evil.py", []byte("x"), "outside the project"},
		// 1 MiB that packs into about 1 KiB: over 4 × 64 KiB unpacked.
		{"ProjectBomb", "zeros.bin", make([]byte, 1<<20), "expands to more than"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var tgz bytes.Buffer
			gz := gzip.NewWriter(&tgz)
			tw := tar.NewWriter(gz)
			tw.WriteHeader(&tar.Header{Name: tc.entry, Mode: 0o644, Size: int64(len(tc.data)), Typeflag: tar.TypeReg})
			tw.Write(tc.data)
			tw.Close()
			gz.Close()
			ct, body := multipartBody(t, tarn.RunRequest{Ref: "main"}, map[string]string{"project.tar.gz": tgz.String()}, "project")
			if code, eb := ts.raw("POST", "/v1/runs", tok, ct, body); code != 400 || !strings.Contains(eb.Error.Message, tc.mentions) {
				t.Fatalf("%d %+v", code, eb)
			}
		})
	}
	// Nothing above wrote a commit.
	log, err := ts.admin.Refs.Log(context.Background(), "main", 0)
	if err != nil || len(log) != 1 {
		t.Fatalf("bad input wrote commits: %v %d", err, len(log))
	}
}

func TestServer_QueryStream(t *testing.T) {
	ts := newTestServer(t, nil)
	ctx := context.Background()
	res, err := ts.admin.Query.Query(ctx, tarn.QueryRequest{SQL: "select range as i, range % 7 as m from range(3000000)", Ref: "main"})
	if err != nil {
		t.Fatal(err)
	}
	var rows int64
	for res.Records.Next() {
		rows += res.Records.RecordBatch().NumRows()
	}
	if err := res.Records.Err(); err != nil || rows != 3000000 || len(res.Columns) != 2 || res.Commit == nil {
		t.Fatalf("rows %d err %v columns %v", rows, err, res.Columns)
	}
	res.Close()

	// A client that goes away mid-stream: the server stops the query and
	// keeps serving.
	qctx, cancel := context.WithCancel(ctx)
	res, err = ts.admin.Query.Query(qctx, tarn.QueryRequest{SQL: "select range as i from range(20000000)", Ref: "main"})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Records.Next() {
		t.Fatalf("no first batch: %v", res.Records.Err())
	}
	cancel()
	res.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		jobs, err := ts.admin.Jobs.ListJobs(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if jobs[0].Done() {
			if jobs[0].Kind != "query" || jobs[0].State != tarn.JobCancelled || jobs[0].Error.Code != tarn.ECANCELLED {
				t.Fatalf("newest job %+v %+v", jobs[0], jobs[0].Error)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the abandoned query is still running: %+v", jobs[0])
		}
		time.Sleep(50 * time.Millisecond)
	}
	if _, err := ts.admin.Refs.Resolve(ctx, "main"); err != nil {
		t.Fatal(err)
	}
	// An error the engine reports before the first row keeps its code.
	_, err = ts.admin.Query.Query(ctx, tarn.QueryRequest{SQL: "select * from nosuch", Ref: "main"})
	wantErr(t, err, tarn.ENOTFOUND, `"nosuch"`)
}

// brokenQuery yields one batch, then fails.
type brokenQuery struct{ tarn.QueryService }

type brokenReader struct {
	array.RecordReader
	n int
}

func (r *brokenReader) Next() bool { r.n++; return r.n == 1 && r.RecordReader.Next() }
func (r *brokenReader) Err() error {
	if r.n > 1 {
		return tarn.Errorf(tarn.EINVALID, "conversion failed at row 7")
	}
	return nil
}

func (brokenQuery) Query(ctx context.Context, req tarn.QueryRequest) (*tarn.QueryResult, error) {
	bld := array.NewInt64Builder(memory.DefaultAllocator)
	bld.AppendValues([]int64{1, 2, 3}, nil)
	col := bld.NewArray()
	schema := arrow.NewSchema([]arrow.Field{{Name: "x", Type: arrow.PrimitiveTypes.Int64}}, nil)
	rec := array.NewRecordBatch(schema, []arrow.Array{col}, 3)
	rdr, _ := array.NewRecordReader(schema, []arrow.RecordBatch{rec, rec})
	return &tarn.QueryResult{QueryInfo: tarn.QueryInfo{Commit: &tarn.Commit{}}, Schema: schema, Records: &brokenReader{RecordReader: rdr}}, nil
}

// TestServer_QueryBrokenMidStream: an error after the first batch reaches
// the client with its code, never as a short but clean result.
func TestServer_QueryBrokenMidStream(t *testing.T) {
	ts := newTestServer(t, nil)
	ts.srv.Services.Query = brokenQuery{}
	res, err := ts.admin.Query.Query(context.Background(), tarn.QueryRequest{SQL: "x", Ref: "main"})
	if err != nil {
		t.Fatal(err)
	}
	defer res.Close()
	for res.Records.Next() {
	}
	wantErr(t, res.Records.Err(), tarn.EINVALID, "conversion failed at row 7")
}

// TestServer_RefusedUploadEarly: a refused write is refused after the
// request part, and the client still reads the 403 of a large upload.
func TestServer_RefusedUploadEarly(t *testing.T) {
	ts := newTestServer(t, nil)
	big := ts.file("big.csv", "id,v\n"+strings.Repeat("1,2\n", 2<<20))
	_, err := ts.alice.Tables.CreateTable(context.Background(), tarn.CreateTableRequest{Table: tarn.TableIdent{Namespace: "tarn", Name: "t"}, Branch: "main", From: []string{big}})
	wantErr(t, err, tarn.EFORBIDDEN, "protected")
	entries, _ := os.ReadDir(filepath.Join(ts.home, "uploads"))
	if len(entries) != 0 {
		t.Fatalf("a refused upload left %d folder(s)", len(entries))
	}
}

// TestServer_DefaultRef: reads without ?ref= read main.
func TestServer_DefaultRef(t *testing.T) {
	ts := newTestServer(t, nil)
	for _, path := range []string{"/v1/tables", "/v1/namespaces", "/v1/log", "/v1/resolve"} {
		if code, eb := ts.raw("GET", path, ts.adminToken, "", nil); code != 200 {
			t.Errorf("GET %s without ref: %d %s", path, code, eb.Error.Message)
		}
	}
}

// TestServer_BodyCaps: the body cap is the route's, not the
// Content-Type's, and no message echoes a long input whole.
func TestServer_BodyCaps(t *testing.T) {
	ts := newTestServer(t, func(s *server.Server) { s.MaxUpload = 64 << 20 })
	tok := ts.adminToken
	big := strings.Repeat("x", 5<<20)
	longName := strings.Repeat("b", 3<<20)
	okRequest := tarn.CreateTableRequest{Table: tarn.TableIdent{Namespace: "tarn", Name: "t"}, Branch: "main"}
	bigRequest := okRequest
	bigRequest.Info.Message = big
	ctBig, bodyBig := multipartBody(t, bigRequest, map[string]string{"a.csv": "a\n1\n"}, "file")
	cases := []struct {
		name, method, path, ct string
		body                   io.Reader
		status                 int
		mentions               string
	}{
		{"MultipartHeaderOnJSONRoute", "POST", "/v1/query", "multipart/form-data; boundary=x", strings.NewReader(`{"sql":"` + big + `","ref":"main"}`), 413, "limit of 4.0 MiB for JSON requests"},
		{"LargeJSON", "POST", "/v1/merge", "application/json", strings.NewReader(`{"source":"` + big + `"}`), 413, "limit of 4.0 MiB"},
		{"LongBranchName", "POST", "/v1/refs", "application/json", strings.NewReader(`{"kind":"branch","name":"` + longName + `","from":"main"}`), 400, "bbbb"},
		{"LongRef", "GET", "/v1/log?ref=" + strings.Repeat("c", 60000), "", nil, 400, "longer than 256 characters"},
		{"LongPath", "GET", "/v1/nothing/" + strings.Repeat("d", 60000), "", nil, 404, "no route"},
		{"LargeRequestPart", "POST", "/v1/tables", ctBig, bodyBig, 400, `"request" part is larger than the server's limit of 4.0 MiB`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, eb := ts.raw(tc.method, tc.path, tok, tc.ct, tc.body)
			if code != tc.status || !strings.Contains(eb.Error.Message, tc.mentions) {
				t.Fatalf("%d %.300s, want %d mentioning %q", code, eb.Error.Message, tc.status, tc.mentions)
			}
			if len(eb.Error.Message) > 1000 {
				t.Fatalf("the message echoes its input: %d bytes: %.300s…", len(eb.Error.Message), eb.Error.Message)
			}
		})
	}
}

// TestServer_SQLConfined: SQL on a server reads the warehouse only, not
// another user's upload (a queued run's project), another job's export,
// the users file or the catalog; an export's SQL neither.
func TestServer_SQLConfined(t *testing.T) {
	ts := newTestServer(t, nil)
	ctx := context.Background()
	for name, content := range map[string]string{
		"uploads/up-123/project/secrets.env":     "TOKEN=bobs\n",
		"exports/j20260101-000000-abcdef/result": "bob's export\n",
	} {
		p := filepath.Join(ts.home, name)
		os.MkdirAll(filepath.Dir(p), 0o700)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	for _, path := range []string{
		"uploads/*/project/secrets.env",
		"uploads/up-123/project/secrets.env",
		"exports/*/result",
		"users.json",
		"catalog.db",
		"*",
	} {
		sql := "select * from read_text('" + filepath.Join(ts.home, path) + "')"
		_, err := ts.alice.Query.Query(ctx, tarn.QueryRequest{SQL: sql, Ref: "main"})
		if err == nil || !strings.Contains(err.Error(), "disabled by configuration") {
			t.Errorf("query reads %s: %v", path, err)
		}
		_, err = ts.alice.Query.CopyTo(ctx, tarn.QueryRequest{SQL: sql, Ref: "main"}, "csv", filepath.Join(ts.dir, "out.csv"))
		if err == nil || !strings.Contains(err.Error(), "disabled by configuration") {
			t.Errorf("export reads %s: %v", path, err)
		}
	}
	// An export still works, and leaves nothing behind.
	if _, err := ts.alice.Query.CopyTo(ctx, tarn.QueryRequest{SQL: "select 1 as one", Ref: "main"}, "parquet", filepath.Join(ts.dir, "out.parquet")); err != nil {
		t.Fatal(err)
	}
	if entries, _ := os.ReadDir(filepath.Join(ts.home, "exports")); len(entries) != 1 {
		t.Fatalf("exports left: %v", entries)
	}
}

// TestServer_WideQuery: a 5,000-column result works; its description
// travels in the stream (the Arrow schema's metadata), not in a header
// that grows with the columns.
func TestServer_WideQuery(t *testing.T) {
	cols := make([]string, 5000)
	for i := range cols {
		cols[i] = fmt.Sprintf("%d as column_%04d", i, i)
	}
	sql := "select " + strings.Join(cols, ", ")
	for _, tc := range []struct {
		name   string
		limits query.Limits
	}{{"Direct", query.Limits{}}, {"Stored", query.Limits{Memory: 256 << 20}}} {
		t.Run(tc.name, func(t *testing.T) {
			ts := newTestServerWith(t, func(c *local.Config) { c.QueryLimits = tc.limits }, nil)
			res, err := ts.alice.Query.Query(context.Background(), tarn.QueryRequest{SQL: sql, Ref: "main"})
			if err != nil {
				t.Fatal(err)
			}
			defer res.Close()
			if len(res.Columns) != 5000 || res.Columns[4999].Name != "column_4999" || res.Schema.NumFields() != 5000 || res.Commit == nil {
				t.Fatalf("%d columns, %d fields, commit %v", len(res.Columns), res.Schema.NumFields(), res.Commit)
			}
			if !res.Records.Next() || res.Records.RecordBatch().NumCols() != 5000 {
				t.Fatalf("no batch of 5000 columns: %v", res.Records.Err())
			}
			if res.Schema.HasMetadata() || res.Records.RecordBatch().Schema().HasMetadata() {
				t.Fatal("the result's schema keeps the query's description")
			}
			// The response's headers stay small.
			req, _ := http.NewRequest("POST", ts.url+"/v1/query", strings.NewReader(`{"sql":"`+sql+`","ref":"main"}`))
			req.Header.Set("Authorization", "Bearer "+ts.aliceToken)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var size int
			for k, vs := range resp.Header {
				for _, v := range vs {
					size += len(k) + len(v)
				}
			}
			if resp.StatusCode != 200 || size > 1024 {
				t.Fatalf("status %d, %d bytes of headers", resp.StatusCode, size)
			}
		})
	}
}

// tgz packs entries (a name ending in / is a folder) as tar.gz.
func tgz(t *testing.T, entries ...string) string {
	t.Helper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for _, name := range entries {
		h := &tar.Header{Name: name, Mode: 0o644, Typeflag: tar.TypeReg}
		if strings.HasSuffix(name, "/") {
			h.Typeflag, h.Mode = tar.TypeDir, 0o755
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
	}
	tw.Close()
	gz.Close()
	return buf.String()
}

// TestServer_ProjectArchives: a project archive is refused at upload,
// with a 400 that names the problem and no server path, when it has too
// many entries, folders too deep, a file and a folder at one path, or
// no tarn_project.yml.
func TestServer_ProjectArchives(t *testing.T) {
	ts := newTestServer(t, func(s *server.Server) { s.MaxProjectFiles = 100 })
	many := []string{"tarn_project.yml"}
	for i := 0; i < 150; i++ {
		many = append(many, fmt.Sprintf("m%d.py", i))
	}
	deep := strings.Repeat("d/", 40) + "model.py"
	cases := []struct {
		name     string
		entries  []string
		mentions string
	}{
		{"TooMany", many, "more than 100 files and folders"},
		{"TooDeep", []string{"tarn_project.yml", deep}, "more than 32 deep"},
		{"TooDeepFolders", []string{"tarn_project.yml", strings.Repeat("d/", 1500)}, "more than 32 deep"},
		{"PathUnderFile", []string{"tarn_project.yml", "a", "a/b.py"}, `"a/b.py", but its path is taken`},
		{"FolderOverFile", []string{"tarn_project.yml", "a", "a/"}, `"a/", but its path is taken`},
		{"FileOverFolder", []string{"tarn_project.yml", "a/", "a"}, `"a", but its path is taken`},
		{"NoProjectFile", []string{"models/m.py"}, "no tarn_project.yml at its root"},
		{"ProjectFileIsAFolder", []string{"tarn_project.yml/"}, "no tarn_project.yml at its root"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ct, body := multipartBody(t, tarn.RunRequest{Ref: "main"}, map[string]string{"project.tar.gz": tgz(t, tc.entries...)}, "project")
			code, eb := ts.raw("POST", "/v1/runs", ts.adminToken, ct, body)
			if code != 400 || !strings.Contains(eb.Error.Message, tc.mentions) {
				t.Fatalf("%d %+v, want 400 mentioning %q", code, eb, tc.mentions)
			}
			if strings.Contains(eb.Error.Message, ts.home) {
				t.Fatalf("the message shows the server's home: %s", eb.Error.Message)
			}
		})
	}
	if jobs, _ := ts.admin.Jobs.ListJobs(context.Background()); len(jobs) != 0 {
		t.Fatalf("a refused project started %d job(s)", len(jobs))
	}
}

// TestServer_ImportFiles: an import takes at most --max-import-files
// uploaded files (20,000 tiny CSV parts took 8.5 GB of a server); the
// part past the limit is refused with a 400 that names the limit and the
// flag, nothing is imported and no upload is left.
func TestServer_ImportFiles(t *testing.T) {
	csvs := func(n int) map[string]string {
		files := map[string]string{}
		for i := range n {
			files[fmt.Sprintf("f%d.csv", i)] = "a\n1\n"
		}
		return files
	}
	create := tarn.CreateTableRequest{Table: tarn.TableIdent{Namespace: "tarn", Name: "t"}, Branch: "main"}
	importInto := tarn.ImportRequest{Table: create.Table, Branch: "main"}
	ts, _ := newFakeServer(t, func(s *server.Server) { s.MaxImportFiles = 3 })
	for _, tc := range []struct {
		name, path string
		request    any
		files      int
		status     int
	}{
		{"CreateAtTheLimit", "/v1/tables", create, 3, 201},
		{"CreateOverTheLimit", "/v1/tables", create, 4, 400},
		{"ImportAtTheLimit", "/v1/tables/tarn.t/import", importInto, 3, 200},
		{"ImportOverTheLimit", "/v1/tables/tarn.t/import", importInto, 50, 400},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before, err := ts.admin.Refs.Resolve(context.Background(), "main")
			if err != nil {
				t.Fatal(err)
			}
			ct, body := multipartBody(t, tc.request, csvs(tc.files), "file")
			code, eb := ts.raw("POST", tc.path, ts.adminToken, ct, body)
			if code != tc.status {
				t.Fatalf("%d files: %d %+v, want %d", tc.files, code, eb, tc.status)
			}
			if tc.status != 400 {
				return
			}
			want := "the import has more than 3 files, the server's limit (tarn serve --max-import-files): "
			if !strings.Contains(eb.Error.Message, want) {
				t.Fatalf("%q, want it to say %q", eb.Error.Message, want)
			}
			if after, _ := ts.admin.Refs.Resolve(context.Background(), "main"); after.Hash != before.Hash {
				t.Fatal("a refused import committed")
			}
			if left, _ := os.ReadDir(filepath.Join(ts.home, "uploads")); len(left) != 0 {
				t.Fatalf("a refused import left %d upload(s)", len(left))
			}
		})
	}
	t.Run("Default", func(t *testing.T) {
		ts, _ := newFakeServer(t, nil)
		ct, body := multipartBody(t, create, csvs(server.DefaultMaxImportFiles+1), "file")
		code, eb := ts.raw("POST", "/v1/tables", ts.adminToken, ct, body)
		if code != 400 || !strings.Contains(eb.Error.Message, "more than 1000 files") {
			t.Fatalf("%d %+v, want 400 naming the default limit", code, eb)
		}
	})
}

// TestServer_Params: the server refuses what the API document refuses:
// empty and malformed query parameters, unknown and null fields, methods
// a path does not take (405 with Allow).
func TestServer_Params(t *testing.T) {
	ts := newTestServer(t, nil)
	tok := ts.adminToken
	cases := []struct {
		name, method, path, body string
		status                   int
		mentions                 string
	}{
		{"EmptyKind", "GET", "/v1/refs?kind=", "", 400, `kind: "" is not one of branch, tag`},
		{"BadKind", "GET", "/v1/refs?kind=tags", "", 400, "not one of branch, tag"},
		{"EmptyLimit", "GET", "/v1/log?limit=", "", 400, `limit: "" is not an integer`},
		{"NegativeLimit", "GET", "/v1/log?limit=-1", "", 400, "out of range"},
		{"FractionLimit", "GET", "/v1/log?limit=1.5", "", 400, "not an integer"},
		{"TwoLimits", "GET", "/v1/log?limit=1&limit=2", "", 400, "given 2 times"},
		{"EmptyRef", "GET", "/v1/tables?ref=", "", 400, "ref is empty"},
		{"BadRefTime", "GET", "/v1/log?ref=main@{soon}", "", 400, "RFC3339"},
		{"BadBool", "GET", "/v1/resolve?branch=yes", "", 400, `"yes" is not true or false`},
		{"OneIsNotTrue", "POST", "/v1/runs?detach=1", "", 400, "not true or false"},
		{"MissingRequired", "GET", "/v1/diff?from=main", "", 400, "query parameter to is required"},
		{"BadNamespaceParam", "GET", "/v1/tables?namespace=a-b", "", 400, "invalid namespace"},
		{"BadJobID", "GET", "/v1/jobs/x", "", 400, "path parameter id"},
		{"UnknownField", "POST", "/v1/merge", `{"source":"main","into":"main","fast":true}`, 400, `unknown field "fast"`},
		{"NullField", "POST", "/v1/verify", `{"history":null}`, 400, "field history is null"},
		{"WrongType", "POST", "/v1/refs", `{"name":1,"from":"main"}`, 400, "field name: 1 is not a string"},
		{"NestedUnknown", "POST", "/v1/merge", `{"source":"main","into":"main","info":{"mesage":"x"}}`, 400, `field info: unknown field "mesage"`},
		{"EmptyBody", "POST", "/v1/verify", "", 400, "body is empty"},
		{"ReservedName", "POST", "/v1/refs", `{"name":"HEAD","from":"main"}`, 400, "reserved"},
		{"Put", "PUT", "/v1/refs", "", 405, "takes GET, POST"},
		{"DeleteWhoami", "DELETE", "/v1/whoami", "", 405, "takes GET"},
		{"PatchRef", "PATCH", "/v1/refs/main", "", 405, "takes GET, DELETE"},
		{"Unclean", "GET", "/v1//refs", "", 404, "no route"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var body io.Reader
			ct := ""
			if tc.body != "" {
				body, ct = strings.NewReader(tc.body), "application/json"
			}
			code, eb := ts.raw(tc.method, tc.path, tok, ct, body)
			if code != tc.status || !strings.Contains(eb.Error.Message, tc.mentions) {
				t.Fatalf("%d %q, want %d mentioning %q", code, eb.Error.Message, tc.status, tc.mentions)
			}
		})
	}
	req, _ := http.NewRequest("PUT", ts.url+"/v1/refs/main", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 405 || resp.Header.Get("Allow") != "GET, DELETE" {
		t.Fatalf("PUT /v1/refs/main: %d, Allow %q", resp.StatusCode, resp.Header.Get("Allow"))
	}
}
