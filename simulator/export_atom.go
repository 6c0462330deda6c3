package simulator

import (
	"regexp"
	"strconv"
	"strings"

	"github.com/ambient-egress/ambient-egress-operator/simulator/match"
)

// Atom is one compiled condition of a rule (a field and the values it may
// take), exposed so the reachability report can evaluate rules symbolically
// with the very matchers Program.Eval uses.
type Atom struct{ t term }

// Keys Atom.Key returns for the operation fields, which have no condition
// key of their own in Istio's vocabulary.
const (
	AtomMethods = "methods"
	AtomPaths   = "paths"
	AtomHosts   = "hosts"
)

// Key names the attribute the atom reads, in Istio's condition-key
// vocabulary ("source.principal", "request.headers[x-tenant]",
// "destination.port"), or AtomMethods, AtomPaths, AtomHosts.
func (a Atom) Key() string {
	switch t := a.t.(type) {
	case principalTerm:
		return "source.principal"
	case uriRegexTerm:
		return uriRegexKey(t.field)
	case namespaceTerm:
		return "source.namespace"
	case serviceAccountTerm:
		return "source.serviceAccount"
	case ipTerm:
		return [...]string{"source.ip", "remote.ip", "destination.ip"}[t.kind]
	case portTerm:
		return "destination.port"
	case headerTerm:
		return headerKey(t.name)
	case pathTerm:
		return AtomPaths
	case requestPrincipalTerm:
		return "request.auth.principal"
	case claimTerm:
		return t.label
	case sniTerm:
		return "connection.sni"
	case unknownTerm:
		return t.key
	}
	return "unknown"
}

func uriRegexKey(field string) string {
	switch {
	case strings.HasPrefix(field, "source namespace"):
		return "source.namespace"
	case strings.HasPrefix(field, "source service account"):
		return "source.serviceAccount"
	default:
		return "source.trustDomain"
	}
}

func headerKey(name string) string {
	switch name {
	case ":method":
		return AtomMethods
	case ":authority":
		return AtomHosts
	}
	return "request.headers[" + name + "]"
}

// ID identifies the condition by key and compiled values, so equal
// conditions from different policies can share work.
func (a Atom) ID() string {
	switch t := a.t.(type) {
	case uriRegexTerm:
		// The field text omits the namespace a bare service account
		// defaults to; the regular expressions carry it.
		parts := make([]string, len(t.res))
		for i, re := range t.res {
			parts[i] = re.String()
		}
		return a.Key() + "\x00" + strings.Join(parts, "\x00")
	case serviceAccountTerm:
		parts := make([]string, len(t.accounts))
		for i, acc := range t.accounts {
			parts[i] = acc[0] + "/" + acc[1]
		}
		return a.Key() + "\x00" + strings.Join(parts, "\x00")
	}
	return a.Key() + "\x00" + a.t.String()
}

// String renders the condition for explanations.
func (a Atom) String() string { return a.t.String() }

// Values lists the values as a policy spells them ("GET", "/api/*",
// "10.0.0.0/8", "443").
func (a Atom) Values() []string {
	switch t := a.t.(type) {
	case principalTerm:
		return patternStrings(t.ms)
	case namespaceTerm:
		return patternStrings(t.ms)
	case headerTerm:
		return patternStrings(t.ms)
	case sniTerm:
		return patternStrings(t.ms)
	case claimTerm:
		return patternStrings(t.ms)
	case pathTerm:
		out := patternStrings(t.ms)
		for _, tpl := range t.templates {
			out = append(out, tpl.String())
		}
		return out
	case requestPrincipalTerm:
		return append([]string(nil), t.raw...)
	case ipTerm:
		out := make([]string, len(t.blocks))
		for i, b := range t.blocks {
			out[i] = b.String()
		}
		return out
	case portTerm:
		out := make([]string, len(t.ports))
		for i, p := range t.ports {
			out[i] = strconv.Itoa(p)
		}
		return out
	case uriRegexTerm:
		_, list, _ := strings.Cut(t.field, " in [")
		return strings.Split(strings.TrimSuffix(list, "]"), ", ")
	}
	return nil
}

func patternStrings(ms []match.String) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = m.String()
	}
	return out
}

// Patterns returns the string patterns of a principal, method, host,
// header, path, SNI or claim condition, and the path templates of a path
// condition; fold says the comparison ignores case (hosts). Two conditions
// with the same Key compare values the same way, so their patterns can be
// reasoned about together.
func (a Atom) Patterns() (ms []match.String, templates []*match.Template, fold bool) {
	switch t := a.t.(type) {
	case principalTerm:
		return t.ms, nil, false
	case namespaceTerm:
		return t.ms, nil, false
	case headerTerm:
		return t.ms, nil, t.name == ":authority"
	case pathTerm:
		return t.ms, t.templates, false
	case sniTerm:
		return t.ms, nil, false
	case claimTerm:
		return t.ms, nil, false
	}
	return nil, nil, false
}

// OnSource reports whether the condition reads only the caller's mTLS
// identity, so that knowing the caller decides it.
func (a Atom) OnSource() bool {
	switch a.t.(type) {
	case principalTerm, uriRegexTerm, namespaceTerm, serviceAccountTerm:
		return true
	}
	return false
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
	switch t := a.t.(type) {
	case principalTerm:
		return SourceHint{Principals: t.ms}, true
	case uriRegexTerm:
		if h, ok := regexHint(t); ok {
			return h, true
		}
		// A namespace value with "*" still depends only on the trust domain
		// and namespace of a well-formed principal: the regex can only end
		// its value at the "/" after the namespace or after "sa".
		return SourceHint{NamespaceOnly: uriRegexKey(t.field) == "source.namespace"}, uriRegexKey(t.field) == "source.namespace"
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
