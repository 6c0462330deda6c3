package reach

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/ambient-egress/ambient-egress-operator/simulator"
)

// destFindings are the findings about one destination: its binding, its
// TLS settings and the rules its waypoint enforces. Whether each rule can
// match here is returned beside them: a rule is reported as never matching
// only when it matches on no destination (a rule scoped to another port is
// not a mistake).
func (b *builder) destFindings(d *destSpec, m *meter) ([]Finding, []ruleStatus) {
	out := bindingFindings(d)
	out = append(out, tlsFindings(d)...)
	if d.Waypoint == nil {
		return out, nil
	}
	if d.unserved != "" {
		// The rules are never reached here: nothing more to say.
		return append(out, Finding{Severity: SeverityError, Code: CodeUnservedPort, Object: seObject(d), Field: "spec.ports",
			Message: fmt.Sprintf("%s, so every connection to %s fails", d.unserved, d.Key()),
			Fix: "use protocol HTTP (plain HTTP, or HTTP with TLS origination) or TLS on a wildcard host's ports; for TLS run istiod 1.29 or later with " +
				simulator.WildcardTLSFlag + "=true"}), nil
	}
	pols, forms := b.policies(d), formsOf(b.prog, d)
	out = append(out, unknownProviderFindings(forms)...)
	out = append(out, jwtFindings(d, forms)...)
	out = append(out, remoteIPFindings(d, forms)...)
	out = append(out, hostHeaderFindings(d, forms)...)
	out = append(out, sniFindings(d, forms)...)
	out = append(out, tcpFindings(d, forms, pols, m)...)
	shadows, statuses := ruleFindings(d, pols, m)
	out = append(out, shadows...)
	out = append(out, b.dryRunFindings(d, pols, m)...)
	return out, statuses
}

// unknownProviderFindings flags the CUSTOM policies whose provider the
// mesh config does not define: istiod enforces their rules as DENY rules
// (the same on every destination; the report keeps one of each).
func unknownProviderFindings(forms []simulator.PolicyForm) []Finding {
	var out []Finding
	for _, f := range forms {
		if !f.UnknownProvider {
			continue
		}
		out = append(out, Finding{Severity: SeverityWarning, Code: CodeUnknownCustomProvider, Object: f.Origin.Object(),
			Field: "spec.provider.name",
			Message: fmt.Sprintf("CUSTOM provider %q is not among the mesh config's extensionProviders: istiod turns the policy's rules into DENY rules, "+
				"on HTTP and TCP ports alike, so every request they match is denied", f.Provider),
			Fix: "define the provider under meshConfig.extensionProviders (the istio ConfigMap of the Istio namespace), or correct spec.provider.name"})
	}
	return out
}

// jwtFindings flags the policies whose rules read the JWT at a destination
// where the waypoint validates none (no RequestAuthentication applies).
func jwtFindings(d *destSpec, forms []simulator.PolicyForm) []Finding {
	if !d.noJWT || !d.http {
		return nil
	}
	return findingsForRules(forms, simulator.Atom.ReadsJWT, func(f simulator.PolicyForm, rules string) Finding {
		return Finding{Severity: SeverityWarning, Code: CodeJWTNotValidated, Object: f.Origin.Object(), Field: "spec.rules",
			Message: fmt.Sprintf("rule(s) %s read the request's JWT (requestPrincipals or request.auth.*), but no RequestAuthentication applies "+
				"to %s at waypoint %s: the waypoint validates no token, so these conditions never match (an ALLOW rule that needs them allows "+
				"nothing, a notRequestPrincipals condition matches every request)", rules, d.ServiceEntry, *d.Waypoint),
			Fix: fmt.Sprintf("add a RequestAuthentication with targetRefs to the waypoint Gateway %s or to ServiceEntry %s, listing the issuers; "+
				"a RequestAuthentication with a selector, or none, does not apply to waypoints", *d.Waypoint, d.ServiceEntry)}
	})
}

// remoteIPFindings flags the policies whose rules read remote.ip on a
// waypoint's HTTP chain, where it comes from a header the caller writes.
func remoteIPFindings(d *destSpec, forms []simulator.PolicyForm) []Finding {
	if !d.http {
		return nil
	}
	reads := func(a simulator.Atom) bool { return a.Key() == simulator.KeyRemoteIP }
	return findingsForRules(forms, reads, func(f simulator.PolicyForm, rules string) Finding {
		return Finding{Severity: SeverityWarning, Code: CodeRemoteIPFromHeader, Object: f.Origin.Object(), Field: "spec.rules",
			Message: fmt.Sprintf("rule(s) %s read remote.ip (remoteIpBlocks): at waypoint %s that is the rightmost X-Forwarded-For address, "+
				"a header the caller writes, so any caller can claim any address (an ALLOW rule admits it, a DENY rule lets it through)",
				rules, *d.Waypoint),
			Fix: "match the connection's address with ipBlocks or source.ip, or better the caller's identity (principals, namespaces, serviceAccounts)"}
	})
}

// hostHeaderFindings flags the policies whose rules read the Host header
// (hosts) on a destination ztunnel knows by its addresses: a client reaches
// it by address with any Host header it likes, so hosts restricts nothing
// an ALLOW rule admits and lets a DENY rule be stepped around.
func hostHeaderFindings(d *destSpec, forms []simulator.PolicyForm) []Finding {
	if !d.http || !d.view.ByAddress {
		return nil
	}
	reads := func(a simulator.Atom) bool { return a.Key() == simulator.AtomHosts }
	return findingsForRules(forms, reads, func(f simulator.PolicyForm, rules string) Finding {
		return Finding{Severity: SeverityWarning, Code: CodeHostHeaderNotEnforced, Object: f.Origin.Object(), Field: "spec.rules",
			Message: fmt.Sprintf("rule(s) %s match on hosts, but %s is reached by address (spec.addresses): a client connects to the address "+
				"with any Host header it likes, so hosts does not say where the request goes", rules, d.ServiceEntry),
			Fix: "restrict by address instead (the ServiceEntry's addresses, or destination.ip), or declare the destination by name (resolution DNS, no addresses)"}
	})
}

// sniFindings flags a served TLS port of a DYNAMIC_DNS ServiceEntry that
// no policy at the waypoint restricts by server name: istiod puts an SNI
// dynamic forward proxy in front of its TCP proxy, which connects to the
// name the client sent (pilot/pkg/networking/core/networkfilter.go,
// buildSNIDFPFilter), and nothing else compares it with the host.
func sniFindings(d *destSpec, forms []simulator.PolicyForm) []Finding {
	if !d.view.DynamicDNS || d.http || d.Protocol != "TLS" {
		return nil
	}
	reads := func(a simulator.Atom) bool { return a.Key() == simulator.KeySNI }
	for _, f := range forms {
		if rulesReading(f, reads) != "" {
			return nil
		}
	}
	return []Finding{{Severity: SeverityWarning, Code: CodeSNINotEnforced, Object: seObject(d), Field: "spec.hosts",
		Message: fmt.Sprintf("the waypoint forwards a TLS connection on %s to whatever server name the client sends, and no policy here reads connection.sni: "+
			"a client of this ServiceEntry's address reaches any host on port %d", d.Key(), d.Port),
		Fix: fmt.Sprintf(`add a DENY AuthorizationPolicy targeting the ServiceEntry with rules: [{to: [{operation: {ports: ["%d"]}}], when: [{key: connection.sni, notValues: ["%s"]}]}] `+
			"(an EgressGateway's spec.destinations writes it for its wildcard TLS destinations)", d.Port, d.Host)}}
}

// findingsForRules makes one finding per policy with rules that have a
// condition reads accepts, naming those rules.
func findingsForRules(forms []simulator.PolicyForm, reads func(simulator.Atom) bool, finding func(f simulator.PolicyForm, rules string) Finding) []Finding {
	var out []Finding
	for _, f := range forms {
		if rules := rulesReading(f, reads); rules != "" {
			out = append(out, finding(f, rules))
		}
	}
	return out
}

// rulesReading lists, comma-separated, the indexes of a policy's rules
// with a condition reads accepts.
func rulesReading(f simulator.PolicyForm, reads func(simulator.Atom) bool) string {
	var out []string
	for _, r := range f.Rules {
		if ruleReads(r, reads) {
			out = append(out, strconv.Itoa(r.Index))
		}
	}
	return strings.Join(out, ", ")
}

func ruleReads(r simulator.RuleForm, reads func(simulator.Atom) bool) bool {
	for _, c := range r.Clauses {
		for _, alt := range c {
			for _, l := range alt {
				if reads(l.Atom) {
					return true
				}
			}
		}
	}
	return false
}

// ruleStatus says whether one enforced rule can match on one destination.
type ruleStatus struct {
	policy string
	index  int
	never  bool
	// lost is set when istiod dropped the rule on this chain, which
	// L7OnTCPPort already reports.
	lost bool
	dest string
}

func seObject(d *destSpec) string {
	return "ServiceEntry " + d.ServiceEntry
}

func bindingFindings(d *destSpec) []Finding {
	switch {
	case d.Waypoint != nil:
		return nil
	case d.notRedirected:
		return []Finding{{Severity: SeverityWarning, Code: CodeNotRedirected, Object: seObject(d), Field: "spec.addresses",
			Message: fmt.Sprintf("%s: traffic to %s bypasses the egress gateway and no egress policy applies to it", d.Binding, d.Host),
			Fix: "give the host an address ztunnel can capture: resolution DNS (istiod allocates one; not with the label " +
				"networking.istio.io/enable-autoallocate-ip=false), DYNAMIC_DNS for a wildcard host, or spec.addresses"}}
	}
	f := Finding{Severity: SeverityWarning, Code: CodeBypassesWaypoint, Object: seObject(d), Field: "metadata.labels",
		Message: fmt.Sprintf("%s: traffic to %s bypasses the egress gateway and no egress policy applies to it", d.Binding, strings.Join(d.view.Hosts, ", ")),
		Fix: "label the ServiceEntry or its namespace istio.io/use-waypoint=<waypoint> (an EgressGateway with enrollNamespace " +
			"or serviceEntrySelector does it), and make sure that waypoint exists and has istio.io/waypoint-for service or all"}
	ns, _, _ := strings.Cut(d.ServiceEntry, "/")
	switch v := d.view; {
	case v.Unbound == simulator.UnboundNamespaceNotAllowed && v.NamedEgressGateway != "":
		// The label is there: what is missing is the waypoint's consent.
		f.Field = "spec"
		f.Fix = fmt.Sprintf("let the waypoint serve namespace %s: set spec.waypoint.allowedRoutes on EgressGateway %s to from: All, "+
			"or from: Selector with a selector matching namespace %s", ns, v.NamedEgressGateway, ns)
	case v.Unbound == simulator.UnboundNamespaceNotAllowed:
		f.Field = "spec"
		f.Fix = fmt.Sprintf("let the waypoint serve namespace %s: allow it in spec.listeners[].allowedRoutes.namespaces of Gateway %s "+
			"(from: All, or from: Selector with a selector matching it)", ns, v.NamedWaypoint)
	}
	return []Finding{f}
}

func tlsFindings(d *destSpec) []Finding {
	switch {
	case d.TLSOrigination != nil && d.TLSOrigination.Port != 443:
		return []Finding{{Severity: SeverityWarning, Code: CodeTLSWithoutTargetPort, Object: "DestinationRule " + d.TLSOrigination.DestinationRule,
			Field: "spec.trafficPolicy.tls.mode",
			Message: fmt.Sprintf("originates TLS (%s) for %s, but the connection goes to port %d, not 443",
				d.TLSOrigination.Mode, d.Key(), d.TLSOrigination.Port),
			Fix: fmt.Sprintf("set targetPort: 443 on port %d of %s", d.Port, seObject(d))}}
	case d.TLSOrigination == nil && d.TargetPort == 443 && simulator.ChainIsHTTP(d.Protocol, true):
		return []Finding{{Severity: SeverityWarning, Code: CodeTargetPortWithoutTLS, Object: seObject(d), Field: "spec.ports",
			Message: fmt.Sprintf("port %d sends to targetPort 443 but no DestinationRule originates TLS for %s: plain HTTP goes to the HTTPS port", d.Port, d.Host),
			Fix:     fmt.Sprintf("add a DestinationRule for host %s with trafficPolicy.tls.mode: SIMPLE", d.Host)}}
	}
	return nil
}

// tcpFindings report HTTP fields of waypoint rules on a port the waypoint
// evaluates as TCP. A DENY rule whose other conditions cannot match here
// (say, it names another port) is left out: its HTTP fields change nothing.
func tcpFindings(d *destSpec, forms []simulator.PolicyForm, pols []policyRules, m *meter) []Finding {
	if d.http {
		return nil
	}
	cx := &evalContext{port: d.Port, host: d.Host, noJWT: d.noJWT, keepSources: true, m: m}
	var out []Finding
	for fi, f := range forms {
		for ri, r := range f.Rules {
			var msg string
			switch {
			case len(r.Dropped) > 0 && neverMatches(cx, &pols[fi].rules[ri]):
				continue
			case r.Skipped != "":
				msg = fmt.Sprintf("%s is an HTTP field; on TCP port %s the waypoint drops this ALLOW rule, so it never matches there", r.Skipped, d.Key())
			case len(r.Dropped) > 0:
				msg = fmt.Sprintf("HTTP field(s) %s are ignored on TCP port %s, so this %s rule applies to every connection matching the rest",
					strings.Join(r.Dropped, ", "), d.Key(), f.Action)
			default:
				continue
			}
			out = append(out, Finding{Severity: SeverityWarning, Code: CodeL7OnTCPPort, Object: f.Origin.Object(),
				Field: fmt.Sprintf("spec.rules[%d]", r.Index), Message: msg,
				Fix: "declare the ServiceEntry port with protocol HTTP, or use only L4 fields (ports, principals, namespaces, ipBlocks) in rules for this port"})
		}
	}
	return out
}

// neverMatches reports whether a rule is known to match nothing here.
func neverMatches(cx *evalContext, r *ruleLits) bool {
	cs, _ := cx.ruleCubes(r)
	return len(cs) == 0
}

// ruleFindings report ALLOW rules every request of which a DENY rule takes,
// and whether each enforced rule can match on the destination. Every DENY
// rule is gathered before any ALLOW rule is checked, as DENY policies are
// evaluated first whatever their names or order. Past the budget a rule's
// cubes over-approximate its space, so "never matches" and "shadowed" are
// only claimed where they still hold.
func ruleFindings(d *destSpec, pols []policyRules, m *meter) ([]Finding, []ruleStatus) {
	cx := &evalContext{port: d.Port, host: d.Host, noJWT: d.noJWT, keepSources: true, m: m}
	var denies []cube
	denyOf := map[int]string{}
	var statuses []ruleStatus
	cubes := make([][][]cube, len(pols))
	for pi := range pols {
		p := &pols[pi]
		if p.dryRun || (p.action != simulator.ActionAllow && p.action != simulator.ActionDeny) {
			continue
		}
		cubes[pi] = make([][]cube, len(p.rules))
		for ri := range p.rules {
			r := &p.rules[ri]
			cs, exact := cx.ruleCubes(r)
			cubes[pi][ri] = cs
			statuses = append(statuses, ruleStatus{policy: p.key, index: r.index, never: len(cs) == 0, lost: r.skipped != "", dest: d.Key()})
			if p.action != simulator.ActionDeny || !exact {
				continue
			}
			for _, c := range cs {
				denyOf[len(denies)] = fmt.Sprintf("%s rule %d", p.key, r.index)
				denies = append(denies, c)
			}
		}
	}
	var out []Finding
	for pi := range pols {
		p := &pols[pi]
		if cubes[pi] == nil || p.action != simulator.ActionAllow {
			continue
		}
		for ri := range p.rules {
			cs := cubes[pi][ri]
			if len(cs) == 0 {
				continue
			}
			if by := shadowedBy(cs, denies, denyOf); by != "" {
				out = append(out, shadowFinding(d, p, &p.rules[ri], by))
			}
		}
	}
	return out, statuses
}

// shadowedBy names the DENY rule covering all the cubes of an ALLOW rule,
// or returns "" when some cube is not covered by a single DENY rule.
func shadowedBy(cs, denies []cube, denyOf map[int]string) string {
	var names []string
	for _, c := range cs {
		found := ""
		for i, dc := range denies {
			if implies(c, dc) {
				found = denyOf[i]
				break
			}
		}
		if found == "" {
			return ""
		}
		if len(names) == 0 || names[len(names)-1] != found {
			names = append(names, found)
		}
	}
	return strings.Join(names, ", ")
}

// neverFindings reports each rule that matches on none of the destinations
// its policy applies to, leaving out rules istiod dropped on a TCP chain
// (reported as L7OnTCPPort).
func neverFindings(statuses []ruleStatus) []Finding {
	type ruleID struct {
		policy string
		index  int
	}
	never := map[ruleID][]string{}
	matches := map[ruleID]bool{}
	var order []ruleID
	for _, s := range statuses {
		id := ruleID{s.policy, s.index}
		if _, ok := never[id]; !ok {
			order = append(order, id)
			never[id] = []string{}
		}
		switch {
		case !s.never:
			matches[id] = true
		case !s.lost:
			never[id] = append(never[id], s.dest)
		}
	}
	var out []Finding
	for _, id := range order {
		if matches[id] || len(never[id]) == 0 {
			continue
		}
		out = append(out, Finding{Severity: SeverityWarning, Code: CodeRuleNeverMatches, Object: "AuthorizationPolicy " + id.policy,
			Field: fmt.Sprintf("spec.rules[%d]", id.index),
			Message: fmt.Sprintf("can never match on %s: its conditions contradict each other, name another destination or port, "+
				"or need a value the simulator cannot see", strings.Join(never[id], ", ")),
			Fix: "remove the rule or fix its conditions (for example a value listed both in a field and in its not* twin)"})
	}
	return out
}

func shadowFinding(d *destSpec, p *policyRules, r *ruleLits, by string) Finding {
	return Finding{Severity: SeverityWarning, Code: CodeShadowedByDeny, Object: "AuthorizationPolicy " + p.key,
		Field:   fmt.Sprintf("spec.rules[%d]", r.index),
		Message: fmt.Sprintf("on %s every request this ALLOW rule allows is denied first by DENY %s: the rule has no effect", d.Key(), by),
		Fix:     "narrow the DENY rule or remove the ALLOW rule"}
}
