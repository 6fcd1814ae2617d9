package table

import (
	"fmt"
	"math"
	"math/big"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/tarnhq/tarn"
)

// RowFilter is a parsed row filter: the predicate of tarn.Model(filter=...)
// and of overwrite filters. The language is the one python/tarn/_filter.py
// implements, with the same results (testdata/filter holds the vectors
// both are tested against). Keywords are case-insensitive, column names
// are not:
//
//	filter     := or
//	or         := and { OR and }
//	and        := not { AND not }
//	not        := NOT not | predicate
//	predicate  := '(' or ')'
//	            | operand cmp operand              cmp: = == != <> < <= > >=
//	            | operand IS [NOT] NULL
//	            | operand [NOT] IN '(' literal { ',' literal } ')'
//	            | operand [NOT] BETWEEN operand AND operand
//	            | operand [NOT] LIKE 'pattern'     also ILIKE (case-insensitive)
//	            | operand                          a boolean column, TRUE, FALSE or NULL
//	operand    := column | literal
//	column     := name | "quoted name"            "" is a quote inside quotes
//	literal    := number | - number | 'text' | TRUE | FALSE | NULL
//	            | DATE 'YYYY-MM-DD' | TIMESTAMP '...' | TIMESTAMPTZ '...'
//	            | $name                          a run parameter (see BindFilter)
//
// A name is letters, digits and _, not starting with a digit; a number is
// 12, 1.5, .5 or 1e6 (an integer beyond 64 bits is a float); a quote inside
// 'text' is written twice. Timestamps are YYYY-MM-DD, optionally followed by T or a space and
// HH:MM, HH:MM:SS or HH:MM:SS.ffffff (digits past microseconds are
// dropped), optionally followed by Z or ±HH:MM.
//
// Meaning: SQL's three-valued logic. A comparison with NULL is NULL, NOT
// NULL is NULL, FALSE AND NULL is FALSE, TRUE OR NULL is TRUE, NULL IN (...)
// is NULL and so is x IN (..., NULL) when x is not in the list; a row is
// kept only when the predicate is TRUE. Floats compare as IEEE 754 (NaN
// equals nothing, is neither less nor greater). Every condition names a
// column, except TRUE, FALSE or NULL on its own; a literal is converted to
// the type of the column it meets: numbers to numbers (exactly for
// decimals), 'text' to a date or timestamp column as a date or timestamp,
// DATE to a timestamp column as midnight; a naive timestamp meets a zoned
// column as UTC and a zoned one meets a naive column in UTC. Columns
// compare with columns of the same kind: numbers, strings, booleans, dates
// and timestamps (not a zoned with a naive timestamp). In LIKE, % matches
// any characters, _ one character, and a backslash makes the next
// character literal (\%, \_, \\).
type RowFilter struct {
	text string
	root node
}

// String returns the filter as written.
func (f *RowFilter) String() string { return f.text }

type node interface{ filterNode() }

type (
	logicNode struct {
		and         bool // else OR
		left, right node
	}
	notNode struct{ inner node }
	cmpNode struct { // BETWEEN is two of them
		op          string
		left, right operand
	}
	nullNode struct {
		value   operand
		negated bool
	}
	inNode struct {
		value   operand
		list    []operand // literals
		negated bool
	}
	likeNode struct {
		value   operand
		pattern string
		negated bool
		fold    bool // ILIKE
	}
	truthNode struct{ value operand } // a boolean column or literal on its own
)

// sides applies f to both operands of AND or OR, stopping at an error.
func sides[T any](n logicNode, f func(node) (T, error)) (left, right T, err error) {
	if left, err = f(n.left); err == nil {
		right, err = f(n.right)
	}
	return left, right, err
}

func (logicNode) filterNode() {}
func (notNode) filterNode()   {}
func (cmpNode) filterNode()   {}
func (nullNode) filterNode()  {}
func (inNode) filterNode()    {}
func (likeNode) filterNode()  {}
func (truthNode) filterNode() {}

// operand is a column (column != "") or a literal.
type operand struct {
	column string
	lit    literal
}

type litKind int

const (
	litNumber litKind = iota
	litString
	litBool
	litNull
	litDate
	litTimestamp
)

var litKindNames = [...]string{"number", "string", "bool", "null", "date", "timestamp"}

func (k litKind) String() string { return litKindNames[k] }

// literal is a literal value. Numbers keep an exact value (rat) beside
// their int64 or float64; dates and timestamps are a time in UTC (one
// written with Z or an offset is converted to UTC, one without is taken as
// UTC).
type literal struct {
	kind  litKind
	isInt bool
	i     int64
	f     float64
	rat   *big.Rat
	s     string
	b     bool
	t     time.Time
}

// String renders the literal as it could be written.
func (l literal) String() string {
	switch l.kind {
	case litNumber:
		if l.isInt {
			return strconv.FormatInt(l.i, 10)
		}
		return strconv.FormatFloat(l.f, 'g', -1, 64)
	case litString:
		return "'" + strings.ReplaceAll(l.s, "'", "''") + "'"
	case litBool:
		return strings.ToUpper(strconv.FormatBool(l.b))
	case litNull:
		return "NULL"
	case litDate:
		return "DATE '" + l.t.Format(time.DateOnly) + "'"
	}
	return "TIMESTAMP '" + l.s + "'"
}

func (o operand) String() string {
	if o.column != "" {
		return quoteName(o.column)
	}
	return o.lit.String()
}

// quoteName writes a column name as the filter language would need it.
func quoteName(name string) string {
	if identRe.MatchString(name) && !filterKeywords[strings.ToUpper(name)] {
		return name
	}
	return `"` + strings.ReplaceAll(name, `"`, `""`) + `"`
}

var identRe = regexp.MustCompile(`^[\pL_][\pL\pN_]*$`)

var filterKeywords = map[string]bool{"AND": true, "OR": true, "NOT": true, "IN": true, "IS": true, "NULL": true,
	"BETWEEN": true, "TRUE": true, "FALSE": true, "DATE": true, "TIMESTAMP": true, "TIMESTAMPTZ": true,
	"LIKE": true, "ILIKE": true}

var comparisons = map[string]string{"=": "=", "==": "=", "!=": "!=", "<>": "!=", "<": "<", "<=": "<=", ">": ">", ">=": ">="}

// ParseRowFilter parses a filter (see RowFilter for the language). Errors are
// EINVALID and name the filter and the position.
func ParseRowFilter(text string) (*RowFilter, error) {
	toks, err := lexFilter(text)
	if err != nil {
		return nil, err
	}
	p := &filterParser{text: text, toks: toks}
	if p.peek().kind == tokEnd {
		return nil, tarn.Errorf(tarn.EINVALID, `filter is empty; remove it or write a predicate such as "miles > 0"`)
	}
	root, err := p.disjunction()
	if err == nil && p.peek().kind != tokEnd {
		err = p.fail("expected AND, OR or the end of the filter")
	}
	if err != nil {
		return nil, err
	}
	return &RowFilter{text: text, root: root}, nil
}

// Columns returns the columns the filter names, in order of appearance.
func (f *RowFilter) Columns() []string {
	var out []string
	seen := map[string]bool{}
	add := func(o operand) {
		if o.column != "" && !seen[o.column] {
			seen[o.column] = true
			out = append(out, o.column)
		}
	}
	var walk func(n node)
	walk = func(n node) {
		switch n := n.(type) {
		case logicNode:
			walk(n.left)
			walk(n.right)
		case notNode:
			walk(n.inner)
		case cmpNode:
			add(n.left)
			add(n.right)
		case nullNode:
			add(n.value)
		case inNode:
			add(n.value)
		case likeNode:
			add(n.value)
		case truthNode:
			add(n.value)
		}
	}
	walk(f.root)
	return out
}

// checkColumns reports the columns the filter names that are not in
// names (sorted, as the Python side does).
func (f *RowFilter) checkColumns(names []string) error {
	have := map[string]bool{}
	for _, n := range names {
		have[n] = true
	}
	var missing []string
	for _, c := range f.Columns() {
		if !have[c] {
			missing = append(missing, c)
		}
	}
	slices.Sort(missing)
	if len(missing) == 0 {
		return nil
	}
	return tarn.Errorf(tarn.EINVALID, "filter %q refers to %s, which the input does not have (columns: %s)%s",
		f.text, strings.Join(missing, ", "), strings.Join(names, ", "), tarn.Suggest(missing[0], names))
}

// errorf is an EINVALID error naming the filter.
func (f *RowFilter) errorf(format string, args ...any) error {
	return tarn.Errorf(tarn.EINVALID, "filter %q: %s", f.text, fmt.Sprintf(format, args...))
}

type tokKind int

const (
	tokEnd tokKind = iota
	tokNumber
	tokString
	tokIdent
	tokKeyword
	tokOp
	tokParam // $name: a run parameter, bound by BindFilter
)

type token struct {
	kind  tokKind
	value string // keywords upper-cased; strings and quoted names unquoted
	pos   int    // in characters
}

func positionError(text string, pos int, detail string) error {
	return tarn.Errorf(tarn.EINVALID, "filter %q: %s at position %d", text, detail, pos+1)
}

func lexFilter(text string) ([]token, error) {
	rs := []rune(text)
	var toks []token
	digit := func(i int) bool { return i < len(rs) && rs[i] >= '0' && rs[i] <= '9' }
	for i := 0; i < len(rs); {
		c := rs[i]
		start := i
		switch {
		case unicode.IsSpace(c):
			i++
			continue
		case digit(i) || (c == '.' && digit(i+1)):
			for digit(i) {
				i++
			}
			if i < len(rs) && rs[i] == '.' {
				i++
				for digit(i) {
					i++
				}
			}
			if i < len(rs) && (rs[i] == 'e' || rs[i] == 'E') {
				j := i + 1
				if j < len(rs) && (rs[j] == '+' || rs[j] == '-') {
					j++
				}
				if digit(j) {
					for i = j; digit(i); i++ {
					}
				}
			}
			toks = append(toks, token{tokNumber, string(rs[start:i]), start})
			continue
		case c == '\'' || c == '"':
			var b strings.Builder
			closed := false
			for i++; i < len(rs); i++ {
				if rs[i] == c {
					if i+1 < len(rs) && rs[i+1] == c {
						b.WriteRune(c)
						i++
						continue
					}
					closed = true
					i++
					break
				}
				b.WriteRune(rs[i])
			}
			if !closed {
				what := "string"
				if c == '"' {
					what = "quoted name"
				}
				return nil, positionError(text, start, fmt.Sprintf("unterminated %s: end it with %c", what, c))
			}
			kind := tokString
			if c == '"' {
				kind = tokIdent
			}
			toks = append(toks, token{kind, b.String(), start})
			continue
		case c == '$' && i+1 < len(rs) && (rs[i+1] == '_' || unicode.IsLetter(rs[i+1])):
			for i++; i < len(rs) && (rs[i] == '_' || unicode.IsLetter(rs[i]) || unicode.IsNumber(rs[i])); i++ {
			}
			toks = append(toks, token{tokParam, string(rs[start:i]), start})
			continue
		case c == '_' || unicode.IsLetter(c) || (unicode.IsNumber(c) && !unicode.IsDigit(c)):
			for i++; i < len(rs) && (rs[i] == '_' || unicode.IsLetter(rs[i]) || unicode.IsNumber(rs[i])); i++ {
			}
			word := string(rs[start:i])
			if upper := strings.ToUpper(word); filterKeywords[upper] {
				toks = append(toks, token{tokKeyword, upper, start})
			} else {
				toks = append(toks, token{tokIdent, word, start})
			}
			continue
		}
		two := ""
		if i+1 < len(rs) {
			two = string(rs[i : i+2])
		}
		switch {
		case two == "<=" || two == ">=" || two == "<>" || two == "!=" || two == "==":
			toks = append(toks, token{tokOp, two, start})
			i += 2
		case strings.ContainsRune("=<>(),-", c):
			toks = append(toks, token{tokOp, string(c), start})
			i++
		default:
			return nil, positionError(text, start, "unexpected character "+pyRepr(string(c)))
		}
	}
	return append(toks, token{tokEnd, "", len(rs)}), nil
}

// pyRepr quotes s as Python's repr does for plain text, so that messages
// read the same from both implementations.
func pyRepr(s string) string {
	if strings.Contains(s, "'") && !strings.Contains(s, `"`) {
		return `"` + s + `"`
	}
	return "'" + strings.ReplaceAll(s, "'", `\'`) + "'"
}

// filterParser is a recursive descent parser: or > and > not > predicate > operand.
type filterParser struct {
	text string
	toks []token
	i    int
}

func (p *filterParser) peek() token { return p.toks[p.i] }

func (p *filterParser) peekAt(offset int) token {
	return p.toks[min(p.i+offset, len(p.toks)-1)]
}

func (p *filterParser) take() token {
	t := p.toks[p.i]
	if t.kind != tokEnd {
		p.i++
	}
	return t
}

func (p *filterParser) accept(kind tokKind, value string) bool {
	if t := p.peek(); t.kind == kind && t.value == value {
		p.i++
		return true
	}
	return false
}

func (p *filterParser) expect(kind tokKind, value, what string) error {
	if !p.accept(kind, value) {
		return p.fail("expected " + what)
	}
	return nil
}

func (p *filterParser) fail(detail string) error {
	t := p.peek()
	found := "end of filter"
	switch t.kind {
	case tokString:
		found = pyRepr("'" + t.value + "'")
	case tokEnd:
	default:
		found = pyRepr(t.value)
	}
	return positionError(p.text, t.pos, detail+", found "+found)
}

func (p *filterParser) disjunction() (node, error) { return p.chain("OR", p.conjunction) }
func (p *filterParser) conjunction() (node, error) { return p.chain("AND", p.negation) }

// chain parses operands joined by keyword (AND or OR), left to right.
func (p *filterParser) chain(keyword string, operand func() (node, error)) (node, error) {
	left, err := operand()
	for err == nil && p.accept(tokKeyword, keyword) {
		var right node
		if right, err = operand(); err == nil {
			left = logicNode{keyword == "AND", left, right}
		}
	}
	return left, err
}

func (p *filterParser) negation() (node, error) {
	if p.accept(tokKeyword, "NOT") {
		inner, err := p.negation()
		return notNode{inner}, err
	}
	return p.predicate()
}

func (p *filterParser) predicate() (node, error) {
	if p.accept(tokOp, "(") {
		n, err := p.disjunction()
		if err == nil {
			err = p.expect(tokOp, ")", "')'")
		}
		return n, err
	}
	left, err := p.operand()
	if err != nil {
		return nil, err
	}
	if t := p.peek(); t.kind == tokOp && comparisons[t.value] != "" {
		p.take()
		right, err := p.operand()
		return cmpNode{comparisons[t.value], left, right}, err
	}
	if p.accept(tokKeyword, "IS") {
		negated := p.accept(tokKeyword, "NOT")
		if err := p.expect(tokKeyword, "NULL", "NULL after IS"); err != nil {
			return nil, err
		}
		return nullNode{left, negated}, nil
	}
	negated := p.accept(tokKeyword, "NOT")
	switch {
	case p.accept(tokKeyword, "IN"):
		list, err := p.literalList()
		return inNode{left, list, negated}, err
	case p.accept(tokKeyword, "BETWEEN"):
		low, err := p.operand()
		if err != nil {
			return nil, err
		}
		if err := p.expect(tokKeyword, "AND", "AND in BETWEEN ... AND ..."); err != nil {
			return nil, err
		}
		high, err := p.operand()
		if err != nil {
			return nil, err
		}
		var n node = logicNode{true, cmpNode{">=", left, low}, cmpNode{"<=", left, high}}
		if negated {
			n = notNode{n}
		}
		return n, nil
	case p.peek().kind == tokKeyword && (p.peek().value == "LIKE" || p.peek().value == "ILIKE"):
		fold := p.take().value == "ILIKE"
		pattern := p.peek()
		if pattern.kind != tokString {
			return nil, p.fail("expected a 'pattern' string after LIKE")
		}
		p.take()
		if err := checkLikePattern(pattern.value); err != nil {
			return nil, positionError(p.text, pattern.pos, err.Error())
		}
		return likeNode{left, pattern.value, negated, fold}, nil
	}
	if negated {
		return nil, p.fail("expected IN, BETWEEN or LIKE after NOT")
	}
	return truthNode{left}, nil
}

// checkLikePattern refuses a pattern ending in an escape character.
func checkLikePattern(pattern string) error {
	escaped := false
	for _, c := range pattern {
		escaped = !escaped && c == '\\'
	}
	if escaped {
		return fmt.Errorf(`LIKE pattern %s ends with an escape character; write \\ for a backslash`, pyRepr(pattern))
	}
	return nil
}

func (p *filterParser) literalList() ([]operand, error) {
	if err := p.expect(tokOp, "(", "'(' after IN"); err != nil {
		return nil, err
	}
	var list []operand
	for {
		lit, err := p.literal()
		if err != nil {
			return nil, err
		}
		list = append(list, lit)
		if !p.accept(tokOp, ",") {
			break
		}
	}
	return list, p.expect(tokOp, ")", "')' or ',' in the IN list")
}

func (p *filterParser) operand() (operand, error) {
	if p.peek().kind == tokIdent {
		return operand{column: p.take().value}, nil
	}
	return p.literal()
}

func (p *filterParser) literal() (operand, error) {
	t := p.peek()
	switch {
	case t.kind == tokParam:
		return operand{}, positionError(p.text, t.pos, fmt.Sprintf("%s is a run parameter, which only a pipeline run binds to a value", t.value))
	case t.kind == tokNumber || (t.kind == tokOp && t.value == "-" && p.peekAt(1).kind == tokNumber):
		negative := p.accept(tokOp, "-")
		text := p.take().value
		if negative {
			text = "-" + text
		}
		return operand{lit: parseNumber(text)}, nil
	case t.kind == tokString:
		p.take()
		return operand{lit: literal{kind: litString, s: t.value}}, nil
	case t.kind == tokKeyword && (t.value == "TRUE" || t.value == "FALSE"):
		p.take()
		return operand{lit: literal{kind: litBool, b: t.value == "TRUE"}}, nil
	case t.kind == tokKeyword && t.value == "NULL":
		p.take()
		return operand{lit: literal{kind: litNull}}, nil
	case t.kind == tokKeyword && (t.value == "DATE" || t.value == "TIMESTAMP" || t.value == "TIMESTAMPTZ"):
		p.take()
		s := p.peek()
		if s.kind != tokString {
			return operand{}, p.fail("expected a quoted value after " + t.value)
		}
		p.take()
		var lit literal
		var ok bool
		if t.value == "DATE" {
			lit, ok = parseDate(s.value)
		} else {
			lit, ok = parseTimestamp(s.value)
		}
		if !ok {
			what := strings.ToLower(strings.TrimSuffix(t.value, "TZ"))
			return operand{}, positionError(p.text, s.pos, fmt.Sprintf("%s '%s' is not a valid %s", t.value, s.value, what))
		}
		return operand{lit: lit}, nil
	}
	return operand{}, p.fail("expected a column name or a literal value")
}

// parseNumber reads a number token (with its sign): an int64 when it is an
// integer that fits, else a float64; rat is the value exactly as Python
// would see it (the float's shortest representation, as repr gives).
func parseNumber(text string) literal {
	if !strings.ContainsAny(text, ".eE") {
		if i, err := strconv.ParseInt(text, 10, 64); err == nil {
			return literal{kind: litNumber, isInt: true, i: i, f: float64(i), rat: new(big.Rat).SetInt64(i)}
		}
	}
	f, _ := strconv.ParseFloat(text, 64) // the lexer only lets numbers through; out of range is ±Inf
	lit := literal{kind: litNumber, f: f}
	if r, ok := new(big.Rat).SetString(strconv.FormatFloat(f, 'g', -1, 64)); ok {
		lit.rat = r
	}
	return lit
}

var (
	dateRe      = regexp.MustCompile(`^(\d{4})-(\d{2})-(\d{2})$`)
	timestampRe = regexp.MustCompile(`^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?)?\s*(Z|z|[+-]\d{2}:\d{2})?$`)
)

// parseDate reads YYYY-MM-DD (surrounding spaces allowed).
func parseDate(text string) (literal, bool) {
	m := dateRe.FindStringSubmatch(strings.TrimSpace(text))
	if m == nil {
		return literal{}, false
	}
	t, ok := validTime(m[1], m[2], m[3], "", "", "", "")
	return literal{kind: litDate, t: t, s: text}, ok
}

// parseTimestamp reads a timestamp (see RowFilter); one with an offset is
// converted to UTC.
func parseTimestamp(text string) (literal, bool) {
	m := timestampRe.FindStringSubmatch(strings.TrimSpace(text))
	if m == nil {
		return literal{}, false
	}
	t, ok := validTime(m[1], m[2], m[3], m[4], m[5], m[6], m[7])
	if !ok {
		return literal{}, false
	}
	lit := literal{kind: litTimestamp, t: t, s: text}
	if zone := m[8]; len(zone) == 6 {
		hours, _ := strconv.Atoi(zone[1:3])
		minutes, _ := strconv.Atoi(zone[4:6])
		if hours > 23 || minutes > 59 {
			return literal{}, false
		}
		offset := time.Duration(hours)*time.Hour + time.Duration(minutes)*time.Minute
		if zone[0] == '+' {
			offset = -offset
		}
		lit.t = t.Add(offset)
	}
	return lit, true
}

// validTime builds a UTC time from its parts, refusing values out of range
// (time.Date would normalize them).
func validTime(year, month, day, hour, minute, second, fraction string) (time.Time, bool) {
	n := func(s string) int { v, _ := strconv.Atoi(s); return v }
	y, mo, d, h, mi, s := n(year), n(month), n(day), n(hour), n(minute), n(second)
	micros := 0
	if fraction != "" {
		micros = n((fraction + "00000")[:6])
	}
	t := time.Date(y, time.Month(mo), d, h, mi, s, micros*1000, time.UTC)
	if y < 1 || t.Year() != y || int(t.Month()) != mo || t.Day() != d || t.Hour() != h || t.Minute() != mi || t.Second() != s {
		return time.Time{}, false
	}
	return t, true
}

// FilterParams returns the run parameters ($name) the filter uses, without
// the $, in order of first appearance.
func FilterParams(text string) ([]string, error) {
	toks, err := lexFilter(text)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, t := range toks {
		if name := t.value[min(1, len(t.value)):]; t.kind == tokParam && !slices.Contains(out, name) {
			out = append(out, name)
		}
	}
	return out, nil
}

// BindFilter replaces each $name in the filter with the literal of
// values[name]: a quoted string, a number, TRUE/FALSE or NULL. Binding works
// on the lexed tokens and a bound value is always exactly one literal
// token, so a value is data and never syntax: 'x” OR TRUE --' stays a
// string. A name without a value, or a value that is no literal (NaN, a
// list), is an EINVALID error naming it.
func BindFilter(text string, values map[string]any) (string, error) {
	toks, err := lexFilter(text)
	if err != nil {
		return "", err
	}
	rs := []rune(text)
	var b strings.Builder
	last := 0
	for _, t := range toks {
		if t.kind != tokParam {
			continue
		}
		name := t.value[1:]
		v, ok := values[name]
		if !ok {
			return "", tarn.Errorf(tarn.EINVALID, "filter %q uses the parameter %s, which has no value: declare it with a default or pass --param %s=VALUE", text, t.value, name)
		}
		lit, err := filterLiteral(v)
		if err != nil {
			return "", tarn.Errorf(tarn.EINVALID, "filter %q: parameter %s: %v", text, t.value, err)
		}
		b.WriteString(string(rs[last:t.pos]))
		b.WriteString(lit)
		last = t.pos + len([]rune(t.value))
	}
	b.WriteString(string(rs[last:]))
	return b.String(), nil
}

// filterLiteral renders v as one literal token of the filter language.
func filterLiteral(v any) (string, error) {
	switch v := v.(type) {
	case nil:
		return "NULL", nil
	case bool:
		if v {
			return "TRUE", nil
		}
		return "FALSE", nil
	case string:
		return "'" + strings.ReplaceAll(v, "'", "''") + "'", nil
	case int:
		return strconv.Itoa(v), nil
	case int64:
		return strconv.FormatInt(v, 10), nil
	case float64:
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return "", fmt.Errorf("%v is not a number a filter can compare with", v)
		}
		s := strconv.FormatFloat(v, 'g', -1, 64)
		if !strings.ContainsAny(s, ".e") {
			s += ".0" // stays a float, as the parameter's type says
		}
		return s, nil
	}
	return "", fmt.Errorf("a %T is not a value a filter can compare with", v)
}
