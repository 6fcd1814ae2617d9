package main

import (
	"bytes"
	"fmt"
	"math/rand"
	"os/exec"
	"sync"
	"syscall"
	"testing"
	"time"
)

// start launches tarn without waiting.
func (l *lakehouse) start(extraEnv []string, args ...string) (*exec.Cmd, *bytes.Buffer) {
	cmd := l.command(args...)
	cmd.Env = append(cmd.Env, extraEnv...)
	var errb bytes.Buffer
	cmd.Stderr = &errb
	if err := cmd.Start(); err != nil {
		l.t.Fatal(err)
	}
	return cmd, &errb
}

func exitCode(err error) int {
	if err == nil {
		return 0
	}
	if ee, ok := err.(*exec.ExitError); ok {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return -int(ws.Signal())
		}
		return ee.ExitCode()
	}
	return -1000
}

// TestProcesses_ConcurrentCommits: N processes write at once to one branch.
// Writers of different tables all succeed; writers of the same table from
// the same base either succeed or fail with a conflict, and every
// acknowledged write is visible afterwards.
func TestProcesses_ConcurrentCommits(t *testing.T) {
	embeddedOnly(t)
	l := newLakehouse(t)
	l.write("a.csv", csvRows(0, 10))
	l.ok("branch", "ls") // initialize the lakehouse before the race
	const n = 6
	var wg sync.WaitGroup
	codes := make([]int, n)
	stderr := make([]string, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			cmd, errb := l.start(nil, "table", "create", fmt.Sprintf("t%d", i), "--from", "a.csv")
			codes[i] = exitCode(cmd.Wait())
			stderr[i] = errb.String()
		}(i)
	}
	wg.Wait()
	for i, c := range codes {
		if c != 0 {
			t.Fatalf("writer %d of a distinct table failed (exit %d): %s", i, c, stderr[i])
		}
	}
	for i := 0; i < n; i++ {
		if got := l.rows("main", fmt.Sprintf("tarn.t%d", i)); got != 10 {
			t.Fatalf("table t%d has %d rows after an acknowledged create", i, got)
		}
	}

	// Same table: appends race. Each is re-applied on the moved table, so
	// all are acknowledged, and every acknowledged row is there once.
	l.ok("table", "create", "shared", "--from", "a.csv")
	const each = 7
	for i := 0; i < n; i++ {
		l.write(fmt.Sprintf("b%d.csv", i), csvRows(100+i*each, each))
	}
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			cmd, errb := l.start(nil, "table", "import", "shared", "--from", fmt.Sprintf("b%d.csv", i))
			codes[i] = exitCode(cmd.Wait())
			stderr[i] = errb.String()
		}(i)
	}
	wg.Wait()
	for i, c := range codes {
		if c != 0 {
			t.Fatalf("concurrent append %d failed (exit %d): %s", i, c, stderr[i])
		}
	}
	got := l.queryJSON("select count(*) as n, count(distinct id) as d, min(id) as lo, max(id) as hi from shared where id >= 100")
	if want := float64(n * each); len(got) != 1 || got[0]["n"] != want || got[0]["d"] != want || got[0]["lo"] != 100.0 || got[0]["hi"] != float64(100+n*each-1) {
		t.Fatalf("appended rows %v, want %v distinct ids 100..%d: a write was lost or applied twice", got, want, 100+n*each-1)
	}
	if got := l.rows("main", "tarn.shared"); got != int64(10+n*each) {
		t.Fatalf("shared has %d rows, want %d", got, 10+n*each)
	}
	l.ok("verify", "--history")
	// The re-applied appends left nothing behind for garbage collection.
	var rep struct {
		Removed []struct{ Path string } `json:"removed"`
	}
	l.json(&rep, "gc", "--older-than", "0s", "--dry-run")
	if len(rep.Removed) != 0 {
		t.Fatalf("concurrent appends left %v", rep.Removed)
	}
}

// TestProcesses_CrashSafety kills writers (kill -9) at named points inside a
// table write and at random moments during imports and merges. Afterwards
// every ref resolves, every referenced file exists, and each branch shows
// either the old or the new state.
func TestProcesses_CrashSafety(t *testing.T) {
	embeddedOnly(t)
	l := newLakehouse(t)
	l.write("a.csv", csvRows(0, 10))
	l.write("b.csv", csvRows(10, 5))
	l.ok("table", "create", "t", "--from", "a.csv")

	for _, point := range []string{"after-data-write", "after-metadata-write", "before-catalog-commit"} {
		for _, args := range [][]string{
			{"table", "import", "t", "--from", "b.csv"},
			{"table", "create", "fresh", "--from", "a.csv"},
		} {
			cmd, errb := l.start([]string{"TARN_CRASH_AT=" + point}, args...)
			if code := exitCode(cmd.Wait()); code != -int(syscall.SIGKILL) {
				t.Fatalf("%s with crash at %s: exit %d (want killed): %s", args[1], point, code, errb.String())
			}
			l.ok("verify", "--history")
			if got := l.rows("main", "tarn.t"); got != 10 {
				t.Fatalf("crash at %s changed t to %d rows", point, got)
			}
			if got := l.rows("main", "tarn.fresh"); got != -1 {
				t.Fatalf("crash at %s left a half-created table", point)
			}
		}
	}

	// Random kills during imports of a larger file.
	l.write("big.csv", csvRows(1000, 100000))
	rng := rand.New(rand.NewSource(1))
	rows := l.rows("main", "tarn.t")
	for i := 0; i < 8; i++ {
		cmd, _ := l.start(nil, "table", "import", "t", "--from", "big.csv")
		time.Sleep(time.Duration(rng.Intn(600)) * time.Millisecond)
		cmd.Process.Signal(syscall.SIGKILL)
		cmd.Wait()
		l.ok("verify")
		got := l.rows("main", "tarn.t")
		switch got {
		case rows:
		case rows + 100000:
			rows = got
		default:
			t.Fatalf("after a kill during import: %d rows, want %d or %d", got, rows, rows+100000)
		}
	}

	// Random kills during merges.
	for i := 0; i < 6; i++ {
		branch := fmt.Sprintf("b%d", i)
		l.ok("branch", "create", branch)
		l.ok("table", "import", "t", "--from", "b.csv", "--ref", branch)
		l.ok("table", "create", fmt.Sprintf("m%d", i), "--from", "b.csv") // main moves: a real merge
		before := l.rows("main", "tarn.t")
		cmd, _ := l.start(nil, "branch", "merge", branch, "--into", "main")
		time.Sleep(time.Duration(rng.Intn(40)) * time.Millisecond)
		cmd.Process.Signal(syscall.SIGKILL)
		cmd.Wait()
		l.ok("verify")
		if got := l.rows("main", "tarn.t"); got != before && got != before+5 {
			t.Fatalf("after a kill during merge: %d rows, want %d or %d", got, before, before+5)
		}
	}
	l.ok("verify", "--history")
}
