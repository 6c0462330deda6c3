package reach

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"go4.org/netipx"
	securityv1beta1 "istio.io/api/security/v1beta1"

	"github.com/ambient-egress/ambient-egress-operator/simulator"
	"github.com/ambient-egress/ambient-egress-operator/simulator/netpol"
)

// broadBits is the widest opening a lockdown tolerates from another policy
// without calling it defeated: a /16 of IPv4 or a /48 of IPv6 is already a
// large part of someone's network, and 0.0.0.0/0 is the usual culprit.
const (
	broadBits4 = 16
	broadBits6 = 48
)

// directFindings are the findings about direct egress and the lockdown.
func (v *directView) directFindings(snap *simulator.Snapshot, direct []DirectEntry, dests []Destination) []Finding {
	var out []Finding
	out = append(out, v.openFinding(snap, direct)...)
	// With every plan in Enforce, the policies as they would be are the
	// view's own (already with the lockdown's): no second cluster.
	withLockdown := v.cluster
	if slices.ContainsFunc(v.plans, func(p simulator.LockdownPlan) bool { return p.Gateway.Lockdown.Mode == simulator.LockdownAudit }) {
		withLockdown = v.auditCluster(snap)
	}
	for i := range v.plans {
		p := &v.plans[i]
		gw := "EgressGateway " + p.Gateway.Namespace + "/" + p.Gateway.Name
		if p.Invalid != nil {
			out = append(out, Finding{Severity: SeverityError, Code: CodeInvalidLockdown, Object: gw, Field: "spec.lockdown",
				Message: p.Invalid.Error() + ": nothing is locked down", Fix: "correct spec.lockdown"})
			continue
		}
		for _, c := range p.Conflicts {
			out = append(out, Finding{Severity: SeverityWarning, Code: CodeLockdownConflict, Object: c.Object(),
				Message: fmt.Sprintf("a NetworkPolicy of this name exists and was not written by %s: the operator leaves it alone, so namespace %s is not locked down", gw, c.Namespace),
				Fix:     "rename or delete this NetworkPolicy"})
		}
		if withLockdown == nil {
			continue
		}
		out = append(out, defeatedFindings(withLockdown, p)...)
		out = append(out, unboundFindings(withLockdown, p, dests)...)
		out = append(out, optedOutFindings(snap, p)...)
	}
	out = append(out, misleadingAllowFindings(snap, direct)...)
	return out
}

// openFinding is DirectEgressOpen: sources that reach any other host
// directly, bypassing every waypoint.
func (v *directView) openFinding(snap *simulator.Snapshot, direct []DirectEntry) []Finding {
	var open []string
	for _, e := range direct {
		if e.Destination == AnyOtherHost && e.Access == netpol.Direct {
			open = append(open, e.Sources...)
		}
	}
	if len(open) == 0 {
		return nil
	}
	shown := open
	if len(shown) > 5 {
		shown = append(shown[:5:5], fmt.Sprintf("and %d more", len(open)-5))
	}
	f := Finding{Severity: SeverityWarning, Code: CodeDirectEgressOpen,
		Message: fmt.Sprintf("%s hosts outside the mesh directly, bypassing the waypoint (ztunnel passes a destination without a ServiceEntry straight through): %s",
			countSources(len(open)), strings.Join(shown, ", ")),
		Fix: "set spec.lockdown.mode: Audit on the EgressGateway to see what a lockdown would close, then Enforce"}
	if len(snap.EgressGateways) == 1 {
		egw := snap.EgressGateways[0]
		f.Object, f.Field = "EgressGateway "+egw.Namespace+"/"+egw.Name, "spec.lockdown.mode"
		if egw.Lockdown.Mode == simulator.LockdownAudit {
			f.Message += "; lockdown is in Audit, which writes nothing"
			f.Fix = "set spec.lockdown.mode: Enforce once the LockdownDefeated and UnboundServiceEntryBlocked findings are handled"
		}
	}
	return []Finding{f}
}

// auditCluster is the policies as they would be with every planned
// lockdown written, Audit ones included.
func (v *directView) auditCluster(snap *simulator.Snapshot) *netpol.Cluster {
	var policies []*netpol.Policy
	have := map[string]bool{}
	for _, np := range snap.NetworkPolicies {
		policies = append(policies, &netpol.Policy{Namespace: np.Namespace, Name: np.Name, Spec: np.Spec})
		have[np.Namespace+"/"+np.Name] = true
	}
	for _, p := range v.plans {
		for _, np := range p.Policies {
			if !have[np.Namespace+"/"+np.Name] {
				policies = append(policies, &netpol.Policy{Namespace: np.Namespace, Name: np.Name, Spec: np.Spec})
			}
		}
	}
	nsLabels := map[string]map[string]string{}
	for _, ns := range snap.Namespaces {
		nsLabels[ns.Name] = ns.Labels
	}
	c, err := netpol.NewCluster(policies, nsLabels)
	if err != nil || setAdmin(c, snap) != nil {
		return nil // the inputs' own policy is invalid: reported by the view
	}
	c.SetInCluster(apiServerSet(v.plans))
	c.SetBudget(directBudget)
	return c
}

// defeatedFindings is LockdownDefeated: another policy in a locked-down
// namespace opens a broad range the lockdown does not allow, so the
// namespace's pods still reach much of the internet directly.
func defeatedFindings(c *netpol.Cluster, p *simulator.LockdownPlan) []Finding {
	var allowed netipx.IPSetBuilder
	for _, a := range p.Gateway.Lockdown.AllowCIDRs {
		if pre, err := netip.ParsePrefix(a.CIDR); err == nil {
			allowed.AddPrefix(pre.Masked())
		}
	}
	allowedSet, _ := allowed.IPSet()
	lockName := ""
	if len(p.Policies) > 0 {
		lockName = p.Policies[0].Name
	}
	var out []Finding
	for _, ns := range p.Namespaces {
		ext := c.External(netpol.Source{Namespace: ns}, nil)
		for _, o := range ext.Openings {
			if strings.Contains(o.By, "/"+lockName+" rule ") {
				continue // what the lockdown itself allows
			}
			var b netipx.IPSetBuilder
			b.AddSet(o.Set)
			b.RemoveSet(allowedSet)
			left, _ := b.IPSet()
			if !broad(left) {
				continue
			}
			object, field := ruleObject(o.By)
			out = append(out, Finding{Severity: SeverityWarning, Code: CodeLockdownDefeated, Object: object, Field: field,
				Message: fmt.Sprintf("opens %s from locked-down namespace %s: these pods still reach that range directly, bypassing the waypoint of EgressGateway %s/%s",
					o.Text(), ns, p.Gateway.Namespace, p.Gateway.Name),
				Fix: "narrow or remove this rule, or name the range in spec.lockdown.allowCIDRs with a reason"})
		}
	}
	return out
}

// ruleObject turns the first rule of "ns/name rule i[, ...]" (or "Kind name
// rule i") into a finding's object and field.
func ruleObject(by string) (object, field string) {
	first, _, _ := strings.Cut(by, ", ")
	name, rule, _ := strings.Cut(first, " rule ")
	field = "spec.egress[" + rule + "]"
	if strings.Contains(name, " ") {
		return name, field // AdminNetworkPolicy name
	}
	return "NetworkPolicy " + name, field
}

func broad(s *netipx.IPSet) bool {
	for _, pre := range s.Prefixes() {
		if pre.Addr().Is4() && pre.Bits() <= broadBits4 || !pre.Addr().Is4() && pre.Bits() <= broadBits6 {
			return true
		}
	}
	return false
}

// unboundFindings is UnboundServiceEntryBlocked: a ServiceEntry bound to no
// waypoint sends its traffic directly, which the lockdown closes.
func unboundFindings(c *netpol.Cluster, p *simulator.LockdownPlan, dests []Destination) []Finding {
	var out []Finding
	for _, u := range unbound(dests) {
		d := u.dest
		var blocked []string
		for _, ns := range p.Namespaces {
			if c.External(netpol.Source{Namespace: ns}, u.port).Reach == netpol.Blocked {
				blocked = append(blocked, ns)
			}
		}
		if len(blocked) == 0 {
			continue
		}
		out = append(out, Finding{Severity: SeverityWarning, Code: CodeUnboundServiceEntryBlocked, Object: "ServiceEntry " + d.ServiceEntry,
			Message: fmt.Sprintf("%s is bound to no waypoint, so its traffic leaves the pods directly; under the lockdown of EgressGateway %s/%s it is blocked from %s",
				d.Key(), p.Gateway.Namespace, p.Gateway.Name, strings.Join(blocked, ", ")),
			Fix: "bind the ServiceEntry to the waypoint (label istio.io/use-waypoint), or name its addresses in spec.lockdown.allowCIDRs"})
	}
	return out
}

// optedOutFindings is OptedOutPods: pods labeled out of the mesh have no
// ztunnel and so no HBONE to the waypoint; a lockdown leaves them no way
// out at all.
func optedOutFindings(snap *simulator.Snapshot, p *simulator.LockdownPlan) []Finding {
	locked := map[string]bool{}
	for _, ns := range p.Namespaces {
		locked[ns] = true
	}
	var out []Finding
	seen := map[string]bool{}
	for _, pod := range snap.Pods {
		if !locked[pod.Namespace] || pod.Labels[simulator.LabelDataplaneMode] != "none" || seen[pod.Namespace+"/"+pod.ServiceAccount] {
			continue
		}
		// One finding per service account: the operator sees pods as
		// shapes, not by name, and the account is what a user fixes.
		seen[pod.Namespace+"/"+pod.ServiceAccount] = true
		out = append(out, Finding{Severity: SeverityWarning, Code: CodeOptedOutPods, Object: "ServiceAccount " + pod.Namespace + "/" + pod.ServiceAccount,
			Field: "pods' metadata.labels[" + simulator.LabelDataplaneMode + "]",
			Message: fmt.Sprintf("pods of this service account are out of the ambient mesh (%s=none), so their traffic does not go through the waypoint; the lockdown of EgressGateway %s/%s blocks them from every external host",
				simulator.LabelDataplaneMode, p.Gateway.Namespace, p.Gateway.Name),
			Fix: "remove the label so the pods join the mesh, or move them to a namespace that is not locked down"})
	}
	return out
}

// misleadingAllowFindings is WaypointMisleadingAllow: an ALLOW policy that
// admits only a waypoint's identity, written as if it stopped direct
// egress. Nothing enforces policy at an internet host, so pods that skip
// the waypoint are not stopped by it.
func misleadingAllowFindings(snap *simulator.Snapshot, direct []DirectEntry) []Finding {
	open := false
	for _, e := range direct {
		open = open || e.Destination == AnyOtherHost && e.Access != netpol.Blocked
	}
	if !open {
		return nil
	}
	waypoints := map[string]bool{}
	for _, egw := range snap.EgressGateways {
		waypoints["/ns/"+egw.Namespace+"/sa/"+egw.WaypointName] = true
	}
	var out []Finding
	for _, ap := range snap.AuthorizationPolicies {
		if ap.Spec.GetAction() != securityv1beta1.AuthorizationPolicy_ALLOW || !onlyWaypointSources(ap.Spec, waypoints) {
			continue
		}
		out = append(out, Finding{Severity: SeverityWarning, Code: CodeWaypointMisleadingAllow, Object: ap.Object(), Field: "spec.rules",
			Message: "this policy allows only the egress waypoint's identity, but it cannot stop direct egress: a pod that skips the waypoint talks to the external host, where nothing enforces this policy",
			Fix:     "close direct egress with spec.lockdown.mode: Enforce on the EgressGateway"})
	}
	return out
}

func onlyWaypointSources(spec *securityv1beta1.AuthorizationPolicy, waypoints map[string]bool) bool {
	if len(spec.GetRules()) == 0 {
		return false
	}
	for _, r := range spec.GetRules() {
		if len(r.GetFrom()) == 0 {
			return false
		}
		for _, f := range r.GetFrom() {
			ps := f.GetSource().GetPrincipals()
			if len(ps) == 0 {
				return false
			}
			for _, pr := range ps {
				if !waypointPrincipal(pr, waypoints) {
					return false
				}
			}
		}
	}
	return true
}

func waypointPrincipal(p string, waypoints map[string]bool) bool {
	for suffix := range waypoints {
		if strings.HasSuffix(p, suffix) {
			return true
		}
	}
	return false
}

// countSources is "1 source reaches" or "n sources reach".
func countSources(n int) string {
	if n == 1 {
		return "1 source reaches"
	}
	return fmt.Sprintf("%d sources reach", n)
}
