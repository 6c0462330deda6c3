package simulator

import (
	"slices"
	"strings"
)

// trustBundle is the local trust domain and its aliases. istiod rewrites the
// trust domain of policy principals to every member before building Envoy
// RBAC (pilot/pkg/security/trustdomain/bundle.go); ztunnel's conversion does
// not, so aliases only affect waypoints.
type trustBundle struct {
	domains []string
}

func newTrustBundle(td string, aliases []string) trustBundle {
	return trustBundle{domains: append([]string{td}, aliases...)}
}

// replaceAliases expands each principal whose trust domain is the local one,
// one of its aliases, or "cluster.local" (which always means "local") into
// one principal per member of the bundle. Principals that are not of the
// form td/ns/N/sa/S, or whose trust domain is "*", are kept as written.
func (b trustBundle) replaceAliases(principals []string) []string {
	out := make([]string, 0, len(principals))
	for _, p := range principals {
		parts := strings.Split(p, "/")
		if len(parts) != 5 || parts[0] == "*" {
			out = append(out, p)
			continue
		}
		td := parts[0]
		if td != DefaultTrustDomain && !trustDomainListMatch(td, b.domains) {
			out = append(out, p)
			continue
		}
		out = appendUnique(out, b.rewrite(p, td, parts)...)
	}
	return out
}

func (b trustBundle) rewrite(p, td string, parts []string) []string {
	var res []string
	for _, d := range b.domains {
		if isSuffixPattern(td) && strings.HasSuffix(d, td[1:]) {
			res = appendUnique(res, p)
			continue
		}
		res = appendUnique(res, d+"/"+strings.Join(parts[1:], "/"))
	}
	return res
}

// expand adds every bundle member when a trust domain value names one of
// them, as istiod does for trustDomains and source.trustDomain.
func (b trustBundle) expand(values []string) []string {
	var out []string
	for _, v := range values {
		if slices.Contains(b.domains, v) {
			out = appendUnique(out, b.domains...)
		} else {
			out = appendUnique(out, v)
		}
	}
	return out
}

// trustDomainListMatch compares a trust domain with a list where either side
// may carry a leading or trailing "*".
func trustDomainListMatch(a string, list []string) bool {
	for _, s := range list {
		if a == s || s == "*" || globMatch(a, s) || globMatch(s, a) {
			return true
		}
	}
	return false
}

func globMatch(a, pattern string) bool {
	switch {
	case strings.HasSuffix(pattern, "*"):
		return strings.HasPrefix(a, strings.TrimSuffix(pattern, "*"))
	case strings.HasPrefix(pattern, "*"):
		return strings.HasSuffix(a, strings.TrimPrefix(pattern, "*"))
	}
	return false
}

func isSuffixPattern(s string) bool { return strings.HasPrefix(s, "*") }

func appendUnique(list []string, values ...string) []string {
	for _, v := range values {
		if !slices.Contains(list, v) {
			list = append(list, v)
		}
	}
	return list
}
