package simulator

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	securityv1beta1 "istio.io/api/security/v1beta1"

	"github.com/ambient-egress/ambient-egress-operator/simulator/match"
)

// errHTTPOnly is what istiod's generators return for an HTTP attribute on a
// TCP filter chain (pilot/pkg/security/authz/model/generator.go).
var errHTTPOnly = errors.New("is HTTP only")

// envoyMode is how istiod builds one Envoy RBAC filter for a waypoint
// (pilot/pkg/security/authz/builder/builder.go and model/model.go).
type envoyMode struct {
	// forTCP is set for TCP and TLS filter chains, where HTTP attributes
	// cannot be generated.
	forTCP bool
	// strict is set for ALLOW: a field that cannot be generated drops the
	// whole rule (a smaller allow). For DENY, AUDIT and CUSTOM the field alone
	// is dropped, so the rule matches more (model.go, checkError).
	strict bool
	trust  trustBundle
	// policyNamespace is the default namespace of serviceAccounts values.
	policyNamespace string
}

// ruleOutcome says what happened to one rule while compiling it.
type ruleOutcome struct {
	// skipped names the field that made a strict rule unusable.
	skipped string
	// dropped lists fields ignored by a lenient rule.
	dropped []string
}

// compileRule builds one rule: the when conditions, then one alternative per
// from entry and one per to entry.
func (m envoyMode) compileRule(idx int, r *securityv1beta1.Rule) (compiledRule, ruleOutcome) {
	var out ruleOutcome
	cr := compiledRule{index: idx}
	var when conj
	for i, w := range r.GetWhen() {
		ts, err := m.condition(w.GetKey(), w.GetValues(), w.GetNotValues())
		if !m.accept(&out, fmt.Sprintf("when[%d] %s", i, w.GetKey()), err) {
			return compiledRule{index: idx, never: true}, out
		}
		when = append(when, ts...)
	}
	if len(when) > 0 {
		cr.clauses = append(cr.clauses, clause{when})
	}
	from, ok := m.fromClause(r.GetFrom(), &out)
	if !ok {
		return compiledRule{index: idx, never: true}, out
	}
	to, ok := m.toClause(r.GetTo(), &out)
	if !ok {
		return compiledRule{index: idx, never: true}, out
	}
	cr.clauses = append(cr.clauses, from...)
	cr.clauses = append(cr.clauses, to...)
	return cr, out
}

// accept records a generation error and reports whether compiling goes on.
func (m envoyMode) accept(out *ruleOutcome, field string, err error) bool {
	if err == nil {
		return true
	}
	if m.strict {
		out.skipped = field
		return false
	}
	out.dropped = append(out.dropped, field)
	return true
}

func (m envoyMode) fromClause(froms []*securityv1beta1.Rule_From, out *ruleOutcome) ([]clause, bool) {
	if len(froms) == 0 {
		return nil, true
	}
	var c clause
	for i, f := range froms {
		var alt conj
		for _, fld := range sourceFields(f.GetSource()) {
			ts, err := m.condition(fld.key(), fld.values, fld.notValues)
			if !m.accept(out, fmt.Sprintf("from[%d].source.%s", i, fld.name), err) {
				return nil, false
			}
			alt = append(alt, ts...)
		}
		c = append(c, alt)
	}
	return []clause{c}, true
}

func (m envoyMode) toClause(tos []*securityv1beta1.Rule_To, out *ruleOutcome) ([]clause, bool) {
	if len(tos) == 0 {
		return nil, true
	}
	var c clause
	for i, t := range tos {
		var alt conj
		for _, fld := range operationFields(t.GetOperation()) {
			ts, err := m.condition(fld.key(), fld.values, fld.notValues)
			if !m.accept(out, fmt.Sprintf("to[%d].operation.%s", i, fld.name), err) {
				return nil, false
			}
			alt = append(alt, ts...)
		}
		c = append(c, alt)
	}
	return []clause{c}, true
}

// condition builds the positive and negative terms of one key. An error
// means istiod could not generate the field on this chain.
func (m envoyMode) condition(key string, values, notValues []string) ([]term, error) {
	var ts []term
	if len(values) > 0 {
		t, err := m.build(key, values)
		if err != nil {
			return nil, err
		}
		ts = append(ts, t)
	}
	if len(notValues) > 0 {
		t, err := m.build(key, notValues)
		if err != nil {
			return nil, err
		}
		ts = append(ts, notTerm{t})
	}
	return ts, nil
}

// build compiles one key's values with its row's generator; HTTP
// attributes fail on TCP chains.
func (m envoyMode) build(key string, values []string) (term, error) {
	a, ok := attributeFor(key)
	if !ok {
		return nil, fmt.Errorf("unknown attribute %s", key)
	}
	if m.forTCP && a.httpOnly {
		return nil, fmt.Errorf("%q %w", key, errHTTPOnly)
	}
	return a.envoy(m, key, values)
}

func patterns(values []string, fold bool) []match.String {
	ms := make([]match.String, len(values))
	for i, v := range values {
		ms[i] = match.NewString(v, fold)
	}
	return ms
}

// namespaceRegexTerm encodes namespaces as istiod does for Envoy: the regex
// ".*/ns/<namespace>/.*" over the SPIFFE URI, "*" becoming ".*".
func namespaceRegexTerm(values []string) (term, error) {
	res := make([]*regexp.Regexp, 0, len(values))
	for _, v := range values {
		parts := strings.Split(v, "*")
		for i, p := range parts {
			parts[i] = regexp.QuoteMeta(p)
		}
		re, err := fullRegexp(".*/ns/" + strings.Join(parts, ".*") + "/.*")
		if err != nil {
			return nil, err
		}
		res = append(res, re)
	}
	return uriRegexTerm{attr: KeySourceNamespace, field: "source namespace in [" + strings.Join(values, ", ") + "]", raw: values, res: res}, nil
}

// serviceAccountRegexTerm encodes "sa" or "ns/sa" values, defaulting the
// namespace to the policy's (generator.go, serviceAccountRegex).
func serviceAccountRegexTerm(policyNS string, values []string) (term, error) {
	res := make([]*regexp.Regexp, 0, len(values))
	for _, v := range values {
		ns, sa, ok := strings.Cut(v, "/")
		if !ok {
			ns, sa = policyNS, v
		}
		re, err := fullRegexp("spiffe://.+/ns/" + regexp.QuoteMeta(ns) + "/(.+/|)sa/" + regexp.QuoteMeta(sa) + "(/.+)?")
		if err != nil {
			return nil, err
		}
		res = append(res, re)
	}
	return uriRegexTerm{attr: KeySourceServiceAccount, field: "source service account in [" + strings.Join(values, ", ") + "]", raw: values, res: res}, nil
}

// trustDomainRegexTerm encodes trust domains: "*" is any SPIFFE URI, a plain
// value is the prefix "spiffe://<td>/", one "*" inside matches within the
// trust domain only (generator.go, srcTrustDomainGenerator).
func trustDomainRegexTerm(values []string) (term, error) {
	res := make([]*regexp.Regexp, 0, len(values))
	for _, v := range values {
		var expr string
		switch {
		case v == "*":
			expr = "spiffe://(?s:.*)"
		case !strings.Contains(v, "*"):
			expr = regexp.QuoteMeta("spiffe://"+v+"/") + "(?s:.*)"
		default:
			pre, post, _ := strings.Cut(v, "*")
			expr = "spiffe://" + regexp.QuoteMeta(pre) + "[^/]*" + regexp.QuoteMeta(post) + "/.*"
		}
		re, err := fullRegexp(expr)
		if err != nil {
			return nil, err
		}
		res = append(res, re)
	}
	return uriRegexTerm{attr: KeySourceTrustDomain, field: "source trust domain in [" + strings.Join(values, ", ") + "]", raw: values, res: res}, nil
}

// fullRegexp anchors expr: Envoy's safe_regex matchers match the whole value.
func fullRegexp(expr string) (*regexp.Regexp, error) {
	re, err := regexp.Compile("^(?:" + expr + ")$")
	if err != nil {
		return nil, fmt.Errorf("compile %q: %w", expr, err)
	}
	return re, nil
}

func newIPTerm(kind ipKind, values []string) (term, error) {
	t := ipTerm{kind: kind}
	for _, v := range values {
		p, err := match.ParseIPBlock(v)
		if err != nil {
			return nil, err
		}
		t.blocks = append(t.blocks, p)
	}
	return t, nil
}

func newPortTerm(values []string) (term, error) {
	t := portTerm{}
	for _, v := range values {
		p, err := parsePort(v)
		if err != nil {
			return nil, err
		}
		t.ports = append(t.ports, p)
	}
	return t, nil
}

// parsePort accepts what istiod's convertToPort accepts: 0 to 65535.
func parsePort(v string) (int, error) {
	p, err := strconv.ParseUint(v, 10, 32)
	if err != nil || p > 65535 {
		return 0, fmt.Errorf("bad port %q", v)
	}
	return int(p), nil
}

func newPathTerm(values []string) (term, error) {
	t := pathTerm{}
	for _, v := range values {
		if !match.ContainsTemplate(v) {
			t.ms = append(t.ms, match.NewString(v, false))
			continue
		}
		tpl, err := match.NewTemplate(v)
		if err != nil {
			return nil, err
		}
		t.templates = append(t.templates, tpl)
	}
	return t, nil
}

// newRequestPrincipalTerm encodes requestPrincipals values the way istiod's
// requestPrincipalGenerator splits them into issuer and subject matchers.
func newRequestPrincipalTerm(values []string) term {
	t := requestPrincipalTerm{raw: values}
	for _, v := range values {
		t.pairs = append(t.pairs, splitRequestPrincipalPattern(v))
	}
	return t
}

func splitRequestPrincipalPattern(v string) issSub {
	idx := strings.LastIndex(v, "/")
	found := idx >= 0
	iss, sub := v, ""
	if found {
		iss, sub = v[:idx], v[idx+1:]
	}
	exact := func(s string) *match.String { m := match.String{Kind: match.Exact, Value: s}; return &m }
	switch {
	case v == "*":
		return issSub{}
	case strings.HasPrefix(v, "*") && found:
		p := issSub{sub: exact(sub)}
		if iss != "*" {
			p.iss = &match.String{Kind: match.Suffix, Value: strings.TrimPrefix(iss, "*")}
		}
		return p
	case strings.HasPrefix(v, "*"):
		return issSub{sub: &match.String{Kind: match.Suffix, Value: strings.TrimPrefix(v, "*")}}
	case strings.HasSuffix(v, "*") && found:
		p := issSub{iss: exact(iss)}
		if sub != "*" {
			p.sub = &match.String{Kind: match.Prefix, Value: strings.TrimSuffix(sub, "*")}
		}
		return p
	case strings.HasSuffix(v, "*"):
		return issSub{iss: &match.String{Kind: match.Prefix, Value: strings.TrimSuffix(v, "*")}}
	default:
		return issSub{iss: exact(iss), sub: exact(sub)}
	}
}
