package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/tarnhq/tarn"
	"github.com/tarnhq/tarn/api"
)

// Config says where the server is and who is calling.
type Config struct {
	Endpoint string // http://host:port
	Token    string
	// HTTP is the client to use (default: a plain http.Client).
	HTTP *http.Client
}

// Client talks to one api.
type Client struct {
	base  *url.URL
	token string
	http  *http.Client
}

// New returns the services of the server at cfg.Endpoint.
func New(cfg Config) (*tarn.Services, error) {
	u, err := url.Parse(strings.TrimSuffix(cfg.Endpoint, "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, tarn.Errorf(tarn.EINVALID, "invalid endpoint %s: use http://HOST:PORT or https://HOST:PORT", tarn.Quote(cfg.Endpoint))
	}
	c := &Client{base: u, token: cfg.Token, http: cfg.HTTP}
	if c.http == nil {
		c.http = &http.Client{Transport: &http.Transport{Proxy: http.ProxyFromEnvironment, MaxIdleConnsPerHost: 8, DisableCompression: true}}
	}
	return &tarn.Services{
		Refs: (*refs)(c), Tables: (*tables)(c), Query: (*queries)(c), Runs: (*runs)(c), Jobs: (*jobs)(c), Users: (*users)(c), Secrets: (*secrets)(c),
		Mode: "remote", Location: u.String(),
		Closer: func() error { c.http.CloseIdleConnections(); return nil },
	}, nil
}

// request builds a request to path (with query values) and a body.
func (c *Client) request(ctx context.Context, method, path string, q url.Values, body io.Reader, contentType string) (*http.Request, error) {
	u := *c.base
	u.Path = c.base.Path + path
	u.RawQuery = q.Encode()
	req, err := http.NewRequestWithContext(ctx, method, u.String(), body)
	if err != nil {
		return nil, err
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	return req, nil
}

// send performs a request and turns an error response into a tarn error.
func (c *Client) send(req *http.Request) (*http.Response, error) {
	resp, err := c.http.Do(req)
	if err != nil {
		if ctxErr := req.Context().Err(); ctxErr != nil {
			return nil, ctxErr
		}
		return nil, tarn.Errorf(tarn.EINTERNAL, "cannot reach the tarn server at %s: %v (is `tarn serve` running? check --endpoint or TARN_ENDPOINT)", c.base, unwrapURL(err))
	}
	if resp.StatusCode >= 400 {
		defer resp.Body.Close()
		return nil, responseError(resp)
	}
	return resp, nil
}

func unwrapURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// responseError decodes {"error":{"code","resource","reason","message"}}.
func responseError(resp *http.Response) error {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	var body api.ErrorBody
	if err := json.Unmarshal(b, &body); err != nil || body.Error.Code == "" {
		return tarn.Errorf(tarn.EINTERNAL, "the server answered %s: %s", resp.Status, strings.TrimSpace(string(b)))
	}
	return &tarn.Error{Code: body.Error.Code, Resource: body.Error.Resource, Reason: body.Error.Reason, Message: body.Error.Message}
}

// call sends a JSON request (in may be nil) and decodes a JSON answer.
func (c *Client) call(ctx context.Context, method, path string, q url.Values, in, out any) error {
	var body io.Reader
	ct := ""
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body, ct = bytes.NewReader(b), "application/json"
	}
	req, err := c.request(ctx, method, path, q, body, ct)
	if err != nil {
		return err
	}
	resp, err := c.send(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if out == nil {
		io.Copy(io.Discard, resp.Body)
		return nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return tarn.Errorf(tarn.EINTERNAL, "decode the server's answer to %s %s: %v", method, path, err)
	}
	return nil
}

func vals(kv ...string) url.Values {
	q := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] != "" {
			q.Set(kv[i], kv[i+1])
		}
	}
	return q
}

func esc(s string) string { return url.PathEscape(s) }

func boolStr(b bool) string {
	if b {
		return "true"
	}
	return ""
}

// do calls a JSON route and returns its decoded answer.
func do[T any](ctx context.Context, c *Client, method, path string, q url.Values, in any) (T, error) {
	var out T
	err := c.call(ctx, method, path, q, in, &out)
	return out, err
}
