package server_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestDependencies: the HTTP pair stays a leaf over the root package and
// api. No Go program that talks to a server needs cgo or an embedded
// engine, and the server reaches the engines only through the service
// interfaces.
func TestDependencies(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("no go tool")
	}
	banned := map[string][]string{
		"../client": {"github.com/duckdb/", "github.com/apache/iceberg-go", "modernc.org/sqlite", "github.com/tarnhq/tarn/pipeline", "github.com/tarnhq/tarn/runtime",
			"github.com/tarnhq/tarn/local", "github.com/tarnhq/tarn/server", "github.com/tarnhq/tarn/query", "github.com/tarnhq/tarn/table"},
		"../server": {"github.com/duckdb/", "github.com/apache/iceberg-go", "modernc.org/sqlite", "github.com/tarnhq/tarn/local",
			"github.com/tarnhq/tarn/query", "github.com/tarnhq/tarn/table", "github.com/tarnhq/tarn/pipeline", "github.com/tarnhq/tarn/runtime"},
	}
	for pkg, bad := range banned {
		out, err := exec.Command("go", "list", "-deps", pkg).Output()
		if err != nil {
			t.Fatalf("go list -deps %s: %v", pkg, err)
		}
		for _, dep := range strings.Fields(string(out)) {
			for _, b := range bad {
				if strings.HasPrefix(dep, b) {
					t.Errorf("%s depends on %s", pkg, dep)
				}
			}
		}
	}
}
