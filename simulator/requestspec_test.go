package simulator

import (
	"strings"
	"testing"
)

func TestHostname(t *testing.T) {
	cases := map[string]string{
		"httpbin.org": "httpbin.org", "HTTPBIN.org:8080": "httpbin.org", "[2001:db8::1]:443": "2001:db8::1",
		"2001:db8::1": "2001:db8::1", "example.com.": "example.com",
	}
	for in, want := range cases {
		if got := hostname(in); got != want {
			t.Errorf("hostname(%q) = %q, want %q", in, got, want)
		}
	}
}

// RequestSpec.Build derives what curl would send: http URLs are HTTP with
// the Host as written, https URLs are TLS with SNI, and errors name the field.
func TestRequestSpecBuild(t *testing.T) {
	r, err := RequestSpec{Plaintext: true, URL: "http://a.example.com:8080/x/../y?q=1", Headers: []string{"A: 1", "a: 2"}}.Build(DefaultTrustDomain)
	if err != nil {
		t.Fatal(err)
	}
	if !r.HTTP || r.Host != "a.example.com:8080" || r.Port != 8080 || r.Method != "GET" || r.Path != "/x/../y?q=1" || r.Headers["a"] != "1,2" {
		t.Errorf("http URL: %+v", r)
	}
	r, err = RequestSpec{From: "cluster.local/ns/a/sa/b", URL: "https://api.example.com/"}.Build(DefaultTrustDomain)
	if err != nil {
		t.Fatal(err)
	}
	if r.HTTP || r.SNI != "api.example.com" || r.Port != 443 {
		t.Errorf("https URL: %+v", r)
	}
	bad := []struct {
		spec  RequestSpec
		field string
	}{
		{RequestSpec{URL: "http://x/"}, "from:"},
		{RequestSpec{Plaintext: true, From: "a/b"}, "from:"},
		{RequestSpec{Plaintext: true}, "host:"},
		{RequestSpec{Plaintext: true, URL: "ftp://x/"}, "url:"},
		{RequestSpec{Plaintext: true, Host: "x", At: "sidecar"}, "at:"},
		{RequestSpec{Plaintext: true, Host: "x", Port: 70000}, "port:"},
		{RequestSpec{Plaintext: true, Host: "x", SourceIP: "1.2.3"}, "source-ip:"},
		{RequestSpec{Plaintext: true, Host: "x", Headers: []string{"nocolon"}}, "header:"},
		{RequestSpec{From: "cluster.local/ns/a/sa/b", SourceNamespace: "c", Host: "x"}, "source-namespace:"},
		{RequestSpec{Plaintext: true, Host: "x", Claims: map[string]any{"aud": "x"}}, "claims:"},
	}
	for _, b := range bad {
		if _, err := b.spec.Build(DefaultTrustDomain); err == nil || !strings.HasPrefix(err.Error(), b.field) {
			t.Errorf("Build(%+v) error %v, want one starting %q", b.spec, err, b.field)
		}
	}
}
