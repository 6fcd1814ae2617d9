package query

import (
	"encoding/json"
	"strings"
)

// node is one object of DuckDB's JSON parse tree (json_serialize_sql).
type node = map[string]any

// tableRef is one base-table reference in a statement.
type tableRef struct {
	catalog, schema, name, alias string
	// scope is the SELECT whose FROM holds the reference directly; nil
	// when it appears elsewhere (its rows are then never filtered here).
	scope *scope
}

// binding is the name columns use to qualify a reference.
func (r *tableRef) binding() string {
	if r.alias != "" {
		return r.alias
	}
	return r.name
}

// scope is one SELECT node: its base tables and the conditions that rows
// of those tables must satisfy to contribute to its result.
type scope struct {
	tables []*tableRef
	conds  []condition
}

// condition is a conjunct that only rows of some tables can satisfy.
type condition struct {
	expr node
	// only restricts the tables the conjunct may prune (nil: all tables
	// of the scope).
	only map[*tableRef]bool
	// strictOnly: the conjunct sits above an outer join, so only
	// null-rejecting predicates may prune (IS NULL may not).
	strictOnly bool
}

// analysis is what tarn needs from a parsed SELECT statement.
type analysis struct {
	refs []*tableRef
	ctes map[string]bool // lower-cased CTE names
	// sampled is set when the statement samples rows (USING SAMPLE,
	// TABLESAMPLE): samples depend on every row read, so nothing is pruned.
	sampled bool
}

// parsedStatement decodes json_serialize_sql output.
type parsedStatement struct {
	Error        bool   `json:"error"`
	ErrorType    string `json:"error_type"`
	ErrorMessage string `json:"error_message"`
	Position     string `json:"position"`
	Statements   []struct {
		Node node `json:"node"`
	} `json:"statements"`
}

func decodeParse(text string) (*parsedStatement, error) {
	var p parsedStatement
	dec := json.NewDecoder(strings.NewReader(text))
	dec.UseNumber()
	if err := dec.Decode(&p); err != nil {
		return nil, err
	}
	return &p, nil
}

// analyze walks a statement's parse tree.
func analyze(root node) *analysis {
	a := &analysis{ctes: map[string]bool{}}
	a.visit(root)
	return a
}

func (a *analysis) visit(v any) {
	switch v := v.(type) {
	case []any:
		for _, x := range v {
			a.visit(x)
		}
	case node:
		if s, ok := v["sample"]; ok && s != nil {
			a.sampled = true
		}
		switch str(v, "type") {
		case "SELECT_NODE":
			a.visitSelect(v)
			return
		case "BASE_TABLE":
			a.refs = append(a.refs, newRef(v, nil))
			return
		case "TABLE_FUNCTION":
			a.refs = append(a.refs, tableFunctionRefs(v)...)
		}
		if m, ok := v["cte_map"].(node); ok {
			a.collectCTEs(m)
		}
		for _, x := range v {
			a.visit(x)
		}
	}
}

func (a *analysis) collectCTEs(m node) {
	entries, _ := m["map"].([]any)
	for _, e := range entries {
		if e, ok := e.(node); ok {
			a.ctes[strings.ToLower(str(e, "key"))] = true
		}
	}
}

func newRef(v node, sc *scope) *tableRef {
	return &tableRef{catalog: str(v, "catalog_name"), schema: str(v, "schema_name"), name: str(v, "table_name"),
		alias: str(v, "alias"), scope: sc}
}

// tableNameFunctions are DuckDB's table functions whose first argument
// names tables, as a string or a list of strings.
var tableNameFunctions = map[string]bool{"query_table": true, "pragma_table_info": true}

// tableFunctionRefs returns the tables a TABLE_FUNCTION node names by
// constant strings, as in query_table('trips') or
// query_table(['a', 'b']). They have no scope: no filter prunes their
// files.
func tableFunctionRefs(v node) []*tableRef {
	fn, _ := v["function"].(node)
	if fn == nil || !tableNameFunctions[strings.ToLower(str(fn, "function_name"))] {
		return nil
	}
	args := children(fn)
	if len(args) == 0 {
		return nil
	}
	names := []node{args[0]}
	if str(args[0], "class") == "FUNCTION" && str(args[0], "function_name") == "list_value" {
		names = children(args[0])
	}
	var refs []*tableRef
	for _, arg := range names {
		name, ok := stringConstant(arg)
		if !ok {
			continue
		}
		parts := strings.Split(name, ".")
		for i, p := range parts {
			parts[i] = strings.TrimSpace(strings.Trim(strings.TrimSpace(p), `"`))
		}
		r := &tableRef{name: parts[len(parts)-1]}
		switch len(parts) {
		case 2:
			r.schema = parts[0]
		case 3:
			r.catalog, r.schema = parts[0], parts[1]
		}
		refs = append(refs, r)
	}
	return refs
}

// stringConstant returns the value of a VARCHAR constant expression.
func stringConstant(e node) (string, bool) {
	if str(e, "class") != "CONSTANT" {
		return "", false
	}
	val, _ := e["value"].(node)
	typ, _ := val["type"].(node)
	if val == nil || typ == nil || str(typ, "id") != "VARCHAR" || val["is_null"] == true {
		return "", false
	}
	s, ok := val["value"].(string)
	return s, ok
}

// visitSelect records the SELECT's own base tables with the conditions
// that filter them, then visits everything else inside it.
func (a *analysis) visitSelect(v node) {
	if s, ok := v["sample"]; ok && s != nil {
		a.sampled = true
	}
	sc := &scope{}
	if m, ok := v["cte_map"].(node); ok {
		a.collectCTEs(m)
	}
	outer := a.visitFrom(sc, v["from_table"])
	if w, ok := v["where_clause"].(node); ok {
		for _, c := range conjuncts(w) {
			sc.conds = append(sc.conds, condition{expr: c, strictOnly: outer})
		}
	}
	for k, x := range v {
		if k != "from_table" {
			a.visit(x)
		}
	}
}

// visitFrom records the base tables of a FROM clause (through joins) in
// sc, adds usable join conditions, visits the rest, and reports whether an
// outer join is involved.
func (a *analysis) visitFrom(sc *scope, v any) (outer bool) {
	f, ok := v.(node)
	if !ok {
		return false
	}
	switch str(f, "type") {
	case "BASE_TABLE":
		if s, ok := f["sample"]; ok && s != nil {
			a.sampled = true
		}
		r := newRef(f, sc)
		sc.tables = append(sc.tables, r)
		a.refs = append(a.refs, r)
		return false
	case "JOIN":
		before := len(sc.tables)
		outerL := a.visitFrom(sc, f["left"])
		mid := len(sc.tables)
		outerR := a.visitFrom(sc, f["right"])
		a.visit(f["condition"])
		joinType, refType := str(f, "join_type"), str(f, "ref_type")
		cond, _ := f["condition"].(node)
		if cond != nil && refType == "REGULAR" {
			var only map[*tableRef]bool
			switch joinType {
			case "INNER":
				only = tableSet(sc.tables[before:])
			case "LEFT": // the ON clause only decides which right rows match
				only = tableSet(sc.tables[mid:])
			case "RIGHT":
				only = tableSet(sc.tables[before:mid])
			}
			if only != nil {
				for _, c := range conjuncts(cond) {
					// Rows failing an ON conjunct never join, whatever
					// surrounds the join: any predicate may prune.
					sc.conds = append(sc.conds, condition{expr: c, only: only})
				}
			}
		}
		return outerL || outerR || joinType != "INNER" && joinType != ""
	}
	a.visit(f)
	return false
}

func tableSet(refs []*tableRef) map[*tableRef]bool {
	m := make(map[*tableRef]bool, len(refs))
	for _, r := range refs {
		m[r] = true
	}
	return m
}

// conjuncts splits an AND tree.
func conjuncts(e node) []node {
	if str(e, "type") == "CONJUNCTION_AND" {
		var out []node
		for _, c := range children(e) {
			out = append(out, conjuncts(c)...)
		}
		return out
	}
	return []node{e}
}

func children(e node) []node {
	list, _ := e["children"].([]any)
	out := make([]node, 0, len(list))
	for _, c := range list {
		if c, ok := c.(node); ok {
			out = append(out, c)
		}
	}
	return out
}

func str(v node, key string) string {
	s, _ := v[key].(string)
	return s
}

// columnRef returns the parts of a COLUMN_REF expression.
func columnRef(e node) ([]string, bool) {
	if str(e, "class") != "COLUMN_REF" {
		return nil, false
	}
	list, _ := e["column_names"].([]any)
	parts := make([]string, 0, len(list))
	for _, p := range list {
		s, ok := p.(string)
		if !ok {
			return nil, false
		}
		parts = append(parts, s)
	}
	return parts, len(parts) > 0
}

// constantFunctions are the functions a constant operand may use: pure
// and deterministic, so evaluating them once gives the query's value.
var constantFunctions = map[string]bool{
	"+": true, "-": true, "*": true, "/": true, "//": true, "%": true,
	"to_years": true, "to_months": true, "to_weeks": true, "to_days": true, "to_hours": true,
	"to_minutes": true, "to_seconds": true, "to_milliseconds": true, "to_microseconds": true,
	"trunc": true, "make_date": true, "make_time": true, "make_timestamp": true, "make_timestamptz": true,
	"date_add": true, "date_sub": true, "lower": true, "upper": true, "concat": true, "||": true,
}

// isConstant reports whether an expression only combines literals with
// deterministic functions.
func isConstant(e node) bool {
	switch str(e, "class") {
	case "CONSTANT":
		return true
	case "CAST":
		c, ok := e["child"].(node)
		return ok && isConstant(c)
	case "FUNCTION":
		if !constantFunctions[strings.ToLower(str(e, "function_name"))] || str(e, "schema") != "" ||
			e["filter"] != nil || e["distinct"] == true {
			return false
		}
		for _, c := range children(e) {
			if !isConstant(c) {
				return false
			}
		}
		return true
	}
	return false
}
