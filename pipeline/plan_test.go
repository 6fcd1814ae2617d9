package pipeline_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tarnhq/tarn"
	"github.com/tarnhq/tarn/pipeline"
	"github.com/tarnhq/tarn/python"
)

var sdkDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "tarn-sdk-")
	if err != nil {
		panic(err)
	}
	if sdkDir, err = python.Extract(dir); err != nil {
		panic(err)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

const projectYML = `name: demo
defaults:
  python: "3.11"
  packages: {pandas: "2.2.3"}
parameters:
  min_miles: {type: float, default: 1.5}
`

func writeProject(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	if _, ok := files["tarn_project.yml"]; !ok {
		files["tarn_project.yml"] = projectYML
	}
	for name, content := range files {
		p := filepath.Join(dir, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func load(t *testing.T, files map[string]string) (*pipeline.Project, error) {
	t.Helper()
	d := &pipeline.Discoverer{SDKDir: sdkDir}
	return d.Load(context.Background(), writeProject(t, files))
}

var lake = pipeline.Lake{Ref: "main", Tables: map[string]bool{"tarn.trips": true, "tarn.zones": true, "tarn.clean": true},
	Producer: func(id tarn.TableIdent) string {
		if id.Name == "clean" {
			return "demo/clean"
		}
		return ""
	}}

const goodModels = `import tarn
import pandas as pd

@tarn.model(materialization_strategy="REPLACE")
def clean(trips=tarn.Model("trips", columns=["miles"], filter="miles > 0"), min_miles=tarn.Parameter("min_miles")):
    return trips

@tarn.model()
def enriched(c=tarn.Model("clean"), z=tarn.Model("zones")):
    return c

@tarn.expectation()
def has_rows(e=tarn.Model("enriched")):
    return e.num_rows > 0
`

func TestProject_Plan(t *testing.T) {
	p, err := load(t, map[string]string{
		"models/a.py":    goodModels,
		"models/agg.sql": "-- tarn: materialization_strategy=APPEND\nwith x as (select * from enriched) select count(*) from x join zones z on true",
	})
	if err != nil {
		t.Fatal(err)
	}
	plan, err := p.Plan(lake)
	if err != nil {
		t.Fatal(err)
	}
	var order []string
	for _, st := range plan.Steps {
		order = append(order, st.Model.Name)
	}
	if strings.Join(order, ",") != "clean,enriched,agg" {
		t.Fatalf("order = %v", order)
	}
	if len(plan.Levels) != 3 || len(plan.Expectations) != 1 {
		t.Fatalf("levels %v, expectations %d", plan.Levels, len(plan.Expectations))
	}
	clean := plan.Steps[0]
	if len(clean.Lake) != 1 || clean.Lake[0].Table.Key() != "tarn.trips" || clean.Lake[0].Filter != "miles > 0" || clean.Lake[0].Columns[0] != "miles" {
		t.Fatalf("clean's lake input = %+v", clean.Lake)
	}
	agg := plan.Steps[2]
	if agg.Model.Kind != "sql" || agg.Model.Strategy != "APPEND" || len(agg.Deps) != 1 || agg.Deps[0] != "enriched" || len(agg.Lake) != 1 {
		t.Fatalf("sql model = %+v deps %v lake %v", agg.Model, agg.Deps, agg.Lake)
	}
	params, err := p.ResolveParams(map[string]string{"min_miles": "2.5"})
	if err != nil || params["min_miles"] != 2.5 {
		t.Fatalf("params = %v, %v", params, err)
	}
	if _, err := p.ResolveParams(map[string]string{"min_mile": "1"}); err == nil || !strings.Contains(err.Error(), `did you mean "min_miles"`) {
		t.Fatalf("unknown --param: %v", err)
	}
	if _, err := p.ResolveParams(map[string]string{"min_miles": "far"}); err == nil || !strings.Contains(err.Error(), "not a float") {
		t.Fatalf("bad --param: %v", err)
	}
}

// TestProject_WritesIntoLakeTables: a materialized model may write into a
// lake table it did not make, and read that table (at the run's base).
func TestProject_WritesIntoLakeTables(t *testing.T) {
	p, err := load(t, map[string]string{"m.py": "import tarn\n\n@tarn.model(materialization_strategy=\"APPEND\")\ndef zones(old=tarn.Model(\"zones\", columns=[\"id\"])):\n    return old\n"})
	if err != nil {
		t.Fatal(err)
	}
	plan, err := p.Plan(lake)
	if err != nil {
		t.Fatalf("a model appending to a lake table it did not make: %v", err)
	}
	st := plan.Steps[0]
	if st.Output.Key() != "tarn.zones" || len(st.Lake) != 1 || st.Lake[0].Table.Key() != "tarn.zones" || st.Lake[0].Ref != "" || len(st.Deps) != 0 {
		t.Fatalf("step %+v: lake %+v deps %v", st.Model.Name, st.Lake, st.Deps)
	}
}

// TestProject_SQLOverwriteFilter: a quoted header value keeps the quotes
// inside it, and an overwrite filter Iceberg can express is accepted.
func TestProject_SQLOverwriteFilter(t *testing.T) {
	p, err := load(t, map[string]string{
		"part.sql": "-- tarn: materialization_strategy=OVERWRITE_PARTITIONS, overwrite_filter=\"NOT flag AND zone = 'a'\"\nselect 'a' as zone, false as flag",
	})
	if err != nil {
		t.Fatal(err)
	}
	if m := p.Models[0]; m.OverwriteFilter == nil || *m.OverwriteFilter != "NOT flag AND zone = 'a'" {
		t.Fatalf("overwrite_filter = %v", m.OverwriteFilter)
	}
}

func TestProject_Errors(t *testing.T) {
	cases := []struct {
		name  string
		files map[string]string
		plan  bool // the error comes from planning against the lake
		want  []string
	}{
		{"SyntaxError", map[string]string{"m.py": "import tarn\n\n@tarn.model()\ndef f(:\n    pass\n"}, false, []string{"m.py:4"}},
		{"MissingPackage", map[string]string{"m.py": "import tarn\nimport polars\n\n@tarn.model()\ndef f():\n    return None\n"}, false,
			[]string{"m.py:2", "polars", "@tarn.python"}},
		{"Cycle", map[string]string{"m.py": "import tarn\n\n@tarn.model()\ndef a(x=tarn.Model(\"b\")):\n    pass\n\n@tarn.model()\ndef b(x=tarn.Model(\"a\")):\n    pass\n"}, true,
			[]string{"cycle", "a -> b -> a"}},
		{"DuplicateName", map[string]string{"m.py": "import tarn\n\n@tarn.model()\ndef dup():\n    pass\n", "dup.sql": "select 1"}, false,
			[]string{"duplicate model name \"dup\"", "m.py:4", "dup.sql"}},
		{"ModelShadowsLakeTable", map[string]string{"m.py": "import tarn\n\n@tarn.model()\ndef zones():\n    pass\n"}, true,
			[]string{"m.py:4", "same name as the lake table tarn.zones", "not materialized", "APPEND"}},
		{"UnknownInput", map[string]string{"m.py": "import tarn\n\n@tarn.model()\ndef f(x=tarn.Model(\"trip\")):\n    pass\n"}, true,
			[]string{"m.py:4", `"trip"`, `did you mean "trips"`}},
		{"UnknownParameter", map[string]string{"m.py": "import tarn\n\n@tarn.model()\ndef f(x=tarn.Parameter(\"max_miles\")):\n    pass\n"}, false,
			[]string{"m.py:4", "max_miles", "does not declare"}},
		{"BadStrategy", map[string]string{"q.sql": "-- tarn: materialization_strategy=MERGE\nselect 1"}, false, []string{"q.sql", "MERGE"}},
		{"UnknownSQLOption", map[string]string{"q.sql": "-- tarn: colour=blue\nselect 1"}, false, []string{"q.sql:1", "colour"}},
		{"OverwriteFilterLike", map[string]string{"m.py": "import tarn\n\n@tarn.model(materialization_strategy=\"OVERWRITE_PARTITIONS\", overwrite_filter=\"zone LIKE 'a%'\")\ndef f():\n    pass\n"}, false,
			[]string{"m.py:4", "overwrite_filter of f", "cannot use LIKE"}},
		{"OverwriteFilterSQL", map[string]string{"q.sql": "-- tarn: materialization_strategy=OVERWRITE_PARTITIONS, overwrite_filter=\"a > b\"\nselect 1 as a, 2 as b"}, false,
			[]string{"q.sql", "overwrite_filter of q", "comparison of two columns"}},
		{"OverwriteFilterSyntax", map[string]string{"q.sql": "-- tarn: materialization_strategy=OVERWRITE_PARTITIONS, overwrite_filter=\"a >\"\nselect 1 as a"}, false,
			[]string{"q.sql", "overwrite_filter of q", "expected a column name or a literal value"}},
		{"UndeclaredFilterParameter", map[string]string{"m.py": "import tarn\n\n@tarn.model()\ndef f(x=tarn.Model(\"trips\", filter=\"miles > $min_mile\")):\n    pass\n",
			"tarn_project.yml": "name: x\nparameters:\n  min_miles: {type: float, default: 1}\n"}, false,
			[]string{"m.py:4", `parameter "min_mile"`, `did you mean "min_miles"`}},
		{"InputFilterParameterShape", map[string]string{"m.py": "import tarn\n\n@tarn.model()\ndef f(x=tarn.Model(\"trips\", filter=\"miles > $min $min\")):\n    pass\n",
			"tarn_project.yml": "name: x\nparameters:\n  min: {type: float, default: 1}\n"}, false,
			[]string{"m.py:4", "filter 'miles > $min $min'", "expected AND, OR"}},
		{"OverwriteFilterParameterShape", map[string]string{"q.sql": "-- tarn: materialization_strategy=OVERWRITE_PARTITIONS, overwrite_filter=\"day = $day $day\"\nselect 1 as day",
			"tarn_project.yml": "name: x\nparameters:\n  day: {type: str, default: '2024-01-01'}\n"}, false,
			[]string{"q.sql", "overwrite_filter of q"}},
		{"BadYAML", map[string]string{"tarn_project.yml": "name: x\ndefaults:\n  pythn: 3.11\n"}, false, []string{"tarn_project.yml:3", "pythn"}},
		{"BadParamType", map[string]string{"tarn_project.yml": "name: x\nparameters:\n  n: {type: complex}\n"}, false, []string{"unknown type", "secret"}},
		{"SecretDefault", map[string]string{"tarn_project.yml": "name: x\nparameters:\n  tok: {type: secret, default: hunter2}\n"}, false,
			[]string{`parameter "tok" is a secret, which has no default`, "tarn parameter set tok --type secret"}},
		{"SecretInClear", map[string]string{"tarn_project.yml": "name: x\nparameters:\n  tok: {type: secret, value: hunter2}\n"}, false,
			[]string{`parameter "tok": its value is not sealed`, "never write a secret in clear"}},
		{"ValueOfNonSecret", map[string]string{"tarn_project.yml": "name: x\nparameters:\n  n: {type: int, value: 3}\n"}, false,
			[]string{"value: is for secrets", "default:"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p, err := load(t, tc.files)
			if tc.plan {
				if err != nil {
					t.Fatalf("load: %v", err)
				}
				_, err = p.Plan(lake)
			}
			if err == nil {
				t.Fatal("no error")
			}
			if tarn.ErrorCode(err) != tarn.EINVALID {
				t.Fatalf("code %s: %v", tarn.ErrorCode(err), err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Fatalf("error does not mention %q:\n%v", w, err)
				}
			}
		})
	}
	t.Run("NoProjectFile", func(t *testing.T) {
		d := &pipeline.Discoverer{SDKDir: sdkDir}
		_, err := d.Load(context.Background(), t.TempDir())
		if err == nil || !strings.Contains(err.Error(), "tarn init") {
			t.Fatalf("missing project file: %v", err)
		}
	})
	t.Run("DiscoveryDoesNotRunCode", func(t *testing.T) {
		dir := writeProject(t, map[string]string{"m.py": "import tarn\nopen('ran', 'w').write('x')\nraise SystemExit(3)\n\n@tarn.model()\ndef f():\n    pass\n"})
		d := &pipeline.Discoverer{SDKDir: sdkDir}
		p, err := d.Load(context.Background(), dir)
		if err != nil || len(p.Models) != 1 {
			t.Fatalf("load: %v", err)
		}
		if _, err := os.Stat(filepath.Join(dir, "ran")); err == nil {
			t.Fatal("discovery executed user code")
		}
	})
}

// TestProject_FileLayouts: the other spelling of the project file, its
// project: {id, name} layout, include_paths, and the parameter options.
func TestProject_FileLayouts(t *testing.T) {
	dir := t.TempDir() // a syntax error outside include_paths does not count
	os.MkdirAll(filepath.Join(dir, "models"), 0o755)
	os.MkdirAll(filepath.Join(dir, "scratch"), 0o755)
	os.WriteFile(filepath.Join(dir, "models", "a.py"), []byte("import tarn\n\n@tarn.model()\ndef a(n=tarn.Parameter(\"n\")):\n    pass\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "scratch", "b.py"), []byte("import tarn\n\n@tarn.model()\ndef b(:\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "tarn_project.yaml"), []byte("project:\n  id: 1f2e\n  name: layout\ninclude_paths: [models]\nparameters:\n  n:\n    type: str\n    required: true\n    description: the zone to keep\n"), 0o644)
	d := &pipeline.Discoverer{SDKDir: sdkDir}
	got, err := d.Load(context.Background(), dir)
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	if got.Name != "layout" || len(got.Models) != 1 || got.Models[0].Name != "a" || got.Parameters["n"].Type != "string" {
		t.Fatalf("project %q, models %d, parameter %+v", got.Name, len(got.Models), got.Parameters["n"])
	}
	if _, err := got.ResolveParams(nil); err == nil || !strings.Contains(err.Error(), `parameter "n" is required`) || !strings.Contains(err.Error(), "the zone to keep") {
		t.Fatalf("a required parameter without a value: %v", err)
	}
	if params, err := got.ResolveParams(map[string]string{"n": "a"}); err != nil || params["n"] != "a" {
		t.Fatalf("with the parameter: %v %v", params, err)
	}
	// Another tool's project file is named in the error.
	other := t.TempDir()
	os.WriteFile(filepath.Join(other, "acme_project.yml"), []byte("project: {id: x}\n"), 0o644)
	if _, err := d.Load(context.Background(), other); err == nil || !strings.Contains(err.Error(), "acme_project.yml") || !strings.Contains(err.Error(), "rename it to tarn_project.yml") {
		t.Fatalf("another tool's project file: %v", err)
	}
	// Both spellings at once is an error.
	os.WriteFile(filepath.Join(dir, "tarn_project.yml"), []byte("name: x\n"), 0o644)
	if _, err := d.Load(context.Background(), dir); err == nil || !strings.Contains(err.Error(), "keep one") {
		t.Fatalf("two project files: %v", err)
	}
}

// Discovery runs with the interpreter of the project's defaults.python
// when the Discoverer can name it (python3 on PATH may be a slow shim),
// with python3 on PATH when it cannot; either way the standard library's
// names come with the discovery (no second interpreter start): an import
// of a stdlib module is no error, one of an uninstalled package is.
func TestDiscoverer_Interpreter(t *testing.T) {
	real := hostPython(t)
	files := map[string]string{"models/m.py": "import tarn\nimport json\nimport bisect\nimport humanize\n\n@tarn.model()\ndef m(t=tarn.Model(\"trips\")):\n    return t\n"}
	for _, tc := range []struct {
		name string
		path string
		err  error
	}{
		{"named", real, nil},
		{"not found", "", tarn.Errorf(tarn.EINVALID, "no such version")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var asked []string
			d := &pipeline.Discoverer{SDKDir: sdkDir, Interpreter: func(_ context.Context, version string) (string, error) {
				asked = append(asked, version)
				return tc.path, tc.err
			}}
			_, err := d.Load(context.Background(), writeProject(t, files))
			if len(asked) != 1 || asked[0] != "3.11" {
				t.Errorf("the Discoverer asked for %v, want [3.11] (the project's defaults.python)", asked)
			}
			if err == nil || !strings.Contains(err.Error(), "imports humanize") {
				t.Fatalf("the import of an uninstalled package is not reported: %v", err)
			}
			if strings.Contains(err.Error(), "imports json") || strings.Contains(err.Error(), "imports bisect") {
				t.Errorf("an import of the standard library is reported: %v", err)
			}
		})
	}
}
