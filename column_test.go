package tarn_test

import (
	"strings"
	"testing"

	"github.com/tarnhq/tarn"
)

// wantError fails the test unless err carries code and mentions each
// string.
func wantError(t *testing.T, err error, code string, mentions ...string) {
	t.Helper()
	if !tarn.IsCode(err, code) {
		t.Fatalf("error %.400v, want code %s", err, code)
	}
	for _, m := range mentions {
		if !strings.Contains(err.Error(), m) {
			t.Errorf("error %.400q does not mention %q", err, m)
		}
	}
}

func TestValidColumnName(t *testing.T) {
	tests := []struct {
		name     string
		column   string
		mentions []string // nil: valid
	}{
		{"OK/plain", "fare", nil},
		{"OK/spaces and punctuation", `fare amount (USD) "net"`, nil},
		{"OK/dots", "a.b", nil},
		{"OK/unicode", "prix_€_é", nil},
		{"OK/longest", strings.Repeat("x", tarn.MaxColumnNameLen), nil},
		{"Err/empty", "", []string{"empty column name"}},
		{"Err/NUL", "a\x00b", []string{`"a\x00b"`, "U+0000"}},
		{"Err/newline", "a\nb", []string{`"a\nb"`, "U+000A"}},
		{"Err/tab", "a\tb", []string{"U+0009"}},
		{"Err/DEL", "a\x7f", []string{"U+007F"}},
		{"Err/C1 control", "a\u0085", []string{"U+0085"}},
		{"Err/invalid UTF-8", "a\xff", []string{"not valid UTF-8"}},
		{"Err/too long", strings.Repeat("x", tarn.MaxColumnNameLen+1), []string{"256 bytes", "255"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tarn.ValidColumnName(tt.column)
			if tt.mentions == nil {
				if err != nil {
					t.Fatalf("ValidColumnName(%q) = %v", tt.column, err)
				}
				return
			}
			wantError(t, err, tarn.EINVALID, tt.mentions...)
			if len(err.Error()) > 300 {
				t.Errorf("error is %d bytes long: the name must be shortened", len(err.Error()))
			}
		})
	}
}

func TestColumnNames_Add(t *testing.T) {
	tests := []struct {
		name     string
		columns  []string
		mentions []string // nil: all accepted
	}{
		{"OK/distinct", []string{"id", "fare", "Fare_2"}, nil},
		{"OK/non-ASCII case differs", []string{"é", "É"}, nil}, // DuckDB folds ASCII letters only
		{"Err/duplicate", []string{"id", "fare", "id"}, []string{`duplicate column name "id"`}},
		{"Err/case only", []string{"fare", "FARE"}, []string{`"fare" and "FARE" differ only in case`}},
		{"Err/invalid name", []string{"id", ""}, []string{"empty column name"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var names tarn.ColumnNames
			var err error
			for _, c := range tt.columns {
				if err = names.Add(c); err != nil {
					break
				}
			}
			if tt.mentions == nil {
				if err != nil || names.Len() != len(tt.columns) {
					t.Fatalf("Add: %v (%d names)", err, names.Len())
				}
				return
			}
			wantError(t, err, tarn.EINVALID, tt.mentions...)
		})
	}
	var names tarn.ColumnNames
	names.Add("id")
	names.Add("Fare")
	if i, ok := names.Position("fare"); !ok || i != 1 {
		t.Errorf("Position(fare) = %d, %v; want 1, true", i, ok)
	}
	if _, ok := names.Position("amount"); ok {
		t.Error("Position(amount) found a column")
	}
}

func TestValidColumnCount(t *testing.T) {
	if err := tarn.ValidColumnCount(tarn.MaxColumns); err != nil {
		t.Errorf("ValidColumnCount(MaxColumns) = %v", err)
	}
	wantError(t, tarn.ValidColumnCount(tarn.MaxColumns+1), tarn.EINVALID, "4097 columns", "4096")
}

func TestSuggest(t *testing.T) {
	tests := []struct {
		name       string
		candidates []string
		want       string
	}{
		{"trip", []string{"trips", "zones"}, ` (did you mean "trips"?)`},
		{"trips", []string{"trips"}, ""}, // never the name itself
		{"trips", []string{"trips", "trip"}, ` (did you mean "trip"?)`},
		{"Trips", []string{"trips"}, ` (did you mean "trips"?)`}, // names are case-sensitive in the catalog
		{"xyz", []string{"trips"}, ""},
	}
	for _, tt := range tests {
		if got := tarn.Suggest(tt.name, tt.candidates); got != tt.want {
			t.Errorf("Suggest(%q, %q) = %q, want %q", tt.name, tt.candidates, got, tt.want)
		}
	}
}

func TestValidateNamespace(t *testing.T) {
	for _, ok := range []string{"tarn", "staging", "memory_x", "main2"} {
		if err := tarn.ValidateNamespace(ok); err != nil {
			t.Errorf("ValidateNamespace(%q) = %v", ok, err)
		}
	}
	// The names of DuckDB's own databases and schemas, in any case.
	for _, reserved := range []string{"memory", "Memory", "system", "temp", "main", "information_schema", "pg_catalog"} {
		wantError(t, tarn.ValidateNamespace(reserved), tarn.EINVALID, "reserved", "choose another name")
	}
	long := strings.Repeat("n", 10000)
	if err := tarn.ValidateNamespace(long); err == nil || len(err.Error()) > 200 {
		t.Errorf("ValidateNamespace(10000 bytes) = %.300v", err)
	}
}

func TestParseTableIdent_BoundedMessages(t *testing.T) {
	for _, s := range []string{strings.Repeat("a.", 5000) + "b", "tarn." + strings.Repeat("t", 10000)} {
		_, err := tarn.ParseTableIdent(s, tarn.DefaultNamespace)
		if !tarn.IsCode(err, tarn.EINVALID) || len(err.Error()) > 200 {
			t.Errorf("ParseTableIdent(%d bytes) = %.300v", len(s), err)
		}
	}
}
