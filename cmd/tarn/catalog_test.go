package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCLI_CatalogSetting: where the catalog lives comes from --catalog,
// then TARN_CATALOG, then catalog: in the home's config.yml; a bad or
// unreachable one is refused, naming where it came from and what to do.
// (A real database: the PostgreSQL tests and the shared mode.)
func TestCLI_CatalogSetting(t *testing.T) {
	embeddedOnly(t)
	const unreachable = "postgres://tarn:s3cret@127.0.0.1:1/tarn"
	for _, tc := range []struct {
		name     string
		config   string // the home's config.yml
		env      string // TARN_CATALOG
		args     []string
		code     int
		mentions []string
	}{
		{name: "Default", args: []string{"status"}, mentions: []string{"catalog: ", "catalog.db (SQLite)"}},
		{name: "ConfigSQLite", config: "catalog: sqlite\n", args: []string{"status"}, mentions: []string{"(SQLite)"}},
		{name: "BadFlag", args: []string{"status", "--catalog", "mysql://db/tarn"}, code: 2,
			mentions: []string{`catalog "mysql://db/tarn" (--catalog)`, "use a postgres://"}},
		{name: "BadConfig", config: "catalog: mysql://db/tarn\n", args: []string{"status"}, code: 2,
			mentions: []string{"catalog: in ", "config.yml"}},
		{name: "Unreachable", args: []string{"table", "ls", "--catalog", unreachable}, code: 1,
			mentions: []string{"cannot reach PostgreSQL at 127.0.0.1:1", "connection refused", "--catalog"}},
		{name: "UnreachableFromEnv", env: unreachable, args: []string{"user", "ls"}, code: 1,
			mentions: []string{"cannot reach PostgreSQL at 127.0.0.1:1"}},
		{name: "FlagBeatsConfig", config: "catalog: " + unreachable + "\n", args: []string{"status", "--catalog", "sqlite"},
			mentions: []string{"(SQLite)"}},
		{name: "FlagBeatsEnv", env: unreachable, args: []string{"status", "--catalog", "sqlite"}, mentions: []string{"(SQLite)"}},
		{name: "EnvBeatsConfig", config: "catalog: mysql://db/tarn\n", env: "sqlite", args: []string{"status"}, mentions: []string{"(SQLite)"}},
		{name: "WithEndpoint", args: []string{"status", "--catalog", unreachable, "--endpoint", "http://127.0.0.1:1"}, code: 2,
			mentions: []string{"--catalog opens a lakehouse here, --endpoint"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := newLakehouse(t)
			if tc.config != "" {
				os.MkdirAll(l.home, 0o755)
				if err := os.WriteFile(filepath.Join(l.home, "config.yml"), []byte(tc.config), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			l.env = append(l.env, "TARN_CATALOG="+tc.env)
			r := l.run(tc.args...)
			out := r.stdout + r.stderr
			if r.code != tc.code {
				t.Fatalf("tarn %s: exit %d, want %d\n%s", strings.Join(tc.args, " "), r.code, tc.code, out)
			}
			for _, m := range tc.mentions {
				if !strings.Contains(out, m) {
					t.Errorf("output does not mention %q:\n%s", m, out)
				}
			}
			if strings.Contains(out, "s3cret") {
				t.Errorf("output shows the password:\n%s", out)
			}
		})
	}
}
