package match

import (
	"strings"
	"testing"
)

// FuzzMatchers feeds arbitrary patterns and values to every matcher: none
// may panic, a normalized path is absolute without dot segments, and a pattern always
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
		// Envoy normalizes once, so a decoded escape may form a new one
		// ("%7%41" becomes "/%7A"); the output must still be absolute and
		// free of dot segments and query.
		n := NormalizePath(value)
		checkNormalized(t, value, n)
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

func checkNormalized(t *testing.T, raw, n string) {
	t.Helper()
	if !strings.HasPrefix(n, "/") || strings.ContainsAny(n, "?#") {
		t.Fatalf("NormalizePath(%q) = %q: not an absolute path without query", raw, n)
	}
	for seg := range strings.SplitSeq(n, "/") {
		if seg == "." || seg == ".." {
			t.Fatalf("NormalizePath(%q) = %q: dot segment left", raw, n)
		}
	}
}
