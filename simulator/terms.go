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
type term interface {
	matches(v *view) bool
	String() string
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

// principalTerm matches the peer identity (principals, source.principal).
type principalTerm struct{ ms []match.String }

func (t principalTerm) matches(v *view) bool {
	return match.AnyString(t.ms, v.r.Principal, v.r.Principal != "")
}
func (t principalTerm) String() string { return "principal in " + joinStrings(t.ms) }

// uriRegexTerm matches the peer SPIFFE URI against regular expressions, the
// way istiod encodes namespaces, service accounts and trust domains for
// Envoy (pilot/pkg/security/authz/model/generator.go).
type uriRegexTerm struct {
	field string
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

// namespaceTerm matches the namespace of the peer identity as ztunnel does:
// a string match on the identity's namespace (ztunnel src/rbac.rs).
type namespaceTerm struct{ ms []match.String }

func (t namespaceTerm) matches(v *view) bool {
	return match.AnyString(t.ms, v.srcNamespace, v.srcNamespace != "")
}
func (t namespaceTerm) String() string { return "source namespace in " + joinStrings(t.ms) }

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
func (t ipTerm) String() string {
	names := [...]string{"source.ip", "remote.ip", "destination.ip"}
	parts := make([]string, len(t.blocks))
	for i, b := range t.blocks {
		parts[i] = b.String()
	}
	return names[t.kind] + " in [" + strings.Join(parts, ", ") + "]"
}

// portTerm matches the destination port.
type portTerm struct{ ports []int }

func (t portTerm) matches(v *view) bool {
	return slices.Contains(t.ports, v.r.Port)
}
func (t portTerm) String() string {
	parts := make([]string, len(t.ports))
	for i, p := range t.ports {
		parts[i] = strconv.Itoa(p)
	}
	return "port in [" + strings.Join(parts, ", ") + "]"
}

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
func (t headerTerm) String() string { return t.name + " in " + joinStrings(t.ms) }

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
func (t pathTerm) String() string {
	parts := make([]string, 0, len(t.ms)+len(t.templates))
	for _, m := range t.ms {
		parts = append(parts, m.String())
	}
	for _, tpl := range t.templates {
		parts = append(parts, tpl.String())
	}
	return "path in [" + strings.Join(parts, ", ") + "]"
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
func (t claimTerm) String() string { return t.label + " in " + joinStrings(t.ms) }

// sniTerm matches the TLS server name (connection.sni).
type sniTerm struct{ ms []match.String }

func (t sniTerm) matches(v *view) bool {
	return match.AnyString(t.ms, v.r.SNI, v.r.SNI != "")
}
func (t sniTerm) String() string { return "connection.sni in " + joinStrings(t.ms) }

// unknownTerm stands for a value the simulator cannot see (Envoy dynamic
// metadata from experimental.envoy.filters keys); it never matches.
type unknownTerm struct{ key string }

func (unknownTerm) matches(*view) bool { return false }
func (t unknownTerm) String() string   { return t.key + " (not simulated)" }

func joinStrings(ms []match.String) string {
	parts := make([]string, len(ms))
	for i, m := range ms {
		parts[i] = m.String()
	}
	return "[" + strings.Join(parts, ", ") + "]"
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
