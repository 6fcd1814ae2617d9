package local

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tarnhq/tarn"
	"github.com/tarnhq/tarn/pipeline"
	"github.com/tarnhq/tarn/users"
)

func TestPackagePolicy_Resolve(t *testing.T) {
	embedded := PackagePolicy{IndexURL: "https://mirror/simple"}
	ix, err := embedded.Resolve(pipeline.IndexDecl{URL: "https://other/simple", FindLinks: "/proj/wheels"}, "alice")
	if err != nil || ix.URL != "https://other/simple" || ix.FindLinks != "/proj/wheels" || ix.NoBuild || ix.Owner != "alice" {
		t.Fatalf("embedded: a project's own index is used: %+v %v", ix, err)
	}
	server := PackagePolicy{IndexURL: "https://mirror/simple", Indexes: map[string]string{"internal": "https://internal/simple"}, Operator: true}
	for name, tc := range map[string]struct {
		decl    pipeline.IndexDecl
		wantURL string
		code    string
	}{
		"OK default":      {pipeline.IndexDecl{}, "https://mirror/simple", ""},
		"OK by name":      {pipeline.IndexDecl{URL: "internal"}, "https://internal/simple", ""},
		"OK by URL":       {pipeline.IndexDecl{URL: "https://internal/simple"}, "https://internal/simple", ""},
		"OK offline":      {pipeline.IndexDecl{Offline: true}, "https://mirror/simple", ""},
		"ErrOtherIndex":   {pipeline.IndexDecl{URL: "https://evil/simple"}, "", tarn.EFORBIDDEN},
		"ErrWheelsFolder": {pipeline.IndexDecl{FindLinks: "/uploads/up-1/project/wheels"}, "", tarn.EFORBIDDEN},
	} {
		t.Run(name, func(t *testing.T) {
			ix, err := server.Resolve(tc.decl, "alice")
			if tc.code != "" {
				if tarn.ErrorCode(err) != tc.code || !strings.Contains(err.Error(), "this server sets where packages come from") {
					t.Fatalf("want %s, got %v", tc.code, err)
				}
				return
			}
			if err != nil || ix.URL != tc.wantURL || !ix.NoBuild || ix.Offline != tc.decl.Offline {
				t.Fatalf("got %+v, %v", ix, err)
			}
		})
	}
	server.AllowSourceBuilds = true
	if ix, _ := server.Resolve(pipeline.IndexDecl{}, "alice"); ix.NoBuild {
		t.Fatal("--allow-source-builds still builds wheels only")
	}
}

func TestInternetPolicy_Check(t *testing.T) {
	svc := &users.Service{Store: &users.FileStore{Path: filepath.Join(t.TempDir(), "users.json")}}
	ctx := context.Background()
	for _, u := range []tarn.NewUser{{Name: "root1", Admin: true}, {Name: "alice"}} {
		if _, _, err := svc.AddUser(ctx, u); err != nil {
			t.Fatal(err)
		}
	}
	asks := &pipeline.Project{Models: []*pipeline.Model{{Name: "fetch", File: "models.py", Line: 3, InternetAccess: true}}}
	quiet := &pipeline.Project{Models: []*pipeline.Model{{Name: "calc", File: "models.py", Line: 9}}}
	for _, tc := range []struct {
		users []string
		user  string
		ok    bool
	}{
		{nil, "alice", false}, {[]string{"*"}, "alice", true}, {[]string{"admins"}, "alice", false},
		{[]string{"admins"}, "root1", true}, {[]string{"bob", "alice"}, "alice", true}, {[]string{"bob"}, "alice", false},
	} {
		p := InternetPolicy{Users: tc.users, Egress: true}
		err := p.check(ctx, svc, asks, tc.user)
		if tc.ok != (err == nil) {
			t.Errorf("users %v, %s: %v", tc.users, tc.user, err)
		}
		if err != nil && (tarn.ErrorCode(err) != tarn.EFORBIDDEN || !strings.Contains(err.Error(), "fetch (models.py:3)")) {
			t.Errorf("the refusal does not name the model: %v", err)
		}
		if err := p.check(ctx, svc, quiet, tc.user); err != nil {
			t.Errorf("a project without internet access is refused: %v", err)
		}
	}
	if err := (InternetPolicy{}).check(ctx, svc, asks, "alice"); err != nil {
		t.Fatalf("embedded (no policy) refuses: %v", err)
	}
}
