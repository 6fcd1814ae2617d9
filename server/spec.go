package server

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/tarnhq/tarn"
	"github.com/tarnhq/tarn/api"
	"gopkg.in/yaml.v3"
)

// The server checks every request's parameters and body against the API
// document (api/openapi.yaml) before a handler sees it, so the document
// and the server agree on what is accepted: a request the document
// refuses is a 400 naming the parameter or field, one it allows passes
// on. It reads the subset of JSON Schema the document uses: type, enum,
// pattern (RE2), minLength, maxLength, minimum, maximum, properties,
// required, additionalProperties, items, nullable, allOf, anyOf, not, and
// the formats of tarn names below, whose checks give the domain's own
// messages.

// apiSpec is the API document's operations, compiled.
type apiSpec struct {
	ops map[string]*operation // "METHOD /path" as the routes are registered
}

type operation struct {
	params    []param
	body      *schema // an application/json body
	multipart *schema // a multipart/form-data body (the "request" part's schema among its properties)
	required  bool    // the body is required
}

type param struct {
	name, in string
	required bool
	schema   *schema
}

// schema is one compiled JSON schema.
type schema struct {
	typ                  string
	enum                 []any
	pattern              *regexp.Regexp
	minLength, maxLength int // -1: none
	minimum, maximum     *float64
	properties           map[string]*schema
	required             []string
	closed               bool    // additionalProperties: false
	extra                *schema // additionalProperties: SCHEMA
	items                *schema
	nullable             bool
	allOf, anyOf         []*schema
	not                  *schema
	format               string
}

// formats check tarn's names and refs with the domain's own rules and
// messages; the document's patterns describe the same rules.
var formats = map[string]func(v string, parent map[string]any) error{
	"tarn-ref-name": func(v string, parent map[string]any) error {
		kind := tarn.KindBranch
		if parent["kind"] == string(tarn.KindTag) {
			kind = tarn.KindTag
		}
		return checkRefName(kind, v)
	},
	"tarn-ref":       func(v string, _ map[string]any) error { return checkRef(v) },
	"tarn-namespace": func(v string, _ map[string]any) error { return tarn.ValidateNamespace(v) },
	"tarn-table": func(v string, _ map[string]any) error {
		_, err := tarn.ParseTableIdent(v, tarn.DefaultNamespace)
		return err
	},
	"tarn-table-name": func(v string, _ map[string]any) error { return tarn.ValidateTableName(v) },
}

// loadSpec compiles the request side of the API document.
func loadSpec() (*apiSpec, error) {
	var doc map[string]any
	if err := yamlUnmarshal(&doc); err != nil {
		return nil, err
	}
	c := &compiler{doc: doc, refs: map[string]*schema{}}
	sp := &apiSpec{ops: map[string]*operation{}}
	paths, _ := doc["paths"].(map[string]any)
	for path, item := range paths {
		item, _ := item.(map[string]any)
		shared := asSlice(item["parameters"])
		for method, o := range item {
			if method == "parameters" {
				continue
			}
			o, _ := o.(map[string]any)
			op := &operation{}
			byKey := map[string]param{}
			var order []string
			for _, p := range append(slices.Clone(shared), asSlice(o["parameters"])...) {
				pm := c.resolve(p.(map[string]any))
				name, _ := pm["name"].(string)
				in, _ := pm["in"].(string)
				required, _ := pm["required"].(bool)
				s, err := c.compile(asMap(pm["schema"]))
				if err != nil {
					return nil, fmt.Errorf("%s %s parameter %s: %w", method, path, name, err)
				}
				key := in + " " + name
				if _, seen := byKey[key]; !seen {
					order = append(order, key)
				}
				byKey[key] = param{name: name, in: in, required: required, schema: s}
			}
			for _, k := range order {
				op.params = append(op.params, byKey[k])
			}
			if rb := asMap(o["requestBody"]); rb != nil {
				rb = c.resolve(rb)
				op.required, _ = rb["required"].(bool)
				content := asMap(rb["content"])
				var err error
				if m := asMap(content["application/json"]); m != nil {
					op.body, err = c.compile(asMap(m["schema"]))
				}
				if m := asMap(content["multipart/form-data"]); m != nil && err == nil {
					op.multipart, err = c.compile(asMap(m["schema"]))
				}
				if err != nil {
					return nil, fmt.Errorf("%s %s request body: %w", method, path, err)
				}
			}
			sp.ops[strings.ToUpper(method)+" "+path] = op
		}
	}
	return sp, nil
}

func yamlUnmarshal(doc *map[string]any) error {
	if err := yaml.Unmarshal(api.OpenAPI, doc); err != nil {
		return fmt.Errorf("api/openapi.yaml: %w", err)
	}
	return nil
}

type compiler struct {
	doc  map[string]any
	refs map[string]*schema
}

// resolve follows a $ref within the document.
func (c *compiler) resolve(v map[string]any) map[string]any {
	for v != nil {
		ref, ok := v["$ref"].(string)
		if !ok {
			return v
		}
		var cur any = c.doc
		for _, part := range strings.Split(strings.TrimPrefix(ref, "#/"), "/") {
			cur = asMap(cur)[part]
		}
		v = asMap(cur)
	}
	return v
}

func (c *compiler) compile(v map[string]any) (*schema, error) {
	if v == nil {
		return &schema{minLength: -1, maxLength: -1}, nil
	}
	if ref, ok := v["$ref"].(string); ok {
		if s, ok := c.refs[ref]; ok {
			return s, nil
		}
		s := &schema{}
		c.refs[ref] = s
		compiled, err := c.compile(c.resolve(v))
		if err != nil {
			return nil, err
		}
		*s = *compiled
		return s, nil
	}
	s := &schema{minLength: -1, maxLength: -1, properties: map[string]*schema{}}
	s.typ, _ = v["type"].(string)
	s.enum = asSlice(v["enum"])
	s.nullable, _ = v["nullable"].(bool)
	s.format, _ = v["format"].(string)
	if p, ok := v["pattern"].(string); ok {
		re, err := regexp.Compile(p)
		if err != nil {
			return nil, fmt.Errorf("pattern %s: %w", p, err)
		}
		s.pattern = re
	}
	if n, ok := asNumber(v["minLength"]); ok {
		s.minLength = int(n)
	}
	if n, ok := asNumber(v["maxLength"]); ok {
		s.maxLength = int(n)
	}
	if n, ok := asNumber(v["minimum"]); ok {
		s.minimum = &n
	}
	if n, ok := asNumber(v["maximum"]); ok {
		s.maximum = &n
	}
	for _, r := range asSlice(v["required"]) {
		s.required = append(s.required, r.(string))
	}
	var err error
	for name, p := range asMap(v["properties"]) {
		if s.properties[name], err = c.compile(asMap(p)); err != nil {
			return nil, err
		}
	}
	switch ap := v["additionalProperties"].(type) {
	case bool:
		s.closed = !ap
	case map[string]any:
		if s.extra, err = c.compile(ap); err != nil {
			return nil, err
		}
	}
	if items := asMap(v["items"]); items != nil {
		if s.items, err = c.compile(items); err != nil {
			return nil, err
		}
	}
	for key, list := range map[string]*[]*schema{"allOf": &s.allOf, "anyOf": &s.anyOf} {
		for _, sub := range asSlice(v[key]) {
			cs, err := c.compile(asMap(sub))
			if err != nil {
				return nil, err
			}
			*list = append(*list, cs)
		}
	}
	if not := asMap(v["not"]); not != nil {
		if s.not, err = c.compile(not); err != nil {
			return nil, err
		}
	}
	return s, nil
}

func asMap(v any) map[string]any { m, _ := v.(map[string]any); return m }
func asSlice(v any) []any        { l, _ := v.([]any); return l }

func asNumber(v any) (float64, bool) {
	switch n := v.(type) {
	case int:
		return float64(n), true
	case int64:
		return float64(n), true
	case uint64:
		return float64(n), true
	case float64:
		return n, true
	}
	return 0, false
}

// check checks a request's query and path parameters and its JSON body
// against the operation of the route it matched. It reads the body and
// leaves a copy for the handler.
func (sp *apiSpec) check(route string, r *http.Request) error {
	op := sp.ops[route]
	if op == nil {
		return nil
	}
	query := r.URL.Query()
	for _, p := range op.params {
		var raw string
		switch p.in {
		case "query":
			vals, ok := query[p.name]
			if !ok {
				if p.required {
					return tarn.Errorf(tarn.EINVALID, "query parameter %s is required (see api/openapi.yaml)", p.name)
				}
				continue
			}
			if len(vals) > 1 {
				return tarn.Errorf(tarn.EINVALID, "query parameter %s is given %d times: give it once", p.name, len(vals))
			}
			raw = vals[0]
		case "path":
			raw = r.PathValue(p.name)
		default:
			continue
		}
		v, err := paramValue(p.schema.typ, raw)
		if err == nil {
			err = p.schema.validate(v, "", nil)
		}
		if err != nil {
			return located(p.in+" parameter "+p.name, err)
		}
	}
	if op.body == nil {
		return nil
	}
	b, err := io.ReadAll(r.Body)
	if err != nil {
		return err // over the route's cap: a 413
	}
	r.Body = io.NopCloser(bytes.NewReader(b))
	if len(bytes.TrimSpace(b)) == 0 {
		if op.required {
			return tarn.Errorf(tarn.EINVALID, "the request body is empty: send a JSON object (see api/openapi.yaml)")
		}
		return nil
	}
	return checkJSON(op.body, b, "request body")
}

// checkJSON parses a JSON document and checks it against s.
func checkJSON(s *schema, b []byte, where string) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return tarn.Errorf(tarn.EINVALID, "malformed JSON %s: %v", where, err)
	}
	if dec.More() {
		return tarn.Errorf(tarn.EINVALID, "malformed JSON %s: more than one JSON value", where)
	}
	if err := s.validate(v, "", nil); err != nil {
		return located(where, err)
	}
	return nil
}

// partSchema is the schema of a multipart upload's part (nil if none).
func (sp *apiSpec) partSchema(route, part string) *schema {
	if op := sp.ops[route]; op != nil && op.multipart != nil {
		return op.multipart.properties[part]
	}
	return nil
}

// paramValue reads a parameter as the type its schema gives.
func paramValue(typ, raw string) (any, error) {
	switch typ {
	case "integer":
		if _, err := strconv.ParseInt(raw, 10, 64); err != nil {
			return nil, problem("%s is not an integer", tarn.Quote(raw))
		}
		return json.Number(raw), nil
	case "boolean":
		switch raw {
		case "true":
			return true, nil
		case "false":
			return false, nil
		}
		return nil, problem("%s is not true or false", tarn.Quote(raw))
	}
	return raw, nil
}

// schemaProblem is what is wrong with a value, located by the caller.
type schemaProblem struct {
	at, msg string
}

func (p *schemaProblem) Error() string { return p.msg }

func problem(format string, args ...any) error {
	return &schemaProblem{msg: fmt.Sprintf(format, args...)}
}

// located names where a problem is; domain errors (formats) pass as
// they are.
func located(where string, err error) error {
	p, ok := err.(*schemaProblem)
	if !ok {
		return err
	}
	switch {
	case p.at == "":
		where += ": " + p.msg
	case strings.HasPrefix(p.msg, "is "):
		where += ": field " + p.at + " " + p.msg
	default:
		where += ": field " + p.at + ": " + p.msg
	}
	return tarn.Errorf(tarn.EINVALID, "%s (see api/openapi.yaml)", where)
}

// validate checks v (decoded with json.Number) against s; at is the
// field path, parent the object holding v.
func (s *schema) validate(v any, at string, parent map[string]any) error {
	fail := func(err error) error {
		if p, ok := err.(*schemaProblem); ok && p.at == "" {
			p.at = at
		}
		return err
	}
	if v == nil {
		if s.nullable {
			return nil
		}
		return fail(problem("is null (not allowed)"))
	}
	for _, sub := range s.allOf {
		if err := sub.validate(v, at, parent); err != nil {
			return err
		}
	}
	if len(s.anyOf) > 0 {
		var first error
		for _, sub := range s.anyOf {
			err := sub.validate(v, at, parent)
			if err == nil {
				first = nil
				break
			}
			if first == nil {
				first = err
			}
		}
		if first != nil {
			return first
		}
	}
	if len(s.enum) > 0 && !slices.ContainsFunc(s.enum, func(e any) bool { return fmt.Sprint(e) == fmt.Sprint(v) }) {
		return fail(problem("%s is not one of %s", shortValue(v), enumList(s.enum)))
	}
	if s.typ != "" && !hasType(v, s.typ) {
		return fail(problem("%s is not %s", jsonKind(v), article(s.typ)))
	}
	switch x := v.(type) {
	case map[string]any:
		if err := s.validateObject(x, at); err != nil {
			return err
		}
	case []any:
		if s.items != nil {
			for i, item := range x {
				if err := s.items.validate(item, fmt.Sprintf("%s[%d]", at, i), nil); err != nil {
					return err
				}
			}
		}
	case string:
		n := utf8.RuneCountInString(x)
		if s.maxLength >= 0 && n > s.maxLength {
			return fail(problem("%s is longer than %d characters", tarn.Quote(x), s.maxLength))
		}
		if check := formats[s.format]; check != nil {
			if err := check(x, parent); err != nil {
				return err
			}
		}
		if s.minLength >= 0 && n < s.minLength {
			return fail(problem("%s is shorter than %d characters", tarn.Quote(x), s.minLength))
		}
		if s.pattern != nil && !s.pattern.MatchString(x) {
			return fail(problem("%s does not match %s", tarn.Quote(x), s.pattern))
		}
	case json.Number:
		f, _ := x.Float64()
		if s.minimum != nil && f < *s.minimum || s.maximum != nil && f > *s.maximum {
			return fail(problem("%s is out of range [%s, %s]", x, bound(s.minimum), bound(s.maximum)))
		}
	}
	if s.not != nil && s.not.validate(v, at, parent) == nil {
		return fail(problem("%s is not allowed here", shortValue(v)))
	}
	return nil
}

func (s *schema) validateObject(obj map[string]any, at string) error {
	keys := slices.Sorted(maps.Keys(obj))
	if s.closed && s.extra == nil {
		for _, k := range keys {
			if _, ok := s.properties[k]; !ok {
				return &schemaProblem{at: at, msg: fmt.Sprintf("unknown field %s", tarn.Quote(k))}
			}
		}
	}
	for _, r := range s.required {
		if _, ok := obj[r]; !ok {
			return &schemaProblem{at: join(at, r), msg: "is missing (required)"}
		}
	}
	for _, k := range keys {
		sub, ok := s.properties[k]
		if !ok {
			if sub = s.extra; sub == nil {
				continue
			}
		}
		if err := sub.validate(obj[k], join(at, k), obj); err != nil {
			return err
		}
	}
	return nil
}

// hasType reports whether v is of a JSON schema type; an integer is a
// number without a fraction or exponent that fits 64 bits.
func hasType(v any, typ string) bool {
	switch x := v.(type) {
	case map[string]any:
		return typ == "object"
	case []any:
		return typ == "array"
	case string:
		return typ == "string"
	case bool:
		return typ == "boolean"
	case json.Number:
		if typ == "integer" {
			_, err := strconv.ParseInt(string(x), 10, 64)
			return err == nil
		}
		return typ == "number"
	}
	return false
}

func article(typ string) string {
	switch typ {
	case "object", "array", "integer":
		return "an " + typ
	case "boolean":
		return "true or false"
	}
	return "a " + typ
}

func join(at, k string) string {
	if at == "" {
		return k
	}
	return at + "." + k
}

func bound(b *float64) string {
	if b == nil {
		return "…"
	}
	return strconv.FormatFloat(*b, 'f', -1, 64)
}

func enumList(enum []any) string {
	names := make([]string, len(enum))
	for i, e := range enum {
		names[i] = fmt.Sprint(e)
	}
	return strings.Join(names, ", ")
}

func shortValue(v any) string {
	if s, ok := v.(string); ok {
		return tarn.Quote(s)
	}
	return jsonKind(v)
}

func jsonKind(v any) string {
	switch x := v.(type) {
	case string:
		return "a string"
	case json.Number:
		return string(x)
	case bool:
		return strconv.FormatBool(x)
	case []any:
		return "an array"
	case map[string]any:
		return "an object"
	}
	return "null"
}
