//go:build integration

package integration

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tarnhq/tarn/internal/readyfile"
)

// server is a `tarn serve --insecure-local` process over a home.
type server struct {
	t      *testing.T
	home   string
	cmd    *exec.Cmd
	url    string
	log    *lockedBuffer // what the server printed (its request log too)
	exited chan struct{} // closed when the process has been reaped
}

func startServe(t *testing.T, home, addr string) *server {
	t.Helper()
	return startServeWith(t, home, "--insecure-local", "--addr", addr)
}

// startServeWith starts `tarn serve ARGS... --grace 1s` over home and
// waits for its --ready-file.
func startServeWith(t *testing.T, home string, args ...string) *server {
	t.Helper()
	ready := filepath.Join(t.TempDir(), "ready.json")
	cmd := exec.Command(env(t, "TARN_BIN"), append(append([]string{"serve"}, args...), "--grace", "1s", "--ready-file", ready)...)
	cmd.Env = append(os.Environ(), "TARN_HOME="+home)
	log := &lockedBuffer{}
	cmd.Stderr = log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s := &server{t: t, home: home, cmd: cmd, log: log, exited: make(chan struct{})}
	go func() { cmd.Wait(); close(s.exited) }()
	t.Cleanup(func() { s.stop(syscall.SIGTERM) })
	r, err := readyfile.Wait(ready, 60*time.Second, s.done)
	if err != nil {
		t.Fatalf("%v:\n%s", err, log.String())
	}
	s.url = r.URL
	return s
}

// done says whether the server's process has ended.
func (s *server) done() bool {
	select {
	case <-s.exited:
		return true
	default:
		return false
	}
}

func (s *server) stop(sig syscall.Signal) {
	if s.done() {
		return
	}
	s.cmd.Process.Signal(sig)
	<-s.exited
}

// cli runs the CLI against the server (the client keeps its own home).
func (s *server) cli(args ...string) runOut {
	s.t.Helper()
	cmd := exec.Command(env(s.t, "TARN_BIN"), args...)
	cmd.Env = append(os.Environ(), "TARN_HOME="+filepath.Join(filepath.Dir(s.home), "client"), "TARN_ENDPOINT="+s.url,
		"TARN_CONFIG="+filepath.Join(filepath.Dir(s.home), "none.yml"))
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		s.t.Fatal(err)
	}
	return runOut{out.String(), errb.String(), code}
}

func (s *server) job(id string) (job struct {
	State string
	Error *struct{ Message string }
}) {
	s.t.Helper()
	r := s.cli("job", "get", id, "-o", "json")
	if r.code != 0 {
		s.t.Fatalf("job get %s: %s", id, r.stderr)
	}
	json.Unmarshal([]byte(r.stdout), &job)
	return job
}

// waitLog waits until the job's log mentions text.
func (s *server) waitLog(id, text string) string {
	s.t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for {
		r := s.cli("job", "logs", id)
		if strings.Contains(r.stdout, text) {
			return r.stdout
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("job %s never logged %q:\n%s%s", id, text, r.stdout, r.stderr)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

const slowModel = "import tarn\nimport pyarrow as pa\nimport time\n\n@tarn.model(materialization_strategy=\"REPLACE\")\ndef slow():\n    print('started', flush=True)\n    time.sleep(60)\n    return pa.table({'a': [1]})\n"

// slowJob starts a server and a detached run whose step sleeps, and
// waits until the step runs. before is main's log head before the run.
func slowJob(t *testing.T) (srv *server, home, before, id, log string) {
	t.Helper()
	home = filepath.Join(t.TempDir(), "home")
	srv = startServe(t, home, "127.0.0.1:0")
	before = srv.cli("log", "-n", "1", "-o", "json").stdout
	r := srv.cli("run", "-p", project(t, map[string]string{"m.py": slowModel}), "--detach")
	id = strings.TrimSpace(r.stdout)
	if r.code != 0 || !strings.HasPrefix(id, "j") {
		t.Fatalf("run --detach: %+v", r)
	}
	return srv, home, before, id, srv.waitLog(id, "[slow] started")
}

// TestRemote_Run: the same projects give the same results and exit codes
// embedded and through a server; logs stream live.
func TestRemote_Run(t *testing.T) {
	dir := t.TempDir()
	srv := startServe(t, filepath.Join(dir, "home"), "127.0.0.1:0")
	embedded := filepath.Join(dir, "embedded")
	ok := project(t, map[string]string{
		"m.py": "import tarn\nimport pyarrow as pa\n\n@tarn.model(materialization_strategy=\"REPLACE\")\ndef nums():\n    print('making nums', flush=True)\n    return pa.table({'a': [1, 2, 3]})\n",
	})
	failing := project(t, map[string]string{"m.py": "import tarn\n\n@tarn.model()\ndef boom():\n    raise ValueError('no luck')\n"})
	broken := project(t, map[string]string{"m.py": "import tarn\n\n@tarn.model(\ndef broken(:\n"})
	for _, tc := range []struct {
		name     string
		dir      string
		code     int
		mentions []string
	}{
		{"OK", ok, 0, []string{"[nums] making nums", "nums done"}},
		{"StepFails", failing, 2, []string{"no luck", "boom failed at m.py:5", `File "m.py", line 5`}},
		{"SyntaxError", broken, 2, []string{"m.py:4"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			local := tarnRun(t, embedded, "run", "-p", tc.dir)
			remote := srv.cli("run", "-p", tc.dir)
			if local.code != tc.code || remote.code != tc.code {
				t.Fatalf("exit codes: embedded %d, remote %d, want %d\nembedded: %s\nremote: %s", local.code, remote.code, tc.code, local.stderr, remote.stderr)
			}
			for _, m := range tc.mentions {
				if !strings.Contains(remote.stderr+remote.stdout, m) {
					t.Fatalf("remote run does not mention %q:\n%s%s", m, remote.stdout, remote.stderr)
				}
			}
		})
	}
	if r := srv.cli("table", "ls", "-o", "json"); !strings.Contains(r.stdout, `"nums"`) {
		t.Fatalf("remote run did not publish: %s", r.stdout)
	}
	// --detach returns a job id at once; its log is kept after the end.
	r := srv.cli("run", "-p", ok, "--detach", "--no-cache")
	id := strings.TrimSpace(r.stdout)
	if r.code != 0 || !strings.HasPrefix(id, "j") {
		t.Fatalf("--detach: %+v", r)
	}
	if r := srv.cli("job", "logs", id, "--follow"); r.code != 0 || !strings.Contains(r.stdout, "[nums] making nums") {
		t.Fatalf("job logs --follow: %+v", r)
	}
	if j := srv.job(id); j.State != "succeeded" {
		t.Fatalf("job state %q", j.State)
	}
	// The plan event carries the DAG (what the web UI draws).
	if r := srv.cli("job", "logs", id, "-o", "json"); !strings.Contains(r.stdout, `"plan":[{"name":"nums","kind":"python","table":"tarn.nums"}]`) {
		t.Fatalf("no plan of steps in the job's events:\n%s", r.stdout)
	}
}

// TestRemote_Cancel: cancelling a running job stops its workers and
// publishes nothing.
func TestRemote_Cancel(t *testing.T) {
	srv, home, before, id, log := slowJob(t)
	dir := filepath.Dir(home)
	started := time.Now()
	if r := srv.cli("job", "cancel", id); r.code != 0 || !strings.Contains(r.stdout, "cancelled") {
		t.Fatalf("job cancel: %+v", r)
	}
	if d := time.Since(started); d > 10*time.Second {
		t.Fatalf("cancel took %s", d)
	}
	noWorkersLeft(t, log)
	if after := srv.cli("log", "-n", "1", "-o", "json").stdout; after != before {
		t.Fatal("a cancelled run changed main")
	}
	if r := srv.cli("job", "cancel", id); r.code != 4 || !strings.Contains(r.stderr, "already ended") {
		t.Fatalf("second cancel: %+v", r)
	}

	// A client that disconnects does not stop its run (kill -9: no Ctrl-C
	// that would cancel the job).
	cmd := exec.Command(env(t, "TARN_BIN"), "run", "-p", project(t, map[string]string{"m.py": slowModel}))
	cmd.Env = append(os.Environ(), "TARN_HOME="+filepath.Join(dir, "client"), "TARN_ENDPOINT="+srv.url, "TARN_CONFIG="+filepath.Join(dir, "none.yml"))
	var errb bytes.Buffer
	cmd.Stderr = &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	jobRe := regexp.MustCompile(`job (j[0-9a-f-]+) on`)
	deadline := time.Now().Add(90 * time.Second)
	for !strings.Contains(errb.String(), "[slow] started") {
		if time.Now().After(deadline) {
			t.Fatalf("the run never started:\n%s", errb.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	cmd.Process.Kill()
	cmd.Wait()
	m := jobRe.FindStringSubmatch(errb.String())
	if m == nil {
		t.Fatalf("the run did not name its job:\n%s", errb.String())
	}
	time.Sleep(500 * time.Millisecond)
	if j := srv.job(m[1]); j.State != "running" {
		t.Fatalf("after the client went away the job is %q, want running", j.State)
	}
	srv.cli("job", "cancel", m[1])
}

// TestRemote_ServerKilled: kill -9 of the server during a run; after a
// restart the job is failed and main is untouched.
func TestRemote_ServerKilled(t *testing.T) {
	srv, home, before, id, log := slowJob(t)
	srv.stop(syscall.SIGKILL)
	noWorkersLeft(t, log)
	srv = startServe(t, home, "127.0.0.1:0")
	j := srv.job(id)
	if j.State != "failed" || j.Error == nil || !strings.Contains(j.Error.Message, "nothing was published") {
		t.Fatalf("job after restart: %+v", j)
	}
	if after := srv.cli("log", "-n", "1", "-o", "json").stdout; after != before {
		t.Fatal("a run killed with its server changed main")
	}
	if r := srv.cli("verify"); r.code != 0 {
		t.Fatalf("verify after the kill: %s", r.stderr)
	}
}

// TestRemote_Shutdown: SIGTERM lets a running job finish for --grace,
// then cancels it; nothing is published and nothing is left running.
func TestRemote_Shutdown(t *testing.T) {
	srv, home, before, id, log := slowJob(t)
	started := time.Now()
	srv.stop(syscall.SIGTERM)
	if code := srv.cmd.ProcessState.ExitCode(); code != 0 {
		t.Fatalf("tarn serve exited %d on SIGTERM", code)
	}
	if d := time.Since(started); d > 15*time.Second {
		t.Fatalf("shutdown took %s with --grace 1s", d)
	}
	noWorkersLeft(t, log)
	// The home answers without a server too: the job was cancelled, not
	// left running.
	out := tarn(t, home, "job", "get", id, "-o", "json")
	if !strings.Contains(out, `"state": "cancelled"`) {
		t.Fatalf("job after shutdown:\n%s", out)
	}
	if after := tarn(t, home, "log", "-n", "1", "-o", "json"); after != before {
		t.Fatal("a run stopped by shutdown changed main")
	}
}

// TestRemote_SharedCache: two users of one server share step results: the
// second user's run of the same project is served from the cache.
func TestRemote_SharedCache(t *testing.T) {
	home := filepath.Join(t.TempDir(), "home")
	tokens := map[string]string{}
	for _, name := range []string{"alice", "bob"} {
		var added struct{ Token string }
		if err := json.Unmarshal([]byte(tarn(t, home, "user", "add", name, "-o", "json")), &added); err != nil || added.Token == "" {
			t.Fatalf("user add %s: %v", name, err)
		}
		tokens[name] = added.Token
	}
	srv := startServeWith(t, home, "--addr", "127.0.0.1:0")
	dir := project(t, map[string]string{
		"first.py":  "import tarn\nimport pyarrow as pa\n\n@tarn.model(materialization_strategy=\"REPLACE\")\ndef first():\n    return pa.table({'a': list(range(100))})\n",
		"total.sql": "-- tarn: materialization_strategy=REPLACE\nselect sum(a) as total from first\n",
	})
	as := func(user string, args ...string) runOut {
		cmd := exec.Command(env(t, "TARN_BIN"), args...)
		cmd.Env = append(os.Environ(), "TARN_HOME="+filepath.Join(filepath.Dir(home), user), "TARN_ENDPOINT="+srv.url,
			"TARN_TOKEN="+tokens[user], "TARN_CONFIG="+filepath.Join(filepath.Dir(home), "none.yml"))
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		err := cmd.Run()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		}
		return runOut{out.String(), errb.String(), code}
	}
	states := map[string]map[string]string{}
	for _, user := range []string{"alice", "bob"} {
		if r := as(user, "branch", "create", user+".dev"); r.code != 0 {
			t.Fatalf("%s: branch create: %s", user, r.stderr)
		}
		r := as(user, "run", "-p", dir, "--ref", user+".dev", "-o", "json")
		if r.code != 0 {
			t.Fatalf("%s: run (%d): %s", user, r.code, r.stderr)
		}
		var res struct {
			Steps []struct{ Name, State string }
		}
		json.Unmarshal([]byte(r.stdout), &res)
		states[user] = map[string]string{}
		for _, s := range res.Steps {
			states[user][s.Name] = s.State
		}
	}
	if states["alice"]["first"] != "done" || states["alice"]["total"] != "done" {
		t.Fatalf("alice's run: %v", states["alice"])
	}
	if states["bob"]["first"] != "cached" || states["bob"]["total"] != "cached" {
		t.Fatalf("bob's run of the same project was not served from alice's results: %v", states["bob"])
	}
	r := as("bob", "query", "select total from total", "--ref", "bob.dev", "-o", "csv")
	if r.code != 0 || !strings.Contains(r.stdout, "4950") {
		t.Fatalf("bob's table: %d %s %s", r.code, r.stdout, r.stderr)
	}
}
