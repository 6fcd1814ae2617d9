package query_test

import (
	"context"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/tarnhq/tarn"
	"github.com/tarnhq/tarn/query"
)

// TestEngine_LongSQLErrors: an error about a long statement shows the
// place of the problem, not the whole statement.
func TestEngine_LongSQLErrors(t *testing.T) {
	l := tripsLake(t)
	long := "select '" + strings.Repeat("x", 3<<20) + "' as a, "
	for _, sql := range []string{
		long + "from from trips",          // syntax error at the end of a 3 MB line
		"select from from trips, " + long, // at the start of it
		long + "nosuchcolumn from trips",  // a binder error from DuckDB
	} {
		_, err := l.engine.Run(context.Background(), query.Request{SQL: sql})
		if tarn.ErrorCode(err) != tarn.EINVALID {
			t.Fatalf("error %.200v, want code invalid", err)
		}
		if msg := err.Error(); len(msg) > 1000 {
			t.Fatalf("the error echoes %d bytes of SQL: %.300s…", len(msg), msg)
		}
	}
	// The caret still points at the problem.
	_, err := l.engine.Run(context.Background(), query.Request{SQL: strings.Repeat(" ", 500) + "select from from trips"})
	lines := strings.Split(err.Error(), "\n")
	at := func(s, sub string) int { return utf8.RuneCountInString(s[:strings.Index(s, sub)]) }
	if len(lines) != 3 || at(lines[2], "^") != at(lines[1], "from from")+5 {
		t.Fatalf("caret misplaced:\n%s", err)
	}
}
