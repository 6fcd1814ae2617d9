package table

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"

	"github.com/apache/iceberg-go"
	"github.com/tarnhq/tarn"
)

// ParsePredicate parses a SQL predicate over a table's columns into an
// Iceberg expression: comparisons of a column with a literal (= == != <> <
// <= > >=), AND, OR, NOT, parentheses, IN / NOT IN, IS [NOT] NULL and
// BETWEEN. Literals are numbers, 'strings', TRUE/FALSE, DATE '...' and
// TIMESTAMP '...'; they are converted to the column's type. It is used for
// the filters of pipeline inputs and for overwrite filters.
func ParsePredicate(sql string, schema *iceberg.Schema) (iceberg.BooleanExpression, error) {
	toks, err := lexPredicate(sql)
	if err != nil {
		return nil, tarn.Errorf(tarn.EINVALID, "filter %q: %v", sql, err)
	}
	p := &predParser{toks: toks, schema: schema, src: sql}
	expr, err := p.or()
	if err == nil && p.peek().kind != tokEOF {
		err = fmt.Errorf("unexpected %q at position %d", p.peek().text, p.peek().pos+1)
	}
	if err != nil {
		return nil, tarn.Errorf(tarn.EINVALID, "filter %q: %v", sql, err)
	}
	return expr, nil
}

type tokKind int

const (
	tokEOF tokKind = iota
	tokIdent
	tokString
	tokNumber
	tokOp
	tokLParen
	tokRParen
	tokComma
)

type token struct {
	kind tokKind
	text string
	pos  int
}

func lexPredicate(s string) ([]token, error) {
	var toks []token
	for i := 0; i < len(s); {
		c := rune(s[i])
		switch {
		case unicode.IsSpace(c):
			i++
		case c == '(':
			toks = append(toks, token{tokLParen, "(", i})
			i++
		case c == ')':
			toks = append(toks, token{tokRParen, ")", i})
			i++
		case c == ',':
			toks = append(toks, token{tokComma, ",", i})
			i++
		case c == '\'':
			var b strings.Builder
			j := i + 1
			for ; j < len(s); j++ {
				if s[j] == '\'' {
					if j+1 < len(s) && s[j+1] == '\'' {
						b.WriteByte('\'')
						j++
						continue
					}
					break
				}
				b.WriteByte(s[j])
			}
			if j >= len(s) {
				return nil, fmt.Errorf("unterminated string at position %d", i+1)
			}
			toks = append(toks, token{tokString, b.String(), i})
			i = j + 1
		case c == '"':
			j := strings.IndexByte(s[i+1:], '"')
			if j < 0 {
				return nil, fmt.Errorf("unterminated quoted identifier at position %d", i+1)
			}
			toks = append(toks, token{tokIdent, s[i+1 : i+1+j], i})
			i += j + 2
		case strings.ContainsRune("=<>!", c):
			j := i + 1
			if j < len(s) && strings.ContainsRune("=<>", rune(s[j])) {
				j++
			}
			toks = append(toks, token{tokOp, s[i:j], i})
			i = j
		case c == '-' || c == '.' || unicode.IsDigit(c):
			j := i + 1
			for j < len(s) && (unicode.IsDigit(rune(s[j])) || strings.ContainsRune(".eE+-", rune(s[j]))) {
				if (s[j] == '+' || s[j] == '-') && s[j-1] != 'e' && s[j-1] != 'E' {
					break
				}
				j++
			}
			toks = append(toks, token{tokNumber, s[i:j], i})
			i = j
		case c == '_' || unicode.IsLetter(c):
			j := i + 1
			for j < len(s) && (s[j] == '_' || unicode.IsLetter(rune(s[j])) || unicode.IsDigit(rune(s[j])) || s[j] == '.') {
				j++
			}
			toks = append(toks, token{tokIdent, s[i:j], i})
			i = j
		default:
			return nil, fmt.Errorf("unexpected character %q at position %d", c, i+1)
		}
	}
	return append(toks, token{tokEOF, "end of filter", len(s)}), nil
}

type predParser struct {
	toks   []token
	i      int
	schema *iceberg.Schema
	src    string
}

func (p *predParser) peek() token { return p.toks[p.i] }
func (p *predParser) next() token { t := p.toks[p.i]; p.i++; return t }

func (p *predParser) keyword(words ...string) bool {
	t := p.peek()
	if t.kind != tokIdent {
		return false
	}
	for _, w := range words {
		if strings.EqualFold(t.text, w) {
			return true
		}
	}
	return false
}

func (p *predParser) or() (iceberg.BooleanExpression, error) {
	left, err := p.and()
	if err != nil {
		return nil, err
	}
	for p.keyword("or") {
		p.next()
		right, err := p.and()
		if err != nil {
			return nil, err
		}
		left = iceberg.NewOr(left, right)
	}
	return left, nil
}

func (p *predParser) and() (iceberg.BooleanExpression, error) {
	left, err := p.not()
	if err != nil {
		return nil, err
	}
	for p.keyword("and") {
		p.next()
		right, err := p.not()
		if err != nil {
			return nil, err
		}
		left = iceberg.NewAnd(left, right)
	}
	return left, nil
}

func (p *predParser) not() (iceberg.BooleanExpression, error) {
	if p.keyword("not") {
		p.next()
		e, err := p.not()
		if err != nil {
			return nil, err
		}
		return iceberg.NewNot(e), nil
	}
	return p.primary()
}

func (p *predParser) primary() (iceberg.BooleanExpression, error) {
	if p.peek().kind == tokLParen {
		p.next()
		e, err := p.or()
		if err != nil {
			return nil, err
		}
		if p.peek().kind != tokRParen {
			return nil, fmt.Errorf("expected ')' at position %d", p.peek().pos+1)
		}
		p.next()
		return e, nil
	}
	if p.keyword("true") {
		p.next()
		return iceberg.AlwaysTrue{}, nil
	}
	if p.keyword("false") {
		p.next()
		return iceberg.AlwaysFalse{}, nil
	}
	colTok := p.next()
	if colTok.kind != tokIdent {
		return nil, fmt.Errorf("expected a column name at position %d, found %q", colTok.pos+1, colTok.text)
	}
	field, ok := p.schema.FindFieldByName(colTok.text)
	if !ok {
		var names []string
		for _, f := range p.schema.Fields() {
			names = append(names, f.Name)
		}
		return nil, fmt.Errorf("unknown column %q%s", colTok.text, tarn.Suggest(colTok.text, names))
	}
	ref := iceberg.Reference(field.Name)
	switch {
	case p.keyword("is"):
		p.next()
		negate := false
		if p.keyword("not") {
			p.next()
			negate = true
		}
		if !p.keyword("null") {
			return nil, fmt.Errorf("expected NULL after IS at position %d", p.peek().pos+1)
		}
		p.next()
		if negate {
			return iceberg.NotNull(ref), nil
		}
		return iceberg.IsNull(ref), nil
	case p.keyword("not", "in", "between"):
		negate := false
		if p.keyword("not") {
			p.next()
			negate = true
		}
		if p.keyword("between") {
			p.next()
			lo, err := p.literal(field)
			if err != nil {
				return nil, err
			}
			if !p.keyword("and") {
				return nil, fmt.Errorf("expected AND in BETWEEN at position %d", p.peek().pos+1)
			}
			p.next()
			hi, err := p.literal(field)
			if err != nil {
				return nil, err
			}
			e := iceberg.NewAnd(iceberg.LiteralPredicate(iceberg.OpGTEQ, ref, lo), iceberg.LiteralPredicate(iceberg.OpLTEQ, ref, hi))
			if negate {
				return iceberg.NewNot(e), nil
			}
			return e, nil
		}
		if !p.keyword("in") {
			return nil, fmt.Errorf("expected IN or BETWEEN at position %d", p.peek().pos+1)
		}
		p.next()
		if p.next().kind != tokLParen {
			return nil, fmt.Errorf("expected '(' after IN")
		}
		var lits []iceberg.Literal
		for {
			lit, err := p.literal(field)
			if err != nil {
				return nil, err
			}
			lits = append(lits, lit)
			t := p.next()
			if t.kind == tokRParen {
				break
			}
			if t.kind != tokComma {
				return nil, fmt.Errorf("expected ',' or ')' in IN list at position %d", t.pos+1)
			}
		}
		op := iceberg.OpIn
		if negate {
			op = iceberg.OpNotIn
		}
		return iceberg.SetPredicate(op, ref, lits), nil
	}
	opTok := p.next()
	ops := map[string]iceberg.Operation{"=": iceberg.OpEQ, "==": iceberg.OpEQ, "!=": iceberg.OpNEQ, "<>": iceberg.OpNEQ,
		"<": iceberg.OpLT, "<=": iceberg.OpLTEQ, ">": iceberg.OpGT, ">=": iceberg.OpGTEQ}
	op, ok := ops[opTok.text]
	if opTok.kind != tokOp || !ok {
		return nil, fmt.Errorf("expected a comparison after %q at position %d, found %q", colTok.text, opTok.pos+1, opTok.text)
	}
	lit, err := p.literal(field)
	if err != nil {
		return nil, err
	}
	return iceberg.LiteralPredicate(op, ref, lit), nil
}

// literal reads a literal and converts it to the field's type.
func (p *predParser) literal(field iceberg.NestedField) (iceberg.Literal, error) {
	t := p.next()
	var lit iceberg.Literal
	switch {
	case t.kind == tokString:
		lit = iceberg.NewLiteral(t.text)
	case t.kind == tokNumber:
		if n, err := strconv.ParseInt(t.text, 10, 64); err == nil {
			lit = iceberg.NewLiteral(n)
		} else if f, err := strconv.ParseFloat(t.text, 64); err == nil {
			lit = iceberg.NewLiteral(f)
		} else {
			return nil, fmt.Errorf("bad number %q at position %d", t.text, t.pos+1)
		}
	case t.kind == tokIdent && (strings.EqualFold(t.text, "true") || strings.EqualFold(t.text, "false")):
		lit = iceberg.NewLiteral(strings.EqualFold(t.text, "true"))
	case t.kind == tokIdent && (strings.EqualFold(t.text, "date") || strings.EqualFold(t.text, "timestamp") || strings.EqualFold(t.text, "timestamptz")):
		s := p.next()
		if s.kind != tokString {
			return nil, fmt.Errorf("expected a quoted value after %s at position %d", t.text, s.pos+1)
		}
		lit = iceberg.NewLiteral(s.text)
	default:
		return nil, fmt.Errorf("expected a literal at position %d, found %q", t.pos+1, t.text)
	}
	typ, ok := field.Type.(iceberg.PrimitiveType)
	if !ok {
		return nil, fmt.Errorf("column %q of type %s cannot be filtered", field.Name, field.Type)
	}
	converted, err := lit.To(typ)
	if err != nil {
		return nil, fmt.Errorf("value %s does not fit column %q of type %s", lit, field.Name, field.Type)
	}
	return converted, nil
}
