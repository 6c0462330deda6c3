package match

import (
	"fmt"
	"strings"
)

// ParseClaimPath splits the bracketed part of a request.auth.claims key into
// the claim names to walk: "[iss]" is ["iss"], "[a][b]" is ["a", "b"]. When the
// brackets do not form a clean sequence the whole text between the outer
// brackets is one claim name, the fallback istiod uses
// (pilot/pkg/security/authz/model/util.go, extractNameInNestedBrackets).
func ParseClaimPath(s string) ([]string, error) {
	var names []string
	for begin := 0; begin < len(s); {
		end := closingBracket(s, begin)
		if end < 0 {
			name, err := singleBracketed(s)
			if err != nil {
				return nil, err
			}
			return []string{name}, nil
		}
		names = append(names, s[begin+1:end])
		begin = end + 1
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("expecting format [<NAME>], but found %q", s)
	}
	return names, nil
}

// closingBracket returns the index of the "]" closing the "[" at begin, or -1
// when s[begin] is not "[" or another "[" comes first.
func closingBracket(s string, begin int) int {
	if begin >= len(s) || s[begin] != '[' {
		return -1
	}
	for i := begin + 1; i < len(s); i++ {
		switch s[i] {
		case '[':
			return -1
		case ']':
			return i
		}
	}
	return -1
}

// singleBracketed extracts NAME from "[NAME]"; it is also how header names
// are read from request.headers[NAME].
func singleBracketed(s string) (string, error) {
	if !strings.HasPrefix(s, "[") || !strings.HasSuffix(s, "]") || len(s) < 2 {
		return "", fmt.Errorf("expecting format [<NAME>], but found %q", s)
	}
	return s[1 : len(s)-1], nil
}

// ParseBracketed extracts NAME from "[NAME]".
func ParseBracketed(s string) (string, error) {
	return singleBracketed(s)
}

// spaceDelimitedClaims are the top-level claims Envoy's jwt_authn filter
// splits on spaces before authorization sees them; istiod configures these
// two by default (pilot/pkg/security/authn/policy_applier.go).
var spaceDelimitedClaims = map[string]bool{"scope": true, "permission": true}

// ClaimMatches reports whether the claim at path in a validated JWT payload
// matches any pattern. A string claim is compared directly and a list claim
// matches when any of its string elements does, the "list or value" matcher
// istiod generates (pilot/pkg/security/authz/matcher/metadata.go). Claims of
// other types never match, as Envoy's string matcher cannot compare them.
func ClaimMatches(payload map[string]any, path []string, patterns []String) bool {
	v, ok := lookupClaim(payload, path)
	if !ok {
		return false
	}
	switch t := v.(type) {
	case string:
		if len(path) == 1 && spaceDelimitedClaims[path[0]] {
			return anyField(strings.Fields(t), patterns)
		}
		return AnyString(patterns, t, true)
	case []any:
		for _, e := range t {
			if s, ok := e.(string); ok && AnyString(patterns, s, true) {
				return true
			}
		}
	case []string:
		return anyField(t, patterns)
	}
	return false
}

func anyField(values []string, patterns []String) bool {
	for _, s := range values {
		if AnyString(patterns, s, true) {
			return true
		}
	}
	return false
}

func lookupClaim(payload map[string]any, path []string) (any, bool) {
	var cur any = payload
	for _, name := range path {
		obj, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		if cur, ok = obj[name]; !ok {
			return nil, false
		}
	}
	return cur, true
}
