package ingest

import (
	"strconv"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
)

// kind is the inferred type of a CSV or JSON Lines value or column. The
// zero value kNull means "no non-null value seen yet".
type kind uint8

const (
	kNull kind = iota
	kInt
	kFloat
	kBool
	kDate
	kTS   // timestamp without offset
	kTSTZ // timestamp with offset, stored as UTC
	kString
)

// join returns the narrowest kind that holds values of both kinds.
func join(a, b kind) kind {
	switch {
	case a == b:
		return a
	case a == kNull:
		return b
	case b == kNull:
		return a
	}
	if a > b {
		a, b = b, a
	}
	switch {
	case a == kInt && b == kFloat:
		return kFloat
	case a == kDate && (b == kTS || b == kTSTZ):
		return b
	}
	return kString
}

// arrowType maps a kind to its Arrow type; kNull maps to arrow.Null, which
// Infer turns into string once all files are seen.
func (k kind) arrowType() arrow.DataType {
	switch k {
	case kInt:
		return arrow.PrimitiveTypes.Int64
	case kFloat:
		return arrow.PrimitiveTypes.Float64
	case kBool:
		return arrow.FixedWidthTypes.Boolean
	case kDate:
		return arrow.FixedWidthTypes.Date32
	case kTS:
		return &arrow.TimestampType{Unit: arrow.Microsecond}
	case kTSTZ:
		return &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}
	case kNull:
		return arrow.Null
	}
	return arrow.BinaryTypes.String
}

// classifyText returns the narrowest kind that parses the non-null CSV value s.
func classifyText(s string) kind {
	t := strings.TrimSpace(s)
	if t == "" {
		return kString
	}
	c := t[0]
	if c >= '0' && c <= '9' || c == '-' || c == '+' || c == '.' {
		if _, err := strconv.ParseInt(t, 10, 64); err == nil {
			return kInt
		}
		if looksFloat(t) {
			if _, err := strconv.ParseFloat(t, 64); err == nil {
				return kFloat
			}
		}
		if len(t) == 10 {
			if _, ok := parseDate(t); ok {
				return kDate
			}
		}
		if _, offset, ok := parseTimestamp(t); ok {
			if offset {
				return kTSTZ
			}
			return kTS
		}
		return kString
	}
	if strings.EqualFold(t, "true") || strings.EqualFold(t, "false") {
		return kBool
	}
	return kString
}

// looksFloat reports whether s uses only decimal float syntax, so that
// "NaN", "Inf" and hex floats are not inferred as numbers.
func looksFloat(s string) bool {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= '0' && c <= '9', c == '.', c == '-', c == '+', c == 'e', c == 'E':
		default:
			return false
		}
	}
	return true
}

// parseDate parses YYYY-MM-DD into days since the Unix epoch.
func parseDate(s string) (int32, bool) {
	if len(s) != 10 || s[4] != '-' || s[7] != '-' {
		return 0, false
	}
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return 0, false
	}
	return int32(t.Unix() / 86400), true
}

// parseTimestamp parses `YYYY-MM-DD[T ]hh:mm:ss[.fffffffff][offset]`, where
// offset is Z or ±hh:mm (RFC 3339). A value without offset is read as UTC
// wall time. offset reports whether the value had one.
func parseTimestamp(s string) (t time.Time, offset bool, ok bool) {
	if len(s) < 19 || s[4] != '-' || s[7] != '-' || s[13] != ':' || s[16] != ':' {
		return time.Time{}, false, false
	}
	sep := s[10]
	if sep != 'T' && sep != ' ' {
		return time.Time{}, false, false
	}
	i := 19
	if i < len(s) && (s[i] == '.' || s[i] == ',') {
		i++
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
	}
	offset = i < len(s)
	layout := "2006-01-02T15:04:05"
	if sep == ' ' {
		layout = "2006-01-02 15:04:05"
	}
	if offset {
		layout += "Z07:00"
	}
	t, err := time.Parse(layout, s)
	if err != nil {
		return time.Time{}, false, false
	}
	return t.UTC(), offset, true
}

// isSignedInt reports whether dt is a signed integer type.
func isSignedInt(dt arrow.DataType) bool {
	switch dt.ID() {
	case arrow.INT8, arrow.INT16, arrow.INT32, arrow.INT64:
		return true
	}
	return false
}

// isNumber reports whether dt is a signed integer or floating point type.
func isNumber(dt arrow.DataType) bool {
	switch dt.ID() {
	case arrow.FLOAT16, arrow.FLOAT32, arrow.FLOAT64:
		return true
	}
	return isSignedInt(dt)
}

// isScalar reports whether dt is a flat type that can be cast to string.
func isScalar(dt arrow.DataType) bool {
	switch dt.ID() {
	case arrow.BOOL, arrow.STRING, arrow.LARGE_STRING, arrow.DATE32, arrow.TIMESTAMP:
		return true
	}
	return isNumber(dt)
}

// isStringType reports whether dt holds UTF-8 text.
func isStringType(dt arrow.DataType) bool {
	switch dt.ID() {
	case arrow.STRING, arrow.LARGE_STRING, arrow.STRING_VIEW:
		return true
	}
	return false
}

// unifyTypes returns a type that holds values of both a and b. textual means
// the column comes from a CSV or JSON Lines file in at least one input, in
// which case any other mix of flat types widens to string.
func unifyTypes(a, b arrow.DataType, textual bool) (arrow.DataType, bool) {
	switch {
	case arrow.TypeEqual(a, b):
		return a, true
	case a.ID() == arrow.NULL:
		return b, true
	case b.ID() == arrow.NULL:
		return a, true
	case isSignedInt(a) && isSignedInt(b):
		return arrow.PrimitiveTypes.Int64, true
	case isNumber(a) && isNumber(b):
		return arrow.PrimitiveTypes.Float64, true
	case a.ID() == arrow.DATE32 && b.ID() == arrow.TIMESTAMP:
		return b, true
	case b.ID() == arrow.DATE32 && a.ID() == arrow.TIMESTAMP:
		return a, true
	case textual && isScalar(a) && isScalar(b):
		return arrow.BinaryTypes.String, true
	}
	return nil, false
}

// typeName is the user-facing name of an Arrow type, using Iceberg's names
// where there is one.
func typeName(dt arrow.DataType) string {
	switch dt.ID() {
	case arrow.BOOL:
		return "boolean"
	case arrow.INT32:
		return "int"
	case arrow.INT64:
		return "long"
	case arrow.FLOAT32:
		return "float"
	case arrow.FLOAT64:
		return "double"
	case arrow.DATE32:
		return "date"
	case arrow.STRING, arrow.LARGE_STRING, arrow.STRING_VIEW:
		return "string"
	case arrow.BINARY, arrow.LARGE_BINARY, arrow.BINARY_VIEW:
		return "binary"
	case arrow.TIMESTAMP:
		ts := dt.(*arrow.TimestampType)
		name := "timestamp"
		if ts.TimeZone != "" {
			name = "timestamptz"
		}
		if ts.Unit != arrow.Microsecond {
			name += "(" + ts.Unit.String() + ")"
		}
		return name
	}
	return dt.String()
}
