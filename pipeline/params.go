package pipeline

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/tarnhq/tarn"
	"github.com/tarnhq/tarn/internal/atomicfile"
	"gopkg.in/yaml.v3"
)

// ParamInfo is a declared parameter as `tarn parameter ls` shows it. A
// secret's value is never part of it.
type ParamInfo struct {
	Name        string `json:"name"`
	Type        string `json:"type"`
	Default     any    `json:"default,omitempty"`
	Required    bool   `json:"required"`
	Description string `json:"description,omitempty"`
	// Set, for a secret, says whether it has a value.
	Set *bool `json:"set,omitempty"`
}

// ParamChange says how SetParameter changes a declaration; what it leaves
// zero stays as the file says.
type ParamChange struct {
	Type        string  // "" keeps the type; a new parameter needs one
	Default     *string // the default as text, converted to the type
	NoDefault   bool    // drop the default
	Description *string // "" drops it
	Required    *bool
	Value       *string // a secret's sealed value (tarn.SecretPrefix...)
}

// paramNameRe is what a parameter may be called: models name it in
// tarn.Parameter("NAME") and SQL as $NAME.
var paramNameRe = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// paramFields are a declaration's keys, in the order a new one is written.
var paramFields = []string{"type", "default", "value", "description", "required"}

// CheckParamName says whether a parameter may be called name.
func CheckParamName(name string) error {
	if !paramNameRe.MatchString(name) {
		return tarn.Errorf(tarn.EINVALID, "parameter name %s: use letters, digits and _, not starting with a digit (models read it as tarn.Parameter(\"NAME\"), SQL as $NAME)", tarn.Quote(name))
	}
	return nil
}

// ListParameters returns the parameters a project declares, by name.
func ListParameters(dir string) ([]ParamInfo, error) {
	p, err := readProjectFile(dir)
	if err != nil {
		return nil, err
	}
	out := []ParamInfo{}
	for name, d := range p.Parameters {
		out = append(out, paramInfo(name, d))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

func paramInfo(name string, d ParamDecl) ParamInfo {
	info := ParamInfo{Name: name, Type: d.Type, Required: d.Required, Description: d.Description}
	if d.Secret() {
		set := d.Value != ""
		info.Set = &set
	} else if d.Default != nil {
		info.Default, _ = convertParam(d.Type, fmt.Sprint(d.Default))
	}
	return info
}

// SetParameter declares a parameter in a project's file, or changes its
// declaration, and returns it as ListParameters would. Only the lines of
// what changes are rewritten (the rest of the file, its comments and
// blank lines stay), and the file is replaced atomically.
func SetParameter(dir, name string, ch ParamChange) (*ParamInfo, error) {
	if err := CheckParamName(name); err != nil {
		return nil, err
	}
	path, text, d, err := openProjectYAML(dir)
	if err != nil {
		return nil, err
	}
	var cur *ParamDecl
	if params := paramsNode(d); params != nil {
		if i := lookup(params, name); i >= 0 {
			var decl ParamDecl
			if err := params.Content[i+1].Decode(&decl); err != nil {
				return nil, tarn.Errorf(tarn.EINVALID, "%s: parameter %s: %v", filepath.Base(path), name, err)
			}
			cur = &decl
		}
	}
	decl, fields, err := changeDecl(name, cur, ch)
	if err != nil {
		return nil, err
	}
	out, err := editParams(text, name, fields)
	if err != nil {
		return nil, err
	}
	if err := writeLike(path, out); err != nil {
		return nil, err
	}
	info := paramInfo(name, decl)
	return &info, nil
}

// RemoveParameter drops a parameter's declaration (with the comment right
// above it) from a project's file, atomically.
func RemoveParameter(dir, name string) error {
	path, text, d, err := openProjectYAML(dir)
	if err != nil {
		return err
	}
	params := paramsNode(d)
	if lookup(params, name) < 0 {
		var declared []string
		if params != nil {
			for i := 0; i+1 < len(params.Content); i += 2 {
				declared = append(declared, params.Content[i].Value)
			}
		}
		if len(declared) == 0 {
			return tarn.Errorf(tarn.ENOTFOUND, "parameter %s is not declared: %s declares no parameters", tarn.Quote(name), filepath.Base(path))
		}
		sort.Strings(declared)
		return tarn.Errorf(tarn.ENOTFOUND, "parameter %s is not declared in %s%s; declared: %s", tarn.Quote(name), filepath.Base(path), tarn.Suggest(name, declared), strings.Join(declared, ", "))
	}
	tree := func(root *yaml.Node) {
		p := root.Content[0].Content[lookup(root.Content[0], "parameters")+1]
		i := lookup(p, name)
		p.Content = append(p.Content[:i:i], p.Content[i+2:]...)
	}
	splice := func(d *yamlDoc) (string, error) {
		params := paramsNode(d)
		if !isBlockMapping(params) {
			return "", errNoSplice
		}
		if len(params.Content) == 2 { // the last one: parameters: {} stays
			return d.setEntry(d.top(), "parameters", &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Style: yaml.FlowStyle})
		}
		return d.deleteEntry(params, name), nil
	}
	out, err := editYAML(text, tree, splice)
	if err != nil {
		return err
	}
	return writeLike(path, out)
}

// openProjectYAML reads and parses a project's file.
func openProjectYAML(dir string) (path, text string, d *yamlDoc, err error) {
	if path, err = ProjectFilePath(dir); err != nil {
		return "", "", nil, err
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return "", "", nil, fmt.Errorf("read %s: %w", path, err)
	}
	text = string(data)
	if d, err = parseYAMLDoc(text); err != nil {
		return "", "", nil, tarn.Errorf(tarn.EINVALID, "%s: %s: fix it first", filepath.Base(path), strings.TrimPrefix(err.Error(), "yaml: "))
	}
	if top := d.top(); top != nil && top.Kind != yaml.MappingNode {
		return "", "", nil, tarn.Errorf(tarn.EINVALID, "%s must be a mapping of keys (name:, parameters:, ...)", filepath.Base(path))
	}
	if params := paramsNode(d); params != nil && params.Kind != yaml.MappingNode && params.Tag != "!!null" {
		return "", "", nil, tarn.Errorf(tarn.EINVALID, "%s:%d: parameters must be a mapping of names to declarations", filepath.Base(path), params.Line)
	}
	return path, text, d, nil
}

// paramsNode is the value of the file's parameters: key (nil without one).
func paramsNode(d *yamlDoc) *yaml.Node {
	top := d.top()
	i := lookup(top, "parameters")
	if i < 0 {
		return nil
	}
	return top.Content[i+1]
}

// writeLike replaces path with text atomically, keeping its mode.
func writeLike(path, text string) error {
	mode := os.FileMode(0o644)
	if fi, err := os.Stat(path); err == nil {
		mode = fi.Mode().Perm()
	}
	if err := atomicfile.Write(path, []byte(text), mode); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// changeDecl applies a change to a declaration (cur nil: a new one). It
// returns the declaration and the fields to write: a node to set, nil to
// delete; a field not in the map stays as it is.
func changeDecl(name string, cur *ParamDecl, ch ParamChange) (ParamDecl, map[string]*yaml.Node, error) {
	fields := map[string]*yaml.Node{}
	var d ParamDecl
	if cur != nil {
		d = *cur
	}
	bad := func(format string, args ...any) (ParamDecl, map[string]*yaml.Node, error) {
		return ParamDecl{}, nil, tarn.Errorf(tarn.EINVALID, "parameter %s: "+format, append([]any{name}, args...)...)
	}
	switch {
	case ch.Type != "":
		typ, ok := paramType(ch.Type)
		if !ok {
			return bad("unknown type %s (use %s)", tarn.Quote(ch.Type), paramTypeList)
		}
		d.Type = typ
		fields["type"] = strNode(ch.Type)
	case cur == nil:
		return bad("it is new: give its --type (%s)", paramTypeList)
	default:
		typ, ok := paramType(d.Type)
		if !ok {
			return bad("its type %s is unknown: give --type (%s)", tarn.Quote(d.Type), paramTypeList)
		}
		d.Type = typ
	}
	if d.Secret() {
		if ch.Default != nil {
			return bad("a secret has no default: its value is read without echo, or given with --value or --file, and stored sealed")
		}
		if d.Default != nil || ch.NoDefault {
			d.Default, fields["default"] = nil, nil
		}
		if ch.Value != nil {
			d.Value, fields["value"] = *ch.Value, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: *ch.Value, Style: yaml.DoubleQuotedStyle}
		}
	} else {
		if ch.Value != nil {
			return bad("a value is for secrets (--type secret); a %s parameter takes --default", d.Type)
		}
		if d.Value != "" {
			d.Value, fields["value"] = "", nil
		}
		switch {
		case ch.Default != nil:
			v, err := convertParam(d.Type, *ch.Default)
			if err != nil {
				return bad("--default: %v", err)
			}
			d.Default, fields["default"] = v, scalarNode(v)
		case ch.NoDefault:
			d.Default, fields["default"] = nil, nil
		case d.Default != nil:
			if _, err := convertParam(d.Type, fmt.Sprint(d.Default)); err != nil {
				return bad("its default %v is not a %s: give a new --default, or --no-default", d.Default, d.Type)
			}
		}
	}
	if ch.Description != nil {
		d.Description, fields["description"] = *ch.Description, nil
		if *ch.Description != "" {
			fields["description"] = strNode(*ch.Description)
		}
	}
	if ch.Required != nil {
		d.Required, fields["required"] = *ch.Required, nil
		if *ch.Required {
			fields["required"] = &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!bool", Value: "true"}
		}
	}
	if d.Required && d.Default != nil {
		return bad("a required parameter has no default: give --no-default, or --required=false")
	}
	if cur == nil && fields["type"] == nil {
		fields["type"] = strNode(d.Type)
	}
	return d, fields, nil
}

func strNode(s string) *yaml.Node { return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s} }

// scalarNode is a typed parameter value as YAML (floats keep a point).
func scalarNode(v any) *yaml.Node {
	switch x := v.(type) {
	case int64:
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!int", Value: strconv.FormatInt(x, 10)}
	case float64:
		s := strconv.FormatFloat(x, 'g', -1, 64)
		switch {
		case math.IsNaN(x):
			s = ".nan"
		case math.IsInf(x, 1):
			s = ".inf"
		case math.IsInf(x, -1):
			s = "-.inf"
		case !strings.ContainsAny(s, ".e"):
			s += ".0"
		}
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!float", Value: s}
	case bool:
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!bool", Value: strconv.FormatBool(x)}
	}
	return strNode(fmt.Sprint(v))
}

// newEntry is a declaration's mapping with the fields set.
func newEntry(fields map[string]*yaml.Node) *yaml.Node {
	m := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
	for _, f := range paramFields {
		if n := fields[f]; n != nil {
			m.Content = append(m.Content, strNode(f), n)
		}
	}
	return m
}

// applyFields sets and deletes fields of a declaration's mapping in place.
func applyFields(entry *yaml.Node, fields map[string]*yaml.Node) {
	for _, f := range paramFields {
		n, ok := fields[f]
		if !ok {
			continue
		}
		i := lookup(entry, f)
		switch {
		case n == nil && i >= 0:
			entry.Content = append(entry.Content[:i:i], entry.Content[i+2:]...)
		case n != nil && i >= 0:
			entry.Content[i+1] = n
		case n != nil:
			entry.Content = append(entry.Content, strNode(f), n)
		}
	}
}

// setParam writes the fields of parameter name into the mapping params.
func setParam(params *yaml.Node, name string, fields map[string]*yaml.Node) {
	j := lookup(params, name)
	switch {
	case j < 0:
		params.Content = append(params.Content, strNode(name), newEntry(fields))
	case params.Content[j+1].Kind != yaml.MappingNode:
		params.Content[j+1] = newEntry(fields)
	default:
		applyFields(params.Content[j+1], fields)
	}
}

// oneEntry is the mapping {name: entry}.
func oneEntry(name string, entry *yaml.Node) *yaml.Node {
	return &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Content: []*yaml.Node{strNode(name), entry}}
}

// editParams writes the fields of parameter name into the project file's
// text.
func editParams(text, name string, fields map[string]*yaml.Node) (string, error) {
	tree := func(root *yaml.Node) {
		if root.Kind == 0 {
			root.Kind = yaml.DocumentNode
		}
		if len(root.Content) == 0 {
			root.Content = []*yaml.Node{{Kind: yaml.MappingNode, Tag: "!!map"}}
		}
		top := root.Content[0]
		i := lookup(top, "parameters")
		if i < 0 {
			top.Content = append(top.Content, strNode("parameters"), &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"})
			i = len(top.Content) - 2
		}
		if top.Content[i+1].Kind != yaml.MappingNode {
			top.Content[i+1] = &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
		}
		top.Content[i+1].Style = 0
		setParam(top.Content[i+1], name, fields)
	}
	splice := func(d *yamlDoc) (string, error) {
		top := d.top()
		if top == nil {
			return d.appendEntry("parameters", oneEntry(name, newEntry(fields)))
		}
		if !isBlockMapping(top) {
			return "", errNoSplice
		}
		pi := lookup(top, "parameters")
		if pi < 0 {
			return d.appendEntry("parameters", oneEntry(name, newEntry(fields)))
		}
		params := top.Content[pi+1]
		if !isBlockMapping(params) {
			// parameters: (empty), {} or a flow mapping: the whole key anew.
			p := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
			if params.Kind == yaml.MappingNode {
				p.Content = params.Content
			}
			setParam(p, name, fields)
			return d.setEntry(top, "parameters", p)
		}
		j := lookup(params, name)
		if j < 0 {
			return d.setEntry(params, name, newEntry(fields))
		}
		if entry := params.Content[j+1]; !isBlockMapping(entry) {
			e := newEntry(fields)
			if entry.Kind == yaml.MappingNode { // a flow mapping stays one
				e = entry
				applyFields(e, fields)
			}
			return d.setEntry(params, name, e)
		}
		// One field at a time, each on the text the last one left.
		for _, f := range paramFields {
			n, ok := fields[f]
			if !ok {
				continue
			}
			params := paramsNode(d)
			entry := params.Content[lookup(params, name)+1]
			next := ""
			if n == nil {
				next = d.deleteEntry(entry, f)
			} else {
				var err error
				if next, err = d.setEntry(entry, f, n); err != nil {
					return "", err
				}
			}
			nd, err := parseYAMLDoc(next)
			if err != nil || !isBlockMapping(paramsNode(nd)) || lookup(paramsNode(nd), name) < 0 || !isBlockMapping(paramsNode(nd).Content[lookup(paramsNode(nd), name)+1]) {
				return "", errNoSplice
			}
			d = nd
		}
		return d.text(), nil
	}
	return editYAML(text, tree, splice)
}
