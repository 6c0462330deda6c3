package reach

import (
	"strconv"

	"github.com/ambient-egress/ambient-egress-operator/simulator"
)

// taggedCube is a cube with the policy rule it comes from; an empty policy
// stands for "no ALLOW policy applies".
type taggedCube struct {
	c      cube
	policy string
	rule   int
}

// outcome is the access of one group of sources to one destination.
type outcome struct {
	allowed  []taggedCube
	denied   []taggedCube
	deciders []Decider
	access   Access
	// inexact is set when the budget ran out: allowed then over-approximates
	// the space (some DENY rules are not subtracted, or a rule's space is
	// approximated), and access is unknown unless nothing is allowed.
	inexact bool
}

// evalOptions say how policies are enforced: whether a matching CUSTOM
// provider denies, and which dry-run policies to enforce anyway (to show
// what they would change).
type evalOptions struct {
	customDenies bool
	enforceDry   map[string]bool
}

func (o evalOptions) enforced(p *policyRules) bool {
	return !p.dryRun || o.enforceDry[p.key]
}

// evaluate computes the allowed space in Istio's order: a request matching a
// DENY rule (or a CUSTOM rule whose provider denies) is denied; otherwise,
// when ALLOW policies apply, it must match one of their rules.
func (o evalOptions) evaluate(cx *evalContext, pols []policyRules) outcome {
	var out outcome
	var allows []taggedCube
	firstAllow := ""
	for i := range pols {
		p := &pols[i]
		if !o.enforced(p) {
			continue
		}
		switch {
		case p.action == simulator.ActionDeny || (p.action == simulator.ActionCustom && (o.customDenies || p.unknownProvider)):
			cs, exact := tagRules(cx, p, false)
			out.denied = append(out.denied, cs...)
			out.inexact = out.inexact || !exact
		case p.action == simulator.ActionAllow:
			if firstAllow == "" {
				firstAllow = p.key
			}
			cs, exact := tagRules(cx, p, true)
			allows = append(allows, cs...)
			out.inexact = out.inexact || !exact
		}
	}
	if firstAllow == "" {
		allows = []taggedCube{{c: cube{}, rule: -1}}
	}
	// Pruning after each subtraction keeps the list from growing with
	// pieces an earlier cube already covers. Past the budget the DENY rules
	// left stay in denied only: allowed is then a superset.
	for _, d := range out.denied {
		next, ok := subtractTagged(cx.m, allows, d.c)
		if !ok {
			out.inexact = true
			break
		}
		allows = pruneTagged(cx.m, next)
	}
	out.allowed = pruneTagged(cx.m, allows)
	out.access = accessOf(out.allowed)
	if out.inexact && out.access != AccessNone {
		out.access = AccessUnknown
	}
	out.deciders = deciders(out, pols, firstAllow)
	return out
}

// tagRules lists the cubes of a policy's rules. When the budget runs out,
// an ALLOW rule (over) is over-approximated and a DENY rule is left out, so
// that the allowed space computed from them is a superset; exact is then
// false.
func tagRules(cx *evalContext, p *policyRules, over bool) ([]taggedCube, bool) {
	var out []taggedCube
	exact := true
	for i := range p.rules {
		cs, ok := cx.ruleCubes(&p.rules[i])
		if !ok {
			exact = false
			if !over {
				continue
			}
		}
		for _, c := range cs {
			out = append(out, taggedCube{c: c, policy: p.key, rule: p.rules[i].index})
		}
	}
	return out, exact
}

// subtractTagged removes d from every cube; ok is false, and the input
// should be kept, when the budget runs out.
func subtractTagged(m *meter, xs []taggedCube, d cube) ([]taggedCube, bool) {
	out := make([]taggedCube, 0, len(xs))
	for _, x := range xs {
		pieces := subtract(x.c, d)
		if !m.spend(len(d) + len(pieces)) {
			return xs, false
		}
		for _, c := range pieces {
			out = append(out, taggedCube{c: c, policy: x.policy, rule: x.rule})
		}
	}
	return out, true
}

// pruneTagged drops each cube contained in an earlier one. Past the budget
// the rest is kept as is, which changes no space.
func pruneTagged(m *meter, xs []taggedCube) []taggedCube {
	out := xs[:0:0]
	for i, x := range xs {
		if !m.spend(len(out) + 1) {
			return append(out, xs[i:]...)
		}
		covered := false
		for _, e := range out {
			if implies(x.c, e.c) {
				covered = true
				break
			}
		}
		if !covered {
			out = append(out, x)
		}
	}
	return out
}

func accessOf(allowed []taggedCube) Access {
	if len(allowed) == 0 {
		return AccessNone
	}
	for _, a := range allowed {
		if len(a.c) == 0 {
			return AccessAll
		}
	}
	return AccessPartial
}

// deciders names, in evaluation order, what decides the entry's requests:
// the DENY rules that take space away, the ALLOW rules that grant it, and
// the default for the rest.
func deciders(out outcome, pols []policyRules, firstAllow string) []Decider {
	var ds []Decider
	seen := map[string]bool{}
	add := func(d Decider) {
		k := d.Effect + "\x00" + d.Policy + "\x00" + strconv.Itoa(d.Rule)
		if !seen[k] {
			seen[k] = true
			ds = append(ds, d)
		}
	}
	for _, d := range out.denied {
		add(Decider{Effect: "deny", Policy: d.policy, Rule: d.rule, Reason: denyReason(pols, d.policy)})
	}
	for _, a := range out.allowed {
		if a.policy == "" {
			add(Decider{Effect: "allow", Rule: -1, Reason: "no DENY rule matches and no ALLOW policy applies"})
			continue
		}
		add(Decider{Effect: "allow", Policy: a.policy, Rule: a.rule, Reason: "ALLOW rule matches"})
	}
	if firstAllow != "" && out.access != AccessAll {
		add(Decider{Effect: "deny", Policy: firstAllow, Rule: -1, Reason: "no ALLOW policy matched: ALLOW policies apply but none of their rules matches"})
	}
	return ds
}

func denyReason(pols []policyRules, key string) string {
	for _, p := range pols {
		if p.key == key && p.action == simulator.ActionCustom && p.unknownProvider {
			return "CUSTOM rule matches; provider " + p.provider + " is not among the mesh config's extensionProviders, so istiod enforces the rule as a DENY rule"
		}
		if p.key == key && p.action == simulator.ActionCustom {
			return "CUSTOM rule matches and provider " + p.provider + " denies (assumed)"
		}
	}
	return "DENY rule matches"
}
