package table

import (
	"math"
	"slices"
	"strings"
	"testing"
)

func TestBindFilter(t *testing.T) {
	values := map[string]any{"min": int64(3), "rate": 2.0, "zone": "it's", "on": true, "none": nil, "evil": "x' OR TRUE OR 'a"}
	for _, c := range []struct{ in, want string }{
		{"miles > $min", "miles > 3"},
		{"fare >= $rate AND zone = $zone", "fare >= 2.0 AND zone = 'it''s'"},
		{"flag = $on OR x IS NULL", "flag = TRUE OR x IS NULL"},
		{"zone = '$min'", "zone = '$min'"}, // inside a string: text, not a parameter
		{`"$min" > $min`, `"$min" > 3`},    // inside a quoted name too
		{"zone IN ($zone, $zone)", "zone IN ('it''s', 'it''s')"},
		{"zone = $evil", "zone = 'x'' OR TRUE OR ''a'"},
		{"z = $none", "z = NULL"},
		{"π > $min", "π > 3"},
	} {
		got, err := BindFilter(c.in, values)
		if err != nil || got != c.want {
			t.Errorf("BindFilter(%q) = %q, %v; want %q", c.in, got, err, c.want)
		}
	}
	// The injected value stays one string literal: the filter has one condition.
	bound, _ := BindFilter("zone = $evil", values)
	f, err := ParseRowFilter(bound)
	if err != nil || !slices.Equal(f.Columns(), []string{"zone"}) {
		t.Fatalf("%q parsed as %v, %v", bound, f, err)
	}
	if _, err := BindFilter("miles > $nope", values); err == nil || !strings.Contains(err.Error(), "$nope") || !strings.Contains(err.Error(), "--param nope=") {
		t.Fatalf("an unbound parameter: %v", err)
	}
	if _, err := BindFilter("miles > $x", map[string]any{"x": math.NaN()}); err == nil || !strings.Contains(err.Error(), "$x") {
		t.Fatalf("NaN: %v", err)
	}
	if _, err := ParseRowFilter("miles > $min"); err == nil || !strings.Contains(err.Error(), "$min is a run parameter") {
		t.Fatalf("an unbound filter parsed: %v", err)
	}
}

func TestFilterParams(t *testing.T) {
	got, err := FilterParams("a > $x AND b = '$y' AND (c < $z OR d = $x)")
	if err != nil || !slices.Equal(got, []string{"x", "z"}) {
		t.Fatalf("%v, %v", got, err)
	}
	if _, err := FilterParams("a = 'open"); err == nil {
		t.Fatal("a lexing error was not reported")
	}
}
