package server_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/tarnhq/tarn"
	"github.com/tarnhq/tarn/server"
)

// fakeIceberg stands for table/icerest: it answers what the server handed
// it (the path without /iceberg, the caller, the rules for a branch).
type fakeIceberg struct{}

func (fakeIceberg) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c := tarn.CallerFromContext(r.Context())
	if c == nil {
		http.Error(w, "no caller", http.StatusTeapot)
		return
	}
	verdict := "ok"
	if err := c.CanWrite(r.URL.Query().Get("branch")); err != nil {
		verdict = tarn.ErrorCode(err) + ": " + err.Error()
	}
	fmt.Fprintf(w, "%s %s %s", r.URL.Path, c.User().Name, verdict)
}

func (fakeIceberg) WriteError(w http.ResponseWriter, err error) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusUnauthorized)
	json.NewEncoder(w).Encode(map[string]any{"error": map[string]any{"message": err.Error(), "type": "Fake" + tarn.ErrorCode(err), "code": 401}})
}

func send(t *testing.T, req *http.Request) (int, string) {
	t.Helper()
	rsp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer rsp.Body.Close()
	b, _ := io.ReadAll(rsp.Body)
	return rsp.StatusCode, strings.TrimSpace(string(b))
}

// TestServer_IcebergMount: /iceberg requests are authenticated like /v1
// ones and reach the front end with the caller and the server's rules;
// refusals use the front end's error format.
func TestServer_IcebergMount(t *testing.T) {
	ts, _ := newFakeServer(t, func(s *server.Server) { s.Iceberg = fakeIceberg{} })
	get := func(path, token string) (int, string) {
		req, _ := http.NewRequest("GET", ts.url+path, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		return send(t, req)
	}
	for _, tc := range []struct {
		name, path, token string
		status            int
		want              string
	}{
		{"no token", "/iceberg/v1/config", "", 401, `"type":"Fakeunauthorized"`},
		{"bad token", "/iceberg/v1/config", "tarn_nope", 401, "invalid token"},
		{"own branch", "/iceberg/v1/config?branch=alice.dev", ts.aliceToken, 200, "/v1/config alice ok"},
		{"protected branch", "/iceberg/v1/p/namespaces?branch=main", ts.aliceToken, 200, "/v1/p/namespaces alice forbidden: branch \"main\" is protected"},
		{"another user's branch", "/iceberg/v1/x?branch=bob.dev", ts.aliceToken, 200, `alice forbidden: user "alice" may write only to branches named alice.*`},
		{"admin", "/iceberg/v1/x?branch=main", ts.adminToken, 200, "/v1/x root ok"},
		{"dot segments", "/iceberg/../v1/users", ts.adminToken, 401, `"type":"Fakenot_found"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, body := get(tc.path, tc.token)
			if status != tc.status || !strings.Contains(body, tc.want) {
				t.Errorf("GET %s: %d %s\nwant %d with %q", tc.path, status, body, tc.status, tc.want)
			}
		})
	}
	// Without a front end, /iceberg is a path the API does not have.
	plain, _ := newFakeServer(t, nil)
	if status, eb := plain.raw("GET", "/iceberg/v1/config", plain.aliceToken, "", nil); status != 404 || eb.Error.Code != tarn.ENOTFOUND {
		t.Fatalf("/iceberg without a front end: %d %+v", status, eb)
	}
}

// TestServer_IcebergOAuth: the OAuth2 token route exchanges a user's
// name and token (in the form or as Basic credentials) for a bearer token.
func TestServer_IcebergOAuth(t *testing.T) {
	ts, _ := newFakeServer(t, func(s *server.Server) { s.Iceberg = fakeIceberg{} })
	post := func(form url.Values, basic []string) (int, map[string]any) {
		req, _ := http.NewRequest("POST", ts.url+"/iceberg/v1/oauth/tokens", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if basic != nil {
			req.SetBasicAuth(basic[0], basic[1])
		}
		status, body := send(t, req)
		var m map[string]any
		if err := json.Unmarshal([]byte(body), &m); err != nil {
			t.Fatalf("token response %q: %v", body, err)
		}
		return status, m
	}
	creds := func(id, secret string) url.Values {
		return url.Values{"grant_type": {"client_credentials"}, "client_id": {id}, "client_secret": {secret}, "scope": {"catalog"}}
	}
	for _, tc := range []struct {
		name   string
		form   url.Values
		basic  []string
		status int
		want   string // access_token, or the OAuth error
	}{
		{"form credentials", creds("alice", ts.aliceToken), nil, 200, ts.aliceToken},
		{"basic credentials", url.Values{"grant_type": {"client_credentials"}}, []string{"alice", ts.aliceToken}, 200, ts.aliceToken},
		{"secret only", creds("", ts.aliceToken), nil, 200, ts.aliceToken},
		{"token exchange", url.Values{"grant_type": {"urn:ietf:params:oauth:grant-type:token-exchange"}, "subject_token": {ts.aliceToken},
			"subject_token_type": {"urn:ietf:params:oauth:token-type:access_token"}}, nil, 200, ts.aliceToken},
		{"another user's token", creds("root", ts.aliceToken), nil, 401, "invalid_client"},
		{"bad secret", creds("alice", "tarn_nope"), nil, 401, "invalid_client"},
		{"no secret", creds("alice", ""), nil, 401, "invalid_client"},
		{"password grant", url.Values{"grant_type": {"password"}}, nil, 400, "unsupported_grant_type"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, body := post(tc.form, tc.basic)
			got, _ := body["access_token"].(string)
			if got == "" {
				got, _ = body["error"].(string)
			}
			if status != tc.status || got != tc.want {
				t.Errorf("%d %v, want %d %s", status, body, tc.status, tc.want)
			}
			if status == 200 && body["token_type"] != "bearer" {
				t.Errorf("token_type %v", body["token_type"])
			}
		})
	}
	// The token it hands out is a bearer token of the catalog.
	_, body := post(creds("alice", ts.aliceToken), nil)
	req, _ := http.NewRequest("GET", ts.url+"/iceberg/v1/config", nil)
	req.Header.Set("Authorization", "Bearer "+body["access_token"].(string))
	if status, text := send(t, req); status != 200 || !strings.Contains(text, "alice") {
		t.Fatalf("with the exchanged token: %d %s", status, text)
	}
}
