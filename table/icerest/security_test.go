package icerest_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	icetable "github.com/apache/iceberg-go/table"
	"github.com/tarnhq/tarn"
	"github.com/tarnhq/tarn/server"
)

// callURL sends one request and returns its status and, for an error in
// the Iceberg format (whose code must be the status), "Type: message";
// otherwise the body.
func callURL(t *testing.T, method, url, token, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	rsp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer rsp.Body.Close()
	data, _ := io.ReadAll(rsp.Body)
	var e struct {
		Error struct {
			Message string
			Type    string
			Code    int
		}
	}
	if json.Unmarshal(data, &e) == nil && e.Error.Type != "" {
		if e.Error.Code != rsp.StatusCode {
			t.Errorf("%s %s: error code %d in a %d response", method, url, e.Error.Code, rsp.StatusCode)
		}
		return rsp.StatusCode, e.Error.Type + ": " + e.Error.Message
	}
	return rsp.StatusCode, string(data)
}

// TestServe_IcebergAuth: without a valid token tarn serve refuses every
// catalog route with 401 in the Iceberg error format, before the catalog
// reads anything.
func TestServe_IcebergAuth(t *testing.T) {
	ctx := context.Background()
	s := serve(t)
	_, expired, err := s.lake.Users().AddUser(ctx, tarn.NewUser{Name: "carol", ValidFor: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(10 * time.Millisecond)
	routes := []struct{ method, path, body string }{
		{"GET", "/v1/config?warehouse=main", ""},
		{"GET", "/v1/main/namespaces", ""},
		{"POST", "/v1/main/namespaces", `{"namespace":["x"]}`},
		{"GET", "/v1/main/namespaces/sales/tables/orders", ""},
		{"POST", "/v1/main/namespaces/sales/tables/orders", `{"requirements":[],"updates":[]}`},
		{"POST", "/v1/main/transactions/commit", `{"table-changes":[]}`},
		{"GET", "/v1/main/views", ""}, // not a route: still 401 first
	}
	for _, tok := range []struct{ name, token, want string }{
		{"no token", "", "this server needs a token"},
		{"bad token", "tarn_nope", "invalid token"},
		{"expired token", expired, `the token of user "carol" expired`},
	} {
		for _, r := range routes {
			status, msg := callURL(t, r.method, s.url+r.path, tok.token, r.body)
			if status != http.StatusUnauthorized || !strings.HasPrefix(msg, "NotAuthorizedException: ") || !strings.Contains(msg, tok.want) {
				t.Errorf("%s, %s %s: %d %s\nwant 401 NotAuthorizedException with %q", tok.name, r.method, r.path, status, msg, tok.want)
			}
		}
	}
	if log, err := s.lake.Services().Refs.Log(ctx, "main", 10); err != nil || len(log) != 1 {
		t.Fatalf("main after refused writes: %d commits, %v", len(log), err)
	}
}

// TestServe_IcebergMatchesAPI: a token may write through /iceberg exactly
// where it may through /v1, and is refused with the same message: users
// write their own branches, protected branches (even one named like a
// user's) only change by merge, admins write anywhere.
func TestServe_IcebergMatchesAPI(t *testing.T) {
	ctx := context.Background()
	s := serve(t, func(srv *server.Server) { srv.Protected = []string{"main", "alice.prod"} })
	_, bob, err := s.lake.Users().AddUser(ctx, tarn.NewUser{Name: "bob"})
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range []string{"alice.prod", "bob.dev"} {
		if _, err := s.lake.Services().Refs.CreateRef(ctx, tarn.KindBranch, b, "main"); err != nil {
			t.Fatal(err)
		}
	}
	n := 0
	for _, tc := range []struct {
		user, token, branch string
		allowed             bool
	}{
		{"admin", s.admin, "main", true},
		{"admin", s.admin, "alice.prod", true},
		{"admin", s.admin, "bob.dev", true},
		{"alice", s.alice, "main", false},
		{"alice", s.alice, "alice.prod", false},
		{"alice", s.alice, "alice.dev", true},
		{"alice", s.alice, "bob.dev", false},
		{"bob", bob, "bob.dev", true},
		{"bob", bob, "alice.dev", false},
	} {
		n++
		v1Status, v1Msg := s.v1(t, "POST", "/v1/namespaces", tc.token, fmt.Sprintf(`{"namespace":"v1_%d","branch":%q}`, n, tc.branch))
		iceStatus, iceMsg := callURL(t, "POST", s.url+"/v1/"+tc.branch+"/namespaces", tc.token, fmt.Sprintf(`{"namespace":["ice_%d"]}`, n))
		if tc.allowed {
			if v1Status != http.StatusCreated || iceStatus != http.StatusOK {
				t.Errorf("%s writing %s: /v1 %d %s, /iceberg %d %s; want both to succeed", tc.user, tc.branch, v1Status, v1Msg, iceStatus, iceMsg)
			}
			continue
		}
		if v1Status != http.StatusForbidden || iceStatus != http.StatusForbidden || iceMsg != "ForbiddenException: "+v1Msg {
			t.Errorf("%s writing %s: /v1 %d %s, /iceberg %d %s; want the same 403", tc.user, tc.branch, v1Status, v1Msg, iceStatus, iceMsg)
		}
	}
}

// v1 sends a request to the server's own API and returns its status and
// error message (or body).
func (s *served) v1(t *testing.T, method, path, token, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, s.api+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	rsp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer rsp.Body.Close()
	data, _ := io.ReadAll(rsp.Body)
	var e struct{ Error struct{ Message string } }
	if json.Unmarshal(data, &e) == nil && e.Error.Message != "" {
		return rsp.StatusCode, e.Error.Message
	}
	return rsp.StatusCode, string(data)
}

// TestServe_IcebergWriteRoutes: every route that writes is refused on a
// branch the caller may not write, and changes nothing; the same requests
// on the caller's own branch succeed (so the refusals are not bad bodies).
func TestServe_IcebergWriteRoutes(t *testing.T) {
	ctx := context.Background()
	s := serve(t, func(srv *server.Server) { srv.Protected = []string{"main", "alice.prod"} })
	admin := s.connect(t, "main", "admin", s.admin)
	if err := admin.CreateNamespace(ctx, icetable.Identifier{"sales"}, nil); err != nil {
		t.Fatal(err)
	}
	orders, err := admin.CreateTable(ctx, icetable.Identifier{"sales", "orders"}, testSchema)
	if err != nil {
		t.Fatal(err)
	}
	refs := s.lake.Services().Refs
	for _, b := range []string{"alice.work", "alice.prod", "bob.dev"} {
		if _, err := refs.CreateRef(ctx, tarn.KindBranch, b, "main"); err != nil {
			t.Fatal(err)
		}
	}
	const schema = `{"type":"struct","schema-id":0,"fields":[{"id":1,"name":"a","type":"int","required":false}]}`
	setProps := `{"action":"set-properties","updates":{"k":"v"}}`
	routes := []struct {
		name, method, path, body string
		own                      int // the status on alice's own branch
	}{
		{"create namespace", "POST", "/namespaces", `{"namespace":["x"]}`, 200},
		{"update properties", "POST", "/namespaces/sales/properties", `{"updates":{"a":"1"}}`, 200},
		{"drop namespace", "DELETE", "/namespaces/x", "", 204},
		{"create table", "POST", "/namespaces/sales/tables", `{"name":"t","schema":` + schema + `}`, 200},
		{"staged create", "POST", "/namespaces/sales/tables", `{"name":"t2","stage-create":true,"schema":` + schema + `}`, 200},
		{"commit", "POST", "/namespaces/sales/tables/orders", `{"requirements":[],"updates":[` + setProps + `]}`, 200},
		{"transaction", "POST", "/transactions/commit",
			`{"table-changes":[{"identifier":{"namespace":["sales"],"name":"orders"},"requirements":[],"updates":[` + setProps + `]}]}`, 204},
		{"register", "POST", "/namespaces/sales/register", `{"name":"r","metadata-location":"` + orders.MetadataLocation() + `"}`, 200},
		{"rename", "POST", "/tables/rename",
			`{"source":{"namespace":["sales"],"name":"orders"},"destination":{"namespace":["sales"],"name":"o2"}}`, 204},
		{"drop table", "DELETE", "/namespaces/sales/tables/o2?purgeRequested=true", "", 204},
	}
	heads := map[string]string{}
	for _, b := range []string{"main", "alice.prod", "bob.dev"} {
		c, err := refs.Resolve(ctx, b)
		if err != nil {
			t.Fatal(err)
		}
		heads[b] = c.Hash
		for _, r := range routes {
			status, msg := callURL(t, r.method, s.url+"/v1/"+b+r.path, s.alice, r.body)
			if status != http.StatusForbidden || !strings.HasPrefix(msg, "ForbiddenException: ") {
				t.Errorf("alice, %s on %s: %d %s; want 403", r.name, b, status, msg)
			}
		}
	}
	for b, head := range heads {
		if c, err := refs.Resolve(ctx, b); err != nil || c.Hash != head {
			t.Errorf("%s moved under refused writes: %v", b, err)
		}
	}
	for _, r := range routes {
		if status, msg := callURL(t, r.method, s.url+"/v1/alice.work"+r.path, s.alice, r.body); status != r.own {
			t.Errorf("alice, %s on alice.work: %d %s; want %d", r.name, status, msg, r.own)
		}
	}
	log, err := refs.Log(ctx, "alice.work", 20)
	if err != nil {
		t.Fatal(err)
	}
	writes := 0
	for _, c := range log {
		if c.Author == "alice" {
			writes++
		}
	}
	if writes != len(routes)-1 { // a staged create commits nothing
		t.Fatalf("alice's commits on alice.work: %d, want %d", writes, len(routes)-1)
	}
}

// TestServe_IcebergPrefixes: the config endpoint gives each warehouse its
// prefix (a branch or tag by name, "/" as "~"; any other ref as its
// commit's hash), and the routes under a prefix read that ref.
func TestServe_IcebergPrefixes(t *testing.T) {
	ctx := context.Background()
	s := serve(t)
	admin := s.connect(t, "main", "admin", s.admin)
	for _, ns := range []string{"first", "second"} {
		if err := admin.CreateNamespace(ctx, icetable.Identifier{ns}, nil); err != nil {
			t.Fatal(err)
		}
	}
	refs := s.lake.Services().Refs
	parent, err := refs.Resolve(ctx, "main~1")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := refs.CreateRef(ctx, tarn.KindTag, "release/1", "main~1"); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		warehouse, prefix string
		second            bool // whether the ref has the namespace "second"
	}{
		{"", "main", true},
		{"main", "main", true},
		{"alice.dev", "alice.dev", false},
		{"release/1", "release~1", false},
		{"main~1", parent.Hash, false},
		{parent.Hash[:12], parent.Hash, false},
	} {
		status, body := callURL(t, "GET", s.url+"/v1/config?warehouse="+tc.warehouse, s.alice, "")
		var cfg struct{ Overrides map[string]string }
		if status != http.StatusOK || json.Unmarshal([]byte(body), &cfg) != nil || cfg.Overrides["prefix"] != tc.prefix {
			t.Errorf("config of warehouse %q: %d %s; want prefix %s", tc.warehouse, status, body, tc.prefix)
			continue
		}
		status, body = callURL(t, "GET", s.url+"/v1/"+tc.prefix+"/namespaces", s.alice, "")
		if status != http.StatusOK || strings.Contains(body, `"second"`) != tc.second {
			t.Errorf("namespaces under %s: %d %s; want second: %v", tc.prefix, status, body, tc.second)
		}
	}
}
