package reach

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/ambient-egress/ambient-egress-operator/simulator"
)

// Finding codes. Each is documented in docs/report.md with how to fix it.
const (
	// CodeBypassesWaypoint: a ServiceEntry is bound to no waypoint, so its
	// traffic bypasses the egress gateway and its policies do nothing.
	CodeBypassesWaypoint = "BypassesWaypoint"
	// CodeJWTNotValidated: a rule enforced at a waypoint reads the
	// request's JWT (requestPrincipals, request.auth.*) where no
	// RequestAuthentication applies, so the waypoint validates no token
	// and those conditions never match.
	CodeJWTNotValidated = "JWTNotValidated"
	// CodeRemoteIPFromHeader: a rule enforced on a waypoint's HTTP chain
	// reads remote.ip, which there is the rightmost X-Forwarded-For
	// address, a header the caller writes.
	CodeRemoteIPFromHeader = "RemoteIPFromHeader"
	// CodeAccessOverriddenByPolicy: policies other than those an
	// EgressGateway's spec.destinations[].access and deny write change what
	// they say about a destination.
	CodeAccessOverriddenByPolicy = "AccessOverriddenByPolicy"
	// CodeHostHeaderNotEnforced: a rule matches on hosts at a destination
	// reached by address, where the client chooses the Host header freely.
	CodeHostHeaderNotEnforced = "HostHeaderNotEnforced"
	// CodeUnknownServiceAccount: a policy names a service account that does
	// not exist in a namespace whose accounts the inputs list.
	CodeUnknownServiceAccount = "UnknownServiceAccount"
	// CodeSNINotEnforced: a TLS port of a DYNAMIC_DNS (wildcard)
	// ServiceEntry served at a waypoint, where no policy reads
	// connection.sni: the waypoint forwards to whatever server name the
	// client sends, so a client of the wildcard's address reaches any host.
	CodeSNINotEnforced = "SNINotEnforced"
	// CodeUnservedPort: a port of a DYNAMIC_DNS (wildcard) ServiceEntry
	// that istiod builds no waypoint cluster for (not HTTP or TLS, TLS
	// without the wildcard TLS flag, or an Istio too old), so every
	// connection to it fails.
	CodeUnservedPort = "UnservedPort"
	// CodeNotRedirected: a ServiceEntry host is bound to a waypoint, but
	// the ServiceEntry gives ztunnel no address for it, so ztunnel never
	// redirects its traffic there.
	CodeNotRedirected = "NotRedirected"
	// CodeTargetNotFound: a policy's targetRefs name an object that is not
	// in the inputs.
	CodeTargetNotFound = "TargetNotFound"
	// CodeIgnoredByWaypoint: a policy in a waypoint's namespace has neither
	// selector nor targetRefs; the waypoint ignores it.
	CodeIgnoredByWaypoint = "IgnoredByWaypoint"
	// CodeL7AtZtunnel: a policy enforced by ztunnel uses HTTP fields,
	// which ztunnel cannot see.
	CodeL7AtZtunnel = "L7AtZtunnel"
	// CodeL7OnTCPPort: a waypoint policy uses HTTP fields on a TCP or TLS
	// port, where the waypoint does not parse HTTP.
	CodeL7OnTCPPort = "L7OnTCPPort"
	// CodeRuleNeverMatches: a rule can never match on a destination.
	CodeRuleNeverMatches = "RuleNeverMatches"
	// CodeShadowedByDeny: everything an ALLOW rule allows is denied by a
	// DENY rule, which is evaluated first.
	CodeShadowedByDeny = "ShadowedByDeny"
	// CodeTLSWithoutTargetPort: a DestinationRule originates TLS but the
	// upstream port is not 443.
	CodeTLSWithoutTargetPort = "TLSWithoutTargetPort"
	// CodeTargetPortWithoutTLS: a ServiceEntry port sends to targetPort 443
	// but no DestinationRule originates TLS, so plain HTTP goes to 443.
	CodeTargetPortWithoutTLS = "TargetPortWithoutTLS"
	// CodeDryRun: a dry-run policy, and what it would change if enforced.
	CodeDryRun = "DryRunPolicy"
	// CodeReportTooComplex: the simulation budget ran out on a
	// destination; its entries are sound but inexact.
	CodeReportTooComplex = "ReportTooComplex"
	// CodeInvalidInput: the simulator rejected an object, as Istio would.
	CodeInvalidInput = "InvalidInput"
	// CodeSimulatorWarning: another warning of the simulator core.
	CodeSimulatorWarning = "SimulatorWarning"
	// CodeDirectEgressOpen: sources reach hosts outside the mesh directly,
	// bypassing every waypoint; no NetworkPolicy stops them.
	CodeDirectEgressOpen = "DirectEgressOpen"
	// CodeLockdownDefeated: a NetworkPolicy in a locked-down namespace
	// opens a broad range the lockdown does not allow.
	CodeLockdownDefeated = "LockdownDefeated"
	// CodeLockdownConflict: a NetworkPolicy the gateway did not write has
	// the lockdown policy's name; the namespace is not locked down.
	CodeLockdownConflict = "LockdownConflict"
	// CodeInvalidLockdown: spec.lockdown cannot be turned into policies.
	CodeInvalidLockdown = "InvalidLockdown"
	// CodeUnboundServiceEntryBlocked: a ServiceEntry bound to no waypoint
	// sends directly, which the lockdown blocks.
	CodeUnboundServiceEntryBlocked = "UnboundServiceEntryBlocked"
	// CodeOptedOutPods: pods out of the mesh in a locked-down namespace
	// have no way to any external host.
	CodeOptedOutPods = "OptedOutPods"
	// CodeWaypointMisleadingAllow: a policy allowing only the waypoint's
	// identity, which cannot stop direct egress.
	CodeWaypointMisleadingAllow = "WaypointMisleadingAllow"
	// CodeUnknownCustomProvider: a CUSTOM policy names a provider the mesh
	// config does not define; istiod enforces its rules as DENY rules.
	CodeUnknownCustomProvider = "UnknownCustomProvider"
)

// globalFindings are the findings about objects rather than destinations.
// Each policy's own findings are taken from cache when the policy object is
// the one seen last time and the objects it can name did not change.
func (b *builder) globalFindings(snap *simulator.Snapshot, cache *policyFindingsCache) []Finding {
	if cache.objects == nil {
		cache.objects = newObjectIndex(snap, b.prog)
		cache.byPolicy = nil
	}
	next := make(map[*simulator.AuthorizationPolicy][]Finding, len(snap.AuthorizationPolicies))
	var out []Finding
	for _, p := range snap.AuthorizationPolicies {
		fs, ok := cache.byPolicy[p]
		if !ok {
			fs = cache.objects.policyFindings(p)
		}
		next[p] = fs
		out = append(out, fs...)
	}
	cache.byPolicy = next
	return append(out, ztunnelFindings(b.prog)...)
}

// unknownAccountFindings flags the serviceAccounts a policy names that do
// not exist, in the namespaces whose accounts the inputs list (the
// operator's are the source namespaces'): a typo there grants or denies
// nobody. Namespaces the inputs know no account of are not judged.
func unknownAccountFindings(snap *simulator.Snapshot, accounts []Ref) []Finding {
	known, listed := map[string]bool{}, map[string]bool{}
	for _, a := range accounts {
		known[a.Namespace+"/"+a.Name], listed[a.Namespace] = true, true
	}
	var out []Finding
	for _, p := range snap.AuthorizationPolicies {
		for i, r := range p.Spec.GetRules() {
			for j, f := range r.GetFrom() {
				for _, sa := range f.GetSource().GetServiceAccounts() {
					ns, name, ok := strings.Cut(sa, "/")
					if !ok {
						ns, name = p.Namespace, sa
					}
					if !listed[ns] || known[ns+"/"+name] {
						continue
					}
					out = append(out, Finding{Severity: SeverityWarning, Code: CodeUnknownServiceAccount, Object: p.Object(),
						Field:   fmt.Sprintf("spec.rules[%d].from[%d].source.serviceAccounts", i, j),
						Message: fmt.Sprintf("names service account %s/%s, which namespace %s does not have: the rule matches no caller through it", ns, name, ns),
						Fix:     "correct the name (serviceAccounts are namespace/name), or create the service account"})
				}
			}
		}
	}
	return out
}

// policyFindingsCache keeps per-policy findings between builds.
type policyFindingsCache struct {
	objects  *objectIndex
	byPolicy map[*simulator.AuthorizationPolicy][]Finding
}

// objectIndex lists the objects a policy can name: destinations and
// gateways by "Kind/namespace/name", and the waypoint of each namespace.
type objectIndex struct {
	exists     map[string]bool
	waypointNS map[string]string
}

func newObjectIndex(snap *simulator.Snapshot, prog *simulator.Program) *objectIndex {
	x := &objectIndex{exists: map[string]bool{}, waypointNS: map[string]string{}}
	for _, d := range prog.Destinations() {
		x.exists[d.Kind+"/"+d.Origin.Namespace+"/"+d.Origin.Name] = true
	}
	for _, w := range prog.Waypoints() {
		x.exists["Gateway/"+w.Namespace+"/"+w.Name] = true
		x.waypointNS[w.Namespace] = w.Namespace + "/" + w.Name
	}
	for _, g := range snap.Gateways {
		x.exists["Gateway/"+g.Namespace+"/"+g.Name] = true
	}
	return x
}

// policyFindings reports targetRefs naming missing objects, and a policy in
// a waypoint's namespace that the waypoint ignores.
func (x *objectIndex) policyFindings(p *simulator.AuthorizationPolicy) []Finding {
	refs := p.Spec.GetTargetRefs()
	if r := p.Spec.GetTargetRef(); len(refs) == 0 && r != nil {
		refs = append(refs, r)
	}
	var out []Finding
	for i, r := range refs {
		switch r.GetKind() {
		case "ServiceEntry", "Service", "Gateway":
		default:
			continue
		}
		if x.exists[r.GetKind()+"/"+p.Namespace+"/"+r.GetName()] {
			continue
		}
		out = append(out, Finding{Severity: SeverityWarning, Code: CodeTargetNotFound, Object: p.Object(),
			Field:   fmt.Sprintf("spec.targetRefs[%d]", i),
			Message: fmt.Sprintf("targets %s %s/%s, which is not in the inputs: the policy applies to nothing", r.GetKind(), p.Namespace, r.GetName()),
			Fix:     "fix the name, or create the " + r.GetKind() + " in namespace " + p.Namespace + " (targetRefs only reach objects in the policy's namespace)"})
	}
	if w, ok := x.waypointNS[p.Namespace]; ok && p.Spec.GetSelector() == nil && len(refs) == 0 {
		out = append(out, Finding{Severity: SeverityWarning, Code: CodeIgnoredByWaypoint, Object: p.Object(), Field: "spec",
			Message: fmt.Sprintf("has neither selector nor targetRefs: waypoint %s ignores it (only ztunnel enforces it, at workloads of namespace %s)", w, p.Namespace),
			Fix:     "add targetRefs naming the ServiceEntry (kind ServiceEntry, group networking.istio.io) or the waypoint Gateway"})
	}
	return out
}

func ztunnelFindings(prog *simulator.Program) []Finding {
	var out []Finding
	for _, p := range prog.ZtunnelPolicies() {
		var fields []string
		for _, r := range p.Rules {
			for _, f := range r.L7 {
				fields = append(fields, fmt.Sprintf("rules[%d].%s", r.Index, f))
			}
		}
		if len(fields) == 0 {
			continue
		}
		effect := "its ALLOW rules with them never match (less is allowed than it reads)"
		if p.Action == simulator.ActionDeny {
			effect = "its DENY rules are enforced without them (more is denied than it reads), or not at all when nothing else is left"
		}
		out = append(out, Finding{Severity: SeverityWarning, Code: CodeL7AtZtunnel, Object: p.Origin.Object(), Field: "spec.rules",
			Message: fmt.Sprintf("is enforced by ztunnel, which cannot see HTTP fields (%s): %s", strings.Join(fields, ", "), effect),
			Fix:     "attach the policy to the waypoint with targetRefs, or remove the HTTP fields"})
	}
	return out
}

// supersededWarnings are parts of simulator warnings that a coded finding
// restates, decided per destination: L7OnTCPPort, BypassesWaypoint,
// NotRedirected, TargetNotFound and L7AtZtunnel. Such a warning is left out even when the
// coded finding is not raised (a DENY rule whose HTTP fields are dropped on
// a port it cannot match anyway).
var supersededWarnings = []string{"on TCP port(s)", "bypasses every waypoint", "ztunnel does not redirect traffic", "the policy targets nothing",
	"ztunnel cannot see HTTP attributes"}

// issueFindings turns the simulator's errors into InvalidInput findings,
// and its warnings about objects no coded finding mentions into
// SimulatorWarning findings.
func issueFindings(issues simulator.Issues, coded []Finding) []Finding {
	mentioned := map[string]bool{}
	for _, f := range coded {
		mentioned[f.Object] = true
	}
	var out []Finding
	for _, is := range issues {
		switch {
		case is.Severity == simulator.SeverityError:
			out = append(out, Finding{Severity: SeverityError, Code: CodeInvalidInput, Object: is.Object, Field: is.Field,
				Message: is.Message, Fix: "correct the field; Istio rejects the object, so it takes no part"})
		case is.Severity == simulator.SeverityWarning && !mentioned[is.Object] && !superseded(is.Message):
			obj := is.Object
			if obj == "" && is.File != "" {
				// A document that is no object: name where it is.
				obj = is.File + ":" + strconv.Itoa(is.Line)
			}
			out = append(out, Finding{Severity: SeverityWarning, Code: CodeSimulatorWarning, Object: obj, Field: is.Field,
				Message: is.Message})
		}
	}
	return out
}

func superseded(msg string) bool {
	for _, s := range supersededWarnings {
		if strings.Contains(msg, s) {
			return true
		}
	}
	return false
}

// tooComplexFinding says a destination's budget ran out, and names its
// policies: the DENY ones first, as subtracting them is what grows.
func tooComplexFinding(d *destSpec, b Budget, entries bool) Finding {
	var deny, other []string
	for _, f := range d.forms {
		if f.Action == simulator.ActionDeny || f.Action == simulator.ActionCustom {
			deny = append(deny, f.Key)
		} else {
			other = append(other, f.Key)
		}
	}
	names := strings.Join(append(deny, other...), ", ")
	what := "its entries are inexact: access is unknown, Allowed lists a superset of the allowed requests " +
		"(a request is allowed only if it is in an Allowed cube and in no Denied cube)"
	if !entries {
		what = "findings about its rules (RuleNeverMatches, ShadowedByDeny, DryRunPolicy) may be missing"
	}
	return Finding{Severity: SeverityWarning, Code: CodeReportTooComplex, Object: seObject(d),
		Message: fmt.Sprintf("the report of %s needs more than the simulation budget (%s) with policies %s: %s",
			d.Key(), b.describe(), names, what),
		Fix: "merge DENY rules that name the same attributes, or raise the budget (egressctl --max-work/--destination-timeout, " +
			"spec.simulation.budget); egressctl check answers single requests exactly"}
}
