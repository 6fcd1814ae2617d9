//go:build integration

package integration

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// secretPrefix starts every secret value of these tests; the model that
// does not use the secret looks for it.
const secretPrefix = "tarn-itest-secret-"

// secretFiles is a project whose Python and SQL models use secret
// api_token (printing it, in one write and in two; a typed model too) and
// whose last model does not, and looks for it where it could read.
func secretFiles() map[string]string {
	return map[string]string{
		"tarn_project.yml": "name: itest\n# the project's parameters\nparameters:\n  n: {type: int, default: 2}\ndefaults:\n  python: \"3.11\"\n  timeout: 120\n",
		"models.py": `import hashlib
import json
import os
import sys
from typing import Annotated

import pyarrow as pa
import tarn


@tarn.model(materialization_strategy="REPLACE")
def uses_secret(token=tarn.Parameter("api_token"), n=tarn.Parameter("n")):
    print("the token is", token, flush=True)
    sys.stdout.write(token[:7])
    sys.stdout.flush()
    sys.stdout.write(token[7:] + " in two writes\n")
    print("on stderr:", token, file=sys.stderr)
    return pa.table({"sha": [hashlib.sha256(token.encode()).hexdigest()], "n": [n]})


@tarn.model(materialization_strategy="REPLACE")
def typed_secret(token: Annotated[str, tarn.Parameter("api_token")]):
    return pa.table({"sha": [hashlib.sha256(token.encode()).hexdigest()]})


@tarn.model(materialization_strategy="REPLACE")
def no_secret(up=tarn.Model("uses_secret")):
    found = [k for k, v in os.environ.items() if "` + secretPrefix + `" in v]
    spec_dir = os.path.dirname(sys.argv[1])
    for name in os.listdir(spec_dir):
        try:
            with open(os.path.join(spec_dir, name), errors="replace") as f:
                if "` + secretPrefix + `" in f.read():
                    found.append(name)
        except OSError:
            pass
    print("specs seen:", len(os.listdir(spec_dir)))
    return pa.table({"found": [json.dumps(found)]})
`,
		"length.sql": "-- tarn: materialization_strategy=REPLACE\nselect length($api_token) as n\n",
	}
}

// failingFiles is a project whose model fails with the secret in its
// error, beside one that returns it as data (shown by --preview).
func failingFiles() map[string]string {
	return map[string]string{
		"tarn_project.yml": "name: failing\nparameters:\n  api_token: {type: secret}\ndefaults:\n  python: \"3.11\"\n  timeout: 120\n",
		"models.py": `import pyarrow as pa
import tarn


@tarn.model(materialization_strategy="REPLACE")
def shows(token=tarn.Parameter("api_token")):
    return pa.table({"t": [token], "u": ["x" + token + "y"]})


@tarn.model(materialization_strategy="REPLACE")
def boom(up=tarn.Model("shows"), token=tarn.Parameter("api_token")):
    raise ValueError("bad token " + token)
`,
	}
}

// checkFailedRun checks a run of failingFiles: it failed on boom, and
// the error, the traceback and the preview show the secret as ***.
func checkFailedRun(t *testing.T, r runOut, value string) {
	t.Helper()
	out := r.stdout + r.stderr
	if r.code == 0 || strings.Contains(out, value) {
		t.Fatalf("failing run: exit %d\n%s", r.code, out)
	}
	for _, want := range []string{"[boom] ValueError: bad token ***", "step boom failed at models.py:12: ValueError: bad token ***", "x***y"} {
		if !strings.Contains(out, want) {
			t.Fatalf("the failing run's output lacks %q:\n%s", want, out)
		}
	}
}

// newSecret is a value no file of the machine holds yet.
func newSecret(t *testing.T) string {
	t.Helper()
	b := make([]byte, 12)
	rand.Read(b)
	return secretPrefix + hex.EncodeToString(b)
}

// tarnIn runs tarn on home with standard input.
func tarnIn(t *testing.T, home, stdin string, args ...string) runOut {
	t.Helper()
	cmd := exec.Command(env(t, "TARN_BIN"), args...)
	cmd.Env = append(os.Environ(), "TARN_HOME="+home)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return runOut{out.String(), errb.String(), code}
}

// nowhereIn fails if value is in any file under dir (the catalog, the
// warehouse's data and Iceberg metadata, caches, job records and logs,
// environments: every file), in clear or hex.
func nowhereIn(t *testing.T, dir, value string) {
	t.Helper()
	forms := [][]byte{[]byte(value), []byte(hex.EncodeToString([]byte(value)))}
	files := 0
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.Type().IsRegular() {
			return nil
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		files++
		for _, f := range forms {
			if bytes.Contains(data, f) {
				t.Errorf("%s holds the secret", path)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("walk %s: %v", dir, err)
	}
	if files == 0 {
		t.Fatalf("%s has no files to search", dir)
	}
}

func dirExists(dir string) bool {
	fi, err := os.Stat(dir)
	return err == nil && fi.IsDir()
}

// checkSecretRun checks a run's output: the secret masked, every step done.
func checkSecretRun(t *testing.T, r runOut, value string) {
	t.Helper()
	if r.code != 0 {
		t.Fatalf("run: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	out := r.stdout + r.stderr
	if strings.Contains(out, value) {
		t.Fatalf("the run's output shows the secret:\n%s", out)
	}
	for _, want := range []string{"[uses_secret] the token is ***", "[uses_secret] *** in two writes", "[uses_secret] on stderr: ***"} {
		if !strings.Contains(out, want) {
			t.Fatalf("the run's output lacks %q:\n%s", want, out)
		}
	}
}

// checkSecretTables checks what the models made of the secret: the one
// that uses it got it whole, the one that does not found it nowhere.
func checkSecretTables(t *testing.T, query func(sql string) string, value string) {
	t.Helper()
	sum := sha256.Sum256([]byte(value))
	if got := query("select sha from uses_secret"); got != `"`+hex.EncodeToString(sum[:])+`"` {
		t.Fatalf("the model got another value: sha %s", got)
	}
	if got := query("select sha from typed_secret"); got != `"`+hex.EncodeToString(sum[:])+`"` {
		t.Fatalf("the typed model got another value: sha %s", got)
	}
	if got := query("select n from length"); got != "42" {
		t.Fatalf("the SQL model got a value of length %s", got)
	}
	if got := query("select found from no_secret"); got != `"[]"` {
		t.Fatalf("a step that does not use the secret found it in: %s", got)
	}
}

// TestSecrets_Embedded: a secret set with tarn parameter set reaches the
// steps that use it, whole, and is nowhere else: not in the project file,
// the run's output, a dry run's plan, commit properties, or any file of
// the home. Another lakehouse, and a corrupt value, are refused clearly.
func TestSecrets_Embedded(t *testing.T) {
	base := t.TempDir()
	home := filepath.Join(base, "home")
	dir := project(t, secretFiles())
	value := newSecret(t)
	if r := tarnIn(t, home, value+"\n", "parameter", "set", "api_token", "--type", "secret", "-p", dir, "--description", "the API's token"); r.code != 0 {
		t.Fatalf("parameter set: %+v", r)
	}
	projectFile, _ := os.ReadFile(filepath.Join(dir, "tarn_project.yml"))
	if strings.Contains(string(projectFile), value) || !strings.Contains(string(projectFile), "# the project's parameters\n") {
		t.Fatalf("project file:\n%s", projectFile)
	}
	if r := tarnRun(t, home, "parameter", "ls", "-p", dir); !strings.Contains(r.stdout, "(secret, set)") || strings.Contains(r.stdout, value) {
		t.Fatalf("parameter ls: %+v", r)
	}
	r := tarnRun(t, home, "run", "-p", dir)
	checkSecretRun(t, r, value)
	checkSecretTables(t, func(sql string) string { return queryScalar(t, home, sql) }, value)

	// The cache key holds a keyed hash: the same value is a hit, sealed
	// again or not; another value runs the steps that use it.
	got := states(t, home, dir)
	expectStates(t, "second run", got, map[string]string{"uses_secret": "cached", "length": "cached"})
	if r := tarnIn(t, home, value, "parameter", "set", "api_token", "--type", "secret", "-p", dir); r.code != 0 {
		t.Fatalf("reseal: %+v", r)
	}
	expectStates(t, "resealed", states(t, home, dir), map[string]string{"uses_secret": "cached"})

	dry := tarnRun(t, home, "run", "-p", dir, "--dry-run", "--no-cache", "-o", "json")
	if dry.code != 0 || strings.Contains(dry.stdout+dry.stderr, value) {
		t.Fatalf("dry run: %+v", dry)
	}
	log := tarnRun(t, home, "log", "-n", "10", "-o", "json")
	if strings.Contains(log.stdout, value) || !strings.Contains(log.stdout, `"tarn.params"`) {
		t.Fatalf("commits: %s", log.stdout)
	}
	if r := tarnRun(t, home, "run", "-p", dir, "--param", "api_token="+value); r.code != 2 || !strings.Contains(r.stderr, "parameter api_token is a secret") || strings.Contains(r.stderr, value) {
		t.Fatalf("--param for a secret: %+v", r)
	}

	nowhereIn(t, home, value)

	// A secret in a step's error and traceback, and in a preview, is ***
	// (in a home of its own: that project writes the secret as data); a
	// declared secret that has no value is refused before anything runs.
	fhome := filepath.Join(base, "failing")
	failing := project(t, failingFiles())
	if r := tarnIn(t, fhome, value, "parameter", "set", "api_token", "--type", "secret", "-p", failing); r.code != 0 {
		t.Fatalf("parameter set: %+v", r)
	}
	checkFailedRun(t, tarnRun(t, fhome, "run", "-p", failing, "--preview"), value)
	if r := tarnRun(t, fhome, "run", "-p", failing, "-o", "json"); r.code == 0 || strings.Contains(r.stdout+r.stderr, value) || !strings.Contains(r.stdout, "bad token ***") {
		t.Fatalf("failing run, JSON: %+v", r)
	}
	unset := project(t, failingFiles())
	if r := tarnRun(t, fhome, "run", "-p", unset); r.code != 2 || !strings.Contains(r.stderr, "secret \"api_token\" has no value: set it with `tarn parameter set api_token --type secret`") {
		t.Fatalf("a secret without a value: %+v", r)
	}

	// Another lakehouse cannot open it; a corrupt value is told as such.
	other := filepath.Join(base, "other")
	r = tarnRun(t, other, "run", "-p", dir)
	if r.code != 2 || !strings.Contains(r.stderr, "secret api_token was encrypted for another lakehouse; set it again with `tarn parameter set api_token --type secret`") {
		t.Fatalf("another lakehouse: %+v", r)
	}
	start := strings.Index(string(projectFile), "tarn-secret:v1:")
	end := start + strings.Index(string(projectFile)[start:], `"`)
	broken := []byte(string(projectFile))
	if broken[end-10] == 'A' { // a character of the ciphertext, past the key id
		broken[end-10] = 'B'
	} else {
		broken[end-10] = 'A'
	}
	os.WriteFile(filepath.Join(dir, "tarn_project.yml"), broken, 0o644)
	if r := tarnRun(t, home, "run", "-p", dir); r.code != 2 || !strings.Contains(r.stderr, "secret api_token is corrupt") {
		t.Fatalf("a corrupt secret: %+v", r)
	}
}

// TestSecrets_Remote: the same through tarn serve: the client seals with
// the server's public key, the server opens the secret for the steps that
// use it, and it is in neither home, the client's output, the job's
// record and log, nor the server's own log.
func TestSecrets_Remote(t *testing.T) {
	base := t.TempDir()
	home := filepath.Join(base, "home")
	srv := startServe(t, home, "127.0.0.1:0")
	dir := project(t, secretFiles())
	value := newSecret(t)
	file := filepath.Join(t.TempDir(), "token.txt")
	os.WriteFile(file, []byte(value+"\n"), 0o600)
	if r := srv.cli("parameter", "set", "api_token", "--type", "secret", "--file", file, "-p", dir); r.code != 0 {
		t.Fatalf("parameter set: %+v", r)
	}
	os.Remove(file)
	checkSecretRun(t, srv.cli("run", "-p", dir), value)
	checkSecretTables(t, func(sql string) string {
		r := srv.cli("query", sql, "-o", "json")
		var rows []map[string]any
		if err := json.Unmarshal([]byte(r.stdout), &rows); err != nil || len(rows) != 1 {
			t.Fatalf("query %s: %+v", sql, r)
		}
		for _, v := range rows[0] {
			b, _ := json.Marshal(v)
			return string(b)
		}
		return ""
	}, value)
	// A detached run: its job's record and log.
	r := srv.cli("run", "-p", dir, "--detach", "--no-cache")
	id := strings.TrimSpace(r.stdout)
	if r.code != 0 || !strings.HasPrefix(id, "j") {
		t.Fatalf("--detach: %+v", r)
	}
	logs := srv.cli("job", "logs", id, "--follow")
	if logs.code != 0 || !strings.Contains(logs.stdout, "[uses_secret] the token is ***") || strings.Contains(logs.stdout, value) {
		t.Fatalf("job logs: %+v", logs)
	}
	if j := srv.cli("job", "get", id, "-o", "json"); j.code != 0 || strings.Contains(j.stdout, value) || !strings.Contains(j.stdout, `"succeeded"`) {
		t.Fatalf("job get: %+v", j)
	}
	if r := srv.cli("run", "-p", dir, "--param", "api_token=x"); r.code != 2 || !strings.Contains(r.stderr, "parameter api_token is a secret") {
		t.Fatalf("--param for a secret: %+v", r)
	}
	// A failing run's job: its error and log show the secret as *** (on a
	// server of its own: that project writes the secret as data).
	fsrv := startServe(t, filepath.Join(base, "failing"), "127.0.0.1:0")
	failing := project(t, failingFiles())
	if r := fsrv.cli("parameter", "set", "api_token", "--type", "secret", "--value", value, "-p", failing); r.code != 0 {
		t.Fatalf("parameter set: %+v", r)
	}
	checkFailedRun(t, fsrv.cli("run", "-p", failing, "--preview"), value)
	r = fsrv.cli("run", "-p", failing, "--detach")
	id = strings.TrimSpace(r.stdout)
	if r.code != 0 || !strings.HasPrefix(id, "j") {
		t.Fatalf("--detach: %+v", r)
	}
	if logs := fsrv.cli("job", "logs", id, "--follow"); strings.Contains(logs.stdout+logs.stderr, value) || !strings.Contains(logs.stdout, "bad token ***") {
		t.Fatalf("job logs: %+v", logs)
	}
	if j := fsrv.cli("job", "get", id, "-o", "json"); strings.Contains(j.stdout, value) || !strings.Contains(j.stdout, `"failed"`) || !strings.Contains(j.stdout, "bad token ***") {
		t.Fatalf("job get: %+v", j)
	}
	fsrv.stop(syscall.SIGTERM)
	if strings.Contains(fsrv.log.String(), value) {
		t.Fatalf("the server's log:\n%s", fsrv.log.String())
	}
	srv.stop(syscall.SIGTERM)
	if strings.Contains(srv.log.String(), value) || !strings.Contains(srv.log.String(), "POST /v1/runs") {
		t.Fatalf("the server's log:\n%s", srv.log.String())
	}
	nowhereIn(t, home, value)
	if client := filepath.Join(filepath.Dir(home), "client"); dirExists(client) {
		nowhereIn(t, client, value)
	}
}
