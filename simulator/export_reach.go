package simulator

import (
	"maps"
	"slices"
	"sort"

	securityv1beta1 "istio.io/api/security/v1beta1"
)

// This file exposes the compiled program to the reachability report
// (package simulator/reach), which evaluates the same compiled rules
// symbolically. Handing out the compiled rules, rather than letting the report
// re-read the policies, is what keeps the report and Program.Eval in exact
// agreement: both read one compiled form.

// DestinationView is a read-only description of a compiled destination.
type DestinationView struct {
	// Origin names the ServiceEntry or Service.
	Origin Origin
	// Kind is ServiceEntry or Service.
	Kind string
	// Hosts are the declared hosts, lower-case.
	Hosts []string
	// Ports are the declared port numbers, sorted.
	Ports []int
	// Protocols maps each port to its declared protocol (upper-case, empty
	// when unset).
	Protocols map[int]string
	// Waypoint is "namespace/name" of the waypoint the destination is bound
	// to, or empty when it bypasses every waypoint.
	Waypoint string
	// Binding explains why the destination is bound or not.
	Binding string
	// Unbound says why the destination is bound to no waypoint (an Unbound
	// constant); empty when it is bound.
	Unbound string
	// NamedWaypoint is "namespace/name" of the waypoint the destination's
	// labels name, when it exists, bound or not; NamedEgressGateway is the
	// EgressGateway that waypoint stands for, if any.
	NamedWaypoint, NamedEgressGateway string
	// ByAddress says ztunnel knows the destination by addresses it
	// declares (spec.addresses), so a client may reach it under any name
	// and with any Host header.
	ByAddress bool
	// ValidatesJWT says the waypoint validates JWTs for the destination (a
	// RequestAuthentication applies); without it request.auth.* attributes
	// are always empty there.
	ValidatesJWT bool
	// DynamicDNS says the ServiceEntry has resolution DYNAMIC_DNS: the
	// waypoint forwards to the name the request carries (Host or SNI).
	DynamicDNS bool
	// Unserved maps each port the waypoint carries no connection to (a
	// DYNAMIC_DNS ServiceEntry's port istiod builds no cluster for) to
	// the reason.
	Unserved map[int]string
	// NotRedirected maps each host whose traffic ztunnel does not redirect
	// (the destination has no address for it) to the reason: that traffic
	// bypasses the waypoint the destination is bound to.
	NotRedirected map[string]string
}

// Destinations lists every compiled ServiceEntry and Service, sorted by kind,
// namespace and name.
func (p *Program) Destinations() []DestinationView {
	out := make([]DestinationView, 0, len(p.destinations))
	for _, d := range p.destinations {
		v := DestinationView{Origin: d.origin, Kind: d.kind, Hosts: d.hosts, Protocols: d.ports, Binding: d.binding}
		for port := range d.ports {
			v.Ports = append(v.Ports, port)
			if why := d.unserved(port, p.istio); why != "" {
				if v.Unserved == nil {
					v.Unserved = map[int]string{}
				}
				v.Unserved[port] = why
			}
		}
		sort.Ints(v.Ports)
		if d.waypoint != nil {
			v.Waypoint = d.waypoint.key()
			v.ValidatesJWT = len(p.jwtPoliciesFor(d.waypoint, d)) > 0
		}
		v.Unbound = d.unbound
		v.DynamicDNS = d.dynamicDNS
		v.ByAddress = d.byAddress
		if d.named != nil {
			v.NamedWaypoint, v.NamedEgressGateway = d.named.key(), d.named.egressGateway
		}
		for _, h := range d.hosts {
			if why := d.notCaptured(h); why != "" {
				if v.NotRedirected == nil {
					v.NotRedirected = map[string]string{}
				}
				v.NotRedirected[h] = why
			}
		}
		out = append(out, v)
	}
	return out
}

// WaypointView is a read-only description of a waypoint.
type WaypointView struct {
	// Namespace and Name identify the waypoint Gateway.
	Namespace, Name string
	// TrafficType is its istio.io/waypoint-for value.
	TrafficType string
	// EgressGateway is "namespace/name" of the EgressGateway it stands for.
	EgressGateway string
}

// Waypoints lists the waypoints in the inputs, sorted by namespace and name.
func (p *Program) Waypoints() []WaypointView {
	out := make([]WaypointView, 0, len(p.waypoints))
	for _, k := range slices.Sorted(maps.Keys(p.waypoints)) {
		w := p.waypoints[k]
		out = append(out, WaypointView{Namespace: w.namespace, Name: w.name, TrafficType: w.trafficType, EgressGateway: w.egressGateway})
	}
	return out
}

// Settings returns the options the program was compiled with, defaults
// filled in.
func (p *Program) Settings() Options {
	return p.opts
}

// ChainIsHTTP reports whether a waypoint evaluates a port of the given
// declared protocol with HTTP rules, for a request of the given kind; it is
// the rule Eval applies.
func ChainIsHTTP(protocol string, requestHTTP bool) bool {
	return chainIsHTTP(protocol, requestHTTP, "")
}

// PolicyForm is one policy as an enforcement point sees it for one chain:
// its rules in the compiled form Eval matches.
type PolicyForm struct {
	// Key is "namespace/name"; Origin names the object.
	Key    string
	Origin Origin
	// Action is ALLOW, DENY, AUDIT or CUSTOM.
	Action string
	// DryRun is set for istio.io/dry-run policies, which are not enforced.
	DryRun bool
	// Provider names the CUSTOM provider.
	Provider string
	// UnknownProvider is set for a CUSTOM policy whose provider the mesh
	// config does not define: istiod enforces its rules as DENY rules.
	UnknownProvider bool
	// Rules are the compiled rules, in spec order.
	Rules []RuleForm
}

// RuleForm is one compiled rule: every clause must hold; a clause holds when
// any of its alternatives holds (an empty clause always holds); an
// alternative holds when all its literals hold.
type RuleForm struct {
	// Index is the rule's position in spec.rules.
	Index int
	// Never is set when the enforcement point can never match the rule.
	Never bool
	// Clauses are ANDed.
	Clauses [][][]Literal
	// Skipped names the HTTP field that made istiod drop this ALLOW rule on a
	// TCP chain; Dropped lists HTTP fields a DENY, AUDIT or CUSTOM rule lost
	// there.
	Skipped string
	Dropped []string
}

// Literal is a compiled condition, possibly negated.
type Literal struct {
	// Atom is the condition.
	Atom Atom
	// Neg negates it (the not* fields and notValues).
	Neg bool
}

// WaypointPolicies returns, in the order Eval visits them, the policies a
// destination's waypoint enforces on one port, compiled for the chain the
// port gets (HTTP when http is set). ok is false when the destination is
// unknown or not bound to a waypoint.
func (p *Program) WaypointPolicies(kind, namespace, name string, http bool) (forms []PolicyForm, ok bool) {
	d := p.findDestination(kind, namespace, name)
	if d == nil || d.waypoint == nil {
		return nil, false
	}
	mode := modeTCP
	if http {
		mode = modeHTTP
	}
	lists := [][]*compiledPolicy{p.index.waypointClass, p.index.byGateway[d.waypoint.key()], p.index.byDestination[d.key()]}
	for _, list := range lists {
		for _, cp := range list {
			forms = append(forms, policyForm(cp, mode))
		}
	}
	return forms, true
}

func (p *Program) findDestination(kind, namespace, name string) *destination {
	id := kind + "/" + namespace + "/" + name
	i := sort.Search(len(p.destinations), func(i int) bool { return p.destinations[i].key() >= id })
	if i < len(p.destinations) && p.destinations[i].key() == id {
		return p.destinations[i]
	}
	return nil
}

func policyForm(cp *compiledPolicy, mode ruleMode) PolicyForm {
	f := PolicyForm{Key: cp.key, Origin: cp.origin, Action: cp.action.String(), DryRun: cp.dryRun, Provider: cp.provider,
		UnknownProvider: cp.unknownProvider}
	for i, r := range cp.rules[mode] {
		rf := RuleForm{Index: r.index, Never: r.never, Clauses: make([][][]Literal, len(r.clauses))}
		if i < len(cp.outcomes[mode]) {
			rf.Skipped, rf.Dropped = cp.outcomes[mode][i].skipped, cp.outcomes[mode][i].dropped
		}
		for ci, c := range r.clauses {
			alts := make([][]Literal, len(c))
			for ai, alt := range c {
				alts[ai] = literals(alt)
			}
			rf.Clauses[ci] = alts
		}
		f.Rules = append(f.Rules, rf)
	}
	return f
}

func literals(c conj) []Literal {
	out := make([]Literal, len(c))
	for i, t := range c {
		neg := false
		for {
			n, ok := t.(notTerm)
			if !ok {
				break
			}
			neg, t = !neg, n.t
		}
		out[i] = Literal{Atom: Atom{t: t}, Neg: neg}
	}
	return out
}

// ZtunnelPolicyView describes how istiod converted a policy without
// targetRefs for ztunnel.
type ZtunnelPolicyView struct {
	// Key is "namespace/name"; Origin names the object.
	Key    string
	Origin Origin
	// Action is ALLOW or DENY.
	Action string
	// Rules describe each converted rule.
	Rules []ZtunnelRuleView
}

// ZtunnelRuleView is one rule after istiod's ambient conversion.
type ZtunnelRuleView struct {
	// Index is the rule's position in spec.rules.
	Index int
	// L7 lists the HTTP attributes istiod left out.
	L7 []string
	// Never is set when ztunnel can never match the rule.
	Never bool
}

// ZtunnelPolicies lists the ALLOW and DENY policies ztunnel enforces,
// sorted by key.
func (p *Program) ZtunnelPolicies() []ZtunnelPolicyView {
	var all []*compiledPolicy
	all = append(all, p.index.ztGlobal...)
	for _, k := range slices.Sorted(maps.Keys(p.index.ztNamespace)) {
		all = append(all, p.index.ztNamespace[k]...)
	}
	for _, k := range slices.Sorted(maps.Keys(p.index.ztSelector)) {
		all = append(all, p.index.ztSelector[k]...)
	}
	out := make([]ZtunnelPolicyView, 0, len(all))
	for _, cp := range all {
		v := ZtunnelPolicyView{Key: cp.key, Origin: cp.origin, Action: cp.action.String()}
		for _, zr := range cp.ztunnel {
			v.Rules = append(v.Rules, ZtunnelRuleView{Index: zr.rule.index, L7: zr.l7, Never: zr.rule.never})
		}
		out = append(out, v)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out
}

// Actions as PolicyForm.Action spells them.
var (
	ActionAllow  = securityv1beta1.AuthorizationPolicy_ALLOW.String()
	ActionDeny   = securityv1beta1.AuthorizationPolicy_DENY.String()
	ActionCustom = securityv1beta1.AuthorizationPolicy_CUSTOM.String()
	ActionAudit  = securityv1beta1.AuthorizationPolicy_AUDIT.String()
)

// ManifestFiles lists the manifest files a path stands for, in the order
// Load reads them: the file itself, or a directory's .yaml, .yml and .json
// files in lexical order.
func ManifestFiles(path string) ([]string, error) {
	return manifestFiles(path)
}

// WaypointPolicyKeys returns the "namespace/name" of the policies
// WaypointPolicies would return, without converting their rules: cheap
// enough to fingerprint every destination on each re-simulation.
func (p *Program) WaypointPolicyKeys(kind, namespace, name string) ([]string, bool) {
	d := p.findDestination(kind, namespace, name)
	if d == nil || d.waypoint == nil {
		return nil, false
	}
	var keys []string
	for _, list := range [][]*compiledPolicy{p.index.waypointClass, p.index.byGateway[d.waypoint.key()], p.index.byDestination[d.key()]} {
		for _, cp := range list {
			keys = append(keys, cp.key)
		}
	}
	return keys, true
}
