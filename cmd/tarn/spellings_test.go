package main

import (
	"strings"
	"testing"
)

// TestCLI_Spellings: the spellings users know from elsewhere work beside
// tarn's own (embedded and through tarn serve).
func TestCLI_Spellings(t *testing.T) {
	l := newLakehouse(t)
	// checkout -b creates and checks out.
	if out := l.ok("checkout", "-b", "dev"); !strings.Contains(out, "created branch dev") {
		t.Fatalf("checkout -b: %q", out)
	}
	var st struct {
		ActiveBranch string `json:"active_branch"`
	}
	l.json(&st, "status")
	if st.ActiveBranch != "dev" {
		t.Fatalf("after checkout -b the active branch is %q", st.ActiveBranch)
	}
	l.fails(4, []string{"already exists"}, "checkout", "-b", "dev")
	l.fails(3, []string{"checkout -b nosuch"}, "checkout", "nosuch")
	l.fails(2, []string{"--from is for -b"}, "checkout", "main", "--from", "dev")
	// branch get, tag get, tag rename.
	var b struct {
		Name, Kind string
		Head       struct{ Hash, Message string }
		Active     bool
	}
	l.json(&b, "branch", "get", "dev")
	if b.Name != "dev" || b.Kind != "branch" || b.Head.Hash == "" || !b.Active {
		t.Fatalf("branch get: %+v", b)
	}
	l.fails(3, []string{"not found"}, "branch", "get", "nosuch")
	l.ok("tag", "create", "v1", "--ref", "main")
	{
		l.ok("tag", "rename", "v1", "release-1")
		l.json(&b, "tag", "get", "release-1")
		if b.Kind != "tag" || b.Head.Hash == "" {
			t.Fatalf("tag get after rename: %+v", b)
		}
		l.fails(3, nil, "tag", "get", "v1")
		l.fails(2, []string{"is a branch"}, "tag", "rename", "dev", "x")
	}
	// commit is the history; job stop is cancel; version says what tarn is.
	if out := l.ok("commit", "-n", "1"); !strings.Contains(out, "commit ") {
		t.Fatalf("tarn commit: %q", out)
	}
	l.fails(3, []string{"not found"}, "job", "stop", "j20260101-000000-abcdef")
	var v struct{ Version, SDK, Go string }
	l.json(&v, "version")
	if v.Version == "" || v.SDK == "" || !strings.HasPrefix(v.Go, "go") {
		t.Fatalf("version: %+v", v)
	}
}
