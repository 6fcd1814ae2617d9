package table

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/compute"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// The evaluator applies a whole filter to Arrow record batches, after the
// Iceberg scan has pruned files by what it could push down. It is a small
// vectorized interpreter rather than arrow-go's compute functions: those
// have no LIKE, no implicit casts between the types a filter compares
// (int with decimal, date with timestamp, a literal with its column), and
// the conversions and three-valued logic have to match python/tarn/_filter.py
// exactly, which is easier to see in one place. Each node yields one truth
// per row; the comparisons are typed loops chosen once per batch
// (filter_compare.go).

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
		l, r, err := sides(n, b.node)
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
				out[i] = negate(t)
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

// kleene is SQL's AND (and) or OR of two truth values; OR is the dual of
// AND: a OR b = NOT (NOT a AND NOT b).
func kleene(and bool, a, b truth) truth {
	if !and {
		return negate(kleene(true, negate(a), negate(b)))
	}
	switch {
	case a == isFalse || b == isFalse:
		return isFalse
	case a == isTrue && b == isTrue:
		return isTrue
	}
	return isNull
}

// negate is SQL's NOT: NOT NULL is NULL.
func negate(t truth) truth {
	if t == isNull {
		return isNull
	}
	return truthOf(t == isFalse)
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
