package tarn

import (
	"regexp"
	"strconv"
	"strings"
	"time"
)

// MinHashPrefix is the shortest commit hash prefix accepted as a ref.
const MinHashPrefix = 8

// MinHistoryPrefix is the shortest commit hash prefix accepted after
// REF@: it is looked up in one ref's history, and no name can be taken
// for it.
const MinHistoryPrefix = 4

var (
	refNameRe   = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._/-]*$`)
	identRe     = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	hexRe       = regexp.MustCompile(`^[0-9a-f]+$`)
	reservedRef = map[string]bool{"HEAD": true}
	// Names DuckDB, which runs tarn's queries, gives its own databases
	// (memory, system, temp) and schemas (main, information_schema,
	// pg_catalog): a namespace of one of these names cannot be queried
	// ("memory.t" is ambiguous), whatever the quoting.
	reservedNS = map[string]bool{"memory": true, "system": true, "temp": true, "main": true, "information_schema": true, "pg_catalog": true}
)

// ValidateRefName checks a branch or tag name.
func ValidateRefName(kind RefKind, name string) error {
	switch {
	case name == "":
		return Errorf(EINVALID, "%s name is empty", kind)
	case len(name) > 128:
		return Errorf(EINVALID, "%s name %s is longer than 128 characters", kind, Quote(name))
	case reservedRef[name]:
		return Errorf(EINVALID, "%s name %q is reserved", kind, name)
	case !refNameRe.MatchString(name) || strings.Contains(name, "..") || strings.HasSuffix(name, ".") ||
		strings.HasSuffix(name, "/") || strings.Contains(name, "//"):
		return Errorf(EINVALID, "invalid %s name %q: use letters, digits and . _ - / (not starting with . or -, no '..')", kind, name)
	case len(name) >= MinHashPrefix && hexRe.MatchString(name):
		return Errorf(EINVALID, "invalid %s name %q: it looks like a commit hash", kind, name)
	}
	return nil
}

// ValidateNamespace checks a namespace name. Names SQL engines use for
// their own catalogs and schemas (memory, system, temp, main,
// information_schema, pg_catalog, in any case) are reserved.
func ValidateNamespace(name string) error {
	if err := validateIdent("namespace", name); err != nil {
		return err
	}
	if reservedNS[strings.ToLower(name)] {
		return Errorf(EINVALID, "namespace name %q is reserved: the SQL engine uses memory, system, temp, main, information_schema and pg_catalog for its own catalogs and schemas, so queries could not name it; choose another name", name)
	}
	return nil
}

// ValidateTableName checks a table name (without namespace).
func ValidateTableName(name string) error { return validateIdent("table", name) }

func validateIdent(what, name string) error {
	switch {
	case name == "":
		return Errorf(EINVALID, "%s name is empty", what)
	case len(name) > 128:
		return Errorf(EINVALID, "%s name %s is longer than 128 characters", what, Quote(name))
	case !identRe.MatchString(name):
		return Errorf(EINVALID, "invalid %s name %q: use letters, digits and _ (not starting with a digit)", what, name)
	}
	return nil
}

// RefExpr is a parsed ref expression: a base name (branch, tag or hash
// prefix) followed by navigation steps.
type RefExpr struct {
	Base  string
	Steps []RefStep
}

// RefStep is one navigation step: N first-parent ancestors (`~N`), the
// last first-parent ancestor at or before a time (`@{time}`), or the
// commit of the base's history whose hash starts with Commit (`@HASH`,
// only right after a branch or tag name).
type RefStep struct {
	Ancestors int
	AsOf      time.Time
	Commit    string
}

// IsPlain reports whether the expression is a bare name.
func (r RefExpr) IsPlain() bool { return len(r.Steps) == 0 }

// ParseRef parses ref syntax: NAME, HASH-PREFIX, REF~N, REF@{RFC3339},
// and NAME@HASH-PREFIX (a commit of the history of branch or tag NAME,
// whose hash starts with at least MinHistoryPrefix lowercase hex digits),
// which may be followed by the other steps.
func ParseRef(s string) (RefExpr, error) {
	if s == "" {
		return RefExpr{}, Errorf(EINVALID, "ref is empty")
	}
	i := strings.IndexAny(s, "~@")
	if i == 0 {
		return RefExpr{}, Errorf(EINVALID, "invalid ref %q: it must start with a branch, tag or commit hash", s)
	}
	if i < 0 {
		return RefExpr{Base: s}, nil
	}
	expr := RefExpr{Base: s[:i]}
	rest := s[i:]
	for rest != "" {
		switch {
		case rest[0] == '~':
			j := 1
			for j < len(rest) && rest[j] >= '0' && rest[j] <= '9' {
				j++
			}
			n := 1
			if j > 1 {
				v, err := strconv.Atoi(rest[1:j])
				if err != nil {
					return RefExpr{}, Errorf(EINVALID, "invalid ref %q: bad ancestor count", s)
				}
				n = v
			}
			expr.Steps = append(expr.Steps, RefStep{Ancestors: n})
			rest = rest[j:]
		case strings.HasPrefix(rest, "@{"):
			end := strings.IndexByte(rest, '}')
			if end < 0 {
				return RefExpr{}, Errorf(EINVALID, "invalid ref %q: missing '}'", s)
			}
			t, err := parseRefTime(rest[2:end])
			if err != nil {
				return RefExpr{}, Errorf(EINVALID, "invalid ref %q: time must be RFC3339 like 2026-05-19T06:11:33Z", s)
			}
			expr.Steps = append(expr.Steps, RefStep{AsOf: t})
			rest = rest[end+1:]
		case rest[0] == '@':
			j := 1
			for j < len(rest) && rest[j] != '~' && rest[j] != '@' {
				j++
			}
			hash := rest[1:j]
			if len(hash) < MinHistoryPrefix || len(hash) > 64 || !hexRe.MatchString(hash) {
				return RefExpr{}, Errorf(EINVALID, "invalid ref %s: after @ give a commit hash (%d to 64 lowercase hex digits) or a time in braces, "+
					"as in main@1a2b3c4d or main@{2026-05-19T06:11:33Z}", Quote(s), MinHistoryPrefix)
			}
			if len(expr.Steps) > 0 {
				return RefExpr{}, Errorf(EINVALID, "invalid ref %s: @%s must follow the branch or tag name, as in %s@%s~1", Quote(s), hash, expr.Base, hash)
			}
			expr.Steps = append(expr.Steps, RefStep{Commit: hash})
			rest = rest[j:]
		default:
			return RefExpr{}, Errorf(EINVALID, "invalid ref %q: unexpected %q (use REF~N, REF@{TIME} or BRANCH@COMMIT)", s, rest)
		}
	}
	return expr, nil
}

func parseRefTime(s string) (time.Time, error) {
	for _, layout := range []string{time.RFC3339Nano, time.RFC3339, "2006-01-02T15:04:05", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, Errorf(EINVALID, "bad time %q", s)
}

// LooksLikeHash reports whether s can be a commit hash prefix.
func LooksLikeHash(s string) bool {
	return len(s) >= MinHashPrefix && len(s) <= 64 && hexRe.MatchString(s)
}
