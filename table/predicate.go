package table

import (
	"math"
	"math/big"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/apache/iceberg-go"
)

// Filters meet Iceberg twice. A lake-table input pushes into its scan an
// expression that every row the filter keeps satisfies (pushdown), so that
// files are pruned by partitions and column statistics, and then applies
// the whole filter to the rows (boundFilter). An overwrite filter must say
// exactly which rows a write replaces, so it is translated whole, and what
// Iceberg cannot express is refused (ParsePredicate, CheckOverwrite).

// ParsePredicate parses an overwrite filter into the Iceberg expression
// that selects the rows an OVERWRITE_PARTITIONS write replaces. The filter
// language is RowFilter's, less what Iceberg cannot express (see
// CheckOverwrite). Errors are EINVALID.
func ParsePredicate(text string, schema *iceberg.Schema) (iceberg.BooleanExpression, error) {
	f, err := ParseRowFilter(text)
	if err != nil {
		return nil, err
	}
	if err := f.CheckOverwrite(); err != nil {
		return nil, err
	}
	if err := f.checkColumns(fieldNames(schema)); err != nil {
		return nil, err
	}
	t := &icebergTranslator{f: f, schema: schema}
	return t.exact(f.root)
}

// CheckOverwrite reports, as EINVALID, a construct that an overwrite filter
// cannot use because Iceberg cannot select rows by it: LIKE and ILIKE,
// comparisons of two columns, and NULL other than in IS [NOT] NULL. It
// needs no schema, so discovery runs it.
func (f *RowFilter) CheckOverwrite() error {
	refuse := func(what, instead string) error {
		return f.errorf("an overwrite filter cannot use %s: Iceberg selects the rows a write replaces by comparing columns with values; %s", what, instead)
	}
	isNull := func(o operand) bool { return o.column == "" && o.lit.kind == litNull }
	var check func(n node) error
	check = func(n node) error {
		switch n := n.(type) {
		case logicNode:
			if err := check(n.left); err != nil {
				return err
			}
			return check(n.right)
		case notNode:
			return check(n.inner)
		case likeNode:
			keyword := "LIKE"
			if n.fold {
				keyword = "ILIKE"
			}
			return refuse(keyword, "use =, IN or a range such as name >= 'a' AND name < 'b'")
		case cmpNode:
			if n.left.column != "" && n.right.column != "" {
				return refuse("a comparison of two columns ("+n.left.String()+" "+n.op+" "+n.right.String()+")", "compare each column with a value")
			}
			if isNull(n.left) || isNull(n.right) {
				return refuse("a comparison with NULL", "use IS NULL or IS NOT NULL")
			}
		case inNode:
			for _, o := range n.list {
				if isNull(o) {
					return refuse("NULL in an IN list", "remove it, or add OR ... IS NULL")
				}
			}
		case truthNode:
			if isNull(n.value) {
				return refuse("NULL as a condition", "use IS NULL or IS NOT NULL")
			}
		}
		return nil
	}
	return check(f.root)
}

// pushdown returns the Iceberg expression to scan with: every row for
// which the filter is TRUE satisfies it, so the scan loses no row the
// filter keeps. What Iceberg cannot express or prune by becomes
// AlwaysTrue (LIKE other than a prefix, ILIKE, comparisons of two
// columns, a literal that does not convert exactly to its column's type).
// forRows leaves out what iceberg-go v0.7.0 prunes files by but cannot
// evaluate on rows: conditions on decimal columns (its record filter
// panics: arrow-go's castBinaryDecimalArgs gets one argument) and
// StartsWith (not implemented); the rows of the planned files are read
// with the rest. Booleans are compared by = and != only (arrow-go has no
// ordering of booleans).
func (f *RowFilter) pushdown(schema *iceberg.Schema, forRows bool) iceberg.BooleanExpression {
	t := &icebergTranslator{f: f, schema: schema, forRows: forRows}
	return t.implied(f.root, true)
}

func fieldNames(schema *iceberg.Schema) []string {
	var names []string
	for _, f := range schema.Fields() {
		names = append(names, f.Name)
	}
	return names
}

type icebergTranslator struct {
	f       *RowFilter
	schema  *iceberg.Schema
	forRows bool // leave out what the record filter cannot evaluate (see pushdown)
}

var negatedOps = map[string]string{"=": "!=", "!=": "=", "<": ">=", "<=": ">", ">": "<=", ">=": "<"}

var icebergOps = map[string]iceberg.Operation{"=": iceberg.OpEQ, "!=": iceberg.OpNEQ,
	"<": iceberg.OpLT, "<=": iceberg.OpLTEQ, ">": iceberg.OpGT, ">=": iceberg.OpGTEQ}

// implied translates n (when positive) or NOT n (when not) into an
// expression that holds on every row where it is TRUE. Negation is pushed
// down to the leaves, where SQL's NOT of a comparison with a value is the
// opposite comparison on the rows where the column is not null.
func (t *icebergTranslator) implied(n node, positive bool) iceberg.BooleanExpression {
	switch n := n.(type) {
	case logicNode:
		left, right := t.implied(n.left, positive), t.implied(n.right, positive)
		if n.and == positive { // NOT (a OR b) holds where NOT a and NOT b do
			return iceberg.NewAnd(left, right)
		}
		return iceberg.NewOr(left, right)
	case notNode:
		return t.implied(n.inner, !positive)
	case truthNode:
		if n.value.column == "" {
			if n.value.lit.kind == litBool && n.value.lit.b == positive {
				return iceberg.AlwaysTrue{}
			}
			return iceberg.AlwaysFalse{} // FALSE, or NULL: never TRUE, nor is NOT NULL
		}
		return t.compare("=", n.value, operand{lit: literal{kind: litBool, b: positive}})
	case nullNode:
		if _, ok := t.field(n.value); !ok {
			return iceberg.AlwaysTrue{}
		}
		if n.negated == positive {
			return iceberg.NotNull(iceberg.Reference(n.value.column))
		}
		return iceberg.IsNull(iceberg.Reference(n.value.column))
	case cmpNode:
		left, right, op := n.left, n.right, n.op
		if left.column == "" {
			left, right, op = right, left, flipped[op]
		}
		if right.column == "" && right.lit.kind == litNull {
			return iceberg.AlwaysFalse{} // NULL, and so is its negation
		}
		if !positive {
			if t.isFloat(left) && op != "=" && op != "!=" {
				return iceberg.AlwaysTrue{} // NOT (x < 1) holds for NaN, x >= 1 does not
			}
			op = negatedOps[op]
		}
		return t.compare(op, left, right)
	case inNode:
		return t.in(n, positive)
	case likeNode:
		prefix, whole, ok := likePrefix(n.pattern)
		if !ok || n.fold || n.value.column == "" {
			return iceberg.AlwaysTrue{}
		}
		if whole {
			op := "="
			if n.negated == positive {
				op = "!="
			}
			return t.compare(op, n.value, operand{lit: literal{kind: litString, s: prefix}})
		}
		if _, ok := t.field(n.value); !ok || !t.isString(n.value) || t.forRows {
			return iceberg.AlwaysTrue{}
		}
		if n.negated == positive {
			return iceberg.NotStartsWith(iceberg.Reference(n.value.column), prefix)
		}
		return iceberg.StartsWith(iceberg.Reference(n.value.column), prefix)
	}
	return iceberg.AlwaysTrue{}
}

func (t *icebergTranslator) in(n inNode, positive bool) iceberg.BooleanExpression {
	if n.value.column == "" {
		return iceberg.AlwaysTrue{}
	}
	field, ok := t.field(n.value)
	if !ok {
		return iceberg.AlwaysTrue{}
	}
	member := n.negated != positive // what must hold: x IN (...), or else x NOT IN (...)
	var lits []iceberg.Literal
	for _, o := range n.list {
		if o.lit.kind == litNull {
			if !member {
				return iceberg.AlwaysFalse{} // x NOT IN (..., NULL) is never TRUE
			}
			continue
		}
		lit, ok := icebergLiteral(field, o.lit)
		if !ok {
			return iceberg.AlwaysTrue{}
		}
		lits = append(lits, lit)
	}
	op := iceberg.OpIn
	if !member {
		op = iceberg.OpNotIn
	}
	if len(lits) == 0 {
		return iceberg.AlwaysFalse{} // x IN (NULL) is never TRUE
	}
	return iceberg.SetPredicate(op, iceberg.Reference(field.Name), lits)
}

// compare translates column op literal, or AlwaysTrue when the literal
// does not convert exactly to the column's type or the column cannot be
// compared by Iceberg.
func (t *icebergTranslator) compare(op string, col, value operand) iceberg.BooleanExpression {
	if value.column != "" {
		return iceberg.AlwaysTrue{}
	}
	field, ok := t.field(col)
	if !ok {
		return iceberg.AlwaysTrue{}
	}
	lit, ok := icebergLiteral(field, value.lit)
	if _, boolean := field.Type.(iceberg.BooleanType); !ok || boolean && op != "=" && op != "!=" {
		return iceberg.AlwaysTrue{}
	}
	return iceberg.LiteralPredicate(icebergOps[op], iceberg.Reference(field.Name), lit)
}

func (t *icebergTranslator) field(o operand) (iceberg.NestedField, bool) {
	if o.column == "" {
		return iceberg.NestedField{}, false
	}
	f, ok := t.schema.FindFieldByName(o.column)
	if _, decimal := f.Type.(iceberg.DecimalType); ok && decimal && t.forRows {
		return f, false
	}
	return f, ok
}

func (t *icebergTranslator) isFloat(o operand) bool {
	f, ok := t.field(o)
	return ok && (f.Type.Equals(iceberg.PrimitiveTypes.Float32) || f.Type.Equals(iceberg.PrimitiveTypes.Float64))
}

func (t *icebergTranslator) isString(o operand) bool {
	f, ok := t.field(o)
	return ok && f.Type.Equals(iceberg.PrimitiveTypes.String)
}

// exact translates an overwrite filter (CheckOverwrite passed) into the
// Iceberg expression with the same meaning.
func (t *icebergTranslator) exact(n node) (iceberg.BooleanExpression, error) {
	switch n := n.(type) {
	case logicNode:
		left, right, err := sides(n, t.exact)
		if err != nil {
			return nil, err
		}
		if n.and {
			return iceberg.NewAnd(left, right), nil
		}
		return iceberg.NewOr(left, right), nil
	case notNode:
		inner, err := t.exact(n.inner)
		if err != nil {
			return nil, err
		}
		return iceberg.NewNot(inner), nil
	case truthNode:
		if n.value.column == "" {
			if n.value.lit.kind != litBool {
				return nil, t.f.errorf("%s is not a condition; compare a column with it, e.g. miles > 1", n.value)
			}
			if n.value.lit.b {
				return iceberg.AlwaysTrue{}, nil
			}
			return iceberg.AlwaysFalse{}, nil
		}
		return t.exactCompare("=", n.value, operand{lit: literal{kind: litBool, b: true}})
	case nullNode:
		if n.value.column == "" {
			return nil, t.f.errorf("IS NULL needs a column on its left, found %s", n.value)
		}
		if n.negated {
			return iceberg.NotNull(iceberg.Reference(n.value.column)), nil
		}
		return iceberg.IsNull(iceberg.Reference(n.value.column)), nil
	case cmpNode:
		left, right, op := n.left, n.right, n.op
		if left.column == "" && right.column == "" {
			return nil, t.f.errorf("%s %s %s compares two values; one side must be a column", left, op, right)
		}
		if left.column == "" {
			left, right, op = right, left, flipped[op]
		}
		return t.exactCompare(op, left, right)
	case inNode:
		if n.value.column == "" {
			return nil, t.f.errorf("IN needs a column on its left, found %s", n.value)
		}
		field, _ := t.field(n.value)
		var lits []iceberg.Literal
		for _, o := range n.list {
			lit, err := t.exactLiteral(field, o.lit)
			if err != nil {
				return nil, err
			}
			lits = append(lits, lit)
		}
		op := iceberg.OpIn
		if n.negated {
			op = iceberg.OpNotIn
		}
		return iceberg.SetPredicate(op, iceberg.Reference(field.Name), lits), nil
	}
	return nil, t.f.errorf("an overwrite filter cannot use %T", n) // CheckOverwrite refused the rest
}

func (t *icebergTranslator) exactCompare(op string, col, value operand) (iceberg.BooleanExpression, error) {
	field, _ := t.field(col)
	lit, err := t.exactLiteral(field, value.lit)
	if err != nil {
		return nil, err
	}
	return iceberg.LiteralPredicate(icebergOps[op], iceberg.Reference(field.Name), lit), nil
}

func (t *icebergTranslator) exactLiteral(field iceberg.NestedField, lit literal) (iceberg.Literal, error) {
	if out, ok := icebergLiteral(field, lit); ok {
		return out, nil
	}
	return nil, t.f.errorf("%s does not fit column %s of type %s exactly; an overwrite filter needs a value of the column's type",
		lit, quoteName(field.Name), field.Type)
}

// icebergLiteral converts a literal to the type of field, when it can be
// converted exactly (the value the evaluator compares with).
func icebergLiteral(field iceberg.NestedField, lit literal) (iceberg.Literal, bool) {
	integral := func() (int64, bool) {
		if lit.isInt {
			return lit.i, true
		}
		if lit.f == math.Trunc(lit.f) && math.Abs(lit.f) < 1<<63 {
			return int64(lit.f), true
		}
		return 0, false
	}
	switch typ := field.Type.(type) {
	case iceberg.BooleanType:
		if lit.kind == litBool {
			return iceberg.NewLiteral(lit.b), true
		}
	case iceberg.Int32Type:
		if i, ok := integral(); ok && lit.kind == litNumber && i >= math.MinInt32 && i <= math.MaxInt32 {
			return iceberg.NewLiteral(int32(i)), true
		}
	case iceberg.Int64Type:
		if i, ok := integral(); ok && lit.kind == litNumber {
			return iceberg.NewLiteral(i), true
		}
	case iceberg.Float32Type:
		if lit.kind == litNumber && float64(float32(lit.f)) == lit.f && (!lit.isInt || int64(lit.f) == lit.i) {
			return iceberg.NewLiteral(float32(lit.f)), true
		}
	case iceberg.Float64Type:
		if lit.kind == litNumber && (!lit.isInt || (lit.i > -1<<53 && lit.i < 1<<53)) {
			return iceberg.NewLiteral(lit.f), true
		}
	case iceberg.DecimalType:
		if lit.kind != litNumber || lit.rat == nil {
			break
		}
		scaled := new(big.Rat).Mul(lit.rat, new(big.Rat).SetInt(pow10(int32(typ.Scale()))))
		if !scaled.IsInt() || len(strings.TrimLeft(scaled.Num().String(), "-")) > typ.Precision() {
			break
		}
		return iceberg.NewLiteral(iceberg.Decimal{Val: decimal128.FromBigInt(scaled.Num()), Scale: typ.Scale()}), true
	case iceberg.StringType:
		if lit.kind == litString {
			return iceberg.NewLiteral(lit.s), true
		}
	case iceberg.DateType:
		switch lit.kind {
		case litString:
			if d, ok := parseDate(lit.s); ok {
				return iceberg.NewLiteral(iceberg.Date(floorDiv(d.t.Unix(), 86400))), true
			}
		case litDate:
			return iceberg.NewLiteral(iceberg.Date(floorDiv(lit.t.Unix(), 86400))), true
		}
	case iceberg.TimestampType, iceberg.TimestampTzType:
		switch lit.kind {
		case litString:
			if ts, ok := parseTimestamp(lit.s); ok {
				return iceberg.NewLiteral(iceberg.Timestamp(ticks(ts, arrow.Microsecond))), true
			}
		case litDate, litTimestamp:
			return iceberg.NewLiteral(iceberg.Timestamp(ticks(lit, arrow.Microsecond))), true
		}
	}
	return nil, false
}

// likePrefix returns the text a LIKE pattern requires a value to start
// with, when that is all it requires (whole: the pattern has no wildcard
// and requires the value to equal it).
func likePrefix(pattern string) (prefix string, whole, ok bool) {
	var b strings.Builder
	escaped := false
	rs := []rune(pattern)
	for i, c := range rs {
		switch {
		case escaped:
			escaped = false
			b.WriteRune(c)
		case c == '\\':
			escaped = true
		case c == '%':
			return b.String(), false, i == len(rs)-1
		case c == '_':
			return "", false, false
		default:
			b.WriteRune(c)
		}
	}
	return b.String(), true, true
}
