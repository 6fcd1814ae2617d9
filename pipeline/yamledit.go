package pipeline

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"

	"gopkg.in/yaml.v3"
)

// A yamlDoc is the text of a YAML file with its parsed nodes, for edits
// that rewrite only the lines of the entries they change: the rest of the
// file (comments, blank lines, quoting, order) stays as it was written.
type yamlDoc struct {
	lines []string     // the text's lines, each with its newline
	root  yaml.Node    // the document node (Kind 0 for an empty file)
	nodes []*yaml.Node // every node, in document order
}

func parseYAMLDoc(text string) (*yamlDoc, error) {
	d := &yamlDoc{lines: strings.SplitAfter(text, "\n")}
	if n := len(d.lines); n > 0 && d.lines[n-1] == "" {
		d.lines = d.lines[:n-1]
	}
	if err := yaml.Unmarshal([]byte(text), &d.root); err != nil {
		return nil, err
	}
	var walk func(n *yaml.Node)
	walk = func(n *yaml.Node) {
		d.nodes = append(d.nodes, n)
		for _, c := range n.Content {
			walk(c)
		}
	}
	walk(&d.root)
	return d, nil
}

// top is the top-level node: nil for a file without any.
func (d *yamlDoc) top() *yaml.Node {
	if d.root.Kind != yaml.DocumentNode || len(d.root.Content) == 0 {
		return nil
	}
	return d.root.Content[0]
}

func (d *yamlDoc) text() string { return strings.Join(d.lines, "") }

// lookup is the index of key's key node in mapping m's Content (its value
// follows it), or -1.
func lookup(m *yaml.Node, key string) int {
	if m == nil || m.Kind != yaml.MappingNode {
		return -1
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return i
		}
	}
	return -1
}

// isBlockMapping says whether n is a mapping written one key per line.
func isBlockMapping(n *yaml.Node) bool {
	return n != nil && n.Kind == yaml.MappingNode && n.Style&yaml.FlowStyle == 0 && len(n.Content) > 0
}

// span is the lines (1-based, inclusive) of the block entry whose key and
// value nodes are k and v: from the key's line to the line before the next
// node (not of v) at k's column or left of it, without the blank lines and
// comments at k's column or left of it that come before that node (they
// belong to it).
func (d *yamlDoc) span(k, v *yaml.Node) (first, last int) {
	own := map[*yaml.Node]bool{}
	var mark func(n *yaml.Node)
	mark = func(n *yaml.Node) {
		own[n] = true
		for _, c := range n.Content {
			mark(c)
		}
	}
	mark(v)
	next := len(d.lines) + 1
	for _, n := range d.nodes {
		if !own[n] && n.Line > k.Line && n.Column > 0 && n.Column <= k.Column && n.Line < next {
			next = n.Line
		}
	}
	last = next - 1
	for last > k.Line {
		line := d.lines[last-1]
		trimmed := strings.TrimSpace(line)
		indent := len(line) - len(strings.TrimLeft(line, " "))
		if trimmed != "" && !(strings.HasPrefix(trimmed, "#") && indent <= k.Column-1) {
			break
		}
		last--
	}
	return k.Line, last
}

// splice replaces lines first..last (1-based, inclusive; last = first-1
// inserts before first) and returns the new text.
func (d *yamlDoc) splice(first, last int, repl []string) string {
	out := append([]string{}, d.lines[:first-1]...)
	if first > 1 && !strings.HasSuffix(out[first-2], "\n") {
		out[first-2] += "\n"
	}
	out = append(out, repl...)
	return strings.Join(append(out, d.lines[last:]...), "")
}

// indentUnit is how far the file indents a nested block mapping (2 when
// it has none).
func (d *yamlDoc) indentUnit() int {
	for _, n := range d.nodes {
		if !isBlockMapping(n) {
			continue
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			if v := n.Content[i+1]; isBlockMapping(v) && v.Content[0].Column > n.Content[i].Column {
				return v.Content[0].Column - n.Content[i].Column
			}
		}
	}
	return 2
}

// renderEntry renders "key: value" as lines indented by indent spaces,
// nested levels by unit more each.
func renderEntry(key string, value *yaml.Node, indent, unit int) ([]string, error) {
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(unit)
	m := &yaml.Node{Kind: yaml.MappingNode, Content: []*yaml.Node{{Kind: yaml.ScalarNode, Tag: "!!str", Value: key}, value}}
	if err := enc.Encode(m); err != nil {
		return nil, err
	}
	enc.Close()
	lines := strings.SplitAfter(b.String(), "\n")
	if lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	pad := strings.Repeat(" ", indent)
	for i, l := range lines {
		if strings.TrimSpace(l) != "" {
			lines[i] = pad + l
		}
	}
	return lines, nil
}

// setEntry sets key to value in the block mapping m of d: the entry's
// lines are replaced (the old value's line comment kept), or the entry is
// added after the last one. It returns the new text.
func (d *yamlDoc) setEntry(m *yaml.Node, key string, value *yaml.Node) (string, error) {
	unit := d.indentUnit()
	if i := lookup(m, key); i >= 0 {
		k, old := m.Content[i], m.Content[i+1]
		if value.Kind == yaml.ScalarNode && value.LineComment == "" {
			value.LineComment = old.LineComment + k.LineComment
		}
		lines, err := renderEntry(key, value, k.Column-1, unit)
		if err != nil {
			return "", err
		}
		first, last := d.span(k, old)
		return d.splice(first, last, lines), nil
	}
	lastKey := m.Content[len(m.Content)-2]
	lines, err := renderEntry(key, value, lastKey.Column-1, unit)
	if err != nil {
		return "", err
	}
	_, last := d.span(lastKey, m.Content[len(m.Content)-1])
	return d.splice(last+1, last, lines), nil
}

// deleteEntry removes key's entry from the block mapping m of d, with the
// comment lines right above it at its indentation. It returns the new text.
func (d *yamlDoc) deleteEntry(m *yaml.Node, key string) string {
	i := lookup(m, key)
	if i < 0 {
		return d.text()
	}
	k := m.Content[i]
	first, last := d.span(k, m.Content[i+1])
	pad := strings.Repeat(" ", k.Column-1)
	for first > 1 {
		line := d.lines[first-2]
		if !strings.HasPrefix(line, pad+"#") {
			break
		}
		first--
	}
	return d.splice(first, last, nil)
}

// appendEntry adds key: value at the end of the file, at the top level.
func (d *yamlDoc) appendEntry(key string, value *yaml.Node) (string, error) {
	lines, err := renderEntry(key, value, 0, d.indentUnit())
	if err != nil {
		return "", err
	}
	return d.splice(len(d.lines)+1, len(d.lines), lines), nil
}

// errNoSplice: an edit cannot be made on the lines of the text alone.
var errNoSplice = errors.New("the edit needs the whole file rewritten")

// editYAML edits a YAML text. tree edits the parsed document, which says
// what the result must mean; splice makes the same edit on the lines it
// touches only, leaving the rest of the text as it was. The spliced text
// is kept when it means what the edited tree does; otherwise (errNoSplice,
// or a splice that got it wrong) the edited tree is rendered whole, with
// its comments but not its blank lines.
func editYAML(text string, tree func(root *yaml.Node), splice func(d *yamlDoc) (string, error)) (string, error) {
	d, err := parseYAMLDoc(text)
	if err != nil {
		return "", err
	}
	tree(&d.root)
	want, err := encodeYAML(&d.root, d.indentUnit())
	if err != nil {
		return "", err
	}
	fresh, err := parseYAMLDoc(text)
	if err != nil {
		return "", err
	}
	if out, err := splice(fresh); err == nil && sameYAML(out, want) {
		return out, nil
	} else if err != nil && !errors.Is(err, errNoSplice) {
		return "", err
	}
	return want, nil
}

// decodeYAML decodes the first document of text into plain values, for
// comparing what two texts mean.
func decodeYAML(text string) (any, error) {
	var v any
	if err := yaml.NewDecoder(strings.NewReader(text)).Decode(&v); err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	return v, nil
}

// sameYAML reports whether two texts mean the same.
func sameYAML(a, b string) bool {
	va, errA := decodeYAML(a)
	vb, errB := decodeYAML(b)
	return errA == nil && errB == nil && reflect.DeepEqual(va, vb)
}

// encodeYAML renders a whole document (a fallback that keeps comments
// but not blank lines or spacing).
func encodeYAML(root *yaml.Node, unit int) (string, error) {
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(unit)
	if err := enc.Encode(root); err != nil {
		return "", fmt.Errorf("render the project file: %w", err)
	}
	enc.Close()
	return b.String(), nil
}
