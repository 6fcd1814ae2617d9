package tarn

import (
	"unicode"
	"unicode/utf8"
)

// MaxColumns is the most columns a table may have, counting the fields
// inside nested columns (each struct field, list element, map key and map
// value is one). Iceberg stores a table's schema as JSON in the header of
// every manifest file, and the Avro library iceberg-go writes them with
// refuses a header value over 1 MiB (a 20,000-column CSV with names like
// "c12345" needs 1.1 MiB); 4,096 columns with names of 40 characters take
// about 400 KiB. The table package also checks the schema's actual size.
const MaxColumns = 4096

// MaxColumnNameLen is the longest column name, in bytes of UTF-8.
const MaxColumnNameLen = 255

// ValidColumnName checks one column name, or the name of a field inside a
// nested column: it must not be empty, must be valid UTF-8 of at most
// MaxColumnNameLen bytes, and must not hold control characters (NUL, tab,
// newline, DEL, ...), which SQL cannot name reliably. Every other character
// is allowed; queries name such columns in double quotes ("fare amount").
// The error is EINVALID.
func ValidColumnName(name string) error {
	switch {
	case name == "":
		return Errorf(EINVALID, "empty column name: give every column a name")
	case len(name) > MaxColumnNameLen:
		return Errorf(EINVALID, "column name %s is longer than the %d bytes allowed: shorten it", Quote(name), MaxColumnNameLen)
	case !utf8.ValidString(name):
		return Errorf(EINVALID, "column name %s is not valid UTF-8: rename the column or convert the file to UTF-8", Quote(name))
	}
	for _, r := range name {
		if unicode.IsControl(r) {
			return Errorf(EINVALID, "column name %s holds the control character %U, which SQL cannot name: rename the column", Quote(name), r)
		}
	}
	return nil
}

// ColumnKey returns the form of a column name under which SQL finds the
// column. DuckDB matches identifiers ignoring the case of ASCII letters
// (but not of other letters: "é" and "É" are two columns), so "Fare" and
// "fare" name the same column in a query. Two columns of a table, or two
// fields of one struct, must not share a key.
func ColumnKey(name string) string {
	b := []byte(name)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

// ColumnNames collects the names of sibling columns (the top-level columns
// of a table, or the fields of one struct) and refuses a name that is not
// valid or that SQL could not tell from one added before. The zero value is
// ready to use.
type ColumnNames struct {
	index map[string]int // key -> position
	names []string
}

// Add adds the next name. It returns an EINVALID error when the name is not
// a valid column name, or appears already, or differs from an earlier name
// only in the case of ASCII letters.
func (c *ColumnNames) Add(name string) error {
	if err := ValidColumnName(name); err != nil {
		return err
	}
	key := ColumnKey(name)
	if i, ok := c.index[key]; ok {
		if prev := c.names[i]; prev != name {
			return Errorf(EINVALID, "column names %s and %s differ only in case, and SQL does not tell them apart: rename one of them", Quote(prev), Quote(name))
		}
		return Errorf(EINVALID, "duplicate column name %s: rename one of the columns", Quote(name))
	}
	if c.index == nil {
		c.index = map[string]int{}
	}
	c.index[key] = len(c.names)
	c.names = append(c.names, name)
	return nil
}

// Position returns the 0-based position of the added name SQL would take
// name for, and whether there is one.
func (c *ColumnNames) Position(name string) (int, bool) {
	i, ok := c.index[ColumnKey(name)]
	return i, ok
}

// Len returns the number of names added.
func (c *ColumnNames) Len() int { return len(c.names) }

// ValidColumnCount checks the number of columns of a schema, counted as
// MaxColumns says. The error is EINVALID.
func ValidColumnCount(n int) error {
	if n > MaxColumns {
		return Errorf(EINVALID, "%d columns are more than the %d a table can have (fields inside nested columns count too): drop columns or split the data into several tables", n, MaxColumns)
	}
	return nil
}
