package local

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/tarnhq/tarn"
)

func TestUserStore(t *testing.T) {
	ctx := context.Background()
	s := &UserStore{Path: t.TempDir() + "/users.json"}
	u, token, err := s.AddUser(ctx, tarn.NewUser{Name: "ann", Admin: true})
	if err != nil || !u.Admin {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(s.Path); strings.Contains(string(b), token) {
		t.Fatal("users.json holds a token in clear")
	}
	if got, err := s.Authenticate(token); err != nil || got.Name != "ann" {
		t.Fatalf("authenticate: %v %v", got, err)
	}
	if _, _, err := s.AddUser(ctx, tarn.NewUser{Name: "ann"}); tarn.ErrorCode(err) != tarn.EEXISTS {
		t.Fatalf("duplicate: %v", err)
	}
	for _, bad := range []string{"", "Ann", "a/b", "../x", strings.Repeat("a", 40)} {
		if _, _, err := s.AddUser(ctx, tarn.NewUser{Name: bad}); tarn.ErrorCode(err) != tarn.EINVALID {
			t.Fatalf("name %q: %v", bad, err)
		}
	}
	_, short, _ := s.AddUser(ctx, tarn.NewUser{Name: "tmp", ValidFor: time.Nanosecond})
	time.Sleep(time.Millisecond)
	if _, err := s.Authenticate(short); tarn.ErrorCode(err) != tarn.EUNAUTHORIZED || !strings.Contains(err.Error(), "expired") {
		t.Fatalf("expired token: %v", err)
	}
	if _, err := s.Authenticate(token + "x"); tarn.ErrorCode(err) != tarn.EUNAUTHORIZED {
		t.Fatalf("wrong token: %v", err)
	}
}

func TestUserStore_RemoveAndReset(t *testing.T) {
	ctx := context.Background()
	s := &UserStore{Path: t.TempDir() + "/users.json"}
	_, rootToken, _ := s.AddUser(ctx, tarn.NewUser{Name: "root", Admin: true})
	_, bobToken, _ := s.AddUser(ctx, tarn.NewUser{Name: "bob", ValidFor: time.Hour})
	t.Run("OK", func(t *testing.T) {
		fresh, err := s.ResetToken(ctx, "bob")
		if err != nil || fresh == bobToken {
			t.Fatalf("reset: %q %v", fresh, err)
		}
		if _, err := s.Authenticate(bobToken); tarn.ErrorCode(err) != tarn.EUNAUTHORIZED {
			t.Fatalf("the old token still works: %v", err)
		}
		u, err := s.Authenticate(fresh)
		if err != nil || u.Name != "bob" || u.Expires.IsZero() {
			t.Fatalf("the new token: %+v %v (the expiry is kept)", u, err)
		}
		if err := s.RemoveUser(ctx, "bob"); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Authenticate(fresh); tarn.ErrorCode(err) != tarn.EUNAUTHORIZED {
			t.Fatalf("a removed user's token still works: %v", err)
		}
	})
	t.Run("ErrNotFound", func(t *testing.T) {
		if err := s.RemoveUser(ctx, "bob"); tarn.ErrorCode(err) != tarn.ENOTFOUND {
			t.Fatalf("remove again: %v", err)
		}
		if _, err := s.ResetToken(ctx, "nobody"); tarn.ErrorCode(err) != tarn.ENOTFOUND {
			t.Fatalf("reset an unknown user: %v", err)
		}
	})
	t.Run("ErrLastAdmin", func(t *testing.T) {
		if err := s.RemoveUser(ctx, "root"); tarn.ErrorCode(err) != tarn.EINVALID || !strings.Contains(err.Error(), "last admin") {
			t.Fatalf("removing the last admin: %v", err)
		}
		if _, err := s.Authenticate(rootToken); err != nil {
			t.Fatal(err)
		}
		s.AddUser(ctx, tarn.NewUser{Name: "ann", Admin: true})
		if err := s.RemoveUser(ctx, "root"); err != nil {
			t.Fatalf("an admin who is not the last: %v", err)
		}
	})
}
