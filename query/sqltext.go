package query

import (
	"strings"
	"unicode"
)

// sqlToken is a lexical unit of SQL text that matters to tarn: words and
// single punctuation characters, with their byte offsets. Strings, quoted
// identifiers and comments are skipped over as units.
type sqlToken struct {
	text       string
	start, end int
}

// lexSQL splits SQL into significant tokens, skipping whitespace, comments
// (-- and nested /* */), string literals ('...', E'...', $tag$...$tag$)
// and quoted identifiers, which appear as single tokens.
func lexSQL(s string) []sqlToken {
	var toks []sqlToken
	i := 0
	for i < len(s) {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f':
			i++
		case strings.HasPrefix(s[i:], "--"):
			for i < len(s) && s[i] != '\n' {
				i++
			}
		case strings.HasPrefix(s[i:], "/*"):
			depth := 0
			for i < len(s) {
				if strings.HasPrefix(s[i:], "/*") {
					depth++
					i += 2
				} else if strings.HasPrefix(s[i:], "*/") {
					depth--
					i += 2
					if depth == 0 {
						break
					}
				} else {
					i++
				}
			}
		case c == '\'' || c == '"':
			start := i
			i = skipQuoted(s, i, c, false)
			toks = append(toks, sqlToken{s[start:i], start, i})
		case (c == 'e' || c == 'E') && i+1 < len(s) && s[i+1] == '\'':
			start := i
			i = skipQuoted(s, i+1, '\'', true)
			toks = append(toks, sqlToken{s[start:i], start, i})
		case c == '$':
			start := i
			j := i + 1
			for j < len(s) && (s[j] == '_' || isAlnum(s[j])) {
				j++
			}
			if j < len(s) && s[j] == '$' {
				tag := s[i : j+1]
				if end := strings.Index(s[j+1:], tag); end >= 0 {
					i = j + 1 + end + len(tag)
				} else {
					i = len(s)
				}
			} else {
				i = j // a $1 parameter
			}
			toks = append(toks, sqlToken{s[start:i], start, i})
		case c == '_' || isAlnum(c) || c >= 0x80:
			start := i
			for i < len(s) && (s[i] == '_' || isAlnum(s[i]) || s[i] >= 0x80) {
				i++
			}
			toks = append(toks, sqlToken{s[start:i], start, i})
		default:
			toks = append(toks, sqlToken{s[i : i+1], i, i + 1})
			i++
		}
	}
	return toks
}

// skipQuoted returns the offset after the quoted text starting at s[i].
// A doubled quote stands for itself; with backslash, \x escapes x.
func skipQuoted(s string, i int, q byte, backslash bool) int {
	i++
	for i < len(s) {
		switch {
		case backslash && s[i] == '\\':
			i += 2
		case s[i] == q && i+1 < len(s) && s[i+1] == q:
			i += 2
		case s[i] == q:
			return i + 1
		default:
			i++
		}
	}
	return len(s)
}

func isAlnum(c byte) bool {
	return c < 0x80 && (unicode.IsLetter(rune(c)) || unicode.IsDigit(rune(c)))
}

// trimStatement removes trailing semicolons, whitespace and comments, so
// the statement can be wrapped as COPY (statement) TO ....
func trimStatement(s string) string {
	toks := lexSQL(s)
	for len(toks) > 0 && toks[len(toks)-1].text == ";" {
		toks = toks[:len(toks)-1]
	}
	if len(toks) == 0 {
		return ""
	}
	return s[:toks[len(toks)-1].end]
}

// isBlank reports whether SQL holds nothing but whitespace, comments and
// semicolons.
func isBlank(s string) bool { return trimStatement(s) == "" }

// splitExplain splits "EXPLAIN [ANALYZE] stmt" into the prefix and stmt.
// Without EXPLAIN the prefix is empty.
func splitExplain(s string) (prefix, stmt string) {
	toks := lexSQL(s)
	if len(toks) < 2 || !strings.EqualFold(toks[0].text, "explain") {
		return "", s
	}
	n := 1
	if strings.EqualFold(toks[1].text, "analyze") || strings.EqualFold(toks[1].text, "analyse") {
		n = 2
	}
	if n >= len(toks) {
		return "", s
	}
	return s[:toks[n].start], s[toks[n].start:]
}

// firstWord returns the first keyword of SQL text, upper-cased.
func firstWord(s string) string {
	for _, t := range lexSQL(s) {
		if t.text == "(" {
			continue
		}
		return strings.ToUpper(t.text)
	}
	return ""
}

// statementWords returns the first keyword (upper-cased) of each statement
// of SQL text: the text between semicolons that holds more than comments.
func statementWords(s string) []string {
	var words []string
	start := true
	for _, t := range lexSQL(s) {
		switch {
		case t.text == ";":
			start = true
		case start && t.text != "(":
			words = append(words, strings.ToUpper(t.text))
			start = false
		}
	}
	return words
}

// lineColumn converts a byte offset into a 1-based line and column and
// returns the line's text.
func lineColumn(s string, offset int) (line, col int, text string) {
	if offset < 0 || offset > len(s) {
		offset = len(s)
	}
	line = 1 + strings.Count(s[:offset], "\n")
	start := strings.LastIndex(s[:offset], "\n") + 1
	end := strings.IndexByte(s[offset:], '\n')
	if end < 0 {
		end = len(s)
	} else {
		end += offset
	}
	return line, len([]rune(s[start:offset])) + 1, s[start:end]
}

// excerptRadius is how many characters of a long SQL line an error shows
// on each side of the position it points at.
const excerptRadius = 60

// excerpt cuts a long line of SQL to the characters around column col
// (1-based), marking the cuts with "…", and returns the column's place in
// the excerpt: an error shows where the problem is, not a whole long line.
func excerpt(text string, col int) (string, int) {
	runes := []rune(text)
	if len(runes) <= 2*excerptRadius {
		return text, col
	}
	from, to := max(0, col-1-excerptRadius), min(len(runes), col-1+excerptRadius)
	out, at := string(runes[from:to]), col-from
	if from > 0 {
		out, at = "…"+out, at+1
	}
	if to < len(runes) {
		out += "…"
	}
	return out, at
}

// quoteString quotes a SQL string literal.
func quoteString(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// quoteIdent quotes a SQL identifier.
func quoteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }
