package match

import (
	"strings"
	"testing"
)

// FuzzMatchers feeds arbitrary patterns and values to every matcher: none
// may panic, normalizing a path twice changes nothing, and a pattern always
// matches the value it was made from when it has no wildcard.
func FuzzMatchers(f *testing.F) {
	seeds := [][2]string{
		{"/get", "/get"}, {"/api/{*}/x", "/api/v1/x"}, {"/a/{**}", "/a/b/c"}, {"*.example.com", "API.example.com"},
		{"abc*", "abcd"}, {"*", ""}, {"[a][b]", "x"}, {"10.0.0.0/8", "10.1.2.3"}, {"2001:db8::/32", "2001:db8::1"},
		{"/a/./b/../c", "/a/%2e%2e/c?x=1"}, {"{**}/{*}", "/%41"},
	}
	for _, s := range seeds {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, pattern, value string) {
		m := NewString(pattern, true)
		m.Match(value, true)
		if !strings.Contains(pattern, "*") && !m.Match(pattern, true) {
			t.Fatalf("exact pattern %q does not match itself", pattern)
		}
		n := NormalizePath(value)
		if again := NormalizePath(n); again != n {
			t.Fatalf("NormalizePath not idempotent: %q -> %q -> %q", value, n, again)
		}
		if tpl, err := NewTemplate(pattern); err == nil {
			tpl.Match(n)
		}
		_ = ValidateTemplate(pattern)
		if path, err := ParseClaimPath(pattern); err == nil {
			ClaimMatches(map[string]any{"a": map[string]any{"b": value}, "scope": value}, path, []String{m})
		}
		if p, err := ParseIPBlock(pattern); err == nil {
			if ip, err := ParseIPBlock(value); err == nil {
				AnyPrefix(nil, ip.Addr())
				p.Contains(ip.Addr())
			}
		}
	})
}
