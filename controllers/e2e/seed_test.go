//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	egressv1alpha1 "github.com/ambient-egress/ambient-egress-operator/apis/egress/v1alpha1"
	"github.com/ambient-egress/ambient-egress-operator/controllers/internal/testenv"
)

// seedManifests is the seed scenario (../shared/scenarios/seed) with the
// caller namespace made unique per test run.
func seedManifests(srcNS string) string {
	return fmt.Sprintf(`
apiVersion: egress.ambient.io/v1alpha1
kind: EgressGateway
metadata: {name: waypoint}
spec: {enrollNamespace: true}
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: httpbin.org}
spec:
  hosts: [httpbin.org]
  ports: [{number: 80, name: http, protocol: HTTP}]
  resolution: DNS
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: httpbin}
spec:
  targetRefs: [{kind: ServiceEntry, group: networking.istio.io, name: httpbin.org}]
  action: ALLOW
  rules:
  - from: [{source: {principals: ["cluster.local/ns/%s/sa/admin"]}}]
  - to: [{operation: {methods: ["GET"], paths: ["/get"]}}]
`, srcNS)
}

// TestSeedScenario follows the seed scenario through the real istiod: the
// EgressGateway becomes a Helm release and a Gateway, istiod creates the
// waypoint Deployment whose Pod runs on a kwok node and programs the Gateway,
// the operator reports WaypointReady, and istiod itself binds the
// ServiceEntry to the waypoint and accepts the policy.
func TestSeedScenario(t *testing.T) {
	src := newNamespace(t, "seed-src", map[string]string{"istio.io/dataplane-mode": "ambient"})
	apply(t, src, `{apiVersion: v1, kind: ServiceAccount, metadata: {name: admin}}`)
	ns := newNamespace(t, "seed-egress", nil)
	apply(t, ns, seedManifests(src))

	cond := waitForCondition(t, ns, "waypoint", egressv1alpha1.ConditionWaypointReady, metav1.ConditionTrue)
	t.Logf("WaypointReady: %s", cond.Message)
	egw := egressGateway(t, ns, "waypoint")
	if w := egw.Status.Waypoint; w == nil || w.GatewayName != "waypoint" || w.ReadyReplicas != 1 {
		t.Errorf("status.waypoint = %+v, want gateway waypoint with 1 ready replica", w)
	}
	waitForReadyReplicas(t, ns, "waypoint", 1)

	var nsObj corev1.Namespace
	if err := c.Get(ctx(), types.NamespacedName{Name: ns}, &nsObj); err != nil {
		t.Fatal(err)
	}
	if got := nsObj.Labels["istio.io/use-waypoint"]; got != "waypoint" {
		t.Errorf("namespace label istio.io/use-waypoint = %q, want waypoint", got)
	}

	// Istio's own verdicts: the ServiceEntry is bound, the policy accepted.
	waitForIstioCondition(t, serviceEntryGVK, ns, "httpbin.org", "istio.io/WaypointBound", metav1.ConditionTrue)
	waitForIstioCondition(t, policyGVK, ns, "httpbin", "WaypointAccepted", metav1.ConditionTrue)

	// The operator's report says what the seed's expected.yaml says.
	waitForCondition(t, ns, "waypoint", egressv1alpha1.ConditionSimulated, metav1.ConditionTrue)
	assertSeedReport(t, egressGateway(t, ns, "waypoint"), src)

	// status.destinations puts istiod's word beside the simulator's: both
	// say httpbin.org is bound to this waypoint.
	testenv.Eventually(t, timeout, "status.destinations with istiod's WaypointBound=True", func(context.Context) (bool, error) {
		ds := egressGateway(t, ns, "waypoint").Status.Destinations
		if len(ds) != 1 {
			return false, nil
		}
		d := ds[0]
		if d.Host != "httpbin.org" || !d.BoundToThisGateway || d.Waypoint != ns+"/waypoint" {
			return false, fmt.Errorf("status.destinations[0] = %+v, want httpbin.org bound to %s/waypoint", d, ns)
		}
		return d.IstioWaypointBound != nil && d.IstioWaypointBound.Status == metav1.ConditionTrue, nil
	})
}

// assertSeedReport checks status.simulation: the admin may send anything to
// httpbin.org:80, everyone else only GET /get, decided by the seed's policy.
func assertSeedReport(t *testing.T, egw *egressv1alpha1.EgressGateway, srcNS string) {
	t.Helper()
	sim := egw.Status.Simulation
	if sim == nil {
		t.Fatal("status.simulation is empty")
	}
	admin := "cluster.local/ns/" + srcNS + "/sa/admin"
	var sawAdmin, sawOthers bool
	for _, e := range sim.Reachability {
		if e.Destination != "httpbin.org:80" {
			continue
		}
		switch {
		case len(e.Sources) == 1 && e.Sources[0] == admin:
			sawAdmin = true
			if e.Access != egressv1alpha1.AccessAll {
				t.Errorf("admin access = %s, want all", e.Access)
			}
		case e.OtherSources:
			sawOthers = true
			if e.Access != egressv1alpha1.AccessPartial || len(e.Allowed) != 1 ||
				fmt.Sprint(e.Allowed[0].Methods, e.Allowed[0].Paths) != "[GET] [/get]" || e.Allowed[0].Policy != egw.Namespace+"/httpbin" {
				t.Errorf("other sources = %s %+v, want partial: exactly GET /get by %s/httpbin", e.Access, e.Allowed, egw.Namespace)
			}
		}
	}
	if !sawAdmin || !sawOthers {
		t.Errorf("status.simulation.reachability lacks the admin or the other-sources entry for httpbin.org:80: %+v", sim.Reachability)
	}
}
