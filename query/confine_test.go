package query_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tarnhq/tarn/query"
)

// TestEngine_Confined: a confined engine reads only its allowed folders;
// CopyTo writes into a folder no other query can read, and its own SQL
// reads nothing else either.
func TestEngine_Confined(t *testing.T) {
	l := tripsLake(t)
	e := query.New(l.svc, query.Options{AllowedDirs: []string{filepath.Join(l.dir, "warehouse")}})
	t.Cleanup(func() { e.Close() })
	ctx := context.Background()
	secret := l.write("secret.env", "TOKEN=x\n")
	exports := filepath.Join(l.dir, "exports", "j1")
	if err := os.MkdirAll(exports, 0o700); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(exports, "result")
	res, err := e.CopyFile(ctx, query.Request{SQL: "select * from trips where id < 10"}, query.FormatCSV, out)
	if err != nil || res.Rows != 10 {
		t.Fatalf("export into its own folder: %+v %v", res, err)
	}
	for _, tc := range []struct {
		sql         string
		exportReads bool // the export's own folder: its own job may read it
	}{
		{"select * from read_text('" + secret + "')", false},
		{"select * from read_csv('" + out + "')", true},
		{"select * from read_text('" + filepath.Join(l.dir, "exports") + "/*/*')", false},
		{"select * from glob('" + l.dir + "/*')", false},
	} {
		_, err := e.Run(ctx, query.Request{SQL: tc.sql})
		if err == nil || !strings.Contains(err.Error(), "disabled by configuration") {
			t.Errorf("%s: %v, want refused", tc.sql, err)
		}
		_, err = e.CopyFile(ctx, query.Request{SQL: tc.sql}, query.FormatCSV, filepath.Join(exports, "again"))
		if refused := err != nil && strings.Contains(err.Error(), "disabled by configuration"); refused == tc.exportReads {
			t.Errorf("export of %s: %v", tc.sql, err)
		}
	}
	// The warehouse stays readable, through tables and by path.
	got, err := e.Run(ctx, query.Request{SQL: "select count(*) from read_parquet('" + filepath.Join(l.dir, "warehouse") + "/**/*.parquet')"})
	if err != nil {
		t.Fatal(err)
	}
	got.Close()
}
