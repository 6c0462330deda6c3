package netpoloracle

// The generator: fuzz bytes -> a small world the API server would accept
// (namespaces, pods, NetworkPolicies, AdminNetworkPolicies, a
// BaselineAdminNetworkPolicy) and a few connections to evaluate.
//
// The world is kept "as written" (what a manifest or kubectl get shows
// before defaulting: protocol omitted, policyTypes unset, egress: []), as
// the simulator reads manifests; apiDefaults turns it into what the API
// server stores, which is what kube-network-policies reads.

import (
	"fmt"
	"maps"
	"net"
	"net/netip"
	"slices"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
	npav1alpha1 "sigs.k8s.io/network-policy-api/apis/v1alpha1"

	"github.com/ambient-egress/ambient-egress-operator/simulator/netpol"
)

const nodeName = "node1"

// input reads choices from the fuzz input; past its end every choice is 0,
// so a short input is a small, simple world.
type input struct {
	data []byte
	i    int
}

func (b *input) next() byte {
	if b.i >= len(b.data) {
		return 0
	}
	v := b.data[b.i]
	b.i++
	return v
}

// intn is a choice in [0, n).
func (b *input) intn(n int) int {
	if n <= 1 {
		return 0
	}
	if n <= 256 {
		return int(b.next()) % n
	}
	return (int(b.next())<<8 | int(b.next())) % n
}

// between is a choice in [lo, hi].
func (b *input) between(lo, hi int) int { return lo + b.intn(hi-lo+1) }

// chance is true num times in den.
func (b *input) chance(num, den int) bool { return b.intn(den) < num }

func pick[T any](b *input, xs []T) T { return xs[b.intn(len(xs))] }

// Features a shape can focus on; a shape with none uses them all.
type feature uint32

const (
	fSelectors    feature = 1 << iota // podSelector / namespaceSelector peers
	fIPBlock                          // ipBlock peers, with except
	fNamedPort                        // named ports (NetworkPolicy and admin)
	fPortRange                        // port numbers, endPort, portRange
	fPolicyTypes                      // policyTypes / egress nil vs [] variants
	fANPNetworks                      // AdminNetworkPolicy networks peers
	fANPSelectors                     // AdminNetworkPolicy namespaces / pods peers
	fIPv6                             // IPv6 pods, addresses and CIDRs
	fUndefaulted                      // omitted protocols (API defaults them)
	fNodesDomains                     // nodes / domainNames admin peers
)

// shape is a hand-picked kind of world: counts and the features it
// stresses. The fuzz input's first byte picks one.
type shape struct {
	name                        string
	ns, pods, nps, anps         [2]int // min, max
	banp                        int    // 0 never, 1 sometimes, 2 always
	dstPod                      int    // 0 external address, 1 pod, 2 either
	focus                       feature
	hostNetworkSrc, sameNSFocus bool
}

var shapes = []shape{
	{name: "everything", ns: [2]int{2, 4}, pods: [2]int{2, 6}, nps: [2]int{0, 4}, anps: [2]int{0, 3}, banp: 1, dstPod: 2},
	{name: "everything, policies in the source namespace", ns: [2]int{2, 4}, pods: [2]int{2, 6}, nps: [2]int{1, 4}, anps: [2]int{0, 3}, banp: 1, dstPod: 2, sameNSFocus: true},
	{name: "no policy at all", ns: [2]int{2, 2}, pods: [2]int{2, 3}, dstPod: 2},
	{name: "ipBlock and except to outside addresses", ns: [2]int{2, 3}, pods: [2]int{2, 3}, nps: [2]int{1, 4}, dstPod: 0, focus: fIPBlock | fPortRange, sameNSFocus: true},
	{name: "ipBlock, IPv6", ns: [2]int{2, 3}, pods: [2]int{2, 4}, nps: [2]int{1, 3}, dstPod: 2, focus: fIPBlock | fIPv6, sameNSFocus: true},
	{name: "pod and namespace selectors to pods", ns: [2]int{2, 4}, pods: [2]int{3, 6}, nps: [2]int{1, 4}, dstPod: 1, focus: fSelectors, sameNSFocus: true},
	{name: "selectors and ports to pods", ns: [2]int{2, 4}, pods: [2]int{3, 6}, nps: [2]int{1, 4}, dstPod: 1, focus: fSelectors | fPortRange, sameNSFocus: true},
	{name: "named ports to pods", ns: [2]int{2, 3}, pods: [2]int{2, 5}, nps: [2]int{1, 3}, dstPod: 1, focus: fNamedPort | fSelectors, sameNSFocus: true},
	{name: "named ports to outside addresses", ns: [2]int{2, 3}, pods: [2]int{2, 3}, nps: [2]int{1, 3}, dstPod: 0, focus: fNamedPort | fIPBlock, sameNSFocus: true},
	{name: "port ranges", ns: [2]int{2, 2}, pods: [2]int{2, 4}, nps: [2]int{1, 3}, dstPod: 2, focus: fPortRange, sameNSFocus: true},
	{name: "policyTypes and empty egress variants", ns: [2]int{2, 3}, pods: [2]int{2, 4}, nps: [2]int{1, 4}, dstPod: 2, focus: fPolicyTypes | fIPBlock | fSelectors, sameNSFocus: true},
	{name: "omitted protocols", ns: [2]int{2, 3}, pods: [2]int{2, 4}, nps: [2]int{1, 3}, anps: [2]int{0, 2}, banp: 1, dstPod: 2, focus: fUndefaulted | fPortRange | fNamedPort | fANPNetworks | fANPSelectors | fIPBlock},
	{name: "ANP networks only", ns: [2]int{2, 3}, pods: [2]int{2, 3}, anps: [2]int{1, 3}, dstPod: 2, focus: fANPNetworks | fPortRange},
	{name: "ANP selectors only", ns: [2]int{2, 4}, pods: [2]int{3, 6}, anps: [2]int{1, 3}, dstPod: 1, focus: fANPSelectors | fPortRange},
	{name: "ANP over NetworkPolicies", ns: [2]int{2, 3}, pods: [2]int{2, 5}, nps: [2]int{1, 3}, anps: [2]int{1, 3}, dstPod: 2, sameNSFocus: true},
	{name: "ANP named ports", ns: [2]int{2, 3}, pods: [2]int{2, 5}, nps: [2]int{0, 2}, anps: [2]int{1, 3}, dstPod: 1, focus: fANPSelectors | fNamedPort},
	{name: "ANP nodes and domainNames", ns: [2]int{2, 3}, pods: [2]int{2, 4}, anps: [2]int{1, 2}, dstPod: 2, focus: fNodesDomains | fANPNetworks | fANPSelectors},
	{name: "Baseline alone", ns: [2]int{2, 3}, pods: [2]int{2, 4}, banp: 2, dstPod: 2},
	{name: "Baseline under NetworkPolicies", ns: [2]int{2, 3}, pods: [2]int{2, 5}, nps: [2]int{1, 3}, banp: 2, dstPod: 2, focus: fPolicyTypes | fSelectors | fIPBlock | fANPNetworks | fANPSelectors, sameNSFocus: true},
	{name: "all three tiers", ns: [2]int{2, 4}, pods: [2]int{2, 6}, nps: [2]int{1, 4}, anps: [2]int{1, 3}, banp: 2, dstPod: 2, sameNSFocus: true},
	{name: "IPv6 everything", ns: [2]int{2, 3}, pods: [2]int{2, 5}, nps: [2]int{0, 3}, anps: [2]int{0, 2}, banp: 1, dstPod: 2, focus: fIPv6 | fIPBlock | fANPNetworks | fSelectors | fPortRange},
	{name: "hostNetwork sources", ns: [2]int{2, 2}, pods: [2]int{2, 3}, nps: [2]int{1, 2}, anps: [2]int{0, 1}, dstPod: 2, hostNetworkSrc: true, sameNSFocus: true},
	{name: "many policies, one namespace", ns: [2]int{2, 2}, pods: [2]int{2, 4}, nps: [2]int{3, 4}, anps: [2]int{2, 3}, banp: 1, dstPod: 2, sameNSFocus: true},
}

// world is one generated world, as written.
type world struct {
	Shape      string
	Namespaces []genNamespace
	Pods       []*netpol.Pod
	Policies   []*netpol.Policy
	Admin      []*netpol.AdminPolicy
	Baseline   *netpol.BaselinePolicy
	Conns      []conn
}

type genNamespace struct {
	Name   string
	Labels map[string]string
}

// conn is one connection: from a pod to a pod (Dst) or to an address.
type conn struct {
	Src      *netpol.Pod
	Dst      *netpol.Pod
	DstIP    netip.Addr
	Port     int
	Protocol corev1.Protocol
}

func (w *world) nsLabels() map[string]map[string]string {
	out := map[string]map[string]string{}
	for _, n := range w.Namespaces {
		out[n.Name] = n.Labels
	}
	return out
}

type gen struct {
	b     *input
	s     shape
	w     *world
	addrs []netip.Addr // interesting addresses: pods', outside ones, CIDR edges
	ports []int        // interesting ports
}

// has says whether the shape uses a feature.
func (g *gen) has(f feature) bool { return g.s.focus == 0 || g.s.focus&f != 0 }

var (
	nsNames     = []string{"default", "kube-system", "prod", "dev", "istio-egress"}
	nsLabelVals = []labelKey{{"team", []string{"a", "b"}}, {"env", []string{"prod", "dev"}}}
	podLabels   = []labelKey{{"app", []string{"web", "db", "api"}}, {"role", []string{"frontend", "backend"}}}
	portNames   = []string{"http", "https", "dns", "metrics", "grpc-web"}
	portNumbers = []int{53, 80, 443, 8080, 8443, 5432, 9090}
	protocols   = []corev1.Protocol{corev1.ProtocolTCP, corev1.ProtocolUDP, corev1.ProtocolSCTP}
	outsideV4   = []string{"203.0.113.10", "198.51.100.7", "8.8.8.8", "10.96.0.1", "10.244.3.200", "192.168.1.1", "0.0.0.1", "255.255.255.255"}
	outsideV6   = []string{"2001:db8::10", "fd00:10:244::ff", "2606:4700::1111", "::1"}
)

type labelKey struct {
	key    string
	values []string
}

// generate builds a world from the fuzz input.
func generate(data []byte) *world {
	b := &input{data: data}
	s := shapes[b.intn(len(shapes))]
	g := &gen{b: b, s: s, w: &world{Shape: s.name}}
	g.namespaces()
	g.pods()
	for _, a := range outsideV4 {
		g.addrs = append(g.addrs, netip.MustParseAddr(a))
	}
	if g.has(fIPv6) {
		for _, a := range outsideV6 {
			g.addrs = append(g.addrs, netip.MustParseAddr(a))
		}
	}
	g.ports = slices.Clone(portNumbers)
	srcNS := g.w.Pods[0].Namespace // the first pod is the usual source
	for i := range b.between(s.nps[0], s.nps[1]) {
		ns := pick(b, g.w.Namespaces).Name
		if s.sameNSFocus && b.chance(3, 4) {
			ns = srcNS
		}
		g.w.Policies = append(g.w.Policies, &netpol.Policy{Namespace: ns, Name: fmt.Sprintf("np%d", i), Spec: g.npSpec()})
	}
	prios := []int32{0, 1, 5, 10, 20, 50, 100, 500, 999, 1000}
	for i := range b.between(s.anps[0], s.anps[1]) {
		var p int32
		for { // distinct priorities: the API leaves equal ones' order open
			p = pick(b, prios)
			if b.chance(1, 4) {
				p = int32(b.intn(1001))
			}
			if !slices.ContainsFunc(g.w.Admin, func(a *netpol.AdminPolicy) bool { return a.Spec.Priority == p }) {
				break
			}
			if b.i >= len(b.data) { // out of input: walk to a free one
				for slices.ContainsFunc(g.w.Admin, func(a *netpol.AdminPolicy) bool { return a.Spec.Priority == p }) {
					p = (p + 1) % 1001
				}
				break
			}
		}
		g.w.Admin = append(g.w.Admin, &netpol.AdminPolicy{Name: fmt.Sprintf("anp%d", i), Spec: g.anpSpec(p)})
	}
	if s.banp == 2 || (s.banp == 1 && b.chance(1, 3)) {
		g.w.Baseline = &netpol.BaselinePolicy{Name: "default", Spec: g.banpSpec()}
	}
	for range b.between(1, 4) {
		g.w.Conns = append(g.w.Conns, g.conn())
	}
	return g.w
}

func (g *gen) namespaces() {
	names := slices.Clone(nsNames)
	for range g.b.between(g.s.ns[0], g.s.ns[1]) {
		i := g.b.intn(len(names))
		n := genNamespace{Name: names[i], Labels: map[string]string{}}
		names = slices.Delete(names, i, i+1)
		for _, k := range nsLabelVals {
			if g.b.chance(2, 3) {
				n.Labels[k.key] = pick(g.b, k.values)
			}
		}
		g.w.Namespaces = append(g.w.Namespaces, n)
	}
}

func (g *gen) pods() {
	for i := range g.b.between(g.s.pods[0], g.s.pods[1]) {
		p := &netpol.Pod{Namespace: pick(g.b, g.w.Namespaces).Name, Name: fmt.Sprintf("pod%d", i), Labels: map[string]string{}}
		for _, k := range podLabels {
			if g.b.chance(2, 3) {
				p.Labels[k.key] = pick(g.b, k.values)
			}
		}
		if g.has(fIPv6) && g.b.chance(1, 3) {
			p.IP = netip.MustParseAddr(fmt.Sprintf("fd00:10:244::%x", 0x10+i))
		} else {
			p.IP = netip.MustParseAddr(fmt.Sprintf("10.244.%d.%d", g.b.intn(3), 10+i))
		}
		g.addrs = append(g.addrs, p.IP)
		p.Ports = []corev1.ContainerPort{} // known: none unless added
		names := slices.Clone(portNames)
		for range g.b.intn(4) {
			cp := corev1.ContainerPort{ContainerPort: int32(pick(g.b, portNumbers)), Protocol: pick(g.b, protocols)}
			if g.has(fUndefaulted) && g.b.chance(1, 3) {
				cp.Protocol = "" // defaults to TCP
			}
			if g.b.chance(3, 4) { // names are unique within a pod
				j := g.b.intn(len(names))
				cp.Name = names[j]
				names = slices.Delete(names, j, j+1)
			}
			// The API refuses two ports with the same number and protocol
			// in one container.
			if slices.ContainsFunc(p.Ports, func(o corev1.ContainerPort) bool {
				return o.ContainerPort == cp.ContainerPort && defaultProto(o.Protocol) == defaultProto(cp.Protocol)
			}) {
				continue
			}
			p.Ports = append(p.Ports, cp)
		}
		if g.s.hostNetworkSrc && i == 0 && g.b.chance(1, 2) {
			p.HostNetwork = true
		}
		g.w.Pods = append(g.w.Pods, p)
	}
}

func defaultProto(p corev1.Protocol) corev1.Protocol {
	if p == "" {
		return corev1.ProtocolTCP
	}
	return p
}

// selector is a label selector over keys (plus one key nothing carries,
// for NotIn / DoesNotExist). Empty selects everything.
func (g *gen) selector(keys []labelKey) *metav1.LabelSelector {
	s := &metav1.LabelSelector{}
	if g.b.chance(1, 3) {
		return s
	}
	keys = append(slices.Clone(keys), labelKey{"zone", []string{"z1"}})
	for range g.b.between(1, 2) {
		k := pick(g.b, keys)
		if g.b.chance(1, 2) {
			if s.MatchLabels == nil {
				s.MatchLabels = map[string]string{}
			}
			s.MatchLabels[k.key] = pick(g.b, k.values)
			continue
		}
		r := metav1.LabelSelectorRequirement{Key: k.key}
		switch g.b.intn(4) {
		case 0:
			r.Operator = metav1.LabelSelectorOpIn
		case 1:
			r.Operator = metav1.LabelSelectorOpNotIn
		case 2:
			r.Operator = metav1.LabelSelectorOpExists
		default:
			r.Operator = metav1.LabelSelectorOpDoesNotExist
		}
		if r.Operator == metav1.LabelSelectorOpIn || r.Operator == metav1.LabelSelectorOpNotIn {
			vals := slices.Clone(k.values)
			for range g.b.between(1, len(vals)) {
				j := g.b.intn(len(vals))
				r.Values = append(r.Values, vals[j])
				vals = slices.Delete(vals, j, j+1)
			}
		}
		s.MatchExpressions = append(s.MatchExpressions, r)
	}
	return s
}

func (g *gen) nsSelector() *metav1.LabelSelector {
	keys := slices.Clone(nsLabelVals)
	var names []string
	for _, n := range g.w.Namespaces {
		names = append(names, n.Name)
	}
	keys = append(keys, labelKey{netpol.NamespaceNameLabel, names})
	return g.selector(keys)
}

func (g *gen) podSelector() *metav1.LabelSelector { return g.selector(podLabels) }

// cidr is a masked prefix around an interesting address (CIDRs must be
// masked: the CRDs' CEL rule for networks; the simulator's and API
// server's parsing for ipBlock), recording its edges as new addresses.
func (g *gen) cidr() netip.Prefix {
	base := pick(g.b, g.addrs)
	if g.b.chance(1, 8) {
		base = netip.IPv4Unspecified()
		if g.has(fIPv6) && g.b.chance(1, 2) {
			base = netip.IPv6Unspecified()
		}
	}
	bits := pick(g.b, []int{0, 8, 12, 16, 24, 28, 30, 31, 32})
	if base.Is6() {
		bits = pick(g.b, []int{0, 16, 48, 64, 96, 112, 120, 127, 128})
	}
	p := netip.PrefixFrom(base, bits).Masked()
	g.edges(p)
	return p
}

// edges records a prefix's first and last addresses and their neighbors.
func (g *gen) edges(p netip.Prefix) {
	first := p.Addr()
	last := first
	for i := p.Bits(); i < first.BitLen(); i++ {
		last = setBit(last, i)
	}
	for _, a := range []netip.Addr{first, last, first.Prev(), last.Next()} {
		if a.IsValid() && !slices.Contains(g.addrs, a) {
			g.addrs = append(g.addrs, a)
		}
	}
}

func setBit(a netip.Addr, i int) netip.Addr {
	s := a.AsSlice()
	s[i/8] |= 0x80 >> (i % 8)
	out, _ := netip.AddrFromSlice(s)
	return out
}

// except is a strict subset of cidr ("except ... must be a strict subset
// of cidr": the IPBlock API reference), around an address inside it.
func (g *gen) except(cidr netip.Prefix) (netip.Prefix, bool) {
	if cidr.Bits() >= cidr.Addr().BitLen() {
		return netip.Prefix{}, false
	}
	var inside []netip.Addr
	for _, a := range g.addrs {
		if cidr.Contains(a) {
			inside = append(inside, a)
		}
	}
	base := cidr.Addr()
	if len(inside) > 0 && g.b.chance(3, 4) {
		base = pick(g.b, inside)
	}
	bits := g.b.between(cidr.Bits()+1, cidr.Addr().BitLen())
	if g.b.chance(1, 2) { // near the cidr's size: bigger holes
		bits = min(cidr.Bits()+1+g.b.intn(4), cidr.Addr().BitLen())
	}
	p := netip.PrefixFrom(base, bits).Masked()
	g.edges(p)
	return p, true
}

func (g *gen) npSpec() networkingv1.NetworkPolicySpec {
	spec := networkingv1.NetworkPolicySpec{PodSelector: *g.podSelector()}
	types := [][]networkingv1.PolicyType{nil, {networkingv1.PolicyTypeIngress}, {networkingv1.PolicyTypeEgress},
		{networkingv1.PolicyTypeIngress, networkingv1.PolicyTypeEgress}, {networkingv1.PolicyTypeEgress, networkingv1.PolicyTypeIngress}}
	if g.has(fPolicyTypes) {
		spec.PolicyTypes = slices.Clone(pick(g.b, types))
	} else {
		spec.PolicyTypes = []networkingv1.PolicyType{networkingv1.PolicyTypeEgress}
	}
	switch {
	case g.has(fPolicyTypes) && g.b.chance(1, 6):
		// nil: no egress rule
	case g.has(fPolicyTypes) && g.b.chance(1, 5):
		spec.Egress = []networkingv1.NetworkPolicyEgressRule{} // as written: egress: []
	default:
		for range g.b.between(1, 3) {
			spec.Egress = append(spec.Egress, g.npRule())
		}
	}
	return spec
}

func (g *gen) npRule() networkingv1.NetworkPolicyEgressRule {
	var r networkingv1.NetworkPolicyEgressRule
	switch {
	case g.b.chance(1, 5):
	case g.b.chance(1, 12):
		r.To = []networkingv1.NetworkPolicyPeer{}
	default:
		for range g.b.between(1, 3) {
			if peer, ok := g.npPeer(); ok {
				r.To = append(r.To, peer)
			}
		}
	}
	switch {
	case g.b.chance(1, 3):
	case g.b.chance(1, 12):
		r.Ports = []networkingv1.NetworkPolicyPort{}
	default:
		for range g.b.between(1, 2) {
			r.Ports = append(r.Ports, g.npPort())
		}
	}
	return r
}

func (g *gen) npPeer() (networkingv1.NetworkPolicyPeer, bool) {
	var kinds []int
	if g.has(fSelectors) {
		kinds = append(kinds, 0, 1, 2)
	}
	if g.has(fIPBlock) {
		kinds = append(kinds, 3, 3)
	}
	if len(kinds) == 0 {
		return networkingv1.NetworkPolicyPeer{}, false
	}
	switch pick(g.b, kinds) {
	case 0:
		return networkingv1.NetworkPolicyPeer{PodSelector: g.podSelector()}, true
	case 1:
		return networkingv1.NetworkPolicyPeer{NamespaceSelector: g.nsSelector()}, true
	case 2:
		return networkingv1.NetworkPolicyPeer{PodSelector: g.podSelector(), NamespaceSelector: g.nsSelector()}, true
	}
	cidr := g.cidr()
	block := &networkingv1.IPBlock{CIDR: cidr.String()}
	for range g.b.intn(3) {
		if e, ok := g.except(cidr); ok {
			block.Except = append(block.Except, e.String())
		}
	}
	return networkingv1.NetworkPolicyPeer{IPBlock: block}, true
}

func (g *gen) portNumber() int {
	if g.b.chance(1, 5) {
		return g.b.between(1, 65535)
	}
	return pick(g.b, portNumbers)
}

func (g *gen) npPort() networkingv1.NetworkPolicyPort {
	var pp networkingv1.NetworkPolicyPort
	if !g.has(fUndefaulted) || g.b.chance(2, 3) {
		pp.Protocol = new(pick(g.b, protocols))
	}
	switch {
	case g.b.chance(1, 5):
		// every port of the protocol
	case g.has(fNamedPort) && g.b.chance(1, 3):
		pp.Port = new(intstr.FromString(pick(g.b, portNames)))
	default:
		p := g.portNumber()
		pp.Port = new(intstr.FromInt32(int32(p)))
		g.ports = append(g.ports, p, p-1, p+1)
		if g.has(fPortRange) && g.b.chance(1, 3) {
			end := min(p+pick(g.b, []int{0, 1, 10, 1000, 65535}), 65535)
			pp.EndPort = new(int32(end))
			g.ports = append(g.ports, end, end+1)
		}
	}
	return pp
}

func (g *gen) subject() npav1alpha1.AdminNetworkPolicySubject {
	if g.b.chance(1, 2) {
		return npav1alpha1.AdminNetworkPolicySubject{Namespaces: g.nsSelector()}
	}
	return npav1alpha1.AdminNetworkPolicySubject{Pods: &npav1alpha1.NamespacedPod{NamespaceSelector: *g.nsSelector(), PodSelector: *g.podSelector()}}
}

// adminPeer is one AdminNetworkPolicy egress peer; baseline peers have no
// domainNames.
func (g *gen) adminPeer(baseline bool) npav1alpha1.AdminNetworkPolicyEgressPeer {
	var kinds []int
	if g.has(fANPSelectors) {
		kinds = append(kinds, 0, 1)
	}
	if g.has(fANPNetworks) {
		kinds = append(kinds, 2, 2)
	}
	if g.has(fNodesDomains) {
		if g.s.focus != 0 || g.b.chance(1, 8) {
			kinds = append(kinds, 3)
			if !baseline {
				kinds = append(kinds, 4)
			}
		}
	}
	if len(kinds) == 0 {
		kinds = []int{2}
	}
	switch pick(g.b, kinds) {
	case 0:
		return npav1alpha1.AdminNetworkPolicyEgressPeer{Namespaces: g.nsSelector()}
	case 1:
		return npav1alpha1.AdminNetworkPolicyEgressPeer{Pods: &npav1alpha1.NamespacedPod{NamespaceSelector: *g.nsSelector(), PodSelector: *g.podSelector()}}
	case 3:
		// No Node objects exist in the oracle's world, so this peer
		// matches no pod there; the simulator says the same for pods and
		// Depends for other addresses (it has no node addresses).
		return npav1alpha1.AdminNetworkPolicyEgressPeer{Nodes: g.selector([]labelKey{{"node-role.kubernetes.io/worker", []string{""}}})}
	case 4:
		return npav1alpha1.AdminNetworkPolicyEgressPeer{DomainNames: []npav1alpha1.DomainName{pick(g.b, []npav1alpha1.DomainName{"example.com", "*.example.org"})}}
	}
	var nets []npav1alpha1.CIDR
	for range g.b.between(1, 3) {
		nets = append(nets, npav1alpha1.CIDR(g.cidr().String()))
	}
	return npav1alpha1.AdminNetworkPolicyEgressPeer{Networks: nets}
}

// adminPorts is nil (every port) or 1-2 ports; named ports only when no
// peer is networks / nodes / domainNames (the CRDs' CEL rule "networks/
// nodes/domainNames peer cannot be set with namedPorts").
func (g *gen) adminPorts(to []npav1alpha1.AdminNetworkPolicyEgressPeer) *[]npav1alpha1.AdminNetworkPolicyPort {
	if g.b.chance(1, 2) {
		return nil
	}
	namedOK := g.has(fNamedPort) && !slices.ContainsFunc(to, func(p npav1alpha1.AdminNetworkPolicyEgressPeer) bool {
		return len(p.Networks) > 0 || p.Nodes != nil || len(p.DomainNames) > 0
	})
	proto := func() corev1.Protocol {
		if g.has(fUndefaulted) && g.b.chance(1, 3) {
			return "" // as written; the CRD defaults it to TCP
		}
		return pick(g.b, protocols)
	}
	var out []npav1alpha1.AdminNetworkPolicyPort
	for range g.b.between(1, 2) {
		switch {
		case namedOK && g.b.chance(1, 3):
			out = append(out, npav1alpha1.AdminNetworkPolicyPort{NamedPort: new(pick(g.b, portNames))})
		case g.has(fPortRange) && g.b.chance(1, 2):
			start := g.portNumber()
			if start == 65535 {
				start = 65534
			}
			end := min(start+pick(g.b, []int{1, 10, 1000, 65535}), 65535) // start < end: the CRDs' CEL rule
			out = append(out, npav1alpha1.AdminNetworkPolicyPort{PortRange: &npav1alpha1.PortRange{Protocol: proto(), Start: int32(start), End: int32(end)}})
			g.ports = append(g.ports, start-1, start, end, end+1)
		default:
			p := g.portNumber()
			out = append(out, npav1alpha1.AdminNetworkPolicyPort{PortNumber: &npav1alpha1.Port{Protocol: proto(), Port: int32(p)}})
			g.ports = append(g.ports, p)
		}
	}
	return &out
}

func (g *gen) anpSpec(priority int32) npav1alpha1.AdminNetworkPolicySpec {
	spec := npav1alpha1.AdminNetworkPolicySpec{Priority: priority, Subject: g.subject()}
	actions := []npav1alpha1.AdminNetworkPolicyRuleAction{npav1alpha1.AdminNetworkPolicyRuleActionAllow,
		npav1alpha1.AdminNetworkPolicyRuleActionDeny, npav1alpha1.AdminNetworkPolicyRuleActionPass}
	for range g.b.between(0, 3) {
		r := npav1alpha1.AdminNetworkPolicyEgressRule{Action: pick(g.b, actions)}
		for range g.b.between(1, 2) {
			r.To = append(r.To, g.adminPeer(false))
		}
		r.Ports = g.adminPorts(r.To)
		spec.Egress = append(spec.Egress, r)
	}
	return spec
}

func (g *gen) banpSpec() npav1alpha1.BaselineAdminNetworkPolicySpec {
	spec := npav1alpha1.BaselineAdminNetworkPolicySpec{Subject: g.subject()}
	actions := []npav1alpha1.BaselineAdminNetworkPolicyRuleAction{npav1alpha1.BaselineAdminNetworkPolicyRuleActionAllow,
		npav1alpha1.BaselineAdminNetworkPolicyRuleActionDeny}
	for range g.b.between(1, 3) {
		r := npav1alpha1.BaselineAdminNetworkPolicyEgressRule{Action: pick(g.b, actions)}
		var to []npav1alpha1.AdminNetworkPolicyEgressPeer
		for range g.b.between(1, 2) {
			p := g.adminPeer(true)
			to = append(to, p)
			r.To = append(r.To, npav1alpha1.BaselineAdminNetworkPolicyEgressPeer{Namespaces: p.Namespaces, Pods: p.Pods, Nodes: p.Nodes, Networks: p.Networks})
		}
		r.Ports = g.adminPorts(to)
		spec.Egress = append(spec.Egress, r)
	}
	return spec
}

func (g *gen) conn() conn {
	c := conn{Src: g.w.Pods[0], Protocol: pick(g.b, protocols)}
	if g.b.chance(1, 3) {
		c.Src = pick(g.b, g.w.Pods)
	}
	var dsts []*netpol.Pod // a hostNetwork pod's address is its node's
	for _, p := range g.w.Pods {
		if !p.HostNetwork {
			dsts = append(dsts, p)
		}
	}
	toPod := g.s.dstPod == 1 || (g.s.dstPod == 2 && g.b.chance(1, 2))
	if toPod && len(dsts) > 0 {
		c.Dst = pick(g.b, dsts)
		c.DstIP = c.Dst.IP
		if len(c.Dst.Ports) > 0 && g.b.chance(1, 2) {
			cp := pick(g.b, c.Dst.Ports)
			c.Port, c.Protocol = int(cp.ContainerPort), defaultProto(cp.Protocol)
			return c
		}
	} else {
		for { // an address that is no pod's
			c.DstIP = pick(g.b, g.addrs)
			if !slices.ContainsFunc(g.w.Pods, func(p *netpol.Pod) bool { return p.IP == c.DstIP }) {
				break
			}
			if g.b.i >= len(g.b.data) {
				c.DstIP = netip.MustParseAddr(outsideV4[0])
				break
			}
		}
	}
	c.Port = pick(g.b, g.ports)
	if c.Port < 1 || c.Port > 65535 {
		c.Port = 443
	}
	return c
}

// apiDefaults is the world as the API server stores it, for the oracle:
//   - Namespaces carry kubernetes.io/metadata.name (set by the API server).
//   - A NetworkPolicy's policyTypes default to Ingress, plus Egress when
//     it has egress rules ("If no policyTypes are specified on a
//     NetworkPolicy then by default Ingress will always be set and Egress
//     will be set if the NetworkPolicy has any egress rules", NetworkPolicy
//     concepts page); kube-network-policies does not default them.
//   - egress: [] reads back as absent: NetworkPolicy is stored as protobuf,
//     where an empty list and no list are the same. kube-network-policies
//     treats a non-nil empty list as "allow all", so it must not see one.
//   - A port's protocol defaults to TCP ("If not specified, this field
//     defaults to TCP", NetworkPolicyPort; "+kubebuilder:default=TCP" on
//     the admin Port and PortRange; ContainerPort likewise);
//     kube-network-policies dereferences a nil NetworkPolicyPort.Protocol.
//   - Every policy gets ingress: [{}]: evaluatePacket also runs the
//     destination pod's ingress tiers, and the simulator answers egress
//     only; allowing all ingress leaves the egress verdict alone.
func (w *world) apiDefaults() *oracleWorld {
	out := &oracleWorld{}
	for _, n := range w.Namespaces {
		labels := map[string]string{netpol.NamespaceNameLabel: n.Name}
		maps.Copy(labels, n.Labels)
		out.Namespaces = append(out.Namespaces, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: n.Name, Labels: labels}})
	}
	for _, p := range w.Pods {
		var ports []corev1.ContainerPort
		for _, cp := range p.Ports {
			cp.Protocol = defaultProto(cp.Protocol)
			ports = append(ports, cp)
		}
		out.Pods = append(out.Pods, &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Namespace: p.Namespace, Name: p.Name, Labels: p.Labels},
			Spec:       corev1.PodSpec{NodeName: nodeName, HostNetwork: p.HostNetwork, Containers: []corev1.Container{{Name: "c", Ports: ports}}},
			Status:     corev1.PodStatus{Phase: corev1.PodRunning, PodIP: p.IP.String(), PodIPs: []corev1.PodIP{{IP: p.IP.String()}}},
		})
	}
	for _, p := range w.Policies {
		spec := p.Spec.DeepCopy()
		if len(spec.PolicyTypes) == 0 {
			spec.PolicyTypes = []networkingv1.PolicyType{networkingv1.PolicyTypeIngress}
			if len(spec.Egress) > 0 {
				spec.PolicyTypes = append(spec.PolicyTypes, networkingv1.PolicyTypeEgress)
			}
		}
		if len(spec.Egress) == 0 {
			spec.Egress = nil
		}
		for i := range spec.Egress {
			r := &spec.Egress[i]
			if len(r.To) == 0 {
				r.To = nil
			}
			if len(r.Ports) == 0 {
				r.Ports = nil
			}
			for j := range r.Ports {
				if r.Ports[j].Protocol == nil {
					r.Ports[j].Protocol = ptr.To(corev1.ProtocolTCP)
				}
			}
		}
		spec.Ingress = []networkingv1.NetworkPolicyIngressRule{{}}
		out.NetworkPolicies = append(out.NetworkPolicies, &networkingv1.NetworkPolicy{ObjectMeta: metav1.ObjectMeta{Namespace: p.Namespace, Name: p.Name}, Spec: *spec})
	}
	defaultPorts := func(ports *[]npav1alpha1.AdminNetworkPolicyPort) {
		if ports == nil {
			return
		}
		for i := range *ports {
			p := &(*ports)[i]
			if p.PortNumber != nil {
				p.PortNumber.Protocol = defaultProto(p.PortNumber.Protocol)
			}
			if p.PortRange != nil {
				p.PortRange.Protocol = defaultProto(p.PortRange.Protocol)
			}
		}
	}
	for _, a := range w.Admin {
		spec := a.Spec.DeepCopy()
		for i := range spec.Egress {
			defaultPorts(spec.Egress[i].Ports)
		}
		out.Admin = append(out.Admin, &npav1alpha1.AdminNetworkPolicy{ObjectMeta: metav1.ObjectMeta{Name: a.Name}, Spec: *spec})
	}
	if w.Baseline != nil {
		spec := w.Baseline.Spec.DeepCopy()
		for i := range spec.Egress {
			defaultPorts(spec.Egress[i].Ports)
		}
		out.Baseline = &npav1alpha1.BaselineAdminNetworkPolicy{ObjectMeta: metav1.ObjectMeta{Name: w.Baseline.Name}, Spec: *spec}
	}
	return out
}

// ip is an address as kube-network-policies' packets carry it.
func ip(a netip.Addr) net.IP { return net.IP(a.AsSlice()) }
