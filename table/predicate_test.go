package table

import (
	"strings"
	"testing"

	"github.com/apache/iceberg-go"
	"github.com/tarnhq/tarn"
)

var predicateSchema = iceberg.NewSchema(0,
	iceberg.NestedField{ID: 1, Name: "id", Type: iceberg.PrimitiveTypes.Int64},
	iceberg.NestedField{ID: 2, Name: "x", Type: iceberg.PrimitiveTypes.Float64},
	iceberg.NestedField{ID: 3, Name: "name", Type: iceberg.PrimitiveTypes.String},
	iceberg.NestedField{ID: 4, Name: "flag", Type: iceberg.PrimitiveTypes.Bool},
	iceberg.NestedField{ID: 5, Name: "price", Type: iceberg.DecimalTypeOf(10, 2)},
	iceberg.NestedField{ID: 6, Name: "day", Type: iceberg.PrimitiveTypes.Date},
	iceberg.NestedField{ID: 7, Name: "ts", Type: iceberg.PrimitiveTypes.TimestampTz},
)

// TestRowFilter_Pushdown checks what a lake input's filter prunes files by
// (planning) and what the rows of the planned files are read with
// (reading); the shared vectors check that neither loses a row the filter
// keeps.
func TestRowFilter_Pushdown(t *testing.T) {
	const (
		all  = "AlwaysTrue()"
		none = "AlwaysFalse()"
	)
	eq := func(col, lit string) string { return "Equal(term=Reference(name='" + col + "'), literal=" + lit + ")" }
	cases := []struct{ filter, planning, reading string }{
		{"id = 1", eq("id", "1"), eq("id", "1")},
		{"1 < id", "GreaterThan(term=Reference(name='id'), literal=1)", "GreaterThan(term=Reference(name='id'), literal=1)"},
		{"NOT id < 3", "GreaterThanEqual(term=Reference(name='id'), literal=3)", "GreaterThanEqual(term=Reference(name='id'), literal=3)"},
		{"NOT x < 3", all, all}, // NaN < 3 is false, so NOT holds for NaN; x >= 3 does not
		{"x != 2", "NotEqual(term=Reference(name='x'), literal=2)", "NotEqual(term=Reference(name='x'), literal=2)"},
		{"id = 1 AND name LIKE 'a%'", "And(left=" + eq("id", "1") + ", right=StartsWith(term=Reference(name='name'), literal=a))", eq("id", "1")},
		{"NOT name LIKE 'a%'", "NotStartsWith(term=Reference(name='name'), literal=a)", all},
		{"name LIKE 'abc'", eq("name", "abc"), eq("name", "abc")},
		{`name LIKE 'a\%%'`, "StartsWith(term=Reference(name='name'), literal=a%)", all},
		{"name LIKE 'a_%'", all, all},
		{"name ILIKE 'a%'", all, all},
		{"flag", eq("flag", "true"), eq("flag", "true")},
		{"NOT flag", eq("flag", "false"), eq("flag", "false")},
		{"flag < TRUE", all, all},
		{"id IN (1, NULL)", eq("id", "1"), eq("id", "1")},
		{"id NOT IN (1, NULL)", none, none},
		{"NOT id NOT IN (1, NULL)", eq("id", "1"), eq("id", "1")},
		{"id = NULL", none, none},
		{"NOT id = NULL", none, none},
		{"price > 3", "GreaterThan(term=Reference(name='price'), literal=3.00)", all},
		{"price IS NULL AND id = 1", "And(left=IsNull(term=Reference(name='price')), right=" + eq("id", "1") + ")", eq("id", "1")},
		{"NOT id BETWEEN 1 AND 5", "Or(left=LessThan(term=Reference(name='id'), literal=1), right=GreaterThan(term=Reference(name='id'), literal=5))",
			"Or(left=LessThan(term=Reference(name='id'), literal=1), right=GreaterThan(term=Reference(name='id'), literal=5))"},
		{"id < 1.5", all, all}, // not exact in a long: left to the rows
		{"id = 2.0", eq("id", "2"), eq("id", "2")},
		{"id > x OR id = 3", all, all},
		{"NOT (id = 1 OR name ILIKE 'x')", "NotEqual(term=Reference(name='id'), literal=1)", "NotEqual(term=Reference(name='id'), literal=1)"},
		{"day = '2024-01-02'", eq("day", "2024-01-02"), eq("day", "2024-01-02")},
		{"ts >= DATE '2024-01-02'", "GreaterThanEqual(term=Reference(name='ts'), literal=2024-01-02 00:00:00.000000)",
			"GreaterThanEqual(term=Reference(name='ts'), literal=2024-01-02 00:00:00.000000)"},
		{"TRUE", all, all},
		{"NOT TRUE", none, none},
		{"NULL", none, none},
	}
	for _, tc := range cases {
		t.Run("OK/"+tc.filter, func(t *testing.T) {
			f, err := ParseRowFilter(tc.filter)
			if err != nil {
				t.Fatal(err)
			}
			if got := f.pushdown(predicateSchema, false).String(); got != tc.planning {
				t.Errorf("planning pushdown of %q = %s, want %s", tc.filter, got, tc.planning)
			}
			if got := f.pushdown(predicateSchema, true).String(); got != tc.reading {
				t.Errorf("reading pushdown of %q = %s, want %s", tc.filter, got, tc.reading)
			}
		})
	}
}

func TestParsePredicate(t *testing.T) {
	ok := []struct{ in, want string }{
		{"id = 3", "Equal(term=Reference(name='id'), literal=3)"},
		{"x >= 2", "GreaterThanEqual(term=Reference(name='x'), literal=2)"},
		{"name <> 'O''Hare'", "NotEqual(term=Reference(name='name'), literal=O'Hare)"},
		{"id in (3)", "Equal(term=Reference(name='id'), literal=3)"}, // iceberg-go prints sets of more in map order
		{"name NOT IN ('a')", "NotEqual(term=Reference(name='name'), literal=a)"},
		{"name is null", "IsNull(term=Reference(name='name'))"},
		{"name IS NOT NULL", "NotNull(term=Reference(name='name'))"},
		{"id between 1 and 5", "And(left=GreaterThanEqual(term=Reference(name='id'), literal=1), right=LessThanEqual(term=Reference(name='id'), literal=5))"},
		{"NOT flag", "Not(child=Equal(term=Reference(name='flag'), literal=true))"},
		{"ts >= TIMESTAMP '2026-01-01T00:00:00Z'", "GreaterThanEqual(term=Reference(name='ts'), literal=2026-01-01 00:00:00.000000)"},
		{"day = DATE '2026-01-02'", "Equal(term=Reference(name='day'), literal=2026-01-02)"},
		{`"name" = 'a'`, "Equal(term=Reference(name='name'), literal=a)"},
		{"3 > id", "LessThan(term=Reference(name='id'), literal=3)"},
		{"price = 1.5", "Equal(term=Reference(name='price'), literal=1.50)"},
	}
	for _, tc := range ok {
		t.Run("OK/"+tc.in, func(t *testing.T) {
			e, err := ParsePredicate(tc.in, predicateSchema)
			if err != nil {
				t.Fatal(err)
			}
			if e.String() != tc.want {
				t.Fatalf("ParsePredicate(%q) = %s, want %s", tc.in, e, tc.want)
			}
		})
	}
	bad := []struct{ in, want string }{
		{"fare > 1", `refers to fare, which the input does not have (columns: id, x, name, flag, price, day, ts)`},
		{"nme > 1", `did you mean "name"`},
		{"id = 'abc'", "'abc' does not fit column id of type long exactly"},
		{"id >", "expected a column name or a literal value, found end of filter at position 5"},
		{"name = 'open", "unterminated string: end it with ' at position 8"},
		{"id = 1 2", "expected AND, OR or the end of the filter, found '2' at position 8"},
		{"id ~ 3", "unexpected character '~' at position 4"},
		{"name LIKE 'a%'", "an overwrite filter cannot use LIKE: Iceberg selects the rows a write replaces by comparing columns with values; use =, IN or a range"},
		{"id > x", "cannot use a comparison of two columns (id > x)"},
		{"id IN (1, NULL)", "cannot use NULL in an IN list"},
		{"1 = 1", "1 = 1 compares two values; one side must be a column"},
	}
	for _, tc := range bad {
		t.Run("Err/"+tc.in, func(t *testing.T) {
			_, err := ParsePredicate(tc.in, predicateSchema)
			if err == nil || !strings.Contains(err.Error(), tc.want) || tarn.ErrorCode(err) != tarn.EINVALID {
				t.Fatalf("ParsePredicate(%q) error = %v, want EINVALID containing %q", tc.in, err, tc.want)
			}
		})
	}
}

func TestRowFilter_Columns(t *testing.T) {
	f, err := ParseRowFilter(`b > a AND (a IN (1) OR "c d" LIKE 'x') AND NOT e IS NULL AND f`)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(f.Columns(), ","); got != "b,a,c d,e,f" {
		t.Fatalf("Columns() = %s", got)
	}
}
