package simulator

import (
	"fmt"
	"strings"

	securityv1beta1 "istio.io/api/security/v1beta1"

	"github.com/ambient-egress/ambient-egress-operator/simulator/match"
)

// ztunnelRule is one rule after istiod's ambient conversion.
type ztunnelRule struct {
	rule compiledRule
	// l7 lists the HTTP attributes istiod found and left out.
	l7 []string
	// ignored lists fields istiod drops without a warning.
	ignored []string
	// omitted is set for ALLOW rules with HTTP attributes: istiod does not
	// send them at all, so they never match.
	omitted bool
}

// compileZtunnelRule converts a rule as istiod's handleRule does and sets up
// the matching semantics of ztunnel's Authorization::matches (src/rbac.rs):
// clauses are ANDed, the alternatives inside a clause ORed, and an
// alternative with no fields is skipped, so a clause made only of skipped
// alternatives can never match.
func compileZtunnelRule(idx int, allow bool, r *securityv1beta1.Rule, policyNS string) ztunnelRule {
	zr := ztunnelRule{rule: compiledRule{index: idx}}
	var raw []clause
	if tos := r.GetTo(); len(tos) > 0 {
		raw = append(raw, zr.toClause(tos))
	}
	if froms := r.GetFrom(); len(froms) > 0 {
		raw = append(raw, zr.fromClause(froms, policyNS))
	}
	for _, w := range r.GetWhen() {
		raw = append(raw, clause{zr.whenAlt(w)})
	}
	if allow && len(zr.l7) > 0 {
		zr.omitted = true
		zr.rule.never = true
		return zr
	}
	for _, c := range raw {
		kept := dropEmpty(c)
		if len(kept) == 0 {
			zr.rule.never = true
		}
		zr.rule.clauses = append(zr.rule.clauses, kept)
	}
	return zr
}

func dropEmpty(c clause) clause {
	out := make(clause, 0, len(c))
	for _, alt := range c {
		if len(alt) > 0 {
			out = append(out, alt)
		}
	}
	return out
}

func (zr *ztunnelRule) toClause(tos []*securityv1beta1.Rule_To) clause {
	var c clause
	for i, t := range tos {
		c = append(c, zr.alternative(fmt.Sprintf("to[%d].operation", i), operationFields(t.GetOperation()), ""))
	}
	return c
}

func (zr *ztunnelRule) fromClause(froms []*securityv1beta1.Rule_From, policyNS string) clause {
	var c clause
	for i, f := range froms {
		c = append(c, zr.alternative(fmt.Sprintf("from[%d].source", i), sourceFields(f.GetSource()), policyNS))
	}
	return c
}

// alternative converts the fields of one from or to entry: the fields
// ztunnel enforces become terms, the others are noted as HTTP attributes
// or as silently ignored.
func (zr *ztunnelRule) alternative(at string, fields []field, policyNS string) conj {
	var alt conj
	for _, f := range fields {
		switch f.attr.ztunnelField {
		case ztunnelHTTP:
			zr.l7 = appendUnique(zr.l7, at+"."+f.name)
		case ztunnelIgnored:
			zr.ignored = appendUnique(zr.ignored, at+"."+f.name)
		case ztunnelEnforced:
			alt = appendZtunnel(alt, f.attr, f.values, policyNS, false)
			alt = appendZtunnel(alt, f.attr, f.notValues, policyNS, true)
		}
	}
	return alt
}

// whenAlt converts one condition into the single alternative istiod emits
// for it; keys ztunnel cannot see leave the alternative empty.
func (zr *ztunnelRule) whenAlt(w *securityv1beta1.Condition) conj {
	key := w.GetKey()
	a, ok := whenAttribute(key)
	if !ok || !a.ztunnelWhen {
		zr.l7 = appendUnique(zr.l7, "when "+key)
		return nil
	}
	var alt conj
	alt = appendZtunnel(alt, a, w.GetValues(), "", false)
	return appendZtunnel(alt, a, w.GetNotValues(), "", true)
}

// appendZtunnel adds the term ztunnel matches for values, if any of them
// converts.
func appendZtunnel(alt conj, a *attribute, values []string, policyNS string, neg bool) conj {
	t, ok := a.ztunnel(values, policyNS)
	if !ok {
		return alt
	}
	return append(alt, negate(t, neg))
}

func negate(t term, neg bool) term {
	if neg {
		return notTerm{t}
	}
	return t
}

// parsedPortTerm keeps the values that parse, as istiod's stringToPort
// does.
func parsedPortTerm(values []string) (term, bool) {
	t := portTerm{}
	for _, v := range values {
		if p, err := parsePort(v); err == nil {
			t.ports = append(t.ports, p)
		}
	}
	return t, len(t.ports) > 0
}

// parsedIPTerm keeps the values that parse, as istiod's stringToIP does.
func parsedIPTerm(kind ipKind, values []string) (term, bool) {
	t := ipTerm{kind: kind}
	for _, v := range values {
		if p, err := match.ParseIPBlock(v); err == nil {
			t.blocks = append(t.blocks, p)
		}
	}
	return t, len(t.blocks) > 0
}

// serviceAccountsTerm reads "sa" and "ns/sa" values, the namespace
// defaulting to the policy's.
func serviceAccountsTerm(values []string, policyNS string) (term, bool) {
	t := serviceAccountTerm{}
	for _, v := range values {
		ns, sa, ok := strings.Cut(v, "/")
		if !ok {
			ns, sa = policyNS, v
		}
		t.accounts = append(t.accounts, [2]string{ns, sa})
	}
	return t, len(t.accounts) > 0
}
