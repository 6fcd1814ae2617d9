package query

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	duckdb "github.com/duckdb/duckdb-go/v2"
	"github.com/tarnhq/tarn/table"
)

// candidate is a predicate found in the parse tree, before its operands
// are evaluated.
type candidate struct {
	ref      *tableRef
	column   table.ScanColumn
	op       string
	operands []node // constant expressions
	values   []any  // their values in the column's type, after evaluation
	ok       bool
}

// filters extracts, per bound table, the simple predicates each of its
// references must satisfy, evaluates their constants with DuckDB and
// returns them as a Filter (one conjunction per reference).
func (s *session) filters(ctx context.Context, an *analysis) (map[*boundTable]table.Filter, error) {
	owner := map[*tableRef]*boundTable{}
	for _, t := range s.tables {
		for _, r := range t.refs {
			owner[r] = t
		}
	}
	var cands []*candidate
	for _, sc := range scopesOf(an) {
		for _, cond := range sc.conds {
			cands = append(cands, extract(sc, cond, owner)...)
		}
	}
	if err := s.evaluate(ctx, cands); err != nil {
		return nil, err
	}
	byRef := map[*tableRef][]table.Predicate{}
	for _, c := range cands {
		if c.ok {
			byRef[c.ref] = append(byRef[c.ref], table.Predicate{Column: c.column.Name, Op: c.op, Values: c.values})
		}
	}
	out := map[*boundTable]table.Filter{}
	for _, t := range s.tables {
		var f table.Filter
		for _, r := range t.refs {
			preds := byRef[r]
			if len(preds) == 0 {
				f = nil // this reference reads every row
				break
			}
			f = append(f, preds)
		}
		out[t] = f
	}
	return out, nil
}

func scopesOf(an *analysis) []*scope {
	seen := map[*scope]bool{}
	var out []*scope
	for _, r := range an.refs {
		if r.scope != nil && !seen[r.scope] {
			seen[r.scope] = true
			out = append(out, r.scope)
		}
	}
	return out
}

var compareOps = map[string]string{
	"COMPARE_EQUAL": table.OpEQ, "COMPARE_LESSTHAN": table.OpLT, "COMPARE_LESSTHANOREQUALTO": table.OpLE,
	"COMPARE_GREATERTHAN": table.OpGT, "COMPARE_GREATERTHANOREQUALTO": table.OpGE,
}

var flipped = map[string]string{table.OpEQ: table.OpEQ, table.OpLT: table.OpGT, table.OpLE: table.OpGE,
	table.OpGT: table.OpLT, table.OpGE: table.OpLE}

// extract recognizes col <op> constant, constant <op> col, col BETWEEN a
// AND b, col IN (constants), col IS [NOT] NULL and col LIKE 'prefix%'.
func extract(sc *scope, cond condition, owner map[*tableRef]*boundTable) []*candidate {
	e := cond.expr
	mk := func(colExpr node, op string, operands ...node) *candidate {
		parts, ok := columnRef(colExpr)
		if !ok {
			return nil
		}
		ref, col, ok := resolveColumn(sc, parts, owner)
		if !ok || (cond.only != nil && !cond.only[ref]) {
			return nil
		}
		for _, o := range operands {
			if !isConstant(o) {
				return nil
			}
		}
		return &candidate{ref: ref, column: col, op: op, operands: operands}
	}
	var out []*candidate
	add := func(c *candidate) {
		if c != nil {
			out = append(out, c)
		}
	}
	typ := str(e, "type")
	left, _ := e["left"].(node)
	right, _ := e["right"].(node)
	switch {
	case compareOps[typ] != "" && left != nil && right != nil:
		op := compareOps[typ]
		if _, ok := columnRef(left); ok {
			add(mk(left, op, right))
		} else {
			add(mk(right, flipped[op], left))
		}
	case typ == "COMPARE_BETWEEN":
		input, _ := e["input"].(node)
		lower, _ := e["lower"].(node)
		upper, _ := e["upper"].(node)
		if input != nil && lower != nil && upper != nil {
			add(mk(input, table.OpGE, lower))
			add(mk(input, table.OpLE, upper))
		}
	case typ == "COMPARE_IN":
		ch := children(e)
		if len(ch) >= 2 {
			add(mk(ch[0], table.OpIn, ch[1:]...))
		}
	case typ == "OPERATOR_IS_NULL" && !cond.strictOnly:
		if ch := children(e); len(ch) == 1 {
			add(mk(ch[0], "is null"))
		}
	case typ == "OPERATOR_IS_NOT_NULL":
		if ch := children(e); len(ch) == 1 {
			add(mk(ch[0], "is not null"))
		}
	case typ == "FUNCTION" && str(e, "function_name") == "~~":
		ch := children(e)
		if len(ch) == 2 && str(ch[1], "class") == "CONSTANT" {
			if prefix, ok := likePrefix(ch[1]); ok {
				if c := mk(ch[0], table.OpStartsWith); c != nil && c.column.SQLType == "VARCHAR" {
					c.values, c.ok = []any{prefix}, true
					add(c)
				}
			}
		}
	}
	return out
}

// likePrefix returns the literal prefix a LIKE pattern requires.
func likePrefix(constant node) (string, bool) {
	v, _ := constant["value"].(node)
	if v == nil || v["is_null"] == true {
		return "", false
	}
	if t, _ := v["type"].(node); t == nil || str(t, "id") != "VARCHAR" {
		return "", false
	}
	pattern, ok := v["value"].(string)
	if !ok {
		return "", false
	}
	end := strings.IndexAny(pattern, "%_")
	if end < 0 {
		end = len(pattern)
	}
	prefix := pattern[:end]
	return prefix, prefix != "" && !strings.Contains(prefix, `\`)
}

// resolveColumn finds the lakehouse table reference a column belongs to
// in a scope, the way DuckDB binds it: a qualifier names a table of the
// scope; an unqualified name must belong to exactly one.
func resolveColumn(sc *scope, parts []string, owner map[*tableRef]*boundTable) (*tableRef, table.ScanColumn, bool) {
	find := func(r *tableRef, name string) (table.ScanColumn, bool) {
		bt := owner[r]
		if bt == nil || bt.scan == nil {
			return table.ScanColumn{}, false
		}
		for _, c := range bt.scan.Columns() {
			if strings.EqualFold(c.Name, name) {
				return c, true
			}
		}
		return table.ScanColumn{}, false
	}
	switch len(parts) {
	case 1:
		var found *tableRef
		var col table.ScanColumn
		for _, r := range sc.tables {
			if c, ok := find(r, parts[0]); ok {
				if found != nil {
					return nil, table.ScanColumn{}, false
				}
				found, col = r, c
			}
		}
		return found, col, found != nil
	case 2:
		for _, r := range sc.tables {
			if strings.EqualFold(r.binding(), parts[0]) {
				c, ok := find(r, parts[1])
				return r, c, ok
			}
		}
	}
	return nil, table.ScanColumn{}, false
}

// evaluate computes every candidate's operands in its column's type with
// one DuckDB query, and keeps only exact values: a constant that changes
// when cast to the column's type (2.5 for an integer column) is dropped.
func (s *session) evaluate(ctx context.Context, cands []*candidate) error {
	type slot struct {
		cand  *candidate
		index int
	}
	var exprs []any
	var slots []slot
	for _, c := range cands {
		if c.ok {
			continue
		}
		if len(c.operands) == 0 {
			c.ok = true
			continue
		}
		c.values = make([]any, len(c.operands))
		for i, o := range c.operands {
			aliased := node{}
			for k, v := range o {
				aliased[k] = v
			}
			aliased["alias"] = fmt.Sprintf("v%d", len(exprs))
			exprs = append(exprs, aliased)
			slots = append(slots, slot{c, i})
		}
	}
	if len(exprs) == 0 {
		return nil
	}
	stmt := map[string]any{"error": false, "statements": []any{map[string]any{"node": map[string]any{
		"type": "SELECT_NODE", "modifiers": []any{}, "cte_map": map[string]any{"map": []any{}},
		"select_list": exprs, "from_table": map[string]any{"type": "EMPTY", "alias": "", "sample": nil},
		"where_clause": nil, "group_expressions": []any{}, "group_sets": []any{},
		"aggregate_handling": "STANDARD_HANDLING", "having": nil, "sample": nil, "qualify": nil,
	}, "named_param_map": []any{}}}}
	js, err := json.Marshal(stmt)
	if err != nil {
		return err
	}
	db, err := planner()
	if err != nil {
		return err
	}
	var constSQL string
	if err := db.QueryRowContext(ctx, "SELECT json_deserialize_sql(?::JSON)", string(js)).Scan(&constSQL); err != nil {
		if ctx.Err() != nil {
			return interrupted(ctx.Err())
		}
		return nil // not evaluable: plan without these predicates
	}
	var cols []string
	for i, sl := range slots {
		v, t := fmt.Sprintf("v%d", i), sl.cand.column.SQLType
		cols = append(cols, fmt.Sprintf("typeof(%s)", v), fmt.Sprintf("TRY_CAST(%s AS %s)", v, t),
			fmt.Sprintf("coalesce(TRY_CAST(%s AS %s) = %s, false)", v, t, v))
	}
	dest := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range dest {
		ptrs[i] = &dest[i]
	}
	row := db.QueryRowContext(ctx, "SELECT "+strings.Join(cols, ", ")+" FROM ("+constSQL+")")
	if err := row.Scan(ptrs...); err != nil {
		if ctx.Err() != nil {
			return interrupted(ctx.Err())
		}
		return nil
	}
	valid := map[*candidate]bool{}
	for i, sl := range slots {
		typ, _ := dest[3*i].(string)
		value, exact := dest[3*i+1], dest[3*i+2] == true
		if _, seen := valid[sl.cand]; !seen {
			valid[sl.cand] = true
		}
		switch {
		case typ == "NULL" && sl.cand.op == table.OpIn:
			sl.cand.values[sl.index] = nil // x IN (1, NULL) filters like x IN (1)
		case value == nil || !exact:
			valid[sl.cand] = false
		case sl.cand.column.SQLType == "VARCHAR" && typ != "VARCHAR":
			valid[sl.cand] = false // DuckDB would compare as the other type
		default:
			sl.cand.values[sl.index] = goValue(value, sl.cand.column.SQLType)
		}
	}
	for c, ok := range valid {
		c.ok = ok
	}
	return nil
}

// goValue converts a scanned DuckDB value to what table.Predicate takes.
func goValue(v any, sqlType string) any {
	switch v := v.(type) {
	case duckdb.Decimal:
		return v.String()
	case duckdb.UUID:
		return [16]byte(v)
	case []byte:
		if sqlType == "UUID" && len(v) == 16 {
			return [16]byte(v)
		}
		return v
	case time.Time:
		return v.UTC()
	}
	return v
}
