package simulator

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"

	networkingv1alpha3 "istio.io/api/networking/v1alpha3"
	securityv1beta1 "istio.io/api/security/v1beta1"
	typev1beta1 "istio.io/api/type/v1beta1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/ambient-egress/ambient-egress-operator/simulator/lockdown"
	"github.com/ambient-egress/ambient-egress-operator/simulator/match"
)

// egressGatewaySpec mirrors the fields of the operator's EgressGateway spec
// the simulator needs. It is decoded here, not imported from apis/, so the
// simulator stays free of the operator's packages; other fields are ignored.
type egressGatewaySpec struct {
	Waypoint *struct {
		Name          string `json:"name"`
		TrafficType   string `json:"trafficType"`
		AllowedRoutes *struct {
			From     string                `json:"from"`
			Selector *metav1.LabelSelector `json:"selector"`
		} `json:"allowedRoutes"`
	} `json:"waypoint"`
	EnrollNamespace      *bool                 `json:"enrollNamespace"`
	ServiceEntrySelector *metav1.LabelSelector `json:"serviceEntrySelector"`
	Destinations         []egressDestination   `json:"destinations"`
	Lockdown             struct {
		Mode           string                 `json:"mode"`
		Sources        *metav1.LabelSelector  `json:"sources"`
		AllowInCluster *bool                  `json:"allowInCluster"`
		AllowCIDRs     []lockdown.AllowedCIDR `json:"allowCIDRs"`
	} `json:"lockdown"`
	Simulation struct {
		Disabled bool                  `json:"disabled"`
		Sources  *metav1.LabelSelector `json:"sources"`
		Probes   []struct {
			From   string `json:"from"`
			Method string `json:"method"`
			Host   string `json:"host"`
			Path   string `json:"path"`
			Port   int    `json:"port"`
		} `json:"probes"`
	} `json:"simulation"`
}

// egressDestination mirrors one spec.destinations entry.
type egressDestination struct {
	Host      string   `json:"host"`
	Addresses []string `json:"addresses"`
	Ports     []struct {
		Number         uint32 `json:"number"`
		Protocol       string `json:"protocol"`
		Name           string `json:"name"`
		TLSOrigination *struct {
			Mode           string `json:"mode"`
			TargetPort     uint32 `json:"targetPort"`
			SNI            string `json:"sni"`
			CredentialName string `json:"credentialName"`
		} `json:"tlsOrigination"`
	} `json:"ports"`
	Access []accessRule `json:"access"`
	Deny   []accessRule `json:"deny"`
}

// accessRule mirrors one spec.destinations[].access or deny entry.
type accessRule struct {
	From *struct {
		ServiceAccounts []string `json:"serviceAccounts"`
		Namespaces      []string `json:"namespaces"`
		Principals      []string `json:"principals"`
	} `json:"from"`
	To *struct {
		Methods []string `json:"methods"`
		Paths   []string `json:"paths"`
		Ports   []int32  `json:"ports"`
	} `json:"to"`
}

// Traffic types a waypoint accepts (label istio.io/waypoint-for).
const (
	TrafficService  = "service"
	TrafficAll      = "all"
	TrafficWorkload = "workload"
	TrafficNone     = "none"
)

func decodeEgressGateway(s *Snapshot, m Meta, spec json.RawMessage) error {
	var es egressGatewaySpec
	if len(spec) > 0 {
		if err := json.Unmarshal(spec, &es); err != nil {
			return fmt.Errorf("cannot decode: %w", err)
		}
	}
	egw := &EgressGateway{Meta: m, WaypointName: m.Name, TrafficType: TrafficService, EnrollNamespace: true, AllowedFrom: "Same",
		ServiceEntrySelector: es.ServiceEntrySelector}
	if es.Waypoint != nil {
		if es.Waypoint.Name != "" {
			egw.WaypointName = es.Waypoint.Name
		}
		if es.Waypoint.TrafficType != "" {
			egw.TrafficType = es.Waypoint.TrafficType
		}
		if r := es.Waypoint.AllowedRoutes; r != nil && r.From != "" {
			egw.AllowedFrom, egw.AllowedSelector = r.From, r.Selector
		}
	}
	if es.EnrollNamespace != nil {
		egw.EnrollNamespace = *es.EnrollNamespace
	}
	// spec.simulation as the operator reads it: the source namespaces
	// (ambient ones unless selected otherwise) and the probes to answer.
	egw.SimulationDisabled = es.Simulation.Disabled
	egw.Sources = es.Simulation.Sources
	if egw.Sources == nil {
		egw.Sources = &metav1.LabelSelector{MatchLabels: map[string]string{LabelDataplaneMode: DataplaneAmbient}}
	}
	for _, p := range es.Simulation.Probes {
		egw.Probes = append(egw.Probes, RequestSpec{From: p.From, Method: p.Method, Host: p.Host, Path: p.Path, Port: p.Port})
	}
	egw.Lockdown = Lockdown{Mode: es.Lockdown.Mode, Sources: es.Lockdown.Sources, AllowInCluster: es.Lockdown.AllowInCluster == nil || *es.Lockdown.AllowInCluster,
		AllowCIDRs: es.Lockdown.AllowCIDRs}
	if egw.Lockdown.Mode == "" {
		egw.Lockdown.Mode = LockdownOff
	}
	if egw.Lockdown.Sources == nil {
		egw.Lockdown.Sources = egw.Sources
	}
	if egw.TrafficType != TrafficService && egw.TrafficType != TrafficAll {
		return fmt.Errorf("spec.waypoint.trafficType: must be %q or %q, got %q", TrafficService, TrafficAll, egw.TrafficType)
	}
	put(s, &s.EgressGateways, m.Origin, egw)
	addEgressDestinations(s, egw, es.Destinations)
	return nil
}

// Labels and annotations on the objects the simulator derives from an
// EgressGateway's spec.destinations.
const (
	// annotationDestinationProblems carries, on the simulator's copy of an
	// EgressGateway, the destinations the operator would not create and
	// why, one per line, for the compiler to report.
	annotationDestinationProblems = "simulator.egress.ambient.io/destination-problems"
	// defaultTLSTargetPort is tlsOrigination.targetPort's default.
	defaultTLSTargetPort = 443
	// maxObjectName is the longest ServiceEntry or DestinationRule name.
	maxObjectName = 253
)

// DerivedDestination is what the operator creates for one
// spec.destinations entry: a ServiceEntry and, when a port originates TLS, a
// DestinationRule, with their names. The operator and the simulator both
// render destinations with DeriveDestinations, so what the simulator
// assumes is what the operator applies.
type DerivedDestination struct {
	// Host is the entry's host.
	Host string
	// ServiceEntryName and ServiceEntry declare the host.
	ServiceEntryName string
	ServiceEntry     *networkingv1alpha3.ServiceEntry
	// DestinationRuleName and DestinationRule originate TLS; the rule is nil
	// when no port asks for it.
	DestinationRuleName string
	DestinationRule     *networkingv1alpha3.DestinationRule
	// AccessPolicyName and AccessPolicy are the ALLOW policy of access;
	// DenyPolicyName and DenyPolicy the DENY policy of deny. Each is nil
	// when its list is unset.
	AccessPolicyName, DenyPolicyName string
	AccessPolicy, DenyPolicy         *securityv1beta1.AuthorizationPolicy
	// SNIPolicyName and SNIPolicy guard a wildcard host's TLS ports: the
	// waypoint forwards a TLS connection to whatever server name it
	// carries, so without this DENY policy a client could reach any host
	// through the wildcard's address. Nil for other destinations.
	SNIPolicyName string
	SNIPolicy     *securityv1beta1.AuthorizationPolicy
}

// NamedPolicy is one AuthorizationPolicy a destination renders, and its
// name.
type NamedPolicy struct {
	Name string
	Spec *securityv1beta1.AuthorizationPolicy
}

// Policies lists the destination's policies that are set: access's ALLOW
// policy, then deny's DENY policy.
func (d DerivedDestination) Policies() []NamedPolicy {
	var out []NamedPolicy
	if d.AccessPolicy != nil {
		out = append(out, NamedPolicy{d.AccessPolicyName, d.AccessPolicy})
	}
	if d.DenyPolicy != nil {
		out = append(out, NamedPolicy{d.DenyPolicyName, d.DenyPolicy})
	}
	if d.SNIPolicy != nil {
		out = append(out, NamedPolicy{d.SNIPolicyName, d.SNIPolicy})
	}
	return out
}

// AccessPolicyName is the name of the ALLOW policy the operator writes for
// a destination host's access rules.
func AccessPolicyName(host string) string { return DestinationObjectName(host, accessPolicySuffix) }

// DenyPolicyName is the name of the DENY policy the operator writes for a
// destination host's deny rules.
func DenyPolicyName(host string) string { return DestinationObjectName(host, denyPolicySuffix) }

// SNIPolicyName is the name of the DENY policy that keeps a wildcard
// host's TLS connections to server names under the wildcard.
func SNIPolicyName(host string) string { return DestinationObjectName(host, sniPolicySuffix) }

// Object names the operator gives a destination's policies, after its
// ServiceEntry's.
const (
	accessPolicySuffix = "-access"
	denyPolicySuffix   = "-deny"
	sniPolicySuffix    = "-sni"
)

// DestinationProblem is a spec.destinations entry the operator does not
// create, and why.
type DestinationProblem struct {
	// Index is the entry's position in spec.destinations; Host its host.
	Index int
	Host  string
	// Message says what is wrong and what to change.
	Message string
}

// DeriveDestinations renders spec.destinations, given as the JSON of the
// list, in spec order, for the istiod istio describes. Entries that cannot
// be rendered are problems, not errors; the error is for JSON that is not a
// destinations list.
func DeriveDestinations(destinations []byte, istio Istio) ([]DerivedDestination, []DestinationProblem, error) {
	var dests []egressDestination
	if err := json.Unmarshal(destinations, &dests); err != nil {
		return nil, nil, fmt.Errorf("spec.destinations: %w", err)
	}
	derived, problems := deriveDestinations(dests, istio)
	return derived, problems, nil
}

func deriveDestinations(dests []egressDestination, istio Istio) ([]DerivedDestination, []DestinationProblem) {
	var out []DerivedDestination
	var problems []DestinationProblem
	names := map[string]string{}
	for i, d := range dests {
		if msg := destinationProblem(d, istio); msg != "" {
			problems = append(problems, DestinationProblem{Index: i, Host: d.Host, Message: msg})
			continue
		}
		name := DestinationObjectName(d.Host, "")
		if other, taken := names[name]; taken {
			problems = append(problems, DestinationProblem{Index: i, Host: d.Host, Message: fmt.Sprintf(
				"hosts %s and %s both need ServiceEntry %s; remove one of them", other, d.Host, name)})
			continue
		}
		names[name] = d.Host
		dd := DerivedDestination{Host: d.Host, ServiceEntryName: name, ServiceEntry: derivedServiceEntry(d)}
		if dd.DestinationRule = derivedDestinationRule(d); dd.DestinationRule != nil {
			dd.DestinationRuleName = DestinationObjectName(d.Host, "-tls")
		}
		if d.Access != nil {
			dd.AccessPolicyName = AccessPolicyName(d.Host)
			dd.AccessPolicy = derivedPolicy(name, securityv1beta1.AuthorizationPolicy_ALLOW, d.Access)
		}
		if d.Deny != nil {
			dd.DenyPolicyName = DenyPolicyName(d.Host)
			dd.DenyPolicy = derivedPolicy(name, securityv1beta1.AuthorizationPolicy_DENY, d.Deny)
		}
		if dd.SNIPolicy = derivedSNIGuard(name, d); dd.SNIPolicy != nil {
			dd.SNIPolicyName = SNIPolicyName(d.Host)
		}
		out = append(out, dd)
	}
	return out, problems
}

// addEgressDestinations adds the ServiceEntry and DestinationRule the
// operator creates for each of egw's spec.destinations. An object of the
// same kind, namespace and name already read stays: the live object wins,
// as the operator never overwrites an object it does not own; a later one
// replaces the derived one. Objects an earlier version of egw derived are
// dropped first.
func addEgressDestinations(s *Snapshot, egw *EgressGateway, dests []egressDestination) {
	from := egw.Namespace + "/" + egw.Name
	dropDerived(s, from)
	meta := func(kind, name string) Meta {
		return Meta{
			Origin:      Origin{File: egw.File, Kind: kind, Namespace: egw.Namespace, Name: name},
			Labels:      map[string]string{lockdown.LabelGateway: egw.Name},
			Annotations: map[string]string{annotationFromEgressGateway: from},
		}
	}
	derived, problems := deriveDestinations(dests, s.opts.Istio)
	egw.declared = nil
	for _, d := range derived {
		egw.declared = append(egw.declared, Origin{Kind: "ServiceEntry", Namespace: egw.Namespace, Name: d.ServiceEntryName})
		if d.DestinationRule != nil {
			egw.declared = append(egw.declared, Origin{Kind: "DestinationRule", Namespace: egw.Namespace, Name: d.DestinationRuleName})
		}
		for _, p := range d.Policies() {
			egw.declared = append(egw.declared, Origin{Kind: "AuthorizationPolicy", Namespace: egw.Namespace, Name: p.Name})
		}
	}
	for _, d := range derived {
		se := &ServiceEntry{Meta: meta("ServiceEntry", d.ServiceEntryName), Spec: d.ServiceEntry}
		if !has(s, se.Origin) {
			put(s, &s.ServiceEntries, se.Origin, se)
		}
		if d.DestinationRule != nil {
			dr := &DestinationRule{Meta: meta("DestinationRule", d.DestinationRuleName), Spec: d.DestinationRule}
			if !has(s, dr.Origin) {
				put(s, &s.DestinationRules, dr.Origin, dr)
			}
		}
		for _, p := range d.Policies() {
			ap := &AuthorizationPolicy{Meta: meta("AuthorizationPolicy", p.Name), Spec: p.Spec}
			if !has(s, ap.Origin) {
				put(s, &s.AuthorizationPolicies, ap.Origin, ap)
			}
		}
	}
	if len(problems) > 0 {
		lines := make([]string, len(problems))
		for i, p := range problems {
			lines[i] = fmt.Sprintf("spec.destinations[%d]: %s", p.Index, p.Message)
		}
		if egw.Annotations == nil {
			egw.Annotations = map[string]string{}
		}
		egw.Annotations[annotationDestinationProblems] = strings.Join(lines, "\n")
	}
}

func has(s *Snapshot, o Origin) bool {
	_, ok := s.index[objectKey(o)]
	return ok
}

// dropDerived removes the ServiceEntries, DestinationRules and
// AuthorizationPolicies derived from the EgressGateway from
// ("namespace/name").
func dropDerived(s *Snapshot, from string) {
	s.ServiceEntries = dropFrom(s, s.ServiceEntries, func(se *ServiceEntry) Meta { return se.Meta }, from)
	s.DestinationRules = dropFrom(s, s.DestinationRules, func(dr *DestinationRule) Meta { return dr.Meta }, from)
	s.AuthorizationPolicies = dropFrom(s, s.AuthorizationPolicies, func(ap *AuthorizationPolicy) Meta { return ap.Meta }, from)
}

func dropFrom[T any](s *Snapshot, list []*T, meta func(*T) Meta, from string) []*T {
	kept := list[:0]
	for _, v := range list {
		m := meta(v)
		if m.Annotations[annotationFromEgressGateway] == from {
			delete(s.index, objectKey(m.Origin))
			continue
		}
		kept = append(kept, v)
	}
	for i, v := range kept {
		s.index[objectKey(meta(v).Origin)] = i
	}
	return kept
}

// DestinationObjectName is the name of an object the operator creates for
// host: "<host><suffix>", with a leading "*." spelled "wildcard." since "*"
// is not allowed in a name, cut to a valid length and kept unique with 8 hex
// digits of the host's digest when too long.
func DestinationObjectName(host, suffix string) string {
	base := host
	if rest, ok := strings.CutPrefix(host, "*."); ok {
		base = "wildcard." + rest
	}
	if len(base)+len(suffix) <= maxObjectName {
		return base + suffix
	}
	sum := sha256.Sum256([]byte(base))
	hash := "-" + hex.EncodeToString(sum[:])[:8]
	return strings.TrimRight(base[:maxObjectName-len(suffix)-len(hash)], ".-") + hash + suffix
}

// destinationProblem says why the operator would not create a destination:
// an access rule Istio would refuse, a wildcard host on a port it cannot
// be read from (a wildcard host is DYNAMIC_DNS, which Istio allows only on
// ports the host can be read from), or one the running istiod cannot serve
// at a waypoint.
func destinationProblem(d egressDestination, istio Istio) string {
	if msg := accessProblem(d); msg != "" {
		return msg
	}
	if !strings.HasPrefix(d.Host, "*.") {
		return ""
	}
	for _, p := range d.Ports {
		// istiod builds a waypoint cluster for a DYNAMIC_DNS port only
		// when it is HTTP or TLS (pilot/pkg/networking/core/
		// cluster_waypoint.go, buildWaypointInboundVIP): HTTP2 and GRPC
		// ports would get a route to no cluster.
		switch proto := portProtocol(p.Protocol); proto {
		case "HTTP", "TLS":
		default:
			return fmt.Sprintf("port %d of wildcard host %s has protocol %s, but a waypoint serves a wildcard host only on HTTP ports (read from the Host header) and TLS ports (read from the SNI): use protocol HTTP or TLS (TLS for HTTPS traffic)",
				p.Number, d.Host, proto)
		}
		if msg := istio.wildcardProblem(d.Host, p.Number, portProtocol(p.Protocol)); msg != "" {
			return msg
		}
	}
	return ""
}

func portProtocol(p string) string {
	if p == "" {
		return "HTTP"
	}
	return p
}

func sortedDestinationPorts(d egressDestination) []int {
	order := make([]int, len(d.Ports))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return d.Ports[order[a]].Number < d.Ports[order[b]].Number })
	return order
}

// derivedServiceEntry is the ServiceEntry spec of one destination: its host,
// MESH_EXTERNAL (the default), DNS resolution (DYNAMIC_DNS for a wildcard;
// NONE with the destination's addresses, which Istio requires of ranges),
// its ports by number, with targetPort where TLS is originated.
func derivedServiceEntry(d egressDestination) *networkingv1alpha3.ServiceEntry {
	spec := &networkingv1alpha3.ServiceEntry{
		Hosts:      []string{d.Host},
		Location:   networkingv1alpha3.ServiceEntry_MESH_EXTERNAL,
		Resolution: networkingv1alpha3.ServiceEntry_DNS,
	}
	switch {
	case len(d.Addresses) > 0:
		spec.Addresses = d.Addresses
		spec.Resolution = networkingv1alpha3.ServiceEntry_NONE
	case strings.HasPrefix(d.Host, "*."):
		spec.Resolution = networkingv1alpha3.ServiceEntry_DYNAMIC_DNS
	}
	for _, i := range sortedDestinationPorts(d) {
		p := d.Ports[i]
		proto := portProtocol(p.Protocol)
		port := &networkingv1alpha3.ServicePort{Number: p.Number, Protocol: proto, Name: p.Name}
		if port.Name == "" {
			port.Name = fmt.Sprintf("%s-%d", strings.ToLower(proto), p.Number)
		}
		if t := p.TLSOrigination; t != nil {
			port.TargetPort = t.TargetPort
			if port.TargetPort == 0 {
				port.TargetPort = defaultTLSTargetPort
			}
		}
		spec.Ports = append(spec.Ports, port)
	}
	return spec
}

// accessProblem checks what the API server cannot: path templates, as
// istiod's webhook does (pkg/config/security/security.go,
// CheckValidPathTemplate), and ports the destination declares.
func accessProblem(d egressDestination) string {
	declared, http := map[int32]bool{}, map[int32]bool{}
	for _, p := range d.Ports {
		declared[int32(p.Number)] = true
		http[int32(p.Number)] = httpProtocols[portProtocol(p.Protocol)]
	}
	for _, l := range []struct {
		name  string
		rules []accessRule
	}{{"access", d.Access}, {"deny", d.Deny}} {
		for i, r := range l.rules {
			if r.To == nil {
				continue
			}
			for _, path := range r.To.Paths {
				if err := match.ValidateTemplate(path); err != nil {
					return fmt.Sprintf("%s[%d].to.paths: %v", l.name, i, err)
				}
			}
			onHTTP := len(r.To.Ports) == 0
			for _, port := range r.To.Ports {
				if !declared[port] {
					return fmt.Sprintf("%s[%d].to.ports: %d is not one of the destination's ports", l.name, i, port)
				}
				onHTTP = onHTTP || http[port]
			}
			// The API server refuses methods and paths on a destination
			// without an HTTP port; ports can narrow a rule to TCP and TLS
			// ones, where the waypoint sees neither and istiod would drop
			// the rule (ALLOW) or the fields (DENY).
			if !onHTTP && len(r.To.Methods)+len(r.To.Paths) > 0 {
				return fmt.Sprintf("%s[%d].to: methods and paths need an HTTP port, and ports %v are TCP or TLS: the waypoint sees neither there, so the rule would never match as written", l.name, i, r.To.Ports)
			}
		}
	}
	return ""
}

// derivedPolicy renders access or deny rules as one AuthorizationPolicy on
// the destination's ServiceEntry: one rule per entry, its from lists as
// alternatives (a caller matching any of them matches), its to as one
// operation.
func derivedPolicy(serviceEntry string, action securityv1beta1.AuthorizationPolicy_Action, rules []accessRule) *securityv1beta1.AuthorizationPolicy {
	spec := &securityv1beta1.AuthorizationPolicy{
		TargetRefs: []*typev1beta1.PolicyTargetReference{{Group: groupNetworking, Kind: "ServiceEntry", Name: serviceEntry}},
		Action:     action,
		Rules:      []*securityv1beta1.Rule{},
	}
	for _, r := range rules {
		rule := &securityv1beta1.Rule{}
		if f := r.From; f != nil {
			for _, src := range []*securityv1beta1.Source{
				{ServiceAccounts: f.ServiceAccounts}, {Namespaces: f.Namespaces}, {Principals: f.Principals},
			} {
				if len(src.ServiceAccounts)+len(src.Namespaces)+len(src.Principals) > 0 {
					rule.From = append(rule.From, &securityv1beta1.Rule_From{Source: src})
				}
			}
		}
		if t := r.To; t != nil {
			op := &securityv1beta1.Operation{Methods: t.Methods, Paths: t.Paths}
			for _, p := range t.Ports {
				op.Ports = append(op.Ports, strconv.Itoa(int(p)))
			}
			rule.To = []*securityv1beta1.Rule_To{{Operation: op}}
		}
		spec.Rules = append(spec.Rules, rule)
	}
	return spec
}

// derivedSNIGuard denies, on a wildcard host's TLS ports, connections whose
// server name is outside the wildcard. istiod puts an SNI dynamic forward
// proxy in front of such a port's TCP proxy, which connects to whatever
// name the client sent (pilot/pkg/networking/core/listener_waypoint.go and
// networkfilter.go, buildSNIDFPFilter), and nothing else at the waypoint
// compares it with the ServiceEntry's host, unlike an HTTP port, whose
// route accepts only Host headers under the wildcard (buildRouteVHostDomains).
// Nil when the destination is not a wildcard or has no TLS port.
func derivedSNIGuard(serviceEntry string, d egressDestination) *securityv1beta1.AuthorizationPolicy {
	if !strings.HasPrefix(d.Host, "*.") {
		return nil
	}
	var ports []string
	for _, i := range sortedDestinationPorts(d) {
		if p := d.Ports[i]; portProtocol(p.Protocol) == "TLS" {
			ports = append(ports, strconv.Itoa(int(p.Number)))
		}
	}
	if len(ports) == 0 {
		return nil
	}
	return &securityv1beta1.AuthorizationPolicy{
		TargetRefs: []*typev1beta1.PolicyTargetReference{{Group: groupNetworking, Kind: "ServiceEntry", Name: serviceEntry}},
		Action:     securityv1beta1.AuthorizationPolicy_DENY,
		Rules: []*securityv1beta1.Rule{{
			To:   []*securityv1beta1.Rule_To{{Operation: &securityv1beta1.Operation{Ports: ports}}},
			When: []*securityv1beta1.Condition{{Key: KeySNI, NotValues: []string{d.Host}}},
		}},
	}
}

// derivedDestinationRule originates TLS for the ports that ask: in
// trafficPolicy.tls when every port asks the same, else per port. Nil when
// no port asks.
func derivedDestinationRule(d egressDestination) *networkingv1alpha3.DestinationRule {
	type tls struct{ mode, sni, credential string }
	var ports []uint32
	var settings []tls
	for _, i := range sortedDestinationPorts(d) {
		if t := d.Ports[i].TLSOrigination; t != nil {
			ports = append(ports, d.Ports[i].Number)
			settings = append(settings, tls{t.Mode, t.SNI, t.CredentialName})
		}
	}
	if len(ports) == 0 {
		return nil
	}
	client := func(t tls) *networkingv1alpha3.ClientTLSSettings {
		mode := networkingv1alpha3.ClientTLSSettings_SIMPLE
		if t.mode == "MUTUAL" {
			mode = networkingv1alpha3.ClientTLSSettings_MUTUAL
		}
		return &networkingv1alpha3.ClientTLSSettings{Mode: mode, Sni: t.sni, CredentialName: t.credential}
	}
	spec := &networkingv1alpha3.DestinationRule{Host: d.Host, TrafficPolicy: &networkingv1alpha3.TrafficPolicy{}}
	same := len(ports) == len(d.Ports)
	for _, t := range settings[1:] {
		same = same && t == settings[0]
	}
	if same {
		spec.TrafficPolicy.Tls = client(settings[0])
		return spec
	}
	for i, n := range ports {
		spec.TrafficPolicy.PortLevelSettings = append(spec.TrafficPolicy.PortLevelSettings,
			&networkingv1alpha3.TrafficPolicy_PortTrafficPolicy{Port: &networkingv1alpha3.PortSelector{Number: n}, Tls: client(settings[i])})
	}
	return spec
}
