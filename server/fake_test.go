package server_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/tarnhq/tarn"
	"github.com/tarnhq/tarn/catalog"
	"github.com/tarnhq/tarn/catalog/memstore"
	"github.com/tarnhq/tarn/jobs"
	"github.com/tarnhq/tarn/server"
)

// The fakes below let the server's auth, permission and bad-input tests
// run without DuckDB, iceberg-go or SQLite: the refs are a real catalog
// over the in-memory store, table writes commit a placeholder entry with
// the commit info the server chose, and SQL and runs are refused.

// fakeTables implements tarn.TableService by committing placeholders.
type fakeTables struct{ cat *catalog.Catalog }

var _ tarn.TableService = (*fakeTables)(nil)

func (f *fakeTables) write(ctx context.Context, branch string, key string, e *tarn.Entry, info tarn.CommitInfo) (*tarn.Commit, error) {
	head, err := f.cat.BranchHead(ctx, branch)
	if err != nil {
		return nil, err
	}
	return f.cat.Commit(ctx, catalog.CommitRequest{Branch: branch, Base: head.Hash, Changes: map[string]*tarn.Entry{key: e}, Info: info})
}

func table(id tarn.TableIdent) *tarn.Entry {
	return &tarn.Entry{Kind: tarn.EntryTable, Metadata: "fake://" + id.String()}
}

func (f *fakeTables) ListNamespaces(ctx context.Context, ref string) ([]tarn.Namespace, error) {
	return []tarn.Namespace{{Name: tarn.DefaultNamespace}}, nil
}
func (f *fakeTables) CreateNamespace(ctx context.Context, branch, ns string, info tarn.CommitInfo) (*tarn.Commit, error) {
	return f.write(ctx, branch, ns, &tarn.Entry{Kind: tarn.EntryNamespace}, info)
}
func (f *fakeTables) DropNamespace(ctx context.Context, branch, ns string, force bool, info tarn.CommitInfo) (*tarn.Commit, error) {
	return f.write(ctx, branch, ns, nil, info)
}
func (f *fakeTables) ListTables(ctx context.Context, ref, namespace string) ([]tarn.TableSummary, *tarn.Commit, error) {
	c, err := f.cat.Resolve(ctx, ref)
	return []tarn.TableSummary{}, c, err
}
func (f *fakeTables) GetTable(ctx context.Context, ident tarn.TableIdent, ref string) (*tarn.TableInfo, error) {
	return nil, tarn.Errorf(tarn.ENOTFOUND, "table %s not found (fake)", ident)
}
func (f *fakeTables) CreateTable(ctx context.Context, req tarn.CreateTableRequest) (*tarn.WriteResult, error) {
	c, err := f.write(ctx, req.Branch, req.Table.Key(), table(req.Table), req.Info)
	if err != nil {
		return nil, err
	}
	return &tarn.WriteResult{Table: req.Table, Branch: req.Branch, Commit: c}, nil
}
func (f *fakeTables) ImportTable(ctx context.Context, req tarn.ImportRequest) (*tarn.WriteResult, error) {
	c, err := f.write(ctx, req.Branch, req.Table.Key(), table(req.Table), req.Info)
	if err != nil {
		return nil, err
	}
	return &tarn.WriteResult{Table: req.Table, Branch: req.Branch, Commit: c}, nil
}
func (f *fakeTables) DropTable(ctx context.Context, ident tarn.TableIdent, branch string, info tarn.CommitInfo) (*tarn.Commit, error) {
	return f.write(ctx, branch, ident.Key(), nil, info)
}
func (f *fakeTables) RevertTable(ctx context.Context, ident tarn.TableIdent, branch, to string, info tarn.CommitInfo) (*tarn.WriteResult, error) {
	c, err := f.write(ctx, branch, ident.Key(), table(ident), info)
	return &tarn.WriteResult{Table: ident, Branch: branch, Commit: c}, err
}
func (f *fakeTables) Verify(ctx context.Context, history bool) (*tarn.VerifyReport, error) {
	return &tarn.VerifyReport{Problems: []string{}}, nil
}

// noEngine refuses SQL and runs.
type noEngine struct{}

func (noEngine) Query(context.Context, tarn.QueryRequest) (*tarn.QueryResult, error) {
	return nil, tarn.Errorf(tarn.EINVALID, "the fake server runs no SQL")
}
func (noEngine) CopyTo(context.Context, tarn.QueryRequest, string, string) (*tarn.CopyResult, error) {
	return nil, tarn.Errorf(tarn.EINVALID, "the fake server runs no SQL")
}
func (noEngine) Run(context.Context, tarn.RunRequest, func(tarn.RunEvent)) (*tarn.RunResult, error) {
	return nil, tarn.Errorf(tarn.EINVALID, "the fake server runs no projects")
}

// fakeUsers is a users service and authenticator over a map of tokens.
type fakeUsers struct {
	mu     sync.Mutex
	tokens map[string]*tarn.User
}

func (u *fakeUsers) AddUser(ctx context.Context, req tarn.NewUser) (*tarn.User, string, error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	for _, x := range u.tokens {
		if x.Name == req.Name {
			return nil, "", tarn.Errorf(tarn.EEXISTS, "user %q already exists", req.Name)
		}
	}
	b := make([]byte, 16)
	rand.Read(b)
	token := "tarn_" + hex.EncodeToString(b)
	user := &tarn.User{Name: req.Name, Admin: req.Admin, Created: time.Now()}
	if req.ValidFor > 0 {
		user.Expires = time.Now().Add(req.ValidFor)
	}
	u.tokens[token] = user
	return user, token, nil
}

func (u *fakeUsers) ListUsers(ctx context.Context) ([]tarn.User, error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	out := []tarn.User{}
	for _, x := range u.tokens {
		out = append(out, *x)
	}
	return out, nil
}

func (u *fakeUsers) RemoveUser(ctx context.Context, name string) error {
	u.mu.Lock()
	defer u.mu.Unlock()
	for token, x := range u.tokens {
		if x.Name == name {
			delete(u.tokens, token)
			return nil
		}
	}
	return tarn.Errorf(tarn.ENOTFOUND, "user %q not found (fake)", name)
}

func (u *fakeUsers) ResetToken(ctx context.Context, name string) (string, error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	for token, x := range u.tokens {
		if x.Name == name {
			delete(u.tokens, token)
			fresh := token + "-new"
			u.tokens[fresh] = x
			return fresh, nil
		}
	}
	return "", tarn.Errorf(tarn.ENOTFOUND, "user %q not found (fake)", name)
}

func (u *fakeUsers) Authenticate(token string) (*tarn.User, error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	x, ok := u.tokens[token]
	if !ok {
		return nil, tarn.Errorf(tarn.EUNAUTHORIZED, "invalid token (fake)")
	}
	if !x.Expires.IsZero() && time.Now().After(x.Expires) {
		return nil, tarn.Errorf(tarn.EUNAUTHORIZED, "the token of user %q expired on %s", x.Name, x.Expires.Format(time.RFC3339))
	}
	return x, nil
}

// expire makes a user's token expired as of when.
func (u *fakeUsers) expire(name string, when time.Time) {
	u.mu.Lock()
	defer u.mu.Unlock()
	for _, x := range u.tokens {
		if x.Name == name {
			x.Expires = when
		}
	}
}

// newFakeServer is a server over the fakes, with an admin and alice.
func newFakeServer(t *testing.T, configure func(*server.Server)) (*testServer, *fakeUsers) {
	t.Helper()
	ctx := context.Background()
	cat, err := catalog.Open(ctx, memstore.New())
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	home := filepath.Join(dir, "home")
	users := &fakeUsers{tokens: map[string]*tarn.User{}}
	js := jobs.New(filepath.Join(home, "jobs"))
	svc := &tarn.Services{Refs: cat, Tables: &fakeTables{cat: cat}, Query: noEngine{}, Runs: noEngine{}, Jobs: js, Users: users, Mode: "fake"}
	srv := &server.Server{Services: svc, Jobs: js, Users: users, Home: home}
	if configure != nil {
		configure(srv)
	}
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(hs.Close)
	ts := &testServer{t: t, home: home, dir: dir, url: hs.URL, srv: srv}
	if _, ts.adminToken, err = users.AddUser(ctx, tarn.NewUser{Name: "root", Admin: true}); err != nil {
		t.Fatal(err)
	}
	if _, ts.aliceToken, err = users.AddUser(ctx, tarn.NewUser{Name: "alice"}); err != nil {
		t.Fatal(err)
	}
	ts.admin = ts.client(ts.adminToken)
	ts.alice = ts.client(ts.aliceToken)
	return ts, users
}
