//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	egressv1alpha1 "github.com/ambient-egress/ambient-egress-operator/apis/egress/v1alpha1"
	"github.com/ambient-egress/ambient-egress-operator/controllers/internal/testenv"
	"github.com/ambient-egress/ambient-egress-operator/simulator"
	"github.com/ambient-egress/ambient-egress-operator/simulator/envoyrbac"
)

// policyShape is one AuthorizationPolicy (or several) for one ServiceEntry
// of the fidelity test, as the spec fields after targetRefs.
type policyShape struct {
	name     string
	policies []string
}

// policyShapes cover what AuthorizationPolicies can say at a waypoint:
// sources by principal, service account and namespace (with the wildcards
// Istio accepts, and not* fields), methods, paths (exact, prefix, suffix,
// templates), hosts, ports, when conditions on headers and SNI, source and
// remote addresses, rules that only L7 can see on a TLS port, each action
// (ALLOW, DENY, AUDIT, CUSTOM with a provider the mesh does not define),
// dry-run, and the empty and match-all forms.
var policyShapes = []policyShape{
	{"principal", []string{`rules: [{from: [{source: {principals: [cluster.local/ns/apps/sa/admin]}}]}]`}},
	{"principal-prefix", []string{`rules: [{from: [{source: {principals: ["cluster.local/ns/apps/*"]}}]}]`}},
	{"principal-suffix", []string{`rules: [{from: [{source: {principals: ["*/sa/web"]}}]}]`}},
	{"principal-any", []string{`rules: [{from: [{source: {principals: ["*"]}}]}]`}},
	{"service-account", []string{`rules: [{from: [{source: {serviceAccounts: [apps/admin]}}]}]`}},
	{"namespace", []string{`rules: [{from: [{source: {namespaces: [apps]}}]}]`}},
	{"namespace-suffix", []string{`rules: [{from: [{source: {namespaces: ["*her"]}}]}]`}},
	{"not-principal", []string{`rules: [{from: [{source: {notPrincipals: [cluster.local/ns/apps/sa/admin]}}]}]`}},
	{"not-namespace", []string{`rules: [{from: [{source: {notNamespaces: [apps]}}]}]`}},
	{"method", []string{`rules: [{to: [{operation: {methods: [GET]}}]}]`}},
	{"not-method", []string{`rules: [{to: [{operation: {notMethods: [POST]}}]}]`}},
	{"path-exact", []string{`rules: [{to: [{operation: {paths: [/get]}}]}]`}},
	{"path-prefix", []string{`rules: [{to: [{operation: {paths: ["/status/*"]}}]}]`}},
	{"path-suffix", []string{`rules: [{to: [{operation: {paths: ["*.json"]}}]}]`}},
	{"path-template-one", []string{`rules: [{to: [{operation: {paths: ["/api/{*}/items"]}}]}]`}},
	{"path-template-many", []string{`rules: [{to: [{operation: {paths: ["/files/{**}"]}}]}]`}},
	{"not-path", []string{`rules: [{to: [{operation: {notPaths: ["/admin/*"]}}]}]`}},
	{"host", []string{`rules: [{to: [{operation: {hosts: [HOST]}}]}]`}},
	{"host-wildcard", []string{`rules: [{to: [{operation: {hosts: ["*.example"]}}]}]`}},
	{"port", []string{`rules: [{to: [{operation: {ports: ["443"]}}]}]`}},
	{"not-port", []string{`rules: [{to: [{operation: {notPorts: ["443"]}}]}]`}},
	{"header", []string{`rules: [{when: [{key: "request.headers[x-team]", values: [blue]}]}]`}},
	{"header-not", []string{`rules: [{when: [{key: "request.headers[x-team]", notValues: [red]}]}]`}},
	{"ip-block", []string{`rules: [{from: [{source: {ipBlocks: [10.1.0.0/16]}}]}]`}},
	{"not-ip-block", []string{`rules: [{from: [{source: {notIpBlocks: [10.1.2.0/24]}}]}]`}},
	{"remote-ip", []string{`rules: [{from: [{source: {remoteIpBlocks: [10.1.2.0/24]}}]}]`}},
	{"sni", []string{`rules: [{when: [{key: connection.sni, values: ["*.example"]}]}]`}},
	{"deny-method", []string{`action: DENY
  rules: [{to: [{operation: {methods: [DELETE]}}]}]`}},
	{"deny-namespace", []string{`action: DENY
  rules: [{from: [{source: {namespaces: [other]}}]}]`}},
	{"deny-and-allow", []string{`action: DENY
  rules: [{to: [{operation: {paths: ["/admin/*"]}}]}]`, `rules: [{from: [{source: {principals: ["cluster.local/ns/apps/*"]}}]}]`}},
	{"audit", []string{`action: AUDIT
  rules: [{to: [{operation: {methods: [GET]}}]}]`}},
	{"dry-run", []string{`# dry-run
  rules: [{from: [{source: {principals: [cluster.local/ns/apps/sa/admin]}}]}]`}},
	{"custom-unknown-provider", []string{`action: CUSTOM
  provider: {name: not-in-the-mesh}
  rules: [{to: [{operation: {methods: [POST]}}]}]`}},
	{"no-rules", []string{`rules: []`}},
	{"match-all", []string{`rules: [{}]`}},
	{"deny-all", []string{`action: DENY
  rules: [{}]`}},
	{"and", []string{`rules: [{from: [{source: {principals: [cluster.local/ns/apps/sa/admin]}}], to: [{operation: {methods: [GET]}}]}]`}},
	{"or", []string{`rules: [{from: [{source: {namespaces: [other]}}]}, {to: [{operation: {methods: [DELETE]}}]}]`}},
	{"l7-on-tls", []string{`rules: [{to: [{operation: {paths: [/get]}}]}]`}},
	{"deny-l7-on-tls", []string{`action: DENY
  rules: [{from: [{source: {namespaces: [other]}}], to: [{operation: {methods: [POST]}}]}]`}},
}

// fidelityRequest is one request of the fidelity test.
type fidelityRequest struct {
	principal string // "" is a plaintext caller
	sourceIP  string
	port      int
	method    string // "" is a TLS connection on port 443
	path      string
	host      string // "" is the ServiceEntry's host
	sni       string
	headers   map[string]string
}

func fidelityRequests() []fidelityRequest {
	var out []fidelityRequest
	callers := []string{"cluster.local/ns/apps/sa/admin", "cluster.local/ns/apps/sa/web", "cluster.local/ns/other/sa/job", ""}
	http := []fidelityRequest{
		{method: "GET", path: "/get"},
		{method: "POST", path: "/get"},
		{method: "GET", path: "/status/200"},
		{method: "GET", path: "/admin/users"},
		{method: "DELETE", path: "/files/a/b"},
		{method: "GET", path: "/files/"},
		{method: "GET", path: "/api/v1/items"},
		{method: "GET", path: "/api/v1/x/items"},
		{method: "GET", path: "/data.json?page=2"},
		{method: "GET", path: "/get", headers: map[string]string{"x-team": "blue"}},
		{method: "GET", path: "/get", headers: map[string]string{"x-team": "red"}},
		{method: "GET", path: "/get", host: "UPPER"},
		{method: "GET", path: "/get", host: "PORT"},
		{method: "GET", path: "/get", sourceIP: "10.1.2.5"},
		{method: "GET", path: "/get", sourceIP: "192.0.2.7"},
	}
	tls := []fidelityRequest{{sni: "SE"}, {sni: "other.test"}}
	for _, from := range callers {
		for _, r := range http {
			r.principal, r.port = from, 80
			out = append(out, r)
		}
		for _, r := range tls {
			r.principal, r.port = from, 443
			out = append(out, r)
		}
	}
	return out
}

// TestRBACFidelity is the report's ground truth for verdicts: for every
// policy shape, it asks the real istiod, as the waypoint, for the RBAC
// filters it generates for the shape's ServiceEntry, evaluates every
// request of the set with them (package envoyrbac, Envoy's semantics) and
// with the simulator, and fails on any disagreement.
func TestRBACFidelity(t *testing.T) {
	ns := newNamespace(t, "fidelity", nil)
	var b strings.Builder
	b.WriteString(`{apiVersion: egress.ambient.io/v1alpha1, kind: EgressGateway, metadata: {name: waypoint}}`)
	for i, s := range policyShapes {
		host := fmt.Sprintf("s%d.example", i)
		fmt.Fprintf(&b, "\n---\n{apiVersion: networking.istio.io/v1, kind: ServiceEntry, metadata: {name: s%d},"+
			" spec: {hosts: [%s], ports: [{number: 80, name: http, protocol: HTTP}, {number: 443, name: tls, protocol: TLS}], resolution: DNS}}", i, host)
		for j, p := range s.policies {
			annotations := ""
			if strings.HasPrefix(p, "# dry-run") {
				annotations = `, annotations: {istio.io/dry-run: "true"}`
			}
			fmt.Fprintf(&b, "\n---\napiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: s%d-%d%s}\nspec:\n"+
				"  targetRefs: [{kind: ServiceEntry, group: networking.istio.io, name: s%d}]\n  %s\n",
				i, j, annotations, i, strings.ReplaceAll(p, "HOST", host))
		}
	}
	manifests := b.String()
	apply(t, ns, manifests)
	waitForCondition(t, ns, "waypoint", egressv1alpha1.ConditionWaypointReady, metav1.ConditionTrue)
	for i, s := range policyShapes {
		waitForIstioCondition(t, serviceEntryGVK, ns, fmt.Sprintf("s%d", i), "istio.io/WaypointBound", metav1.ConditionTrue)
		for j := range s.policies {
			// istiod writes WaypointAccepted, or for a dry-run policy only
			// ZtunnelAccepted (dry-run is off for ambient by default).
			testenv.Eventually(t, timeout, fmt.Sprintf("istiod's word on s%d-%d", i, j), func(ctx context.Context) (bool, error) {
				name := fmt.Sprintf("s%d-%d", i, j)
				cond, err := istioCondition(ctx, policyGVK, ns, name, "WaypointAccepted")
				if cond != nil || err != nil {
					return cond != nil, err
				}
				cond, err = istioCondition(ctx, policyGVK, ns, name, "ZtunnelAccepted")
				return cond != nil, err
			})
		}
	}

	// The simulator, given the same objects and the mesh istiod runs with
	// (Istio's default extension providers only).
	input := "apiVersion: v1\nkind: Namespace\nmetadata: {name: " + ns + "}\n---\n" + withNamespace(manifests, ns)
	snap, issues, err := simulator.Parse("fidelity.yaml", []byte(input))
	if err != nil || issues.HasErrors() {
		t.Fatalf("the simulator refuses the inputs: %v %v", err, issues)
	}
	prog, _ := simulator.Compile(snap, simulator.Options{ExtensionProviders: []string{"prometheus", "stackdriver", "envoy"}, ExtensionProvidersKnown: true})

	// The chains are read as egressctl verify reads a config dump.
	var chains envoyrbac.Chains
	testenv.Eventually(t, timeout, "istiod's waypoint chains for every ServiceEntry", func(context.Context) (bool, error) {
		var err error
		if chains, err = envoyrbac.ParseConfigDump(configDump(t, waypointListeners(t, ns, "waypoint"))); err != nil {
			return false, err
		}
		for i := range policyShapes {
			for _, port := range []int{80, 443} {
				if _, _, ok := chains.Find(port, fmt.Sprintf("s%d.example", i)); !ok {
					return false, fmt.Errorf("no chain for s%d.example:%d", i, port)
				}
			}
		}
		return true, nil
	})

	compared, allowed := 0, map[string]int{}
	var disagreements []string
	for i, s := range policyShapes {
		host := fmt.Sprintf("s%d.example", i)
		for _, fr := range fidelityRequests() {
			sim, env := fr.build(host)
			_, filters, _ := chains.Find(fr.port, host)
			want, err := envoyrbac.Evaluate(filters, env)
			if err != nil {
				t.Fatalf("%s: evaluating istiod's RBAC: %v", s.name, err)
			}
			got, err := prog.Eval(sim)
			if err != nil {
				t.Fatalf("%s: the simulator: %v", s.name, err)
			}
			compared++
			if want.Allowed {
				allowed[s.name]++
			}
			if (got.Verdict == simulator.Allow) != want.Allowed {
				disagreements = append(disagreements, fmt.Sprintf("%s %s: simulator %s (%s), istiod's RBAC allowed=%t (%s %s)",
					s.name, fr, got.Verdict, got.Reason, want.Allowed, want.Filter, want.Policy))
			}
		}
	}
	t.Logf("compared %d requests over %d policy shapes with istiod's own RBAC; allowed per shape: %v", compared, len(policyShapes), allowed)
	// The comparison means something only if istiod's RBAC decides: every
	// shape but the match-all ones denies some requests, and all but the
	// deny-all one allows some.
	for _, s := range policyShapes {
		n := allowed[s.name]
		switch s.name {
		case "match-all", "audit", "dry-run":
			if n != len(fidelityRequests()) {
				t.Errorf("%s: istiod's RBAC allowed %d of %d requests, want all", s.name, n, len(fidelityRequests()))
			}
		case "deny-all", "no-rules":
			if n != 0 {
				t.Errorf("%s: istiod's RBAC allowed %d requests, want none", s.name, n)
			}
		default:
			if n == 0 || n == len(fidelityRequests()) {
				t.Errorf("%s: istiod's RBAC allowed %d of %d requests: the shape decides nothing here", s.name, n, len(fidelityRequests()))
			}
		}
	}
	if len(disagreements) > 0 {
		t.Errorf("%d disagreements:\n%s", len(disagreements), strings.Join(disagreements, "\n"))
	}
}

func (fr fidelityRequest) String() string {
	from := fr.principal
	if from == "" {
		from = "plaintext"
	}
	if fr.method == "" {
		return fmt.Sprintf("TLS :%d sni=%s from %s", fr.port, fr.sni, from)
	}
	return fmt.Sprintf("%s %s host=%s headers=%v ip=%s from %s", fr.method, fr.path, fr.host, fr.headers, fr.sourceIP, from)
}

// build makes the simulator's request and what Envoy sees of it at the
// waypoint: the caller's identity as the filter state istio's HBONE
// termination sets, the headers as HTTP/2 pseudo-headers.
func (fr fidelityRequest) build(host string) (*simulator.Request, *envoyrbac.Request) {
	ip := netip.MustParseAddr("10.1.1.1")
	if fr.sourceIP != "" {
		ip = netip.MustParseAddr(fr.sourceIP)
	}
	authority := host
	switch fr.host {
	case "UPPER":
		authority = strings.ToUpper(host)
	case "PORT":
		authority = host + ":80"
	}
	sim := &simulator.Request{Principal: fr.principal, SourceIP: ip, Port: fr.port, DestHost: host, At: simulator.EnforceWaypoint}
	env := &envoyrbac.Request{FilterState: map[string]string{}, DirectRemoteIP: ip, RemoteIP: ip, DestinationPort: uint32(fr.port)}
	if fr.principal != "" {
		env.FilterState["io.istio.peer_principal"] = "spiffe://" + fr.principal
	}
	if fr.method == "" {
		sni := fr.sni
		if sni == "SE" {
			sni = host
		}
		sim.SNI, env.SNI = sni, sni
		return sim, env
	}
	sim.HTTP, sim.Method, sim.Path, sim.Host = true, fr.method, fr.path, authority
	env.HTTP = true
	env.Headers = map[string][]string{":method": {fr.method}, ":path": {fr.path}, ":authority": {authority}}
	if len(fr.headers) > 0 {
		sim.Headers = map[string]string{}
	}
	for k, v := range fr.headers {
		sim.Headers[k] = v
		env.Headers[k] = []string{v}
	}
	return sim, env
}

// withNamespace puts every document of manifests without a namespace in ns.
func withNamespace(manifests, ns string) string {
	docs := strings.Split(manifests, "\n---\n")
	for i, d := range docs {
		if strings.Contains(d, "metadata: {name: ") && !strings.Contains(d, "namespace:") {
			docs[i] = strings.Replace(d, "metadata: {name: ", "metadata: {namespace: "+ns+", name: ", 1)
		}
	}
	return strings.Join(docs, "\n---\n")
}
