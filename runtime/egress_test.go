package runtime

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestInternetEgress_Deny(t *testing.T) {
	p := InternetEgress(false)
	for _, ip := range []string{"127.0.0.1", "::1", "0.0.0.0", "169.254.169.254", "fe80::1", "224.0.0.1", "10.1.2.3", "192.168.0.1", "172.16.0.9", "fd00::1", "203.0.113.80"} {
		if p.Deny(net.ParseIP(ip)) == "" {
			t.Errorf("%s is reachable from a sandbox", ip)
		}
	}
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		t.Fatal(err)
	}
	host := hostAddresses(addrs)
	for _, ip := range append(host.own, host.broadcast...) {
		if p.Deny(ip.AsSlice()) == "" {
			t.Errorf("this host's own address or broadcast address %s is reachable from a sandbox", ip)
		}
	}
	for _, ip := range []string{"8.8.8.8", "2001:4860:4860::8888"} {
		if why := p.Deny(net.ParseIP(ip)); why != "" {
			t.Errorf("%s is refused: %s", ip, why)
		}
	}
	if why := InternetEgress(true).Deny(net.ParseIP("10.1.2.3")); why != "" {
		t.Errorf("a private address is refused with privateOK: %s", why)
	}
}

// TestHostAddrs_Refusal checks the internet policy's reasons, address by
// address: the special-purpose ranges, IPv6 forms that carry an IPv4
// address, the host's own addresses and its networks' broadcast addresses.
func TestHostAddrs_Refusal(t *testing.T) {
	host := hostAddresses([]net.Addr{
		&net.IPNet{IP: net.ParseIP("81.2.69.10"), Mask: net.CIDRMask(24, 32)},
		&net.IPNet{IP: net.ParseIP("81.2.70.1"), Mask: net.CIDRMask(31, 32)},
		&net.IPNet{IP: net.ParseIP("10.0.8.7"), Mask: net.CIDRMask(16, 32)},
		&net.IPNet{IP: net.ParseIP("2a01:4f8::10"), Mask: net.CIDRMask(64, 128)},
		&net.IPNet{IP: net.ParseIP("81.2.71.5"), Mask: net.CIDRMask(120, 128)}, // an IPv4 /24 in 16 bytes
	})
	for _, tc := range []struct {
		addr      string
		privateOK bool
		want      string // "" when allowed
	}{
		{addr: "8.8.8.8"},
		{addr: "1.1.1.1"},
		{addr: "2606:4700:4700::1111"},
		{addr: "2001:4860:4860::8888"},
		{addr: "64:ff9b::808:808"},
		{addr: "2002:808:808::1"},
		{addr: "::ffff:8.8.8.8"},
		{addr: "192.0.0.255", want: "an IETF protocol assignment"},
		{addr: "192.31.196.1"}, // AS112, globally reachable
		{addr: "2001:3::1"},    // AMT, globally reachable
		{addr: "81.2.69.254"},
		{addr: "81.2.70.0"}, // the other end of a /31, not a broadcast address

		{addr: "100.64.0.1", want: "a shared (CGNAT) address"},
		{addr: "100.127.255.255", want: "a shared (CGNAT) address"},
		{addr: "198.18.0.1", want: "a benchmarking address"},
		{addr: "198.19.255.1", want: "a benchmarking address"},
		{addr: "0.1.2.3", want: `an address of "this network"`},
		{addr: "0.0.0.0", want: "the unspecified address"},
		{addr: "240.0.0.1", want: "a reserved address"},
		{addr: "255.255.255.255", want: "the broadcast address"},
		{addr: "192.0.2.255", want: "a documentation address"},
		{addr: "198.51.100.7", want: "a documentation address"},
		{addr: "203.0.113.80", want: "a documentation address"},
		{addr: "192.0.0.8", want: "an IETF protocol assignment"},
		{addr: "192.88.99.1", want: "a 6to4 relay anycast address"},
		{addr: "127.0.0.1", want: "a loopback address"},
		{addr: "127.255.0.1", want: "a loopback address"},
		{addr: "169.254.169.254", want: "a link-local or multicast address"},
		{addr: "224.0.0.251", want: "a link-local or multicast address"},
		{addr: "239.255.255.250", want: "a link-local or multicast address"},
		{addr: "10.1.2.3", want: "a private network address"},
		{addr: "172.31.0.1", want: "a private network address"},
		{addr: "192.168.1.1", want: "a private network address"},
		{addr: "10.1.2.3", privateOK: true},
		{addr: "fd12:3456::1", privateOK: true},
		{addr: "100.64.0.1", privateOK: true, want: "a shared (CGNAT) address"},

		{addr: "::", want: "the unspecified address"},
		{addr: "::1", want: "a loopback address"},
		{addr: "::7f00:1", want: "an IPv4-compatible address"},
		{addr: "::808:808", want: "an IPv4-compatible address"},
		{addr: "::ffff:127.0.0.1", want: "a loopback address"},
		{addr: "::ffff:169.254.169.254", want: "a link-local or multicast address"},
		{addr: "::ffff:0:7f00:1", want: "an IPv4-translated address"},
		{addr: "64:ff9b::7f00:1", want: "a NAT64 address for 127.0.0.1, a loopback address"},
		{addr: "64:ff9b::a9fe:a9fe", want: "a NAT64 address for 169.254.169.254, a link-local"},
		{addr: "64:ff9b::a00:1", want: "a NAT64 address for 10.0.0.1, a private network address"},
		{addr: "64:ff9b::a00:1", privateOK: true},
		{addr: "64:ff9b:1::808:808", want: "a local-use IPv4/IPv6 translation address"},
		{addr: "2002:7f00:1::1", want: "a 6to4 address for 127.0.0.1, a loopback address"},
		{addr: "2002:6440:1::1", want: "a 6to4 address for 100.64.0.1, a shared (CGNAT) address"},
		{addr: "2002:5102:450a::1", want: "a 6to4 address for 81.2.69.10, an address of this server"},
		{addr: "2001:0:4136:e378:8000:63bf:3fff:fdd2", want: "a Teredo address"},
		{addr: "2001:2::1", want: "a benchmarking address"},
		{addr: "2001:10::1", want: "an ORCHID"},
		{addr: "2001:20::1", want: "an ORCHIDv2"},
		{addr: "2001:db8::1", want: "a documentation address"},
		{addr: "3fff::1", want: "a documentation address"},
		{addr: "5f00::1", want: "an SRv6 segment identifier"},
		{addr: "100::1", want: "a discard-only address"},
		{addr: "fec0::1", want: "a site-local address"},
		{addr: "fe80::1", want: "a link-local or multicast address"},
		{addr: "fe80::1%eth0", want: "a link-local or multicast address"},
		{addr: "ff02::1", want: "a link-local or multicast address"},
		{addr: "fd00::1", want: "a private network address"},
		{addr: "1000::1", want: "an IPv6 address outside the global unicast range"},
		{addr: "4000::1", want: "an IPv6 address outside the global unicast range"},
		{addr: "e000::1", want: "an IPv6 address outside the global unicast range"},

		{addr: "81.2.69.10", want: "an address of this server"},
		{addr: "::ffff:81.2.69.10", want: "an address of this server"},
		{addr: "2a01:4f8::10", want: "an address of this server"},
		{addr: "10.0.8.7", privateOK: true, want: "an address of this server"},
		{addr: "81.2.69.255", want: "the broadcast address of a network of this server"},
		{addr: "10.0.255.255", privateOK: true, want: "the broadcast address of a network of this server"},
		{addr: "81.2.71.255", want: "the broadcast address of a network of this server"},
		{addr: "64:ff9b::5102:45ff", want: "a NAT64 address for 81.2.69.255, the broadcast address of a network"},
	} {
		name := tc.addr
		if tc.privateOK {
			name += " privateOK"
		}
		t.Run(name, func(t *testing.T) {
			got := host.refusal(netip.MustParseAddr(tc.addr), tc.privateOK)
			switch {
			case tc.want == "" && got != "":
				t.Errorf("refused: %s", got)
			case tc.want != "" && got == "":
				t.Errorf("reachable from a sandbox, want refused as %q", tc.want)
			case !strings.HasPrefix(got, tc.want):
				t.Errorf("refused as %q, want %q", got, tc.want)
			}
		})
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
