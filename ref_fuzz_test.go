package tarn

import (
	"strings"
	"testing"
)

// FuzzParseRef: any text parses or is refused with EINVALID, never a
// panic; what parses keeps its base, and its steps account for the rest.
func FuzzParseRef(f *testing.F) {
	for _, s := range []string{"main", "main~2", "v1@{2026-05-19T06:11:33Z}", "abc123~", "dev~1@{2026-01-01T00:00:00+02:00}~3", "~1", "a@{", "a@{}", "a~99999999999999999999", "main@x",
		"main@abcd", "main@abcd~2", "v1@0123abcd@{2026-01-01}", "main~1@abcd", "main@abc"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		expr, err := ParseRef(s)
		if err != nil {
			if ErrorCode(err) != EINVALID {
				t.Fatalf("ParseRef(%q): %v is not EINVALID", s, err)
			}
			return
		}
		if !strings.HasPrefix(s, expr.Base) || expr.Base == "" {
			t.Fatalf("ParseRef(%q): base %q", s, expr.Base)
		}
		if expr.IsPlain() != (len(s) == len(expr.Base)) {
			t.Fatalf("ParseRef(%q): plain=%v with base %q", s, expr.IsPlain(), expr.Base)
		}
		for i, st := range expr.Steps {
			if st.Ancestors < 0 {
				t.Fatalf("ParseRef(%q): negative ancestor count %d", s, st.Ancestors)
			}
			if st.Commit != "" && (i > 0 || len(st.Commit) < MinHistoryPrefix || len(st.Commit) > 64 || !hexRe.MatchString(st.Commit) ||
				!strings.HasPrefix(s[len(expr.Base):], "@"+st.Commit)) {
				t.Fatalf("ParseRef(%q): step %d names commit %q", s, i, st.Commit)
			}
		}
	})
}
