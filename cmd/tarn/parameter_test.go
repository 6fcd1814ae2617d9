package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// TestCLI_Parameters: tarn parameter declares, lists and removes
// parameters in place; secrets from --value, --file and a pipe are
// stored sealed for this lakehouse (embedded, or the server's home).
func TestCLI_Parameters(t *testing.T) {
	l := newLakehouse(t)
	file := l.write("proj/tarn_project.yml", "# demo project\nname: demo\n\nparameters:\n  # kept\n  n: {type: int, default: 1}\n\ndefaults:\n  python: \"3.11\"\n")
	proj := filepath.Dir(file)
	if out := l.ok("parameter", "set", "min_miles", "--type", "float", "--default", "1.5", "--description", "shortest trip", "-p", proj); !strings.Contains(out, "set parameter min_miles (float, default 1.5) in "+file) {
		t.Fatalf("set: %q", out)
	}
	l.ok("parameter", "set", "n", "--default", "3", "--project-dir", proj)
	l.ok("parameter", "set", "tok", "--type", "secret", "--value", "s3cret-one", "-p", proj)
	l.ok("parameter", "set", "pw", "--type", "secret", "--file", l.write("pw.txt", "s3cret-two\n"), "-p", proj, "--description", "the database's")
	if r := l.runStdin("s3cret-three\n", "parameter", "set", "key", "--type", "secret", "-p", proj); r.code != 0 || !strings.Contains(r.stdout, "set parameter key (secret, set)") {
		t.Fatalf("secret from a pipe: %+v", r)
	}
	text, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(text), "s3cret") {
		t.Fatalf("a clear value in the project file:\n%s", text)
	}
	for _, kept := range []string{"# demo project\nname: demo\n\nparameters:\n  # kept\n  n: {type: int, default: 3}\n", "\n\ndefaults:\n  python: \"3.11\"\n"} {
		if !strings.Contains(string(text), kept) {
			t.Fatalf("the edits did not keep %q:\n%s", kept, text)
		}
	}
	var y struct {
		Parameters map[string]struct{ Value string }
	}
	if err := yaml.Unmarshal(text, &y); err != nil {
		t.Fatal(err)
	}
	keys, err := l.secretKeys()
	if err != nil {
		t.Fatalf("the lakehouse has no key: %v", err)
	}
	for name, want := range map[string]string{"tok": "s3cret-one", "pw": "s3cret-two", "key": "s3cret-three"} {
		if got, err := keys.Open(name, y.Parameters[name].Value); err != nil || got != want {
			t.Fatalf("secret %s opens to %q, %v; want %q", name, got, err, want)
		}
	}
	out := l.ok("parameter", "ls", "-p", proj)
	for _, want := range []string{"key        secret  (secret, set)", "min_miles  float   1.5", "shortest trip", "n          int     3"} {
		if !strings.Contains(out, want) {
			t.Fatalf("ls does not show %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "s3cret") || strings.Contains(out, "tarn-secret:") {
		t.Fatalf("ls shows a secret:\n%s", out)
	}
	var list []struct {
		Name, Type  string
		Default     any
		Required    bool
		Description string
		Set         *bool
	}
	l.json(&list, "parameter", "ls", "-p", proj)
	if len(list) != 5 || list[0].Name != "key" || list[0].Set == nil || !*list[0].Set || list[0].Default != nil || list[1].Default != 1.5 || list[3].Description != "the database's" {
		t.Fatalf("ls -o json: %+v", list)
	}
	l.fails(2, []string{"a secret has no default"}, "parameter", "set", "tok", "--type", "secret", "--default", "x", "-p", proj)
	l.fails(2, []string{"--value and --file exclude each other"}, "parameter", "set", "tok", "--value", "a", "--file", "b", "-p", proj)
	if r := l.runStdin("", "parameter", "set", "tok", "--type", "secret", "-p", proj); r.code != 2 || !strings.Contains(r.stderr, "the value of secret tok is empty") {
		t.Fatalf("an empty secret: %+v", r)
	}
	l.fails(2, []string{"a value is for secrets"}, "parameter", "set", "n", "--value", "x", "-p", proj)
	l.fails(2, []string{"it is new: give its --type"}, "parameter", "set", "fresh", "--default", "1", "-p", proj)
	l.fails(2, []string{`"ten" is not an int`}, "parameter", "set", "n", "--default", "ten", "-p", proj)
	l.fails(3, []string{`parameter "nosuch" is not declared`}, "parameter", "rm", "nosuch", "-p", proj)
	l.fails(2, []string{"has no tarn_project.yml"}, "parameter", "ls", "-p", l.dir)
	if out := l.ok("parameter", "rm", "pw", "-p", proj); !strings.Contains(out, "removed parameter pw") {
		t.Fatalf("rm: %q", out)
	}
	l.json(&list, "parameter", "ls", "-p", proj)
	if len(list) != 4 {
		t.Fatalf("after rm: %+v", list)
	}
}
