package simulator

import (
	"strings"

	securityv1beta1 "istio.io/api/security/v1beta1"
)

// evaluation runs the phases of one check in Istio's order: CUSTOM, then
// AUDIT (never decisive), then DENY, then ALLOW
// (pilot/pkg/security/authz/builder/builder.go builds the filters in that
// order; ztunnel's assert_rbac in src/state.rs does DENY then ALLOW).
type evaluation struct {
	prog  *Program
	v     *view
	mode  ruleMode
	lists [4][]*compiledPolicy
	// filter applies policy selectors to the destination workload's labels.
	filter bool
	tr     *tracer
	d      *Decision
}

func (e *evaluation) run() {
	if e.custom() {
		return
	}
	e.audit()
	if e.deny() {
		return
	}
	e.allow()
}

// each calls fn for every applicable policy with the given action until fn
// returns true.
func (e *evaluation) each(action securityv1beta1.AuthorizationPolicy_Action, fn func(*compiledPolicy) bool) {
	for _, list := range e.lists {
		for _, cp := range list {
			if cp.action != action || (e.filter && !cp.selects(e.v.r.DestLabels)) {
				continue
			}
			if fn(cp) {
				return
			}
		}
	}
}

// custom delegates to the provider of the first matching CUSTOM policy. A
// provider that allows lets the request continue to DENY and ALLOW, as the
// ext_authz filter sits before the RBAC filters.
func (e *evaluation) custom() bool {
	decided := false
	e.each(securityv1beta1.AuthorizationPolicy_CUSTOM, func(cp *compiledPolicy) bool {
		rule := cp.firstMatch(e.mode, e.v)
		if rule < 0 {
			if e.tr.on {
				e.trace(StageCustom, cp.key, -1, false, "CUSTOM %s: no rule matched; the provider is not called", cp.key)
			}
			return false
		}
		if cp.unknownProvider {
			e.decide(Deny, cp, rule, "CUSTOM policy "+ruleText(cp, rule)+" matched; its provider "+cp.provider+
				" is not among the mesh config's extensionProviders, so istiod enforces its rules as DENY rules")
			decided = true
			return true
		}
		e.d.CustomProvider = cp.provider
		verdict := e.prog.opts.CustomProviderVerdict
		if verdict == Deny {
			e.decide(Deny, cp, rule, "CUSTOM policy "+ruleText(cp, rule)+" matched and provider "+cp.provider+" denies (assumed)")
			decided = true
			return true
		}
		if e.tr.on {
			e.trace(StageCustom, cp.key, rule, true, "CUSTOM %s matched: delegated to provider %s, assumed to allow; evaluation continues", ruleText(cp, rule), cp.provider)
		}
		return true
	})
	return decided
}

func (e *evaluation) audit() {
	e.each(securityv1beta1.AuthorizationPolicy_AUDIT, func(cp *compiledPolicy) bool {
		if rule := cp.firstMatch(e.mode, e.v); rule >= 0 {
			e.d.Audited = append(e.d.Audited, ruleText(cp, rule))
			if e.tr.on {
				e.trace(StageAudit, cp.key, rule, true, "AUDIT %s matched: logged only", ruleText(cp, rule))
			}
		}
		return false
	})
}

func (e *evaluation) deny() bool {
	decided := false
	e.each(securityv1beta1.AuthorizationPolicy_DENY, func(cp *compiledPolicy) bool {
		rule := cp.firstMatch(e.mode, e.v)
		switch {
		case cp.dryRun:
			e.dryRun("DENY", cp, rule)
			return false
		case rule < 0:
			if e.tr.on {
				e.trace(StageDeny, cp.key, -1, false, "DENY %s: no rule matched", cp.key)
			}
			return false
		}
		if e.tr.on {
			e.trace(StageDeny, cp.key, rule, true, "DENY %s matched; skipped ALLOW", ruleText(cp, rule))
		}
		e.decide(Deny, cp, rule, "DENY policy "+ruleText(cp, rule)+" matched")
		decided = true
		return true
	})
	return decided
}

func (e *evaluation) allow() {
	var first *compiledPolicy
	e.each(securityv1beta1.AuthorizationPolicy_ALLOW, func(cp *compiledPolicy) bool {
		rule := cp.firstMatch(e.mode, e.v)
		switch {
		case cp.dryRun:
			e.dryRun("ALLOW", cp, rule)
			return false
		case first == nil:
			first = cp
		}
		if rule < 0 {
			if e.tr.on {
				e.trace(StageAllow, cp.key, -1, false, "ALLOW %s: no rule matched", cp.key)
			}
			return false
		}
		if e.tr.on {
			e.trace(StageAllow, cp.key, rule, true, "ALLOW %s matched", ruleText(cp, rule))
		}
		e.decide(Allow, cp, rule, "ALLOW policy "+ruleText(cp, rule)+" matched")
		return true
	})
	switch {
	case e.d.Verdict == Allow:
	case first == nil:
		e.d.Verdict = Allow
		e.d.Reason = "no DENY policy matched and no ALLOW policy applies"
		e.trace(StageDecision, "", -1, false, "no ALLOW policy applies: allowed")
	default:
		e.d.Verdict = Deny
		e.d.DecidingPolicy = first.key
		e.d.Rule = -1
		e.d.Reason = "ALLOW policies apply (" + strings.Join(e.enforcedAllowKeys(), ", ") + ") but no rule matched"
		e.trace(StageDecision, first.key, -1, false, "no ALLOW rule matched: denied")
	}
}

// enforcedAllowKeys names the enforced ALLOW policies that applied; it runs
// only on the deny path, to build the reason.
func (e *evaluation) enforcedAllowKeys() []string {
	var keys []string
	e.each(securityv1beta1.AuthorizationPolicy_ALLOW, func(cp *compiledPolicy) bool {
		if !cp.dryRun {
			keys = append(keys, cp.key)
		}
		return false
	})
	return keys
}

func (e *evaluation) dryRun(action string, cp *compiledPolicy, rule int) {
	line := "dry-run " + action + " " + cp.key + ": no rule would match"
	if rule >= 0 {
		line = "dry-run " + action + " " + ruleText(cp, rule) + " would match"
	}
	e.d.DryRun = append(e.d.DryRun, line)
	if e.tr.on {
		e.trace(StageDryRun, cp.key, rule, rule >= 0, "%s (not enforced)", line)
	}
}

func (e *evaluation) decide(v Verdict, cp *compiledPolicy, rule int, reason string) {
	e.d.Verdict = v
	e.d.DecidingPolicy = cp.key
	e.d.Rule = rule
	e.d.Reason = reason
	if e.tr.on {
		e.trace(StageDecision, cp.key, rule, true, "%s rule %d as enforced: %s", cp.key, rule, cp.describeRule(e.mode, rule))
	}
}

// trace records a step. Callers on the per-policy path check e.tr.on
// first, so an unexplained Eval does not box arguments.
func (e *evaluation) trace(stage, policy string, rule int, matched bool, format string, args ...any) {
	if e.tr.on {
		e.tr.add(stage, policy, rule, matched, format, args...)
	}
}
