//go:build e2e

package e2e

import (
	"context"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	egressv1alpha1 "github.com/ambient-egress/ambient-egress-operator/apis/egress/v1alpha1"
	"github.com/ambient-egress/ambient-egress-operator/controllers/internal/testenv"
)

// TestDeclaredDestination declares httpbin.org with TLS origination in the
// EgressGateway alone: the operator writes the ServiceEntry and
// DestinationRule, the real istiod binds that ServiceEntry to the waypoint
// (WaypointBound=True, which it only writes for a ServiceEntry it accepts),
// and the status shows both the TLS origination and istiod's verdict.
func TestDeclaredDestination(t *testing.T) {
	ns := newNamespace(t, "declared", nil)
	apply(t, ns, `{apiVersion: egress.ambient.io/v1alpha1, kind: EgressGateway, metadata: {name: egress},
  spec: {destinations: [{host: httpbin.org, ports: [{number: 80, name: http, protocol: HTTP, tlsOrigination: {mode: SIMPLE, targetPort: 443}}]}]}}`)
	waitForCondition(t, ns, "egress", egressv1alpha1.ConditionDestinationsReady, metav1.ConditionTrue)
	waitForCondition(t, ns, "egress", egressv1alpha1.ConditionWaypointReady, metav1.ConditionTrue)
	waitForIstioCondition(t, serviceEntryGVK, ns, "httpbin.org", "istio.io/WaypointBound", metav1.ConditionTrue)
	testenv.Eventually(t, timeout, "status.destinations: TLS to 443, bound by the simulator and by istiod", func(context.Context) (bool, error) {
		ds := egressGateway(t, ns, "egress").Status.Destinations
		if len(ds) != 1 || len(ds[0].Ports) != 1 {
			return false, nil
		}
		d, p := ds[0], ds[0].Ports[0]
		return d.ServiceEntry == ns+"/httpbin.org" && d.BoundToThisGateway && p.TLSOrigination == "SIMPLE" && p.TargetPort == 443 &&
			d.IstioWaypointBound != nil && d.IstioWaypointBound.Status == metav1.ConditionTrue, nil
	})
}

// TestDeclaredAccess declares the seed as one object, access included: the
// operator writes the ALLOW and DENY policies of httpbin.org and the real
// istiod accepts both for the waypoint (WaypointAccepted=True).
func TestDeclaredAccess(t *testing.T) {
	ns := newNamespace(t, "access", nil)
	apply(t, ns, `{apiVersion: egress.ambient.io/v1alpha1, kind: EgressGateway, metadata: {name: waypoint},
  spec: {destinations: [{host: httpbin.org, ports: [{number: 80, name: http, protocol: HTTP}],
    access: [{from: {serviceAccounts: [default/admin]}}, {to: {methods: [GET], paths: [/get]}}],
    deny: [{to: {paths: ["/admin/*"]}}]}]}}`)
	waitForCondition(t, ns, "waypoint", egressv1alpha1.ConditionDestinationsReady, metav1.ConditionTrue)
	waitForCondition(t, ns, "waypoint", egressv1alpha1.ConditionWaypointReady, metav1.ConditionTrue)
	for _, name := range []string{"httpbin.org-access", "httpbin.org-deny"} {
		waitForIstioCondition(t, policyGVK, ns, name, "WaypointAccepted", metav1.ConditionTrue)
	}
}
