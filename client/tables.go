package client

import (
	"context"
	"encoding/json"
	"io"
	"mime/multipart"
	"net/url"
	"os"
	"path/filepath"

	"github.com/tarnhq/tarn"
	"github.com/tarnhq/tarn/api"
	"github.com/tarnhq/tarn/ingest"
)

type tables Client

var (
	_ tarn.TableService = (*tables)(nil)
	_ tarn.TablePlanner = (*tables)(nil)
)

func (t *tables) c() *Client { return (*Client)(t) }

func (t *tables) ListNamespaces(ctx context.Context, ref string) ([]tarn.Namespace, error) {
	return do[[]tarn.Namespace](ctx, t.c(), "GET", "/v1/namespaces", vals("ref", ref), nil)
}

func (t *tables) CreateNamespace(ctx context.Context, branch, ns string, info tarn.CommitInfo) (*tarn.Commit, error) {
	return do[*tarn.Commit](ctx, t.c(), "POST", "/v1/namespaces", nil, api.NamespaceRequest{Branch: branch, Namespace: ns, Info: info})
}

func writeQuery(branch string, info tarn.CommitInfo, kv ...string) url.Values {
	return vals(append([]string{"branch", branch, "author", info.Author, "message", info.Message}, kv...)...)
}

func (t *tables) DropNamespace(ctx context.Context, branch, ns string, force bool, info tarn.CommitInfo) (*tarn.Commit, error) {
	return do[*tarn.Commit](ctx, t.c(), "DELETE", "/v1/namespaces/"+esc(ns), writeQuery(branch, info, "force", boolStr(force)), nil)
}

func (t *tables) ListTables(ctx context.Context, ref, namespace string) ([]tarn.TableSummary, *tarn.Commit, error) {
	out, err := do[api.TableList](ctx, t.c(), "GET", "/v1/tables", vals("ref", ref, "namespace", namespace), nil)
	return out.Tables, out.Commit, err
}

func (t *tables) GetTable(ctx context.Context, ident tarn.TableIdent, ref string) (*tarn.TableInfo, error) {
	return do[*tarn.TableInfo](ctx, t.c(), "GET", "/v1/tables/"+esc(ident.String()), vals("ref", ref), nil)
}

func (t *tables) CreateTable(ctx context.Context, req tarn.CreateTableRequest) (*tarn.WriteResult, error) {
	return upload[tarn.WriteResult](ctx, t.c(), "/v1/tables", nil, req.From, req)
}

// PlanTable uploads the files as CreateTable does; the server infers the
// schema and checks the create, writing nothing.
func (t *tables) PlanTable(ctx context.Context, req tarn.CreateTableRequest) (*tarn.TablePlan, error) {
	return upload[tarn.TablePlan](ctx, t.c(), "/v1/tables", vals("plan", "true"), req.From, req)
}

func (t *tables) ImportTable(ctx context.Context, req tarn.ImportRequest) (*tarn.WriteResult, error) {
	return upload[tarn.WriteResult](ctx, t.c(), "/v1/tables/"+esc(req.Table.String())+"/import", nil, req.From, req)
}

// upload expands the input files here and streams them to the server
// with the request, without holding them in memory; the answer is a T.
func upload[T any](ctx context.Context, c *Client, path string, q url.Values, from []string, req any) (*T, error) {
	if len(from) == 0 {
		return nil, tarn.Errorf(tarn.EINVALID, "--from is required: give files, globs or directories of Parquet, CSV or JSON Lines")
	}
	files, err := ingest.Expand(from)
	if err != nil {
		if tarn.ErrorCode(err) == tarn.EINTERNAL {
			return nil, tarn.Errorf(tarn.EINVALID, "%w", err)
		}
		return nil, err
	}
	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	go func() {
		pw.CloseWithError(func() error {
			part, err := mw.CreateFormField("request")
			if err != nil {
				return err
			}
			if err := json.NewEncoder(part).Encode(req); err != nil {
				return err
			}
			for _, f := range files {
				part, err := mw.CreateFormFile("file", filepath.Base(f.Path))
				if err != nil {
					return err
				}
				fh, err := os.Open(f.Path)
				if err != nil {
					return err
				}
				_, err = io.Copy(part, fh)
				fh.Close()
				if err != nil {
					return err
				}
			}
			return mw.Close()
		}())
	}()
	hreq, err := c.request(ctx, "POST", path, q, pr, mw.FormDataContentType())
	if err != nil {
		return nil, err
	}
	resp, err := c.send(hreq)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var out T
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return nil, tarn.Errorf(tarn.EINTERNAL, "decode the server's answer: %v", err)
	}
	return &out, nil
}

func (t *tables) DropTable(ctx context.Context, ident tarn.TableIdent, branch string, info tarn.CommitInfo) (*tarn.Commit, error) {
	return do[*tarn.Commit](ctx, t.c(), "DELETE", "/v1/tables/"+esc(ident.String()), writeQuery(branch, info), nil)
}

func (t *tables) RevertTable(ctx context.Context, ident tarn.TableIdent, branch, to string, info tarn.CommitInfo) (*tarn.WriteResult, error) {
	return do[*tarn.WriteResult](ctx, t.c(), "POST", "/v1/tables/"+esc(ident.String())+"/revert", nil, api.RevertRequest{Branch: branch, To: to, Info: info})
}

var _ tarn.Optimizer = (*tables)(nil)

// Optimize asks the server to compact a table (as any write to the branch).
func (t *tables) Optimize(ctx context.Context, req tarn.OptimizeRequest) (*tarn.OptimizeResult, error) {
	return do[*tarn.OptimizeResult](ctx, t.c(), "POST", "/v1/tables/"+esc(req.Table.String())+"/optimize", nil,
		api.OptimizeRequest{Branch: req.Branch, TargetFileSize: req.TargetFileSize, Info: req.Info})
}

var _ tarn.Collector = (*tables)(nil)

// CollectGarbage asks the server to collect garbage (admins only).
func (t *tables) CollectGarbage(ctx context.Context, req tarn.GCRequest) (*tarn.GCReport, error) {
	body := api.GCRequest{DryRun: req.DryRun}
	if req.OlderThan > 0 {
		body.OlderThan = tarn.FormatAge(req.OlderThan)
	}
	if req.RunsOlderThan > 0 {
		body.RunsOlderThan = tarn.FormatAge(req.RunsOlderThan)
	}
	if req.KeepHistory != 0 {
		body.KeepHistory = tarn.FormatKeepHistory(req.KeepHistory)
	}
	return do[*tarn.GCReport](ctx, t.c(), "POST", "/v1/gc", nil, body)
}

func (t *tables) Verify(ctx context.Context, history bool) (*tarn.VerifyReport, error) {
	return do[*tarn.VerifyReport](ctx, t.c(), "POST", "/v1/verify", nil, api.VerifyRequest{History: history})
}
