package local

import (
	"context"

	"github.com/tarnhq/tarn"
	"github.com/tarnhq/tarn/catalog"
)

// refService implements tarn.RefService over the catalog.
type refService struct{ cat *catalog.Catalog }

var _ tarn.RefService = (*refService)(nil)

func (s *refService) ListRefs(ctx context.Context, kind tarn.RefKind) ([]tarn.Ref, error) {
	return s.cat.ListRefs(ctx, kind)
}

func (s *refService) GetRef(ctx context.Context, name string) (*tarn.Ref, error) {
	return s.cat.GetRef(ctx, name)
}

func (s *refService) CreateRef(ctx context.Context, kind tarn.RefKind, name, from string) (*tarn.Ref, error) {
	return s.cat.CreateRef(ctx, kind, name, from)
}

func (s *refService) DeleteRef(ctx context.Context, kind tarn.RefKind, name string) error {
	return s.cat.DeleteRef(ctx, kind, name)
}

func (s *refService) RenameBranch(ctx context.Context, oldName, newName string) (*tarn.Ref, error) {
	return s.cat.RenameBranch(ctx, oldName, newName)
}

func (s *refService) Resolve(ctx context.Context, ref string) (*tarn.Commit, error) {
	return s.cat.Resolve(ctx, ref)
}

func (s *refService) BranchHead(ctx context.Context, ref string) (*tarn.Commit, error) {
	return s.cat.BranchTarget(ctx, ref)
}

func (s *refService) GetCommit(ctx context.Context, hash string) (*tarn.Commit, error) {
	return s.cat.GetCommit(ctx, hash)
}

func (s *refService) Log(ctx context.Context, ref string, limit int) ([]*tarn.Commit, error) {
	return s.cat.Log(ctx, ref, limit)
}

func (s *refService) MergeBase(ctx context.Context, a, b string) (*tarn.Commit, error) {
	ca, err := s.cat.Resolve(ctx, a)
	if err != nil {
		return nil, err
	}
	cb, err := s.cat.Resolve(ctx, b)
	if err != nil {
		return nil, err
	}
	return s.cat.MergeBase(ctx, ca, cb)
}

func (s *refService) Diff(ctx context.Context, from, to string) ([]tarn.Change, error) {
	a, err := s.cat.Resolve(ctx, from)
	if err != nil {
		return nil, err
	}
	b, err := s.cat.Resolve(ctx, to)
	if err != nil {
		return nil, err
	}
	return s.cat.Diff(ctx, a, b)
}

func (s *refService) Merge(ctx context.Context, req tarn.MergeRequest) (*tarn.MergeResult, error) {
	return s.cat.Merge(ctx, req)
}
