package simulator

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"

	networkingv1alpha3 "istio.io/api/networking/v1alpha3"
)

// destination is a ServiceEntry or Service a request can be addressed to.
type destination struct {
	origin    Origin
	kind      string
	namespace string
	name      string
	labels    map[string]string
	hosts     []string
	// ports maps a service port to its declared protocol (upper-case,
	// empty when unset).
	ports map[int]string
	// waypoint is the waypoint the destination is bound to, or nil.
	waypoint *waypoint
	// binding explains why the destination is bound or not.
	binding string
	// unbound says, for a destination bound to no waypoint, why (one of
	// the Unbound constants); empty when bound.
	unbound string
	// named is the waypoint the destination names, bound or not.
	named *waypoint
	// id is "Kind/namespace/name", computed once for index lookups.
	id string
	// addresses are the addresses ztunnel redirects to the destination:
	// spec.addresses (addresses or ranges), or the ones istiod allocated.
	addresses []netip.Prefix
	// uncaptured maps a host that has no address ztunnel could capture to
	// the reason; "*" stands for every host.
	uncaptured map[string]string
	// pending is set when istiod allocates the addresses and the inputs do
	// not say which (a manifest has no status).
	pending bool
	// byAddress says the addresses are the ServiceEntry's own
	// spec.addresses, not allocated ones.
	byAddress bool
	// dynamicDNS says the ServiceEntry has resolution DYNAMIC_DNS: the
	// waypoint forwards to the name the request carries (Host header or
	// SNI) through a dynamic forward proxy.
	dynamicDNS bool
}

// Istio's default ranges for the addresses it allocates to ServiceEntries
// (pilot/pkg/features/pilot.go, PILOT_IP_AUTOALLOCATE_IPV4_PREFIX and
// PILOT_IP_AUTOALLOCATE_IPV6_PREFIX).
var autoAllocatedRanges = []netip.Prefix{netip.MustParsePrefix("240.240.0.0/16"), netip.MustParsePrefix("2001:2::/48")}

// labelAutoallocate opts a ServiceEntry out of address allocation.
const labelAutoallocate = "networking.istio.io/enable-autoallocate-ip"

// captureServiceEntry works out, per host, the addresses ztunnel knows the
// ServiceEntry by, as istiod gives them to it
// (pilot/pkg/serviceregistry/ambient/services.go, constructServiceEntries,
// and pilot/pkg/networking/serviceentry/ip_autoallocation.go,
// shouldV2AutoAllocateIPFromPieces). Traffic to a host without an address
// is not redirected: ztunnel's DNS proxy has no address to answer with, the
// client connects to the host's own address, and ztunnel, which knows no
// service there, passes the connection through to it directly.
func (d *destination) captureServiceEntry(se *ServiceEntry) {
	spec := se.Spec
	for _, a := range spec.GetAddresses() {
		p, err := parseAddressOrRange(a)
		if err != nil {
			// istiod builds no service at all for such an entry.
			d.uncaptured = map[string]string{"*": fmt.Sprintf("spec.addresses %q is not an address or range, so istiod gives ztunnel no service for it", a)}
			d.addresses = nil
			return
		}
		d.addresses = append(d.addresses, p)
	}
	if len(d.addresses) > 0 {
		d.byAddress = true
		return
	}
	resolution := spec.GetResolution()
	switch {
	case resolution == networkingv1alpha3.ServiceEntry_NONE:
		d.uncaptured = map[string]string{"*": "resolution NONE and no spec.addresses: istiod allocates no address, so ztunnel captures none " +
			"and clients connect to the host's own addresses directly"}
		return
	case strings.EqualFold(se.Labels[labelAutoallocate], "false"):
		d.uncaptured = map[string]string{"*": fmt.Sprintf("%s=false and no spec.addresses: istiod allocates no address, so ztunnel captures none "+
			"and clients connect to the host's own addresses directly", labelAutoallocate)}
		return
	}
	for _, h := range d.hosts {
		if strings.HasPrefix(h, "*") && resolution != networkingv1alpha3.ServiceEntry_DYNAMIC_DNS {
			if d.uncaptured == nil {
				d.uncaptured = map[string]string{}
			}
			d.uncaptured[h] = fmt.Sprintf("wildcard host %s with resolution %s: istiod allocates addresses to wildcard hosts only with DYNAMIC_DNS, "+
				"so ztunnel captures none and clients connect to the host's own addresses directly", h, resolution)
		}
	}
	for _, a := range se.Allocated {
		if addr, err := netip.ParseAddr(a.Value); err == nil {
			d.addresses = append(d.addresses, netip.PrefixFrom(addr, addr.BitLen()))
		}
	}
	d.pending = len(se.Allocated) == 0
}

func parseAddressOrRange(a string) (netip.Prefix, error) {
	if strings.Contains(a, "/") {
		return netip.ParsePrefix(a)
	}
	addr, err := netip.ParseAddr(a)
	if err != nil {
		return netip.Prefix{}, err
	}
	return netip.PrefixFrom(addr, addr.BitLen()), nil
}

// notCaptured returns why traffic to host is not redirected to the
// destination, or "" when it is.
func (d *destination) notCaptured(host string) string {
	if why, ok := d.uncaptured["*"]; ok {
		return why
	}
	if why, ok := d.uncaptured[host]; ok {
		return why
	}
	for _, h := range d.hosts {
		if why, ok := d.uncaptured[h]; ok && strings.HasPrefix(h, "*") && strings.HasSuffix(host, h[1:]) {
			return why
		}
	}
	return ""
}

// hasAddress reports whether ztunnel knows the destination by addr.
func (d *destination) hasAddress(addr netip.Addr) bool {
	for _, p := range d.addresses {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}

func (d *destination) key() string {
	if d.id == "" {
		d.id = d.kind + "/" + d.namespace + "/" + d.name
	}
	return d.id
}

func (d *destination) display() string { return d.kind + " " + d.namespace + "/" + d.name }

func newServiceEntryDestination(se *ServiceEntry, labels map[string]string) *destination {
	d := &destination{origin: se.Origin, kind: "ServiceEntry", namespace: se.Namespace, name: se.Name,
		labels: labels, ports: map[int]string{}}
	for _, h := range se.Spec.GetHosts() {
		d.hosts = append(d.hosts, strings.ToLower(h))
	}
	for _, p := range se.Spec.GetPorts() {
		d.ports[int(p.GetNumber())] = strings.ToUpper(p.GetProtocol())
	}
	d.dynamicDNS = se.Spec.GetResolution() == networkingv1alpha3.ServiceEntry_DYNAMIC_DNS
	d.captureServiceEntry(se)
	return d
}

// unserved says why the waypoint carries no connection to a port of a
// DYNAMIC_DNS ServiceEntry, or "" when it does. istiod builds the
// waypoint's clusters for such a service only on HTTP and TLS ports, and on
// TLS ports only with the wildcard TLS flag on
// (pilot/pkg/networking/core/cluster_waypoint.go, buildWaypointInboundVIP;
// the TLS filter chain is skipped alike in listener_waypoint.go).
func (d *destination) unserved(port int, istio Istio) string {
	if !d.dynamicDNS {
		return ""
	}
	proto := d.ports[port]
	switch {
	case istio.Version.Before(1, wildcardHTTPMinor):
		return fmt.Sprintf("Istio %s does not serve DYNAMIC_DNS ServiceEntries at a waypoint (1.%d and later do)", istio.Version, wildcardHTTPMinor)
	case proto == "HTTP":
		return ""
	case proto == "TLS" && istio.Version.Before(1, wildcardTLSMinor):
		return fmt.Sprintf("Istio %s does not serve TLS ports of DYNAMIC_DNS ServiceEntries at a waypoint (1.%d and later do, with %s=true)",
			istio.Version, wildcardTLSMinor, WildcardTLSFlag)
	case proto == "TLS" && !istio.WildcardTLS:
		return fmt.Sprintf("istiod builds no waypoint chain or cluster for TLS port %d of a DYNAMIC_DNS ServiceEntry unless it runs with %s=true (off by default)",
			port, WildcardTLSFlag)
	case proto == "TLS":
		return ""
	}
	return fmt.Sprintf("istiod builds no waypoint cluster for port %d (%s) of a DYNAMIC_DNS ServiceEntry: only HTTP and TLS ports are served", port, protocolName(proto))
}

// vhostMatches tells whether the waypoint's route for a DYNAMIC_DNS
// ServiceEntry accepts a Host header. Its virtual host has the service's
// host as its only domain, so that a request cannot steer the dynamic
// forward proxy elsewhere (pilot/pkg/networking/core/listener_waypoint.go,
// buildRouteVHostDomains), and the route configuration does not set
// ignore_port_in_host_matching, so Envoy compares the Host header with its
// port. Envoy's domain matching is case-insensitive, and a suffix wildcard
// "*.example.com" needs at least one character before the suffix
// (envoy/config/route/v3/route_components.proto, VirtualHost.domains).
func (d *destination) vhostMatches(host string) bool {
	host = strings.ToLower(host)
	for _, h := range d.hosts {
		if suffix, ok := strings.CutPrefix(h, "*"); ok {
			if len(host) > len(suffix) && strings.HasSuffix(host, suffix) {
				return true
			}
		} else if host == h {
			return true
		}
	}
	return false
}

// newServiceDestination reads a Service's protocol from appProtocol, else
// from the port name prefix, as istiod does for Kubernetes Services.
func newServiceDestination(svc *Service, domain string) *destination {
	d := &destination{origin: svc.Origin, kind: "Service", namespace: svc.Namespace, name: svc.Name,
		labels: svc.Labels, ports: map[int]string{}}
	d.hosts = []string{
		strings.ToLower(fmt.Sprintf("%s.%s.svc.%s", svc.Name, svc.Namespace, domain)),
		strings.ToLower(fmt.Sprintf("%s.%s.svc", svc.Name, svc.Namespace)),
		strings.ToLower(fmt.Sprintf("%s.%s", svc.Name, svc.Namespace)),
	}
	// A Service is known to ztunnel by its cluster IPs, which the API
	// server allocates when a manifest leaves them out; a headless one has
	// none.
	for _, ip := range svc.ClusterIPs {
		if addr, err := netip.ParseAddr(ip); err == nil {
			d.addresses = append(d.addresses, netip.PrefixFrom(addr, addr.BitLen()))
		}
	}
	switch {
	case svc.Headless || slices.Contains(svc.ClusterIPs, "None"):
		d.uncaptured = map[string]string{"*": "the Service is headless (clusterIP None): ztunnel knows no address of it and clients connect to its pods directly"}
		d.addresses = nil
	case len(d.addresses) == 0:
		d.pending = true
	}
	for _, p := range svc.Ports {
		proto := p.AppProtocol
		if proto == "" {
			proto, _, _ = strings.Cut(p.Name, "-")
		}
		d.ports[p.Port] = strings.ToUpper(proto)
	}
	return d
}

// bindDestination decides which waypoint serves a destination, following
// istiod's fetchWaypointForService
// (pilot/pkg/serviceregistry/ambient/waypoints.go): the object's own
// istio.io/use-waypoint label wins over its namespace's; "none" opts out;
// istio.io/use-waypoint-namespace names another namespace; the waypoint must
// exist, allow the object's namespace, and accept service traffic.
func bindDestination(d *destination, nsLabels map[string]map[string]string, waypoints map[string]*waypoint) {
	ref, source, optOut := useWaypointRef(d.labels, d.namespace)
	if ref == "" && !optOut {
		ref, source, optOut = useWaypointRef(nsLabels[d.namespace], d.namespace)
		source = "namespace " + d.namespace + " " + source
	} else {
		source = d.kind + " " + source
	}
	switch {
	case optOut:
		d.binding, d.unbound = source+" opts out of waypoints", UnboundOptedOut
		return
	case ref == "":
		d.binding, d.unbound = fmt.Sprintf("neither %s nor namespace %s has the %s label", d.display(), d.namespace, labelUseWaypoint), UnboundNoLabel
		return
	}
	w, ok := waypoints[ref]
	d.named = w
	switch {
	case !ok:
		d.binding, d.unbound = fmt.Sprintf("%s names waypoint %s, which is not in the inputs", source, ref), UnboundMissingWaypoint
	case !w.allowsNamespace(d.namespace, nsLabels[d.namespace]):
		d.binding, d.unbound = fmt.Sprintf("waypoint %s does not allow namespace %s (allowedRoutes %s)", ref, d.namespace, w.allowedFrom), UnboundNamespaceNotAllowed
	case !w.servesServices():
		d.binding, d.unbound = fmt.Sprintf("waypoint %s has %s=%s; it must be %q or %q to serve a %s",
			ref, labelWaypointFor, w.trafficType, TrafficService, TrafficAll, d.kind), UnboundNotForServices
	default:
		d.waypoint = w
		d.binding = fmt.Sprintf("bound to waypoint %s by %s", ref, source)
	}
}

// Why a destination is bound to no waypoint.
const (
	UnboundNoLabel             = "NoLabel"
	UnboundOptedOut            = "OptedOut"
	UnboundMissingWaypoint     = "MissingWaypoint"
	UnboundNamespaceNotAllowed = "NamespaceNotAllowed"
	UnboundNotForServices      = "NotForServices"
)

// useWaypointRef reads istio.io/use-waypoint from a label set and returns the
// referenced waypoint as "namespace/name" (GetUseWaypoint in istiod).
func useWaypointRef(l map[string]string, defaultNS string) (ref, source string, optOut bool) {
	name, ok := l[labelUseWaypoint]
	if !ok {
		return "", "", false
	}
	source = fmt.Sprintf("label %s=%s", labelUseWaypoint, name)
	if name == "none" {
		return "", source, true
	}
	ns := defaultNS
	if override, ok := l[labelUseWaypointNamespace]; ok {
		ns = override
		source += fmt.Sprintf(" (%s=%s)", labelUseWaypointNamespace, override)
	}
	return ns + "/" + name, source, false
}

// httpProtocols are the protocols istiod builds an HTTP filter chain for
// (pkg/config/protocol/instance.go, IsHTTP).
var httpProtocols = map[string]bool{"HTTP": true, "HTTP2": true, "HTTP_PROXY": true, "GRPC": true, "GRPC-WEB": true}

// tcpProtocols are the protocols istiod builds a TCP filter chain for.
var tcpProtocols = map[string]bool{"TCP": true, "HTTPS": true, "TLS": true, "MONGO": true, "REDIS": true, "MYSQL": true, "UDP": true}

// chainIsHTTP says whether the waypoint evaluates a port with HTTP RBAC. A
// port without a known protocol gets protocol sniffing on the waypoint
// (pilot/pkg/networking/core/listener_waypoint.go), so the request's own kind,
// or the caller's override, decides.
func chainIsHTTP(proto string, requestHTTP bool, override string) bool {
	switch {
	case httpProtocols[proto]:
		return true
	case tcpProtocols[proto]:
		return false
	case override != "":
		return strings.EqualFold(override, "HTTP")
	default:
		return requestHTTP
	}
}
