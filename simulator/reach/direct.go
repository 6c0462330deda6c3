package reach

import (
	"maps"
	"slices"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"go4.org/netipx"

	"github.com/ambient-egress/ambient-egress-operator/simulator"
	"github.com/ambient-egress/ambient-egress-operator/simulator/lockdown"
	"github.com/ambient-egress/ambient-egress-operator/simulator/netpol"
)

// AnyOtherHost is the destination of the direct rows that stands for every
// host outside the cluster no ServiceEntry declares: ztunnel passes such
// traffic straight through, so only a NetworkPolicy can stop it.
const AnyOtherHost = "*"

// DirectEntry is what a set of sources can reach directly, without going
// through any waypoint, as the NetworkPolicies of their namespaces allow.
type DirectEntry struct {
	// Destination is AnyOtherHost, or "host:port" of a ServiceEntry bound
	// to no waypoint.
	Destination string `json:"destination"`
	// Sources are "namespace/*" (every service account of the namespace)
	// or "namespace/account", sorted.
	Sources []string `json:"sources"`
	// Access is direct (everything), partial, blocked or depends (pod
	// labels the inputs lack decide).
	Access netpol.Reach `json:"access"`
	// Allowed are the openings left: range, ports and the rule.
	Allowed []string `json:"allowed,omitempty"`
	// BlockedBy are the NetworkPolicies that select the sources for egress.
	BlockedBy []string `json:"blockedBy,omitempty"`
	// Reason says why, in one sentence.
	Reason string `json:"reason"`
}

// directBudget bounds the NetworkPolicy regions one report evaluates
// (netpol.External): about a second of work in the worst shapes, which
// only namespaces full of policies naming hundreds of CIDRs and ports reach.
const directBudget = 4 * netpol.MaxRegions * 10

// directView is the NetworkPolicy world of one report: the inputs'
// policies plus the ones the lockdown writes.
type directView struct {
	cluster *netpol.Cluster
	plans   []simulator.LockdownPlan
	// locked maps a locked-down namespace to the plan that locks it.
	locked map[string]*simulator.LockdownPlan
	pods   map[string][]*simulator.Pod
}

func newDirectView(snap *simulator.Snapshot) (*directView, error) {
	v := &directView{plans: simulator.PlanLockdowns(snap), locked: map[string]*simulator.LockdownPlan{}, pods: map[string][]*simulator.Pod{}}
	var policies []*netpol.Policy
	have := map[string]bool{}
	for _, np := range snap.NetworkPolicies {
		policies = append(policies, &netpol.Policy{Namespace: np.Namespace, Name: np.Name, Spec: np.Spec})
		have[np.Namespace+"/"+np.Name] = true
	}
	for i := range v.plans {
		p := &v.plans[i]
		if p.Invalid != nil {
			continue
		}
		for _, np := range p.Policies {
			v.locked[np.Namespace] = p
			// Audit writes nothing: its policies are only what Enforce
			// would write.
			if p.Gateway.Lockdown.Mode == simulator.LockdownEnforce && !have[np.Namespace+"/"+np.Name] {
				policies = append(policies, &netpol.Policy{Namespace: np.Namespace, Name: np.Name, Spec: np.Spec})
			}
		}
	}
	nsLabels := map[string]map[string]string{}
	for _, ns := range snap.Namespaces {
		nsLabels[ns.Name] = ns.Labels
	}
	c, err := netpol.NewCluster(policies, nsLabels)
	if err != nil {
		return nil, err
	}
	if err := setAdmin(c, snap); err != nil {
		return nil, err
	}
	c.SetInCluster(apiServerSet(v.plans))
	c.SetBudget(directBudget)
	v.cluster = c
	for _, p := range snap.Pods {
		v.pods[p.Namespace] = append(v.pods[p.Namespace], p)
	}
	return v, nil
}

// directEntries computes the direct rows: for every source namespace (or
// service account, where the inputs' Pods tell them apart), its access to
// any other host, and to each ServiceEntry bound to no waypoint.
func (v *directView) directEntries(principals []string, dests []Destination) []DirectEntry {
	sources := sourceAccounts(principals)
	var out []DirectEntry
	out = append(out, v.rows(AnyOtherHost, sources, nil)...)
	for _, u := range unbound(dests) {
		out = append(out, v.rows(u.dest.Key(), sources, u.port)...)
	}
	return out
}

// sourceAccounts groups the well-formed principals' accounts by namespace.
func sourceAccounts(principals []string) map[string][]string {
	out := map[string][]string{}
	for _, p := range principals {
		parts := strings.Split(p, "/")
		if len(parts) != 5 || parts[1] != "ns" || parts[3] != "sa" {
			continue
		}
		out[parts[2]] = append(out[parts[2]], parts[4])
	}
	return out
}

func (v *directView) rows(dest string, sources map[string][]string, only *netpol.PortFilter) []DirectEntry {
	byKey := map[string]*DirectEntry{}
	var keys []string
	add := func(source string, ext netpol.External) {
		e := directRow(dest, ext)
		k := string(e.Access) + "\x00" + strings.Join(e.Allowed, "\x00") + "\x00" + strings.Join(e.BlockedBy, "\x00") + "\x00" + e.Reason
		if have, ok := byKey[k]; ok {
			have.Sources = append(have.Sources, source)
			return
		}
		e.Sources = []string{source}
		byKey[k] = &e
		keys = append(keys, k)
	}
	for _, ns := range slices.Sorted(maps.Keys(sources)) {
		for _, sa := range v.accountsOf(ns, sources[ns], only) {
			if sa.all {
				add(ns+"/*", v.cluster.External(netpol.Source{Namespace: ns}, only))
				continue
			}
			add(ns+"/"+sa.name, sa.ext)
		}
	}
	out := make([]DirectEntry, 0, len(keys))
	for _, k := range keys {
		e := byKey[k]
		sort.Strings(e.Sources)
		out = append(out, *e)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Sources[0] < out[j].Sources[0] })
	return out
}

// account is one source account's access, or (all) the whole namespace's
// when the inputs' Pods do not tell its accounts apart.
type account struct {
	name string
	all  bool
	ext  netpol.External
}

// accountsOf decides per account when the inputs have the namespace's
// Pods and the accounts' pods agree; otherwise the namespace is one row.
func (v *directView) accountsOf(ns string, accounts []string, only *netpol.PortFilter) []account {
	pods := v.pods[ns]
	if len(pods) == 0 {
		return []account{{all: true}}
	}
	nsWide := v.cluster.External(netpol.Source{Namespace: ns}, only)
	var out []account
	for _, sa := range accounts {
		ext, ok := v.accountAccess(ns, sa, pods, only)
		if !ok {
			ext = nsWide
		}
		out = append(out, account{name: sa, ext: ext})
	}
	return out
}

// accountAccess is the access of an account's pods, when they all have the
// same; ok is false without pods, or when they differ.
func (v *directView) accountAccess(ns, sa string, pods []*simulator.Pod, only *netpol.PortFilter) (netpol.External, bool) {
	var first *netpol.External
	for _, p := range pods {
		if p.ServiceAccount != sa {
			continue
		}
		ext := v.cluster.External(netpol.Source{Namespace: ns, Pod: &netpol.Pod{Namespace: ns, Name: p.Name, Labels: p.Labels, IP: p.IP, HostNetwork: p.HostNetwork}}, only)
		if first == nil {
			first = &ext
			continue
		}
		if a, b := directRow("", ext), directRow("", *first); a.Reason != b.Reason || !slices.Equal(a.Allowed, b.Allowed) {
			return netpol.External{}, false
		}
	}
	if first == nil {
		return netpol.External{}, false
	}
	return *first, true
}

// directRow turns one source's access into a row, without its sources.
func directRow(dest string, ext netpol.External) DirectEntry {
	e := DirectEntry{Destination: dest, Access: ext.Reach, BlockedBy: slices.Concat(ext.Isolating, ext.MaybeIsolating)}
	for _, o := range ext.Openings {
		e.Allowed = append(e.Allowed, o.Text())
	}
	switch e.Access {
	case netpol.Direct:
		if len(e.BlockedBy) == 0 {
			e.Reason = "no NetworkPolicy selects these pods for egress: they reach it directly, bypassing the waypoint"
		} else {
			e.Reason = "NetworkPolicies select these pods for egress, but their rules open every address on every port"
		}
	case netpol.Blocked:
		e.Reason = "blocked by " + strings.Join(slices.Concat(ext.Isolating, ext.DeniedBy), ", ")
	case netpol.Partial:
		e.Reason = "blocked by " + strings.Join(slices.Concat(ext.Isolating, ext.DeniedBy), ", ") + " except the ranges and ports allowed"
	default:
		e.Reason = ext.Why
		if len(ext.MaybeIsolating) > 0 {
			e.Reason = "pod labels decide: " + strings.Join(ext.MaybeIsolating, ", ") + " select pods by label, and the inputs have no Pods for these sources"
		}
	}
	return e
}

// apiServerSet is the API server addresses the lockdown policies allow:
// in the cluster, so not "any other host".
func apiServerSet(plans []simulator.LockdownPlan) *netipx.IPSet {
	var b netipx.IPSetBuilder
	for _, p := range plans {
		for _, np := range p.Policies {
			if lockdown.Owned(np.Labels, p.Gateway.Namespace, p.Gateway.Name) {
				for _, a := range lockdown.APIServerAddresses(&np.Spec) {
					b.Add(a)
				}
			}
		}
	}
	set, _ := b.IPSet()
	return set
}

// setAdmin gives the cluster the snapshot's admin tiers.
func setAdmin(c *netpol.Cluster, snap *simulator.Snapshot) error {
	var admin []*netpol.AdminPolicy
	for _, a := range snap.AdminNetworkPolicies {
		admin = append(admin, &netpol.AdminPolicy{Name: a.Name, Spec: a.Spec})
	}
	var base *netpol.BaselinePolicy
	if b := snap.BaselineAdminNetworkPolicy; b != nil {
		base = &netpol.BaselinePolicy{Name: b.Name, Spec: b.Spec}
	}
	return c.SetAdmin(admin, base)
}

// unboundDestination is a ServiceEntry port bound to no waypoint: its
// traffic leaves the pods directly, to the port the ServiceEntry sends to.
type unboundDestination struct {
	dest Destination
	port *netpol.PortFilter
}

// unbound lists the report's destinations bound to no waypoint.
func unbound(dests []Destination) []unboundDestination {
	var out []unboundDestination
	for _, d := range dests {
		if d.Waypoint != nil {
			continue
		}
		port := d.Port
		if d.TargetPort != 0 {
			port = d.TargetPort
		}
		out = append(out, unboundDestination{dest: d, port: &netpol.PortFilter{Protocol: corev1.ProtocolTCP, Port: port}})
	}
	return out
}
