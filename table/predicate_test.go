package table

import (
	"strings"
	"testing"

	"github.com/apache/iceberg-go"
)

func TestParsePredicate(t *testing.T) {
	schema := iceberg.NewSchema(0,
		iceberg.NestedField{ID: 1, Name: "id", Type: iceberg.PrimitiveTypes.Int64},
		iceberg.NestedField{ID: 2, Name: "fare", Type: iceberg.PrimitiveTypes.Float64},
		iceberg.NestedField{ID: 3, Name: "zone", Type: iceberg.PrimitiveTypes.String},
		iceberg.NestedField{ID: 4, Name: "ts", Type: iceberg.PrimitiveTypes.TimestampTz},
		iceberg.NestedField{ID: 5, Name: "day", Type: iceberg.PrimitiveTypes.Date},
	)
	ok := []struct{ in, want string }{
		{"id = 3", "Equal(term=Reference(name='id'), literal=3)"},
		{"fare >= 2", "GreaterThanEqual(term=Reference(name='fare'), literal=2)"},
		{"zone <> 'O''Hare'", "NotEqual(term=Reference(name='zone'), literal=O'Hare)"},
		{"id in (1, 2, 3)", "In"},
		{"zone NOT IN ('a', 'b')", "NotIn"},
		{"zone is null", "IsNull"},
		{"zone IS NOT NULL", "NotNull"},
		{"id between 1 and 5", "And"},
		{"(id < 3 or id > 10) and not zone = 'x'", "And"},
		{"ts >= TIMESTAMP '2026-01-01T00:00:00Z'", "GreaterThanEqual"},
		{"day = DATE '2026-01-02'", "Equal"},
		{`"zone" = 'a'`, "Equal"},
	}
	for _, tc := range ok {
		t.Run("OK/"+tc.in, func(t *testing.T) {
			e, err := ParsePredicate(tc.in, schema)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(e.String(), tc.want) {
				t.Fatalf("ParsePredicate(%q) = %s, want it to contain %s", tc.in, e, tc.want)
			}
		})
	}
	bad := []struct{ in, want string }{
		{"fair > 1", `did you mean "fare"`},
		{"id = 'abc'", "does not fit"},
		{"id >", "expected a literal"},
		{"id = 1 and", "expected a column"},
		{"zone = 'open", "unterminated"},
		{"id = 1 2", "unexpected"},
		{"id ~ 3", "unexpected character"},
		{"id in (1, 2", "expected"},
	}
	for _, tc := range bad {
		t.Run("Err/"+tc.in, func(t *testing.T) {
			_, err := ParsePredicate(tc.in, schema)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("ParsePredicate(%q) error = %v, want %q", tc.in, err, tc.want)
			}
		})
	}
}
