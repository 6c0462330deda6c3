// Package lockdown plans the NetworkPolicies that close direct egress from
// an EgressGateway's source namespaces: their pods may reach DNS, the
// waypoint's HBONE port, the API server, named CIDRs and, optionally, other
// pods, and nothing else, so traffic to external hosts has to go through the
// waypoint. Ambient mode never bypasses a NetworkPolicy (istio.io,
// docs/ambient/usage/networkpolicy), while ztunnel passes destinations that
// have no ServiceEntry straight through; the mesh alone is not an egress
// control. Everything here is pure: the controller discovers the inputs and
// applies the plan.
package lockdown

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/netip"
	"slices"
	"sort"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
)

// dnsPort is the port clients send DNS queries to.
const dnsPort = 53

// HBONEPort is the port ztunnel tunnels a pod's traffic to a waypoint on.
const HBONEPort = 15008

// namespaceNameLabel is set by the API server on every namespace
// (kubernetes.io/metadata.name), so a policy can select one by name.
const namespaceNameLabel = "kubernetes.io/metadata.name"

// DNSCandidates are the cluster DNS Services looked for, in order:
// OpenShift's DNS operator serves dns-default in openshift-dns on pods
// listening on 5353; kubeadm, kind and most distributions serve kube-dns in
// kube-system. The ports come from the Service found, never assumed.
var DNSCandidates = []Ref{{Namespace: "openshift-dns", Name: "dns-default"}, {Namespace: "kube-system", Name: "kube-dns"}}

// Ref names a namespaced object.
type Ref struct{ Namespace, Name string }

// Peer is a set of pods a NetworkPolicy may allow, and the ports on them.
type Peer struct {
	Namespace string
	Pods      map[string]string
	Ports     []networkingv1.NetworkPolicyPort
}

// DNSPeer is the cluster DNS as a NetworkPolicy sees it: the pods behind
// the Service and their target ports (a NetworkPolicy applies after the
// Service's address translation, so OpenShift's 53 -> 5353 must allow
// 5353; a named target port is resolved by the NetworkPolicy on the pod,
// as the Service resolves it). Only the Service's port 53 is DNS: its
// metrics port stays closed. It fails when the Service selects no pods by label, which a
// NetworkPolicy could not name.
func DNSPeer(svc *corev1.Service) (Peer, error) {
	if len(svc.Spec.Selector) == 0 {
		return Peer{}, fmt.Errorf("DNS Service %s/%s has no pod selector: its pods cannot be named in a NetworkPolicy", svc.Namespace, svc.Name)
	}
	p := Peer{Namespace: svc.Namespace, Pods: svc.Spec.Selector}
	for _, sp := range svc.Spec.Ports {
		if sp.Port != dnsPort {
			continue // metrics and the like: not DNS
		}
		target := sp.TargetPort
		if target.Type == intstr.Int && target.IntVal == 0 || target.Type == intstr.String && target.StrVal == "" {
			target = intstr.FromInt32(sp.Port) // unset: the Service port
		}
		proto := sp.Protocol
		if proto == "" {
			proto = corev1.ProtocolTCP
		}
		port := networkingv1.NetworkPolicyPort{Protocol: new(proto), Port: new(target)}
		if !slices.ContainsFunc(p.Ports, func(q networkingv1.NetworkPolicyPort) bool { return samePort(q, port) }) {
			p.Ports = append(p.Ports, port)
		}
	}
	if len(p.Ports) == 0 {
		return Peer{}, fmt.Errorf("DNS Service %s/%s has no port 53", svc.Namespace, svc.Name)
	}
	return p, nil
}

func samePort(a, b networkingv1.NetworkPolicyPort) bool {
	return *a.Protocol == *b.Protocol && a.Port.String() == b.Port.String()
}

// Endpoint is one address and port of the API server.
type Endpoint struct {
	Address  netip.Addr
	Port     int32
	Protocol corev1.Protocol
}

// APIServerEndpoints reads the addresses and ports of the default/kubernetes
// Service's EndpointSlices: pods that talk to the API server connect to its
// ClusterIP, but a NetworkPolicy sees the endpoint after translation.
// Endpoints not ready are kept: the API server's readiness is not the
// policy's business, and a restart must not cut the pods off.
func APIServerEndpoints(eps []discoveryv1.EndpointSlice) ([]Endpoint, error) {
	var out []Endpoint
	for _, s := range eps {
		for _, e := range s.Endpoints {
			for _, a := range e.Addresses {
				addr, err := netip.ParseAddr(a)
				if err != nil {
					return nil, fmt.Errorf("EndpointSlice %s/%s: address %q: %w", s.Namespace, s.Name, a, err)
				}
				for _, p := range s.Ports {
					if p.Port == nil {
						continue
					}
					proto := corev1.ProtocolTCP
					if p.Protocol != nil {
						proto = *p.Protocol
					}
					out = append(out, Endpoint{Address: addr, Port: *p.Port, Protocol: proto})
				}
			}
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("the kubernetes Service has no endpoint with a port")
	}
	sort.Slice(out, func(i, j int) bool {
		if c := out[i].Address.Compare(out[j].Address); c != 0 {
			return c < 0
		}
		return out[i].Port < out[j].Port
	})
	return slices.CompactFunc(out, func(a, b Endpoint) bool { return a == b }), nil
}

// AllowedCIDR is a named exception: egress to CIDR stays open, for Reason.
type AllowedCIDR struct {
	CIDR   string `json:"cidr"`
	Reason string `json:"reason"`
}

// Labels the operator puts on what it writes, and the label on the
// waypoint's pods the lockdown policy allows HBONE to. LabelGateway, the
// EgressGateway's name, is on every object the operator writes for a
// gateway (the waypoint chart's objects, the destinations' ServiceEntries
// and DestinationRules, the report ConfigMap, the lockdown policies); it is
// defined here, the lowest package that needs it, so the operator and the
// simulator share one constant. LabelGatewayNamespace is on the lockdown
// policies only: owner references cannot cross namespaces, so the two
// labels are how the operator finds, prunes and never mistakes its own.
const (
	LabelGateway          = "egress.ambient.io/egressgateway"
	LabelGatewayNamespace = "egress.ambient.io/egressgateway-namespace"
	WaypointPodLabel      = "gateway.networking.k8s.io/gateway-name"
)

// PolicyName is the name of the lockdown policy of the EgressGateway
// namespace/name, within the 253 characters of an object name.
func PolicyName(namespace, name string) string {
	full := "egress-lockdown-" + name
	if len(full) <= 253 {
		return full
	}
	sum := sha256.Sum256([]byte(namespace + "/" + name))
	return full[:240] + "-" + hex.EncodeToString(sum[:])[:12]
}

// Owned says whether a policy's labels mark it as written by the
// EgressGateway namespace/name.
func Owned(labels map[string]string, namespace, name string) bool {
	return labels[LabelGateway] == name && labels[LabelGatewayNamespace] == namespace
}

// Input is what one source namespace's policy depends on.
type Input struct {
	// Name and Labels are the policy's own; Namespace is the source
	// namespace it goes into.
	Name, Namespace string
	Labels          map[string]string
	// Waypoint is the waypoint's pods, on HBONEPort.
	Waypoint Peer
	// DNS is the cluster DNS (DNSPeer).
	DNS Peer
	// APIServer is where the API server listens (APIServerEndpoints).
	APIServer []Endpoint
	// AllowInCluster keeps pod-to-pod traffic open: only destinations
	// outside the cluster's pods must go through the waypoint.
	AllowInCluster bool
	// AllowCIDRs stay reachable directly.
	AllowCIDRs []AllowedCIDR
}

// Policy is the NetworkPolicy that locks one source namespace down: it
// selects every pod of the namespace for egress and allows, in this order,
// DNS, the waypoint's HBONE port, the API server, other pods (when
// AllowInCluster) and the named CIDRs. A NetworkPolicy is an allow-list:
// pods it selects lose every other egress.
func Policy(in Input) (*networkingv1.NetworkPolicy, error) {
	np := &networkingv1.NetworkPolicy{
		TypeMeta:   metav1.TypeMeta{APIVersion: "networking.k8s.io/v1", Kind: "NetworkPolicy"},
		ObjectMeta: metav1.ObjectMeta{Name: in.Name, Namespace: in.Namespace, Labels: in.Labels},
		Spec: networkingv1.NetworkPolicySpec{
			PodSelector: metav1.LabelSelector{},
			PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeEgress},
		},
	}
	rules := &np.Spec.Egress
	*rules = append(*rules, peerRule(in.DNS))
	wp := in.Waypoint
	wp.Ports = []networkingv1.NetworkPolicyPort{{Protocol: ptr.To(corev1.ProtocolTCP), Port: new(intstr.FromInt32(HBONEPort))}}
	*rules = append(*rules, peerRule(wp))
	for _, e := range in.APIServer {
		*rules = append(*rules, networkingv1.NetworkPolicyEgressRule{
			To:    []networkingv1.NetworkPolicyPeer{{IPBlock: &networkingv1.IPBlock{CIDR: netip.PrefixFrom(e.Address, e.Address.BitLen()).String()}}},
			Ports: []networkingv1.NetworkPolicyPort{{Protocol: new(e.Protocol), Port: new(intstr.FromInt32(e.Port))}},
		})
	}
	if in.AllowInCluster {
		// Every pod of every namespace; addresses outside the pods
		// (the internet) stay closed.
		*rules = append(*rules, networkingv1.NetworkPolicyEgressRule{
			To: []networkingv1.NetworkPolicyPeer{{NamespaceSelector: &metav1.LabelSelector{}}},
		})
	}
	for _, c := range in.AllowCIDRs {
		p, err := netip.ParsePrefix(c.CIDR)
		if err != nil {
			return nil, fmt.Errorf("allowCIDRs %q (%s): %w", c.CIDR, c.Reason, err)
		}
		*rules = append(*rules, networkingv1.NetworkPolicyEgressRule{
			To: []networkingv1.NetworkPolicyPeer{{IPBlock: &networkingv1.IPBlock{CIDR: p.Masked().String()}}},
		})
	}
	return np, nil
}

// APIServerAddresses returns the API server addresses a lockdown policy
// (written by Policy) allows: its rules that open one address on one port,
// which is how Policy writes the API server's endpoints. They are in the
// cluster, so a report about hosts outside it leaves them out.
func APIServerAddresses(np *networkingv1.NetworkPolicySpec) []netip.Addr {
	var out []netip.Addr
	for _, r := range np.Egress {
		if len(r.To) != 1 || r.To[0].IPBlock == nil || len(r.To[0].IPBlock.Except) > 0 || len(r.Ports) != 1 {
			continue
		}
		p, err := netip.ParsePrefix(r.To[0].IPBlock.CIDR)
		if err == nil && p.IsSingleIP() {
			out = append(out, p.Addr())
		}
	}
	return out
}

// peerRule allows p's pods, in p's namespace chosen by name, on p's ports.
func peerRule(p Peer) networkingv1.NetworkPolicyEgressRule {
	return networkingv1.NetworkPolicyEgressRule{
		To: []networkingv1.NetworkPolicyPeer{{
			NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{namespaceNameLabel: p.Namespace}},
			PodSelector:       &metav1.LabelSelector{MatchLabels: p.Pods},
		}},
		Ports: p.Ports,
	}
}
