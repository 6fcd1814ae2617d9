package pipeline

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/tarnhq/tarn"
	rt "github.com/tarnhq/tarn/runtime"
	"github.com/tarnhq/tarn/table"
)

// Model is a Python model, a SQL model or an expectation.
type Model struct {
	Name            string     `json:"name"`
	Kind            string     `json:"kind"` // python, sql, expectation
	File            string     `json:"file"`
	Line            int        `json:"line"`
	Function        string     `json:"function,omitempty"`
	Strategy        string     `json:"materialization_strategy"`
	PartitionedBy   []string   `json:"partitioned_by"`
	OverwriteFilter *string    `json:"overwrite_filter"`
	InternetAccess  bool       `json:"internet_access"`
	Columns         []string   `json:"columns"`
	Python          *PySpec    `json:"python"`
	Resources       *Resources `json:"resources"`
	Inputs          []Input    `json:"inputs"`
	Parameters      []ParamRef `json:"parameters"`
	Imports         []Import   `json:"imports"`
	SQL             string     `json:"sql,omitempty"`
	// CodeHash identifies the model's code for the step cache: for Python,
	// the syntax tree of its file and of the project modules it imports
	// (comments and formatting do not count); for SQL, the statement
	// without comments and with whitespace collapsed.
	CodeHash string `json:"code_hash"`
	// CacheStrategy is AUTO (serve from the cache when the key matches)
	// or NONE (always run).
	CacheStrategy string `json:"cache_strategy"`
	// UsesStore: its file uses the run's key-value store (tarn.store), an
	// effect beyond the output: the step is never served from the cache.
	UsesStore bool `json:"uses_store"`
}

// PySpec is what @tarn.python declares.
type PySpec struct {
	Version string            `json:"version"`
	Pip     map[string]string `json:"pip"`
}

// Resources is what @tarn.resources declares.
type Resources struct {
	Memory  string  `json:"memory"`
	Timeout float64 `json:"timeout"`
}

// Input is one declared input: a model or a lake table.
type Input struct {
	Param   string   `json:"param"`
	Name    string   `json:"name"`
	Columns []string `json:"columns"`
	Filter  *string  `json:"filter"`
	Ref     *string  `json:"ref"`
	Line    int      `json:"line"`
}

// ParamRef is a use of a run parameter.
type ParamRef struct {
	Param      string `json:"param"`
	Name       string `json:"name"`
	Line       int    `json:"line"`
	HasDefault bool   `json:"has_default"` // tarn.Parameter(default=...) in the code
}

// Import is a module a Python file imports.
type Import struct {
	Module string `json:"module"`
	Line   int    `json:"line"`
	Origin string `json:"origin"` // stdlib, tarn, project or external (as discovery saw it)
}

type discovery struct {
	Models       []*Model `json:"models"`
	Expectations []*Model `json:"expectations"`
	// Stdlib are the standard library's top-level module names (Python
	// 3.10+; none before).
	Stdlib []string `json:"stdlib"`
	Errors []struct {
		File    string `json:"file"`
		Line    int    `json:"line"`
		Column  int    `json:"column"`
		Message string `json:"message"`
	} `json:"errors"`
}

// Discoverer finds models. Python files are parsed (never imported) by the
// SDK's tarn._discover module run with a host interpreter, confined like
// user code: the files are the project's (any user's, on a server).
type Discoverer struct {
	Python string // interpreter for discovery; "" = Interpreter's, else python3 on PATH
	SDKDir string // directory containing the tarn package
	// Interpreter, when set, returns the interpreter of a Python version:
	// discovery then parses with the project's defaults.python, the
	// Python its models run with, named by its real path (python3 on PATH
	// may be a pyenv shim, whose resolution costs ~0.4 s of every run).
	// When it fails, python3 on PATH discovers.
	Interpreter func(ctx context.Context, version string) (string, error)
	// Sandbox confines discovery: with bubblewrap it sees only the
	// interpreter's installation, the SDK and the project (read-only),
	// has no network and a private /tmp; at every level it gets the
	// sandbox's limits. Nil runs a plain process. Either way its
	// environment is scrubbed (discoveryEnv), it is killed after Timeout
	// and the interpreter caps its own data segment at Memory.
	Sandbox *rt.Sandbox
	// Memory is what discovery may use (0: DiscoveryMemory).
	Memory int64
	// Timeout is how long it may take (0: DiscoveryTimeout).
	Timeout time.Duration
}

// Discovery's bounds. The syntax trees of Python code take hundreds of
// times its size (a 4 MB list of integers takes 1.9 GB to parse and
// hash), so besides these, tarn._discover parses no .py file over 4 MiB
// and nothing of a project whose .py files hold more than 32 MiB.
const (
	DiscoveryMemory  int64 = 1 << 30
	DiscoveryTimeout       = 60 * time.Second
	// discoveryOutput is the most JSON discovery may print.
	discoveryOutput = 256 << 20
)

// Load reads a project: its configuration, Python and SQL models and
// expectations. Every problem is reported at once with file and line.
func (d *Discoverer) Load(ctx context.Context, dir string) (*Project, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	p, err := readProjectFile(abs)
	if err != nil {
		return nil, err
	}
	var errs ProjectErrors
	disc, err := d.discoverPython(ctx, abs, p.Defaults.Python)
	if err != nil {
		return nil, err
	}
	for _, e := range disc.Errors {
		if e.File == "" || p.Included(e.File) {
			errs = append(errs, ProjectError{File: e.File, Line: e.Line, Msg: e.Message})
		}
	}
	if disc.Stdlib != nil {
		p.stdlib = map[string]bool{"__future__": true}
		for _, n := range disc.Stdlib {
			p.stdlib[n] = true
		}
	}
	for _, m := range disc.Models {
		if m.Kind == "" {
			m.Kind = "python"
		}
	}
	for _, m := range disc.Expectations {
		m.Kind = "expectation"
	}
	sqlModels, sqlErrs := discoverSQL(abs)
	for _, e := range sqlErrs {
		if e.File == "" || p.Included(e.File) {
			errs = append(errs, e)
		}
	}
	for _, m := range append(disc.Models, sqlModels...) {
		if p.Included(m.File) {
			p.Models = append(p.Models, m)
		}
	}
	for _, m := range disc.Expectations {
		if p.Included(m.File) {
			p.Expectations = append(p.Expectations, m)
		}
	}
	errs = append(errs, p.validate(ctx, d)...)
	return p, errs.err()
}

func (d *Discoverer) discoverPython(ctx context.Context, dir, version string) (*discovery, error) {
	py, err := d.python(ctx, version)
	if err != nil {
		return nil, err
	}
	memory, timeout := cmp.Or(d.Memory, DiscoveryMemory), cmp.Or(d.Timeout, DiscoveryTimeout)
	runCtx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var out, stderr bytes.Buffer
	err = d.Sandbox.Run(runCtx, rt.Command{
		Argv: []string{py, "-m", "tarn._discover", "--memory", strconv.FormatInt(memory, 10), dir},
		Env:  discoveryEnv(py, d.SDKDir),
		Confinement: rt.Confinement{
			ReadOnly: []string{rt.InterpreterPrefixOf(py), d.SDKDir, dir},
			Limits:   rt.Limits{Memory: memory, Processes: 64, Disk: 16 << 20},
		},
		Stdout: &cappedWriter{w: &out, n: discoveryOutput}, Stderr: &cappedWriter{w: &stderr, n: 1 << 20},
	})
	if err != nil {
		return nil, discoveryError(ctx, runCtx, err, timeout, stderr.String())
	}
	var disc discovery
	if err := json.Unmarshal(out.Bytes(), &disc); err != nil {
		return nil, tarn.Errorf(tarn.EINTERNAL, "discover Python models: bad output: %v", err)
	}
	return &disc, nil
}

// python is the interpreter that discovers: d.Python, the one of the
// project's version, else python3 on PATH. In a sandbox it must be the
// interpreter itself: a pyenv shim (a script that finds it through the
// home) is asked for it first.
func (d *Discoverer) python(ctx context.Context, version string) (string, error) {
	py := d.Python
	if py == "" && d.Interpreter != nil {
		if found, err := d.Interpreter(ctx, version); err == nil {
			return found, nil
		}
	}
	if py == "" {
		var err error
		if py, err = exec.LookPath("python3"); err != nil {
			return "", tarn.Errorf(tarn.EINVALID, "python3 is needed to read the project's Python files and was not found on PATH")
		}
	}
	if d.Sandbox == nil || !isScript(py) {
		return py, nil
	}
	// The host's own interpreter, run with no site and no PYTHON*
	// settings: no code of the project's.
	real, err := exec.CommandContext(ctx, py, "-I", "-S", "-c", "import sys; print(sys.executable)").Output()
	if err != nil || strings.TrimSpace(string(real)) == "" {
		return "", tarn.Errorf(tarn.EINVALID, "find the interpreter %s runs (to read the project's Python files): %v", py, err)
	}
	return strings.TrimSpace(string(real)), nil
}

// isScript says whether a file starts with "#!" (a shim, not an interpreter).
func isScript(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	head := make([]byte, 2)
	n, _ := io.ReadFull(f, head)
	return n == 2 && string(head) == "#!"
}

// discoveryEnv is discovery's whole environment: what Python needs and
// nothing of tarn's (no TARN_* settings, no credentials).
func discoveryEnv(python, sdkDir string) []string {
	return []string{
		"PATH=" + filepath.Dir(python) + ":/usr/bin:/bin",
		"HOME=/tmp",
		"LANG=C.UTF-8",
		"PYTHONPATH=" + sdkDir,
		"PYTHONDONTWRITEBYTECODE=1",
		"PYTHONNOUSERSITE=1",
	}
}

// discoveryError says why discovery failed: it took too long, ran out of
// memory (its own limit, exit 3, or the sandbox's), or broke.
func discoveryError(ctx, runCtx context.Context, err error, timeout time.Duration, stderr string) error {
	msg := strings.TrimSpace(stderr)
	var exit *exec.ExitError
	switch {
	case ctx.Err() != nil:
		return ctx.Err()
	case errors.Is(runCtx.Err(), context.DeadlineExceeded):
		return tarn.Errorf(tarn.EINVALID, "discovering the project's models took longer than %s: tarn parses every Python file of the project; split large files and keep data out of code", timeout)
	case errors.Is(err, rt.ErrOutOfMemory):
		return tarn.Errorf(tarn.EINVALID, "discovering the project's models: %v; keep data out of code (in a lake table, or a file of the project the model reads)", err)
	case errors.As(err, &exit) && exit.ExitCode() == 3:
		return tarn.Errorf(tarn.EINVALID, "discovering the project's models %s", strings.TrimPrefix(lastLine(msg), "tarn._discover: "))
	}
	return tarn.Errorf(tarn.EINTERNAL, "discover Python models: %v: %s", err, msg)
}

// lastLine is the last line of s.
func lastLine(s string) string {
	return s[strings.LastIndexByte(s, '\n')+1:]
}

// cappedWriter fails a write that would take it past n bytes.
type cappedWriter struct {
	w       io.Writer
	n, done int
}

func (c *cappedWriter) Write(b []byte) (int, error) {
	if c.done+len(b) > c.n {
		return 0, fmt.Errorf("discovery printed more than %s", tarn.FormatBytes(int64(c.n)))
	}
	n, err := c.w.Write(b)
	c.done += n
	return n, err
}

// validate checks what can be checked without the lakehouse: names,
// strategies, parameters, duplicates, imports.
func (p *Project) validate(ctx context.Context, d *Discoverer) ProjectErrors {
	var errs ProjectErrors
	seen := map[string]*Model{}
	for _, m := range p.Models {
		if prev, ok := seen[m.Name]; ok {
			errs = append(errs, ProjectError{File: m.File, Line: m.Line, Msg: fmt.Sprintf("duplicate model name %q (also defined at %s:%d)", m.Name, prev.File, prev.Line)})
			continue
		}
		seen[m.Name] = m
		if err := tarn.ValidateTableName(m.Name); err != nil {
			errs = append(errs, ProjectError{File: m.File, Line: m.Line, Msg: fmt.Sprintf("model name: %v", err)})
		}
		if m.Strategy == "" {
			m.Strategy = "NONE"
		}
		switch m.Strategy {
		case "NONE", "REPLACE", "APPEND", "OVERWRITE_PARTITIONS":
		default:
			errs = append(errs, ProjectError{File: m.File, Line: m.Line, Msg: fmt.Sprintf("unknown materialization_strategy %q (use NONE, REPLACE, APPEND or OVERWRITE_PARTITIONS)", m.Strategy)})
		}
		if m.OverwriteFilter != nil && strings.TrimSpace(*m.OverwriteFilter) != "" {
			// The columns are checked when the table is written; what
			// Iceberg cannot express is refused here, before anything runs.
			f, err := p.parseFilter(m, *m.OverwriteFilter)
			if err == nil {
				err = f.CheckOverwrite()
			}
			if err != nil {
				errs = append(errs, ProjectError{File: m.File, Line: m.Line, Msg: fmt.Sprintf("overwrite_filter of %s: %v", m.Name, err)})
			}
		}
	}
	for _, m := range append(append([]*Model{}, p.Models...), p.Expectations...) {
		for _, in := range m.Inputs {
			if in.Filter == nil || strings.TrimSpace(*in.Filter) == "" {
				continue
			}
			// Its syntax was checked where it was discovered; only the
			// run parameters it uses are recorded here.
			p.parseFilter(m, *in.Filter)
		}
	}
	expSeen := map[string]*Model{}
	for _, e := range p.Expectations {
		if prev, ok := expSeen[e.Name]; ok {
			errs = append(errs, ProjectError{File: e.File, Line: e.Line, Msg: fmt.Sprintf("duplicate expectation name %q (also defined at %s:%d)", e.Name, prev.File, prev.Line)})
		}
		expSeen[e.Name] = e
	}
	var declared []string
	for n := range p.Parameters {
		declared = append(declared, n)
	}
	sort.Strings(declared)
	for _, m := range append(append([]*Model{}, p.Models...), p.Expectations...) {
		for _, pr := range m.Parameters {
			if _, ok := p.Parameters[pr.Name]; !ok {
				errs = append(errs, ProjectError{File: m.File, Line: pr.Line, Msg: fmt.Sprintf("%s uses parameter %q, which %s does not declare%s", m.Name, pr.Name, ProjectFile, tarn.Suggest(pr.Name, declared))})
			}
		}
		if m.Resources != nil && m.Resources.Memory != "" {
			if _, err := ParseBytes(m.Resources.Memory); err != nil {
				errs = append(errs, ProjectError{File: m.File, Line: m.Line, Msg: err.Error()})
			}
		}
	}
	errs = append(errs, p.checkImports()...)
	return errs
}

// parseFilter parses one of m's filters at discovery, recording the run
// parameters it uses in m.Parameters (Param ""), each bound to a
// placeholder of its declared type so that the filter's shape is checked
// before anything runs; an undeclared one is reported with the others.
func (p *Project) parseFilter(m *Model, text string) (*table.RowFilter, error) {
	names, err := table.FilterParams(text)
	if err != nil {
		return nil, err
	}
	placeholders := map[string]any{}
	for _, n := range names {
		if !slices.ContainsFunc(m.Parameters, func(pr ParamRef) bool { return pr.Param == "" && pr.Name == n }) {
			m.Parameters = append(m.Parameters, ParamRef{Name: n, Line: m.Line})
		}
		placeholders[n] = placeholderValue(p.Parameters[n].Type)
	}
	bound, err := table.BindFilter(text, placeholders)
	if err != nil {
		return nil, err
	}
	return table.ParseRowFilter(bound)
}

// placeholderValue is a value of a parameter type, for checking a filter's
// shape before the run's values are known.
func placeholderValue(typ string) any {
	switch typ {
	case "int":
		return int64(0)
	case "float":
		return 0.0
	case "bool":
		return false
	}
	return ""
}
