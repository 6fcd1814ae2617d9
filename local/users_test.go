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
