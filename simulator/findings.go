package simulator

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	securityv1beta1 "istio.io/api/security/v1beta1"
)

// reportFindings adds the findings that need the whole program: bindings,
// targets, and rules that do not do what they read like.
func (c *compiler) reportFindings() {
	for _, d := range c.prog.destinations {
		if d.waypoint == nil {
			c.issues.add(SeverityWarning, d.origin, "metadata.labels",
				"%s bypasses every waypoint: %s; no egress policy is enforced on its traffic", d.display(), d.binding)
			continue
		}
		for _, h := range d.hosts {
			if why := d.notCaptured(h); why != "" {
				field := "spec.addresses"
				if d.kind == "Service" {
					field = "spec.clusterIP"
				}
				c.issues.add(SeverityWarning, d.origin, field,
					"%s is bound to waypoint %s, but ztunnel does not redirect traffic to %s: %s; no egress policy is enforced on it",
					d.display(), d.waypoint.key(), h, why)
			}
		}
	}
	for _, ap := range c.policies {
		c.policyNotes(ap)
		if ap.waypoint {
			c.waypointPolicyFindings(ap)
		} else {
			c.ztunnelPolicyFindings(ap)
		}
	}
}

func (c *compiler) policyNotes(ap *acceptedPolicy) {
	cp := ap.compiled
	if cp.dryRun {
		c.issues.add(SeverityInfo, cp.origin, "metadata.annotations["+annotationDryRun+"]",
			"dry-run: not enforced; decisions report what it would have done")
	}
	if len(ap.src.Spec.GetRules()) == 0 && cp.action == securityv1beta1.AuthorizationPolicy_ALLOW {
		c.issues.add(SeverityInfo, cp.origin, "spec.rules",
			"ALLOW policy without rules matches nothing, so it denies every request it applies to (allow-nothing)")
	}
}

// waypointPolicyFindings checks what the targetRefs resolve to and how HTTP
// rules fare on TCP ports of the destinations they reach.
func (c *compiler) waypointPolicyFindings(ap *acceptedPolicy) {
	var reached []*destination
	for i, r := range targetRefs(ap.src.Spec) {
		field := fmt.Sprintf("spec.targetRefs[%d]", i)
		if len(ap.src.Spec.GetTargetRefs()) == 0 {
			field = "spec.targetRef"
		}
		reached = append(reached, c.resolveTarget(ap, field, r.GetKind(), r.GetName())...)
	}
	c.tcpRuleFindings(ap, reached)
}

// resolveTarget reports a target that reaches no waypoint and returns the
// bound destinations it reaches.
func (c *compiler) resolveTarget(ap *acceptedPolicy, field, kind, name string) []*destination {
	origin, ns := ap.compiled.origin, ap.src.Namespace
	switch kind {
	case "GatewayClass":
		if name != waypointClassName || ns != c.prog.opts.RootNamespace {
			c.issues.add(SeverityWarning, origin, field, "GatewayClass target only applies to waypoints when it names %s from the root namespace %s; this one has no effect",
				waypointClassName, c.prog.opts.RootNamespace)
			return nil
		}
		return c.boundTo(nil)
	case "Gateway":
		w, ok := c.prog.waypoints[ns+"/"+name]
		if !ok {
			c.issues.add(SeverityWarning, origin, field, "targets Gateway %s/%s, which is not a waypoint in the inputs; the policy targets nothing the simulator can see", ns, name)
			return nil
		}
		return c.boundTo(w)
	}
	for _, d := range c.prog.destinations {
		if d.kind == kind && d.namespace == ns && d.name == name {
			if d.waypoint == nil {
				c.issues.add(SeverityWarning, origin, field, "targets %s, which is not bound to a waypoint (%s); the policy is never enforced", d.display(), d.binding)
				return nil
			}
			return []*destination{d}
		}
	}
	c.issues.add(SeverityWarning, origin, field, "targets %s %s/%s, which is not in the inputs; the policy targets nothing", kind, ns, name)
	return nil
}

// boundTo lists destinations bound to w, or to any waypoint when w is nil.
func (c *compiler) boundTo(w *waypoint) []*destination {
	var out []*destination
	for _, d := range c.prog.destinations {
		if d.waypoint != nil && (w == nil || d.waypoint == w) {
			out = append(out, d)
		}
	}
	return out
}

func (c *compiler) tcpRuleFindings(ap *acceptedPolicy, reached []*destination) {
	for _, d := range reached {
		ports := tcpPorts(d)
		if len(ports) == 0 {
			continue
		}
		for i, out := range ap.compiled.outcomes[modeTCP] {
			c.tcpRuleFinding(ap, d, ports, i, out)
		}
	}
}

func (c *compiler) tcpRuleFinding(ap *acceptedPolicy, d *destination, ports string, idx int, out ruleOutcome) {
	field := "spec.rules[" + strconv.Itoa(idx) + "]"
	switch {
	case out.skipped != "":
		c.issues.add(SeverityWarning, ap.compiled.origin, field,
			"%s is an HTTP attribute; on TCP port(s) %s of %s the waypoint drops this ALLOW rule, so it never matches there",
			out.skipped, ports, d.display())
	case len(out.dropped) > 0:
		c.issues.add(SeverityWarning, ap.compiled.origin, field,
			"HTTP attribute(s) %s are ignored on TCP port(s) %s of %s, so this %s rule applies to every connection that matches the rest",
			strings.Join(out.dropped, ", "), ports, d.display(), ap.compiled.action)
	}
}

// tcpPorts lists the ports a waypoint evaluates without HTTP.
func tcpPorts(d *destination) string {
	var ports []int
	for p, proto := range d.ports {
		if tcpProtocols[proto] {
			ports = append(ports, p)
		}
	}
	sort.Ints(ports)
	parts := make([]string, len(ports))
	for i, p := range ports {
		parts[i] = strconv.Itoa(p)
	}
	return strings.Join(parts, ", ")
}
