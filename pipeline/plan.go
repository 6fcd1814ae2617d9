package pipeline

import (
	"fmt"
	"sort"
	"strings"

	"github.com/tarnhq/tarn"
	"github.com/tarnhq/tarn/runtime"
	"github.com/tarnhq/tarn/table"
)

// DuckDBVersion is the DuckDB Python package SQL models run with (the same
// DuckDB version the query engine embeds).
const DuckDBVersion = "1.5.6"

// EnvSpec returns the environment a model runs in.
func (p *Project) EnvSpec(m *Model) runtime.EnvSpec {
	spec := runtime.EnvSpec{Python: p.Defaults.Python, Packages: map[string]string{}}
	for k, v := range p.Defaults.Packages {
		spec.Packages[k] = v
	}
	if m.Python != nil {
		if m.Python.Version != "" {
			spec.Python = m.Python.Version
		}
		for k, v := range m.Python.Pip {
			spec.Packages[k] = v
		}
	}
	if m.Kind == "sql" {
		spec.Packages = map[string]string{"duckdb": DuckDBVersion}
	}
	return spec
}

// Lake describes the lake tables visible at the run's ref.
type Lake struct {
	Ref    string
	Tables map[string]bool // keys "ns.name"
	// Producer returns the "project/model" that materialized a table, or "".
	Producer func(tarn.TableIdent) string
}

// LakeInput is an input read from a lake table.
type LakeInput struct {
	Param   string
	Table   tarn.TableIdent
	Columns []string
	Filter  string
	Ref     string // "" = the run's ref
}

// UpstreamInput is an input produced by another model of the run.
type UpstreamInput struct {
	Param   string
	Model   string
	Columns []string
	Filter  string
}

// Step is one unit of work: a model or an expectation.
type Step struct {
	Model    *Model
	Deps     []string
	Lake     []LakeInput
	Upstream []UpstreamInput
	Output   tarn.TableIdent // the table a materialized model writes
	// OverwriteFilter is the model's overwrite_filter with its run
	// parameters bound (see Plan.BindParams).
	OverwriteFilter string
}

// Materialized reports whether the step writes a table.
func (s *Step) Materialized() bool {
	return s.Model.Kind != "expectation" && s.Model.Strategy != "NONE"
}

// Plan is the DAG of a run, in a topological order.
type Plan struct {
	Steps        []*Step // models, dependencies first
	Expectations []*Step
	Levels       [][]string // models grouped by depth, for display
}

// Plan resolves inputs against the project's models and the lake and
// orders the DAG. Every problem is reported with file and line.
func (p *Project) Plan(lake Lake) (*Plan, error) {
	var errs ProjectErrors
	models := map[string]*Model{}
	for _, m := range p.Models {
		models[m.Name] = m
	}
	var lakeNames []string
	for k := range lake.Tables {
		if ns, name := tarn.ParseKey(k); ns == p.Defaults.Namespace {
			k = name
		}
		lakeNames = append(lakeNames, k)
	}
	var modelNames []string
	for n := range models {
		modelNames = append(modelNames, n)
	}
	sort.Strings(modelNames)
	candidates := append(append([]string{}, modelNames...), lakeNames...)
	resolve := func(m *Model, in Input) (*UpstreamInput, *LakeInput) {
		filter := ""
		if in.Filter != nil {
			filter = *in.Filter
		}
		if in.Ref == nil {
			if _, ok := models[in.Name]; ok {
				if in.Name == m.Name {
					// A model that writes into a lake table may read that
					// table: it reads it at the run's base commit.
					if ident, err := tarn.ParseTableIdent(in.Name, p.Defaults.Namespace); err == nil && lake.Tables[ident.Key()] && m.Strategy != "NONE" {
						return nil, &LakeInput{Param: in.Param, Table: ident, Columns: in.Columns, Filter: filter}
					}
					errs = append(errs, ProjectError{File: m.File, Line: in.Line, Msg: fmt.Sprintf("%s reads its own output %q", m.Name, in.Name)})
					return nil, nil
				}
				return &UpstreamInput{Param: in.Param, Model: in.Name, Columns: in.Columns, Filter: filter}, nil
			}
		}
		ident, err := tarn.ParseTableIdent(in.Name, p.Defaults.Namespace)
		if err != nil {
			errs = append(errs, ProjectError{File: m.File, Line: in.Line, Msg: fmt.Sprintf("input %q of %s: %v", in.Name, m.Name, err)})
			return nil, nil
		}
		ref := ""
		if in.Ref != nil {
			ref = *in.Ref
		}
		if ref == "" && !lake.Tables[ident.Key()] {
			errs = append(errs, ProjectError{File: m.File, Line: in.Line, Msg: fmt.Sprintf("input %q of %s is neither a model of this project nor a table at %s%s",
				in.Name, m.Name, lake.Ref, tarn.Suggest(in.Name, candidates))})
			return nil, nil
		}
		return nil, &LakeInput{Param: in.Param, Table: ident, Columns: in.Columns, Filter: filter, Ref: ref}
	}
	build := func(m *Model) *Step {
		st := &Step{Model: m, Output: tarn.TableIdent{Namespace: p.Defaults.Namespace, Name: m.Name}}
		if m.OverwriteFilter != nil {
			st.OverwriteFilter = *m.OverwriteFilter
		}
		for _, in := range m.Inputs {
			up, li := resolve(m, in)
			if up != nil {
				st.Upstream = append(st.Upstream, *up)
				st.Deps = append(st.Deps, up.Model)
			}
			if li != nil {
				st.Lake = append(st.Lake, *li)
			}
		}
		return st
	}
	byName := map[string]*Step{}
	for _, m := range p.Models {
		byName[m.Name] = build(m)
		// A materialized model writes into a lake table of its name, whoever
		// made it (an import, another project): appending to ingested
		// tables is the everyday case. Only a model that is not
		// materialized is ambiguous: inputs named like it would read the
		// model, not the table.
		if key := byName[m.Name].Output.Key(); lake.Tables[key] && m.Strategy == "NONE" {
			errs = append(errs, ProjectError{File: m.File, Line: m.Line, Msg: fmt.Sprintf(
				"model %s has the same name as the lake table %s at %s but is not materialized: inputs named %q would read the model, not the table; rename the model, or write it into the table (materialization_strategy=\"APPEND\" or \"REPLACE\")",
				m.Name, key, lake.Ref, m.Name)})
		}
	}
	plan := &Plan{}
	for _, e := range p.Expectations {
		plan.Expectations = append(plan.Expectations, build(e))
	}
	// Topological order with cycle detection (depth-first, in file order).
	state := map[string]int{} // 0 new, 1 visiting, 2 done
	depth := map[string]int{}
	var visit func(name string, path []string) int
	visit = func(name string, path []string) int {
		switch state[name] {
		case 1:
			i := 0
			for path[i] != name {
				i++
			}
			cycle := append(append([]string{}, path[i:]...), name)
			var where []string
			for _, n := range cycle[:len(cycle)-1] {
				where = append(where, fmt.Sprintf("%s at %s:%d", n, models[n].File, models[n].Line))
			}
			m := models[name]
			errs = append(errs, ProjectError{File: m.File, Line: m.Line, Msg: fmt.Sprintf("cycle: %s (%s)", strings.Join(cycle, " -> "), strings.Join(where, ", "))})
			return 0
		case 2:
			return depth[name]
		}
		state[name] = 1
		d := 0
		for _, dep := range byName[name].Deps {
			d = max(d, visit(dep, append(path, name))+1)
		}
		state[name] = 2
		depth[name] = d
		plan.Steps = append(plan.Steps, byName[name])
		return d
	}
	for _, m := range p.Models {
		if state[m.Name] == 0 {
			visit(m.Name, nil)
		}
	}
	if err := dedupe(errs).err(); err != nil {
		return nil, err
	}
	for _, st := range plan.Steps {
		d := depth[st.Model.Name]
		for len(plan.Levels) <= d {
			plan.Levels = append(plan.Levels, nil)
		}
		plan.Levels[d] = append(plan.Levels[d], st.Model.Name)
	}
	return plan, nil
}

// Warnings returns what --strict turns into errors.
func (p *Project) Lint(plan *Plan) []string {
	var w []string
	consumed := map[string]bool{}
	for _, st := range append(append([]*Step{}, plan.Steps...), plan.Expectations...) {
		for _, up := range st.Upstream {
			consumed[up.Model] = true
		}
	}
	for _, st := range plan.Steps {
		m := st.Model
		if m.Strategy == "NONE" && !consumed[m.Name] {
			w = append(w, fmt.Sprintf("%s:%d: model %s is not materialized and nothing reads it: its output is discarded", m.File, m.Line, m.Name))
		}
		for name, v := range p.EnvSpec(m).Packages {
			if v == "" || v == "*" {
				w = append(w, fmt.Sprintf("%s:%d: package %s of %s is not pinned: pin a version for reproducible runs", m.File, m.Line, name, m.Name))
			}
		}
	}
	return w
}

// BindParams binds the run parameters ($name) in every filter of the plan:
// the inputs' filters and the overwrite filters (see table.BindFilter).
func (pl *Plan) BindParams(params map[string]any) error {
	bind := func(m *Model, f *string) error {
		if !strings.Contains(*f, "$") {
			return nil
		}
		bound, err := table.BindFilter(*f, params)
		if err != nil {
			return fmt.Errorf("%s (%s:%d): %w", m.Name, m.File, m.Line, err)
		}
		*f = bound
		return nil
	}
	for _, st := range append(append([]*Step{}, pl.Steps...), pl.Expectations...) {
		if err := bind(st.Model, &st.OverwriteFilter); err != nil {
			return err
		}
		for i := range st.Lake {
			if err := bind(st.Model, &st.Lake[i].Filter); err != nil {
				return err
			}
		}
		for i := range st.Upstream {
			if err := bind(st.Model, &st.Upstream[i].Filter); err != nil {
				return err
			}
		}
	}
	return nil
}
