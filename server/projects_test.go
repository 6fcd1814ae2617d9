package server_test

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tarnhq/tarn"
	"github.com/tarnhq/tarn/server"
)

// folderProjects is a server.ProjectStore over a folder, as a bucket of
// its own: locations are store://NAME.
type folderProjects struct {
	dir     string
	mu      sync.Mutex
	n       int
	failPut error
}

var _ server.ProjectStore = (*folderProjects)(nil)

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

func (p *folderProjects) Put(ctx context.Context, src string) (string, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.failPut != nil {
		return "", p.failPut
	}
	p.n++
	name := fmt.Sprintf("%d.tar.gz", p.n)
	return "store://" + name, copyFile(src, filepath.Join(p.dir, name))
}

func (p *folderProjects) Get(ctx context.Context, loc, dst string) error {
	err := copyFile(filepath.Join(p.dir, strings.TrimPrefix(loc, "store://")), dst)
	if os.IsNotExist(err) {
		return tarn.Errorf(tarn.ENOTFOUND, "the run's project is gone from the store (%s)", loc)
	}
	return err
}

func (p *folderProjects) Remove(ctx context.Context, loc string) error {
	return os.Remove(filepath.Join(p.dir, strings.TrimPrefix(loc, "store://")))
}

func (p *folderProjects) names(t *testing.T) []string {
	t.Helper()
	entries, err := os.ReadDir(p.dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		out = append(out, e.Name())
	}
	return out
}

// projectRuns is a run service that reads the project it is given.
type projectRuns struct {
	noEngine
	mu   sync.Mutex
	dirs []string
	yml  []string
}

func (r *projectRuns) Run(ctx context.Context, req tarn.RunRequest, log func(tarn.RunEvent)) (*tarn.RunResult, error) {
	b, err := os.ReadFile(filepath.Join(req.ProjectDir, tarn.ProjectFile))
	r.mu.Lock()
	r.dirs, r.yml = append(r.dirs, req.ProjectDir), append(r.yml, string(b))
	r.mu.Unlock()
	if err != nil {
		return nil, err
	}
	return &tarn.RunResult{RunID: "r1"}, nil
}

// TestServer_ProjectStore: with a ProjectStore, a run's project is
// stored there before its job is queued (nothing of it stays in the
// upload folder), and the server that takes the job runs a copy it
// downloaded and unpacked, removed when the run ends. A store that
// refuses the project refuses the run, with nothing queued; a project
// gone from the store fails its job saying so.
func TestServer_ProjectStore(t *testing.T) {
	store := &folderProjects{dir: t.TempDir()}
	runs := &projectRuns{}
	ts, _ := newFakeServer(t, func(s *server.Server) {
		s.Projects = store
		s.Services.Runs = runs
	})
	ctx := context.Background()
	project := filepath.Join(ts.dir, "project")
	os.MkdirAll(project, 0o755)
	os.WriteFile(filepath.Join(project, tarn.ProjectFile), []byte("name: stored\n"), 0o644)
	uploads := filepath.Join(ts.home, "uploads")

	t.Run("OK", func(t *testing.T) {
		res, err := ts.admin.Runs.Run(ctx, tarn.RunRequest{ProjectDir: project, Ref: "main"}, nil)
		if err != nil || res.RunID != "r1" {
			t.Fatalf("run: %+v, %v", res, err)
		}
		if len(runs.yml) != 1 || runs.yml[0] != "name: stored\n" || !strings.HasPrefix(runs.dirs[0], uploads+string(filepath.Separator)) {
			t.Fatalf("the run read %q in %v", runs.yml, runs.dirs)
		}
		if got := store.names(t); len(got) != 1 {
			t.Fatalf("store after the run: %v", got) // the manager's Uploads removes it (jobstest)
		}
		if entries, _ := os.ReadDir(uploads); len(entries) != 0 {
			t.Fatalf("upload folder after the run: %v", entries)
		}
	})
	t.Run("ErrPut", func(t *testing.T) {
		store.failPut = tarn.Errorf(tarn.EINTERNAL, "cannot store the run's project in the test store: nothing was queued")
		defer func() { store.failPut = nil }()
		before, err := ts.admin.Jobs.ListJobs(ctx)
		if err != nil {
			t.Fatal(err)
		}
		_, err = ts.admin.Runs.Run(ctx, tarn.RunRequest{ProjectDir: project, Ref: "main"}, nil)
		if err == nil || !strings.Contains(err.Error(), "nothing was queued") {
			t.Fatalf("run with the store refusing: %v", err)
		}
		if after, _ := ts.admin.Jobs.ListJobs(ctx); len(after) != len(before) {
			t.Fatalf("jobs: %d before, %d after a refused run", len(before), len(after))
		}
		if entries, _ := os.ReadDir(uploads); len(entries) != 0 {
			t.Fatalf("upload folder after a refused run: %v", entries)
		}
	})
	t.Run("ErrGone", func(t *testing.T) {
		for _, name := range store.names(t) {
			os.Remove(filepath.Join(store.dir, name))
		}
		// The project goes between its job's queueing and its claim.
		ts.srv.Projects = &goneProjects{folderProjects: store}
		defer func() { ts.srv.Projects = store }()
		_, err := ts.admin.Runs.Run(ctx, tarn.RunRequest{ProjectDir: project, Ref: "main"}, nil)
		if err == nil || !strings.Contains(err.Error(), "gone from the store") {
			t.Fatalf("run whose project is gone: %v", err)
		}
		deadline := time.Now().Add(5 * time.Second)
		for entries, _ := os.ReadDir(uploads); len(entries) != 0; entries, _ = os.ReadDir(uploads) {
			if time.Now().After(deadline) {
				t.Fatalf("upload folder after a failed fetch: %v", entries)
			}
			time.Sleep(20 * time.Millisecond)
		}
	})
}

// goneProjects loses every project as soon as it is stored.
type goneProjects struct{ *folderProjects }

func (g *goneProjects) Put(ctx context.Context, src string) (string, error) {
	loc, err := g.folderProjects.Put(ctx, src)
	if err == nil {
		err = g.folderProjects.Remove(ctx, loc)
	}
	return loc, err
}
