//go:build integration

package integration

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tarnhq/tarn/internal/pgtest"
)

// sharedLease is the --job-lease of the servers these tests start.
const sharedLease = 4 * time.Second

// startShared starts a `tarn serve --insecure-local` over home on the
// database catalog (one of several servers of one lakehouse).
func startShared(t *testing.T, home, catalog string, args ...string) *server {
	t.Helper()
	return startServeWith(t, home, append([]string{"--insecure-local", "--addr", "127.0.0.1:0", "--catalog", catalog,
		"--job-lease", sharedLease.String()}, args...)...)
}

// headOf returns a ref's head commit hash through a server.
func headOf(t *testing.T, s *server, ref string) string {
	t.Helper()
	r := s.cli("log", "-n", "1", "--ref", ref, "-o", "json")
	var log []struct{ Hash string }
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &log) != nil || len(log) != 1 {
		t.Fatalf("log of %s: %+v", ref, r)
	}
	return log[0].Hash
}

// detach submits a detached run of dir through s and returns its job id.
func detach(t *testing.T, s *server, dir string) string {
	t.Helper()
	r := s.cli("run", "-p", dir, "--detach")
	id := strings.TrimSpace(r.stdout)
	if r.code != 0 || !strings.HasPrefix(id, "j") {
		t.Fatalf("run --detach: %+v", r)
	}
	return id
}

// waitState polls a job through s until it is in state.
func waitState(t *testing.T, s *server, id, state string, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		j := s.job(id)
		if j.State == state {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("job %s is %s after %s, want %s", id, j.State, within, state)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestShared_ServerKilled: kill -9 of the server holding a running job;
// the other server, not a restart, marks it failed once its lease has
// run out, and the target branch is untouched.
func TestShared_ServerKilled(t *testing.T) {
	home := filepath.Join(t.TempDir(), "home")
	catalog := pgtest.URL(t)
	a := startShared(t, home, catalog)
	before := headOf(t, a, "main")
	id := detach(t, a, project(t, map[string]string{"m.py": slowModel}))
	log := a.waitLog(id, "[slow] started") // only a runs jobs yet: it holds this one
	b := startShared(t, home, catalog)
	if j := b.job(id); j.State != "running" {
		t.Fatalf("the job as the other server sees it: %+v", j)
	}
	killMidRun(t, a, b, id, log)
	if after := headOf(t, b, "main"); after != before {
		t.Fatal("a run killed with its server changed main")
	}
	if r := b.cli("verify", "--history"); r.code != 0 {
		t.Fatalf("verify after the kill: %s", r.stderr)
	}
	// The surviving server takes new runs.
	ok := project(t, map[string]string{"m.py": "import tarn\nimport pyarrow as pa\n\n@tarn.model(materialization_strategy=\"REPLACE\")\ndef nums():\n    return pa.table({'a': [1, 2]})\n"})
	if r := b.cli("run", "-p", ok); r.code != 0 {
		t.Fatalf("run on the surviving server: %+v", r)
	}
}

// killMidRun kills victim (kill -9) while it runs job id, whose log so
// far is log, and checks that the survivor ends the job failed once its
// lease ran out, not before, saying that nothing was published.
func killMidRun(t *testing.T, victim, survivor *server, id, log string) {
	t.Helper()
	victim.stop(syscall.SIGKILL)
	killed := time.Now()
	noWorkersLeft(t, log)
	waitState(t, survivor, id, "failed", 3*sharedLease)
	if d := time.Since(killed); d < sharedLease-time.Second {
		t.Fatalf("the job was marked failed %s after the kill, before its lease (%s) ran out", d, sharedLease)
	}
	if j := survivor.job(id); j.Error == nil || !strings.Contains(j.Error.Message, "stopped renewing its lease") || !strings.Contains(j.Error.Message, "nothing was published") {
		t.Fatalf("job after its server was killed: %+v", j)
	}
}

// TestShared_RunsAnywhere: with one run slot each, two slow runs
// submitted to alternate servers run at once (one on each); their logs
// are followed and they are cancelled through one server, so one of each
// is another server's job.
func TestShared_RunsAnywhere(t *testing.T) {
	home := filepath.Join(t.TempDir(), "home")
	catalog := pgtest.URL(t)
	servers := []*server{startShared(t, home, catalog), startShared(t, home, catalog)}
	before := headOf(t, servers[0], "main")
	dir := project(t, map[string]string{"m.py": slowModel})
	var ids, logs []string
	for i := range 2 {
		ids = append(ids, detach(t, servers[i], dir))
	}
	for _, id := range ids {
		logs = append(logs, servers[0].waitLog(id, "[slow] started"))
	}
	follow := make(chan runOut, 2)
	for _, id := range ids {
		go func() { follow <- servers[0].cli("job", "logs", id, "--follow") }()
	}
	for _, id := range ids {
		started := time.Now()
		if r := servers[1].cli("job", "cancel", id); r.code != 0 || !strings.Contains(r.stdout, "cancelled") {
			t.Fatalf("job cancel %s: %+v", id, r)
		}
		if d := time.Since(started); d > 10*time.Second {
			t.Fatalf("cancel took %s", d)
		}
	}
	for range ids {
		r := <-follow
		if r.code != 0 || !strings.Contains(r.stdout, "[slow] started") || !strings.Contains(r.stdout, "cancelled") {
			t.Fatalf("job logs --follow through the other server: %+v", r)
		}
	}
	for i, id := range ids {
		noWorkersLeft(t, logs[i])
		if j := servers[0].job(id); j.State != "cancelled" || !strings.Contains(j.Error.Message, "cancelled by") {
			t.Fatalf("job %s: %+v", id, j)
		}
	}
	if after := headOf(t, servers[1], "main"); after != before {
		t.Fatal("cancelled runs changed main")
	}
}

// TestShared_ConcurrentCommits: clients commit through two servers at
// once, to one branch and to their own branches. Writes to one table on
// one branch succeed or get a clean conflict (exit 4); writes to
// different keys all succeed; no acknowledged commit is lost.
func TestShared_ConcurrentCommits(t *testing.T) {
	home := filepath.Join(t.TempDir(), "home")
	catalog := pgtest.URL(t)
	servers := []*server{startShared(t, home, catalog), startShared(t, home, catalog)}
	data := filepath.Join(t.TempDir(), "rows.csv")
	os.WriteFile(data, []byte("id,v\n1,a\n2,b\n3,c\n"), 0o644)
	if r := servers[0].cli("table", "create", "t", "--from", data); r.code != 0 {
		t.Fatalf("create: %+v", r)
	}
	const writers, each = 6, 3
	var mu sync.Mutex
	imported, conflicts := 0, 0
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			branch := fmt.Sprintf("w%d", w)
			if r := servers[w%2].cli("branch", "create", branch); r.code != 0 {
				t.Errorf("branch create %s: %+v", branch, r)
				return
			}
			for i := range each {
				s := servers[(w+i)%2]
				// One table on main: succeed or conflict cleanly.
				switch r := s.cli("table", "import", "t", "--from", data, "--ref", "main"); {
				case r.code == 0:
					mu.Lock()
					imported++
					mu.Unlock()
				case r.code == 4 && strings.Contains(r.stderr, "conflict"):
					mu.Lock()
					conflicts++
					mu.Unlock()
				default:
					t.Errorf("import to main: %+v", r)
				}
				// Different keys on main rebase: all succeed.
				if r := s.cli("namespace", "create", fmt.Sprintf("ns_%d_%d", w, i), "--ref", "main"); r.code != 0 {
					t.Errorf("namespace create on main: %+v", r)
				}
				// Own branches: all succeed.
				if r := s.cli("table", "import", "t", "--from", data, "--ref", branch); r.code != 0 {
					t.Errorf("import to %s: %+v", branch, r)
				}
			}
		}()
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	t.Logf("%d imports to main acknowledged, %d refused with a conflict", imported, conflicts)
	if imported == 0 {
		t.Fatal("no import to main succeeded")
	}
	if got := rowsThrough(t, servers[1], "main"); got != int64(3*(1+imported)) {
		t.Fatalf("main has %d rows; %d acknowledged imports of 3 rows on a 3-row table make %d", got, imported, 3*(1+imported))
	}
	for w := range writers {
		if got := rowsThrough(t, servers[w%2], fmt.Sprintf("w%d", w)); got < int64(3*(1+each)) {
			t.Fatalf("branch w%d has %d rows, want at least %d", w, got, 3*(1+each))
		}
	}
	r := servers[0].cli("namespace", "ls", "-o", "json")
	if r.code != 0 || strings.Count(r.stdout, `"ns_`) != writers*each {
		t.Fatalf("namespaces: %d of %d: %s", strings.Count(r.stdout, `"ns_`), writers*each, r.stdout)
	}
	if r := servers[1].cli("verify", "--history"); r.code != 0 {
		t.Fatalf("verify --history: %+v", r)
	}
}

// rowsThrough counts table t's rows at ref through a server.
func rowsThrough(t *testing.T, s *server, ref string) int64 {
	t.Helper()
	r := s.cli("table", "ls", "--ref", ref, "-o", "json")
	var list []struct{ Rows int64 }
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &list) != nil || len(list) != 1 {
		t.Fatalf("table ls at %s: %+v", ref, r)
	}
	return list[0].Rows
}

// TestShared_DatabaseFaults: a server whose database goes away answers
// /readyz 503 with the reason and fails requests naming the database and
// what to check; it recovers when the database is back. Wrong
// credentials and an unreachable database stop `tarn serve` at start.
func TestShared_DatabaseFaults(t *testing.T) {
	home := filepath.Join(t.TempDir(), "home")
	catalog := pgtest.URL(t)
	proxy := newTCPProxy(t, catalog)
	s := startShared(t, home, proxy.url)
	ready := func() (int, string) {
		resp, err := http.Get(s.url + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := ready(); code != 200 {
		t.Fatalf("readyz with the database up: %d %s", code, body)
	}
	proxy.cut()
	code, body := ready()
	if code != 503 || !strings.Contains(body, "cannot reach PostgreSQL at 127.0.0.1:"+proxy.port) {
		t.Fatalf("readyz with the database gone: %d %s", code, body)
	}
	t.Logf("readyz: %s", body)
	r := s.cli("branch", "ls")
	if r.code != 1 || !strings.Contains(r.stderr, "cannot reach PostgreSQL") || !strings.Contains(r.stderr, "check that it runs there") {
		t.Fatalf("a request with the database gone: %+v", r)
	}
	t.Logf("tarn branch ls: %s", r.stderr)
	proxy.restore()
	deadline := time.Now().Add(20 * time.Second)
	for code, body = ready(); code != 200; code, body = ready() {
		if time.Now().After(deadline) {
			t.Fatalf("readyz after the database came back: %d %s", code, body)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if r := s.cli("branch", "ls"); r.code != 0 {
		t.Fatalf("a request after the database came back: %+v", r)
	}

	for _, tc := range []struct{ name, catalog, mentions string }{
		{"WrongPassword", strings.Replace(catalog, ":tarn@", ":wrong@", 1), `refused user "tarn"`},
		{"Unreachable", "postgres://tarn:tarn@127.0.0.1:1/tarn", "cannot reach PostgreSQL at 127.0.0.1:1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := tarnRun(t, filepath.Join(t.TempDir(), "home"), "serve", "--insecure-local", "--addr", "127.0.0.1:0", "--catalog", tc.catalog)
			if r.code != 1 || !strings.Contains(r.stderr, tc.mentions) || strings.Contains(r.stderr, "wrong") {
				t.Fatalf("tarn serve: %+v", r)
			}
		})
	}
}

// tcpProxy forwards a port to the test database, and can cut every
// connection and refuse new ones: the network between a server and its
// database failing.
type tcpProxy struct {
	t      *testing.T
	target string
	port   string
	url    string
	mu     sync.Mutex
	ln     net.Listener
	conns  []net.Conn
}

func newTCPProxy(t *testing.T, dsn string) *tcpProxy {
	t.Helper()
	host := strings.SplitN(strings.SplitN(dsn, "@", 2)[1], "/", 2)[0]
	p := newPortProxy(t, host)
	p.url = strings.Replace(dsn, "@"+host+"/", "@127.0.0.1:"+p.port+"/", 1)
	return p
}

// newPortProxy forwards a free loopback port to target (HOST:PORT).
func newPortProxy(t *testing.T, target string) *tcpProxy {
	t.Helper()
	p := &tcpProxy{t: t, target: target}
	p.listen("127.0.0.1:0")
	_, p.port, _ = net.SplitHostPort(p.ln.Addr().String())
	t.Cleanup(p.cut)
	return p
}

func (p *tcpProxy) listen(addr string) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		p.t.Fatal(err)
	}
	p.mu.Lock()
	p.ln = ln
	p.mu.Unlock()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("tcp", p.target)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, up)
			p.mu.Unlock()
			go func() { io.Copy(up, c); up.Close() }()
			go func() { io.Copy(c, up); c.Close() }()
		}
	}()
}

// cut closes the listener and every connection.
func (p *tcpProxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

// restore listens again on the same port.
func (p *tcpProxy) restore() { p.listen("127.0.0.1:" + p.port) }
