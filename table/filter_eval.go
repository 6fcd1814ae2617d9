package table

import (
	"context"
	"fmt"
	"math"
	"math/big"
	"regexp"
	"slices"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/compute"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// The evaluator applies a whole filter to Arrow record batches, after the
// Iceberg scan has pruned files by what it could push down. It is a small
// vectorized interpreter rather than arrow-go's compute functions: those
// have no LIKE, no implicit casts between the types a filter compares
// (int with decimal, date with timestamp, a literal with its column), and
// the conversions and three-valued logic have to match python/tarn/_filter.py
// exactly, which is easier to see in one place. Each node yields one truth
// per row; the comparisons are typed loops chosen once per batch.

// truth is the SQL truth value of a predicate on one row.
type truth uint8

const (
	isFalse truth = iota
	isTrue
	isNull
)

func truthOf(b bool) truth {
	if b {
		return isTrue
	}
	return isFalse
}

// evalFunc gives the truth of a predicate for every row of a batch.
type evalFunc func(rec arrow.RecordBatch) []truth

// boundFilter is a filter bound to the schema of the records it filters.
type boundFilter struct {
	eval evalFunc
}

// bindFilter checks a filter against a schema (columns, types, literals)
// and prepares its evaluation. Errors are EINVALID and name the filter.
func (f *RowFilter) bind(schema *arrow.Schema) (*boundFilter, error) {
	var names []string
	for _, fl := range schema.Fields() {
		names = append(names, fl.Name)
	}
	if err := f.checkColumns(names); err != nil {
		return nil, err
	}
	b := &binder{f: f, schema: schema}
	eval, err := b.node(f.root)
	if err != nil {
		return nil, err
	}
	return &boundFilter{eval: eval}, nil
}

// apply returns the rows of rec for which the filter is TRUE (rec itself,
// retained, when that is all of them).
func (r *boundFilter) apply(ctx context.Context, rec arrow.RecordBatch) (arrow.RecordBatch, error) {
	truths := r.eval(rec)
	keep := 0
	for _, t := range truths {
		if t == isTrue {
			keep++
		}
	}
	if keep == len(truths) {
		rec.Retain()
		return rec, nil
	}
	mask := array.NewBooleanBuilder(memory.DefaultAllocator)
	defer mask.Release()
	mask.Reserve(len(truths))
	for _, t := range truths {
		mask.UnsafeAppend(t == isTrue)
	}
	arr := mask.NewArray()
	defer arr.Release()
	return compute.FilterRecordBatch(ctx, rec, arr, compute.DefaultFilterOptions())
}

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
	switch t := t.(type) {
	case *arrow.StringType:
		return "string"
	case *arrow.LargeStringType:
		return "large_string"
	case *arrow.Float32Type:
		return "float"
	case *arrow.Float64Type:
		return "double"
	case *arrow.Date32Type:
		return "date32[day]"
	case *arrow.Date64Type:
		return "date64[ms]"
	case *arrow.Decimal128Type:
		return fmt.Sprintf("decimal128(%d, %d)", t.Precision, t.Scale)
	}
	return t.String()
}

// column is a column of the bound schema.
type column struct {
	name  string
	index int
	typ   arrow.DataType
	fam   family
}

func (c column) String() string { return fmt.Sprintf("%s (%s)", quoteName(c.name), typeName(c.typ)) }

type binder struct {
	f      *RowFilter
	schema *arrow.Schema
}

func (b *binder) column(name string) column {
	i := b.schema.FieldIndices(name)[0] // checkColumns ran first
	typ := b.schema.Field(i).Type
	return column{name: name, index: i, typ: typ, fam: familyOf(typ)}
}

func constant(t truth) evalFunc {
	return func(rec arrow.RecordBatch) []truth {
		out := make([]truth, rec.NumRows())
		for i := range out {
			out[i] = t
		}
		return out
	}
}

func (b *binder) node(n node) (evalFunc, error) {
	switch n := n.(type) {
	case logicNode:
		l, err := b.node(n.left)
		if err != nil {
			return nil, err
		}
		r, err := b.node(n.right)
		if err != nil {
			return nil, err
		}
		return func(rec arrow.RecordBatch) []truth {
			out, other := l(rec), r(rec)
			for i, t := range out {
				out[i] = kleene(n.and, t, other[i])
			}
			return out
		}, nil
	case notNode:
		inner, err := b.node(n.inner)
		if err != nil {
			return nil, err
		}
		return func(rec arrow.RecordBatch) []truth {
			out := inner(rec)
			for i, t := range out {
				if t != isNull {
					out[i] = truthOf(t == isFalse)
				}
			}
			return out
		}, nil
	case truthNode:
		return b.truth(n.value)
	case nullNode:
		if n.value.column == "" {
			return nil, b.f.errorf("IS NULL needs a column on its left, found %s", n.value)
		}
		col := b.column(n.value.column)
		return func(rec arrow.RecordBatch) []truth {
			arr := rec.Column(col.index)
			out := make([]truth, arr.Len())
			for i := range out {
				out[i] = truthOf(arr.IsNull(i) != n.negated)
			}
			return out
		}, nil
	case cmpNode:
		return b.comparison(n)
	case inNode:
		return b.in(n)
	case likeNode:
		return b.like(n)
	}
	return nil, fmt.Errorf("filter %q: unknown node %T", b.f.text, n)
}

// kleene is SQL's AND (and) or OR of two truth values.
func kleene(and bool, a, b truth) truth {
	if and {
		switch {
		case a == isFalse || b == isFalse:
			return isFalse
		case a == isTrue && b == isTrue:
			return isTrue
		}
		return isNull
	}
	switch {
	case a == isTrue || b == isTrue:
		return isTrue
	case a == isFalse && b == isFalse:
		return isFalse
	}
	return isNull
}

func (b *binder) truth(o operand) (evalFunc, error) {
	if o.column == "" {
		switch o.lit.kind {
		case litBool:
			return constant(truthOf(o.lit.b)), nil
		case litNull:
			return constant(isNull), nil
		}
		return nil, b.f.errorf("%s is not a condition; compare a column with it, e.g. miles > 1", o)
	}
	col := b.column(o.column)
	if col.fam != famBool {
		return nil, b.f.errorf("%s is not a boolean column; compare it, e.g. %s IS NOT NULL", col, quoteName(col.name))
	}
	return func(rec arrow.RecordBatch) []truth {
		arr := rec.Column(col.index).(*array.Boolean)
		out := make([]truth, arr.Len())
		for i := range out {
			if arr.IsNull(i) {
				out[i] = isNull
			} else {
				out[i] = truthOf(arr.Value(i))
			}
		}
		return out
	}, nil
}

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

var flipped = map[string]string{"=": "=", "!=": "!=", "<": ">", "<=": ">=", ">": "<", ">=": "<="}

func (b *binder) comparison(n cmpNode) (evalFunc, error) {
	left, right, op := n.left, n.right, n.op
	if left.column == "" && right.column == "" {
		return nil, b.f.errorf("%s %s %s compares two values; one side must be a column", left, op, right)
	}
	if left.column == "" {
		left, right, op = right, left, flipped[op]
	}
	if right.column == "" && right.lit.kind == litNull {
		return constant(isNull), nil
	}
	var cmp comparer
	var err error
	if right.column == "" {
		cmp, err = b.columnWithLiteral(b.column(left.column), right.lit)
	} else {
		cmp, err = b.columnWithColumn(b.column(left.column), b.column(right.column))
	}
	if err != nil {
		return nil, err
	}
	return func(rec arrow.RecordBatch) []truth {
		at := cmp(rec)
		out := make([]truth, rec.NumRows())
		for i := range out {
			if c, ok := at(i); ok {
				out[i] = truthOf(holds(op, c))
			} else {
				out[i] = isNull
			}
		}
		return out
	}, nil
}

func (b *binder) in(n inNode) (evalFunc, error) {
	if n.value.column == "" {
		return nil, b.f.errorf("IN needs a column on its left, found %s", n.value)
	}
	col := b.column(n.value.column)
	kinds := map[litKind]bool{}
	var names []string
	for _, o := range n.list {
		if o.lit.kind != litNull && !kinds[o.lit.kind] {
			kinds[o.lit.kind] = true
			names = append(names, o.lit.kind.String())
		}
	}
	if len(kinds) > 1 {
		return nil, b.f.errorf("mixed literal types %s in the IN list; use values of one type", strings.Join(slices.Sorted(slices.Values(names)), ", "))
	}
	hasNull := false
	var members []comparer
	for _, o := range n.list {
		if o.lit.kind == litNull {
			hasNull = true
			continue
		}
		cmp, err := b.columnWithLiteral(col, o.lit)
		if err != nil {
			return nil, err
		}
		members = append(members, cmp)
	}
	return func(rec arrow.RecordBatch) []truth {
		ats := make([]func(int) (int, bool), len(members))
		for k, m := range members {
			ats[k] = m(rec)
		}
		values := rec.Column(col.index)
		out := make([]truth, rec.NumRows())
		for i := range out {
			if values.IsNull(i) {
				out[i] = isNull
				continue
			}
			found := false
			for _, at := range ats {
				if c, _ := at(i); c == 0 {
					found = true
					break
				}
			}
			switch {
			case found:
				out[i] = truthOf(!n.negated)
			case hasNull: // x IN (..., NULL) is NULL when x is not listed
				out[i] = isNull
			default:
				out[i] = truthOf(n.negated)
			}
		}
		return out
	}, nil
}

func (b *binder) like(n likeNode) (evalFunc, error) {
	keyword := "LIKE"
	if n.fold {
		keyword = "ILIKE"
	}
	if n.value.column == "" {
		return nil, b.f.errorf("%s needs a column on its left, found %s", keyword, n.value)
	}
	col := b.column(n.value.column)
	if col.fam != famString {
		return nil, b.f.errorf("%s is not a string column; %s matches strings", col, keyword)
	}
	match := likeMatcher(n.pattern, n.fold)
	return func(rec arrow.RecordBatch) []truth {
		arr := rec.Column(col.index)
		get := stringsOf(arr)
		out := make([]truth, arr.Len())
		for i := range out {
			if arr.IsNull(i) {
				out[i] = isNull
			} else {
				out[i] = truthOf(match(get(i)) != n.negated)
			}
		}
		return out
	}, nil
}

// likeMatcher compiles a LIKE pattern: % any characters (newlines too),
// _ one character, a backslash escapes the next character.
func likeMatcher(pattern string, fold bool) func(string) bool {
	var literal strings.Builder
	var re strings.Builder
	re.WriteString(`(?s)`)
	if fold {
		re.WriteString(`(?i)`)
	}
	re.WriteString(`\A`)
	plain, prefix := true, false
	escaped := false
	for i, c := range pattern {
		switch {
		case escaped:
			escaped = false
			re.WriteString(regexp.QuoteMeta(string(c)))
			literal.WriteRune(c)
		case c == '\\':
			escaped = true
		case c == '%':
			re.WriteString(`.*`)
			if i == len(pattern)-1 && plain {
				prefix = true
			}
			plain = false
		case c == '_':
			re.WriteString(`.`)
			plain = false
		default:
			re.WriteString(regexp.QuoteMeta(string(c)))
			literal.WriteRune(c)
		}
	}
	re.WriteString(`\z`)
	text := literal.String()
	switch {
	case !fold && plain:
		return func(s string) bool { return s == text }
	case !fold && prefix:
		return func(s string) bool { return strings.HasPrefix(s, text) }
	}
	compiled := regexp.MustCompile(re.String())
	return compiled.MatchString
}

// columnWithLiteral compares a column with a (non-null) literal converted
// to the column's type.
func (b *binder) columnWithLiteral(col column, lit literal) (comparer, error) {
	mismatch := func() error { return b.f.errorf("cannot compare %s with %s", col, lit) }
	switch col.fam {
	case famInt:
		if lit.kind != litNumber {
			return nil, mismatch()
		}
		if lit.isInt {
			return intsWith(col.index, lit.i), nil
		}
		return floatsWith(col.index, lit.f), nil
	case famFloat:
		if lit.kind != litNumber {
			return nil, mismatch()
		}
		return floatsWith(col.index, lit.f), nil
	case famDecimal:
		if lit.kind != litNumber {
			return nil, mismatch()
		}
		scale := col.typ.(*arrow.Decimal128Type).Scale
		if lit.rat == nil { // ±Inf
			return floatsWith(col.index, lit.f), nil
		}
		return decimalsWith(col.index, scale, lit.rat), nil
	case famString:
		if lit.kind != litString {
			return nil, mismatch()
		}
		return stringsWith(col.index, lit.s), nil
	case famBool:
		if lit.kind != litBool {
			return nil, mismatch()
		}
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
		return func(i int) int64 { return int64(a.Value(i)) }
	case *array.Int16:
		return func(i int) int64 { return int64(a.Value(i)) }
	case *array.Int32:
		return func(i int) int64 { return int64(a.Value(i)) }
	case *array.Int64:
		return a.Value
	case *array.Uint8:
		return func(i int) int64 { return int64(a.Value(i)) }
	case *array.Uint16:
		return func(i int) int64 { return int64(a.Value(i)) }
	case *array.Uint32:
		return func(i int) int64 { return int64(a.Value(i)) }
	}
	panic(fmt.Sprintf("filter: %s is not an integer column", a.DataType()))
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
