package reach

import (
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/ambient-egress/ambient-egress-operator/simulator"
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
	for _, d := range dests {
		if d.Waypoint != nil || strings.HasPrefix(d.ServiceEntry, "Service ") {
			continue
		}
		port := d.Port
		if d.TargetPort != 0 {
			port = d.TargetPort
		}
		out = append(out, v.rows(d.Key(), sources, &port)...)
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

func (v *directView) rows(dest string, sources map[string][]string, port *int) []DirectEntry {
	byKey := map[string]*DirectEntry{}
	var keys []string
	add := func(source string, ext netpol.External) {
		if port != nil {
			ext = onPort(ext, *port)
		}
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
		for _, sa := range v.accountsOf(ns, sources[ns]) {
			if sa.all {
				add(ns+"/*", v.cluster.External(netpol.Source{Namespace: ns}))
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
func (v *directView) accountsOf(ns string, accounts []string) []account {
	pods := v.pods[ns]
	if len(pods) == 0 {
		return []account{{all: true}}
	}
	nsWide := v.cluster.External(netpol.Source{Namespace: ns})
	var out []account
	for _, sa := range accounts {
		ext, ok := v.accountAccess(ns, sa, pods)
		if !ok {
			ext = nsWide
		}
		out = append(out, account{name: sa, ext: ext})
	}
	return out
}

// accountAccess is the access of an account's pods, when they all have the
// same; ok is false without pods, or when they differ.
func (v *directView) accountAccess(ns, sa string, pods []*simulator.Pod) (netpol.External, bool) {
	var first *netpol.External
	for _, p := range pods {
		if p.ServiceAccount != sa {
			continue
		}
		ext := v.cluster.External(netpol.Source{Namespace: ns, Pod: &netpol.Pod{Namespace: ns, Name: p.Name, Labels: p.Labels, IP: p.IP, HostNetwork: p.HostNetwork}})
		if first == nil {
			first = &ext
			continue
		}
		if directRow("", ext).Reason != directRow("", *first).Reason || ext.Reach() != first.Reach() {
			return netpol.External{}, false
		}
	}
	if first == nil {
		return netpol.External{}, false
	}
	return *first, true
}

// onPort keeps the grants that open TCP port, as whole-range openings.
func onPort(e netpol.External, port int) netpol.External {
	out := e
	out.Grants = nil
	for _, g := range e.Grants {
		ok := len(g.Ports) == 0
		for _, pp := range g.Ports {
			probe := netpol.Destination{IP: netip.MustParseAddr("192.0.2.1"), Port: port, Protocol: corev1.ProtocolTCP}
			if netpol.PortMatches(&pp, probe) {
				ok = true
			}
		}
		if ok {
			g.Ports = nil
			out.Grants = append(out.Grants, g)
		}
	}
	return out
}

// directRow turns one source's access into a row, without its sources.
func directRow(dest string, ext netpol.External) DirectEntry {
	e := DirectEntry{Destination: dest, Access: ext.Reach(), BlockedBy: slices.Concat(ext.Isolating, ext.MaybeIsolating)}
	netpol.SortGrants(ext.Grants)
	for _, g := range ext.Grants {
		e.Allowed = append(e.Allowed, g.Text())
	}
	switch e.Access {
	case netpol.Direct:
		if len(e.BlockedBy) == 0 {
			e.Reason = "no NetworkPolicy selects these pods for egress: they reach it directly, bypassing the waypoint"
		} else {
			e.Reason = "NetworkPolicies select these pods for egress, but their rules open every address on every port"
		}
	case netpol.Blocked:
		e.Reason = fmt.Sprintf("blocked by %s", strings.Join(ext.Isolating, ", "))
	case netpol.Partial:
		e.Reason = fmt.Sprintf("blocked by %s except the ranges and ports allowed", strings.Join(ext.Isolating, ", "))
	default:
		e.Reason = "pod labels decide: " + strings.Join(ext.MaybeIsolating, ", ") + " select pods by label, and the inputs have no Pods for these sources"
	}
	return e
}
