package table

import (
	"fmt"
	"math"
	"math/big"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
)

// The typed comparisons of the evaluator (filter_eval.go): what a column
// is compared as (its family), a literal converted to it, and the loops
// that read a batch's columns as one Go type.

// family is what a column's values are compared as.
type family int

const (
	famNone family = iota // not comparable
	famInt
	famFloat
	famDecimal
	famString
	famBool
	famDate
	famTimestamp
)

func familyOf(t arrow.DataType) family {
	switch t.ID() {
	case arrow.INT8, arrow.INT16, arrow.INT32, arrow.INT64, arrow.UINT8, arrow.UINT16, arrow.UINT32:
		return famInt
	case arrow.FLOAT32, arrow.FLOAT64:
		return famFloat
	case arrow.DECIMAL128:
		return famDecimal
	case arrow.STRING, arrow.LARGE_STRING, arrow.STRING_VIEW:
		return famString
	case arrow.BOOL:
		return famBool
	case arrow.DATE32, arrow.DATE64:
		return famDate
	case arrow.TIMESTAMP:
		return famTimestamp
	}
	return famNone
}

// typeName names an Arrow type as pyarrow does, so messages read the same
// from both implementations.
func typeName(t arrow.DataType) string {
	if d, ok := t.(*arrow.Decimal128Type); ok {
		return fmt.Sprintf("decimal128(%d, %d)", d.Precision, d.Scale)
	}
	if name, ok := pyarrowNames[t.ID()]; ok {
		return name
	}
	return t.String()
}

var pyarrowNames = map[arrow.Type]string{arrow.STRING: "string", arrow.LARGE_STRING: "large_string",
	arrow.FLOAT32: "float", arrow.FLOAT64: "double", arrow.DATE32: "date32[day]", arrow.DATE64: "date64[ms]"}

// column is a column of the bound schema.
type column struct {
	name  string
	index int
	typ   arrow.DataType
	fam   family
}

func (c column) String() string { return fmt.Sprintf("%s (%s)", quoteName(c.name), typeName(c.typ)) }

// unordered is what a comparer returns when NaN is involved: every
// comparison but != is false.
const unordered = 2

// comparer returns, for one batch, a function comparing the two operands
// on row i: -1, 0, 1 or unordered, and false when either is null.
type comparer func(rec arrow.RecordBatch) func(i int) (int, bool)

func holds(op string, c int) bool {
	if c == unordered {
		return op == "!="
	}
	switch op {
	case "=":
		return c == 0
	case "!=":
		return c != 0
	case "<":
		return c < 0
	case "<=":
		return c <= 0
	case ">":
		return c > 0
	}
	return c >= 0
}

// columnWithLiteral compares a column with a (non-null) literal converted
// to the column's type.
func (b *binder) columnWithLiteral(col column, lit literal) (comparer, error) {
	mismatch := func() error { return b.f.errorf("cannot compare %s with %s", col, lit) }
	if want, ok := literalKinds[col.fam]; ok && lit.kind != want {
		return nil, mismatch()
	}
	switch col.fam {
	case famInt:
		if lit.isInt {
			return intsWith(col.index, lit.i), nil
		}
		return floatsWith(col.index, lit.f), nil
	case famFloat:
		return floatsWith(col.index, lit.f), nil
	case famDecimal:
		if lit.rat == nil { // ±Inf
			return floatsWith(col.index, lit.f), nil
		}
		return decimalsWith(col.index, col.typ.(*arrow.Decimal128Type).Scale, lit.rat), nil
	case famString:
		return stringsWith(col.index, lit.s), nil
	case famBool:
		return boolsWith(col.index, lit.b), nil
	case famDate, famTimestamp:
		t, err := b.temporal(col, lit)
		if err != nil {
			return nil, err
		}
		switch {
		case col.fam == famTimestamp:
			unit := col.typ.(*arrow.TimestampType).Unit
			return ticksWith(col.index, unit, ticks(t, unit)), nil
		case t.kind == litDate:
			return ticksWith(col.index, days, floorDiv(t.t.Unix(), 86400)), nil
		}
		// A date column meets a timestamp as midnight.
		return ticksWith(col.index, arrow.Microsecond, ticks(t, arrow.Microsecond)), nil
	}
	return nil, mismatch()
}

// literalKinds is the kind of literal a column of each family compares
// with (dates and timestamps: see temporal).
var literalKinds = map[family]litKind{famInt: litNumber, famFloat: litNumber, famDecimal: litNumber, famString: litString, famBool: litBool}

// temporal converts a literal compared with a date or timestamp column:
// 'text' is read as a date for a date column and as a timestamp for a
// timestamp column.
func (b *binder) temporal(col column, lit literal) (literal, error) {
	switch lit.kind {
	case litDate, litTimestamp:
		return lit, nil
	case litString:
		if col.fam == famDate {
			if t, ok := parseDate(lit.s); ok {
				return t, nil
			}
			return literal{}, b.f.errorf("cannot compare %s with %s: write a date as 'YYYY-MM-DD'", col, lit)
		}
		if t, ok := parseTimestamp(lit.s); ok {
			return t, nil
		}
		return literal{}, b.f.errorf("cannot compare %s with %s: write a timestamp as 'YYYY-MM-DD HH:MM:SS' (optionally .ffffff and Z or +HH:MM)", col, lit)
	}
	return literal{}, b.f.errorf("cannot compare %s with %s", col, lit)
}

var perSecond = map[arrow.TimeUnit]int64{arrow.Second: 1, arrow.Millisecond: 1e3, arrow.Microsecond: 1e6, arrow.Nanosecond: 1e9}

// ticks is a date or timestamp literal in a unit since the epoch (UTC),
// rounded down to microseconds and then to the unit.
func ticks(lit literal, unit arrow.TimeUnit) int64 {
	micros := lit.t.Unix()*1e6 + int64(lit.t.Nanosecond()/1000)
	if unit == arrow.Nanosecond {
		return micros * 1000
	}
	return floorDiv(micros, 1e6/perSecond[unit])
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

// columnWithColumn compares two columns of compatible types.
func (b *binder) columnWithColumn(l, r column) (comparer, error) {
	mismatch := func(why string) error { return b.f.errorf("cannot compare %s with %s%s", l, r, why) }
	numeric := func(f family) bool { return f == famInt || f == famFloat || f == famDecimal }
	temporal := func(f family) bool { return f == famDate || f == famTimestamp }
	switch {
	case l.fam == famInt && r.fam == famInt:
		return pairs(l.index, r.index, intsOf, compareOrdered[int64]), nil
	case numeric(l.fam) && numeric(r.fam) && (l.fam == famFloat || r.fam == famFloat):
		return pairs(l.index, r.index, floatsOf, compareFloats), nil
	case numeric(l.fam) && numeric(r.fam): // decimals with decimals or integers: exact
		return pairs(l.index, r.index, scaledOf, compareScaled), nil
	case l.fam == famString && r.fam == famString:
		return pairs(l.index, r.index, stringsOf, compareOrdered[string]), nil
	case l.fam == famBool && r.fam == famBool:
		return pairs(l.index, r.index, boolsOf, compareBools), nil
	case temporal(l.fam) && temporal(r.fam):
		lt, lok := l.typ.(*arrow.TimestampType)
		rt, rok := r.typ.(*arrow.TimestampType)
		if lok && rok && (lt.TimeZone == "") != (rt.TimeZone == "") {
			return nil, mismatch(": one has a time zone and the other not")
		}
		unit := arrow.Second
		if l.fam == famDate && r.fam == famDate {
			unit = days
		}
		for _, t := range []*arrow.TimestampType{lt, rt} {
			if t != nil && t.Unit > unit {
				unit = t.Unit
			}
		}
		return pairs(l.index, r.index, func(a arrow.Array) func(int) int64 { return ticksOf(a, unit) }, compareOrdered[int64]), nil
	}
	return nil, mismatch("")
}

// pairs compares two columns read by get with compare.
func pairs[T any](li, ri int, get func(arrow.Array) func(int) T, compare func(a, b T) int) comparer {
	return func(rec arrow.RecordBatch) func(int) (int, bool) {
		la, ra := rec.Column(li), rec.Column(ri)
		lv, rv := get(la), get(ra)
		return func(i int) (int, bool) {
			if la.IsNull(i) || ra.IsNull(i) {
				return 0, false
			}
			return compare(lv(i), rv(i)), true
		}
	}
}

// with compares a column read by get with a constant.
func with[T any](index int, get func(arrow.Array) func(int) T, compare func(a, b T) int, value T) comparer {
	return func(rec arrow.RecordBatch) func(int) (int, bool) {
		arr := rec.Column(index)
		v := get(arr)
		return func(i int) (int, bool) {
			if arr.IsNull(i) {
				return 0, false
			}
			return compare(v(i), value), true
		}
	}
}

func compareOrdered[T int64 | string](a, b T) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func compareFloats(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	case a == b:
		return 0
	}
	return unordered
}

func compareBools(a, b bool) int {
	switch {
	case a == b:
		return 0
	case b:
		return -1
	}
	return 1
}

func intsWith(index int, v int64) comparer { return with(index, intsOf, compareOrdered[int64], v) }
func stringsWith(index int, v string) comparer {
	return with(index, stringsOf, compareOrdered[string], v)
}
func boolsWith(index int, v bool) comparer { return with(index, boolsOf, compareBools, v) }

func floatsWith(index int, v float64) comparer { return with(index, floatsOf, compareFloats, v) }

// ticksWith compares a date or timestamp column, read as ticks of unit
// (days: a date column as days), with v.
func ticksWith(index int, unit arrow.TimeUnit, v int64) comparer {
	return with(index, func(a arrow.Array) func(int) int64 { return ticksOf(a, unit) }, compareOrdered[int64], v)
}

// decimalsWith compares a decimal column of the given scale with an exact
// number: the number is scaled to the column's scale once; a fraction left
// over means it lies strictly between two column values.
func decimalsWith(index int, scale int32, v *big.Rat) comparer {
	scaled := new(big.Rat).Mul(v, new(big.Rat).SetInt(pow10(scale)))
	floor := new(big.Int).Div(scaled.Num(), scaled.Denom()) // Euclidean: the floor, as Denom > 0
	exact := scaled.IsInt()
	if floor.BitLen() > 126 { // beyond every decimal128 value
		sign := 1
		if scaled.Sign() < 0 {
			sign = -1
		}
		return with(index, decimalsOf, func(decimal128.Num, decimal128.Num) int { return -sign }, decimal128.Num{})
	}
	bound := decimal128.FromBigInt(floor)
	return with(index, decimalsOf, func(a, b decimal128.Num) int {
		c := a.Cmp(b)
		if exact || c > 0 {
			return c
		}
		return -1 // a <= floor < v
	}, bound)
}

func pow10(n int32) *big.Int { return new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(n)), nil) }

// scaled is an exact number: an integer count of 10^-scale.
type scaled struct {
	n     decimal128.Num
	scale int32
}

func compareScaled(a, b scaled) int {
	if a.scale == b.scale {
		return a.n.Cmp(b.n)
	}
	if a.scale < b.scale {
		return -compareScaled(b, a)
	}
	if up, err := b.n.Rescale(b.scale, a.scale); err == nil {
		return a.n.Cmp(up)
	}
	return a.n.BigInt().Cmp(new(big.Int).Mul(b.n.BigInt(), pow10(a.scale-b.scale)))
}

// Readers of a batch's column as one Go type.

func intsOf(a arrow.Array) func(int) int64 {
	switch a := a.(type) {
	case *array.Int8:
		return widen(a.Int8Values())
	case *array.Int16:
		return widen(a.Int16Values())
	case *array.Int32:
		return widen(a.Int32Values())
	case *array.Int64:
		return a.Value
	case *array.Uint8:
		return widen(a.Uint8Values())
	case *array.Uint16:
		return widen(a.Uint16Values())
	case *array.Uint32:
		return widen(a.Uint32Values())
	}
	panic(fmt.Sprintf("filter: %s is not an integer column", a.DataType()))
}

func widen[T int8 | int16 | int32 | uint8 | uint16 | uint32](values []T) func(int) int64 {
	return func(i int) int64 { return int64(values[i]) }
}

func floatsOf(a arrow.Array) func(int) float64 {
	switch a := a.(type) {
	case *array.Float32:
		return func(i int) float64 { return float64(a.Value(i)) }
	case *array.Float64:
		return a.Value
	case *array.Decimal128:
		scale := a.DataType().(*arrow.Decimal128Type).Scale
		return func(i int) float64 { return a.Value(i).ToFloat64(scale) }
	}
	ints := intsOf(a)
	return func(i int) float64 { return float64(ints(i)) }
}

func decimalsOf(a arrow.Array) func(int) decimal128.Num {
	return a.(*array.Decimal128).Value
}

func scaledOf(a arrow.Array) func(int) scaled {
	if d, ok := a.(*array.Decimal128); ok {
		scale := d.DataType().(*arrow.Decimal128Type).Scale
		return func(i int) scaled { return scaled{d.Value(i), scale} }
	}
	ints := intsOf(a)
	return func(i int) scaled { return scaled{decimal128.FromI64(ints(i)), 0} }
}

func stringsOf(a arrow.Array) func(int) string {
	switch a := a.(type) {
	case *array.String:
		return a.Value
	case *array.LargeString:
		return a.Value
	case *array.StringView:
		return a.Value
	}
	panic(fmt.Sprintf("filter: %s is not a string column", a.DataType()))
}

func boolsOf(a arrow.Array) func(int) bool { return a.(*array.Boolean).Value }

// days is the unit of a date column read as days (ticksOf).
const days arrow.TimeUnit = -1

// ticksOf reads a date or timestamp column as ticks of unit since the
// epoch; unit days reads a date column as days.
func ticksOf(a arrow.Array, unit arrow.TimeUnit) func(int) int64 {
	var dayCount func(int) int64
	switch a := a.(type) {
	case *array.Date32:
		dayCount = func(i int) int64 { return int64(a.Value(i)) }
	case *array.Date64:
		dayCount = func(i int) int64 { return floorDiv(int64(a.Value(i)), 86400000) }
	case *array.Timestamp:
		from := a.DataType().(*arrow.TimestampType).Unit
		return scaleTicks(func(i int) int64 { return int64(a.Value(i)) }, from, unit)
	default:
		panic(fmt.Sprintf("filter: %s is not a date or timestamp column", a.DataType()))
	}
	if unit == days {
		return dayCount
	}
	per := 86400 * perSecond[unit]
	return func(i int) int64 { return dayCount(i) * per }
}

// scaleTicks converts ticks to a finer (or the same) unit.
func scaleTicks(get func(int) int64, from, to arrow.TimeUnit) func(int) int64 {
	if from == to {
		return get
	}
	factor := perSecond[to] / perSecond[from]
	if factor <= 1 {
		return get
	}
	return func(i int) int64 {
		v := get(i)
		if v > math.MaxInt64/factor || v < math.MinInt64/factor {
			if v > 0 {
				return math.MaxInt64
			}
			return math.MinInt64
		}
		return v * factor
	}
}
