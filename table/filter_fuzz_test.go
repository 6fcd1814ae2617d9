package table

import (
	"strings"
	"testing"

	"github.com/tarnhq/tarn"
)

// FuzzRowFilter: any text parses or is refused with EINVALID, never a
// panic; binding parameters never changes what the filter refers to, and
// a string value never becomes syntax.
func FuzzRowFilter(f *testing.F) {
	for _, s := range []string{"miles > 0", "zone IN ('a', 'b') AND NOT flag", "x BETWEEN 1 AND $hi", `"odd name" LIKE 'a\%%'`,
		"d = DATE '2024-01-31' OR t >= TIMESTAMP '2024-01-01T00:00:00Z'", "(a = 1", "a = 'open", "$", "x = $p", "-", "1e999 < x", "a <> -.5e-3"} {
		f.Add(s, "it's")
	}
	f.Fuzz(func(t *testing.T, text, value string) {
		flt, err := ParseRowFilter(text)
		if err != nil && tarn.ErrorCode(err) != tarn.EINVALID {
			t.Fatalf("ParseRowFilter(%q): %v is not EINVALID", text, err)
		}
		if err == nil {
			_ = flt.Columns()
			_ = flt.CheckOverwrite()
		}
		names, err := FilterParams(text)
		if err != nil {
			return
		}
		values := map[string]any{}
		for _, n := range names {
			values[n] = value
		}
		bound, err := BindFilter(text, values)
		if err != nil {
			t.Fatalf("BindFilter(%q) after FilterParams succeeded: %v", text, err)
		}
		left, err := FilterParams(bound)
		if err != nil || len(left) != 0 {
			t.Fatalf("BindFilter(%q) = %q still has parameters %v (%v)", text, bound, left, err)
		}
		plain := map[string]any{}
		for _, n := range names {
			plain[n] = "x"
		}
		reference, _ := BindFilter(text, plain)
		if before, err := ParseRowFilter(reference); err == nil {
			after, err := ParseRowFilter(bound)
			if err != nil {
				t.Fatalf("%q parses bound to 'x' but not to %q: %v", text, value, err)
			}
			if strings.Join(before.Columns(), "\x00") != strings.Join(after.Columns(), "\x00") {
				t.Fatalf("binding %q changed the columns of %q: %v -> %v", value, text, before.Columns(), after.Columns())
			}
		}
	})
}
