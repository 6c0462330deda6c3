package match

import "strings"

// Kind says how a String pattern compares a value.
type Kind uint8

const (
	// Exact matches a value equal to the pattern.
	Exact Kind = iota
	// Prefix matches a value that starts with the pattern ("abc*").
	Prefix
	// Suffix matches a value that ends with the pattern ("*abc").
	Suffix
	// Present matches any value that is present ("*").
	Present
)

// String is one Istio string pattern: "abc" exact, "abc*" prefix, "*abc"
// suffix, or "*" for presence. Istio applies the wildcard rules to every
// string field of an AuthorizationPolicy (see "Authorization Policy" on
// istio.io: https://istio.io/latest/docs/reference/config/security/authorization-policy/).
type String struct {
	// Kind is the comparison the pattern performs.
	Kind Kind
	// Value is the pattern with its wildcard removed.
	Value string
	// Fold makes the comparison case-insensitive, as Istio does for hosts.
	Fold bool
}

// NewString parses an Istio string pattern. A leading "*" wins over a
// trailing one, the order Istio's matcher helpers test them in
// (pilot/pkg/security/authz/matcher/string.go), so "*a*" is a suffix match
// for "a*".
func NewString(pattern string, fold bool) String {
	switch {
	case pattern == "*":
		return String{Kind: Present, Fold: fold}
	case strings.HasPrefix(pattern, "*"):
		return String{Kind: Suffix, Value: pattern[1:], Fold: fold}
	case strings.HasSuffix(pattern, "*"):
		return String{Kind: Prefix, Value: pattern[:len(pattern)-1], Fold: fold}
	default:
		return String{Kind: Exact, Value: pattern, Fold: fold}
	}
}

// Match reports whether value matches. present tells whether the value
// exists at all: an absent header or claim never matches, while a present
// one always satisfies a "*" pattern.
func (m String) Match(value string, present bool) bool {
	if !present {
		return false
	}
	switch m.Kind {
	case Present:
		return true
	case Prefix:
		return hasPrefix(value, m.Value, m.Fold)
	case Suffix:
		return hasSuffix(value, m.Value, m.Fold)
	default:
		if m.Fold {
			return strings.EqualFold(value, m.Value)
		}
		return value == m.Value
	}
}

// String renders the pattern back in Istio's syntax for traces.
func (m String) String() string {
	switch m.Kind {
	case Present:
		return "*"
	case Prefix:
		return m.Value + "*"
	case Suffix:
		return "*" + m.Value
	default:
		return m.Value
	}
}

// AnyString reports whether any of the patterns matches value.
func AnyString(ms []String, value string, present bool) bool {
	for i := range ms {
		if ms[i].Match(value, present) {
			return true
		}
	}
	return false
}

func hasPrefix(s, prefix string, fold bool) bool {
	if len(s) < len(prefix) {
		return false
	}
	if fold {
		return strings.EqualFold(s[:len(prefix)], prefix)
	}
	return s[:len(prefix)] == prefix
}

func hasSuffix(s, suffix string, fold bool) bool {
	if len(s) < len(suffix) {
		return false
	}
	if fold {
		return strings.EqualFold(s[len(s)-len(suffix):], suffix)
	}
	return s[len(s)-len(suffix):] == suffix
}
