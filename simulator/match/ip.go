package match

import (
	"fmt"
	"net/netip"
	"strings"
)

// ParseIPBlock parses an Istio IP block: a single address ("10.1.2.3",
// "2001:db8::1") or a CIDR range ("10.0.0.0/16"). A single address becomes a
// full-length prefix, the way istiod converts it for both Envoy and ztunnel
// (pilot/pkg/serviceregistry/ambient/authorization.go, stringToIP).
// The accepted syntax is the one Istio's admission check accepts
// (pkg/config/security/security.go, ValidateIPs).
func ParseIPBlock(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("bad CIDR range %q: %w", s, err)
		}
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("bad IP address %q: %w", s, err)
	}
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// AnyPrefix reports whether addr lies in any of the blocks. An invalid
// (unknown) address matches nothing: the proxy has no address to compare.
func AnyPrefix(blocks []netip.Prefix, addr netip.Addr) bool {
	if !addr.IsValid() {
		return false
	}
	addr = addr.Unmap()
	for _, b := range blocks {
		if b.Contains(addr) {
			return true
		}
	}
	return false
}
