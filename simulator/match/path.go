package match

import (
	"fmt"
	"regexp"
	"strings"
)

// Path templates as Istio accepts them in AuthorizationPolicy paths
// (pkg/config/security/security.go): "{*}" matches one path segment and
// "{**}" matches any number of segments and must come last.
const (
	matchOneTemplate = "{*}"
	matchAnyTemplate = "{**}"
)

// Envoy's uri_template matcher treats these characters as literals; the
// glob operators expand to runs of them
// (envoy source/extensions/path/uri_template_lib/uri_template_internal.cc).
const (
	templateLiteral  = `a-zA-Z0-9\-._~%!$&'()+,;:@`
	templatePathGlob = "[" + templateLiteral + "]+"
	templateTextGlob = "[" + templateLiteral + "/]*"
)

// ContainsTemplate reports whether an Istio path value uses a path template,
// which istiod turns into Envoy's uri_template matcher instead of a plain
// string matcher (pilot/pkg/security/authz/model/generator.go, pathGenerator).
func ContainsTemplate(path string) bool {
	return strings.Contains(path, matchOneTemplate) || strings.Contains(path, matchAnyTemplate)
}

// Template matches a normalized request path against an Istio path template.
type Template struct {
	source string
	re     *regexp.Regexp
}

// NewTemplate compiles a path template once. istiod first rewrites "{*}" to
// "*" and "{**}" to "**" (pilot/pkg/security/authz/matcher/template.go); the
// result follows Envoy's uri_template grammar.
func NewTemplate(path string) (*Template, error) {
	if err := ValidateTemplate(path); err != nil {
		return nil, err
	}
	sanitized := strings.NewReplacer(matchAnyTemplate, "**", matchOneTemplate, "*").Replace(path)
	if !strings.HasPrefix(sanitized, "/") {
		return nil, fmt.Errorf("path template %q must start with '/'", path)
	}
	var b strings.Builder
	b.WriteString("^/")
	for i, seg := range strings.Split(sanitized[1:], "/") {
		if i > 0 {
			b.WriteByte('/')
		}
		b.WriteString(segmentPattern(seg))
	}
	b.WriteByte('$')
	re, err := regexp.Compile(b.String())
	if err != nil {
		return nil, fmt.Errorf("path template %q: %w", path, err)
	}
	return &Template{source: path, re: re}, nil
}

// segmentPattern turns one template segment into a regular expression: an
// operator, optionally followed by a literal suffix, or a literal.
func segmentPattern(seg string) string {
	switch {
	case strings.HasPrefix(seg, "**"):
		return templateTextGlob + regexp.QuoteMeta(seg[2:])
	case strings.HasPrefix(seg, "*"):
		return templatePathGlob + regexp.QuoteMeta(seg[1:])
	default:
		return regexp.QuoteMeta(seg)
	}
}

// Match reports whether the normalized path (no query string) matches.
func (t *Template) Match(path string) bool {
	return t.re.MatchString(path)
}

// String returns the template as written in the policy.
func (t *Template) String() string {
	return t.source
}

// ValidateTemplate applies the admission rules Istio uses for path templates
// (pkg/config/security/security.go, CheckValidPathTemplate): "{**}" must be
// the last operator, braces may only form "{*}" or "{**}", and when a template
// is used every other segment must be made of RFC 3986 pchar characters.
func ValidateTemplate(path string) error {
	hasTemplate := ContainsTemplate(path)
	seenAny := false
	for glob := range strings.SplitSeq(strings.Trim(path, "/"), "/") {
		isOne, isAny := glob == matchOneTemplate, glob == matchAnyTemplate
		switch {
		case (isOne || isAny) && seenAny:
			return fmt.Errorf("invalid path template %q: {**} is not the last operator", path)
		case isAny:
			seenAny = true
			continue
		case isOne:
			continue
		}
		if strings.ContainsAny(glob, "{}") {
			return fmt.Errorf("invalid path template %q: '{' or '}' outside {*} or {**}", path)
		}
		if hasTemplate && !validLiteral(glob) {
			return fmt.Errorf("invalid path template %q: segment %q has characters outside RFC 3986 pchar", path, glob)
		}
	}
	return nil
}

func validLiteral(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if isUnreserved(c) || strings.IndexByte("%!$&'()+,;:@=", c) >= 0 {
			continue
		}
		return false
	}
	return true
}

func isUnreserved(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
		c == '-' || c == '.' || c == '_' || c == '~'
}
