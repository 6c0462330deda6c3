package netpol

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	npav1alpha1 "sigs.k8s.io/network-policy-api/apis/v1alpha1"
)

// AdminPolicy is a cluster-scoped AdminNetworkPolicy
// (policy.networking.k8s.io/v1alpha1): rules a cluster administrator sets
// above every NetworkPolicy.
type AdminPolicy struct {
	Name string
	Spec npav1alpha1.AdminNetworkPolicySpec
}

// BaselinePolicy is the BaselineAdminNetworkPolicy (there is at most one,
// named default): rules below every NetworkPolicy.
type BaselinePolicy struct {
	Name string
	Spec npav1alpha1.BaselineAdminNetworkPolicySpec
}

// SetAdmin adds the cluster-scoped tiers. The semantics encoded, from the
// network-policy-api reference (network-policy-api.sigs.k8s.io, API
// "AdminNetworkPolicySpec" and "AdminNetworkPolicyRuleAction"): "Policies
// with lower priority values have higher precedence, and are checked before
// policies with higher priority values"; within a policy "a rule that
// appears at the top of the egress rules would take the highest
// precedence"; Allow "allows the selected traffic (even if it would
// otherwise have been denied by NetworkPolicy)", Deny denies it, Pass skips
// the remaining ANP rules to the NetworkPolicies, and "If the pod is not
// selected by any NetworkPolicies then execution is passed to any
// BaselineAdminNetworkPolicies". Two policies of the same priority are
// ordered by name, as kube-network-policies does; the API leaves it open.
func (c *Cluster) SetAdmin(admin []*AdminPolicy, baseline *BaselinePolicy) error {
	for _, a := range admin {
		if err := validateAdmin(a); err != nil {
			return fmt.Errorf("AdminNetworkPolicy %s: %w", a.Name, err)
		}
	}
	c.admin = slices.Clone(admin)
	slices.SortStableFunc(c.admin, func(a, b *AdminPolicy) int {
		if a.Spec.Priority != b.Spec.Priority {
			return int(a.Spec.Priority - b.Spec.Priority)
		}
		return strings.Compare(a.Name, b.Name)
	})
	c.baseline = baseline
	return nil
}

func validateAdmin(a *AdminPolicy) error {
	if a.Spec.Priority < 0 || a.Spec.Priority > 1000 {
		return fmt.Errorf("spec.priority: %d is not between 0 and 1000", a.Spec.Priority)
	}
	for i, r := range a.Spec.Egress {
		switch r.Action {
		case npav1alpha1.AdminNetworkPolicyRuleActionAllow, npav1alpha1.AdminNetworkPolicyRuleActionDeny, npav1alpha1.AdminNetworkPolicyRuleActionPass:
		default:
			return fmt.Errorf("spec.egress[%d].action: %q is not Allow, Deny or Pass", i, r.Action)
		}
		for j, peer := range r.To {
			for k, n := range peer.Networks {
				if _, err := netip.ParsePrefix(string(n)); err != nil {
					return fmt.Errorf("spec.egress[%d].to[%d].networks[%d]: %q is not a CIDR", i, j, k, n)
				}
			}
		}
	}
	return nil
}

// tierResult is one tier's answer: a decision, Pass/no match, or unknown.
type tierResult struct {
	decided bool
	allow   bool
	unknown bool
	by      string
}

// adminEgress runs the AdminNetworkPolicies on a connection: the first rule
// that matches decides, in priority order.
func (c *Cluster) adminEgress(src Source, dst Destination) tierResult {
	for _, a := range c.admin {
		sel := c.subjectMatches(a.Spec.Subject, src)
		if sel == no {
			continue
		}
		for i, r := range a.Spec.Egress {
			m := and(sel, c.adminRuleMatches(r.To, r.Ports, dst))
			if m == no {
				continue
			}
			if m == maybe {
				return tierResult{unknown: true, by: fmt.Sprintf("AdminNetworkPolicy %s rule %d", a.Name, i)}
			}
			by := fmt.Sprintf("AdminNetworkPolicy %s rule %d", a.Name, i)
			switch r.Action {
			case npav1alpha1.AdminNetworkPolicyRuleActionAllow:
				return tierResult{decided: true, allow: true, by: by}
			case npav1alpha1.AdminNetworkPolicyRuleActionDeny:
				return tierResult{decided: true, by: by}
			default: // Pass: on to the NetworkPolicies
				return tierResult{by: by}
			}
		}
	}
	return tierResult{}
}

// baselineEgress runs the BaselineAdminNetworkPolicy, for sources no
// NetworkPolicy isolates.
func (c *Cluster) baselineEgress(src Source, dst Destination) tierResult {
	b := c.baseline
	if b == nil {
		return tierResult{}
	}
	sel := c.subjectMatches(b.Spec.Subject, src)
	if sel == no {
		return tierResult{}
	}
	for i, r := range b.Spec.Egress {
		m := and(sel, c.adminRuleMatches(basePeers(r.To), r.Ports, dst))
		if m == no {
			continue
		}
		by := fmt.Sprintf("BaselineAdminNetworkPolicy %s rule %d", b.Name, i)
		if m == maybe {
			return tierResult{unknown: true, by: by}
		}
		return tierResult{decided: true, allow: r.Action == npav1alpha1.BaselineAdminNetworkPolicyRuleActionAllow, by: by}
	}
	return tierResult{}
}

// subjectMatches selects the source: "Note that host-networked pods are
// not included in subject selection".
func (c *Cluster) subjectMatches(s npav1alpha1.AdminNetworkPolicySubject, src Source) match {
	if src.Pod != nil && src.Pod.HostNetwork {
		return no
	}
	nsLabels := c.namespaceLabels(src.Namespace)
	switch {
	case s.Namespaces != nil:
		if c.selector(s.Namespaces).Matches(nsLabels) {
			return yes
		}
		return no
	case s.Pods != nil:
		if !c.selector(&s.Pods.NamespaceSelector).Matches(nsLabels) {
			return no
		}
		return c.podLabelsMatch(&s.Pods.PodSelector, src.Pod)
	}
	return no
}

// podLabelsMatch matches a pod selector on a pod whose labels may be
// unknown (nil pod).
func (c *Cluster) podLabelsMatch(sel *metav1.LabelSelector, pod *Pod) match {
	if pod == nil {
		if len(sel.MatchLabels) == 0 && len(sel.MatchExpressions) == 0 {
			return yes
		}
		return maybe
	}
	if c.selector(sel).Matches(labels.Set(pod.Labels)) {
		return yes
	}
	return no
}

// adminRuleMatches: "If any element matches the destination of outgoing
// traffic then the specified action is applied"; "If Ports is not set then
// the rule does not filter traffic via port".
func (c *Cluster) adminRuleMatches(to []npav1alpha1.AdminNetworkPolicyEgressPeer, ports *[]npav1alpha1.AdminNetworkPolicyPort, dst Destination) match {
	pm := yes
	if ports != nil {
		pm = no
		for _, p := range *ports {
			pm = or(pm, adminPortMatches(p, dst))
		}
	}
	if pm == no {
		return no
	}
	peers := no
	for _, peer := range to {
		peers = or(peers, c.adminPeerMatches(peer, dst))
	}
	return and(pm, peers)
}

func adminPortMatches(p npav1alpha1.AdminNetworkPolicyPort, dst Destination) match {
	proto := protocolOf(dst)
	switch {
	case p.PortNumber != nil:
		if adminProtocol(p.PortNumber.Protocol) == proto && int(p.PortNumber.Port) == dst.Port {
			return yes
		}
	case p.PortRange != nil:
		if adminProtocol(p.PortRange.Protocol) == proto && dst.Port >= int(p.PortRange.Start) && dst.Port <= int(p.PortRange.End) {
			return yes
		}
	case p.NamedPort != nil:
		return namedPortMatches(*p.NamedPort, proto, dst)
	}
	return no
}

// adminProtocol is a portNumber's or portRange's protocol: "If not
// specified, this field defaults to TCP" (Port and PortRange); a manifest
// read before the API server defaults it leaves it empty.
func adminProtocol(p corev1.Protocol) corev1.Protocol {
	if p == "" {
		return corev1.ProtocolTCP
	}
	return p
}

// adminPeerMatches reads one egress peer. Networks "will be checked against
// the rule as well" for cluster-internal traffic, so a CIDR matches pod
// addresses too. Nodes and DomainNames depend on addresses the inputs do
// not have (node addresses; what the names resolve to), so they are unknown
// on any address that is not a known pod's.
func (c *Cluster) adminPeerMatches(peer npav1alpha1.AdminNetworkPolicyEgressPeer, dst Destination) match {
	switch {
	case peer.Namespaces != nil:
		if dst.Pod != nil && c.selector(peer.Namespaces).Matches(c.namespaceLabels(dst.Pod.Namespace)) {
			return yes
		}
	case peer.Pods != nil:
		if dst.Pod != nil && c.selector(&peer.Pods.NamespaceSelector).Matches(c.namespaceLabels(dst.Pod.Namespace)) {
			return c.podLabelsMatch(&peer.Pods.PodSelector, dst.Pod)
		}
	case len(peer.Networks) > 0:
		for _, n := range peer.Networks {
			if p, err := netip.ParsePrefix(string(n)); err == nil && dst.IP.IsValid() && p.Contains(dst.IP) {
				return yes
			}
		}
	case peer.Nodes != nil || len(peer.DomainNames) > 0:
		if dst.Pod == nil {
			return maybe
		}
	}
	return no
}

// adminCuts lists the address prefixes and ports the admin tiers' rules
// name, for the regions External enumerates.
func (c *Cluster) adminCuts(add func(netip.Prefix), addPort func(proto corev1.Protocol, lo, hi int)) {
	rules := func(to []npav1alpha1.AdminNetworkPolicyEgressPeer, ports *[]npav1alpha1.AdminNetworkPolicyPort) {
		for _, peer := range to {
			for _, n := range peer.Networks {
				if p, err := netip.ParsePrefix(string(n)); err == nil {
					add(p.Masked())
				}
			}
		}
		if ports == nil {
			return
		}
		for _, p := range *ports {
			switch {
			case p.PortNumber != nil:
				addPort(adminProtocol(p.PortNumber.Protocol), int(p.PortNumber.Port), int(p.PortNumber.Port))
			case p.PortRange != nil:
				addPort(adminProtocol(p.PortRange.Protocol), int(p.PortRange.Start), int(p.PortRange.End))
			}
		}
	}
	for _, a := range c.admin {
		for _, r := range a.Spec.Egress {
			rules(r.To, r.Ports)
		}
	}
	if c.baseline != nil {
		for _, r := range c.baseline.Spec.Egress {
			rules(basePeers(r.To), r.Ports)
		}
	}
}

// basePeers reads baseline peers as admin ones: the same fields, without
// domain names.
func basePeers(ps []npav1alpha1.BaselineAdminNetworkPolicyEgressPeer) []npav1alpha1.AdminNetworkPolicyEgressPeer {
	out := make([]npav1alpha1.AdminNetworkPolicyEgressPeer, len(ps))
	for i, p := range ps {
		out[i] = npav1alpha1.AdminNetworkPolicyEgressPeer{Namespaces: p.Namespaces, Pods: p.Pods, Nodes: p.Nodes, Networks: p.Networks}
	}
	return out
}
