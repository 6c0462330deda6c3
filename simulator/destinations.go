package simulator

import (
	"fmt"
	"strings"
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
	// id is "Kind/namespace/name", computed once for index lookups.
	id string
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
	return d
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
		d.binding = source + " opts out of waypoints"
		return
	case ref == "":
		d.binding = fmt.Sprintf("neither %s nor namespace %s has the %s label", d.display(), d.namespace, labelUseWaypoint)
		return
	}
	w, ok := waypoints[ref]
	switch {
	case !ok:
		d.binding = fmt.Sprintf("%s names waypoint %s, which is not in the inputs", source, ref)
	case !w.allowsNamespace(d.namespace, nsLabels[d.namespace]):
		d.binding = fmt.Sprintf("waypoint %s does not allow namespace %s (allowedRoutes %s)", ref, d.namespace, w.allowedFrom)
	case !w.servesServices():
		d.binding = fmt.Sprintf("waypoint %s has %s=%s; it must be %q or %q to serve a %s",
			ref, labelWaypointFor, w.trafficType, TrafficService, TrafficAll, d.kind)
	default:
		d.waypoint = w
		d.binding = fmt.Sprintf("bound to waypoint %s by %s", ref, source)
	}
}

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
