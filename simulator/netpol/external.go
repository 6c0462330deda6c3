package netpol

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"go4.org/netipx"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// MaxRegions bounds the work of External: the address ranges times the
// port ranges the policies name, each evaluated once. Policies that name
// more (thousands of CIDRs and ports in one namespace) give Unknown, with a
// reason, instead of an unbounded computation.
const MaxRegions = 50_000

// Opening is what one rule opens towards addresses outside the cluster's
// pods: a set of addresses on some ports.
type Opening struct {
	// By is the rule: "namespace/name rule i", an admin tier's
	// "AdminNetworkPolicy name rule i", or "not isolated".
	By string
	// Set is the addresses; Ports the ports, as text ("any port" or
	// "TCP 443, UDP 53").
	Set   *netipx.IPSet
	Ports string
}

// Text renders the opening as "prefixes ports (rule)".
func (o Opening) Text() string {
	var pre []string
	for _, p := range o.Set.Prefixes() {
		pre = append(pre, p.String())
	}
	return fmt.Sprintf("%s %s (%s)", strings.Join(pre, ","), o.Ports, o.By)
}

// External is a source's access to every address outside the cluster's
// pods.
type External struct {
	// Reach sums it up.
	Reach Reach
	// Isolating are the NetworkPolicies that surely select the source for
	// egress; MaybeIsolating the ones that select it by unknown labels.
	Isolating, MaybeIsolating []string
	// Openings are what is allowed, by rule; empty when Reach is Direct
	// because nothing isolates the source.
	Openings []Opening
	// DeniedBy are the admin tiers' rules that deny some of it.
	DeniedBy []string
	// Why explains an Unknown reach.
	Why string
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

// PortFilter restricts External to one protocol and port.
type PortFilter struct {
	Protocol corev1.Protocol
	Port     int
}

var protocols = []corev1.Protocol{corev1.ProtocolTCP, corev1.ProtocolUDP, corev1.ProtocolSCTP}

// SetBudget bounds the regions all External calls of this cluster
// evaluate together; past it they answer Unknown with a reason.
func (c *Cluster) SetBudget(regions int) { c.budget = &regions }

// SetInCluster names addresses that are in the cluster without being a
// pod's (the API server's endpoints): External leaves them out, as they
// are not hosts outside the cluster.
// The namespace-wide answers computed so far depend on it, so they go.
func (c *Cluster) SetInCluster(set *netipx.IPSet) {
	c.inCluster = set
	clear(c.externals)
}

// External computes src's access to every address outside the cluster's
// pods, on every port (or only on `only`, when set). The address space and
// the ports are cut at every boundary a policy names (ipBlock cidr and
// except, AdminNetworkPolicy networks, port numbers and ranges): within one
// region every rule answers the same, so one Evaluate per region is the
// exact answer for all of it.
func (c *Cluster) External(src Source, only *PortFilter) External {
	// A namespace's answer is asked for by its rows and again by the
	// findings; it depends on nothing else, so it is computed once.
	if src.Pod == nil {
		key := externalKey{src.Namespace, only != nil, PortFilter{}}
		if only != nil {
			key.only = *only
		}
		if e, ok := c.externals[key]; ok {
			return e
		}
		e := c.external(src, only)
		if c.externals == nil {
			c.externals = map[externalKey]External{}
		}
		c.externals[key] = e
		return e
	}
	return c.external(src, only)
}

// externalKey identifies a namespace-wide External.
type externalKey struct {
	namespace string
	filtered  bool
	only      PortFilter
}

func (c *Cluster) external(src Source, only *PortFilter) External {
	e := External{}
	for _, p := range c.byNamespace[src.Namespace] {
		if !HasEgress(&p.Spec) {
			continue
		}
		switch c.selects(p, src) {
		case yes:
			e.Isolating = append(e.Isolating, p.Ref())
		case maybe:
			e.MaybeIsolating = append(e.MaybeIsolating, p.Ref())
		}
	}
	if src.Pod != nil && src.Pod.HostNetwork {
		e.Reach, e.Why = Unknown, "a hostNetwork pod: whether NetworkPolicy applies to it is up to the implementation"
		return e
	}
	if len(e.Isolating) == 0 && len(e.MaybeIsolating) == 0 && len(c.admin) == 0 && c.baseline == nil {
		e.Reach = Direct
		return e
	}
	addrs, ports := c.cuts(src.Namespace, only)
	n := 0
	for _, pr := range ports {
		n += len(pr)
	}
	if len(addrs)*n > MaxRegions {
		e.Reach = Unknown
		e.Why = fmt.Sprintf("the policies name %d address ranges and %d port ranges, more than the %d regions the simulator enumerates", len(addrs), n, MaxRegions)
		return e
	}
	if c.budget != nil {
		if *c.budget < len(addrs)*n {
			e.Reach = Unknown
			e.Why = "the simulation's budget for NetworkPolicy regions ran out before these sources"
			return e
		}
		*c.budget -= len(addrs) * n
	}
	e.evaluate(c, src, addrs, ports)
	return e
}

// portRange is an inclusive range of ports.
type portRange struct{ lo, hi int }

// cuts returns the address regions and, per protocol, the port regions.
func (c *Cluster) cuts(ns string, only *PortFilter) ([]netipx.IPRange, map[corev1.Protocol][]portRange) {
	bounds := []netip.Addr{netip.IPv4Unspecified(), netip.IPv6Unspecified()}
	addPrefix := func(p netip.Prefix) {
		r := netipx.RangeOfPrefix(p)
		bounds = append(bounds, r.From())
		if next := r.To().Next(); next.IsValid() && next.Is4() == r.To().Is4() {
			bounds = append(bounds, next)
		}
	}
	portBounds := map[corev1.Protocol][]int{}
	addPort := func(proto corev1.Protocol, lo, hi int) {
		portBounds[proto] = append(portBounds[proto], lo, hi+1)
	}
	for _, p := range c.byNamespace[ns] {
		for _, r := range p.Spec.Egress {
			for _, peer := range r.To {
				if peer.IPBlock == nil {
					continue
				}
				addPrefix(netip.MustParsePrefix(peer.IPBlock.CIDR).Masked())
				for _, x := range peer.IPBlock.Except {
					addPrefix(netip.MustParsePrefix(x).Masked())
				}
			}
			for _, pp := range r.Ports {
				if pp.Port == nil || pp.Port.Type == intstr.String {
					continue
				}
				proto := corev1.ProtocolTCP
				if pp.Protocol != nil {
					proto = *pp.Protocol
				}
				hi := int(pp.Port.IntVal)
				if pp.EndPort != nil {
					hi = int(*pp.EndPort)
				}
				addPort(proto, int(pp.Port.IntVal), hi)
			}
		}
	}
	c.adminCuts(addPrefix, addPort)
	if c.inCluster != nil {
		for _, p := range c.inCluster.Prefixes() {
			addPrefix(p)
		}
	}
	return addrRegions(bounds), portRegions(portBounds, only)
}

// addrRegions turns region starts into ranges covering both families.
func addrRegions(bounds []netip.Addr) []netipx.IPRange {
	slices.SortFunc(bounds, func(a, b netip.Addr) int { return a.Compare(b) })
	bounds = slices.Compact(bounds)
	out := make([]netipx.IPRange, 0, len(bounds))
	for i, b := range bounds {
		end := netipx.RangeOfPrefix(netip.PrefixFrom(b, 0)).To() // the family's last address
		if i+1 < len(bounds) && bounds[i+1].Is4() == b.Is4() {
			end = bounds[i+1].Prev()
		}
		out = append(out, netipx.IPRangeFrom(b, end))
	}
	return out
}

// portRegions cuts 1-65535 of each protocol at the bounds.
func portRegions(bounds map[corev1.Protocol][]int, only *PortFilter) map[corev1.Protocol][]portRange {
	out := map[corev1.Protocol][]portRange{}
	for _, proto := range protocols {
		if only != nil {
			if proto == only.Protocol {
				out[proto] = []portRange{{only.Port, only.Port}}
			}
			continue
		}
		bs := append([]int{1}, bounds[proto]...)
		slices.Sort(bs)
		bs = slices.Compact(bs)
		for i, b := range bs {
			if b < 1 || b > 65535 {
				continue
			}
			hi := 65535
			if i+1 < len(bs) && bs[i+1]-1 < hi {
				hi = bs[i+1] - 1
			}
			out[proto] = append(out[proto], portRange{b, hi})
		}
	}
	return out
}

// evaluate answers every region and gathers the openings by rule.
func (e *External) evaluate(c *Cluster, src Source, addrs []netipx.IPRange, ports map[corev1.Protocol][]portRange) {
	type key struct {
		by    string
		proto corev1.Protocol
		ports portRange
	}
	sets := map[key]*netipx.IPSetBuilder{}
	var order []key
	allowedAll, some, depends := true, false, ""
	denied := map[string]bool{}
	for _, proto := range protocols {
		for _, pr := range ports[proto] {
			for _, ar := range addrs {
				if c.inCluster != nil && c.inCluster.Contains(ar.From()) {
					continue // not outside the cluster
				}
				r := c.Evaluate(src, Destination{IP: ar.From(), Port: pr.lo, Protocol: proto})
				switch r.Verdict {
				case Depends:
					depends = r.Why
					allowedAll = false
				case Denied:
					allowedAll = false
					if r.DeniedBy != "" {
						denied[r.DeniedBy] = true
					}
				case Allowed:
					some = true
					bys := r.AllowedBy
					if len(bys) == 0 {
						bys = []string{"not isolated"}
					}
					// Each rule gets the whole of what it opens, even
					// where another rule opens it too.
					for _, by := range bys {
						k := key{by, proto, pr}
						if sets[k] == nil {
							sets[k] = &netipx.IPSetBuilder{}
							order = append(order, k)
						}
						sets[k].AddRange(ar)
					}
				}
			}
		}
	}
	e.DeniedBy = slices.Sorted(func(yield func(string) bool) {
		for d := range denied {
			if !yield(d) {
				return
			}
		}
	})
	switch {
	case depends != "":
		e.Reach, e.Why = Unknown, depends
	case allowedAll && some:
		e.Reach = Direct
	case !some:
		e.Reach = Blocked
	default:
		e.Reach = Partial
	}
	e.Openings = mergeOpenings(order, func(i int) (string, corev1.Protocol, portRange, *netipx.IPSet) {
		k := order[i]
		set, _ := sets[k].IPSet()
		return k.by, k.proto, k.ports, set
	})
}

// mergeOpenings joins, per rule and address set, the port regions into
// one Opening: "any port" when they cover every port of every protocol.
func mergeOpenings[K any](order []K, get func(int) (string, corev1.Protocol, portRange, *netipx.IPSet)) []Opening {
	type group struct {
		by    string
		set   *netipx.IPSet
		ports map[corev1.Protocol][]portRange
	}
	var groups []*group
	index := map[string]*group{}
	for i := range order {
		by, proto, pr, set := get(i)
		k := by + "\x00" + fmt.Sprint(set.Prefixes())
		g := index[k]
		if g == nil {
			g = &group{by: by, set: set, ports: map[corev1.Protocol][]portRange{}}
			index[k] = g
			groups = append(groups, g)
		}
		g.ports[proto] = append(g.ports[proto], pr)
	}
	out := make([]Opening, 0, len(groups))
	for _, g := range groups {
		out = append(out, Opening{By: g.by, Set: g.set, Ports: portsText(g.ports)})
	}
	slices.SortStableFunc(out, func(a, b Opening) int { return strings.Compare(a.By, b.By) })
	return out
}

// portsText renders merged port regions: "any port", or "TCP 443, UDP 53".
func portsText(ports map[corev1.Protocol][]portRange) string {
	full := true
	var parts []string
	for _, proto := range protocols {
		rs := ports[proto]
		slices.SortFunc(rs, func(a, b portRange) int { return a.lo - b.lo })
		var merged []portRange
		for _, r := range rs {
			if n := len(merged); n > 0 && merged[n-1].hi+1 >= r.lo {
				merged[n-1].hi = max(merged[n-1].hi, r.hi)
				continue
			}
			merged = append(merged, r)
		}
		if len(merged) != 1 || merged[0] != (portRange{1, 65535}) {
			full = false
		}
		for _, r := range merged {
			if r.lo == r.hi {
				parts = append(parts, fmt.Sprintf("%s %d", proto, r.lo))
			} else {
				parts = append(parts, fmt.Sprintf("%s %d-%d", proto, r.lo, r.hi))
			}
		}
	}
	if full {
		return "any port"
	}
	return strings.Join(parts, ", ")
}
