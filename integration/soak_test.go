//go:build integration

package integration

import (
	"encoding/json"
	"fmt"
	"math/rand"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// TestSoak_WritersKillsGC runs, for TARN_SOAK_SECONDS (default 45),
// concurrent writer processes on one lakehouse — imports into one table on
// main, imports on a branch merged into main, and garbage collections
// with no age — killing a third of them with SIGKILL at random moments.
// An independent check then reads the final state against the log of
// acknowledged operations: every acknowledged batch is in main exactly
// once, a killed one is there whole or not at all, nothing else is;
// `tarn verify --history` is clean, and so it is after a last gc.
func TestSoak_WritersKillsGC(t *testing.T) {
	soakWith(t, soakSeconds(45), t.TempDir(), nil, func() {})
}

// TestSoak_Server is the same soak through `tarn serve`: the writers are
// clients (a third killed), and the server itself is killed with SIGKILL
// every few seconds and restarted on the same address. A write the
// server's death interrupted counts as a killed one: whole or absent.
func TestSoak_Server(t *testing.T) {
	seconds := soakSeconds(30)
	home := t.TempDir()
	token := tarn(t, home, "user", "add", "root", "--admin")
	lines := strings.Split(strings.TrimSpace(token), "\n")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	s := &soakServer{t: t, home: home, addr: addr, token: strings.TrimSpace(lines[len(lines)-1]), client: t.TempDir()}
	s.start()
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() { // kill the server now and then
		defer close(done)
		rng := rand.New(rand.NewSource(300))
		for {
			select {
			case <-stop:
				return
			case <-time.After(time.Duration(2000+rng.Intn(3000)) * time.Millisecond):
			}
			s.kill()
		}
	}()
	soakWith(t, seconds, home, s, func() { close(stop); <-done })
	t.Logf("the server was killed %d times", s.kills)
}

func soakSeconds(def int) int {
	if s := os.Getenv("TARN_SOAK_SECONDS"); s != "" {
		fmt.Sscan(s, &def)
	}
	return def
}

// soakServer is a `tarn serve` the soak kills and restarts.
type soakServer struct {
	t                         *testing.T
	home, addr, token, client string
	mu                        sync.Mutex
	srv                       *server
	gen, kills                int // gen counts starts: a write spanning two saw a death
}

func (s *soakServer) start() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.srv = startServeWith(s.t, s.home, "--addr", s.addr, "--max-runs", "1")
	s.gen++
}

// kill kills the server with SIGKILL and starts it again.
func (s *soakServer) kill() {
	s.mu.Lock()
	s.srv.stop(syscall.SIGKILL)
	s.kills++
	s.mu.Unlock()
	s.start()
}

func (s *soakServer) generation() int { s.mu.Lock(); defer s.mu.Unlock(); return s.gen }

// env is a client's environment.
func (s *soakServer) env() []string {
	return append(os.Environ(), "TARN_HOME="+s.client, "TARN_ENDPOINT=http://"+s.addr, "TARN_TOKEN="+s.token,
		"TARN_CONFIG="+filepath.Join(s.client, "none.yml"))
}

// soakWith runs the writers on home (through srv when it is set), calls
// writersDone when they stop, and checks the result.
func soakWith(t *testing.T, seconds int, home string, srv *soakServer, writersDone func()) {
	data := t.TempDir()
	const rows = 50
	batchFile := func(b int) string {
		var sb strings.Builder
		sb.WriteString("id,batch\n")
		for i := 0; i < rows; i++ {
			fmt.Fprintf(&sb, "%d,%d\n", b*rows+i, b)
		}
		p := filepath.Join(data, fmt.Sprintf("b%d.csv", b))
		if err := os.WriteFile(p, []byte(sb.String()), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	if r := tarnRun(t, home, "table", "create", "events", "--from", batchFile(0)); r.code != 0 {
		t.Fatal(r.stderr)
	}
	var mu sync.Mutex
	acked := map[int]bool{0: true}
	killed := map[int]bool{}
	var ops, kills, anomalies int
	var problems []string
	next := 1
	newBatch := func() int { mu.Lock(); defer mu.Unlock(); next++; return next - 1 }
	// run starts tarn, kills it at a random moment with probability 1/3,
	// and reports whether it was acknowledged (exit 0) or killed.
	run := func(rng *rand.Rand, args ...string) (ok, wasKilled bool, stderr string) {
		cmd := exec.Command(env(t, "TARN_BIN"), args...)
		cmd.Env = append(os.Environ(), "TARN_HOME="+home)
		gen := 0
		if srv != nil {
			cmd.Env, gen = srv.env(), srv.generation()
		}
		var errb strings.Builder
		cmd.Stderr = &errb
		if err := cmd.Start(); err != nil {
			t.Error(err)
			return false, false, ""
		}
		var timer *time.Timer
		if rng != nil && rng.Intn(3) == 0 {
			timer = time.AfterFunc(time.Duration(rng.Intn(400))*time.Millisecond, func() { cmd.Process.Signal(syscall.SIGKILL) })
		}
		err := cmd.Wait()
		if timer != nil {
			timer.Stop()
		}
		if ee, ok := err.(*exec.ExitError); ok {
			if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
				return false, true, errb.String()
			}
		}
		if err != nil && srv != nil && srv.generation() != gen {
			return false, true, errb.String() // the server died under it
		}
		return err == nil, false, errb.String()
	}
	record := func(b int, ok, wasKilled bool, what, stderr string) {
		mu.Lock()
		defer mu.Unlock()
		ops++
		switch {
		case ok:
			acked[b] = true
		case wasKilled:
			kills++
			killed[b] = true
		default:
			anomalies++
			problems = append(problems, fmt.Sprintf("%s of batch %d failed: %s", what, b, stderr))
		}
	}
	deadline := time.Now().Add(time.Duration(seconds) * time.Second)
	var wg sync.WaitGroup
	for w := 0; w < 3; w++ { // appenders on main
		wg.Add(1)
		go func(seed int64) {
			defer wg.Done()
			rng := rand.New(rand.NewSource(seed))
			for time.Now().Before(deadline) {
				b := newBatch()
				ok, k, stderr := run(rng, "table", "import", "events", "--from", batchFile(b), "--ref", "main")
				record(b, ok, k, "import", stderr)
			}
		}(int64(w))
	}
	wg.Add(1)
	go func() { // a branch's appends, merged into main
		defer wg.Done()
		rng := rand.New(rand.NewSource(100))
		for i := 0; time.Now().Before(deadline); i++ {
			br := fmt.Sprintf("ingest%d", i)
			if ok, k, stderr := run(nil, "branch", "create", br, "--from", "main"); !ok {
				if !k {
					record(-1, false, false, "branch create", stderr)
				}
				continue
			}
			b := newBatch()
			if ok, k, stderr := run(nil, "table", "import", "events", "--from", batchFile(b), "--ref", br); !ok {
				if k { // on the branch or not: a merge may bring it
					mu.Lock()
					killed[b] = true
					mu.Unlock()
				} else {
					record(b, false, false, "branch import", stderr)
				}
				continue
			}
			ok, k, stderr := run(rng, "branch", "merge", br, "--into", "main")
			record(b, ok, k, "merge", stderr)
		}
	}()
	wg.Add(1)
	go func() { // garbage collection with no age, killed now and then
		defer wg.Done()
		rng := rand.New(rand.NewSource(200))
		for time.Now().Before(deadline) {
			ok, k, stderr := run(rng, "gc", "--older-than", "0s")
			mu.Lock()
			ops++
			if k {
				kills++
			} else if !ok {
				anomalies++
				problems = append(problems, "gc failed: "+stderr)
			}
			mu.Unlock()
			time.Sleep(time.Duration(200+rng.Intn(800)) * time.Millisecond)
		}
	}()
	wg.Wait()
	writersDone()

	check := func(when string) {
		t.Helper()
		if r := tarnRun(t, home, "verify", "--history"); r.code != 0 {
			t.Fatalf("verify --history %s: %s%s", when, r.stdout, r.stderr)
		}
		r := tarnRun(t, home, "query", "select batch, count(*) as n, count(distinct id) as d from events group by batch", "-o", "json")
		if r.code != 0 {
			t.Fatal(r.stderr)
		}
		var got []struct{ Batch, N, D int }
		if err := json.Unmarshal([]byte(r.stdout), &got); err != nil {
			t.Fatal(err)
		}
		present := map[int]bool{}
		for _, g := range got {
			present[g.Batch] = true
			switch {
			case g.N != rows || g.D != rows:
				t.Errorf("%s: batch %d has %d rows (%d distinct), want %d: half-visible or applied twice", when, g.Batch, g.N, g.D, rows)
			case !acked[g.Batch] && !killed[g.Batch]:
				t.Errorf("%s: batch %d is in main but was neither acknowledged nor killed", when, g.Batch)
			}
		}
		for b := range acked {
			if !present[b] {
				t.Errorf("%s: acknowledged batch %d is missing", when, b)
			}
		}
	}
	check("after the writers")
	if r := tarnRun(t, home, "gc", "--older-than", "0s"); r.code != 0 {
		t.Fatal(r.stderr)
	}
	check("after a last gc")
	for _, p := range problems {
		t.Error(p)
	}
	t.Logf("soak %ds: %d operations, %d kills survived, %d acknowledged batches checked, %d anomalies", seconds, ops, kills, len(acked), anomalies)
}
