package client

import (
	"context"
	"strconv"

	"github.com/tarnhq/tarn"
	"github.com/tarnhq/tarn/api"
)

type refs Client

var _ tarn.RefService = (*refs)(nil)

func (r *refs) c() *Client { return (*Client)(r) }

func (r *refs) ListRefs(ctx context.Context, kind tarn.RefKind) ([]tarn.Ref, error) {
	return do[[]tarn.Ref](ctx, r.c(), "GET", "/v1/refs", vals("kind", string(kind)), nil)
}

func (r *refs) GetRef(ctx context.Context, name string) (*tarn.Ref, error) {
	return do[*tarn.Ref](ctx, r.c(), "GET", "/v1/refs/"+esc(name), nil, nil)
}

func (r *refs) CreateRef(ctx context.Context, kind tarn.RefKind, name, from string) (*tarn.Ref, error) {
	return do[*tarn.Ref](ctx, r.c(), "POST", "/v1/refs", nil, api.CreateRefRequest{Kind: kind, Name: name, From: from})
}

func (r *refs) DeleteRef(ctx context.Context, kind tarn.RefKind, name string) error {
	return r.c().call(ctx, "DELETE", "/v1/refs/"+esc(name), vals("kind", string(kind)), nil, nil)
}

func (r *refs) RenameBranch(ctx context.Context, oldName, newName string) (*tarn.Ref, error) {
	return do[*tarn.Ref](ctx, r.c(), "POST", "/v1/refs/"+esc(oldName)+"/rename", nil, api.RenameRequest{NewName: newName})
}

func (r *refs) RenameTag(ctx context.Context, oldName, newName string) (*tarn.Ref, error) {
	return do[*tarn.Ref](ctx, r.c(), "POST", "/v1/refs/"+esc(oldName)+"/rename", vals("kind", string(tarn.KindTag)), api.RenameRequest{NewName: newName})
}

func (r *refs) Resolve(ctx context.Context, ref string) (*tarn.Commit, error) {
	return do[*tarn.Commit](ctx, r.c(), "GET", "/v1/resolve", vals("ref", ref), nil)
}

func (r *refs) BranchHead(ctx context.Context, ref string) (*tarn.Commit, error) {
	return do[*tarn.Commit](ctx, r.c(), "GET", "/v1/resolve", vals("ref", ref, "branch", "true"), nil)
}

func (r *refs) GetCommit(ctx context.Context, hash string) (*tarn.Commit, error) {
	return do[*tarn.Commit](ctx, r.c(), "GET", "/v1/commits/"+esc(hash), nil, nil)
}

func (r *refs) Log(ctx context.Context, ref string, limit int) ([]*tarn.Commit, error) {
	return do[[]*tarn.Commit](ctx, r.c(), "GET", "/v1/log", vals("ref", ref, "limit", strconv.Itoa(limit)), nil)
}

func (r *refs) MergeBase(ctx context.Context, a, b string) (*tarn.Commit, error) {
	out, err := do[struct{ Base *tarn.Commit }](ctx, r.c(), "GET", "/v1/merge-base", vals("a", a, "b", b), nil)
	return out.Base, err
}

func (r *refs) Diff(ctx context.Context, from, to string) ([]tarn.Change, error) {
	return do[[]tarn.Change](ctx, r.c(), "GET", "/v1/diff", vals("from", from, "to", to), nil)
}

func (r *refs) Merge(ctx context.Context, req tarn.MergeRequest) (*tarn.MergeResult, error) {
	return do[*tarn.MergeResult](ctx, r.c(), "POST", "/v1/merge", nil, req)
}

func (r *refs) History(ctx context.Context, ref, cursor string, limit int) (*tarn.LogPage, error) {
	q := vals("ref", ref, "limit", strconv.Itoa(limit))
	if cursor != "" {
		q.Set("cursor", cursor)
	}
	return do[*tarn.LogPage](ctx, r.c(), "GET", "/v1/history", q, nil)
}
