package query

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"math/big"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/apache/arrow-go/v18/arrow/memory"
	duckdb "github.com/duckdb/duckdb-go/v2"
	"github.com/google/uuid"
	"github.com/tarnhq/tarn"
)

// DefaultBatchRows is the number of rows per Arrow record batch.
const DefaultBatchRows = 8192

// NewRecordReader streams the rows of a DuckDB query as Arrow record
// batches of batchRows rows (DefaultBatchRows when 0) and returns the
// result's columns with their DuckDB types. Scalars map to their Arrow
// types (DECIMAL to decimal128, TIMESTAMPTZ to timestamp[us, UTC],
// INTERVAL to month_day_nano_interval); nested values (LIST, STRUCT, MAP,
// UNION), JSON, UUID, ENUM, BIT and TIMETZ become strings (JSON text for
// nested values). The reader owns rows and closes them when released.
func NewRecordReader(rows *sql.Rows, batchRows int) (array.RecordReader, []tarn.QueryColumn, error) {
	if batchRows <= 0 {
		batchRows = DefaultBatchRows
	}
	types, err := rows.ColumnTypes()
	if err != nil {
		return nil, nil, err
	}
	fields := make([]arrow.Field, len(types))
	cols := make([]tarn.QueryColumn, len(types))
	appenders := make([]appender, len(types))
	for i, ct := range types {
		dt, app := arrowType(ct.DatabaseTypeName())
		fields[i] = arrow.Field{Name: ct.Name(), Type: dt, Nullable: true}
		cols[i] = tarn.QueryColumn{Name: ct.Name(), Type: ct.DatabaseTypeName()}
		appenders[i] = app
	}
	schema := arrow.NewSchema(fields, nil)
	return &rowsReader{rows: rows, schema: schema, appenders: appenders, batch: batchRows, refs: 1,
		builder: array.NewRecordBuilder(memory.DefaultAllocator, schema)}, cols, nil
}

// appender appends one non-null value to a builder.
type appender func(b array.Builder, v any) error

type rowsReader struct {
	rows      *sql.Rows
	schema    *arrow.Schema
	appenders []appender
	builder   *array.RecordBuilder
	batch     int
	cur       arrow.RecordBatch
	err       error
	done      bool
	refs      int64
}

func (r *rowsReader) Schema() *arrow.Schema { return r.schema }
func (r *rowsReader) Retain()               { atomic.AddInt64(&r.refs, 1) }

func (r *rowsReader) Release() {
	if atomic.AddInt64(&r.refs, -1) != 0 {
		return
	}
	if r.cur != nil {
		r.cur.Release()
		r.cur = nil
	}
	r.builder.Release()
	r.rows.Close()
}

func (r *rowsReader) Err() error                     { return r.err }
func (r *rowsReader) Record() arrow.RecordBatch      { return r.cur }
func (r *rowsReader) RecordBatch() arrow.RecordBatch { return r.cur }

func (r *rowsReader) Next() bool {
	if r.cur != nil {
		r.cur.Release()
		r.cur = nil
	}
	if r.done || r.err != nil {
		return false
	}
	n := len(r.appenders)
	vals := make([]any, n)
	ptrs := make([]any, n)
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	count := 0
	for count < r.batch {
		if !r.rows.Next() {
			r.done = true
			if err := r.rows.Err(); err != nil {
				r.err = err
				return false
			}
			break
		}
		if err := r.rows.Scan(ptrs...); err != nil {
			r.err = err
			return false
		}
		for i, v := range vals {
			b := r.builder.Field(i)
			if v == nil {
				b.AppendNull()
				continue
			}
			if err := r.appenders[i](b, v); err != nil {
				r.err = fmt.Errorf("column %s: %w", r.schema.Field(i).Name, err)
				return false
			}
		}
		count++
	}
	if count == 0 {
		return false
	}
	r.cur = r.builder.NewRecordBatch()
	return true
}

// arrowType maps a DuckDB type name to an Arrow type and its appender.
func arrowType(name string) (arrow.DataType, appender) {
	switch name {
	case "BOOLEAN":
		return arrow.FixedWidthTypes.Boolean, func(b array.Builder, v any) error {
			x, ok := v.(bool)
			if !ok {
				return mismatch(v, name)
			}
			b.(*array.BooleanBuilder).Append(x)
			return nil
		}
	case "TINYINT":
		return arrow.PrimitiveTypes.Int8, typed[int8, *array.Int8Builder](name)
	case "SMALLINT":
		return arrow.PrimitiveTypes.Int16, typed[int16, *array.Int16Builder](name)
	case "INTEGER":
		return arrow.PrimitiveTypes.Int32, typed[int32, *array.Int32Builder](name)
	case "BIGINT":
		return arrow.PrimitiveTypes.Int64, typed[int64, *array.Int64Builder](name)
	case "UTINYINT":
		return arrow.PrimitiveTypes.Uint8, typed[uint8, *array.Uint8Builder](name)
	case "USMALLINT":
		return arrow.PrimitiveTypes.Uint16, typed[uint16, *array.Uint16Builder](name)
	case "UINTEGER":
		return arrow.PrimitiveTypes.Uint32, typed[uint32, *array.Uint32Builder](name)
	case "UBIGINT":
		return arrow.PrimitiveTypes.Uint64, typed[uint64, *array.Uint64Builder](name)
	case "FLOAT":
		return arrow.PrimitiveTypes.Float32, typed[float32, *array.Float32Builder](name)
	case "DOUBLE":
		return arrow.PrimitiveTypes.Float64, typed[float64, *array.Float64Builder](name)
	case "VARCHAR":
		return arrow.BinaryTypes.String, func(b array.Builder, v any) error {
			s, ok := v.(string)
			if !ok {
				return mismatch(v, name)
			}
			b.(*array.StringBuilder).Append(s)
			return nil
		}
	case "BLOB", "GEOMETRY":
		return arrow.BinaryTypes.Binary, func(b array.Builder, v any) error {
			x, ok := v.([]byte)
			if !ok {
				return mismatch(v, name)
			}
			b.(*array.BinaryBuilder).Append(x)
			return nil
		}
	case "DATE":
		return arrow.FixedWidthTypes.Date32, func(b array.Builder, v any) error {
			t, ok := v.(time.Time)
			if !ok {
				return mismatch(v, name)
			}
			b.(*array.Date32Builder).Append(arrow.Date32FromTime(t))
			return nil
		}
	case "TIME":
		return arrow.FixedWidthTypes.Time64us, func(b array.Builder, v any) error {
			t, ok := v.(time.Time)
			if !ok {
				return mismatch(v, name)
			}
			micros := int64(t.Hour())*3600e6 + int64(t.Minute())*60e6 + int64(t.Second())*1e6 + int64(t.Nanosecond()/1e3)
			b.(*array.Time64Builder).Append(arrow.Time64(micros))
			return nil
		}
	case "TIMESTAMP", "TIMESTAMPTZ", "TIMESTAMP_S", "TIMESTAMP_MS", "TIMESTAMP_NS":
		unit, tz := arrow.Microsecond, ""
		switch name {
		case "TIMESTAMPTZ":
			tz = "UTC"
		case "TIMESTAMP_S":
			unit = arrow.Second
		case "TIMESTAMP_MS":
			unit = arrow.Millisecond
		case "TIMESTAMP_NS":
			unit = arrow.Nanosecond
		}
		return &arrow.TimestampType{Unit: unit, TimeZone: tz}, func(b array.Builder, v any) error {
			t, ok := v.(time.Time)
			if !ok {
				return mismatch(v, name)
			}
			ts, err := arrow.TimestampFromTime(t, unit)
			if err != nil {
				return err
			}
			b.(*array.TimestampBuilder).Append(ts)
			return nil
		}
	case "INTERVAL":
		return arrow.FixedWidthTypes.MonthDayNanoInterval, func(b array.Builder, v any) error {
			iv, ok := v.(duckdb.Interval)
			if !ok {
				return mismatch(v, name)
			}
			b.(*array.MonthDayNanoIntervalBuilder).Append(arrow.MonthDayNanoInterval{Months: iv.Months, Days: iv.Days, Nanoseconds: iv.Micros * 1000})
			return nil
		}
	case "HUGEINT", "UHUGEINT":
		return &arrow.Decimal128Type{Precision: 38, Scale: 0}, func(b array.Builder, v any) error {
			n, ok := v.(*big.Int)
			if !ok {
				return mismatch(v, name)
			}
			if n.BitLen() > 126 {
				return fmt.Errorf("value %s exceeds 38 digits", n)
			}
			b.(*array.Decimal128Builder).Append(decimal128.FromBigInt(n))
			return nil
		}
	case "UUID":
		return arrow.BinaryTypes.String, func(b array.Builder, v any) error {
			switch x := v.(type) {
			case []byte:
				u, err := uuid.FromBytes(x)
				if err != nil {
					return err
				}
				b.(*array.StringBuilder).Append(u.String())
			case duckdb.UUID:
				b.(*array.StringBuilder).Append(uuid.UUID(x).String())
			default:
				b.(*array.StringBuilder).Append(fmt.Sprint(v))
			}
			return nil
		}
	}
	if p, s, ok := decimalParams(name); ok {
		return &arrow.Decimal128Type{Precision: p, Scale: s}, func(b array.Builder, v any) error {
			d, ok := v.(duckdb.Decimal)
			if !ok {
				return mismatch(v, name)
			}
			b.(*array.Decimal128Builder).Append(decimal128.FromBigInt(d.Value))
			return nil
		}
	}
	// Everything else (nested, JSON, ENUM, BIT, TIMETZ, ...) as text.
	return arrow.BinaryTypes.String, func(b array.Builder, v any) error {
		b.(*array.StringBuilder).Append(textValue(v))
		return nil
	}
}

func typed[T any, B interface{ Append(T) }](name string) appender {
	return func(b array.Builder, v any) error {
		x, ok := v.(T)
		if !ok {
			return mismatch(v, name)
		}
		b.(B).Append(x)
		return nil
	}
}

func mismatch(v any, name string) error {
	return fmt.Errorf("duckdb returned %T for a %s value", v, name)
}

func decimalParams(name string) (int32, int32, bool) {
	inner, ok := strings.CutPrefix(name, "DECIMAL(")
	if !ok {
		return 0, 0, false
	}
	ps, ss, ok := strings.Cut(strings.TrimSuffix(inner, ")"), ",")
	if !ok {
		return 0, 0, false
	}
	p, err1 := strconv.Atoi(strings.TrimSpace(ps))
	s, err2 := strconv.Atoi(strings.TrimSpace(ss))
	return int32(p), int32(s), err1 == nil && err2 == nil
}

// textValue renders a value that has no Arrow mapping here.
func textValue(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case []byte:
		return string(x)
	case fmt.Stringer:
		return x.String()
	}
	b, err := json.Marshal(jsonable(v))
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

// jsonable makes DuckDB's nested Go values encodable as JSON.
func jsonable(v any) any {
	switch x := v.(type) {
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = jsonable(e)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = jsonable(e)
		}
		return out
	case duckdb.OrderedMap:
		var out []any
		for _, k := range x.Keys() {
			val, _ := x.Get(k)
			out = append(out, map[string]any{"key": jsonable(k), "value": jsonable(val)})
		}
		return out
	case duckdb.Decimal:
		return json.Number(x.String())
	case *big.Int:
		return json.Number(x.String())
	case duckdb.Interval:
		return map[string]any{"months": x.Months, "days": x.Days, "micros": x.Micros}
	case duckdb.Union:
		return map[string]any{x.Tag: jsonable(x.Value)}
	case time.Time:
		return x.Format(time.RFC3339Nano)
	case []byte:
		return string(x)
	}
	return v
}
