package local

import (
	"path/filepath"
	"strings"
	"testing"
)

func TestHome(t *testing.T) {
	h := Home(t.TempDir())
	seen := map[string]string{}
	for name, p := range map[string]string{"warehouse": h.Warehouse(), "catalog": h.CatalogDB(), "users": h.UsersFile(), "jobs": h.JobsDir(),
		"uploads": h.Uploads(), "exports": h.Exports(), "query temp": h.QueryTemp(), "envs": h.Envs(), "sdk": h.SDK(), "cache": h.Cache(),
		"sandbox": h.Sandbox(), "config": h.ConfigFile()} {
		if !strings.HasPrefix(p, h.Dir()+string(filepath.Separator)) {
			t.Errorf("%s is outside the home: %s", name, p)
		}
		if other, ok := seen[p]; ok {
			t.Errorf("%s and %s share %s", name, other, p)
		}
		seen[p] = name
	}
	if got := h.ActiveBranch(); got != "main" {
		t.Fatalf("a new home's active branch is %q", got)
	}
	if err := h.SetActiveBranch("alice.dev"); err != nil || h.ActiveBranch() != "alice.dev" {
		t.Fatalf("SetActiveBranch: %v, now %q", err, h.ActiveBranch())
	}
	c, err := h.Config()
	if err != nil || c.Cache.MaxSize != "" {
		t.Fatalf("a home without config.yml: %+v %v", c, err)
	}
	c.Cache.MaxSize = "5GiB"
	if err := h.SetConfig(c); err != nil {
		t.Fatal(err)
	}
	if c, err = h.Config(); err != nil || c.Cache.MaxSize != "5GiB" {
		t.Fatalf("config.yml read back: %+v %v", c, err)
	}
}
