// Package destinations renders an EgressGateway's spec.destinations as the
// Istio objects the operator owns for them: one ServiceEntry per host and,
// when a port originates TLS, one DestinationRule. It is pure: the
// controller applies what it returns.
package destinations

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sort"
	"strings"

	networkingv1alpha3 "istio.io/api/networking/v1alpha3"
	istionetworkingv1 "istio.io/client-go/pkg/apis/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	egressv1alpha1 "github.com/ambient-egress/ambient-egress-operator/apis/egress/v1alpha1"
)

// ManagedLabel is on every object the operator renders for an
// EgressGateway, with the gateway's name as value; the waypoint chart's
// objects carry the same label.
const ManagedLabel = "egress.ambient.io/egressgateway"

// DefaultTargetPort is where TLS origination connects when
// tlsOrigination.targetPort is unset (the API server defaults it too).
const DefaultTargetPort = 443

// maxNameLength is the longest object name Kubernetes accepts for these
// kinds (a DNS subdomain).
const maxNameLength = 253

// Host is what one spec.destinations entry renders to.
type Host struct {
	// Host is spec.destinations[].host.
	Host string
	// ServiceEntry declares the host; never nil.
	ServiceEntry *istionetworkingv1.ServiceEntry
	// DestinationRule originates TLS; nil when no port asks for it.
	DestinationRule *istionetworkingv1.DestinationRule
}

// Problem is a destination the operator cannot render, and why.
type Problem struct {
	// Host is the destination's host.
	Host string
	// Message says what is wrong and what to change.
	Message string
}

// Rendered is the result of Render.
type Rendered struct {
	// Hosts are the renderable destinations, in spec order.
	Hosts []Host
	// Problems are the destinations left out, in spec order.
	Problems []Problem
}

// ServiceEntryName is the name of the ServiceEntry for host: the host
// itself, with a leading "*." spelled "wildcard." since "*" is not allowed
// in a name.
func ServiceEntryName(host string) string {
	return fitName(nameOf(host), "")
}

// DestinationRuleName is the name of the DestinationRule for host:
// "<ServiceEntry name>-tls".
func DestinationRuleName(host string) string {
	return fitName(nameOf(host), "-tls")
}

func nameOf(host string) string {
	if rest, ok := strings.CutPrefix(host, "*."); ok {
		return "wildcard." + rest
	}
	return host
}

// fitName appends suffix to base, and when the result is longer than a name
// may be, cuts base and keeps it unique with 8 hex digits of its digest.
func fitName(base, suffix string) string {
	if len(base)+len(suffix) <= maxNameLength {
		return base + suffix
	}
	sum := sha256.Sum256([]byte(base))
	hash := "-" + hex.EncodeToString(sum[:])[:8]
	cut := strings.TrimRight(base[:maxNameLength-len(suffix)-len(hash)], ".-")
	return cut + hash + suffix
}

// PortName is the ServiceEntry port name of p: its name, else
// "<protocol>-<number>" in lower case, as the API documents.
func PortName(p egressv1alpha1.DestinationPort) string {
	if p.Name != "" {
		return p.Name
	}
	return fmt.Sprintf("%s-%d", strings.ToLower(string(protocolOf(p))), p.Number)
}

func protocolOf(p egressv1alpha1.DestinationPort) egressv1alpha1.Protocol {
	if p.Protocol == "" {
		return "HTTP"
	}
	return p.Protocol
}

// dynamicDNSProtocols are the port protocols Istio accepts on a
// DYNAMIC_DNS ServiceEntry: the waypoint must read the host from a Host
// header or an SNI.
var dynamicDNSProtocols = map[egressv1alpha1.Protocol]bool{"HTTP": true, "HTTP2": true, "GRPC": true, "TLS": true}

// Render returns the objects egw's spec.destinations ask for, in egw's
// namespace and labeled with ManagedLabel. It sets no owner reference.
// Destinations that cannot be rendered are Problems, never errors.
func Render(egw *egressv1alpha1.EgressGateway) Rendered {
	var out Rendered
	names := map[string]string{} // ServiceEntry name -> host
	for _, d := range egw.Spec.Destinations {
		if msg := check(d); msg != "" {
			out.Problems = append(out.Problems, Problem{Host: d.Host, Message: msg})
			continue
		}
		name := ServiceEntryName(d.Host)
		if other, taken := names[name]; taken {
			out.Problems = append(out.Problems, Problem{Host: d.Host, Message: fmt.Sprintf(
				"hosts %s and %s both need ServiceEntry %s; remove one of them", other, d.Host, name)})
			continue
		}
		names[name] = d.Host
		out.Hosts = append(out.Hosts, Host{Host: d.Host, ServiceEntry: serviceEntry(egw, d), DestinationRule: destinationRule(egw, d)})
	}
	return out
}

// check finds what the API server's validation cannot: a wildcard host
// needs DYNAMIC_DNS, which Istio only allows on ports it can read a host on.
func check(d egressv1alpha1.Destination) string {
	if !strings.HasPrefix(d.Host, "*.") {
		return ""
	}
	for _, p := range d.Ports {
		if proto := protocolOf(p); !dynamicDNSProtocols[proto] {
			return fmt.Sprintf("port %d of wildcard host %s has protocol %s, but Istio resolves a wildcard host only from an HTTP Host header or a TLS SNI: use protocol HTTP, HTTP2, GRPC or TLS (TLS for HTTPS traffic)",
				p.Number, d.Host, proto)
		}
	}
	return ""
}

func objectMeta(egw *egressv1alpha1.EgressGateway, name string) metav1.ObjectMeta {
	return metav1.ObjectMeta{Name: name, Namespace: egw.Namespace, Labels: map[string]string{ManagedLabel: egw.Name}}
}

func serviceEntry(egw *egressv1alpha1.EgressGateway, d egressv1alpha1.Destination) *istionetworkingv1.ServiceEntry {
	se := &istionetworkingv1.ServiceEntry{
		TypeMeta:   metav1.TypeMeta{APIVersion: istionetworkingv1.SchemeGroupVersion.String(), Kind: "ServiceEntry"},
		ObjectMeta: objectMeta(egw, ServiceEntryName(d.Host)),
	}
	se.Spec.Hosts = []string{d.Host}
	// MESH_EXTERNAL is Istio's default (the enum's zero value, so it is not
	// even serialized): these hosts are outside the mesh, reached without
	// mTLS, and a waypoint they are bound to enforces policy for them.
	se.Spec.Location = networkingv1alpha3.ServiceEntry_MESH_EXTERNAL
	// An exact host is resolved by DNS, like the seed's ServiceEntry. A
	// wildcard host cannot be: DYNAMIC_DNS makes the waypoint resolve the
	// host each request names (its Host header or SNI), which is how Istio
	// serves wildcard hosts bound to a waypoint.
	se.Spec.Resolution = networkingv1alpha3.ServiceEntry_DNS
	if strings.HasPrefix(d.Host, "*.") {
		se.Spec.Resolution = networkingv1alpha3.ServiceEntry_DYNAMIC_DNS
	}
	for _, p := range sortedPorts(d.Ports) {
		port := &networkingv1alpha3.ServicePort{
			Number:   uint32(p.Number),
			Protocol: string(protocolOf(p)),
			Name:     PortName(p),
		}
		if p.TLSOrigination != nil {
			port.TargetPort = uint32(targetPort(p.TLSOrigination))
		}
		se.Spec.Ports = append(se.Spec.Ports, port)
	}
	return se
}

func targetPort(t *egressv1alpha1.TLSOrigination) int32 {
	if t.TargetPort == 0 {
		return DefaultTargetPort
	}
	return t.TargetPort
}

// destinationRule originates TLS for the ports that ask for it: in
// trafficPolicy.tls when every port asks for the same settings, else in one
// portLevelSettings entry per such port, so that the other ports (a TLS
// port, say) are left alone. Nil when no port asks.
func destinationRule(egw *egressv1alpha1.EgressGateway, d egressv1alpha1.Destination) *istionetworkingv1.DestinationRule {
	ports := sortedPorts(d.Ports)
	var originating []egressv1alpha1.DestinationPort
	for _, p := range ports {
		if p.TLSOrigination != nil {
			originating = append(originating, p)
		}
	}
	if len(originating) == 0 {
		return nil
	}
	dr := &istionetworkingv1.DestinationRule{
		TypeMeta:   metav1.TypeMeta{APIVersion: istionetworkingv1.SchemeGroupVersion.String(), Kind: "DestinationRule"},
		ObjectMeta: objectMeta(egw, DestinationRuleName(d.Host)),
	}
	dr.Spec.Host = d.Host
	dr.Spec.TrafficPolicy = &networkingv1alpha3.TrafficPolicy{}
	same := len(originating) == len(ports)
	for _, p := range originating[1:] {
		same = same && sameTLS(p.TLSOrigination, originating[0].TLSOrigination)
	}
	if same {
		dr.Spec.TrafficPolicy.Tls = clientTLS(originating[0].TLSOrigination)
		return dr
	}
	for _, p := range originating {
		dr.Spec.TrafficPolicy.PortLevelSettings = append(dr.Spec.TrafficPolicy.PortLevelSettings,
			&networkingv1alpha3.TrafficPolicy_PortTrafficPolicy{
				Port: &networkingv1alpha3.PortSelector{Number: uint32(p.Number)},
				Tls:  clientTLS(p.TLSOrigination),
			})
	}
	return dr
}

// sameTLS compares what the DestinationRule says about two ports; the
// target port is on the ServiceEntry, not here.
func sameTLS(a, b *egressv1alpha1.TLSOrigination) bool {
	return a.Mode == b.Mode && a.SNI == b.SNI && a.CredentialName == b.CredentialName
}

// clientTLS is the DestinationRule TLS of one port. An empty SNI is left
// unset: Istio then sends the request's host as SNI (auto SNI) and checks
// the server certificate against it, which is the host for an exact host
// and the requested name for a wildcard one.
func clientTLS(t *egressv1alpha1.TLSOrigination) *networkingv1alpha3.ClientTLSSettings {
	mode := networkingv1alpha3.ClientTLSSettings_SIMPLE
	if t.Mode == egressv1alpha1.TLSModeMutual {
		mode = networkingv1alpha3.ClientTLSSettings_MUTUAL
	}
	return &networkingv1alpha3.ClientTLSSettings{Mode: mode, Sni: t.SNI, CredentialName: t.CredentialName}
}

func sortedPorts(ports []egressv1alpha1.DestinationPort) []egressv1alpha1.DestinationPort {
	out := append([]egressv1alpha1.DestinationPort(nil), ports...)
	sort.SliceStable(out, func(i, j int) bool { return out[i].Number < out[j].Number })
	return out
}
