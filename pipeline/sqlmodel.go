package pipeline

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

var headerRe = regexp.MustCompile(`^\s*--\s*tarn:\s*(.*)$`)

// discoverSQL finds NAME.sql models: header comments `-- tarn: key=value,
// key=value` set options; inputs are the tables the SQL reads.
func discoverSQL(dir string) ([]*Model, ProjectErrors) {
	var models []*Model
	var errs ProjectErrors
	filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if d.IsDir() {
			if path != dir && skipDir(d.Name()) {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(d.Name(), ".sql") {
			return nil
		}
		rel, _ := filepath.Rel(dir, path)
		rel = filepath.ToSlash(rel)
		data, err := os.ReadFile(path)
		if err != nil {
			errs = append(errs, ProjectError{File: rel, Msg: err.Error()})
			return nil
		}
		m := &Model{Name: strings.TrimSuffix(d.Name(), ".sql"), Kind: "sql", File: rel, Line: 1, SQL: string(data), Strategy: "NONE",
			CodeHash: hashKey(normalizeSQL(string(data))), CacheStrategy: "AUTO"}
		for i, line := range strings.Split(string(data), "\n") {
			hm := headerRe.FindStringSubmatch(line)
			if hm == nil {
				continue
			}
			for _, kv := range splitOptions(hm[1]) {
				k, v, ok := strings.Cut(kv, "=")
				k, v = strings.TrimSpace(k), unquote(strings.TrimSpace(v))
				if !ok {
					errs = append(errs, ProjectError{File: rel, Line: i + 1, Msg: fmt.Sprintf("bad option %q: use key=value", kv)})
					continue
				}
				switch k {
				case "materialization_strategy":
					m.Strategy = strings.ToUpper(v)
				case "partitioned_by":
					m.PartitionedBy = append(m.PartitionedBy, v)
				case "overwrite_filter":
					f := v
					m.OverwriteFilter = &f
				case "name":
					m.Name = v
				case "cache_strategy":
					m.CacheStrategy = strings.ToUpper(v)
					if m.CacheStrategy != "AUTO" && m.CacheStrategy != "NONE" {
						errs = append(errs, ProjectError{File: rel, Line: i + 1, Msg: fmt.Sprintf("unknown cache_strategy %q: use AUTO or NONE", v)})
					}
				default:
					errs = append(errs, ProjectError{File: rel, Line: i + 1, Msg: fmt.Sprintf("unknown option %q (use materialization_strategy, partitioned_by, overwrite_filter, cache_strategy, name)", k)})
				}
			}
		}
		seenParam := map[string]bool{}
		for _, t := range sqlTokens(string(data)) {
			if name := strings.TrimPrefix(t.text, "$"); t.param && !seenParam[name] {
				seenParam[name] = true // bound by DuckDB as a value ($name), never spliced into the text
				m.Parameters = append(m.Parameters, ParamRef{Param: name, Name: name, Line: t.line})
			}
		}
		refs, err := sqlTableRefs(string(data))
		if err != nil {
			errs = append(errs, ProjectError{File: rel, Msg: err.Error()})
		}
		for _, r := range refs {
			m.Inputs = append(m.Inputs, Input{Param: r.name, Name: r.name, Line: r.line})
		}
		models = append(models, m)
		return nil
	})
	return models, errs
}

func skipDir(name string) bool {
	return strings.HasPrefix(name, ".") || name == "__pycache__" || name == "node_modules" || name == "venv" || strings.HasPrefix(name, ".venv")
}

// splitOptions splits "a=1, b='x, y'" on commas outside quotes.
// unquote removes one pair of matching quotes around a header value, so
// that overwrite_filter="zone = 'a'" keeps the quote that ends its string.
func unquote(v string) string {
	if len(v) >= 2 && (v[0] == '"' || v[0] == '\'') && v[len(v)-1] == v[0] {
		return v[1 : len(v)-1]
	}
	return v
}

func splitOptions(s string) []string {
	var out []string
	var cur strings.Builder
	quote := byte(0)
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '"' || c == '\'':
			quote = c
		case c == ',':
			out = append(out, strings.TrimSpace(cur.String()))
			cur.Reset()
			continue
		}
		cur.WriteByte(c)
	}
	if strings.TrimSpace(cur.String()) != "" {
		out = append(out, strings.TrimSpace(cur.String()))
	}
	return out
}

type sqlRef struct {
	name string
	line int
}

// sqlTableRefs returns the table names a query reads: identifiers after
// FROM or JOIN (and comma-separated FROM lists), minus CTE names and
// table functions.
func sqlTableRefs(sql string) ([]sqlRef, error) {
	toks := sqlTokens(sql)
	ctes := map[string]bool{}
	for i := 0; i+2 < len(toks); i++ {
		if (strings.EqualFold(toks[i].text, "with") || toks[i].text == ",") && toks[i+1].ident && strings.EqualFold(toks[i+2].text, "as") {
			ctes[strings.ToLower(toks[i+1].text)] = true
		}
		if strings.EqualFold(toks[i].text, "recursive") && toks[i+1].ident {
			ctes[strings.ToLower(toks[i+1].text)] = true
		}
	}
	var refs []sqlRef
	seen := map[string]bool{}
	for i := 0; i < len(toks); i++ {
		kw := strings.ToLower(toks[i].text)
		if kw != "from" && kw != "join" {
			continue
		}
		for j := i + 1; j < len(toks); j++ {
			t := toks[j]
			if !t.ident || (j+1 < len(toks) && toks[j+1].text == "(") {
				break
			}
			name := strings.ToLower(t.text)
			if !ctes[name] && !seen[name] {
				seen[name] = true
				refs = append(refs, sqlRef{name: t.text, line: t.line})
			}
			// Skip an alias, then continue on a comma (FROM a, b).
			k := j + 1
			if k < len(toks) && strings.EqualFold(toks[k].text, "as") {
				k++
			}
			if k < len(toks) && toks[k].ident && !isKeyword(toks[k].text) {
				k++
			}
			if kw == "from" && k < len(toks) && toks[k].text == "," {
				j = k
				continue
			}
			break
		}
	}
	return refs, nil
}

type sqlToken struct {
	text  string
	ident bool
	param bool // $name: a run parameter
	line  int
}

var sqlKeywords = map[string]bool{"select": true, "where": true, "group": true, "order": true, "by": true, "join": true, "left": true,
	"right": true, "inner": true, "outer": true, "full": true, "cross": true, "on": true, "using": true, "limit": true, "having": true,
	"union": true, "except": true, "intersect": true, "window": true, "qualify": true, "natural": true, "lateral": true, "as": true,
	"from": true, "with": true, "values": true, "offset": true, "semi": true, "anti": true, "asof": true, "positional": true}

func isKeyword(s string) bool { return sqlKeywords[strings.ToLower(s)] }

// sqlTokens is a small SQL lexer: identifiers (dotted, quoted), strings,
// comments and punctuation, with line numbers.
func sqlTokens(s string) []sqlToken {
	var toks []sqlToken
	line := 1
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == '\n':
			line++
			i++
		case c == ' ' || c == '\t' || c == '\r':
			i++
		case c == '-' && i+1 < len(s) && s[i+1] == '-':
			for i < len(s) && s[i] != '\n' {
				i++
			}
		case c == '/' && i+1 < len(s) && s[i+1] == '*':
			j := strings.Index(s[i+2:], "*/")
			if j < 0 {
				return toks
			}
			line += strings.Count(s[i:i+2+j], "\n")
			i += j + 4
		case c == '\'':
			j := i + 1
			for j < len(s) && !(s[j] == '\'' && (j+1 >= len(s) || s[j+1] != '\'')) {
				if s[j] == '\'' {
					j++
				}
				j++
			}
			line += strings.Count(s[i:min(j+1, len(s))], "\n")
			toks = append(toks, sqlToken{text: "'", line: line})
			i = j + 1
		case c == '$' && i+1 < len(s) && (s[i+1] == '_' || s[i+1] >= 'a' && s[i+1] <= 'z' || s[i+1] >= 'A' && s[i+1] <= 'Z'):
			j := i + 1
			for j < len(s) && (s[j] == '_' || s[j] >= 'a' && s[j] <= 'z' || s[j] >= 'A' && s[j] <= 'Z' || s[j] >= '0' && s[j] <= '9') {
				j++
			}
			toks = append(toks, sqlToken{text: s[i:j], param: true, line: line})
			i = j
		case c == '"' || c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z':
			start, startLine := i, line
			var b strings.Builder
			for i < len(s) {
				if s[i] == '"' {
					j := strings.IndexByte(s[i+1:], '"')
					if j < 0 {
						i = len(s)
						break
					}
					b.WriteString(s[i+1 : i+1+j])
					i += j + 2
				} else if s[i] == '_' || s[i] == '$' || s[i] >= 'a' && s[i] <= 'z' || s[i] >= 'A' && s[i] <= 'Z' || s[i] >= '0' && s[i] <= '9' {
					b.WriteByte(s[i])
					i++
				} else {
					break
				}
				if i < len(s) && s[i] == '.' && i+1 < len(s) && (s[i+1] == '"' || s[i+1] == '_' || s[i+1] >= 'a' && s[i+1] <= 'z' || s[i+1] >= 'A' && s[i+1] <= 'Z') {
					b.WriteByte('.')
					i++
				}
			}
			_ = start
			toks = append(toks, sqlToken{text: b.String(), ident: !isKeyword(b.String()) || s[start] == '"', line: startLine})
		default:
			toks = append(toks, sqlToken{text: string(c), line: line})
			i++
		}
	}
	return toks
}

// normalizeSQL drops comments and collapses whitespace outside quotes, so
// that editing a comment or the layout of a SQL model keeps its cache key.
func normalizeSQL(s string) string {
	var b strings.Builder
	space := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\'' || c == '"':
			end := i + 1
			for end < len(s) && s[end] != c {
				end++
			}
			if space && b.Len() > 0 {
				b.WriteByte(' ')
			}
			space = false
			b.WriteString(s[i:min(end+1, len(s))])
			i = end
		case c == '-' && i+1 < len(s) && s[i+1] == '-':
			for i < len(s) && s[i] != '\n' {
				i++
			}
			space = true
		case c == '/' && i+1 < len(s) && s[i+1] == '*':
			end := strings.Index(s[i+2:], "*/")
			if end < 0 {
				i = len(s)
			} else {
				i += end + 3
			}
			space = true
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			space = true
		default:
			if space && b.Len() > 0 {
				b.WriteByte(' ')
			}
			space = false
			b.WriteByte(c)
		}
	}
	return b.String()
}
