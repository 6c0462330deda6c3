package netpol

import (
	"fmt"
	"net/netip"
	"strings"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// and and or are Kleene's three-valued logic: an unknown that cannot
// change the answer does not make it unknown.
func and(a, b match) match { return min(a, b) }
func or(a, b match) match  { return max(a, b) }

// Evaluate answers one connection from src to dst, tier by tier: the
// AdminNetworkPolicies first (see SetAdmin), then the NetworkPolicies, then
// the BaselineAdminNetworkPolicy for sources no NetworkPolicy isolates.
//
// The NetworkPolicy tier: "By default, a pod is non-isolated for egress;
// all outbound connections are allowed. A pod is isolated for egress if
// there is any NetworkPolicy that both selects the pod and has "Egress" in
// its policyTypes" and then "the only allowed connections from the pod are
// those allowed by the egress list of some NetworkPolicy that applies to the
// pod for egress"; "Network policies do not conflict; they are additive"
// (section "The two sorts of pod isolation").
func (c *Cluster) Evaluate(src Source, dst Destination) Result {
	if src.Pod != nil && src.Pod.HostNetwork {
		return Result{Verdict: Depends, Why: "a hostNetwork pod: whether NetworkPolicy applies to it is up to the implementation (section \"NetworkPolicy and hostNetwork pods\")"}
	}
	switch a := c.adminEgress(src, dst); {
	case a.unknown:
		return Result{Verdict: Depends, Why: a.by + " may match: it selects by pod labels, node addresses or domain names the inputs do not have"}
	case a.decided && a.allow:
		return Result{Verdict: Allowed, AllowedBy: []string{a.by}}
	case a.decided:
		return Result{Verdict: Denied, DeniedBy: a.by}
	}
	isolated, allowed, res, maybeBy := c.networkPolicyEgress(src, dst)
	base := c.baselineEgress(src, dst)
	unisolated := Allowed // what a source no NetworkPolicy isolates gets
	switch {
	case base.unknown:
		unisolated = Depends
	case base.decided && !base.allow:
		unisolated = Denied
	}
	if isolated == no {
		res.Verdict = unisolated
		switch {
		case base.decided && base.allow:
			res.AllowedBy = []string{base.by}
		case base.decided:
			res.DeniedBy = base.by
		case base.unknown:
			res.Why = base.by + " may match"
		default:
			res.Why = "no NetworkPolicy selects the source for egress"
		}
		return res
	}
	switch {
	case allowed == yes:
		res.Verdict = Allowed
	case isolated == yes && allowed == no:
		res.Verdict = Denied
	case isolated == maybe && allowed == no && unisolated == Denied:
		res.Verdict = Denied
	default:
		res.Verdict = Depends
		res.Why = dependsWhy(maybeBy, dst)
	}
	return res
}

// networkPolicyEgress is the NetworkPolicy tier: whether the source is
// isolated for egress and whether some rule allows dst.
func (c *Cluster) networkPolicyEgress(src Source, dst Destination) (isolated, allowed match, res Result, maybeBy []string) {
	for _, p := range c.byNamespace[src.Namespace] {
		if !HasEgress(&p.Spec) {
			continue
		}
		sel := c.selects(p, src)
		if sel == no {
			continue
		}
		isolated = or(isolated, sel)
		if sel == yes {
			res.Isolating = append(res.Isolating, p.Ref())
		} else {
			maybeBy = append(maybeBy, p.Ref())
		}
		for i := range p.Spec.Egress {
			m := and(sel, c.ruleMatches(p, &p.Spec.Egress[i], dst))
			if m == yes {
				res.AllowedBy = append(res.AllowedBy, fmt.Sprintf("%s rule %d", p.Ref(), i))
			}
			allowed = or(allowed, m)
		}
	}
	return isolated, allowed, res, maybeBy
}

func dependsWhy(maybeBy []string, dst Destination) string {
	if len(maybeBy) > 0 {
		return "pod labels decide: " + strings.Join(maybeBy, ", ") + " select pods by label, and the inputs have no Pods"
	}
	if dst.Pod != nil {
		return "an ipBlock holds the destination pod's address: whether ipBlock applies to pod addresses is up to the implementation (section \"Behavior of to: and from: selectors\")"
	}
	return "the destination's labels are not known"
}

// ruleMatches says whether one egress rule allows dst: "If this field is
// empty or missing, this rule matches all destinations" (to) and "If this
// field is empty or missing, this rule matches all ports" (ports), both
// from the NetworkPolicyEgressRule API reference.
func (c *Cluster) ruleMatches(p *Policy, r *networkingv1.NetworkPolicyEgressRule, dst Destination) match {
	ports := no
	if len(r.Ports) == 0 {
		ports = yes
	}
	for i := range r.Ports {
		ports = or(ports, portMatches(&r.Ports[i], dst))
	}
	if ports == no {
		return no
	}
	if len(r.To) == 0 {
		return ports
	}
	peers := no
	for i := range r.To {
		peers = or(peers, c.peerMatches(p, &r.To[i], dst))
	}
	return and(ports, peers)
}

// PortMatches says whether one NetworkPolicyPort surely matches dst.
func PortMatches(pp *networkingv1.NetworkPolicyPort, dst Destination) bool {
	return portMatches(pp, dst) == yes
}

// portMatches reads one NetworkPolicyPort: the protocol defaults to TCP;
// no port means every port of the protocol; endPort makes a range; a named
// port is looked up on the destination pod, so it never matches an address
// outside the cluster's pods.
func portMatches(pp *networkingv1.NetworkPolicyPort, dst Destination) match {
	proto := corev1.ProtocolTCP
	if pp.Protocol != nil {
		proto = *pp.Protocol
	}
	if proto != protocolOf(dst) {
		return no
	}
	if pp.Port == nil {
		return yes
	}
	if pp.Port.Type == intstr.String {
		return namedPortMatches(pp.Port.StrVal, proto, dst)
	}
	lo, hi := int(pp.Port.IntVal), int(pp.Port.IntVal)
	if pp.EndPort != nil {
		hi = int(*pp.EndPort)
	}
	if dst.Port >= lo && dst.Port <= hi {
		return yes
	}
	return no
}

func protocolOf(dst Destination) corev1.Protocol {
	if dst.Protocol == "" {
		return corev1.ProtocolTCP
	}
	return dst.Protocol
}

// namedPortMatches resolves a named port on the destination pod's
// containers; a pod whose ports the inputs do not list is unknown.
func namedPortMatches(name string, proto corev1.Protocol, dst Destination) match {
	if dst.Pod == nil {
		return no
	}
	if dst.Pod.Ports == nil {
		return maybe
	}
	for _, cp := range dst.Pod.Ports {
		cpProto := cp.Protocol
		if cpProto == "" {
			cpProto = corev1.ProtocolTCP
		}
		if cp.Name == name && cpProto == proto && int(cp.ContainerPort) == dst.Port {
			return yes
		}
	}
	return no
}

// peerMatches reads one NetworkPolicyPeer (section "Behavior of to: and
// from: selectors"): podSelector alone picks pods of the policy's
// namespace, namespaceSelector alone every pod of the selected namespaces,
// both together the selected pods of the selected namespaces; ipBlock
// picks addresses, minus except. Selectors never pick an address outside
// the cluster's pods.
func (c *Cluster) peerMatches(p *Policy, peer *networkingv1.NetworkPolicyPeer, dst Destination) match {
	if peer.IPBlock != nil {
		return ipBlockMatches(peer.IPBlock, dst)
	}
	if dst.Pod == nil {
		return no
	}
	if peer.NamespaceSelector == nil {
		if dst.Pod.Namespace != p.Namespace {
			return no
		}
	} else if !c.selector(peer.NamespaceSelector).Matches(c.namespaceLabels(dst.Pod.Namespace)) {
		return no
	}
	if peer.PodSelector != nil && !c.selector(peer.PodSelector).Matches(labels.Set(dst.Pod.Labels)) {
		return no
	}
	return yes
}

// ipBlockMatches: "ipBlock: This selects particular IP CIDR ranges to allow
// as ingress sources or egress destinations. These should be cluster-external
// IPs, since Pod IPs are ephemeral and unpredictable"; whether it also
// applies to pod addresses is left to the implementation, so on a pod it is
// at most unknown.
func ipBlockMatches(b *networkingv1.IPBlock, dst Destination) match {
	if !dst.IP.IsValid() || !InBlock(b, dst.IP) {
		return no
	}
	if dst.Pod != nil {
		return maybe
	}
	return yes
}

// InBlock says whether addr is in the block's cidr and in none of its
// except ranges.
func InBlock(b *networkingv1.IPBlock, addr netip.Addr) bool {
	cidr, err := netip.ParsePrefix(b.CIDR)
	if err != nil || !cidr.Contains(addr) {
		return false
	}
	for _, e := range b.Except {
		if ex, err := netip.ParsePrefix(e); err == nil && ex.Contains(addr) {
			return false
		}
	}
	return true
}
