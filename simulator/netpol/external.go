package netpol

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"go4.org/netipx"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// Grant is one egress rule's opening towards addresses outside the
// cluster's pods: a range, minus its exceptions, on some ports.
type Grant struct {
	// Policy is "namespace/name"; Rule the index in spec.egress.
	Policy string
	Rule   int
	// Prefix and Except are the range; a rule without "to" opens
	// 0.0.0.0/0 and ::/0.
	Prefix netip.Prefix
	Except []netip.Prefix
	// Ports are the rule's numbered ports; empty means every port of every
	// protocol. Named ports are dropped: they only resolve on pods.
	Ports []networkingv1.NetworkPolicyPort
	// Certain is false when the policy selects the source by pod labels
	// the inputs do not have.
	Certain bool
}

// Text renders the grant as "range except …, ports (policy rule i)".
func (g Grant) Text() string {
	var b strings.Builder
	b.WriteString(g.Prefix.String())
	if len(g.Except) > 0 {
		ex := make([]string, len(g.Except))
		for i, e := range g.Except {
			ex[i] = e.String()
		}
		b.WriteString(" except " + strings.Join(ex, ","))
	}
	b.WriteString(" " + PortsText(g.Ports))
	fmt.Fprintf(&b, " (%s rule %d)", g.Policy, g.Rule)
	return b.String()
}

// PortsText renders a rule's ports: "any port", or "TCP 443, UDP 53-55".
func PortsText(ports []networkingv1.NetworkPolicyPort) string {
	if len(ports) == 0 {
		return "any port"
	}
	out := make([]string, len(ports))
	for i, p := range ports {
		proto := corev1.ProtocolTCP
		if p.Protocol != nil {
			proto = *p.Protocol
		}
		switch {
		case p.Port == nil:
			out[i] = string(proto) + " any port"
		case p.EndPort != nil:
			out[i] = fmt.Sprintf("%s %d-%d", proto, p.Port.IntVal, *p.EndPort)
		default:
			out[i] = fmt.Sprintf("%s %s", proto, p.Port.String())
		}
	}
	return strings.Join(out, ", ")
}

// External is a source's access to every address outside the cluster's
// pods, as the NetworkPolicies of its namespace give it.
type External struct {
	// Isolating are the policies that surely select the source for
	// egress; MaybeIsolating the ones that select it by unknown labels.
	Isolating, MaybeIsolating []string
	// Grants are the openings of those policies' rules.
	Grants []Grant
}

// Reach sums up External.
type Reach string

// Reach values.
const (
	// Direct: every outside address on every port.
	Direct Reach = "direct"
	// Partial: some ranges or ports only.
	Partial Reach = "partial"
	// Blocked: nothing outside the cluster's pods.
	Blocked Reach = "blocked"
	// Unknown: pod labels the inputs do not have decide.
	Unknown Reach = "depends"
)

// External computes src's access to addresses outside the cluster's pods,
// on any port: the same rules as Evaluate, on every such address at once.
func (c *Cluster) External(src Source) External {
	var e External
	if src.Pod != nil && src.Pod.HostNetwork {
		e.MaybeIsolating = []string{"(hostNetwork pod)"}
		return e
	}
	for _, p := range c.byNamespace[src.Namespace] {
		if !HasEgress(&p.Spec) {
			continue
		}
		sel := c.selects(p, src)
		switch sel {
		case no:
			continue
		case yes:
			e.Isolating = append(e.Isolating, p.Ref())
		default:
			e.MaybeIsolating = append(e.MaybeIsolating, p.Ref())
		}
		for i := range p.Spec.Egress {
			e.Grants = append(e.Grants, ruleGrants(p, i, sel == yes)...)
		}
	}
	return e
}

func ruleGrants(p *Policy, i int, certain bool) []Grant {
	r := &p.Spec.Egress[i]
	var ports []networkingv1.NetworkPolicyPort
	for _, pp := range r.Ports {
		if pp.Port != nil && pp.Port.Type == intstr.String {
			continue // a named port resolves only on a pod
		}
		ports = append(ports, pp)
	}
	if len(r.Ports) > 0 && len(ports) == 0 {
		return nil
	}
	g := Grant{Policy: p.Ref(), Rule: i, Ports: ports, Certain: certain}
	if len(r.To) == 0 {
		v4, v6 := g, g
		v4.Prefix, v6.Prefix = netip.MustParsePrefix("0.0.0.0/0"), netip.MustParsePrefix("::/0")
		return []Grant{v4, v6}
	}
	var out []Grant
	for _, peer := range r.To {
		if peer.IPBlock == nil {
			continue // selectors pick pods only
		}
		pg := g
		pg.Prefix = netip.MustParsePrefix(peer.IPBlock.CIDR).Masked()
		for _, e := range peer.IPBlock.Except {
			pg.Except = append(pg.Except, netip.MustParsePrefix(e).Masked())
		}
		out = append(out, pg)
	}
	return out
}

// Reach classifies the access: Direct when the source is not isolated, or
// when rules that surely apply open all of 0.0.0.0/0 and ::/0 on every
// port; Blocked when it is isolated and no rule opens anything outside;
// Unknown when unknown pod labels decide; Partial otherwise.
func (e External) Reach() Reach {
	if len(e.Isolating) == 0 && len(e.MaybeIsolating) == 0 {
		return Direct
	}
	if len(e.Isolating) == 0 {
		return Unknown // pods the label selectors miss are not isolated
	}
	if e.covers(true) {
		return Direct
	}
	for _, g := range e.Grants {
		if !g.Certain {
			return Unknown
		}
	}
	if len(e.Grants) == 0 {
		return Blocked
	}
	return Partial
}

// covers says whether the grants, all ports, open every address.
func (e External) covers(certainOnly bool) bool {
	var b netipx.IPSetBuilder
	for _, g := range e.Grants {
		if len(g.Ports) > 0 || certainOnly && !g.Certain {
			continue
		}
		b.AddSet(g.set())
	}
	set, err := b.IPSet()
	if err != nil {
		return false
	}
	return set.ContainsPrefix(netip.MustParsePrefix("0.0.0.0/0")) && set.ContainsPrefix(netip.MustParsePrefix("::/0"))
}

// Opened returns the union of the ranges the grants open on any port or on
// some ports, for findings about broad openings.
func (e External) Opened(keep func(Grant) bool) *netipx.IPSet {
	var b netipx.IPSetBuilder
	for _, g := range e.Grants {
		if keep(g) {
			b.AddSet(g.set())
		}
	}
	set, _ := b.IPSet()
	return set
}

// set is the grant's range minus its exceptions.
func (g Grant) set() *netipx.IPSet {
	var b netipx.IPSetBuilder
	b.AddPrefix(g.Prefix)
	for _, x := range g.Except {
		b.RemovePrefix(x)
	}
	set, _ := b.IPSet()
	return set
}

// SortGrants orders grants by policy and rule, for stable output.
func SortGrants(gs []Grant) {
	slices.SortStableFunc(gs, func(a, b Grant) int {
		if c := strings.Compare(a.Policy, b.Policy); c != 0 {
			return c
		}
		return a.Rule - b.Rule
	})
}
