package pipeline

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/tarnhq/tarn"
	"gopkg.in/yaml.v3"
)

// ProjectFile is the name of a project's configuration file
// (tarn_project.yaml is read too).
const ProjectFile = tarn.ProjectFile

// projectFileNames are the names a project file may have.
var projectFileNames = []string{ProjectFile, "tarn_project.yaml"}

// Project is a discovered project.
type Project struct {
	Dir          string
	Name         string
	Defaults     Defaults
	Parameters   map[string]ParamDecl
	Index        IndexDecl
	IncludePaths []string // only the models of these files and folders count (all: none given)
	Models       []*Model
	Expectations []*Model
	Warnings     []string
	// stdlib are the standard library's top-level modules as discovery's
	// interpreter reported them (nil: it did not; imports are then judged
	// by the origin discovery gave them).
	stdlib map[string]bool
}

// Defaults apply to every model that does not say otherwise.
type Defaults struct {
	Python    string            `yaml:"python"`
	Packages  map[string]string `yaml:"packages"`
	Namespace string            `yaml:"namespace"`
	Timeout   int               `yaml:"timeout"` // seconds
	Memory    string            `yaml:"memory"`
}

// ParamDecl declares a run parameter.
type ParamDecl struct {
	Type        string `yaml:"type"` // string (or str), int, float, bool, secret
	Default     any    `yaml:"default"`
	Description string `yaml:"description"`
	// Required: a run without a value for it fails before anything runs.
	Required bool `yaml:"required"`
	// Value is a secret's value, sealed for one lakehouse
	// (tarn.SecretPrefix...; `tarn parameter set NAME --type secret`).
	Value string `yaml:"value"`
}

// TypeSecret is the type of a parameter whose value is sealed for the
// lakehouse and opened only for the steps that use it.
const TypeSecret = "secret"

// paramTypeList names the parameter types for messages.
const paramTypeList = "string, int, float, bool or secret"

// paramType is the canonical name of a parameter type ("" and str are
// string), false for an unknown one.
func paramType(t string) (string, bool) {
	switch t {
	case "", "str", "string":
		return "string", true
	case "int", "float", "bool", TypeSecret:
		return t, true
	}
	return "", false
}

// Secret says whether the parameter is a secret.
func (d ParamDecl) Secret() bool { return d.Type == TypeSecret }

// check is what is wrong with a declaration of a known type ("": nothing).
func (d ParamDecl) check(name string) string {
	setIt := fmt.Sprintf("`tarn parameter set %s --type secret`", name)
	switch {
	case d.Secret() && d.Default != nil:
		return fmt.Sprintf("parameter %q is a secret, which has no default: drop default: and set its value with %s (it is stored sealed, as value:)", name, setIt)
	case d.Secret() && d.Value != "" && !strings.HasPrefix(d.Value, tarn.SecretPrefix):
		return fmt.Sprintf("parameter %q: its value is not sealed (it must start with %s): never write a secret in clear in %s; set it with %s", name, tarn.SecretPrefix, ProjectFile, setIt)
	case !d.Secret() && d.Value != "":
		return fmt.Sprintf("parameter %q: value: is for secrets (type: secret); a %s parameter takes a default:", name, d.Type)
	case d.Required && d.Default != nil:
		return fmt.Sprintf("parameter %q is required and has a default: drop one of the two", name)
	case d.Default != nil:
		if _, err := convertParam(d.Type, fmt.Sprint(d.Default)); err != nil {
			return fmt.Sprintf("parameter %q: default %v: %v", name, d.Default, err)
		}
	}
	return ""
}

// IndexDecl says where Python packages come from.
type IndexDecl struct {
	URL       string `yaml:"url"`
	FindLinks string `yaml:"find_links"`
	Offline   bool   `yaml:"offline"`
}

type projectYAML struct {
	Name string `yaml:"name"`
	// Project is the other layout of the name: project: {id, name}.
	Project *struct {
		ID   string `yaml:"id"`
		Name string `yaml:"name"`
	} `yaml:"project"`
	Defaults   Defaults             `yaml:"defaults"`
	Parameters map[string]ParamDecl `yaml:"parameters"`
	Index      IndexDecl            `yaml:"index"`
	// IncludePaths, when set, are the only files and folders (relative to
	// the project, globs allowed) whose models count.
	IncludePaths []string `yaml:"include_paths"`
}

// ProjectError is one problem in a project, located in a file.
type ProjectError struct {
	File string
	Line int
	Msg  string
}

func (e ProjectError) String() string {
	switch {
	case e.File == "":
		return e.Msg
	case e.Line > 0:
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	}
	return e.File + ": " + e.Msg
}

// ProjectErrors collects the problems of a project.
type ProjectErrors []ProjectError

func (es ProjectErrors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = "  " + e.String()
	}
	noun := "problem"
	if len(es) > 1 {
		noun = "problems"
	}
	return fmt.Sprintf("project has %d %s:\n%s", len(es), noun, strings.Join(lines, "\n"))
}

func (es ProjectErrors) err() error {
	if len(es) == 0 {
		return nil
	}
	sort.SliceStable(es, func(i, j int) bool {
		if es[i].File != es[j].File {
			return es[i].File < es[j].File
		}
		return es[i].Line < es[j].Line
	})
	return tarn.Errorf(tarn.EINVALID, "%w", es)
}

var lineRe = regexp.MustCompile(`line (\d+)`)

// ProjectFilePath finds the project file of dir: tarn_project.yml or
// tarn_project.yaml, not both.
func ProjectFilePath(dir string) (string, error) {
	var found []string
	for _, name := range projectFileNames {
		if _, err := os.Stat(filepath.Join(dir, name)); err == nil {
			found = append(found, name)
		}
	}
	switch len(found) {
	case 0:
		if others, _ := filepath.Glob(filepath.Join(dir, "*_project.y*ml")); len(others) > 0 {
			other := filepath.Base(others[0])
			return "", tarn.Errorf(tarn.EINVALID, "%s has %s but no %s: rename it to %s (tarn reads the same keys: project, parameters, include_paths)", dir, other, ProjectFile, ProjectFile)
		}
		return "", tarn.Errorf(tarn.EINVALID, "%s has no %s: is it a tarn project? (`tarn init %s` creates one)", dir, ProjectFile, dir)
	case 2:
		return "", tarn.Errorf(tarn.EINVALID, "%s has both %s and %s: keep one", dir, found[0], found[1])
	}
	return filepath.Join(dir, found[0]), nil
}

// readProjectFile reads and validates tarn_project.yml (or .yaml).
func readProjectFile(dir string) (*Project, error) {
	path, err := ProjectFilePath(dir)
	if err != nil {
		return nil, err
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	var y projectYAML
	dec := yaml.NewDecoder(strings.NewReader(string(data)))
	dec.KnownFields(true)
	if err := dec.Decode(&y); err != nil && !errors.Is(err, io.EOF) {
		line := 0
		if m := lineRe.FindStringSubmatch(err.Error()); m != nil {
			line, _ = strconv.Atoi(m[1])
		}
		return nil, ProjectErrors{{File: ProjectFile, Line: line, Msg: strings.TrimPrefix(err.Error(), "yaml: ")}}.err()
	}
	p := &Project{Dir: dir, Name: y.Name, Defaults: y.Defaults, Parameters: y.Parameters, Index: y.Index, IncludePaths: y.IncludePaths}
	var errs ProjectErrors
	if p.Name == "" && y.Project != nil {
		p.Name = y.Project.Name
		if p.Name == "" {
			p.Name = y.Project.ID
		}
	}
	if p.Name == "" {
		p.Name = filepath.Base(dir)
	}
	for _, inc := range p.IncludePaths {
		if inc == "" || filepath.IsAbs(inc) || strings.HasPrefix(filepath.Clean(inc), "..") {
			errs = append(errs, ProjectError{File: ProjectFile, Msg: fmt.Sprintf("include_paths: %s must be a path inside the project", tarn.Quote(inc))})
		} else if _, err := filepath.Match(inc, ""); err != nil {
			errs = append(errs, ProjectError{File: ProjectFile, Msg: fmt.Sprintf("include_paths: %s is not a valid glob: %v", tarn.Quote(inc), err)})
		}
	}
	if p.Defaults.Python == "" {
		p.Defaults.Python = "3.11"
	}
	if p.Defaults.Namespace == "" {
		p.Defaults.Namespace = tarn.DefaultNamespace
	} else if err := tarn.ValidateNamespace(p.Defaults.Namespace); err != nil {
		errs = append(errs, ProjectError{File: ProjectFile, Msg: "defaults.namespace: " + err.Error()})
	}
	if p.Defaults.Timeout < 0 {
		errs = append(errs, ProjectError{File: ProjectFile, Msg: "defaults.timeout must be positive (seconds)"})
	}
	if p.Defaults.Memory != "" {
		if _, err := ParseBytes(p.Defaults.Memory); err != nil {
			errs = append(errs, ProjectError{File: ProjectFile, Msg: "defaults.memory: " + err.Error()})
		}
	}
	if p.Parameters == nil {
		p.Parameters = map[string]ParamDecl{}
	}
	for name, d := range p.Parameters {
		typ, ok := paramType(d.Type)
		if !ok {
			errs = append(errs, ProjectError{File: ProjectFile, Msg: fmt.Sprintf("parameter %q has unknown type %q (use %s)", name, d.Type, paramTypeList)})
			continue
		}
		d.Type = typ
		p.Parameters[name] = d
		if msg := d.check(name); msg != "" {
			errs = append(errs, ProjectError{File: ProjectFile, Msg: msg})
		}
	}
	if p.Index.FindLinks != "" && !filepath.IsAbs(p.Index.FindLinks) {
		p.Index.FindLinks = filepath.Join(dir, p.Index.FindLinks)
	}
	return p, errs.err()
}

// ParseBytes parses sizes like "4GiB", "512MB", "1g".
func ParseBytes(s string) (int64, error) {
	s = strings.TrimSpace(s)
	units := []struct {
		suffix string
		mult   int64
	}{{"gib", 1 << 30}, {"mib", 1 << 20}, {"kib", 1 << 10}, {"gb", 1e9}, {"mb", 1e6}, {"kb", 1e3}, {"g", 1 << 30}, {"m", 1 << 20}, {"k", 1 << 10}, {"b", 1}}
	lower := strings.ToLower(s)
	for _, u := range units {
		if strings.HasSuffix(lower, u.suffix) {
			n, err := strconv.ParseFloat(strings.TrimSpace(lower[:len(lower)-len(u.suffix)]), 64)
			if err != nil || n <= 0 {
				return 0, fmt.Errorf("bad size %q (use e.g. 4GiB or 512MiB)", s)
			}
			return int64(n * float64(u.mult)), nil
		}
	}
	n, err := strconv.ParseInt(lower, 10, 64)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("bad size %q (use e.g. 4GiB or 512MiB)", s)
	}
	return n, nil
}

// convertParam converts a parameter value to its declared type.
func convertParam(typ, v string) (any, error) {
	switch typ {
	case "int":
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("%q is not an int", v)
		}
		return n, nil
	case "float":
		f, err := strconv.ParseFloat(v, 64)
		if err != nil {
			return nil, fmt.Errorf("%q is not a float", v)
		}
		return f, nil
	case "bool":
		b, err := strconv.ParseBool(v)
		if err != nil {
			return nil, fmt.Errorf("%q is not a bool (true/false)", v)
		}
		return b, nil
	}
	return v, nil
}

// ResolveParams merges --param values with declared defaults. Secrets
// are left out (see Project.Secrets) and refused as --param values: on a
// command line a value shows in shell histories and process lists.
func (p *Project) ResolveParams(given map[string]string) (map[string]any, error) {
	out := map[string]any{}
	var names []string
	for n := range p.Parameters {
		names = append(names, n)
	}
	sort.Strings(names)
	for k, v := range given {
		d, ok := p.Parameters[k]
		if !ok {
			if len(names) == 0 {
				return nil, tarn.Errorf(tarn.EINVALID, "unknown parameter %q: the project declares no parameters (add them under parameters: in %s)", k, ProjectFile)
			}
			return nil, tarn.Errorf(tarn.EINVALID, "unknown parameter %q%s; declared: %s", k, tarn.Suggest(k, names), strings.Join(names, ", "))
		}
		if d.Secret() {
			return nil, tarn.Errorf(tarn.EINVALID, "parameter %s is a secret: its value is not taken on the command line (shell histories, process lists); set it with `tarn parameter set %s --type secret`, which stores it sealed in %s", k, k, ProjectFile)
		}
		val, err := convertParam(d.Type, v)
		if err != nil {
			return nil, tarn.Errorf(tarn.EINVALID, "parameter %s: %v", k, err)
		}
		out[k] = val
	}
	for _, n := range names {
		if _, ok := out[n]; ok {
			continue
		}
		d := p.Parameters[n]
		if d.Secret() {
			if d.Value == "" && (d.Required || p.paramUsed(n)) {
				return nil, tarn.Errorf(tarn.EINVALID, "secret %q has no value: set it with `tarn parameter set %s --type secret`%s", n, n, describe(d))
			}
			continue
		}
		if d.Required {
			return nil, tarn.Errorf(tarn.EINVALID, "parameter %q is required: pass --param %s=VALUE%s", n, n, describe(d))
		}
		if d.Default == nil {
			if p.paramUsed(n) {
				return nil, tarn.Errorf(tarn.EINVALID, "parameter %q has no default: pass --param %s=VALUE", n, n)
			}
			continue
		}
		val, _ := convertParam(d.Type, fmt.Sprint(d.Default))
		out[n] = val
	}
	return out, nil
}

func describe(d ParamDecl) string {
	if d.Description == "" {
		return ""
	}
	return " (" + d.Description + ")"
}

// Included says whether a project file's models count (include_paths).
func (p *Project) Included(file string) bool {
	if len(p.IncludePaths) == 0 {
		return true
	}
	file = filepath.ToSlash(file)
	for _, inc := range p.IncludePaths {
		inc = strings.TrimSuffix(filepath.ToSlash(filepath.Clean(inc)), "/")
		if inc == "." || file == inc || strings.HasPrefix(file, inc+"/") {
			return true
		}
		if ok, _ := filepath.Match(inc, file); ok {
			return true
		}
		if ok, _ := filepath.Match(inc, strings.SplitN(file, "/", 2)[0]); ok {
			return true
		}
	}
	return false
}

// paramUsed reports whether a model needs a value for the parameter (uses
// it without a default of its own in the code).
func (p *Project) paramUsed(name string) bool {
	for _, m := range append(append([]*Model{}, p.Models...), p.Expectations...) {
		for _, pr := range m.Parameters {
			if pr.Name == name && !pr.HasDefault {
				return true
			}
		}
	}
	return false
}

// Timeout returns a model's timeout.
func (p *Project) Timeout(m *Model) time.Duration {
	if m.Resources != nil && m.Resources.Timeout > 0 {
		return time.Duration(m.Resources.Timeout * float64(time.Second))
	}
	if p.Defaults.Timeout > 0 {
		return time.Duration(p.Defaults.Timeout) * time.Second
	}
	return 10 * time.Minute
}

// MemoryLimit returns a model's memory limit in bytes (0: none).
func (p *Project) MemoryLimit(m *Model) int64 {
	s := p.Defaults.Memory
	if m.Resources != nil && m.Resources.Memory != "" {
		s = m.Resources.Memory
	}
	if s == "" {
		return 0
	}
	n, _ := ParseBytes(s)
	return n
}
