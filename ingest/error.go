package ingest

import (
	"fmt"
	"strings"

	"github.com/tarnhq/tarn"
)

// Error is a located problem with the input: a malformed row, a value that
// does not parse, an empty file, a schema conflict. Line is the 1-based line
// of the row (0 when unknown or not applicable, e.g. for Parquet) and Column
// is the column name ("" when the problem is not about one column).
type Error struct {
	File   string
	Line   int
	Column string
	Msg    string
}

// Error formats the error as `file:line: column "name": msg`, leaving out the
// parts that are unknown, e.g. `trips.csv:12: column "fare": cannot parse
// "abc" as double` or `trips.csv: file is empty`.
func (e *Error) Error() string {
	var b strings.Builder
	switch {
	case e.File != "" && e.Line > 0:
		fmt.Fprintf(&b, "%s:%d: ", e.File, e.Line)
	case e.File != "":
		b.WriteString(e.File)
		b.WriteString(": ")
	case e.Line > 0:
		fmt.Fprintf(&b, "line %d: ", e.Line)
	}
	if e.Column != "" {
		fmt.Fprintf(&b, "column %s: ", tarn.Quote(e.Column))
	}
	b.WriteString(e.Msg)
	return b.String()
}

// errorf returns an *Error for file f at line (0 if unknown) and column col.
func errorf(f string, line int, col string, format string, args ...any) *Error {
	return &Error{File: f, Line: line, Column: col, Msg: fmt.Sprintf(format, args...)}
}
