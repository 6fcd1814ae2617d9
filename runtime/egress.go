package runtime

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Egress is the only way out of a sandbox that may use the network under
// a policy: the sandbox has a network namespace of its own (nothing but
// its own loopback), a forwarder in it (python/tarn/_egress.py) listens
// on 127.0.0.1:EgressPort there and passes each connection to a unix
// socket bound into the sandbox, and on the other end of that socket tarn
// runs this HTTP proxy (CONNECT for TLS, absolute URLs for plain HTTP),
// which resolves each destination itself and refuses what the policy
// does not allow. The sandboxed command finds the proxy through
// HTTP_PROXY, HTTPS_PROXY and ALL_PROXY, which uv, pip, requests, urllib
// and most clients honour; a raw socket to anywhere else has no route.
type Egress struct {
	policy EgressPolicy
	socket string
	ln     net.Listener
	srv    *http.Server
	// upstream is the host's own proxy, if it has one: connections go
	// through it (after the policy allowed them).
	upstream *url.URL
	wg       sync.WaitGroup
	// Refused, when set, hears of every refused destination (a run shows
	// it beside the step's own error, which says only "403 Forbidden").
	Refused func(dest string, err error)
}

// EgressPort is where the forwarder listens inside a sandbox.
const EgressPort = 3128

// egressSocket is where the proxy's socket appears inside a sandbox.
const egressSocket = "/run/tarn/egress.sock"

// EgressPolicy decides which destinations a sandbox may reach.
type EgressPolicy struct {
	// Hosts, when set, are the only host names that may be reached (an
	// environment build: its package indexes), on any port, whatever they
	// resolve to.
	Hosts []string
	// Deny refuses an address (checked for every address a name resolves
	// to, and for the one dialled).
	Deny func(ip net.IP) string
}

// IndexEgress is the policy of environment builds: the hosts of the
// package indexes (with files.pythonhosted.org for PyPI) and nothing else.
func IndexEgress(indexURLs ...string) EgressPolicy {
	hosts := []string{}
	pypi := false
	for _, u := range indexURLs {
		if u == "" {
			pypi = true
			continue
		}
		if p, err := url.Parse(u); err == nil && p.Hostname() != "" {
			hosts = append(hosts, strings.ToLower(p.Hostname()))
			pypi = pypi || p.Hostname() == "pypi.org"
		}
	}
	if pypi {
		hosts = append(hosts, "pypi.org", "files.pythonhosted.org")
	}
	return EgressPolicy{Hosts: hosts}
}

// InternetEgress is the policy of models with internet access on a
// server: globally reachable unicast addresses only. Refused are
// loopback, link-local addresses (cloud metadata services), multicast,
// the shared (CGNAT), reserved, benchmarking and documentation ranges and
// the rest of IANA's special-purpose addresses (specialRanges), IPv6
// forms that carry a refused IPv4 address, the host's own addresses (the
// server itself) and the broadcast addresses of its networks, and, unless
// privateOK, private networks.
func InternetEgress(privateOK bool) EgressPolicy {
	addrs, _ := net.InterfaceAddrs()
	host := hostAddresses(addrs)
	return EgressPolicy{Deny: func(ip net.IP) string {
		a, ok := netip.AddrFromSlice(ip)
		if !ok {
			return "not an IP address"
		}
		return host.refusal(a, privateOK)
	}}
}

// NewEgress starts a proxy with policy on a unix socket in dir.
func NewEgress(dir string, policy EgressPolicy) (*Egress, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("egress: %w", err)
	}
	sock := filepath.Join(dir, fmt.Sprintf("egress-%d-%d.sock", os.Getpid(), cgroupSeq.Add(1)))
	os.Remove(sock)
	ln, err := net.Listen("unix", sock)
	if err != nil {
		return nil, fmt.Errorf("egress: %w", err)
	}
	if err := os.Chmod(sock, 0o666); err != nil { // the sandbox uid connects
		ln.Close()
		return nil, fmt.Errorf("egress: %w", err)
	}
	e := &Egress{policy: policy, socket: sock, ln: ln}
	for _, k := range []string{"HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"} {
		if v := os.Getenv(k); v != "" {
			if u, err := url.Parse(v); err == nil && u.Host != "" {
				e.upstream = u
				break
			}
		}
	}
	e.srv = &http.Server{Handler: e, ReadHeaderTimeout: 30 * time.Second}
	e.wg.Add(1)
	go func() { defer e.wg.Done(); e.srv.Serve(ln) }()
	return e, nil
}

// Close stops the proxy and cuts its connections.
func (e *Egress) Close() error {
	if e == nil {
		return nil
	}
	err := e.srv.Close()
	e.wg.Wait()
	os.Remove(e.socket)
	return err
}

// confine adds what a sandboxed command needs to use the proxy: its
// socket bound in, the forwarder in front of argv (run by python, in
// isolated mode), and the proxy variables.
func (e *Egress) confine(c *Confinement, argv, env []string, python, sdkDir string) ([]string, []string) {
	if c.Files == nil {
		c.Files = map[string]string{}
	}
	c.Files[egressSocket] = e.socket
	c.ReadOnly = append(c.ReadOnly, sdkDir)
	c.Network = false
	proxy := fmt.Sprintf("http://127.0.0.1:%d", EgressPort)
	fwd := []string{python, "-I", "-S", filepath.Join(sdkDir, "tarn", "_egress.py"), egressSocket, strconv.Itoa(EgressPort), "--"}
	env = slices.DeleteFunc(slices.Clone(env), func(kv string) bool {
		k, _, _ := strings.Cut(kv, "=")
		return strings.EqualFold(k, "HTTP_PROXY") || strings.EqualFold(k, "HTTPS_PROXY") || strings.EqualFold(k, "ALL_PROXY") || strings.EqualFold(k, "NO_PROXY")
	})
	for _, k := range []string{"HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"} {
		env = append(env, k+"="+proxy)
	}
	return append(fwd, argv...), env
}

// ServeHTTP proxies one request: CONNECT tunnels, anything else is an
// absolute-URL HTTP request.
func (e *Egress) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodConnect {
		e.tunnel(w, r)
		return
	}
	if r.URL.Host == "" || (r.URL.Scheme != "http" && r.URL.Scheme != "") {
		http.Error(w, "tarn egress: only CONNECT and absolute http:// URLs", http.StatusBadRequest)
		return
	}
	t := &http.Transport{DialContext: e.dial, Proxy: nil, ResponseHeaderTimeout: 5 * time.Minute}
	defer t.CloseIdleConnections()
	out := r.Clone(r.Context())
	out.RequestURI = ""
	out.Header.Del("Proxy-Connection")
	out.Header.Del("Proxy-Authorization")
	resp, err := t.RoundTrip(out)
	if err != nil {
		http.Error(w, "tarn egress: "+err.Error(), http.StatusForbidden)
		return
	}
	defer resp.Body.Close()
	for k, vs := range resp.Header {
		for _, v := range vs {
			w.Header().Add(k, v)
		}
	}
	w.WriteHeader(resp.StatusCode)
	io.Copy(w, resp.Body)
}

func (e *Egress) tunnel(w http.ResponseWriter, r *http.Request) {
	up, err := e.dial(r.Context(), "tcp", r.Host)
	if err != nil {
		http.Error(w, "tarn egress: "+err.Error(), http.StatusForbidden)
		return
	}
	hj, ok := w.(http.Hijacker)
	if !ok {
		up.Close()
		http.Error(w, "tarn egress: cannot tunnel", http.StatusInternalServerError)
		return
	}
	down, buf, err := hj.Hijack()
	if err != nil {
		up.Close()
		return
	}
	down.Write([]byte("HTTP/1.1 200 Connection established\r\n\r\n"))
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); io.Copy(up, buf); closeWrite(up) }()
	go func() { defer wg.Done(); io.Copy(down, up); closeWrite(down) }()
	wg.Wait()
	up.Close()
	down.Close()
}

func closeWrite(c net.Conn) {
	if cw, ok := c.(interface{ CloseWrite() error }); ok {
		cw.CloseWrite()
	}
}

// ErrEgressRefused is what a destination the policy refuses gets.
var ErrEgressRefused = errors.New("refused by the sandbox's network policy")

// dial connects to addr if the policy allows it, to the very address it
// checked (no second lookup a name could answer differently).
func (e *Egress) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	c, err := e.dialChecked(ctx, network, addr)
	if errors.Is(err, ErrEgressRefused) && e.Refused != nil {
		e.Refused(addr, err)
	}
	return c, err
}

func (e *Egress) dialChecked(ctx context.Context, network, addr string) (net.Conn, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	if len(e.policy.Hosts) > 0 && !slices.Contains(e.policy.Hosts, host) {
		return nil, fmt.Errorf("%s: %w (only %s)", host, ErrEgressRefused, strings.Join(e.policy.Hosts, ", "))
	}
	d := &net.Dialer{Timeout: 30 * time.Second}
	ips, err := net.DefaultResolver.LookupIP(ctx, "ip", host)
	if err != nil && e.upstream == nil {
		return nil, err
	}
	if e.policy.Deny != nil {
		if len(ips) == 0 {
			return nil, fmt.Errorf("%s does not resolve here: %w", host, ErrEgressRefused)
		}
		for _, ip := range ips {
			if why := e.policy.Deny(ip); why != "" {
				return nil, fmt.Errorf("%s is %s (%s): %w", host, why, ip, ErrEgressRefused)
			}
		}
	}
	if e.upstream != nil {
		return e.viaUpstream(ctx, d, host, port)
	}
	var last error
	for _, ip := range ips {
		c, err := d.DialContext(ctx, network, net.JoinHostPort(ip.String(), port))
		if err == nil {
			return c, nil
		}
		last = err
	}
	return nil, last
}

// viaUpstream tunnels to host:port through the host's own proxy.
func (e *Egress) viaUpstream(ctx context.Context, d *net.Dialer, host, port string) (net.Conn, error) {
	c, err := d.DialContext(ctx, "tcp", e.upstream.Host)
	if err != nil {
		return nil, fmt.Errorf("the host's proxy %s: %w", e.upstream.Host, err)
	}
	target := net.JoinHostPort(host, port)
	fmt.Fprintf(c, "CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n", target, target)
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, &http.Request{Method: http.MethodConnect})
	if err != nil || resp.StatusCode != http.StatusOK {
		c.Close()
		if err == nil {
			err = fmt.Errorf("status %s", resp.Status)
		}
		return nil, fmt.Errorf("the host's proxy %s refused %s: %w", e.upstream.Host, target, err)
	}
	return c, nil
}
