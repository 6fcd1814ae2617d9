//go:build integration

package integration

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// probeModel prints what a worker is: its uid, capabilities and
// no_new_privs.
const probeModel = `import os
import tarn
import pyarrow as pa

@tarn.model()
def whoami():
    status = dict(l.rstrip("\n").split(":\t", 1) for l in open("/proc/self/status") if ":\t" in l)
    print(f"uid={os.getuid()} capeff={status['CapEff']} nnp={status['NoNewPrivs']}")
    return pa.table({"uid": [os.getuid()]})
`

// TestServe_Workers: on a server, models run unprivileged, and the run
// says how they are confined.
func TestServe_Workers(t *testing.T) {
	srv := startServe(t, filepath.Join(t.TempDir(), "home"), "127.0.0.1:0")
	r := srv.cli("run", "-p", project(t, map[string]string{"m.py": probeModel}), "--dry-run")
	if r.code != 0 {
		t.Fatalf("run: %+v", r)
	}
	if !strings.Contains(r.stdout+r.stderr, "capeff=0000000000000000 nnp=1") {
		t.Fatalf("the worker has capabilities or may gain privileges:\n%s%s", r.stdout, r.stderr)
	}
	if os.Geteuid() == 0 && !strings.Contains(r.stdout+r.stderr, "uid=65534") {
		t.Fatalf("a server run as root runs models as root:\n%s%s", r.stdout, r.stderr)
	}
	if !strings.Contains(r.stdout+r.stderr, "isolation: bubblewrap sandbox") {
		t.Fatalf("the run does not say how it is confined:\n%s%s", r.stdout, r.stderr)
	}
}

// TestServe_InternetPolicy: internet access is the server's to give, and
// what it gives never reaches loopback (the server itself).
func TestServe_InternetPolicy(t *testing.T) {
	port := listenLoopback(t, "HTTP/1.0 200 OK\r\n\r\nthe server's port")
	model := fmt.Sprintf(`import tarn
import urllib.request
import pyarrow as pa

@tarn.model(internet_access=True)
def fetch():
    with urllib.request.urlopen("http://127.0.0.1:%d/", timeout=10) as r:
        return pa.table({"body": [r.read().decode()]})
`, port)
	dir := project(t, map[string]string{"m.py": model})

	closed := startServe(t, filepath.Join(t.TempDir(), "home"), "127.0.0.1:0")
	r := closed.cli("run", "-p", dir, "--dry-run")
	if r.code != 5 || !strings.Contains(r.stderr, "ask for internet access") || !strings.Contains(r.stderr, "fetch (m.py:6)") {
		t.Fatalf("a model with internet access on a server that gives it to nobody: %+v", r)
	}

	open := startServeWith(t, filepath.Join(t.TempDir(), "home"), "--insecure-local", "--addr", "127.0.0.1:0", "--internet-access", "all")
	r = open.cli("run", "-p", dir, "--dry-run")
	out := r.stdout + r.stderr
	if r.code == 0 || strings.Contains(out, "the server's port") {
		t.Fatalf("a model reached loopback through the egress proxy: %+v", r)
	}
	if !strings.Contains(out, "a loopback address") || !strings.Contains(out, "refused by the sandbox's network policy") {
		t.Fatalf("the run does not say why the network was refused:\n%s", out)
	}
}

// listenLoopback listens on a loopback port until the test ends, writing
// reply to every connection, and returns the port.
func listenLoopback(t *testing.T, reply string) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Write([]byte(reply))
			c.Close()
		}
	}()
	return ln.Addr().(*net.TCPAddr).Port
}

// TestServe_PackageSources: on a server a project cannot bring its own
// wheel folder or index.
func TestServe_PackageSources(t *testing.T) {
	srv := startServe(t, filepath.Join(t.TempDir(), "home"), "127.0.0.1:0")
	for name, index := range map[string]string{
		"wheel folder": "index:\n  find_links: wheels\n",
		"other index":  "index:\n  url: https://pypi.example.com/simple\n",
	} {
		t.Run(name, func(t *testing.T) {
			dir := project(t, map[string]string{"m.py": probeModel, "wheels/README": "x",
				"tarn_project.yml": "name: itest\ndefaults:\n  python: \"3.11\"\n" + index})
			r := srv.cli("run", "-p", dir, "--dry-run")
			if r.code != 5 || !strings.Contains(r.stderr, "this server sets where packages come from") {
				t.Fatalf("%+v", r)
			}
		})
	}
}

// TestServe_MemoryCap: a model may not ask a server for more memory than
// it gives a step.
func TestServe_MemoryCap(t *testing.T) {
	srv := startServeWith(t, filepath.Join(t.TempDir(), "home"), "--insecure-local", "--addr", "127.0.0.1:0", "--step-memory", "512MiB", "--step-memory-max", "1GiB")
	big := strings.Replace(probeModel, "@tarn.model()", "@tarn.model()\n@tarn.resources(memory=\"2GiB\")", 1)
	r := srv.cli("run", "-p", project(t, map[string]string{"m.py": big}), "--dry-run")
	if r.code != 2 || !strings.Contains(r.stderr, "at most 1.0 GiB of memory") || !strings.Contains(r.stderr, "whoami (m.py:") {
		t.Fatalf("%+v", r)
	}
	r = srv.cli("run", "-p", project(t, map[string]string{"m.py": probeModel}), "--dry-run")
	if r.code != 0 {
		t.Fatalf("a model without a memory limit on a server with --step-memory: %+v", r)
	}
}
