// Package envoyrbac evaluates Envoy's RBAC configuration — the HTTP and
// network RBAC filters istiod generates for a waypoint's filter chains —
// against one request, as Envoy would. It is written from Envoy's
// documented semantics (api/envoy/config/rbac/v3/rbac.proto and the
// matchers it uses), independently of the simulator's own reading of
// AuthorizationPolicies, so that the two can be checked against each other
// on configuration istiod itself generated.
//
// Semantics relied on (rbac.proto unless said otherwise):
//   - A filter's policies match a request when any policy matches; a
//     policy matches when any of its permissions and any of its principals
//     match. Action ALLOW lets a request through only when a policy
//     matches; DENY stops it when one matches; LOG never stops it. A
//     filter without rules does nothing. Shadow rules are evaluated and
//     only reported (Decision.Shadow), never enforced.
//   - Filters run in chain order and the first that denies ends the
//     request.
//   - and_rules/and_ids need all, or_rules/or_ids any, not_rule/not_id
//     inverts.
//   - A StringMatcher's exact, prefix, suffix and contains compare bytes,
//     ignoring ASCII case when ignore_case is set; safe_regex must match the
//     whole value (RE2), envoy/type/matcher/v3/string.proto.
//   - A HeaderMatcher over a header sent several times sees the values
//     joined with ","; a missing header matches only present_match: false
//     or, with treat_missing_header_as_empty, as the empty string;
//     invert_match inverts (envoy/config/route/v3/route_components.proto).
//   - url_path matches the path without its query string
//     (envoy/type/matcher/v3/path.proto).
//   - uri_template: "*" is one non-empty path segment and "**" any number
//     of segments, the rest literal (envoy/extensions/path/match/
//     uri_template/v3; source/extensions/path/uri_template_lib).
package envoyrbac

import (
	"fmt"
	"maps"
	"net/netip"
	"regexp"
	"slices"
	"strings"
	"sync"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	rbacv3 "github.com/envoyproxy/go-control-plane/envoy/config/rbac/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	uritemplatev3 "github.com/envoyproxy/go-control-plane/envoy/extensions/path/match/uri_template/v3"
	matcherv3 "github.com/envoyproxy/go-control-plane/envoy/type/matcher/v3"
)

// Request is what the RBAC matchers read of one request or connection.
type Request struct {
	// FilterState holds string filter state by key, such as
	// io.istio.peer_principal, the caller's SPIFFE ID at a waypoint.
	FilterState map[string]string
	// PeerPrincipal is the URI SAN of the peer certificate
	// (Principal.authenticated).
	PeerPrincipal string
	// DirectRemoteIP is the connection's source address; RemoteIP the
	// client address Envoy derives from X-Forwarded-For (the direct one
	// when there is none).
	DirectRemoteIP, RemoteIP netip.Addr
	// DestinationIP and DestinationPort are the local address.
	DestinationIP   netip.Addr
	DestinationPort uint32
	// SNI is the TLS server name, empty when none.
	SNI string
	// HTTP says the filter is an HTTP one: headers and the path exist.
	HTTP bool
	// Headers maps lower-case names (":method", ":path", ":authority")
	// to their values, in order.
	Headers map[string][]string
}

// Filter is one RBAC filter of a chain: its rules and shadow rules, either
// of which may be nil.
type Filter struct {
	Name          string
	Rules, Shadow *rbacv3.RBAC
}

// Decision is the outcome of a chain's RBAC filters.
type Decision struct {
	// Allowed is false when a filter denied the request.
	Allowed bool
	// Filter and Policy name what denied it, or the ALLOW policy that
	// let it through the last ALLOW filter.
	Filter, Policy string
	// Shadow lists, per filter with shadow rules, "<filter>: allowed" or
	// "<filter>: denied by <policy>", what the dry-run rules would do.
	Shadow []string
}

// Evaluate runs the filters in order over r.
func Evaluate(filters []Filter, r *Request) (Decision, error) {
	d := Decision{Allowed: true}
	for _, f := range filters {
		if f.Shadow != nil {
			ok, policy, err := evalRBAC(f.Shadow, r)
			if err != nil {
				return d, fmt.Errorf("%s shadow rules: %w", f.Name, err)
			}
			if ok {
				d.Shadow = append(d.Shadow, f.Name+": allowed")
			} else {
				d.Shadow = append(d.Shadow, f.Name+": denied by "+policy)
			}
		}
		if f.Rules == nil {
			continue
		}
		ok, policy, err := evalRBAC(f.Rules, r)
		if err != nil {
			return d, fmt.Errorf("%s: %w", f.Name, err)
		}
		if !ok {
			return Decision{Allowed: false, Filter: f.Name, Policy: policy, Shadow: d.Shadow}, nil
		}
		if f.Rules.GetAction() == rbacv3.RBAC_ALLOW {
			d.Filter, d.Policy = f.Name, policy
		}
	}
	return d, nil
}

// evalRBAC tells whether one RBAC config lets r through, and the policy
// that decided (the matching one; none when an ALLOW config matched none).
// Policies are tried in name order, so the policy named is stable.
func evalRBAC(c *rbacv3.RBAC, r *Request) (bool, string, error) {
	matched := ""
	for _, name := range sortedKeys(c.GetPolicies()) {
		ok, err := policyMatches(c.GetPolicies()[name], r)
		if err != nil {
			return false, "", fmt.Errorf("policy %s: %w", name, err)
		}
		if ok {
			matched = name
			break
		}
	}
	switch c.GetAction() {
	case rbacv3.RBAC_ALLOW:
		return matched != "", matched, nil
	case rbacv3.RBAC_DENY:
		return matched == "", matched, nil
	default: // LOG
		return true, matched, nil
	}
}

func policyMatches(p *rbacv3.Policy, r *Request) (bool, error) {
	if p.GetCondition() != nil || p.GetCheckedCondition() != nil {
		return false, fmt.Errorf("CEL conditions are not evaluated")
	}
	perm, err := anyOf(p.GetPermissions(), r, permission)
	if err != nil || !perm {
		return false, err
	}
	return anyOf(p.GetPrincipals(), r, principal)
}

func anyOf[T any](items []T, r *Request, eval func(T, *Request) (bool, error)) (bool, error) {
	for _, it := range items {
		ok, err := eval(it, r)
		if err != nil || ok {
			return ok, err
		}
	}
	return false, nil
}

func allOf[T any](items []T, r *Request, eval func(T, *Request) (bool, error)) (bool, error) {
	for _, it := range items {
		ok, err := eval(it, r)
		if err != nil || !ok {
			return ok, err
		}
	}
	return true, nil
}

func permission(p *rbacv3.Permission, r *Request) (bool, error) {
	switch rule := p.GetRule().(type) {
	case *rbacv3.Permission_Any:
		return rule.Any, nil
	case *rbacv3.Permission_AndRules:
		return allOf(rule.AndRules.GetRules(), r, permission)
	case *rbacv3.Permission_OrRules:
		return anyOf(rule.OrRules.GetRules(), r, permission)
	case *rbacv3.Permission_NotRule:
		ok, err := permission(rule.NotRule, r)
		return !ok, err
	case *rbacv3.Permission_Header:
		return header(rule.Header, r)
	case *rbacv3.Permission_UrlPath:
		return urlPath(rule.UrlPath, r)
	case *rbacv3.Permission_DestinationIp:
		return cidr(rule.DestinationIp, r.DestinationIP)
	case *rbacv3.Permission_DestinationPort:
		return r.DestinationPort == rule.DestinationPort, nil
	case *rbacv3.Permission_DestinationPortRange:
		return int64(r.DestinationPort) >= int64(rule.DestinationPortRange.GetStart()) && int64(r.DestinationPort) < int64(rule.DestinationPortRange.GetEnd()), nil
	case *rbacv3.Permission_RequestedServerName:
		return stringMatch(rule.RequestedServerName, r.SNI)
	case *rbacv3.Permission_UriTemplate:
		return uriTemplate(rule.UriTemplate, r)
	}
	return false, fmt.Errorf("permission %T is not evaluated", p.GetRule())
}

func principal(p *rbacv3.Principal, r *Request) (bool, error) {
	switch id := p.GetIdentifier().(type) {
	case *rbacv3.Principal_Any:
		return id.Any, nil
	case *rbacv3.Principal_AndIds:
		return allOf(id.AndIds.GetIds(), r, principal)
	case *rbacv3.Principal_OrIds:
		return anyOf(id.OrIds.GetIds(), r, principal)
	case *rbacv3.Principal_NotId:
		ok, err := principal(id.NotId, r)
		return !ok, err
	case *rbacv3.Principal_FilterState:
		v, ok := r.FilterState[id.FilterState.GetKey()]
		if !ok {
			return false, nil
		}
		if sm := id.FilterState.GetStringMatch(); sm != nil {
			return stringMatch(sm, v)
		}
		return false, fmt.Errorf("filter state matcher %v is not evaluated", id.FilterState)
	case *rbacv3.Principal_Authenticated_:
		if r.PeerPrincipal == "" {
			return false, nil
		}
		if m := id.Authenticated.GetPrincipalName(); m != nil {
			return stringMatch(m, r.PeerPrincipal)
		}
		return true, nil // any authenticated peer
	case *rbacv3.Principal_DirectRemoteIp:
		return cidr(id.DirectRemoteIp, r.DirectRemoteIP)
	case *rbacv3.Principal_RemoteIp:
		return cidr(id.RemoteIp, r.RemoteIP)
	case *rbacv3.Principal_SourceIp:
		return cidr(id.SourceIp, r.DirectRemoteIP) //nolint:staticcheck // deprecated in Envoy's API, still honored by Envoy and written by older istiods
	case *rbacv3.Principal_Header:
		return header(id.Header, r)
	case *rbacv3.Principal_UrlPath:
		return urlPath(id.UrlPath, r)
	}
	return false, fmt.Errorf("principal %T is not evaluated", p.GetIdentifier())
}

func cidr(c *corev3.CidrRange, addr netip.Addr) (bool, error) {
	if !addr.IsValid() {
		return false, nil
	}
	base, err := netip.ParseAddr(c.GetAddressPrefix())
	if err != nil {
		return false, fmt.Errorf("CIDR %q: %w", c.GetAddressPrefix(), err)
	}
	bits := int(c.GetPrefixLen().GetValue())
	if c.GetPrefixLen() == nil {
		bits = base.BitLen()
	}
	p, err := base.Prefix(bits)
	if err != nil {
		return false, err
	}
	return p.Contains(addr.Unmap()), nil
}

// header matches a header as route_components.proto's HeaderMatcher does:
// the values joined with ",", the match inverted by invert_match; a
// missing header is the empty string with treat_missing_header_as_empty,
// else it matches only an inverted matcher (or present_match: false).
func header(h *routev3.HeaderMatcher, r *Request) (bool, error) {
	if !r.HTTP {
		return false, nil
	}
	values, present := r.Headers[strings.ToLower(h.GetName())]
	if pm, ok := h.GetHeaderMatchSpecifier().(*routev3.HeaderMatcher_PresentMatch); ok {
		return (present == pm.PresentMatch) != h.GetInvertMatch(), nil
	}
	if !present && !h.GetTreatMissingHeaderAsEmpty() {
		return h.GetInvertMatch(), nil
	}
	value := strings.Join(values, ",")
	var ok bool
	var err error
	switch m := h.GetHeaderMatchSpecifier().(type) {
	case nil:
		ok = true
	case *routev3.HeaderMatcher_ExactMatch:
		ok = value == m.ExactMatch //nolint:staticcheck // deprecated in Envoy's API, still honored by Envoy and written by older istiods
	case *routev3.HeaderMatcher_PrefixMatch:
		ok = strings.HasPrefix(value, m.PrefixMatch) //nolint:staticcheck // deprecated in Envoy's API, still honored by Envoy and written by older istiods
	case *routev3.HeaderMatcher_SuffixMatch:
		ok = strings.HasSuffix(value, m.SuffixMatch) //nolint:staticcheck // deprecated in Envoy's API, still honored by Envoy and written by older istiods
	case *routev3.HeaderMatcher_ContainsMatch:
		ok = strings.Contains(value, m.ContainsMatch) //nolint:staticcheck // deprecated in Envoy's API, still honored by Envoy and written by older istiods
	case *routev3.HeaderMatcher_SafeRegexMatch:
		ok, err = fullRegex(m.SafeRegexMatch.GetRegex(), value) //nolint:staticcheck // deprecated in Envoy's API, still honored by Envoy and written by older istiods
	case *routev3.HeaderMatcher_StringMatch:
		ok, err = stringMatch(m.StringMatch, value)
	default:
		return false, fmt.Errorf("header matcher %T is not evaluated", m)
	}
	return ok != h.GetInvertMatch(), err
}

func requestPath(r *Request) (string, bool) {
	paths, ok := r.Headers[":path"]
	if !r.HTTP || !ok || len(paths) == 0 {
		return "", false
	}
	p, _, _ := strings.Cut(paths[0], "?")
	return p, true
}

func urlPath(m *matcherv3.PathMatcher, r *Request) (bool, error) {
	p, ok := requestPath(r)
	if !ok {
		return false, nil
	}
	return stringMatch(m.GetPath(), p)
}

func uriTemplate(c *corev3.TypedExtensionConfig, r *Request) (bool, error) {
	cfg := &uritemplatev3.UriTemplateMatchConfig{}
	if err := c.GetTypedConfig().UnmarshalTo(cfg); err != nil {
		return false, fmt.Errorf("uri_template %s: %w", c.GetName(), err)
	}
	p, ok := requestPath(r)
	if !ok {
		return false, nil
	}
	re, err := templateRegexp(cfg.GetPathTemplate())
	if err != nil {
		return false, err
	}
	return re.MatchString(p), nil
}

// The characters a path segment may hold in a URI template match
// (RFC 3986 pchar without the percent-encoding check, as Envoy's
// uri_template_lib has them).
const segmentChars = `[a-zA-Z0-9\-._~%!$&'()+,;:@=]`

func templateRegexp(tpl string) (*regexp.Regexp, error) {
	if !strings.HasPrefix(tpl, "/") {
		return nil, fmt.Errorf("uri_template %q does not start with /", tpl)
	}
	var b strings.Builder
	b.WriteString("^")
	for i, seg := range strings.Split(tpl[1:], "/") {
		b.WriteString("/")
		switch seg {
		case "*", "{*}":
			b.WriteString(segmentChars + "+")
		case "**", "{**}":
			// Zero or more segments, slashes included; the "/" written
			// before it may be the last character.
			b.WriteString("(?:" + segmentChars + "|/)*")
		default:
			if strings.ContainsAny(seg, "*{}") {
				return nil, fmt.Errorf("uri_template %q: segment %d %q is not evaluated", tpl, i, seg)
			}
			b.WriteString(regexp.QuoteMeta(seg))
		}
	}
	b.WriteString("$")
	return compiled(b.String())
}

// stringMatch is envoy.type.matcher.v3.StringMatcher.
func stringMatch(m *matcherv3.StringMatcher, v string) (bool, error) {
	fold := func(s string) string {
		if m.GetIgnoreCase() {
			return strings.ToLower(s)
		}
		return s
	}
	switch p := m.GetMatchPattern().(type) {
	case *matcherv3.StringMatcher_Exact:
		return fold(v) == fold(p.Exact), nil
	case *matcherv3.StringMatcher_Prefix:
		return strings.HasPrefix(fold(v), fold(p.Prefix)), nil
	case *matcherv3.StringMatcher_Suffix:
		return strings.HasSuffix(fold(v), fold(p.Suffix)), nil
	case *matcherv3.StringMatcher_Contains:
		return strings.Contains(fold(v), fold(p.Contains)), nil
	case *matcherv3.StringMatcher_SafeRegex:
		return fullRegex(p.SafeRegex.GetRegex(), v)
	}
	return false, fmt.Errorf("string matcher %T is not evaluated", m.GetMatchPattern())
}

// regexps caches compiled regexes by expression. Expressions come only from
// RBAC configurations, so the cache grows with the configurations read,
// not with the requests.
var regexps sync.Map

// fullRegex matches RE2 against the whole value, as safe_regex does.
func fullRegex(expr, v string) (bool, error) {
	re, err := compiled(`^(?:` + expr + `)$`)
	if err != nil {
		return false, fmt.Errorf("regex %q: %w", expr, err)
	}
	return re.MatchString(v), nil
}

func compiled(expr string) (*regexp.Regexp, error) {
	if re, ok := regexps.Load(expr); ok {
		return re.(*regexp.Regexp), nil
	}
	re, err := regexp.Compile(expr)
	if err != nil {
		return nil, err
	}
	regexps.Store(expr, re)
	return re, nil
}

func sortedKeys[V any](m map[string]V) []string {
	// Envoy promises no order between policies; only which policy is
	// named depends on it, never the verdict.
	return slices.Sorted(maps.Keys(m))
}
