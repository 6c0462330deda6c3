package simulator

import (
	"strconv"

	securityv1beta1 "istio.io/api/security/v1beta1"
)

// ruleMode picks which compiled form of a policy's rules applies.
type ruleMode uint8

const (
	modeHTTP ruleMode = iota
	modeTCP
	modeZtunnel
	modeCount
)

// compiledPolicy is one accepted AuthorizationPolicy, compiled for every
// enforcement mode it can reach.
type compiledPolicy struct {
	origin   Origin
	key      string
	action   securityv1beta1.AuthorizationPolicy_Action
	dryRun   bool
	provider string
	// unknownProvider marks a CUSTOM policy whose provider the mesh config
	// does not define: istiod enforces its rules as DENY rules.
	unknownProvider bool
	// selector is spec.selector.matchLabels; nil selects every workload.
	selector map[string]string
	// rules holds the rules per mode; a mode the policy never reaches is nil.
	rules [modeCount][]compiledRule
	// outcomes records, per mode, what compiling did to each rule.
	outcomes [modeCount][]ruleOutcome
	// ztunnel records istiod's ambient conversion of each rule.
	ztunnel []ztunnelRule
}

// firstMatch returns the index of the first rule that matches, or -1.
func (p *compiledPolicy) firstMatch(mode ruleMode, v *view) int {
	rules := p.rules[mode]
	for i := range rules {
		if rules[i].matches(v) {
			return rules[i].index
		}
	}
	return -1
}

// selects reports whether a selector policy applies to the destination
// workload's labels; policies without selector apply to all.
func (p *compiledPolicy) selects(workload map[string]string) bool {
	for k, v := range p.selector {
		if got, ok := workload[k]; !ok || got != v {
			return false
		}
	}
	return true
}

// isDryRun reads the istio.io/dry-run annotation; admission already rejected
// values that are not booleans.
func isDryRun(p *AuthorizationPolicy) bool {
	b, err := strconv.ParseBool(p.Annotations[annotationDryRun])
	return err == nil && b
}

// compileWaypointPolicy builds the HTTP and TCP forms a waypoint uses.
func compileWaypointPolicy(p *AuthorizationPolicy, trust trustBundle, opts Options) *compiledPolicy {
	cp := newCompiledPolicy(p)
	cp.unknownProvider = cp.action == securityv1beta1.AuthorizationPolicy_CUSTOM && opts.unknownProvider(cp.provider)
	for _, mode := range []ruleMode{modeHTTP, modeTCP} {
		m := envoyMode{forTCP: mode == modeTCP, trust: trust, policyNamespace: p.Namespace,
			strict: cp.action == securityv1beta1.AuthorizationPolicy_ALLOW}
		for i, r := range p.Spec.GetRules() {
			cr, out := m.compileRule(i, r)
			cp.rules[mode] = append(cp.rules[mode], cr)
			cp.outcomes[mode] = append(cp.outcomes[mode], out)
		}
	}
	return cp
}

// compileZtunnelPolicy builds the form ztunnel receives from istiod.
func compileZtunnelPolicy(p *AuthorizationPolicy) *compiledPolicy {
	cp := newCompiledPolicy(p)
	cp.selector = p.Spec.GetSelector().GetMatchLabels()
	allow := cp.action == securityv1beta1.AuthorizationPolicy_ALLOW
	for i, r := range p.Spec.GetRules() {
		zr := compileZtunnelRule(i, allow, r, p.Namespace)
		cp.ztunnel = append(cp.ztunnel, zr)
		cp.rules[modeZtunnel] = append(cp.rules[modeZtunnel], zr.rule)
	}
	return cp
}

func newCompiledPolicy(p *AuthorizationPolicy) *compiledPolicy {
	return &compiledPolicy{
		origin:   p.Origin,
		key:      p.Namespace + "/" + p.Name,
		action:   p.Spec.GetAction(),
		dryRun:   isDryRun(p),
		provider: p.Spec.GetProvider().GetName(),
	}
}

// describeRule renders the rule with the given spec index in a mode.
func (p *compiledPolicy) describeRule(mode ruleMode, index int) string {
	for i := range p.rules[mode] {
		if p.rules[mode][i].index == index {
			return p.rules[mode][i].describe()
		}
	}
	return ""
}
