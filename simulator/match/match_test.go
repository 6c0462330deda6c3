package match

import (
	"net/netip"
	"testing"
)

// Patterns follow Istio's string matching rules: exact, "abc*" prefix,
// "*abc" suffix, "*" presence; hosts fold case
// (https://istio.io/latest/docs/reference/config/security/authorization-policy/,
// pilot/pkg/security/authz/matcher/header.go).
func TestString(t *testing.T) {
	cases := []struct {
		pattern, value string
		present, fold  bool
		want           bool
	}{
		{"GET", "GET", true, false, true},
		{"GET", "get", true, false, false},
		{"Example.COM", "example.com", true, true, true},
		{"/api/*", "/api/v1", true, false, true},
		{"/api/*", "/ap", true, false, false},
		{"*.json", "/a.json", true, false, true},
		{"*.JSON", "/a.json", true, true, true},
		{"*", "", true, false, true},
		{"*", "", false, false, false},
		{"x", "x", false, false, false},
		{"*a*", "ba*", true, false, true},
		{"*a*", "ba", true, false, false},
	}
	for _, c := range cases {
		if got := NewString(c.pattern, c.fold).Match(c.value, c.present); got != c.want {
			t.Errorf("NewString(%q, %v).Match(%q, %v) = %v, want %v", c.pattern, c.fold, c.value, c.present, got, c.want)
		}
	}
}

// IP blocks accept single addresses and CIDRs of both families, as istiod's
// ValidateIPs and stringToIP do (pkg/config/security/security.go).
func TestIPBlock(t *testing.T) {
	cases := []struct {
		block, addr string
		want        bool
	}{
		{"10.0.0.0/8", "10.255.0.1", true},
		{"10.0.0.0/8", "11.0.0.1", false},
		{"10.1.2.3", "10.1.2.3", true},
		{"10.1.2.3", "10.1.2.4", false},
		{"2001:db8::/32", "2001:db8:1::1", true},
		{"2001:db8::1", "2001:db8::2", false},
		{"10.0.0.0/8", "::ffff:10.0.0.1", true},
	}
	for _, c := range cases {
		p, err := ParseIPBlock(c.block)
		if err != nil {
			t.Fatalf("ParseIPBlock(%q): %v", c.block, err)
		}
		if got := AnyPrefix([]netip.Prefix{p}, netip.MustParseAddr(c.addr)); got != c.want {
			t.Errorf("%s contains %s = %v, want %v", c.block, c.addr, got, c.want)
		}
	}
	for _, bad := range []string{"10.0.0.0/33", "300.1.1.1", "", "a::g"} {
		if _, err := ParseIPBlock(bad); err == nil {
			t.Errorf("ParseIPBlock(%q) accepted", bad)
		}
	}
}

// Templates follow Envoy's uri_template: "*" is one segment of pchar
// characters, "**" any rest (envoy uri_template_internal.cc).
func TestTemplate(t *testing.T) {
	cases := []struct {
		tpl, path string
		want      bool
	}{
		{"/foo/{*}", "/foo/bar", true},
		{"/foo/{*}", "/foo/bar/baz", false},
		{"/foo/{*}", "/foo/", false},
		{"/foo/{**}", "/foo/bar/baz", true},
		{"/foo/{**}", "/foo/", true},
		{"/foo/{**}", "/foo", false},
		{"/{*}/x/{**}", "/a/x/b/c", true},
	}
	for _, c := range cases {
		tpl, err := NewTemplate(c.tpl)
		if err != nil {
			t.Fatalf("NewTemplate(%q): %v", c.tpl, err)
		}
		if got := tpl.Match(c.path); got != c.want {
			t.Errorf("%s matches %s = %v, want %v", c.tpl, c.path, got, c.want)
		}
	}
	for _, bad := range []string{"/{**}/{*}", "/a/{x}", "/a{*}", "/{*}.txt"} {
		if err := ValidateTemplate(bad); err == nil {
			t.Errorf("ValidateTemplate(%q) accepted", bad)
		}
	}
}

// Normalization is Envoy's normalize_path (Istio's default BASE): query
// dropped, unreserved escapes decoded, dot segments removed.
func TestNormalizePath(t *testing.T) {
	cases := map[string]string{
		"/a/b?x=1":       "/a/b",
		"/a/./b/../c":    "/a/c",
		"/../a":          "/a",
		"/%61%2Fb":       "/a%2Fb",
		"/a/%2e%2e/b":    "/b",
		"":               "/",
		"/a//b":          "/a//b",
		"/a/b/..":        "/a/",
		"/plain/path":    "/plain/path",
		"/x#frag":        "/x",
		"/%7e%7Euser/%4": "/~~user/%4",
	}
	for in, want := range cases {
		if got := NormalizePath(in); got != want {
			t.Errorf("NormalizePath(%q) = %q, want %q", in, got, want)
		}
	}
}

// Claim paths and matching follow istiod (util.go extractNameInNestedBrackets;
// matcher/metadata.go list-or-value matching).
func TestClaims(t *testing.T) {
	paths := map[string][]string{"[iss]": {"iss"}, "[a][b]": {"a", "b"}, "[a.b]": {"a.b"}, "[a]x]": {"a]x"}}
	for in, want := range paths {
		got, err := ParseClaimPath(in)
		if err != nil || len(got) != len(want) || got[0] != want[0] {
			t.Errorf("ParseClaimPath(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	if _, err := ParseClaimPath("a"); err == nil {
		t.Error("ParseClaimPath(\"a\") accepted")
	}
	payload := map[string]any{"groups": []any{"a", 1, "b"}, "n": 3.0, "o": map[string]any{"k": "v"}, "scope": "read write"}
	checks := []struct {
		path []string
		pat  string
		want bool
	}{
		{[]string{"groups"}, "b", true}, {[]string{"groups"}, "c", false}, {[]string{"n"}, "3", false},
		{[]string{"o", "k"}, "v", true}, {[]string{"o", "x"}, "*", false}, {[]string{"scope"}, "write", true},
	}
	for _, c := range checks {
		if got := ClaimMatches(payload, c.path, []String{NewString(c.pat, false)}); got != c.want {
			t.Errorf("claim %v ~ %q = %v, want %v", c.path, c.pat, got, c.want)
		}
	}
}
