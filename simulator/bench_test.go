package simulator

import (
	"fmt"
	"strings"
	"testing"
)

// benchmarkManifests builds n ServiceEntries bound to one waypoint, each with
// two policies (one DENY, one ALLOW), so 2n policies are compiled.
func benchmarkManifests(n int) string {
	var b strings.Builder
	b.WriteString(`apiVersion: egress.ambient.io/v1alpha1
kind: EgressGateway
metadata: {name: waypoint, namespace: istio-egress}
`)
	for i := range n {
		fmt.Fprintf(&b, `---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: se-%[1]d, namespace: istio-egress}
spec: {hosts: [host-%[1]d.example.com], ports: [{number: 80, name: http, protocol: HTTP}], resolution: DNS}
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: deny-%[1]d, namespace: istio-egress}
spec:
  targetRefs: [{kind: ServiceEntry, group: networking.istio.io, name: se-%[1]d}]
  action: DENY
  rules: [{from: [{source: {namespaces: ["blocked-%[1]d"]}}], to: [{operation: {paths: ["/admin/{**}"]}}]}]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: allow-%[1]d, namespace: istio-egress}
spec:
  targetRefs: [{kind: ServiceEntry, group: networking.istio.io, name: se-%[1]d}]
  rules:
  - from: [{source: {principals: ["cluster.local/ns/admin/sa/*"]}}]
  - to: [{operation: {methods: ["GET", "HEAD"], paths: ["/api/*", "*.json"]}}]
    when: [{key: "request.headers[x-tenant]", values: ["t-%[1]d"]}]
`, i)
	}
	return b.String()
}

// BenchmarkEval2000Policies evaluates one request against a program of 2,000
// compiled policies; attachment indexing keeps the cost to the two policies
// of the addressed ServiceEntry.
func BenchmarkEval2000Policies(b *testing.B) {
	snap, _, err := Parse("bench.yaml", []byte(benchmarkManifests(1000)))
	if err != nil {
		b.Fatal(err)
	}
	prog, issues := Compile(snap, Options{})
	if issues.HasErrors() {
		b.Fatal(issues.Err())
	}
	req, err := RequestSpec{From: "cluster.local/ns/default/sa/app", Method: "GET",
		URL: "http://host-500.example.com/api/v1?x=1", Headers: []string{"X-Tenant: t-500"}}.Build(DefaultTrustDomain)
	if err != nil {
		b.Fatal(err)
	}
	d, err := prog.Eval(req)
	if err != nil || d.Verdict != Allow || d.DecidingPolicy != "istio-egress/allow-500" {
		b.Fatalf("unexpected decision %+v, %v", d, err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := prog.Eval(req); err != nil {
			b.Fatal(err)
		}
	}
}
