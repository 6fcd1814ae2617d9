package sqlstore_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tarnhq/tarn"
	"github.com/tarnhq/tarn/catalog"
	"github.com/tarnhq/tarn/catalog/catalogtest"
	"github.com/tarnhq/tarn/catalog/sqlstore"
)

func newSQLite(t *testing.T) catalog.Store {
	t.Helper()
	s, err := sqlstore.OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "catalog.db"))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestSQLite_Conformance(t *testing.T) { catalogtest.Run(t, newSQLite) }

func TestOpenSQLite_ErrCorrupt(t *testing.T) {
	for name, content := range map[string][]byte{
		"garbage":   []byte("this is not a database at all, just some text"),
		"truncated": []byte("SQLite format 3\x00" + strings.Repeat("\x00", 50)),
	} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "catalog.db")
			if err := os.WriteFile(path, content, 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := sqlstore.OpenSQLite(context.Background(), path)
			if err == nil {
				t.Fatal("opened a corrupt catalog")
			}
			if !strings.Contains(err.Error(), "refusing") {
				t.Fatalf("error does not say it refuses: %v", err)
			}
			after, _ := os.ReadFile(path)
			if string(after) != string(content) {
				t.Fatal("corrupt file was modified")
			}
		})
	}
}

func TestOpenSQLite_Reopen(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "catalog.db")
	s, err := sqlstore.OpenSQLite(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	c, err := catalog.Open(ctx, s)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateRef(ctx, tarn.KindBranch, "dev", "main"); err != nil {
		t.Fatal(err)
	}
	c.Close()
	s2, err := sqlstore.OpenSQLite(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	c2, err := catalog.Open(ctx, s2)
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	if _, err := c2.Resolve(ctx, "dev"); err != nil {
		t.Fatalf("branch lost on reopen: %v", err)
	}
}

// TestOpenSQLite_URIChars: the database is where its path says, also when
// the path holds characters an SQLite file: URI gives meaning to.
func TestOpenSQLite_URIChars(t *testing.T) {
	for _, dir := range []string{"Test#00", "a?b=c", "100%", "sp ace"} {
		t.Run(dir, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), dir, "catalog.db")
			if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
				t.Fatal(err)
			}
			s, err := sqlstore.OpenSQLite(context.Background(), path)
			if err != nil {
				t.Fatal(err)
			}
			c, err := catalog.Open(context.Background(), s)
			if err != nil {
				t.Fatal(err)
			}
			c.Close()
			if st, err := os.Stat(path); err != nil || st.Size() == 0 {
				t.Fatalf("no database at %s: %v", path, err)
			}
		})
	}
}
