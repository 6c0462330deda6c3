package controllers_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	egressv1alpha1 "github.com/ambient-egress/ambient-egress-operator/apis/egress/v1alpha1"
	"github.com/ambient-egress/ambient-egress-operator/controllers"
	"github.com/ambient-egress/ambient-egress-operator/controllers/internal/testenv"
)

// TestSpecFuzz applies random EgressGateway specs, valid and not, to the API
// server with the manager running. Each one is either refused by the API
// server or reaches a status in which Ready is honest (True exactly when
// every expected condition is True for this generation) and every False
// condition names its reason and cause; then each is deleted and must be gone
// within 10 s. SPEC_FUZZ_SEED and SPEC_FUZZ_N replay or widen a run; the seed
// is printed.
func TestSpecFuzz(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("SPEC_FUZZ_SEED"); s != "" {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("SPEC_FUZZ_SEED: %v", err)
		}
		seed = v
	}
	n := 200
	if s := os.Getenv("SPEC_FUZZ_N"); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil {
			t.Fatalf("SPEC_FUZZ_N: %v", err)
		}
		n = v
	}
	t.Logf("spec fuzz: seed %d, %d specs (replay with SPEC_FUZZ_SEED=%d)", seed, n, seed)
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	ensureClusterDNS(t) // for the specs that lock their namespace's peers down
	const batch = 20
	var refused, admitted int
	for start := 0; start < n; start += batch {
		// A namespace per batch: gateways of one batch meet each other
		// (shared waypoint names, enrollment conflicts), as in a real
		// namespace, but not those of the other batches.
		ns := env.CreateNamespace(t, "fuzz", nil).Name
		op := startOperator(t, ns, controllers.Options{RetryFailedAfter: time.Hour})
		var created []*unstructured.Unstructured
		for i := start; i < min(start+batch, n); i++ {
			u := &unstructured.Unstructured{Object: map[string]any{
				"apiVersion": egressv1alpha1.GroupVersion.String(), "kind": "EgressGateway",
				"metadata": map[string]any{"namespace": ns, "name": fmt.Sprintf("g%d", i)},
				"spec":     randomSpec(rng),
			}}
			err := env.Client.Create(context.Background(), u)
			switch {
			case apierrors.IsInvalid(err) || apierrors.IsBadRequest(err):
				refused++
			case err != nil:
				t.Fatalf("spec %d: %v", i, err)
			default:
				admitted++
				created = append(created, u)
			}
		}
		for _, u := range created {
			checkHonestStatus(t, client.ObjectKeyFromObject(u), u.Object["spec"])
		}
		for _, u := range created {
			if err := env.Client.Delete(context.Background(), u); client.IgnoreNotFound(err) != nil {
				t.Fatal(err)
			}
		}
		for _, u := range created {
			key := client.ObjectKeyFromObject(u)
			testenv.Eventually(t, 10*time.Second, fmt.Sprintf("%s gone after delete (spec %v)", key, u.Object["spec"]), func(ctx context.Context) (bool, error) {
				err := env.Client.Get(ctx, key, &egressv1alpha1.EgressGateway{})
				return apierrors.IsNotFound(err), client.IgnoreNotFound(err)
			})
		}
		op.stop(t) // fails the test on a panic
	}
	t.Logf("spec fuzz: %d refused by the API server, %d admitted, reconciled and deleted", refused, admitted)
	if admitted == 0 || refused == 0 {
		t.Errorf("the generator should produce both admitted and refused specs")
	}
}

// checkHonestStatus waits for the gateway's first full report on its
// generation and checks what it says.
func checkHonestStatus(t *testing.T, key client.ObjectKey, spec any) {
	t.Helper()
	var egw *egressv1alpha1.EgressGateway
	testenv.Eventually(t, testenv.DefaultTimeout, fmt.Sprintf("%s reports on its spec %v", key, spec), func(ctx context.Context) (bool, error) {
		egw = &egressv1alpha1.EgressGateway{}
		if err := env.Client.Get(ctx, key, egw); err != nil {
			return false, err
		}
		ready := meta.FindStatusCondition(egw.Status.Conditions, egressv1alpha1.ConditionReady)
		if ready == nil || ready.ObservedGeneration != egw.Generation {
			return false, nil
		}
		// Settled: every phase ran, or one of them says why it stopped.
		if egw.Status.ObservedGeneration == egw.Generation {
			return true, nil
		}
		for _, c := range egw.Status.Conditions {
			if c.Type != egressv1alpha1.ConditionReady && c.Status == metav1.ConditionFalse && c.ObservedGeneration == egw.Generation {
				return true, nil
			}
		}
		return false, nil
	})
	expected := []string{egressv1alpha1.ConditionReleased, egressv1alpha1.ConditionWaypointReady, egressv1alpha1.ConditionEnrolled}
	if !egw.Spec.Simulation.Disabled {
		expected = append(expected, egressv1alpha1.ConditionPoliciesValid, egressv1alpha1.ConditionSimulated)
	}
	if len(egw.Spec.Destinations) > 0 {
		expected = append(expected, egressv1alpha1.ConditionDestinationsReady)
	}
	if egw.Spec.Lockdown.Mode == egressv1alpha1.LockdownEnforce {
		expected = append(expected, egressv1alpha1.ConditionLockedDown)
	}
	allTrue := true
	for _, typ := range expected {
		c := meta.FindStatusCondition(egw.Status.Conditions, typ)
		if c == nil || c.Status != metav1.ConditionTrue || c.ObservedGeneration != egw.Generation {
			allTrue = false
		}
	}
	ready := meta.FindStatusCondition(egw.Status.Conditions, egressv1alpha1.ConditionReady)
	if (ready.Status == metav1.ConditionTrue) != allTrue {
		t.Errorf("%s: Ready=%s but every expected condition True is %v: %+v (spec %v)", key, ready.Status, allTrue, egw.Status.Conditions, spec)
	}
	for _, c := range egw.Status.Conditions {
		if c.Status != metav1.ConditionFalse {
			continue
		}
		// What the operator cannot parse, the API server refuses.
		if c.Reason == egressv1alpha1.ReasonInvalidSelector || c.Reason == egressv1alpha1.ReasonInvalidLockdown {
			t.Errorf("%s: the API server admitted a spec the operator refuses: %s=%s: %s (spec %v)", key, c.Type, c.Reason, c.Message, spec)
		}
		if c.Reason == "" || strings.TrimSpace(c.Message) == "" {
			t.Errorf("%s: condition %s is False without a reason and a cause: %+v (spec %v)", key, c.Type, c, spec)
		}
		if c.Type != egressv1alpha1.ConditionReady && ready.Status == metav1.ConditionFalse && c.ObservedGeneration == egw.Generation &&
			!strings.Contains(ready.Message, c.Type) && slices.Contains(expected, c.Type) {
			t.Errorf("%s: Ready's message %q does not name the False condition %s", key, ready.Message, c.Type)
		}
	}
}

// specGen draws EgressGateway specs. Most draws take values the API server
// admits; a spec drawn "wrong" also takes, now and then, a value the API
// server must refuse.
type specGen struct {
	r     *rand.Rand
	wrong bool
}

func (g *specGen) maybe(p float64) bool { return g.r.Float64() < p }

// pick draws one of ok, or of bad when the spec is wrong (one time in four).
func (g *specGen) pick(ok []any, bad ...any) any {
	if g.wrong && len(bad) > 0 && g.maybe(0.25) {
		return bad[g.r.IntN(len(bad))]
	}
	return ok[g.r.IntN(len(ok))]
}

func randomSpec(r *rand.Rand) map[string]any {
	g := &specGen{r: r, wrong: r.IntN(3) == 0}
	spec := map[string]any{}
	wp := map[string]any{}
	if g.maybe(0.5) {
		wp["name"] = g.pick([]any{"waypoint", "wp", "egress-1", "a"}, "Upper", "-dash", strings.Repeat("a", 64))
	}
	if g.maybe(0.3) {
		wp["trafficType"] = g.pick([]any{"service", "all"}, "bogus", "")
	}
	switch r.IntN(4) {
	case 0:
		wp["replicas"] = g.pick([]any{0, 1, 2, 1000}, 1001, -1)
	case 1:
		maxReplicas := g.pick([]any{1, 3, 1000}, 0, 1001)
		as := map[string]any{"maxReplicas": maxReplicas}
		if g.maybe(0.5) {
			as["minReplicas"] = g.pick([]any{1}, 5, 0)
		}
		if g.maybe(0.3) {
			as["targetCPUUtilizationPercentage"] = g.pick([]any{50, 1000}, 0, 1001)
		}
		wp["autoscaling"] = as
		if g.wrong && g.maybe(0.2) {
			wp["replicas"] = 2
		}
	}
	if g.maybe(0.3) {
		pdb := map[string]any{}
		if g.maybe(0.5) {
			pdb["minAvailable"] = g.pick([]any{1, "50%", 0}, "abc")
		} else {
			pdb["maxUnavailable"] = g.pick([]any{1, "25%"}, "x%")
		}
		if g.wrong && g.maybe(0.2) {
			pdb["maxUnavailable"], pdb["minAvailable"] = 1, 1
		}
		wp["podDisruptionBudget"] = pdb
	}
	if g.maybe(0.2) {
		wp["resources"] = map[string]any{"requests": map[string]any{"cpu": g.pick([]any{"100m", "1"}, "lots")}}
	}
	if g.maybe(0.2) {
		wp["revision"] = g.pick([]any{"default", "canary", "1-31-4"}, "Bad_Rev")
	}
	if g.maybe(0.2) {
		// Values reach the chart as they are: some break its rendering.
		wp["values"] = g.pick([]any{map[string]any{}, map[string]any{"unknown": 1},
			map[string]any{"labels": map[string]any{"team": "a"}}, map[string]any{"labels": "not-a-map"}})
	}
	if len(wp) > 0 {
		spec["waypoint"] = wp
	}
	if g.maybe(0.3) {
		spec["enrollNamespace"] = false
		spec["serviceEntrySelector"] = g.selector()
	} else if g.maybe(0.5) {
		spec["enrollNamespace"] = g.maybe(0.5)
	}
	if g.wrong && g.maybe(0.2) {
		spec["enrollNamespace"], spec["serviceEntrySelector"] = true, g.selector()
	}
	if g.maybe(0.4) {
		var dests []any
		hosts := []any{"api.example.com", "httpbin.org", "*.example.com", "x"}
		r.Shuffle(len(hosts), func(i, j int) { hosts[i], hosts[j] = hosts[j], hosts[i] })
		for i := range r.IntN(3) + 1 {
			var ports []any
			for range r.IntN(2) + 1 {
				p := map[string]any{"number": g.pick([]any{80, 443, 8080, 65535}, 0, 70000),
					"protocol": g.pick([]any{"HTTP", "HTTPS", "TLS", "TCP", "GRPC", "HTTP2"}, "bogus")}
				if g.maybe(0.3) {
					p["name"] = g.pick([]any{"http", "web-1"}, "Bad Name")
				}
				if g.maybe(0.3) {
					p["protocol"] = g.pick([]any{"HTTP"}, "TLS")
					tls := map[string]any{"mode": g.pick([]any{"SIMPLE", "MUTUAL"}, "NONE")}
					if tls["mode"] == "MUTUAL" || g.maybe(0.3) {
						tls["credentialName"] = g.pick([]any{"client-cert"})
					}
					if g.maybe(0.5) {
						tls["targetPort"] = g.pick([]any{443, 8443}, 0, 70000)
					}
					if g.maybe(0.3) {
						tls["sni"] = g.pick([]any{"api.example.com"})
					}
					p["tlsOrigination"] = tls
				}
				ports = append(ports, p)
			}
			dests = append(dests, map[string]any{"host": g.pick([]any{hosts[i]}, "UPPER.example.com", "", "a..b"), "ports": ports})
		}
		spec["destinations"] = dests
	}
	if g.maybe(0.3) {
		ld := map[string]any{"mode": g.pick([]any{"Off", "Audit", "Enforce"}, "enforce", "")}
		if g.maybe(0.5) {
			ld["sources"] = g.selector()
		}
		if g.maybe(0.3) {
			ld["allowInCluster"] = g.maybe(0.5)
		}
		if g.maybe(0.4) {
			ld["allowCIDRs"] = []any{map[string]any{"cidr": g.pick([]any{"192.0.2.0/24", "2001:db8::/32", "10.0.0.1/8"}, "2001:::1/64", "1:2:3/64", "::ffff:192.0.2.0/120", "300.0.0.0/8", "10.0.0.1/33", "not-a-cidr", ""),
				"reason": g.pick([]any{"partner VPN"}, "")}}
		}
		spec["lockdown"] = ld
	}
	sim := map[string]any{}
	if g.maybe(0.4) {
		sim["sources"] = g.selector()
	}
	if g.maybe(0.3) {
		var probes []any
		for range r.IntN(3) + 1 {
			p := map[string]any{"host": g.pick([]any{"httpbin.org", "api.example.com"}, "Bad Host", "")}
			if g.maybe(0.5) {
				p["method"] = g.pick([]any{"GET", "DELETE"}, "post")
			}
			if g.maybe(0.5) {
				p["path"] = g.pick([]any{"/get", "/"}, "nopath")
			}
			if g.maybe(0.3) {
				p["port"] = g.pick([]any{80, 443}, 0, 65536)
			}
			if g.maybe(0.3) {
				// The simulator judges principals: a bad one is a finding.
				p["from"] = g.pick([]any{"cluster.local/ns/a/sa/b", "a/b", "bad//principal"})
			}
			probes = append(probes, p)
		}
		sim["probes"] = probes
	}
	if g.maybe(0.15) {
		sim["disabled"] = true
	}
	if len(sim) > 0 {
		spec["simulation"] = sim
	}
	return spec
}

// selector draws a label selector. Keys, values and operators the
// operator could not parse are all refused by the API server.
func (g *specGen) selector() map[string]any {
	sel := map[string]any{}
	if g.maybe(0.6) {
		sel["matchLabels"] = map[string]any{
			g.pick([]any{"team", "istio.io/dataplane-mode", "x"}, "Bad Key!", "a/b/c", "/x").(string): g.pick([]any{"a", "ambient", ""}, "bad value!", "-a"),
		}
	}
	if g.maybe(0.5) {
		op := g.pick([]any{"In", "NotIn", "Exists", "DoesNotExist"}, "Foo").(string)
		e := map[string]any{"key": g.pick([]any{"team", "env"}, "Bad Key!"), "operator": op}
		if op == "In" || op == "NotIn" || op == "Foo" || (g.wrong && g.maybe(0.3)) {
			e["values"] = []any{g.pick([]any{"a", "b"}, "bad value!")}
		}
		sel["matchExpressions"] = []any{e}
	}
	return sel
}
