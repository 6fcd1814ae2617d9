package ingest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
)

// readerVerdict reads a CSV file with this package's reader under target
// and returns its error (nil when it reads every row).
func readerVerdict(t *testing.T, path string, target *arrow.Schema) error {
	t.Helper()
	rdr, err := (&Source{Files: []File{{Path: path, Format: CSV}}}).Records(context.Background(), target)
	if err != nil {
		return err
	}
	defer rdr.Release()
	for rdr.Next() {
	}
	return rdr.Err()
}

// csvTarget is a schema of nullable columns: the integer ones as ints
// says, the others strings.
func csvTarget(columns []string, ints map[string]arrow.DataType) *arrow.Schema {
	fields := make([]arrow.Field, len(columns))
	for i, c := range columns {
		dt := ints[c]
		if dt == nil {
			dt = arrow.BinaryTypes.String
		}
		fields[i] = arrow.Field{Name: c, Type: dt, Nullable: true}
	}
	return arrow.NewSchema(fields, nil)
}

// agree fails t unless CheckCSVIntegers agrees with the reader on a file:
// what the reader reads in full the check passes; a value of an integer
// column the reader refuses the check refuses, with the reader's file,
// line, column and message.
func agree(t *testing.T, path string, columns []string, ints map[string]arrow.DataType) (checkErr, readErr error) {
	t.Helper()
	checkErr = CheckCSVIntegers(context.Background(), File{Path: path, Format: CSV}, columns, ints)
	readErr = readerVerdict(t, path, csvTarget(columns, ints))
	var ce, re *Error
	if checkErr != nil && !errors.As(checkErr, &ce) {
		t.Fatalf("the check's error is not an *Error: %v", checkErr)
	}
	switch {
	case readErr == nil && checkErr != nil:
		t.Fatalf("the reader reads the file; the check refuses it: %v", checkErr)
	case errors.As(readErr, &re) && ints[re.Column] != nil && strings.HasPrefix(re.Msg, "cannot parse"):
		if checkErr == nil {
			t.Fatalf("the reader refuses the file (%v); the check passes it", readErr)
		}
		if checkErr.Error() != readErr.Error() {
			t.Fatalf("the check says %q; the reader %q", checkErr, readErr)
		}
	}
	return checkErr, readErr
}

// TestCheckCSVIntegers_Values: the check agrees with the reader on every
// value of an integer column, unquoted and quoted, at both widths: the
// values the reader takes pass, the ones it refuses (what DuckDB would
// read loosely: "2.5" as 3, "1e3", "0x10", "1_000") are refused with its
// message and line.
func TestCheckCSVIntegers_Values(t *testing.T) {
	values := []string{
		``, `0`, `-0`, `7`, `-12`, `+5`, `007`, ` 12 `, "\t12", `123456789`, `1234567890`, `123456789012345678`, `9223372036854775807`, `-9223372036854775808`,
		`9223372036854775808`, `2147483647`, `-2147483648`, `2147483648`,
		`2.5`, `1.0`, `.5`, `1e3`, `1E3`, `0x10`, `0b11`, `1_000`, ` `, `abc`, `-`, `+`, `--1`, `1-`, `١٢`, "\u00a012",
	}
	quote := func(v string) string { return `"` + strings.ReplaceAll(v, `"`, `""`) + `"` }
	for _, dt := range []arrow.DataType{arrow.PrimitiveTypes.Int64, arrow.PrimitiveTypes.Int32} {
		for _, v := range values {
			for _, form := range []string{"plain", "quoted", "last"} {
				t.Run(fmt.Sprintf("%s/%s/%q", dt, form, v), func(t *testing.T) {
					// The value on the fourth line, after a record of two
					// lines.
					var row string
					switch form {
					case "plain":
						row = `c,` + v + `,x`
					case "quoted":
						row = `c,` + quote(v) + `,x`
					case "last": // the last field, in a file with CRLF line ends
						row = `c,x,` + v
					}
					columns := []string{"s", "n", "m"}
					ints := map[string]arrow.DataType{"n": dt}
					if form == "last" {
						ints = map[string]arrow.DataType{"m": dt}
					}
					lines := []string{"s,n,m", `"a` + "\n" + `b",1,2`, row, `d,3,4`}
					sep := "\n"
					if form == "last" {
						sep = "\r\n"
					}
					path := writeCSV(t, strings.Join(lines, sep)+sep)
					checkErr, readErr := agree(t, path, columns, ints)
					if _, perr := strconv.ParseInt(strings.TrimSpace(v), 10, dt.(arrow.FixedWidthDataType).BitWidth()); (perr == nil || v == "") != (readErr == nil) {
						t.Fatalf("the reader says %v for %q", readErr, v)
					}
					if readErr != nil && checkErr == nil {
						t.Fatalf("the check passes %q", v)
					}
				})
			}
		}
	}
}

// TestCheckCSVIntegers_Records: the check follows records across
// buffers, multi-line quoted fields, doubled quotes, CRLF, a byte order
// mark and a last line without a newline, and names the line of the bad
// value's field.
func TestCheckCSVIntegers_Records(t *testing.T) {
	cases := []struct {
		name, content string
		wantLine      int // of the refused value; 0: passes
	}{
		{"plain", "a,n,c\n1,2,3\n4,5,6\n", 0},
		{"bom", "\ufeffa,n,c\n1,2,3\n", 0},
		{"bad", "a,n,c\n1,2,3\n4,2.5,6\n", 3},
		{"no newline at the end", "a,n,c\n1,2,3\n4,1e3,6", 3},
		{"quoted header", "\"a\",\"n\",\"c\"\n1,2,3\n4,x,6\n", 3},
		{"quoted newline before", "a,n,c\n\"x\ny\nz\",2,3\n4,0x10,6\n", 5},
		{"quoted newline after", "a,n,c\n1,2,\"x\ny\"\n4,5,\"q\"\"\n\"\"\"\n7,_1,9\n", 6},
		{"the bad value on a later line of its record", "a,n,c\n\"x\ny\",1_000,3\n", 3},
		{"doubled quotes", "a,n,c\n\"say \"\"hi\"\"\",\"12\",\"\"\"\"\n\"\"\"\",\"1\"\"\",3\n", 3},
		{"crlf", "a,n,c\r\n1,2,3\r\n4,5.0,6\r\n", 3},
		{"blank lines", "a,n,c\n\n1,2,3\n\n4,5,6\n\n", 0},
		{"commas in quotes", "a,n,c\n\"1,2\",3,\"4,5\"\n\",\",x,\n", 3},
	}
	for _, size := range []int{1, 3, 7, 64, 4 << 20} {
		for _, c := range cases {
			t.Run(fmt.Sprintf("%d/%s", size, c.name), func(t *testing.T) {
				old := csvCheckBuffer
				csvCheckBuffer = size
				defer func() { csvCheckBuffer = old }()
				path := writeCSV(t, c.content)
				checkErr, readErr := agree(t, path, []string{"a", "n", "c"}, map[string]arrow.DataType{"n": arrow.PrimitiveTypes.Int64})
				var ce *Error
				switch {
				case c.wantLine == 0 && (checkErr != nil || readErr != nil):
					t.Fatalf("check: %v; reader: %v", checkErr, readErr)
				case c.wantLine > 0 && !errors.As(checkErr, &ce):
					t.Fatalf("the check passes; the reader says %v", readErr)
				case c.wantLine > 0 && (ce.Line != c.wantLine || ce.Column != "n" || ce.File != path):
					t.Fatalf("refused at %s:%d column %q, want line %d of column n", ce.File, ce.Line, ce.Column, c.wantLine)
				}
			})
		}
	}
}

// TestCheckCSVIntegers_Malformed: quoting the check cannot follow is
// refused with the reader's message and line; a short row is left to the
// reader.
func TestCheckCSVIntegers_Malformed(t *testing.T) {
	for _, c := range []struct{ content, want string }{
		{"a,n\n1,2\n3,4\"\n", `in.csv:3: bare " in non-quoted-field`},
		{"a,n\n1,\"2\"x\n", `in.csv:2: extraneous or missing " in quoted-field`},
		{"a,n\n1,\"2\n", `in.csv:2: extraneous or missing " in quoted-field`},
	} {
		path := writeCSV(t, c.content)
		checkErr, readErr := agree(t, path, []string{"a", "n"}, map[string]arrow.DataType{"n": arrow.PrimitiveTypes.Int64})
		if checkErr == nil || !strings.HasSuffix(checkErr.Error(), c.want) {
			t.Errorf("%q: the check says %v, want …%s (the reader: %v)", c.content, checkErr, c.want, readErr)
		}
		if readErr == nil {
			t.Errorf("%q: the reader reads it", c.content)
		}
	}
	path := writeCSV(t, "a,b,n\n1,2,3\n4\n")
	if err := CheckCSVIntegers(context.Background(), File{Path: path, Format: CSV}, []string{"a", "b", "n"}, map[string]arrow.DataType{"n": arrow.PrimitiveTypes.Int64}); err != nil {
		t.Errorf("a short row: %v", err)
	}
}

// FuzzCheckCSVIntegers: on any bytes after a header the check agrees with
// the reader (see agree), whatever the buffer size.
func FuzzCheckCSVIntegers(f *testing.F) {
	for _, s := range []string{"1,2,3\n", "\"x\ny\",2.5,3\n", "1,\"1\"\"\",3\r\n", "1,2,\"3\n4\"\n5,x,6", ",,\n", "\"\"\"\",1e3,\"\n"} {
		f.Add([]byte(s), uint8(3))
	}
	f.Fuzz(func(t *testing.T, data []byte, size uint8) {
		old := csvCheckBuffer
		csvCheckBuffer = int(size) + 1
		defer func() { csvCheckBuffer = old }()
		path := filepath.Join(t.TempDir(), "in.csv")
		if err := os.WriteFile(path, append([]byte("a,n,c\n"), data...), 0o644); err != nil {
			t.Fatal(err)
		}
		agree(t, path, []string{"a", "n", "c"}, map[string]arrow.DataType{"n": arrow.PrimitiveTypes.Int32, "c": arrow.PrimitiveTypes.Int64})
	})
}

// writeCSV writes content to in.csv in a temporary folder.
func writeCSV(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "in.csv")
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}
