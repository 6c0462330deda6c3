package simulator

import (
	"net/netip"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/ambient-egress/ambient-egress-operator/simulator/match"
)

// term is one compiled condition of a rule: a field and the values it may
// take. The values of a field are ORed; negation wraps a term in notTerm.
// Every term says which attribute it reads and with which values, so that
// a new kind of term cannot be added without them; terms matched on string
// patterns also implement patternTerm, and source terms an index of callers
// can answer implement hintTerm.
type term interface {
	matches(v *view) bool
	String() string
	// key names the attribute in Istio's condition-key vocabulary (see
	// the attribute table), or AtomMethods, AtomPaths, AtomHosts.
	key() string
	// values lists the values as a policy spells them.
	values() []string
	// identity tells two terms of one key apart by their compiled values.
	identity() string
}

// patternTerm is a term matched on string patterns and path templates.
type patternTerm interface {
	term
	patterns() patternSet
}

// patternSet is what a patternTerm matches values with; fold says the
// comparison ignores case.
type patternSet struct {
	ms        []match.String
	templates []*match.Template
	fold      bool
}

// hintTerm is a source term an index of callers can answer (see
// SourceHint).
type hintTerm interface {
	term
	hint() (SourceHint, bool)
}

// conj is an AND of terms; an empty conj matches everything.
type conj []term

func (c conj) matches(v *view) bool {
	for _, t := range c {
		if !t.matches(v) {
			return false
		}
	}
	return true
}

// clause is an OR of alternatives (the entries of from, or of to); a clause
// with no alternatives matches everything.
type clause []conj

func (c clause) matches(v *view) bool {
	if len(c) == 0 {
		return true
	}
	for _, alt := range c {
		if alt.matches(v) {
			return true
		}
	}
	return false
}

// compiledRule is one rule of a policy as one enforcement point sees it.
type compiledRule struct {
	// index is the rule's position in spec.rules.
	index int
	// clauses are ANDed.
	clauses []clause
	// never is set when the enforcement point can never match the rule.
	never bool
}

func (r *compiledRule) matches(v *view) bool {
	if r.never {
		return false
	}
	for _, c := range r.clauses {
		if !c.matches(v) {
			return false
		}
	}
	return true
}

type notTerm struct{ t term }

func (n notTerm) matches(v *view) bool { return !n.t.matches(v) }
func (n notTerm) String() string       { return "not " + n.t.String() }
func (n notTerm) key() string          { return n.t.key() }
func (n notTerm) values() []string     { return n.t.values() }
func (n notTerm) identity() string     { return "not " + n.t.identity() }

// principalTerm matches the peer identity (principals, source.principal).
type principalTerm struct{ ms []match.String }

func (t principalTerm) matches(v *view) bool {
	return match.AnyString(t.ms, v.r.Principal, v.r.Principal != "")
}
func (t principalTerm) String() string           { return "principal in " + joinStrings(t.ms) }
func (t principalTerm) key() string              { return KeySourcePrincipal }
func (t principalTerm) values() []string         { return patternStrings(t.ms) }
func (t principalTerm) identity() string         { return t.String() }
func (t principalTerm) patterns() patternSet     { return patternSet{ms: t.ms} }
func (t principalTerm) hint() (SourceHint, bool) { return SourceHint{Principals: t.ms}, true }

// uriRegexTerm matches the peer SPIFFE URI against regular expressions, the
// way istiod encodes namespaces, service accounts and trust domains for
// Envoy (pilot/pkg/security/authz/model/generator.go).
type uriRegexTerm struct {
	// attr is the key: source.namespace, source.serviceAccount or
	// source.trustDomain.
	attr  string
	field string
	raw   []string
	res   []*regexp.Regexp
}

func (t uriRegexTerm) matches(v *view) bool {
	if v.uri == "" {
		return false
	}
	for _, re := range t.res {
		if re.MatchString(v.uri) {
			return true
		}
	}
	return false
}
func (t uriRegexTerm) String() string { return t.field }

// hint reads the regular expressions back; a namespace value with "*"
// still depends only on the trust domain and namespace of a well-formed
// principal: the regex can only end its value at the "/" after the
// namespace or after "sa".
func (t uriRegexTerm) hint() (SourceHint, bool) {
	if h, ok := regexHint(t); ok {
		return h, true
	}
	ns := t.attr == KeySourceNamespace
	return SourceHint{NamespaceOnly: ns}, ns
}
func (t uriRegexTerm) key() string      { return t.attr }
func (t uriRegexTerm) values() []string { return t.raw }

// identity is the regular expressions: the field text omits the namespace
// a bare service account defaults to, and they carry it.
func (t uriRegexTerm) identity() string {
	parts := make([]string, len(t.res))
	for i, re := range t.res {
		parts[i] = re.String()
	}
	return strings.Join(parts, "\x00")
}

// namespaceTerm matches the namespace of the peer identity as ztunnel does:
// a string match on the identity's namespace (ztunnel src/rbac.rs).
type namespaceTerm struct{ ms []match.String }

func (t namespaceTerm) matches(v *view) bool {
	return match.AnyString(t.ms, v.srcNamespace, v.srcNamespace != "")
}
func (t namespaceTerm) String() string       { return "source namespace in " + joinStrings(t.ms) }
func (t namespaceTerm) key() string          { return KeySourceNamespace }
func (t namespaceTerm) values() []string     { return patternStrings(t.ms) }
func (t namespaceTerm) identity() string     { return t.String() }
func (t namespaceTerm) patterns() patternSet { return patternSet{ms: t.ms} }

// serviceAccountTerm matches namespace/name pairs of the peer identity as
// ztunnel does (ServiceAccountMatch in ztunnel src/rbac.rs).
type serviceAccountTerm struct{ accounts [][2]string }

func (t serviceAccountTerm) matches(v *view) bool {
	for _, a := range t.accounts {
		if v.srcNamespace != "" && a[0] == v.srcNamespace && a[1] == v.srcAccount {
			return true
		}
	}
	return false
}
func (t serviceAccountTerm) String() string { return "source service account" }
func (t serviceAccountTerm) key() string    { return KeySourceServiceAccount }
func (t serviceAccountTerm) values() []string {
	out := make([]string, len(t.accounts))
	for i, acc := range t.accounts {
		out[i] = acc[0] + "/" + acc[1]
	}
	return out
}
func (t serviceAccountTerm) identity() string { return strings.Join(t.values(), "\x00") }

type ipKind uint8

const (
	ipSource ipKind = iota
	ipRemote
	ipDest
)

// ipTerm matches an address against IP blocks.
type ipTerm struct {
	kind   ipKind
	blocks []netip.Prefix
}

func (t ipTerm) matches(v *view) bool {
	switch t.kind {
	case ipRemote:
		return match.AnyPrefix(t.blocks, v.remoteIP)
	case ipDest:
		return match.AnyPrefix(t.blocks, v.r.DestIP)
	default:
		return match.AnyPrefix(t.blocks, v.r.SourceIP)
	}
}
func (t ipTerm) String() string { return t.key() + " in [" + strings.Join(t.values(), ", ") + "]" }
func (t ipTerm) key() string    { return [...]string{KeySourceIP, KeyRemoteIP, KeyDestinationIP}[t.kind] }
func (t ipTerm) values() []string {
	out := make([]string, len(t.blocks))
	for i, b := range t.blocks {
		out[i] = b.String()
	}
	return out
}
func (t ipTerm) identity() string { return t.String() }

// portTerm matches the destination port.
type portTerm struct{ ports []int }

func (t portTerm) matches(v *view) bool {
	return slices.Contains(t.ports, v.r.Port)
}
func (t portTerm) String() string { return "port in [" + strings.Join(t.values(), ", ") + "]" }
func (t portTerm) key() string    { return KeyDestinationPort }
func (t portTerm) values() []string {
	out := make([]string, len(t.ports))
	for i, p := range t.ports {
		out[i] = strconv.Itoa(p)
	}
	return out
}
func (t portTerm) identity() string { return t.String() }

// headerTerm matches an HTTP header; hosts and methods are the :authority
// and :method pseudo-headers (pilot/pkg/security/authz/matcher/header.go).
type headerTerm struct {
	name string
	ms   []match.String
}

func (t headerTerm) matches(v *view) bool {
	val, ok := v.header(t.name)
	return match.AnyString(t.ms, val, ok)
}
func (t headerTerm) String() string   { return t.name + " in " + joinStrings(t.ms) }
func (t headerTerm) values() []string { return patternStrings(t.ms) }
func (t headerTerm) identity() string { return t.String() }
func (t headerTerm) patterns() patternSet {
	return patternSet{ms: t.ms, fold: t.name == ":authority"}
}

// key is AtomMethods and AtomHosts for the pseudo-headers, which policies
// set with methods and hosts.
func (t headerTerm) key() string {
	switch t.name {
	case ":method":
		return AtomMethods
	case ":authority":
		return AtomHosts
	}
	return KeyRequestHeaders + "[" + t.name + "]"
}

// pathTerm matches the normalized path with string patterns or templates.
type pathTerm struct {
	ms        []match.String
	templates []*match.Template
}

func (t pathTerm) matches(v *view) bool {
	if !v.r.HTTP {
		return false
	}
	// Istio encodes "*" as the regex ".+", so it needs a non-empty path.
	if match.AnyString(t.ms, v.path, v.path != "") {
		return true
	}
	for _, tpl := range t.templates {
		if tpl.Match(v.path) {
			return true
		}
	}
	return false
}
func (t pathTerm) String() string { return "path in [" + strings.Join(t.values(), ", ") + "]" }
func (t pathTerm) key() string    { return AtomPaths }
func (t pathTerm) values() []string {
	out := patternStrings(t.ms)
	for _, tpl := range t.templates {
		out = append(out, tpl.String())
	}
	return out
}
func (t pathTerm) identity() string { return t.String() }
func (t pathTerm) patterns() patternSet {
	return patternSet{ms: t.ms, templates: t.templates}
}

// requestPrincipalTerm matches the JWT issuer and subject pairs.
type requestPrincipalTerm struct {
	pairs []issSub
	raw   []string
}

// issSub is one requestPrincipals value: issuer and subject patterns; a nil
// pattern stands for the regex ".+" (any non-empty value).
type issSub struct{ iss, sub *match.String }

func (t requestPrincipalTerm) matches(v *view) bool {
	if !v.hasJWT {
		return false
	}
	for _, p := range t.pairs {
		if nonEmptyOr(p.iss, v.jwtIss) && nonEmptyOr(p.sub, v.jwtSub) {
			return true
		}
	}
	return false
}
func (t requestPrincipalTerm) String() string {
	return "request principal in [" + strings.Join(t.raw, ", ") + "]"
}
func (t requestPrincipalTerm) key() string      { return KeyRequestPrincipal }
func (t requestPrincipalTerm) values() []string { return slices.Clone(t.raw) }
func (t requestPrincipalTerm) identity() string { return t.String() }

func nonEmptyOr(m *match.String, s string) bool {
	if m == nil {
		return s != ""
	}
	return m.Match(s, true)
}

// claimTerm matches a JWT claim (also audiences "aud" and presenter "azp").
type claimTerm struct {
	label string
	path  []string
	ms    []match.String
}

func (t claimTerm) matches(v *view) bool {
	if !v.hasJWT {
		return false
	}
	return match.ClaimMatches(v.r.Claims, t.path, t.ms)
}
func (t claimTerm) String() string       { return t.label + " in " + joinStrings(t.ms) }
func (t claimTerm) key() string          { return t.label }
func (t claimTerm) values() []string     { return patternStrings(t.ms) }
func (t claimTerm) identity() string     { return t.String() }
func (t claimTerm) patterns() patternSet { return patternSet{ms: t.ms} }

// sniTerm matches the TLS server name (connection.sni).
type sniTerm struct{ ms []match.String }

func (t sniTerm) matches(v *view) bool {
	return match.AnyString(t.ms, v.r.SNI, v.r.SNI != "")
}
func (t sniTerm) String() string       { return KeySNI + " in " + joinStrings(t.ms) }
func (t sniTerm) key() string          { return KeySNI }
func (t sniTerm) values() []string     { return patternStrings(t.ms) }
func (t sniTerm) identity() string     { return t.String() }
func (t sniTerm) patterns() patternSet { return patternSet{ms: t.ms} }

// unknownTerm stands for a value the simulator cannot see (Envoy dynamic
// metadata from experimental.envoy.filters keys); it never matches.
type unknownTerm struct{ attr string }

func (unknownTerm) matches(*view) bool { return false }
func (t unknownTerm) String() string   { return t.attr + " (not simulated)" }
func (t unknownTerm) key() string      { return t.attr }
func (unknownTerm) values() []string   { return nil }
func (t unknownTerm) identity() string { return t.String() }

func joinStrings(ms []match.String) string {
	return "[" + strings.Join(patternStrings(ms), ", ") + "]"
}

func patternStrings(ms []match.String) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = m.String()
	}
	return out
}

// describe renders a rule as the enforcement point sees it, for traces:
// clauses joined by AND, alternatives by OR.
func (r *compiledRule) describe() string {
	if r.never {
		return "never matches here"
	}
	if len(r.clauses) == 0 {
		return "matches every request"
	}
	parts := make([]string, 0, len(r.clauses))
	for _, c := range r.clauses {
		alts := make([]string, 0, len(c))
		for _, alt := range c {
			terms := make([]string, 0, len(alt))
			for _, t := range alt {
				terms = append(terms, t.String())
			}
			if len(terms) == 0 {
				terms = append(terms, "any")
			}
			alts = append(alts, strings.Join(terms, " and "))
		}
		if len(alts) == 0 {
			alts = append(alts, "any")
		}
		parts = append(parts, "("+strings.Join(alts, " | ")+")")
	}
	return strings.Join(parts, " and ")
}
