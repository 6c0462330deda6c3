package simulator

import (
	"os"
	"path/filepath"
	"testing"
)

// fuzzRequests are evaluated against every program the fuzzer compiles.
var fuzzRequests = []RequestSpec{
	{From: "cluster.local/ns/default/sa/admin", Method: "POST", URL: "http://httpbin.org/post"},
	{Plaintext: true, Host: "httpbin.org", Port: 443, SNI: "httpbin.org"},
	{From: "cluster.local/ns/default/sa/default", URL: "http://example.com/a/../b?x=1", Headers: []string{"X-A: b"},
		RequestPrincipal: "iss/sub", Claims: map[string]any{"iss": "iss", "sub": "sub", "groups": []any{"g"}}},
	{Plaintext: true, Host: "x", At: "ztunnel", DestNamespace: "default", DestLabels: map[string]string{"app": "a"}},
}

// FuzzCompile turns arbitrary bytes into manifests, compiles them and
// evaluates a few requests: nothing may panic, and every decision must carry
// a verdict. It is seeded with every scenario input in testdata.
func FuzzCompile(f *testing.F) {
	files, _ := filepath.Glob("testdata/*/input/*.yaml")
	more, _ := filepath.Glob("testdata/*/input.yaml")
	for _, name := range append(files, more...) {
		if data, err := os.ReadFile(name); err == nil {
			f.Add(data)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		snap, _, err := Parse("fuzz.yaml", data)
		if err != nil {
			return
		}
		prog, _ := Compile(snap, Options{})
		for _, spec := range fuzzRequests {
			req, err := spec.Build(DefaultTrustDomain)
			if err != nil {
				t.Fatalf("fixed request does not build: %v", err)
			}
			d, err := prog.Eval(req)
			if err == nil && d.Verdict != Allow && d.Verdict != Deny {
				t.Fatalf("decision without verdict: %+v", d)
			}
		}
	})
}
