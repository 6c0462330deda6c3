package reach

import (
	"fmt"
	"strings"

	"github.com/ambient-egress/ambient-egress-operator/simulator"
)

// Finding codes. Each is documented in the README with how to fix it.
const (
	// CodeBypassesWaypoint: a ServiceEntry is bound to no waypoint, so its
	// traffic bypasses the egress gateway and its policies do nothing.
	CodeBypassesWaypoint = "BypassesWaypoint"
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
	// CodeInvalidInput: the simulator rejected an object, as Istio would.
	CodeInvalidInput = "InvalidInput"
	// CodeSimulatorWarning: another warning of the simulator core.
	CodeSimulatorWarning = "SimulatorWarning"
)

// globalFindings are the findings about objects rather than destinations.
func (b *builder) globalFindings(snap *simulator.Snapshot) []Finding {
	var out []Finding
	out = append(out, targetFindings(snap, b.prog)...)
	out = append(out, ignoredFindings(snap, b.prog)...)
	out = append(out, ztunnelFindings(b.prog)...)
	return out
}

func targetFindings(snap *simulator.Snapshot, prog *simulator.Program) []Finding {
	exists := map[string]bool{}
	for _, d := range prog.Destinations() {
		exists[d.Kind+"/"+d.Origin.Namespace+"/"+d.Origin.Name] = true
	}
	for _, w := range prog.Waypoints() {
		exists["Gateway/"+w.Namespace+"/"+w.Name] = true
	}
	for _, g := range snap.Gateways {
		exists["Gateway/"+g.Namespace+"/"+g.Name] = true
	}
	var out []Finding
	for _, p := range snap.AuthorizationPolicies {
		refs := p.Spec.GetTargetRefs()
		if r := p.Spec.GetTargetRef(); len(refs) == 0 && r != nil {
			refs = append(refs, r)
		}
		for i, r := range refs {
			switch r.GetKind() {
			case "ServiceEntry", "Service", "Gateway":
			default:
				continue
			}
			if exists[r.GetKind()+"/"+p.Namespace+"/"+r.GetName()] {
				continue
			}
			out = append(out, Finding{Severity: SeverityWarning, Code: CodeTargetNotFound, Object: p.Object(),
				Field:   fmt.Sprintf("spec.targetRefs[%d]", i),
				Message: fmt.Sprintf("targets %s %s/%s, which is not in the inputs: the policy applies to nothing", r.GetKind(), p.Namespace, r.GetName()),
				Fix:     "fix the name, or create the " + r.GetKind() + " in namespace " + p.Namespace + " (targetRefs only reach objects in the policy's namespace)"})
		}
	}
	return out
}

func ignoredFindings(snap *simulator.Snapshot, prog *simulator.Program) []Finding {
	waypointNS := map[string]string{}
	for _, w := range prog.Waypoints() {
		waypointNS[w.Namespace] = w.Namespace + "/" + w.Name
	}
	var out []Finding
	for _, p := range snap.AuthorizationPolicies {
		w, ok := waypointNS[p.Namespace]
		if !ok || p.Spec.GetSelector() != nil || len(p.Spec.GetTargetRefs()) > 0 || p.Spec.GetTargetRef() != nil {
			continue
		}
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
		case is.Severity == simulator.SeverityWarning && !mentioned[is.Object]:
			out = append(out, Finding{Severity: SeverityWarning, Code: CodeSimulatorWarning, Object: is.Object, Field: is.Field,
				Message: is.Message})
		}
	}
	return out
}
