package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tarnhq/tarn/internal/pgtest"
	"github.com/tarnhq/tarn/internal/readyfile"
	"github.com/tarnhq/tarn/postgres"
	"github.com/tarnhq/tarn/secret"
)

// The black-box suite runs in three modes: embedded (the default);
// remote, where each lakehouse is served by `tarn serve --insecure-local`
// on a free port and the CLI reaches it through TARN_ENDPOINT; and
// shared, where each lakehouse is served by two such servers on one
// PostgreSQL database ($TARN_TEST_POSTGRES, a schema of its own): with
// the tables in the bucket of $TARN_TEST_S3_BUCKET when it is set
// (scripts/versitygw.sh), each server on a home of its own (they share
// only the database and the bucket),
// else both on one home; the CLI alternates between their
// endpoints command by command. `go test` runs the embedded suite and, beside it, this binary
// again in remote mode on the same -run pattern (TARN_TEST_MODE=remote
// runs only that). The shared mode needs a database, so it belongs to the
// integration tier: scripts/test.sh runs it with TARN_TEST_MODE=shared.
const modeEnv = "TARN_TEST_MODE"

// remoteSuite is what runs in remote mode when no -run pattern is given.
const remoteSuite = "^(TestCLI_|TestCLIQuery_|TestRemote)"

// runModes runs the tests, and the remote-mode run beside them.
func runModes(m *testing.M) int {
	if os.Getenv(modeEnv) != "" || testing.Short() {
		return m.Run()
	}
	pattern := flag.Lookup("test.run").Value.String()
	if pattern == "" {
		pattern = remoteSuite
	}
	args := []string{"-test.run", pattern, "-test.timeout", "10m"}
	if flag.Lookup("test.v").Value.String() == "true" {
		args = append(args, "-test.v")
	}
	sub := exec.Command(os.Args[0], args...)
	sub.Env = append(os.Environ(), modeEnv+"=remote", "TARN_BIN="+tarnBin)
	var out bytes.Buffer
	sub.Stdout, sub.Stderr = &out, &out
	if err := sub.Start(); err != nil {
		fmt.Fprintf(os.Stderr, "start the remote-mode suite: %v\n", err)
		return 1
	}
	code := m.Run()
	err := sub.Wait()
	if err != nil || flag.Lookup("test.v").Value.String() == "true" {
		fmt.Fprintf(os.Stderr, "--- remote mode (%s=remote) ---\n%s", modeEnv, out.String())
	}
	if err != nil && code == 0 {
		code = 1
	}
	return code
}

func embeddedOnly(t *testing.T) {
	t.Helper()
	if remote {
		t.Skip("embedded mode only")
	}
}

func remoteOnly(t *testing.T) {
	t.Helper()
	if !remote {
		t.Skip("runs in the remote-mode suite")
	}
}

// serve starts `tarn serve` over the lakehouse's home and points the
// CLI at it; in shared mode two servers on one database, which the CLI
// alternates between.
func (l *lakehouse) serve(args ...string) {
	l.t.Helper()
	args = append([]string{"--insecure-local"}, args...)
	if !shared {
		_, url := startServer(l.t, l.home, args...)
		l.env = append(l.env, "TARN_ENDPOINT="+url)
		return
	}
	l.catalog = pgtest.URL(l.t)
	args = append(args, "--catalog", l.catalog, "--job-lease", "5s")
	homes := []string{l.home, l.home}
	if bucket := os.Getenv("TARN_TEST_S3_BUCKET"); bucket != "" {
		// The tables in the S3-compatible server scripts/versitygw.sh runs,
		// and the servers on homes of their own: nothing but the database
		// and the bucket is shared (queued runs' projects go through the
		// bucket; the key pair of secret parameters is in the database).
		args = append(args, "--warehouse", fmt.Sprintf("s3://%s/cli-%s", bucket, pgtest.Schema()))
		homes[1] = filepath.Join(l.dir, "home2")
	}
	for _, home := range homes {
		_, url := startServer(l.t, home, args...)
		l.endpoints = append(l.endpoints, url)
	}
}

// secretKeys returns the lakehouse's key pair of secret parameters: its
// home's file, or in shared mode the one the database holds.
func (l *lakehouse) secretKeys() (*secret.Keys, error) {
	if l.catalog == "" {
		return secret.Load(filepath.Join(l.home, "secret.key"))
	}
	db, err := postgres.Open(context.Background(), l.catalog)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	text, ok, err := db.Setting(context.Background(), "secret_key")
	if err != nil || !ok {
		return nil, fmt.Errorf("no key in the database (%v)", err)
	}
	return secret.Parse(text, "in the database")
}

// startServer starts `tarn serve` on a free loopback port and returns
// its URL (from its --ready-file); the server is stopped when the test ends.
func startServer(t *testing.T, home string, args ...string) (*exec.Cmd, string) {
	t.Helper()
	ready := filepath.Join(t.TempDir(), "ready.json")
	cmd := exec.Command(tarnBin, append([]string{"serve", "--addr", "127.0.0.1:0", "--grace", "2s", "--ready-file", ready}, args...)...)
	cmd.Env = append(os.Environ(), "TARN_HOME="+home, "TARN_CONFIG=/nonexistent/tarn-config.yml")
	var log lockedBuffer
	cmd.Stderr = &log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
	})
	r, err := readyfile.Wait(ready, 20*time.Second, func() bool {
		select {
		case <-exited:
			return true
		default:
			return false
		}
	})
	if err != nil {
		t.Fatalf("%v:\n%s", err, log.String())
	}
	return cmd, r.URL
}

// lockedBuffer is a server's log, written by its process and read by a test.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}
func (l *lockedBuffer) String() string { l.mu.Lock(); defer l.mu.Unlock(); return l.b.String() }
