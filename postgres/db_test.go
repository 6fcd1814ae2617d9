package postgres_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/tarnhq/tarn"
	"github.com/tarnhq/tarn/postgres"
)

func TestRedact(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"postgres://tarn:secret@db:5432/tarn", "postgres://tarn:xxxxx@db:5432/tarn"},
		{"postgres://tarn@db/tarn?search_path=lake", "postgres://tarn@db/tarn?search_path=lake"},
		{"postgresql://db/tarn", "postgresql://db/tarn"},
		{"postgres://a:b@[::1", "postgres://(unparsable URL)"},
	} {
		if got := postgres.Redact(tc.in); got != tc.want {
			t.Errorf("Redact(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// TestOpen_Err: what cannot be a database, or cannot be reached, is
// refused at once with what to fix, and no password in the message.
func TestOpen_Err(t *testing.T) {
	for _, tc := range []struct {
		name, dsn string
		code      string
		mentions  []string
	}{
		{"NotAURL", "host=db user=tarn", tarn.EINVALID, []string{"not a PostgreSQL URL", "postgres://USER:PASSWORD@HOST:PORT/DATABASE"}},
		{"BadURL", "postgres://tarn:secret@db:notaport/tarn", tarn.EINVALID, []string{"catalog URL"}},
		{"Unreachable", "postgres://tarn:secret@127.0.0.1:1/tarn", tarn.EINTERNAL,
			[]string{"open the catalog database: cannot reach PostgreSQL at 127.0.0.1:1", "connection refused", "check that it runs there", "--catalog"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			_, err := postgres.Open(ctx, tc.dsn)
			if tarn.ErrorCode(err) != tc.code {
				t.Fatalf("Open(%q) = %v (code %s), want code %s", tc.dsn, err, tarn.ErrorCode(err), tc.code)
			}
			for _, m := range tc.mentions {
				if !strings.Contains(err.Error(), m) {
					t.Errorf("error %q does not mention %q", err, m)
				}
			}
			if strings.Contains(err.Error(), "secret") {
				t.Errorf("error shows the password: %v", err)
			}
		})
	}
}
