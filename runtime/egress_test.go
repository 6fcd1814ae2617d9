package runtime

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestInternetEgress_Deny(t *testing.T) {
	p := InternetEgress(false)
	for _, ip := range []string{"127.0.0.1", "::1", "0.0.0.0", "169.254.169.254", "fe80::1", "224.0.0.1", "10.1.2.3", "192.168.0.1", "172.16.0.9", "fd00::1"} {
		if p.Deny(net.ParseIP(ip)) == "" {
			t.Errorf("%s is reachable from a sandbox", ip)
		}
	}
	for _, ip := range ownAddresses() {
		if p.Deny(ip) == "" {
			t.Errorf("this host's own address %s is reachable from a sandbox", ip)
		}
	}
	for _, ip := range []string{"203.0.113.80", "8.8.8.8", "2001:4860:4860::8888"} {
		if why := p.Deny(net.ParseIP(ip)); why != "" {
			t.Errorf("%s is refused: %s", ip, why)
		}
	}
	if why := InternetEgress(true).Deny(net.ParseIP("10.1.2.3")); why != "" {
		t.Errorf("a private address is refused with privateOK: %s", why)
	}
}

func TestIndexEgress_Hosts(t *testing.T) {
	got := strings.Join(IndexEgress("").Hosts, " ")
	if got != "pypi.org files.pythonhosted.org" {
		t.Fatalf("PyPI's hosts: %q", got)
	}
	got = strings.Join(IndexEgress("https://Mirror.example.com:8443/simple").Hosts, " ")
	if got != "mirror.example.com" {
		t.Fatalf("a mirror's hosts: %q", got)
	}
}

// egressModels reach a URL through the proxy variables, as any client
// library does.
const egressModels = `import os
import urllib.request

import tarn


@tarn.model()
def fetch(url=tarn.Parameter("url")):
    with urllib.request.urlopen(url, timeout=10) as r:
        return {"body": [r.read().decode()], "proxy": [os.environ.get("HTTP_PROXY", "")]}
`

// TestEgress_Sandboxed runs a model with the network through the egress
// proxy: a host the policy allows answers, loopback under the internet
// policy does not, and the step says why.
func TestEgress_Sandboxed(t *testing.T) {
	sb := requireSandbox(t)
	f := newPoolFixture(t, IsolationBubblewrap)
	f.opts.Sandbox = sb
	if err := os.WriteFile(filepath.Join(f.opts.ProjectDir, "egress.py"), []byte(egressModels), 0o644); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "index answers") }))
	defer srv.Close()
	run := func(policy EgressPolicy) (*StepResult, error, []string) {
		eg, err := NewEgress(t.TempDir(), policy)
		if err != nil {
			t.Fatal(err)
		}
		defer eg.Close()
		return f.run(t, nil, "fetch", "fetch", func(s *StepSpec, o *WorkerOptions) {
			s.File = "egress.py"
			s.Parameters["url"] = srv.URL + "/simple/"
			o.Network, o.Egress = true, eg
		})
	}
	res, err, out := run(IndexEgress(srv.URL + "/simple"))
	if err != nil {
		t.Fatalf("the index the policy allows is not reachable: %v\n%s", err, strings.Join(out, "\n"))
	}
	if res.Rows != 1 {
		t.Fatalf("rows %d", res.Rows)
	}
	_, err, out = run(InternetEgress(false))
	var se *StepError
	if !errors.As(err, &se) || !strings.Contains(se.Msg, "Forbidden") {
		t.Fatalf("loopback through the internet policy: %v\n%s", err, strings.Join(out, "\n"))
	}
	_, err, out = run(IndexEgress("https://pypi.example.com/simple"))
	if !errors.As(err, &se) || !strings.Contains(se.Msg, "Forbidden") {
		t.Fatalf("a host that is not an index: %v\n%s", err, strings.Join(out, "\n"))
	}
}

// TestEgress_Refuses checks the proxy itself: what the policy refuses
// gets a 403 that says why, and is never connected to.
func TestEgress_Refuses(t *testing.T) {
	hits := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits++ }))
	defer srv.Close()
	eg, err := NewEgress(t.TempDir(), InternetEgress(false))
	if err != nil {
		t.Fatal(err)
	}
	defer eg.Close()
	client := &http.Client{Transport: &http.Transport{
		Proxy: http.ProxyURL(&url.URL{Scheme: "http", Host: "egress"}),
		Dial:  func(string, string) (net.Conn, error) { return net.Dial("unix", eg.socket) },
	}}
	resp, err := client.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body := make([]byte, 512)
	n, _ := resp.Body.Read(body)
	if resp.StatusCode != http.StatusForbidden || !strings.Contains(string(body[:n]), "loopback") {
		t.Fatalf("status %d, body %q", resp.StatusCode, body[:n])
	}
	if hits != 0 {
		t.Fatal("the refused destination was reached")
	}
}
