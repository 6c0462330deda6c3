package verify_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ambient-egress/ambient-egress-operator/simulator"
	"github.com/ambient-egress/ambient-egress-operator/simulator/envoyrbac"
	"github.com/ambient-egress/ambient-egress-operator/simulator/reach"
	"github.com/ambient-egress/ambient-egress-operator/simulator/verify"
)

// The seed and the waypoint configuration the real istiod generates for
// it (kept current by the end-to-end TestVerifySeed).
const (
	seedDir  = "../../config/samples/seed"
	seedDump = "../../cmd/egressctl/testdata/verify/seed-config-dump.json"
)

func seedInput(t testing.TB, extra ...string) reach.Input {
	t.Helper()
	snap, _, err := simulator.Load(append([]string{seedDir}, extra...)...)
	if err != nil {
		t.Fatal(err)
	}
	return reach.Input{Snapshot: snap, ServiceAccounts: reach.ServiceAccountsOf(snap)}
}

func seedChains(t testing.TB, mutate func(string) string) envoyrbac.Chains {
	t.Helper()
	data, err := os.ReadFile(seedDump)
	if err != nil {
		t.Fatal(err)
	}
	text := string(data)
	if mutate != nil {
		text = mutate(text)
	}
	chains, err := envoyrbac.ParseConfigDump([]byte(text))
	if err != nil {
		t.Fatal(err)
	}
	return chains
}

func TestCheck(t *testing.T) {
	dir := t.TempDir()
	deny := filepath.Join(dir, "deny.yaml")
	if err := os.WriteFile(deny, []byte(`apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: no-post, namespace: istio-egress}
spec:
  targetRefs: [{kind: ServiceEntry, group: networking.istio.io, name: httpbin.org}]
  action: DENY
  rules: [{to: [{operation: {methods: [POST]}}]}]
`), 0o600); err != nil {
		t.Fatal(err)
	}
	post := func(s string) string { return strings.ReplaceAll(s, `"exact": "GET"`, `"exact": "POST"`) }
	noChain := func(s string) string {
		return strings.ReplaceAll(s, "inbound-vip|80|http|httpbin.org", "inbound-vip|80|http|other.example")
	}
	for _, tc := range []struct {
		name          string
		extra         []string
		mutate        func(string) string
		disagreements int
		first         string
	}{
		{name: "the seed agrees with istiod's RBAC for it"},
		// 4 callers × (GET, POST) × (/, /get): default, the unlisted
		// and the plaintext caller may GET /get by the manifests, POST
		// /get by the dump.
		{name: "a dump allowing POST where the policy says GET", mutate: post, disagreements: 6,
			first: "httpbin.org:80 GET /get from cluster.local/ns/default/sa/default: simulator ALLOW (ALLOW policy istio-egress/httpbin rule 1 matched); waypoint DENY"},
		// admin's POST / and POST /get.
		{name: "a DENY policy the dump lacks", extra: []string{deny}, disagreements: 2,
			first: "httpbin.org:80 POST / from cluster.local/ns/default/sa/admin: simulator DENY"},
		{name: "a destination the dump has no chain for", mutate: noChain, disagreements: 1,
			first: "httpbin.org:80: the simulator sends it to waypoint istio-egress/waypoint, but the waypoint's configuration has no filter chain"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := verify.Check(context.Background(), seedInput(t, tc.extra...), seedChains(t, tc.mutate), verify.Options{})
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Disagreements) != tc.disagreements || res.DisagreementCount != tc.disagreements || res.NotComparedCount != 0 || res.Agrees() != (tc.disagreements == 0) {
				t.Fatalf("%s\n%s", res.Summary(), strings.Join(res.Disagreements, "\n"))
			}
			if tc.first != "" && !strings.HasPrefix(res.Disagreements[0], tc.first) {
				t.Errorf("first disagreement %q, want prefix %q", res.Disagreements[0], tc.first)
			}
			if tc.disagreements == 0 && (res.Compared != 16 || res.DestinationPorts != 1) {
				t.Errorf("%s: want 16 requests on 1 destination port", res.Summary())
			}
		})
	}
}

// TestCallers: sources beyond the limit are spread evenly over the inputs
// in order, and the unlisted and plaintext callers always come last.
func TestCallers(t *testing.T) {
	var accounts []reach.Ref
	for i := range 10 {
		accounts = append(accounts, reach.Ref{Namespace: "ns", Name: fmt.Sprintf("sa%d", i)})
	}
	for _, tc := range []struct {
		limit int
		want  []string
	}{
		{0, []string{"sa0", "sa1", "sa2", "sa3", "sa4", "sa5", "sa6", "sa7", "sa8", "sa9", "spiffe-x"}},
		{3, []string{"sa0", "sa4", "sa8"}},
		{5, []string{"sa0", "sa3", "sa5", "sa7", "sa9"}},
		{20, []string{"sa0", "sa1", "sa2", "sa3", "sa4", "sa5", "sa6", "sa7", "sa8", "sa9", "spiffe-x"}},
	} {
		set := verify.Callers(accounts, []string{"td/ns/x/sa/spiffe-x"}, "td", tc.limit)
		var got []string
		for _, p := range set.Principals[:len(set.Principals)-2] {
			got = append(got, p[strings.LastIndexByte(p, '/')+1:])
		}
		if strings.Join(got, ",") != strings.Join(tc.want, ",") || set.Total != 11 {
			t.Errorf("limit %d: %v of %d, want %v", tc.limit, got, set.Total, tc.want)
		}
		if tail := set.Principals[len(set.Principals)-2:]; tail[0] != "td/ns/egressctl-verify/sa/unlisted" || tail[1] != "" {
			t.Errorf("limit %d: last callers %q", tc.limit, tail)
		}
	}
}

// TestBudget: MaxRequests stops the check and says so; a canceled context
// ends it with the context's error.
func TestBudget(t *testing.T) {
	in, chains := seedInput(t), seedChains(t, nil)
	res, err := verify.Check(context.Background(), in, chains, verify.Options{MaxRequests: 5})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Truncated || res.Compared != 5 || !strings.Contains(res.Summary(), "stopped at the request budget") {
		t.Errorf("%s", res.Summary())
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	wide := manyDestinations(t, 40, 40)
	if _, err := verify.Check(ctx, wide.in, wide.chains, verify.Options{}); !errors.Is(err, context.Canceled) {
		t.Errorf("canceled check: %v", err)
	}
}

// wideCase is an adversarial input: many sources, destinations and
// policy literals, with a configuration that agrees.
type wideCase struct {
	in     reach.Input
	chains envoyrbac.Chains
}

// manyDestinations is the seed's namespace with n ServiceEntries bound to
// the waypoint, each with the seed's policy naming m paths, and 200
// sources; the chains are the seed's, renamed per host (each rule names
// GET and /get only, so requests on the other paths disagree or not as
// the evaluator decides; the benchmark measures work, not agreement).
func manyDestinations(t testing.TB, n, m int) wideCase {
	t.Helper()
	var b strings.Builder
	b.WriteString("apiVersion: v1\nkind: Namespace\nmetadata: {name: istio-egress, labels: {istio.io/use-waypoint: waypoint}}\n")
	b.WriteString("---\napiVersion: v1\nkind: Namespace\nmetadata: {name: default, labels: {istio.io/dataplane-mode: ambient}}\n")
	b.WriteString("---\napiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\nmetadata: {name: waypoint, namespace: istio-egress, labels: {istio.io/waypoint-for: service}}\nspec: {gatewayClassName: istio-waypoint, listeners: [{name: mesh, port: 15008, protocol: HBONE}]}\n")
	for i := range 200 {
		fmt.Fprintf(&b, "---\napiVersion: v1\nkind: ServiceAccount\nmetadata: {name: sa%d, namespace: default}\n", i)
	}
	var paths []string
	for j := range m {
		paths = append(paths, fmt.Sprintf("/p%d/*", j))
	}
	chains := envoyrbac.Chains{}
	seed := seedChains(t, nil)["inbound-vip|80|http|httpbin.org"]
	for i := range n {
		host := fmt.Sprintf("h%d.example", i)
		fmt.Fprintf(&b, "---\napiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {name: %s, namespace: istio-egress}\nspec: {hosts: [%s], ports: [{number: 80, name: http, protocol: HTTP}], resolution: DNS}\n", host, host)
		fmt.Fprintf(&b, "---\napiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: p%d, namespace: istio-egress}\nspec: {targetRefs: [{kind: ServiceEntry, group: networking.istio.io, name: %s}], rules: [{to: [{operation: {methods: [GET, PUT], paths: [%s]}}]}]}\n",
			i, host, strings.Join(paths, ", "))
		chains["inbound-vip|80|http|"+host] = seed
	}
	path := filepath.Join(t.TempDir(), "wide.yaml")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	snap, _, err := simulator.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	return wideCase{in: reach.Input{Snapshot: snap, ServiceAccounts: reach.ServiceAccountsOf(snap)}, chains: chains}
}

// BenchmarkCheckSeed is one check of the seed: 16 requests.
func BenchmarkCheckSeed(b *testing.B) {
	in, chains := seedInput(b), seedChains(b, nil)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := verify.Check(context.Background(), in, chains, verify.Options{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCheckWide is the adversarial shape, as the operator runs it
// (ten disagreements described, the rest counted): 200 sources (64 checked),
// 100 destinations, policies naming 40 paths and 3 methods, which the
// request budget (DefaultMaxRequests) bounds.
func BenchmarkCheckWide(b *testing.B) {
	wide := manyDestinations(b, 100, 40)
	b.ReportAllocs()
	var res *verify.Result
	for b.Loop() {
		var err error
		if res, err = verify.Check(context.Background(), wide.in, wide.chains, verify.Options{MaxListed: 10}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(res.Compared), "requests/op")
	b.ReportMetric(float64(res.DisagreementCount), "disagreements/op")
}
