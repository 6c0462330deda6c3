package simulator

import (
	"fmt"
	"strings"

	securityv1beta1 "istio.io/api/security/v1beta1"

	"github.com/ambient-egress/ambient-egress-operator/simulator/match"
)

// ztunnelL4Conditions are the when keys istiod converts for ztunnel; every
// other key counts as an HTTP attribute there
// (pilot/pkg/serviceregistry/ambient/authorization.go, l4WhenAttributes).
var ztunnelL4Conditions = map[string]bool{
	"source.ip":        true,
	"source.namespace": true,
	"source.principal": true,
	"destination.ip":   true,
	"destination.port": true,
}

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
		op := t.GetOperation()
		for _, f := range operationFields(op) {
			if f.key != "destination.port" {
				zr.l7 = appendUnique(zr.l7, fmt.Sprintf("to[%d].operation.%s", i, f.name))
			}
		}
		var alt conj
		alt = appendPorts(alt, op.GetPorts(), false)
		alt = appendPorts(alt, op.GetNotPorts(), true)
		c = append(c, alt)
	}
	return c
}

func (zr *ztunnelRule) fromClause(froms []*securityv1beta1.Rule_From, policyNS string) clause {
	var c clause
	for i, f := range froms {
		s := f.GetSource()
		zr.noteSourceFields(i, s)
		var alt conj
		alt = appendIPs(alt, ipSource, s.GetIpBlocks(), false)
		alt = appendIPs(alt, ipSource, s.GetNotIpBlocks(), true)
		alt = appendNamespaces(alt, s.GetNamespaces(), false)
		alt = appendNamespaces(alt, s.GetNotNamespaces(), true)
		alt = appendAccounts(alt, s.GetServiceAccounts(), policyNS, false)
		alt = appendAccounts(alt, s.GetNotServiceAccounts(), policyNS, true)
		alt = appendPrincipals(alt, s.GetPrincipals(), false)
		alt = appendPrincipals(alt, s.GetNotPrincipals(), true)
		c = append(c, alt)
	}
	return c
}

func (zr *ztunnelRule) noteSourceFields(i int, s *securityv1beta1.Source) {
	for _, f := range sourceFields(s) {
		path := fmt.Sprintf("from[%d].source.%s", i, f.name)
		switch f.name {
		case "remoteIpBlocks", "requestPrincipals":
			zr.l7 = appendUnique(zr.l7, path)
		case "trustDomains":
			zr.ignored = appendUnique(zr.ignored, path)
		}
	}
}

// whenAlt converts one condition into the single alternative istiod emits
// for it; keys ztunnel cannot see leave the alternative empty.
func (zr *ztunnelRule) whenAlt(w *securityv1beta1.Condition) conj {
	key := w.GetKey()
	if !ztunnelL4Conditions[key] {
		zr.l7 = appendUnique(zr.l7, "when "+key)
		return nil
	}
	var alt conj
	for _, neg := range []bool{false, true} {
		vals := w.GetValues()
		if neg {
			vals = w.GetNotValues()
		}
		switch key {
		case "source.ip":
			alt = appendIPs(alt, ipSource, vals, neg)
		case "destination.ip":
			alt = appendIPs(alt, ipDest, vals, neg)
		case "destination.port":
			alt = appendPorts(alt, vals, neg)
		case "source.namespace":
			alt = appendNamespaces(alt, vals, neg)
		case "source.principal":
			alt = appendPrincipals(alt, vals, neg)
		}
	}
	return alt
}

func negate(t term, neg bool) term {
	if neg {
		return notTerm{t}
	}
	return t
}

// appendPorts keeps the values that parse, as istiod's stringToPort does.
func appendPorts(alt conj, values []string, neg bool) conj {
	t := portTerm{}
	for _, v := range values {
		if p, err := parsePort(v); err == nil {
			t.ports = append(t.ports, p)
		}
	}
	if len(t.ports) == 0 {
		return alt
	}
	return append(alt, negate(t, neg))
}

// appendIPs keeps the values that parse, as istiod's stringToIP does.
func appendIPs(alt conj, kind ipKind, values []string, neg bool) conj {
	t := ipTerm{kind: kind}
	for _, v := range values {
		if p, err := match.ParseIPBlock(v); err == nil {
			t.blocks = append(t.blocks, p)
		}
	}
	if len(t.blocks) == 0 {
		return alt
	}
	return append(alt, negate(t, neg))
}

func appendNamespaces(alt conj, values []string, neg bool) conj {
	if len(values) == 0 {
		return alt
	}
	return append(alt, negate(namespaceTerm{ms: patterns(values, false)}, neg))
}

func appendPrincipals(alt conj, values []string, neg bool) conj {
	if len(values) == 0 {
		return alt
	}
	return append(alt, negate(principalTerm{ms: patterns(values, false)}, neg))
}

func appendAccounts(alt conj, values []string, policyNS string, neg bool) conj {
	if len(values) == 0 {
		return alt
	}
	t := serviceAccountTerm{}
	for _, v := range values {
		ns, sa, ok := strings.Cut(v, "/")
		if !ok {
			ns, sa = policyNS, v
		}
		t.accounts = append(t.accounts, [2]string{ns, sa})
	}
	return append(alt, negate(t, neg))
}
