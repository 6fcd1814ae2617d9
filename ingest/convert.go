package ingest

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/compute"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/tarnhq/tarn"
)

// textAppender appends one non-null text value, parsed as the builder's
// type, and returns a message (without location) when it does not parse.
type textAppender func(s string) error

// parseError is the message of a value that does not parse as dt.
type parseError struct {
	value string
	dt    arrow.DataType
}

func (e *parseError) Error() string {
	return fmt.Sprintf("cannot parse %s as %s", tarn.Quote(e.value), typeName(e.dt))
}

// newTextAppender returns the appender for builder b of type dt. Text is
// parsed with the same rules inference uses: numbers, true/false,
// YYYY-MM-DD dates and timestamps (with or without offset; a timestamp
// without offset is taken as UTC wall time, one with an offset is converted
// to UTC). Surrounding spaces are ignored except for string targets.
func newTextAppender(b array.Builder, dt arrow.DataType) (textAppender, error) {
	fail := func(s string) error { return &parseError{value: s, dt: dt} }
	switch b := b.(type) {
	case *array.StringBuilder:
		return func(s string) error { b.Append(s); return nil }, nil
	case *array.LargeStringBuilder:
		return func(s string) error { b.Append(s); return nil }, nil
	case *array.BinaryBuilder:
		return func(s string) error { b.AppendString(s); return nil }, nil
	case *array.Int64Builder:
		return func(s string) error {
			v, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
			if err != nil {
				return fail(s)
			}
			b.Append(v)
			return nil
		}, nil
	case *array.Int32Builder:
		return func(s string) error {
			v, err := strconv.ParseInt(strings.TrimSpace(s), 10, 32)
			if err != nil {
				return fail(s)
			}
			b.Append(int32(v))
			return nil
		}, nil
	case *array.Int16Builder:
		return func(s string) error {
			v, err := strconv.ParseInt(strings.TrimSpace(s), 10, 16)
			if err != nil {
				return fail(s)
			}
			b.Append(int16(v))
			return nil
		}, nil
	case *array.Int8Builder:
		return func(s string) error {
			v, err := strconv.ParseInt(strings.TrimSpace(s), 10, 8)
			if err != nil {
				return fail(s)
			}
			b.Append(int8(v))
			return nil
		}, nil
	case *array.Uint64Builder:
		return func(s string) error {
			v, err := strconv.ParseUint(strings.TrimSpace(s), 10, 64)
			if err != nil {
				return fail(s)
			}
			b.Append(v)
			return nil
		}, nil
	case *array.Uint32Builder:
		return func(s string) error {
			v, err := strconv.ParseUint(strings.TrimSpace(s), 10, 32)
			if err != nil {
				return fail(s)
			}
			b.Append(uint32(v))
			return nil
		}, nil
	case *array.Uint16Builder:
		return func(s string) error {
			v, err := strconv.ParseUint(strings.TrimSpace(s), 10, 16)
			if err != nil {
				return fail(s)
			}
			b.Append(uint16(v))
			return nil
		}, nil
	case *array.Uint8Builder:
		return func(s string) error {
			v, err := strconv.ParseUint(strings.TrimSpace(s), 10, 8)
			if err != nil {
				return fail(s)
			}
			b.Append(uint8(v))
			return nil
		}, nil
	case *array.Float64Builder:
		return func(s string) error {
			v, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
			if err != nil {
				return fail(s)
			}
			b.Append(v)
			return nil
		}, nil
	case *array.Float32Builder:
		return func(s string) error {
			v, err := strconv.ParseFloat(strings.TrimSpace(s), 32)
			if err != nil {
				return fail(s)
			}
			b.Append(float32(v))
			return nil
		}, nil
	case *array.BooleanBuilder:
		return func(s string) error {
			t := strings.TrimSpace(s)
			switch {
			case strings.EqualFold(t, "true"):
				b.Append(true)
			case strings.EqualFold(t, "false"):
				b.Append(false)
			default:
				return fail(s)
			}
			return nil
		}, nil
	case *array.Date32Builder:
		return func(s string) error {
			d, ok := parseDate(strings.TrimSpace(s))
			if !ok {
				return fail(s)
			}
			b.Append(arrow.Date32(d))
			return nil
		}, nil
	case *array.Date64Builder:
		return func(s string) error {
			d, ok := parseDate(strings.TrimSpace(s))
			if !ok {
				return fail(s)
			}
			b.Append(arrow.Date64(int64(d) * 86400 * 1000))
			return nil
		}, nil
	case *array.TimestampBuilder:
		unit := dt.(*arrow.TimestampType).Unit
		return func(s string) error {
			t, ok := parseTimeValue(strings.TrimSpace(s))
			if !ok {
				return fail(s)
			}
			var v int64
			switch unit {
			case arrow.Second:
				v = t.Unix()
			case arrow.Millisecond:
				v = t.UnixMilli()
			case arrow.Microsecond:
				v = t.UnixMicro()
			default:
				v = t.UnixNano()
			}
			b.Append(arrow.Timestamp(v))
			return nil
		}, nil
	case *array.Decimal128Builder:
		d := dt.(*arrow.Decimal128Type)
		return func(s string) error {
			v, err := decimal128.FromString(strings.TrimSpace(s), d.Precision, d.Scale)
			if err != nil {
				return fail(s)
			}
			b.Append(v)
			return nil
		}, nil
	}
	return nil, fmt.Errorf("cannot load text values into type %s", typeName(dt))
}

// parseTimeValue parses a timestamp (with or without offset) or a date
// (midnight UTC).
func parseTimeValue(s string) (time.Time, bool) {
	if len(s) == 10 {
		t, err := time.Parse(time.DateOnly, s)
		return t, err == nil
	}
	t, _, ok := parseTimestamp(s)
	return t, ok
}

// castOptions are the cast options for Parquet columns: overflow and lossy
// float conversions fail, sub-microsecond timestamp digits are truncated.
func castOptions(to arrow.DataType) *compute.CastOptions {
	opts := compute.SafeCastOptions(to)
	opts.AllowTimeTruncate = true
	return opts
}

// canConvert reports whether Records can turn a Parquet column of type from
// into type to, mirroring convertArray: equal types, nulls, text parsed into
// a supported type, or an Arrow cast.
func canConvert(from, to arrow.DataType) bool {
	switch {
	case arrow.TypeEqual(from, to) || from.ID() == arrow.NULL:
		return true
	case isStringType(from) && !isStringType(to):
		return textLoadable(to)
	case from.ID() == arrow.TIMESTAMP && to.ID() == arrow.TIMESTAMP:
		return true
	}
	return compute.CanCast(from, to)
}

// textLoadable reports whether newTextAppender supports type dt.
func textLoadable(dt arrow.DataType) (ok bool) {
	defer func() {
		if recover() != nil { // array.NewBuilder panics on unknown types
			ok = false
		}
	}()
	b := array.NewBuilder(mem, dt)
	defer b.Release()
	_, err := newTextAppender(b, dt)
	return err == nil
}

// convertArray converts arr to type to for Parquet reads. Text is parsed
// value by value so a bad value is reported with its row (firstRow is the
// 1-based file row of arr[0]).
func convertArray(ctx context.Context, arr arrow.Array, to arrow.DataType, file, col string, firstRow int64) (arrow.Array, error) {
	if arrow.TypeEqual(arr.DataType(), to) {
		arr.Retain()
		return arr, nil
	}
	if arr.DataType().ID() == arrow.NULL {
		return array.MakeArrayOfNull(mem, to, arr.Len()), nil
	}
	if isStringType(arr.DataType()) && !isStringType(to) {
		if sv, ok := arr.(interface{ ValueStr(int) string }); ok {
			b := array.NewBuilder(mem, to)
			defer b.Release()
			app, err := newTextAppender(b, to)
			if err != nil {
				return nil, &Error{File: file, Column: col, Msg: err.Error()}
			}
			b.Reserve(arr.Len())
			for i := 0; i < arr.Len(); i++ {
				if arr.IsNull(i) {
					b.AppendNull()
					continue
				}
				if err := app(sv.ValueStr(i)); err != nil {
					return nil, &Error{File: file, Column: col, Msg: fmt.Sprintf("row %d: %v", firstRow+int64(i), err)}
				}
			}
			return b.NewArray(), nil
		}
	}
	if from, ok := arr.DataType().(*arrow.TimestampType); ok {
		if toTS, ok := to.(*arrow.TimestampType); ok && from.Unit > toTS.Unit {
			return truncateTimestamps(arr.(*array.Timestamp), toTS), nil
		}
	}
	out, err := compute.CastArray(ctx, arr, castOptions(to))
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, &Error{File: file, Column: col, Msg: fmt.Sprintf("cannot convert %s to %s: %v", typeName(arr.DataType()), typeName(to), err)}
	}
	return out, nil
}

// truncateTimestamps converts timestamps to a coarser unit, rounding down
// (towards negative infinity, so -1ns becomes -1us rather than 0 as an
// Arrow cast would).
func truncateTimestamps(arr *array.Timestamp, to *arrow.TimestampType) arrow.Array {
	factor := int64(1)
	for u := arr.DataType().(*arrow.TimestampType).Unit; u > to.Unit; u-- {
		factor *= 1000
	}
	b := array.NewTimestampBuilder(mem, to)
	defer b.Release()
	b.Reserve(arr.Len())
	for i, v := range arr.TimestampValues() {
		if arr.IsNull(i) {
			b.AppendNull()
			continue
		}
		q := int64(v) / factor
		if int64(v)%factor < 0 {
			q--
		}
		b.UnsafeAppend(arrow.Timestamp(q))
	}
	return b.NewArray()
}
