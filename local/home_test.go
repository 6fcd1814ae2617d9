package local

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"
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

// TestHome_SweepScratch: alone on its home a starting server removes all
// scratch but the uploads of queued runs; sharing it, only what is old
// or belongs to a server of this host that has stopped.
func TestHome_SweepScratch(t *testing.T) {
	host, _ := os.Hostname()
	alive := fmt.Sprintf("%s-%d-abcdef", host, os.Getpid())
	dead := fmt.Sprintf("%s-%d-abcdef", host, 1<<22+12345) // above any pid Linux hands out
	old := time.Now().Add(-2 * time.Hour)
	for _, tc := range []struct {
		name   string
		shared bool
		left   []string
	}{
		{"Alone", false, []string{"uploads/up-queued"}},
		{"Shared", true, []string{"uploads/up-queued", "uploads/up-new", "exports/jnew", "tmp/duckdb/" + alive, "tmp/duckdb/otherhost-1-abcdef"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := Home(t.TempDir())
			made := map[string]time.Time{"uploads/up-queued": old, "uploads/up-old": old, "uploads/up-new": time.Now(),
				"exports/jold": old, "exports/jnew": time.Now(), "tmp/duckdb/" + alive: old, "tmp/duckdb/" + dead: old,
				"tmp/duckdb/otherhost-1-abcdef": old}
			for rel, mtime := range made {
				p := filepath.Join(h.Dir(), rel)
				if err := os.MkdirAll(p, 0o755); err != nil {
					t.Fatal(err)
				}
				os.Chtimes(p, mtime, mtime)
			}
			h.SweepScratch([]string{filepath.Join(h.Uploads(), "up-queued")}, tc.shared)
			var left []string
			for rel := range made {
				if _, err := os.Stat(filepath.Join(h.Dir(), rel)); err == nil {
					left = append(left, rel)
				}
			}
			sort.Strings(left)
			sort.Strings(tc.left)
			if !slices.Equal(left, tc.left) {
				t.Fatalf("left %v, want %v", left, tc.left)
			}
		})
	}
}

// TestHome_MetadataCacheBound: the metadata cache's bound is 64 MiB by
// default, cache.metadata_max_size sets it, the environment wins over
// the file, and a bad size names where it came from; a lakehouse opened
// on the home gets a metadata cache of that bound.
func TestHome_MetadataCacheBound(t *testing.T) {
	h := Home(t.TempDir())
	t.Setenv("TARN_CACHE_METADATA_MAX_SIZE", "")
	if n, err := h.MetadataCacheBound(); err != nil || n != 64<<20 {
		t.Fatalf("default: %d, %v; want 64 MiB", n, err)
	}
	c, err := h.Config()
	if err != nil {
		t.Fatal(err)
	}
	c.Cache.MetadataMaxSize = "256MiB"
	if err := h.SetConfig(c); err != nil {
		t.Fatal(err)
	}
	if n, err := h.MetadataCacheBound(); err != nil || n != 256<<20 {
		t.Fatalf("from config.yml: %d, %v; want 256 MiB", n, err)
	}
	t.Setenv("TARN_CACHE_METADATA_MAX_SIZE", "8MiB")
	if n, err := h.MetadataCacheBound(); err != nil || n != 8<<20 {
		t.Fatalf("from the environment: %d, %v; want 8 MiB", n, err)
	}
	t.Setenv("TARN_CACHE_METADATA_MAX_SIZE", "")
	c.Cache.MetadataMaxSize = "lots"
	if err := h.SetConfig(c); err != nil {
		t.Fatal(err)
	}
	if _, err := h.MetadataCacheBound(); err == nil || !strings.Contains(err.Error(), "cache.metadata_max_size in "+h.ConfigFile()) {
		t.Fatalf("a bad size: %v, want an error naming cache.metadata_max_size in config.yml", err)
	}
}
