package reach

import (
	"fmt"
	"github.com/ambient-egress/ambient-egress-operator/simulator/reach/scalegen"
	"math/rand/v2"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/ambient-egress/ambient-egress-operator/simulator"
)

// requestsPerCase is how many random requests each case checks.
const requestsPerCase = 3000

// TestReportAgreesWithEval is the property the report rests on: for random
// requests, the entry of the request's source and destination contains the
// request exactly when Program.Eval (what egressctl check runs) allows it,
// and the first cube containing it names the deciding policy and rule.
func TestReportAgreesWithEval(t *testing.T) {
	cases := map[string]Input{}
	for _, dir := range []string{"seed", "seed-tls", "mixed", "jwt"} {
		cases[dir] = loadScenario(t, "testdata/"+dir)
	}
	for seed := uint64(1); seed <= 6; seed++ {
		cfg := scalegen.Config{Namespaces: 6, AccountsPerNS: 3, ServiceEntries: 6, Policies: 24, Seed: seed}
		cases["generated-"+strconv.FormatUint(seed, 10)] = parseInput(t, scalegen.Generate(cfg))
	}
	// The configurations of the finding tests are odd on purpose: a host
	// declared twice, rules that never match, dry-run, TCP ports.
	for _, c := range findingCases {
		if c.code != CodeInvalidInput {
			cases["finding-"+c.code] = parseLenient(t, findingsBase+c.triggers)
		}
	}
	cases["anonymous-matching"] = parseInput(t, anonymousMatchingManifests)
	for name, in := range cases {
		// Most finding configurations allow (or deny) everything by design.
		mixed := !strings.HasPrefix(name, "finding-")
		t.Run(name, func(t *testing.T) { checkAgreement(t, in, mixed) })
	}
}

// anonymousMatchingManifests has source conditions that every caller
// matches, the anonymous one included (principals "*", a trust-domain
// prefix, namespaces "*"), on the first destinations in the report's order:
// a report that evaluated the other sources before resolving what such a
// condition says about them got those destinations wrong.
const anonymousMatchingManifests = `apiVersion: v1
kind: Namespace
metadata: {name: a, labels: {istio.io/dataplane-mode: ambient}}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: x, namespace: a}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: z, namespace: a}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: waypoint, namespace: istio-egress}
spec:
  gatewayClassName: istio-waypoint
  listeners: [{name: mesh, port: 15008, protocol: HBONE}]
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: a, namespace: istio-egress, labels: {istio.io/use-waypoint: waypoint}}
spec:
  hosts: [a.example.org]
  ports: [{number: 80, name: http, protocol: HTTP}]
  resolution: DNS
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: b, namespace: istio-egress, labels: {istio.io/use-waypoint: waypoint}}
spec:
  hosts: [b.example.org]
  ports: [{number: 80, name: http, protocol: HTTP}]
  resolution: DNS
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: c, namespace: istio-egress, labels: {istio.io/use-waypoint: waypoint}}
spec:
  hosts: [c.example.org]
  ports: [{number: 80, name: http, protocol: HTTP}]
  resolution: DNS
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: any-principal, namespace: istio-egress}
spec:
  targetRefs: [{kind: ServiceEntry, group: networking.istio.io, name: a}]
  rules:
  - from: [{source: {principals: ["*"]}}]
    to: [{operation: {methods: [GET]}}]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: any-namespace, namespace: istio-egress}
spec:
  targetRefs: [{kind: ServiceEntry, group: networking.istio.io, name: b}]
  rules:
  - from: [{source: {namespaces: ["*"], notPrincipals: ["cluster.local/ns/a/sa/x"]}}]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: trust-domain, namespace: istio-egress}
spec:
  targetRefs: [{kind: ServiceEntry, group: networking.istio.io, name: c}]
  action: DENY
  rules:
  - from: [{source: {principals: ["cluster.local/*"]}}]
    to: [{operation: {paths: ["/admin/*"]}}]
`

// checkAgreement compares the report with Eval on random requests; with
// mixed set, both verdicts must occur, or the case proves little.
func checkAgreement(t *testing.T, in Input, mixed bool) {
	t.Helper()
	checkAgreementN(t, in, mixed, requestsPerCase)
}

func checkAgreementN(t *testing.T, in Input, mixed bool, requests int) {
	t.Helper()
	r, _ := Build(in)
	prog, _ := simulator.Compile(in.Snapshot, in.Options)
	principals := append(allPrincipals(r), "cluster.local/ns/nobody/sa/stranger")
	rng := rand.New(rand.NewPCG(42, uint64(len(r.Reachability))))
	verdicts := map[simulator.Verdict]int{}
	for range requests {
		d := r.Destinations[rng.IntN(len(r.Destinations))]
		req := randomRequest(rng, d, principals[rng.IntN(len(principals))])
		want, err := prog.Eval(req)
		if err != nil {
			t.Fatalf("eval %+v: %v", req, err)
		}
		if want.Unauthenticated {
			// Refused by the waypoint's JWT validation: the report's
			// cubes are the requests that pass it (docs/report.md).
			continue
		}
		e := entryFor(r, d.Key(), req.Principal)
		cube, allowed := firstContaining(e.Allowed, req)
		verdict := simulator.Deny
		if allowed {
			verdict = simulator.Allow
		}
		if verdict != want.Verdict || (allowed && (cube.Policy != want.DecidingPolicy || cube.Rule != want.Rule)) {
			t.Fatalf("request %s from %s to %s: report says %s (cube %q %s rule %d), Eval says %s by %q rule %d: %s",
				describe(req), req.Principal, d.Key(), verdict, cube.Text(), cube.Policy, cube.Rule,
				want.Verdict, want.DecidingPolicy, want.Rule, want.Reason)
		}
		verdicts[verdict]++
	}
	if mixed && (verdicts[simulator.Allow] == 0 || verdicts[simulator.Deny] == 0) {
		t.Errorf("verdicts %v: the case does not exercise both outcomes", verdicts)
	}
	t.Logf("%v over %d entries", verdicts, len(r.Reachability))
}

func allPrincipals(r *Report) []string {
	var out []string
	for _, g := range r.Groups {
		out = append(out, g.Principals...)
	}
	slices.Sort(out)
	return out
}

func entryFor(r *Report, dest, principal string) Entry {
	var other Entry
	for _, e := range r.Reachability {
		if e.Destination != dest {
			continue
		}
		if e.OtherSources {
			other = e
		}
		if slices.Contains(e.Sources, principal) {
			return e
		}
	}
	return other
}

func firstContaining(cubes []Cube, req *simulator.Request) (Cube, bool) {
	for _, c := range cubes {
		if c.Contains(req) {
			return c, true
		}
	}
	return Cube{}, false
}

var (
	probeMethods = []string{"GET", "POST", "PUT", "DELETE", "HEAD", "PATCH", "get"}
	probePaths   = []string{"/", "/get", "/orders", "/orders/7", "/orders2", "/post", "/api/x", "/api/", "/v1/a/items", "/v1/admin/x", "/v1/admin/", "/v1/x",
		"/admin/x", "/static/a/b", "/x.json", "/health", "/v1/../admin/x", "/api/%41", "/get?x=1", "/anything", "/v1/a/b/items"}
	probeTenants = []string{"", "t0", "t1", "t2", "t3"}
	probeIssuers = []string{"", "https://issuer.partner.io", "https://evil.example"}
	probeGroups  = []string{"guests", "staff"}
	probeIPs     = []string{"10.1.2.3", "192.168.0.1"}
)

// randomRequest builds a request to d: HTTP when the waypoint parses HTTP on
// the port, with a method, path, Host form and tenant header drawn from
// values the scenarios' policies use and their near misses. On a port
// declared HTTP one request in ten is a plain TCP connection, which the
// waypoint still evaluates with the HTTP rules; on a port without declared
// protocol requests are HTTP, the kind the report covers there.
func randomRequest(rng *rand.Rand, d Destination, principal string) *simulator.Request {
	req := &simulator.Request{Principal: principal, Port: d.Port, DestHost: d.Host}
	if !simulator.ChainIsHTTP(d.Protocol, true) || (d.Protocol != "" && rng.IntN(10) == 0) {
		return req
	}
	req.HTTP = true
	req.Method = pick(rng, probeMethods)
	req.Path = pick(rng, probePaths)
	switch rng.IntN(3) {
	case 0:
		req.Host = d.Host
	case 1:
		req.Host = d.Host + ":" + strconv.Itoa(d.Port)
	default:
		req.Host = strings.ToUpper(d.Host)
	}
	if tenant := pick(rng, probeTenants); tenant != "" {
		req.Headers = map[string]string{"x-tenant": tenant}
	}
	if iss := pick(rng, probeIssuers); iss != "" {
		req.RequestPrincipal = iss + "/alice"
		req.Claims = map[string]any{"iss": iss, "sub": "alice", "group": pick(rng, probeGroups)}
	}
	req.SourceIP = netip.MustParseAddr(pick(rng, probeIPs))
	return req
}

func describe(r *simulator.Request) string {
	if !r.HTTP {
		return fmt.Sprintf("TCP :%d", r.Port)
	}
	return fmt.Sprintf("%s %s (host %s, headers %v)", r.Method, r.Path, r.Host, r.Headers)
}

func pick(rng *rand.Rand, list []string) string { return list[rng.IntN(len(list))] }
