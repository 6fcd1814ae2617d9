package icerest_test

import (
	"context"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	icecat "github.com/apache/iceberg-go/catalog"
	"github.com/apache/iceberg-go/catalog/rest"
	icetable "github.com/apache/iceberg-go/table"
	"github.com/tarnhq/tarn"
	"github.com/tarnhq/tarn/local"
	"github.com/tarnhq/tarn/server"
	"github.com/tarnhq/tarn/table/icerest"
)

// served is a tarn server over a fresh home with the catalog mounted, an
// admin and a user (alice, who owns alice.dev).
type served struct {
	url          string // the catalog URI: .../iceberg
	api          string // the server's root, for /v1
	lake         *local.Lakehouse
	admin, alice string // tokens
}

// serve starts the server; configure, when given, sets its options
// (protected branches) before it answers.
func serve(t *testing.T, configure ...func(*server.Server)) *served {
	t.Helper()
	ctx := context.Background()
	home := filepath.Join(t.TempDir(), "home")
	lh, err := local.Open(ctx, local.Config{Home: home, Confine: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { lh.Close() })
	srv := &server.Server{Services: lh.Services(), Jobs: lh.Jobs(), Users: lh.Users(), Home: home, Iceberg: icerest.New(lh.Tables(), icerest.Options{})}
	for _, c := range configure {
		c(srv)
	}
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(hs.Close)
	s := &served{url: hs.URL + "/iceberg", api: hs.URL, lake: lh}
	if _, s.admin, err = lh.Users().AddUser(ctx, tarn.NewUser{Name: "admin", Admin: true}); err != nil {
		t.Fatal(err)
	}
	if _, s.alice, err = lh.Users().AddUser(ctx, tarn.NewUser{Name: "alice"}); err != nil {
		t.Fatal(err)
	}
	if _, err := lh.Services().Refs.CreateRef(ctx, tarn.KindBranch, "alice.dev", "main"); err != nil {
		t.Fatal(err)
	}
	return s
}

// connect logs in with the OAuth2 client-credentials exchange, as Spark
// and PyIceberg do with credential=USER:TOKEN.
func (s *served) connect(t *testing.T, warehouse, user, token string) *rest.Catalog {
	t.Helper()
	cat, err := rest.NewCatalog(context.Background(), "tarn", s.url, rest.WithWarehouseLocation(warehouse), rest.WithCredential(user+":"+token))
	if err != nil {
		t.Fatalf("connect as %s to %s: %v", user, warehouse, err)
	}
	t.Cleanup(func() { cat.Close() })
	return cat
}

// TestServe_IcebergConformance runs iceberg-go's conformance suite
// against tarn serve's endpoint, logged in with the OAuth2 exchange.
func TestServe_IcebergConformance(t *testing.T) {
	conformance(t, func(t *testing.T, warehouse, user string) icecat.Catalog {
		s := serve(t)
		return s.connect(t, warehouse, user, map[string]string{"admin": s.admin, "alice": s.alice}[user])
	})
}

// TestServe_IcebergRules: the server's rules hold for engine writes, and
// their commits are the token's user's.
func TestServe_IcebergRules(t *testing.T) {
	ctx := context.Background()
	s := serve(t)
	onMain := s.connect(t, "main", "alice", s.alice)
	err := onMain.CreateNamespace(ctx, icetable.Identifier{"x"}, nil)
	if err == nil || !strings.Contains(err.Error(), `branch "main" is protected`) {
		t.Fatalf("alice writing main: %v", err)
	}
	onOwn := s.connect(t, "alice.dev", "alice", s.alice)
	if err := onOwn.CreateNamespace(ctx, icetable.Identifier{"x"}, nil); err != nil {
		t.Fatal(err)
	}
	log, err := s.lake.Services().Refs.Log(ctx, "alice.dev", 1)
	if err != nil || log[0].Author != "alice" || log[0].Message != "iceberg: create namespace x" {
		t.Fatalf("head of alice.dev: %+v %v", log[0], err)
	}
	if _, err := rest.NewCatalog(ctx, "tarn", s.url, rest.WithCredential("admin:"+s.alice)); err == nil {
		t.Fatal("alice's token logged in as admin")
	}
}
