package ingest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
)

// CheckCSVIntegers reads every record of a CSV file (a header, then RFC
// 4180 records, as this package reads CSV) and returns an *Error (file,
// line, column, and this package's reader's message) for the first value
// of an integer column that is not an integer as this package reads it.
// columns are the file's columns in order; ints maps the integer ones to
// Int64 or Int32. That is the check a reader parsing text straight into
// integers needs: DuckDB's reads "2.5" as 3, and takes "1e3", "0x10" and
// "1_000".
//
// It follows the quoting of the fields up to the last integer column of
// each record and skips the rest of the record by counting quotes (a
// newline ends the record where the quotes since its last field boundary
// are even), so it costs little more than reading the file. A record it
// cannot follow (a quote inside an unquoted field, text after a closing
// quote, a quote left open at the end of the file) is an *Error too, the
// reader's message for it; a row with fewer fields than the integer
// columns need is left to the reader after the check, which refuses it.
func CheckCSVIntegers(ctx context.Context, file File, columns []string, ints map[string]arrow.DataType) error {
	c := &csvIntChecker{line: 1}
	for i, name := range columns {
		dt, ok := ints[name]
		if !ok {
			continue
		}
		bits := 64
		if dt.ID() == arrow.INT32 {
			bits = 32
		}
		c.ints = append(c.ints, csvIntColumn{pos: i, bits: bits, name: name, dt: dt})
	}
	if len(c.ints) == 0 {
		return nil
	}
	f, err := os.Open(file.Path)
	if err != nil {
		return fmt.Errorf("reading input: %w", err)
	}
	defer f.Close()
	buf := make([]byte, 0, csvCheckBuffer)
	for eof := false; !eof; {
		if err := ctx.Err(); err != nil {
			return err
		}
		if len(buf) == cap(buf) { // one record longer than the buffer
			buf = append(buf, make([]byte, cap(buf))...)[:len(buf)]
		}
		n, err := io.ReadFull(f, buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		switch {
		case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
			eof = true
		case err != nil:
			return fmt.Errorf("reading %s: %w", file.Path, err)
		}
		used, ierr := c.records(buf, eof)
		if ierr != nil {
			ierr.File = file.Path
			return ierr
		}
		buf = buf[:copy(buf, buf[used:])]
	}
	return nil
}

// csvCheckBuffer is the size CheckCSVIntegers reads at a time (more for a
// longer record).
var csvCheckBuffer = 4 << 20

type csvIntColumn struct {
	pos  int // in the record
	bits int
	name string
	dt   arrow.DataType
}

// csvIntChecker checks the integer fields of CSV records, buffer by
// buffer.
type csvIntChecker struct {
	ints       []csvIntColumn // by position
	line       int            // the line of the next record
	pastHeader bool
}

// records checks the complete records at the start of buf and returns the
// bytes they take; at the end of the file (eof) the rest of buf is the
// last record.
func (c *csvIntChecker) records(buf []byte, eof bool) (int, *Error) {
	p := 0
	for p < len(buf) {
		start := p
		if !c.pastHeader {
			if p == 0 { // past a UTF-8 byte order mark
				p = len(buf) - len(bytes.TrimPrefix(buf, []byte("\ufeff")))
			}
		} else {
			var err *Error
			if p, err = c.fields(buf, p, eof); err != nil {
				return start, err
			}
			if p < 0 { // the record goes on past buf
				return start, nil
			}
		}
		if p = recordEnd(buf, p, eof); p < 0 {
			return start, nil
		}
		c.line += bytes.Count(buf[start:p], newline)
		c.pastHeader = true
	}
	return p, nil
}

var newline = []byte{'\n'}

// fields checks the fields of the record at buf[p:] up to its last integer
// column and returns where it stopped (a field boundary, or the end of a
// short record), or -1 when the record goes on past buf.
func (c *csvIntChecker) fields(buf []byte, p int, eof bool) (int, *Error) {
	start := p
	last := c.ints[len(c.ints)-1].pos
	next := 0 // index in c.ints
	lineEnd := -1
	for col := 0; ; col++ {
		fieldStart := p
		var value []byte
		quoted := p < len(buf) && buf[p] == '"'
		if quoted {
			q := p + 1
			for {
				j := bytes.IndexByte(buf[q:], '"')
				if j < 0 {
					if !eof {
						return -1, nil
					}
					// On the last line (a newline ending the file starts none).
					end := len(buf)
					if end > start && buf[end-1] == '\n' {
						end--
					}
					return 0, c.errorAt(buf, start, end, "", `extraneous or missing " in quoted-field`)
				}
				q += j
				if q+1 == len(buf) && !eof {
					return -1, nil // a doubled quote or the end?
				}
				if q+1 < len(buf) && buf[q+1] == '"' {
					q += 2
					continue
				}
				break
			}
			value, p = buf[fieldStart+1:q], q+1
			if p < len(buf) && buf[p] != ',' && buf[p] != '\n' && !(buf[p] == '\r' && (p+1 == len(buf) || buf[p+1] == '\n')) {
				return 0, c.errorAt(buf, start, p, "", `extraneous or missing " in quoted-field`)
			}
			if p+1 == len(buf) && buf[p] == '\r' && !eof {
				return -1, nil
			}
		} else {
			if lineEnd < p {
				if j := bytes.IndexByte(buf[p:], '\n'); j >= 0 {
					lineEnd = p + j
				} else if eof {
					lineEnd = len(buf)
				} else {
					return -1, nil
				}
			}
			end := lineEnd
			if j := bytes.IndexByte(buf[p:lineEnd], ','); j >= 0 {
				end = p + j
			}
			value, p = buf[p:end], end
			if bytes.IndexByte(value, '"') >= 0 {
				return 0, c.errorAt(buf, start, fieldStart, "", `bare " in non-quoted-field`)
			}
			if end == lineEnd && end > fieldStart && buf[end-1] == '\r' {
				value = value[:len(value)-1] // CRLF
			}
		}
		if ic := c.ints[next]; ic.pos == col {
			if quoted && bytes.Contains(value, []byte(`""`)) {
				value = bytes.ReplaceAll(value, []byte(`""`), []byte(`"`))
			}
			if !integerText(value, ic.bits) {
				msg := (&parseError{value: string(value), dt: ic.dt}).Error()
				return 0, c.errorAt(buf, start, fieldStart, ic.name, msg)
			}
			next++
		}
		if col == last || p >= len(buf) || buf[p] != ',' {
			return p, nil // the last integer column, or a short record
		}
		p++ // the comma
	}
}

// errorAt is an *Error at buf[at] of the record starting at buf[start].
func (c *csvIntChecker) errorAt(buf []byte, start, at int, column, msg string) *Error {
	return &Error{Line: c.line + bytes.Count(buf[start:at], newline), Column: column, Msg: msg}
}

// recordEnd returns the offset past the newline ending the record whose
// rest starts at buf[p] (at a field boundary, outside quotes), or -1 when
// the record goes on past buf. Outside quotes the quotes since a field
// boundary are even, so the record ends at the first newline after an
// even count.
func recordEnd(buf []byte, p int, eof bool) int {
	quotes := 0
	for {
		j := bytes.IndexByte(buf[p:], '\n')
		if j < 0 {
			if eof {
				return len(buf)
			}
			return -1
		}
		quotes += bytes.Count(buf[p:p+j], []byte{'"'})
		p += j + 1
		if quotes%2 == 0 {
			return p
		}
	}
}

// integerText reports whether v is an integer of the given bits as this
// package reads text (strconv.ParseInt of the value without surrounding
// white space); the empty value is a null.
func integerText(v []byte, bits int) bool {
	if len(v) == 0 {
		return true
	}
	i, j := 0, len(v)
	for i < j && (v[i] == ' ' || v[i] == '\t') {
		i++
	}
	for j > i && (v[j-1] == ' ' || v[j-1] == '\t') {
		j--
	}
	if i < j && (v[i] == '-' || v[i] == '+') {
		i++
	}
	// Up to 18 digits fit an int64, 9 an int32: the common case needs no
	// conversion.
	if n := j - i; n > 0 && (n <= 9 || (bits == 64 && n <= 18)) {
		digits := true
		for _, b := range v[i:j] {
			if b < '0' || b > '9' {
				digits = false
				break
			}
		}
		if digits {
			return true
		}
	}
	_, err := strconv.ParseInt(strings.TrimSpace(string(v)), 10, bits)
	return err == nil
}
