package simulator

import (
	"regexp"
	"strings"

	"github.com/ambient-egress/ambient-egress-operator/simulator/match"
)

// Atom is one compiled condition of a rule (a field and the values it may
// take), exposed so the reachability report can evaluate rules symbolically
// with the very matchers Program.Eval uses.
type Atom struct{ t term }

// Key names the attribute the atom reads, in Istio's condition-key
// vocabulary ("source.principal", "request.headers[x-tenant]",
// "destination.port"), or AtomMethods, AtomPaths, AtomHosts.
func (a Atom) Key() string { return a.t.key() }

// ID identifies the condition by key and compiled values, so equal
// conditions from different policies can share work.
func (a Atom) ID() string { return a.t.key() + "\x00" + a.t.identity() }

// String renders the condition for explanations.
func (a Atom) String() string { return a.t.String() }

// Values lists the values as a policy spells them ("GET", "/api/*",
// "10.0.0.0/8", "443").
func (a Atom) Values() []string { return a.t.values() }

// Patterns returns the string patterns of a principal, method, host,
// header, path, SNI or claim condition, and the path templates of a path
// condition; fold says the comparison ignores case (hosts). Two conditions
// with the same Key compare values the same way, so their patterns can be
// reasoned about together.
func (a Atom) Patterns() (ms []match.String, templates []*match.Template, fold bool) {
	if p, ok := a.t.(patternTerm); ok {
		set := p.patterns()
		return set.ms, set.templates, set.fold
	}
	return nil, nil, false
}

// OnSource reports whether the condition reads only the caller's mTLS
// identity, so that knowing the caller decides it.
func (a Atom) OnSource() bool {
	attr, ok := attributeFor(a.t.key())
	return ok && attr.side == sidePeer
}

// ReadsJWT reports whether the condition reads the request's validated JWT
// (request.auth.*), which is empty where no RequestAuthentication applies.
func (a Atom) ReadsJWT() bool {
	attr, ok := attributeFor(a.t.key())
	return ok && attr.side == sideJWT
}

// MatchesPrincipal evaluates a source condition for a caller with the given
// principal ("td/ns/NS/sa/SA"; empty for plaintext).
func (a Atom) MatchesPrincipal(principal string) bool {
	v := newView(&Request{Principal: principal})
	return a.t.matches(&v)
}

// MatchesPort decides a destination.port condition for a port; decided is
// false for every other condition.
func (a Atom) MatchesPort(port int) (matched, decided bool) {
	t, ok := a.t.(portTerm)
	if !ok {
		return false, false
	}
	return t.matches(&view{r: &Request{Port: port}}), true
}

// NeverMatches reports whether the condition can never hold because the
// simulator cannot see its value (Envoy dynamic metadata).
func (a Atom) NeverMatches() bool {
	_, ok := a.t.(unknownTerm)
	return ok
}

// Matches evaluates the condition on a full request, exactly as Eval does.
func (a Atom) Matches(r *Request) bool {
	v := newView(r)
	return a.t.matches(&v)
}

// SourceHint describes a source condition in a form that can be looked up
// in an index of callers instead of being evaluated for each: Principals
// are patterns on the principal; Namespaces are exact namespaces;
// Accounts are exact "namespace/account" pairs. ok is false when the
// condition needs evaluating. The hints are exact for well-formed
// principals whose trust domain, namespace and account are not "ns" or "sa"
// and contain no "/"; callers evaluate other principals directly.
func (a Atom) SourceHint() (h SourceHint, ok bool) {
	if t, is := a.t.(hintTerm); is {
		return t.hint()
	}
	return SourceHint{}, false
}

// SourceHint is the indexable form of a source condition.
type SourceHint struct {
	// Principals are patterns on the principal.
	Principals []match.String
	// Namespaces are exact namespace names.
	Namespaces []string
	// Accounts are exact namespace and service account pairs.
	Accounts [][2]string
	// TrustDomainOnly says the condition depends only on the trust domain.
	TrustDomainOnly bool
	// NamespaceOnly says the condition depends only on the trust domain and
	// the namespace.
	NamespaceOnly bool
}

// Prefixes and suffixes of the regular expressions namespaceRegexTerm and
// serviceAccountRegexTerm build, as fullRegexp anchors them.
const (
	nsRegexPrefix = "^(?:.*/ns/"
	nsRegexSuffix = "/.*)$"
	saRegexPrefix = "^(?:spiffe://.+/ns/"
	saRegexMiddle = "/(.+/|)sa/"
	saRegexSuffix = "(/.+)?)$"
	tdRegexPrefix = "^(?:spiffe://"
)

func regexHint(t uriRegexTerm) (SourceHint, bool) {
	var h SourceHint
	for _, re := range t.res {
		s := re.String()
		switch {
		case strings.HasPrefix(s, saRegexPrefix) && strings.HasSuffix(s, saRegexSuffix):
			ns, sa, ok := strings.Cut(strings.TrimSuffix(strings.TrimPrefix(s, saRegexPrefix), saRegexSuffix), saRegexMiddle)
			nsv, ok1 := unquoteMeta(ns)
			sav, ok2 := unquoteMeta(sa)
			if !ok || !ok1 || !ok2 {
				return SourceHint{}, false
			}
			h.Accounts = append(h.Accounts, [2]string{nsv, sav})
		case strings.HasPrefix(s, nsRegexPrefix) && strings.HasSuffix(s, nsRegexSuffix):
			ns, ok := unquoteMeta(strings.TrimSuffix(strings.TrimPrefix(s, nsRegexPrefix), nsRegexSuffix))
			if !ok {
				return SourceHint{}, false
			}
			h.Namespaces = append(h.Namespaces, ns)
		case strings.HasPrefix(s, tdRegexPrefix):
			h.TrustDomainOnly = true
		default:
			return SourceHint{}, false
		}
	}
	if h.TrustDomainOnly && (len(h.Namespaces) > 0 || len(h.Accounts) > 0) {
		return SourceHint{}, false
	}
	return h, true
}

// unquoteMeta undoes regexp.QuoteMeta and reports whether s was exactly a
// quoted literal with no "/" in it.
func unquoteMeta(s string) (string, bool) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) {
			i++
		}
		b.WriteByte(s[i])
	}
	v := b.String()
	return v, v != "" && !strings.Contains(v, "/") && regexp.QuoteMeta(v) == s
}
