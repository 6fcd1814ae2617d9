package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestRemote_Access runs the CLI against a server that needs tokens.
func TestRemote_Access(t *testing.T) {
	embeddedOnly(t) // starts its own server
	l := newLakehouse(t)
	l.write("a.csv", csvRows(0, 3))
	// The first admin is created on the home directly.
	var added struct {
		Token string
		User  struct{ Name string }
	}
	l.json(&added, "user", "add", "root", "--admin")
	if !strings.HasPrefix(added.Token, "tarn_") || added.User.Name != "root" {
		t.Fatalf("user add: %+v", added)
	}
	_, url := startServer(t, l.home)
	client := &lakehouse{t: t, home: filepath.Join(l.dir, "client"), dir: l.dir,
		env: []string{"TARN_CONFIG=" + filepath.Join(l.dir, "client.yml")}}
	client.ok("config", "set", "endpoint", url)
	// Without a token: exit 5 and a sentence that says what to do.
	client.fails(5, []string{"needs a token", "tarn config set token"}, "branch", "ls")
	client.ok("config", "set", "token", added.Token)
	if got := strings.TrimSpace(client.ok("config", "get", "endpoint")); got != url {
		t.Fatalf("config get endpoint = %q", got)
	}
	if out := client.ok("config", "ls"); strings.Contains(out, added.Token) || !strings.Contains(out, "endpoint: "+url) {
		t.Fatalf("config ls shows the token or misses the endpoint:\n%s", out)
	}
	var status struct{ Mode, Home string }
	client.json(&status, "status")
	if status.Mode != "remote" || status.Home != url {
		t.Fatalf("status = %+v", status)
	}
	// The admin adds a user through the server; the user writes only to
	// bob.* and merges into main.
	var bob struct{ Token string }
	client.json(&bob, "user", "add", "bob")
	client.ok("table", "create", "trips", "--from", "a.csv")
	asBob := &lakehouse{t: t, home: filepath.Join(l.dir, "bob"), dir: l.dir,
		env: []string{"TARN_CONFIG=" + filepath.Join(l.dir, "none.yml"), "TARN_ENDPOINT=" + url, "TARN_TOKEN=" + bob.Token}}
	asBob.fails(5, []string{`"main" is protected`, "bob.NAME"}, "table", "import", "trips", "--from", "a.csv")
	asBob.fails(5, []string{"bob.*"}, "branch", "create", "dev")
	asBob.ok("branch", "create", "bob.dev")
	asBob.ok("table", "import", "trips", "--from", "a.csv", "--ref", "bob.dev")
	asBob.ok("branch", "merge", "bob.dev", "--into", "main")
	if n := client.rows("main", "tarn.trips"); n != 6 {
		t.Fatalf("rows after bob's merge = %d", n)
	}
	var log []struct{ Author string }
	client.json(&log, "log", "-n", "2")
	if log[0].Author != "bob" || log[1].Author != "root" {
		t.Fatalf("authors = %+v (the server records the authenticated user)", log)
	}
	asBob.fails(5, []string{"admins"}, "user", "add", "mallory")
	// Jobs record the imports and queries, with their users.
	client.ok("query", "select count(*) from trips")
	var jobs []struct{ Kind, State, User string }
	client.json(&jobs, "job", "ls")
	kinds := map[string]bool{}
	for _, j := range jobs {
		kinds[j.Kind+"/"+j.User] = j.State == "succeeded"
	}
	if !kinds["import/bob"] || !kinds["query/root"] {
		t.Fatalf("jobs = %+v", jobs)
	}
	// A wrong token and a server that is not there.
	asBob.env = append(asBob.env, "TARN_TOKEN=tarn_wrong")
	asBob.fails(5, []string{"invalid token"}, "branch", "ls")
	client.fails(1, []string{"cannot reach the tarn server", "tarn serve"}, "branch", "ls", "--endpoint", "http://127.0.0.1:1")
	client.fails(2, []string{"invalid endpoint"}, "branch", "ls", "--endpoint", "localhost:8181")
}

func TestRemote_ServeFlags(t *testing.T) {
	embeddedOnly(t)
	l := newLakehouse(t)
	l.fails(2, []string{"loopback", "tarn user add"}, "serve", "--insecure-local", "--addr", "0.0.0.0:0")
	l.fails(2, []string{"HOST:PORT"}, "serve", "--addr", "8181")
	l.fails(2, []string{"job visibility", "own", "all"}, "serve", "--job-visibility", "team")
	l.fails(2, []string{"--query-memory", "bad size"}, "serve", "--query-memory", "lots")
}

// TestRemote_Mode checks that the remote-mode suite really is remote.
func TestRemote_Mode(t *testing.T) {
	remoteOnly(t)
	l := newLakehouse(t)
	var status struct{ Mode string }
	l.json(&status, "status")
	if status.Mode != "remote" {
		t.Fatalf("mode = %q", status.Mode)
	}
	// The client's home holds only its active branch.
	l.ok("checkout", "main")
	if b, err := os.ReadFile(filepath.Join(l.home, "HEAD")); err != nil || strings.TrimSpace(string(b)) != "main" {
		t.Fatalf("HEAD: %q %v", b, err)
	}
	var je struct{ Error struct{ Code string } }
	r := l.fails(3, nil, "table", "get", "nosuch", "-o", "json")
	if json.Unmarshal([]byte(r.stderr), &je); je.Error.Code != "not_found" {
		t.Fatalf("json error = %s", r.stderr)
	}
}

// TestRemote_Shared checks that the shared-mode suite really runs on two
// servers of one lakehouse: what one does, the other sees at once.
func TestRemote_Shared(t *testing.T) {
	if !shared {
		t.Skip("runs in the shared-mode suite")
	}
	l := newLakehouse(t)
	if len(l.endpoints) != 2 || l.endpoints[0] == l.endpoints[1] {
		t.Fatalf("endpoints %v", l.endpoints)
	}
	l.write("a.csv", csvRows(0, 3))
	l.ok("table", "create", "trips", "--from", "a.csv") // the first server
	if n := l.rows("main", "tarn.trips"); n != 3 {      // the second
		t.Fatalf("rows through the other server = %d", n)
	}
	l.ok("query", "select count(*) from trips") // a job on the first
	var jobs []struct{ Kind, State string }
	l.json(&jobs, "job", "ls") // listed by the second
	if len(jobs) == 0 || jobs[0].Kind != "query" || jobs[0].State != "succeeded" {
		t.Fatalf("jobs through the other server: %+v", jobs)
	}
}
