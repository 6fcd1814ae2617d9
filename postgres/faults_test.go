//go:build integration

package postgres_test

import (
	"context"
	"net/url"
	"strings"
	"testing"

	"github.com/tarnhq/tarn"
	"github.com/tarnhq/tarn/internal/pgtest"
	"github.com/tarnhq/tarn/postgres"
)

// TestOpen_ErrServer: a server that answers but refuses: wrong
// credentials, a missing database. Each error names the database and
// what to fix, never the password.
func TestOpen_ErrServer(t *testing.T) {
	base, err := url.Parse(pgtest.Base(t))
	if err != nil {
		t.Fatal(err)
	}
	with := func(f func(u *url.URL)) string {
		u := *base
		f(&u)
		return u.String()
	}
	for _, tc := range []struct {
		name, dsn string
		mentions  []string
	}{
		{"WrongPassword", with(func(u *url.URL) { u.User = url.UserPassword(u.User.Username(), "wrong-secret") }),
			[]string{"refused user \"tarn\"", "password authentication failed", "fix the user or password in --catalog"}},
		{"UnknownUser", with(func(u *url.URL) { u.User = url.UserPassword("nobody", "wrong-secret") }),
			[]string{"refused user \"nobody\""}},
		{"NoDatabase", with(func(u *url.URL) { u.Path = "/no_such_db" }),
			[]string{"\"no_such_db\" does not exist", "createdb", "--catalog"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := postgres.Open(context.Background(), tc.dsn)
			if tarn.ErrorCode(err) != tarn.EINTERNAL {
				t.Fatalf("Open = %v (code %s)", err, tarn.ErrorCode(err))
			}
			for _, m := range tc.mentions {
				if !strings.Contains(err.Error(), m) {
					t.Errorf("error %q does not mention %q", err, m)
				}
			}
			if strings.Contains(err.Error(), "wrong-secret") {
				t.Errorf("error shows the password: %v", err)
			}
		})
	}
}
