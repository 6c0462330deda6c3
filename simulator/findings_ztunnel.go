package simulator

import (
	"fmt"
	"strings"

	securityv1beta1 "istio.io/api/security/v1beta1"
)

// ztunnelPolicyFindings explains how istiod's ambient conversion changes a
// policy without targetRefs, with the substance of the status messages istiod
// writes (pilot/pkg/serviceregistry/ambient/authorization.go).
func (c *compiler) ztunnelPolicyFindings(ap *acceptedPolicy) {
	cp := ap.compiled
	if c.hasEgressScope(ap.src.Namespace) {
		c.issues.add(SeverityInfo, cp.origin, "spec",
			"has no targetRefs: only ztunnel enforces it, at destination workloads; egress waypoints never see it")
	}
	switch cp.action {
	case securityv1beta1.AuthorizationPolicy_ALLOW, securityv1beta1.AuthorizationPolicy_DENY:
	default:
		c.issues.add(SeverityWarning, cp.origin, "spec.action",
			"ztunnel does not support the %s action; without targetRefs this policy is enforced nowhere in ambient mode", cp.action)
		return
	}
	for _, zr := range cp.ztunnel {
		if len(zr.ignored) > 0 {
			c.issues.add(SeverityWarning, cp.origin, fmt.Sprintf("spec.rules[%d]", zr.rule.index),
				"istiod does not convert %s for ztunnel; the field is ignored there", strings.Join(zr.ignored, ", "))
		}
	}
	c.ztunnelL7Findings(cp)
}

func (c *compiler) ztunnelL7Findings(cp *compiledPolicy) {
	var l7 []string
	effective := false
	for _, zr := range cp.ztunnel {
		for _, f := range zr.l7 {
			l7 = append(l7, fmt.Sprintf("rules[%d].%s", zr.rule.index, f))
		}
		if !zr.rule.never {
			effective = true
		}
	}
	if len(l7) == 0 {
		return
	}
	var msg string
	switch {
	case cp.action == securityv1beta1.AuthorizationPolicy_DENY && !effective:
		msg = "after omitting them this DENY policy has no enforceable rule at ztunnel and has no effect (the documentation suggests it would deny more); use a waypoint and targetRefs"
	case cp.action == securityv1beta1.AuthorizationPolicy_DENY:
		msg = "this DENY policy is enforced without its HTTP conditions, which is more restrictive than it reads"
	default:
		msg = "ALLOW rules with HTTP attributes are omitted and never match, which is more restrictive than it reads"
	}
	c.issues.add(SeverityWarning, cp.origin, "spec.rules",
		"ztunnel cannot see HTTP attributes (%s): %s", strings.Join(l7, ", "), msg)
}

// hasEgressScope reports whether a namespace holds a waypoint or a
// destination, or is the root namespace: places where a user may expect a
// policy to reach egress waypoints.
func (c *compiler) hasEgressScope(ns string) bool {
	if ns == c.prog.opts.RootNamespace {
		return true
	}
	for _, w := range c.prog.waypoints {
		if w.namespace == ns {
			return true
		}
	}
	for _, d := range c.prog.destinations {
		if d.namespace == ns {
			return true
		}
	}
	return false
}
