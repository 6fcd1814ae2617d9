package runtime

import (
	"fmt"
	"net"
	"net/netip"
	"slices"
)

// specialRange is a range of addresses the internet policy refuses, with
// the reason a refused destination is shown.
type specialRange struct {
	prefix netip.Prefix
	why    string
	// private ranges are allowed with --internet-private.
	private bool
}

const (
	whyPrivate   = "a private network address"
	whyLinkLocal = "a link-local or multicast address"
	whyDocs      = "a documentation address"
	whyNotGlobal = "an IPv6 address outside the global unicast range (2000::/3)"
)

// specialRanges are the addresses that are not globally reachable unicast,
// after IANA's IPv4 and IPv6 Special-Purpose Address Registries (and the
// multicast ranges). The first range that holds an address decides, so a
// narrower range comes before the wider one it is part of; the last three
// are all of IPv6 outside 2000::/3. Addresses that carry an IPv4 address a
// router forwards to (IPv4-mapped, NAT64's 64:ff9b::/96, 6to4) are not
// here: they are judged by the IPv4 address (see embeddedIPv4).
var specialRanges = []specialRange{
	{prefix: netip.MustParsePrefix("0.0.0.0/32"), why: "the unspecified address"},
	{prefix: netip.MustParsePrefix("0.0.0.0/8"), why: `an address of "this network" (0.0.0.0/8)`},
	{prefix: netip.MustParsePrefix("10.0.0.0/8"), why: whyPrivate, private: true},
	{prefix: netip.MustParsePrefix("100.64.0.0/10"), why: "a shared (CGNAT) address"},
	{prefix: netip.MustParsePrefix("127.0.0.0/8"), why: "a loopback address"},
	{prefix: netip.MustParsePrefix("169.254.0.0/16"), why: whyLinkLocal},
	{prefix: netip.MustParsePrefix("172.16.0.0/12"), why: whyPrivate, private: true},
	{prefix: netip.MustParsePrefix("192.0.0.0/24"), why: "an IETF protocol assignment (192.0.0.0/24)"},
	{prefix: netip.MustParsePrefix("192.0.2.0/24"), why: whyDocs},
	{prefix: netip.MustParsePrefix("192.88.99.0/24"), why: "a 6to4 relay anycast address (deprecated)"},
	{prefix: netip.MustParsePrefix("192.168.0.0/16"), why: whyPrivate, private: true},
	{prefix: netip.MustParsePrefix("198.18.0.0/15"), why: "a benchmarking address"},
	{prefix: netip.MustParsePrefix("198.51.100.0/24"), why: whyDocs},
	{prefix: netip.MustParsePrefix("203.0.113.0/24"), why: whyDocs},
	{prefix: netip.MustParsePrefix("224.0.0.0/4"), why: whyLinkLocal},
	{prefix: netip.MustParsePrefix("255.255.255.255/32"), why: "the broadcast address"},
	{prefix: netip.MustParsePrefix("240.0.0.0/4"), why: "a reserved address (240.0.0.0/4)"},

	{prefix: netip.MustParsePrefix("::/128"), why: "the unspecified address"},
	{prefix: netip.MustParsePrefix("::1/128"), why: "a loopback address"},
	{prefix: netip.MustParsePrefix("::/96"), why: "an IPv4-compatible address (deprecated)"},
	{prefix: netip.MustParsePrefix("::ffff:0:0:0/96"), why: "an IPv4-translated address"},
	// RFC 8215 leaves where the IPv4 address sits to the operator, so
	// which one a local-use translator would reach cannot be told.
	{prefix: netip.MustParsePrefix("64:ff9b:1::/48"), why: "a local-use IPv4/IPv6 translation address"},
	{prefix: netip.MustParsePrefix("100::/64"), why: "a discard-only address"},
	{prefix: netip.MustParsePrefix("2001::/32"), why: "a Teredo address"},
	{prefix: netip.MustParsePrefix("2001:2::/48"), why: "a benchmarking address"},
	{prefix: netip.MustParsePrefix("2001:10::/28"), why: "an ORCHID (not routable)"},
	{prefix: netip.MustParsePrefix("2001:20::/28"), why: "an ORCHIDv2 (not routable)"},
	{prefix: netip.MustParsePrefix("2001:db8::/32"), why: whyDocs},
	{prefix: netip.MustParsePrefix("3fff::/20"), why: whyDocs},
	{prefix: netip.MustParsePrefix("5f00::/16"), why: "an SRv6 segment identifier"},
	{prefix: netip.MustParsePrefix("fc00::/7"), why: whyPrivate, private: true},
	{prefix: netip.MustParsePrefix("fe80::/10"), why: whyLinkLocal},
	{prefix: netip.MustParsePrefix("fec0::/10"), why: "a site-local address (deprecated)"},
	{prefix: netip.MustParsePrefix("ff00::/8"), why: whyLinkLocal},
	{prefix: netip.MustParsePrefix("::/3"), why: whyNotGlobal},
	{prefix: netip.MustParsePrefix("4000::/2"), why: whyNotGlobal},
	{prefix: netip.MustParsePrefix("8000::/1"), why: whyNotGlobal},
}

var (
	nat64Prefix = netip.MustParsePrefix("64:ff9b::/96")
	sixToFour   = netip.MustParsePrefix("2002::/16")
)

// embeddedIPv4 returns the IPv4 address that an IPv6 address of NAT64
// (64:ff9b::/96, in its last 32 bits) or 6to4 (2002::/16, in bits 16-48)
// reaches, and which form it is.
func embeddedIPv4(a netip.Addr) (netip.Addr, string, bool) {
	b := a.As16()
	switch {
	case nat64Prefix.Contains(a):
		return netip.AddrFrom4([4]byte(b[12:16])), "a NAT64 address", true
	case sixToFour.Contains(a):
		return netip.AddrFrom4([4]byte(b[2:6])), "a 6to4 address", true
	}
	return netip.Addr{}, "", false
}

// hostAddrs are this host's own addresses and the broadcast addresses of
// its IPv4 networks, which a sandbox must not reach either.
type hostAddrs struct {
	own, broadcast []netip.Addr
}

// hostAddresses finds them in the addresses of the host's interfaces.
func hostAddresses(addrs []net.Addr) hostAddrs {
	var h hostAddrs
	for _, a := range addrs {
		n, ok := a.(*net.IPNet)
		if !ok {
			continue
		}
		ip, ok := netip.AddrFromSlice(n.IP)
		if !ok {
			continue
		}
		h.own = append(h.own, ip.Unmap())
		v4, mask := n.IP.To4(), n.Mask
		if len(mask) == net.IPv6len {
			mask = mask[12:] // an IPv4 network with a mask of 16 bytes
		}
		ones, bits := mask.Size()
		if v4 == nil || bits != 32 || ones > 30 { // a /31 or /32 has no broadcast address
			continue
		}
		var bc [4]byte
		for i := range bc {
			bc[i] = v4[i] | ^mask[i]
		}
		h.broadcast = append(h.broadcast, netip.AddrFrom4(bc))
	}
	return h
}

// refusal says why the internet policy refuses a, or "" if it may be
// reached.
func (h hostAddrs) refusal(a netip.Addr, privateOK bool) string {
	a = a.Unmap().WithZone("")
	if v4, form, ok := embeddedIPv4(a); ok {
		if why := h.refusal(v4, privateOK); why != "" {
			return fmt.Sprintf("%s for %s, %s", form, v4, why)
		}
		return ""
	}
	for _, r := range specialRanges {
		if r.prefix.Contains(a) {
			if r.private && privateOK {
				break
			}
			return r.why
		}
	}
	switch {
	case slices.Contains(h.own, a):
		return "an address of this server"
	case slices.Contains(h.broadcast, a):
		return "the broadcast address of a network of this server"
	}
	return ""
}
