package pipeline_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tarnhq/tarn"
	"github.com/tarnhq/tarn/pipeline"
)

func ptr[T any](v T) *T { return &v }

// projectWith writes a project file and returns its folder.
func projectWith(t *testing.T, name, text string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o640); err != nil {
		t.Fatal(err)
	}
	return dir
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

const commented = `# the taxi project
name: taxi   # its name

# run parameters
parameters:
  # the shortest trip kept
  min_miles: {type: float, default: 1.5}

  zone:
    type: str
    default: "a"   # a zone id
    # more zones later

  # rows to keep
  limit:
    type: int
    default: 10

# where models write
defaults:
  python: "3.11"
`

func TestSetParameter(t *testing.T) {
	for _, tc := range []struct {
		name  string
		file  string
		param string
		ch    pipeline.ParamChange
		want  string
	}{
		{"NewAmongOthers", commented, "greeting", pipeline.ParamChange{Type: "string", Default: ptr("hi there"), Description: ptr("what to say")},
			strings.Replace(commented, "    default: 10\n", "    default: 10\n  greeting:\n    type: string\n    default: hi there\n    description: what to say\n", 1)},
		{"ChangeDefaultKeepsLineComment", commented, "zone", pipeline.ParamChange{Default: ptr("b")},
			strings.Replace(commented, `    default: "a"   # a zone id`, `    default: b # a zone id`, 1)},
		{"FlowStaysFlow", commented, "min_miles", pipeline.ParamChange{Default: ptr("2")},
			strings.Replace(commented, "{type: float, default: 1.5}", "{type: float, default: 2.0}", 1)},
		{"AddFieldsInOrder", commented, "limit", pipeline.ParamChange{Description: ptr("at most this many"), Required: ptr(true), NoDefault: true},
			strings.Replace(commented, "    default: 10\n", "    description: at most this many\n    required: true\n", 1)},
		{"IntToSecret", commented, "limit", pipeline.ParamChange{Type: "secret", Value: ptr(tarn.SecretPrefix + "AAAA")},
			strings.Replace(commented, "    type: int\n    default: 10\n", "    type: secret\n    value: \""+tarn.SecretPrefix+"AAAA\"\n", 1)},
		{"NoParameters", "name: x\n\ndefaults:\n  python: \"3.12\"   # newest\n", "n", pipeline.ParamChange{Type: "int", Default: ptr("3")},
			"name: x\n\ndefaults:\n  python: \"3.12\"   # newest\nparameters:\n  n:\n    type: int\n    default: 3\n"},
		{"NoNewlineAtEnd", "name: x", "n", pipeline.ParamChange{Type: "bool", Default: ptr("true")},
			"name: x\nparameters:\n  n:\n    type: bool\n    default: true\n"},
		{"EmptyFile", "", "n", pipeline.ParamChange{Type: "int"}, "parameters:\n  n:\n    type: int\n"},
		{"EmptyParameters", "name: x\nparameters:\n# later\ndefaults: {python: \"3.11\"}\n", "n", pipeline.ParamChange{Type: "int"},
			"name: x\nparameters:\n  n:\n    type: int\n# later\ndefaults: {python: \"3.11\"}\n"},
		{"EmptyFlowParameters", "name: x\nparameters: {}\n\ndefaults: {}\n", "s", pipeline.ParamChange{Type: "string", Default: ptr("true")},
			"name: x\nparameters:\n  s:\n    type: string\n    default: \"true\"\n\ndefaults: {}\n"},
		{"FourSpaces", "name: x\nparameters:\n    a:\n        type: int\n", "b", pipeline.ParamChange{Type: "float", Default: ptr("1e6")},
			"name: x\nparameters:\n    a:\n        type: int\n    b:\n        type: float\n        default: 1e+06\n"},
		{"MultilineDescription", "parameters:\n  a:\n    type: int\n", "a", pipeline.ParamChange{Description: ptr("line one\nline two")},
			"parameters:\n  a:\n    type: int\n    description: |-\n      line one\n      line two\n"},
		{"DropDescription", "parameters:\n  a:\n    type: int\n    # about it\n    description: old\n    required: true\n", "a", pipeline.ParamChange{Description: ptr("")},
			"parameters:\n  a:\n    type: int\n    required: true\n"},
		{"StringThatLooksLikeANumber", "parameters:\n  a:\n    type: str\n", "a", pipeline.ParamChange{Default: ptr("007")},
			"parameters:\n  a:\n    type: str\n    default: \"007\"\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := projectWith(t, pipeline.ProjectFile, tc.file)
			if _, err := pipeline.SetParameter(dir, tc.param, tc.ch); err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(dir, pipeline.ProjectFile)
			if got := readFile(t, path); got != tc.want {
				t.Fatalf("got:\n%s\nwant:\n%s", got, tc.want)
			}
			if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o640 {
				t.Fatalf("mode %o: the file's mode was not kept", fi.Mode().Perm())
			}
			if _, err := pipeline.ListParameters(dir); err != nil {
				t.Fatalf("the edited file does not load: %v", err)
			}
			if entries, _ := os.ReadDir(dir); len(entries) != 1 {
				t.Fatalf("files left beside the project file: %v", entries)
			}
		})
	}
}

func TestSetParameter_Errors(t *testing.T) {
	for _, tc := range []struct {
		name, file, param string
		ch                pipeline.ParamChange
		says              string
	}{
		{"NewWithoutType", commented, "n", pipeline.ParamChange{Default: ptr("1")}, "it is new: give its --type"},
		{"UnknownType", commented, "n", pipeline.ParamChange{Type: "decimal"}, `unknown type "decimal"`},
		{"BadDefault", commented, "limit", pipeline.ParamChange{Default: ptr("ten")}, `--default: "ten" is not an int`},
		{"OldDefaultDoesNotFit", commented, "zone", pipeline.ParamChange{Type: "int"}, "its default a is not a int: give a new --default, or --no-default"},
		{"SecretDefault", commented, "tok", pipeline.ParamChange{Type: "secret", Default: ptr("x")}, "a secret has no default"},
		{"ValueOfNonSecret", commented, "limit", pipeline.ParamChange{Value: ptr("x")}, "a value is for secrets"},
		{"RequiredWithDefault", commented, "limit", pipeline.ParamChange{Required: ptr(true)}, "a required parameter has no default"},
		{"BadName", commented, "min-miles", pipeline.ParamChange{Type: "int"}, "use letters, digits and _"},
		{"SyntaxError", "name: [x\n", "n", pipeline.ParamChange{Type: "int"}, "fix it first"},
		{"NotAMapping", "- a\n- b\n", "n", pipeline.ParamChange{Type: "int"}, "must be a mapping of keys"},
		{"ParametersNotAMapping", "parameters: [a]\n", "n", pipeline.ParamChange{Type: "int"}, ":1: parameters must be a mapping"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := projectWith(t, pipeline.ProjectFile, tc.file)
			_, err := pipeline.SetParameter(dir, tc.param, tc.ch)
			if err == nil || tarn.ErrorCode(err) != tarn.EINVALID || !strings.Contains(err.Error(), tc.says) {
				t.Fatalf("err = %v, want an invalid error saying %q", err, tc.says)
			}
			if got := readFile(t, filepath.Join(dir, pipeline.ProjectFile)); got != tc.file {
				t.Fatalf("a refused edit changed the file:\n%s", got)
			}
		})
	}
	if _, err := pipeline.SetParameter(t.TempDir(), "n", pipeline.ParamChange{Type: "int"}); err == nil || !strings.Contains(err.Error(), "has no tarn_project.yml") {
		t.Fatalf("no project: %v", err)
	}
}

func TestRemoveParameter(t *testing.T) {
	dir := projectWith(t, pipeline.ProjectFile, commented)
	path := filepath.Join(dir, pipeline.ProjectFile)
	if err := pipeline.RemoveParameter(dir, "limit"); err != nil {
		t.Fatal(err)
	}
	want := strings.Replace(commented, "  # rows to keep\n  limit:\n    type: int\n    default: 10\n", "", 1)
	if got := readFile(t, path); got != want {
		t.Fatalf("got:\n%s\nwant:\n%s", got, want)
	}
	if err := pipeline.RemoveParameter(dir, "min_miles"); err != nil {
		t.Fatal(err)
	}
	want = strings.Replace(want, "  # the shortest trip kept\n  min_miles: {type: float, default: 1.5}\n", "", 1)
	if got := readFile(t, path); got != want {
		t.Fatalf("got:\n%s\nwant:\n%s", got, want)
	}
	if err := pipeline.RemoveParameter(dir, "zone"); err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, path); !strings.Contains(got, "parameters: {}\n") || !strings.Contains(got, "# where models write\ndefaults:") || !strings.Contains(got, "name: taxi   # its name\n\n# run parameters\n") {
		t.Fatalf("removing the last parameter:\n%s", got)
	}
	err := pipeline.RemoveParameter(dir, "zone")
	if tarn.ErrorCode(err) != tarn.ENOTFOUND || !strings.Contains(err.Error(), "declares no parameters") {
		t.Fatalf("removing an unknown parameter: %v", err)
	}
	dir = projectWith(t, "tarn_project.yaml", commented)
	err = pipeline.RemoveParameter(dir, "limits")
	if tarn.ErrorCode(err) != tarn.ENOTFOUND || !strings.Contains(err.Error(), `did you mean "limit"?`) || !strings.Contains(err.Error(), "declared: limit, min_miles, zone") {
		t.Fatalf("removing a misspelt parameter: %v", err)
	}
}

func TestListParameters(t *testing.T) {
	dir := projectWith(t, pipeline.ProjectFile, commented)
	if _, err := pipeline.SetParameter(dir, "token", pipeline.ParamChange{Type: "secret", Value: ptr(tarn.SecretPrefix + "AAAA"), Description: ptr("the API token")}); err != nil {
		t.Fatal(err)
	}
	if _, err := pipeline.SetParameter(dir, "unset", pipeline.ParamChange{Type: "secret"}); err != nil {
		t.Fatal(err)
	}
	list, err := pipeline.ListParameters(dir)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]pipeline.ParamInfo{}
	for _, p := range list {
		got[p.Name] = p
	}
	if len(list) != 5 || list[0].Name != "limit" || got["limit"].Default != int64(10) || got["zone"].Type != "string" || got["min_miles"].Default != 1.5 {
		t.Fatalf("parameters %+v", list)
	}
	if tok := got["token"]; tok.Type != "secret" || tok.Set == nil || !*tok.Set || tok.Default != nil || tok.Description != "the API token" {
		t.Fatalf("secret %+v", tok)
	}
	if u := got["unset"]; u.Set == nil || *u.Set {
		t.Fatalf("unset secret %+v", u)
	}
	if got["limit"].Set != nil {
		t.Fatal("a plain parameter says whether it is set")
	}
}

// TestProject_SecretParams: secrets are never taken from the command
// line, are left out of the resolved values, and one a step needs must be
// set.
func TestProject_SecretParams(t *testing.T) {
	sealed := tarn.SecretPrefix + "AAAA"
	yml := "name: x\nparameters:\n  tok: {type: secret, value: \"" + sealed + "\"}\n  unset: {type: secret}\n  n: {type: int, default: 2}\n"
	p, err := load(t, map[string]string{"tarn_project.yml": yml})
	if err != nil {
		t.Fatal(err)
	}
	params, err := p.ResolveParams(nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(params) != 1 || params["n"] != int64(2) {
		t.Fatalf("resolved %v: secrets must be left out", params)
	}
	_, err = p.ResolveParams(map[string]string{"tok": "hunter2"})
	if tarn.ErrorCode(err) != tarn.EINVALID || !strings.Contains(err.Error(), "parameter tok is a secret: its value is not taken on the command line") ||
		!strings.Contains(err.Error(), "tarn parameter set tok --type secret") || strings.Contains(err.Error(), "hunter2") {
		t.Fatalf("--param for a secret: %v", err)
	}
	p, err = load(t, map[string]string{"tarn_project.yml": yml, "m.py": "import tarn\n\n@tarn.model()\ndef f(u=tarn.Parameter(\"unset\")):\n    pass\n"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.ResolveParams(nil); err == nil || !strings.Contains(err.Error(), `secret "unset" has no value: set it with `+"`tarn parameter set unset --type secret`") {
		t.Fatalf("a used secret without a value: %v", err)
	}
}
