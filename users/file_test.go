package users_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tarnhq/tarn"
	"github.com/tarnhq/tarn/users"
	"github.com/tarnhq/tarn/users/userstest"
)

func TestFileStore_Conformance(t *testing.T) {
	userstest.Run(t, func(t *testing.T) users.Store {
		return &users.FileStore{Path: filepath.Join(t.TempDir(), "users.json")}
	})
}

// TestFileStore_NoClearTokens: the file holds hashes only, readable by
// its owner only.
func TestFileStore_NoClearTokens(t *testing.T) {
	s := &users.FileStore{Path: filepath.Join(t.TempDir(), "users.json")}
	_, token, err := (&users.Service{Store: s}).AddUser(context.Background(), tarn.NewUser{Name: "ann", Admin: true})
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(s.Path)
	if err != nil || strings.Contains(string(b), token) || !strings.Contains(string(b), users.HashToken(token)) {
		t.Fatalf("users.json holds %s (%v)", b, err)
	}
	if fi, err := os.Stat(s.Path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("users.json mode %v, %v", fi.Mode(), err)
	}
}

// TestFileStore_Corrupt: a file that is not users is reported, not
// replaced.
func TestFileStore_Corrupt(t *testing.T) {
	s := &users.FileStore{Path: filepath.Join(t.TempDir(), "users.json")}
	os.WriteFile(s.Path, []byte("{not json"), 0o600)
	if _, err := s.List(context.Background()); err == nil || !strings.Contains(err.Error(), "corrupt") {
		t.Fatalf("List of a corrupt file: %v", err)
	}
	if err := s.Add(context.Background(), users.Record{User: tarn.User{Name: "ann"}}); err == nil {
		t.Fatal("Add replaced a corrupt file")
	}
	if b, _ := os.ReadFile(s.Path); string(b) != "{not json" {
		t.Fatalf("the corrupt file changed: %s", b)
	}
}
