package simulator

import (
	"net/netip"
	"strings"

	"github.com/ambient-egress/ambient-egress-operator/simulator/match"
)

// view is a request prepared once per Eval: derived values every term would
// otherwise recompute.
type view struct {
	r *Request
	// uri is "spiffe://" + principal, the form Envoy's principal matchers
	// see; empty for plaintext.
	uri string
	// srcNamespace and srcAccount are parsed from the principal, the way
	// ztunnel reads them from the peer's SPIFFE identity.
	srcNamespace, srcAccount string
	// path is the normalized request path without query.
	path string
	// remoteIP is RemoteIP, or SourceIP when unset.
	remoteIP netip.Addr
	// jwtIss and jwtSub split RequestPrincipal.
	jwtIss, jwtSub string
	hasJWT         bool
}

func newView(r *Request) view {
	v := view{r: r, remoteIP: r.RemoteIP}
	if !v.remoteIP.IsValid() && r.HTTP {
		v.remoteIP = forwardedFor(r.Headers["x-forwarded-for"])
	}
	if !v.remoteIP.IsValid() {
		v.remoteIP = r.SourceIP
	}
	if r.Principal != "" {
		v.uri = "spiffe://" + r.Principal
		v.srcNamespace, v.srcAccount = splitIdentity(r.Principal)
	}
	if r.HTTP {
		v.path = match.NormalizePath(r.Path)
	}
	if r.RequestPrincipal != "" {
		v.hasJWT = true
		v.jwtIss, v.jwtSub = splitRequestPrincipal(r.RequestPrincipal)
	}
	return v
}

// forwardedFor is the address Envoy trusts as the original client's in an
// x-forwarded-for header: the rightmost one. istiod builds a waypoint's
// HTTP connection manager with use_remote_address false and no trusted hops
// (pilot/pkg/networking/core/listener_waypoint.go,
// buildWaypointInboundHTTPFilters), and Envoy then takes "the last address
// in XFF" as the client's (Envoy docs, HTTP header manipulation,
// x-forwarded-for): remote.ip and remoteIpBlocks read a header the caller
// writes. An invalid or missing address leaves it unset.
func forwardedFor(xff string) netip.Addr {
	if xff == "" {
		return netip.Addr{}
	}
	last := xff
	if i := strings.LastIndexByte(xff, ','); i >= 0 {
		last = xff[i+1:]
	}
	addr, err := netip.ParseAddr(strings.TrimSpace(last))
	if err != nil {
		return netip.Addr{}
	}
	return addr
}

// splitIdentity reads namespace and service account from
// "<td>/ns/<ns>/sa/<sa>".
func splitIdentity(p string) (ns, sa string) {
	parts := strings.Split(p, "/")
	if len(parts) == 5 && parts[1] == "ns" && parts[3] == "sa" {
		return parts[2], parts[4]
	}
	return "", ""
}

// splitRequestPrincipal splits "iss/sub" at the last "/", since issuers are
// often URLs (pilot/pkg/security/authz/model/generator.go).
func splitRequestPrincipal(p string) (iss, sub string) {
	i := strings.LastIndex(p, "/")
	if i < 0 {
		return p, ""
	}
	return p[:i], p[i+1:]
}

func (v *view) header(name string) (string, bool) {
	switch name {
	case ":authority", "host":
		return v.r.Host, v.r.HTTP
	case ":method":
		return v.r.Method, v.r.HTTP
	case ":path":
		return v.r.Path, v.r.HTTP
	}
	val, ok := v.r.Headers[name]
	return val, ok
}
