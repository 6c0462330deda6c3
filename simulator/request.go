package simulator

import "net/netip"

// EnforcementPoint names the proxy that enforces a decision.
type EnforcementPoint string

const (
	// EnforceAuto lets Eval derive the enforcement point from the inputs:
	// the waypoint the destination ServiceEntry is bound to, or none.
	EnforceAuto EnforcementPoint = ""
	// EnforceWaypoint is a waypoint proxy (Envoy) serving the destination.
	EnforceWaypoint EnforcementPoint = "waypoint"
	// EnforceZtunnel is ztunnel in front of the destination workload.
	EnforceZtunnel EnforcementPoint = "ztunnel"
	// EnforceNone means no proxy enforces authorization on the path.
	EnforceNone EnforcementPoint = "none"
)

// Request is one connection or HTTP request to evaluate.
type Request struct {
	// Principal is the source's mTLS identity without "spiffe://", e.g.
	// "cluster.local/ns/default/sa/admin"; empty for plaintext.
	Principal string
	// SourceIP is the peer address (source.ip, ipBlocks).
	SourceIP netip.Addr
	// RemoteIP is the original client address (remote.ip, remoteIpBlocks);
	// when unset it is, for HTTP, the rightmost x-forwarded-for address, as
	// a waypoint takes it, else SourceIP.
	RemoteIP netip.Addr
	// RequestPrincipal is the validated JWT's "iss/sub"; empty without JWT.
	RequestPrincipal string
	// Claims is the validated JWT payload; nested objects are allowed.
	Claims map[string]any

	// HTTP says the request is HTTP; otherwise it is a TCP or TLS stream and
	// Host, Path, Method and Headers are unused.
	HTTP bool
	// Host is the Host/:authority header exactly as sent (may carry :port).
	Host string
	// Path is the raw request target; it may carry a query or dot-segments.
	Path string
	// Method is the HTTP method.
	Method string
	// Headers maps lower-case header names to values; repeated headers are
	// joined with ",", as Envoy presents them to header matchers.
	Headers map[string]string

	// Port is the destination service port.
	Port int
	// SNI is the TLS server name, if any.
	SNI string
	// DestIP is the destination address (destination.ip).
	DestIP netip.Addr
	// DestHost names the destination service when Host is not set (TCP).
	DestHost string

	// At chooses the enforcement point; EnforceAuto derives it.
	At EnforcementPoint
	// DestNamespace and DestLabels describe the destination workload for
	// evaluation at ztunnel.
	DestNamespace string
	DestLabels    map[string]string
	// DestProtocol overrides the port protocol ("HTTP" or "TCP") when the
	// inputs leave it unset.
	DestProtocol string

	// Explain asks for a trace in the decision.
	Explain bool
}
