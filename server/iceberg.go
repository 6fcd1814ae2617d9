package server

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"path"
	"strings"
	"time"

	"github.com/tarnhq/tarn"
)

// IcebergHandler is the Iceberg REST catalog (table/icerest) that the
// server mounts at /iceberg when Server.Iceberg is set. The server
// authenticates every request as it does /v1 requests (a bearer token, or
// the OAuth2 client-credentials exchange it answers itself at
// /iceberg/v1/oauth/tokens) and hands the handler the request with the
// /iceberg prefix stripped and a tarn.Caller in its context, which
// carries the server's write rules.
type IcebergHandler interface {
	http.Handler
	// WriteError answers a request the server refuses before the handler
	// runs (no token, a bad one), in the Iceberg REST error format.
	WriteError(w http.ResponseWriter, err error)
}

// icebergBase is where the Iceberg REST catalog is mounted.
const icebergBase = "/iceberg"

// icebergTokens is the OAuth2 token route of the Iceberg REST spec.
const icebergTokens = icebergBase + "/v1/oauth/tokens"

// caller is what the Iceberg front end learns of a request's user.
type caller struct {
	s   *Server
	ctx context.Context // carries the user, for the rules in auth.go
}

func (c *caller) User() *tarn.User             { return userOf(c.ctx) }
func (c *caller) CanWrite(branch string) error { return c.s.canWrite(c.ctx, branch) }
func (c *caller) Redact(msg string) string     { return c.s.redact.redact(msg) }

// isIceberg reports whether a path belongs to the Iceberg REST catalog.
func (s *Server) isIceberg(p string) bool {
	return s.Iceberg != nil && (p == icebergBase || strings.HasPrefix(p, icebergBase+"/"))
}

// icebergError answers in the Iceberg REST error format.
func (s *Server) icebergError(w http.ResponseWriter, err error) {
	s.Iceberg.WriteError(w, s.redact.redactErr(err))
}

// serveIceberg authenticates a request for the Iceberg REST catalog and
// passes it on, logging it like every other request.
func (s *Server) serveIceberg(rw http.ResponseWriter, r *http.Request) {
	started := time.Now()
	w := &statusWriter{ResponseWriter: rw}
	ctx := r.Context()
	if s.Log != nil {
		defer func() {
			fmt.Fprintf(s.Log, "%s %s %s %s %d %s\n", started.UTC().Format(time.RFC3339), userOf(ctx).Name, r.Method, r.URL.Path,
				w.status, time.Since(started).Round(time.Millisecond))
		}()
	}
	if p := r.URL.EscapedPath(); path.Clean(p) != p {
		s.icebergError(w, tarn.Errorf(tarn.ENOTFOUND, "no Iceberg REST route %s %s", r.Method, tarn.Quote(r.URL.Path)))
		return
	}
	if r.URL.Path == icebergTokens {
		s.icebergToken(w, r)
		return
	}
	u, err := s.authenticate(r)
	if err != nil {
		s.icebergError(w, err)
		return
	}
	ctx = context.WithValue(ctx, userKey{}, u)
	ctx = tarn.WithCaller(ctx, &caller{s: s, ctx: ctx})
	http.StripPrefix(icebergBase, s.Iceberg).ServeHTTP(w, r.WithContext(ctx))
}

// oauthError is the OAuth2 error body (RFC 6749 5.2).
type oauthError struct {
	Error       string `json:"error"`
	Description string `json:"error_description"`
}

// icebergToken answers the OAuth2 token exchange engines use to log in
// (Spark's and PyIceberg's credential=USER:TOKEN): client credentials
// whose id is a user's name and whose secret is their tarn token get that
// token back as the access token. A token exchange of a valid token (a
// client refreshing it) returns it unchanged.
func (s *Server) icebergToken(w http.ResponseWriter, r *http.Request) {
	fail := func(status int, code, msg string) {
		if status == http.StatusUnauthorized {
			w.Header().Set("WWW-Authenticate", `Basic realm="tarn"`)
		}
		writeJSON(w, status, oauthError{Error: code, Description: msg})
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		fail(http.StatusMethodNotAllowed, "invalid_request", "the token route takes POST")
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		fail(http.StatusBadRequest, "invalid_request", "the body must be application/x-www-form-urlencoded: "+err.Error())
		return
	}
	form := r.PostForm
	var secret, client string
	switch grant := form.Get("grant_type"); grant {
	case "client_credentials":
		client, secret = form.Get("client_id"), form.Get("client_secret")
		if id, pw, ok := r.BasicAuth(); ok {
			client, secret = unescapeForm(id), unescapeForm(pw)
		}
	case "urn:ietf:params:oauth:grant-type:token-exchange":
		secret = form.Get("subject_token")
	default:
		fail(http.StatusBadRequest, "unsupported_grant_type", fmt.Sprintf("grant_type %s is not supported: use client_credentials with client id USER and secret TOKEN", tarn.Quote(grant)))
		return
	}
	u, token := localUser, "insecure-local"
	if !s.Insecure {
		if secret == "" {
			fail(http.StatusUnauthorized, "invalid_client", "give the client secret: the credential is USER:TOKEN, a tarn token from `tarn user add USER`")
			return
		}
		var err error
		if u, err = s.Users.Authenticate(secret); err != nil {
			fail(http.StatusUnauthorized, "invalid_client", s.redact.redact(err.Error()))
			return
		}
		if client != "" && client != u.Name {
			fail(http.StatusUnauthorized, "invalid_client", fmt.Sprintf("the client id %s is not the user of that token", tarn.Quote(client)))
			return
		}
		token = secret
	}
	body := map[string]any{"access_token": token, "token_type": "bearer", "issued_token_type": "urn:ietf:params:oauth:token-type:access_token"}
	if !u.Expires.IsZero() {
		body["expires_in"] = max(1, int(time.Until(u.Expires).Seconds()))
	}
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	json.NewEncoder(w).Encode(body)
}

// unescapeForm decodes a Basic credential part, which OAuth2 clients
// form-encode (RFC 6749 2.3.1).
func unescapeForm(s string) string {
	if v, err := url.QueryUnescape(s); err == nil {
		return v
	}
	return s
}
