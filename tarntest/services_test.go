package tarntest_test

import (
	"context"
	"net/http/httptest"
	"path/filepath"
	"testing"

	"github.com/tarnhq/tarn"
	"github.com/tarnhq/tarn/client"
	"github.com/tarnhq/tarn/local"
	"github.com/tarnhq/tarn/server"
	"github.com/tarnhq/tarn/tarntest"
)

func openHome(t *testing.T) (*local.Lakehouse, string) {
	t.Helper()
	home := filepath.Join(t.TempDir(), "home")
	lh, err := local.Open(context.Background(), local.Config{Home: home})
	if err != nil {
		t.Fatal(err)
	}
	return lh, home
}

// TestServices_Embedded: the services over a home.
func TestServices_Embedded(t *testing.T) {
	tarntest.Run(t, func(t *testing.T) *tarn.Services {
		lh, _ := openHome(t)
		return lh.Services()
	})
}

// TestServices_Remote: the HTTP client against a server over a home.
func TestServices_Remote(t *testing.T) {
	tarntest.Run(t, func(t *testing.T) *tarn.Services {
		lh, home := openHome(t)
		srv := &server.Server{Services: lh.Services(), Jobs: lh.Jobs(), Users: lh.Users(), Insecure: true, Home: home}
		hs := httptest.NewServer(srv.Handler())
		svc, err := client.New(client.Config{Endpoint: hs.URL})
		if err != nil {
			t.Fatal(err)
		}
		closeClient := svc.Closer
		svc.Closer = func() error {
			if closeClient != nil {
				closeClient()
			}
			hs.Close()
			lh.Jobs().Wait(0)
			return lh.Close()
		}
		return svc
	})
}
