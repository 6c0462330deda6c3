//go:build e2e

package e2e

import (
	"context"
	"net/netip"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	egressv1alpha1 "github.com/ambient-egress/ambient-egress-operator/apis/egress/v1alpha1"
	"github.com/ambient-egress/ambient-egress-operator/controllers/internal/testenv"
	"github.com/ambient-egress/ambient-egress-operator/simulator"
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
	waitForVerifiedAgrees(t, ns, "egress")
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
	waitForVerifiedAgrees(t, ns, "waypoint")
}

// TestDeclaredWildcard declares an HTTP and a TLS wildcard destination
// with access rules: istiod binds both DYNAMIC_DNS ServiceEntries to the
// waypoint (WaypointBound=True) and accepts their ALLOW policies and the TLS
// one's SNI guard (WaypointAccepted=True), and the simulator, told what the
// operator was told about istiod, routes both hosts to that waypoint.
func TestDeclaredWildcard(t *testing.T) {
	ns := newNamespace(t, "wildcard", nil)
	manifest := `{apiVersion: egress.ambient.io/v1alpha1, kind: EgressGateway, metadata: {name: waypoint},
  spec: {destinations: [
    {host: "*.googleapis.com", ports: [{number: 80, protocol: HTTP}], access: [{from: {serviceAccounts: [apps/uploader]}, to: {methods: [GET, PUT]}}]},
    {host: "*.tls.example", ports: [{number: 443, protocol: TLS}], access: [{from: {serviceAccounts: [apps/uploader]}}]}]}}`
	apply(t, ns, manifest)
	waitForCondition(t, ns, "waypoint", egressv1alpha1.ConditionDestinationsReady, metav1.ConditionTrue)
	waitForCondition(t, ns, "waypoint", egressv1alpha1.ConditionWaypointReady, metav1.ConditionTrue)
	if st := egressGateway(t, ns, "waypoint").Status.Istio; st == nil || !st.WildcardTLS || !strings.Contains(st.Source, "overridden by --istio-wildcard-tls") {
		t.Errorf("status.istio %+v", st)
	}

	input := "apiVersion: v1\nkind: Namespace\nmetadata: {name: " + ns + "}\n---\n" +
		strings.Replace(manifest, "metadata: {name: waypoint}", "metadata: {name: waypoint, namespace: "+ns+"}", 1)
	snap, issues, err := simulator.LoadSources(simulator.LoadOptions{Istio: simulator.Istio{WildcardTLS: true}},
		[]simulator.Source{{Name: "wildcard.yaml", Data: []byte(input)}})
	if err != nil || issues.HasErrors() {
		t.Fatal(err, issues)
	}
	prog, _ := simulator.Compile(snap, simulator.Options{})
	for _, r := range []*simulator.Request{
		{Principal: "cluster.local/ns/apps/sa/uploader", HTTP: true, Method: "PUT", Host: "storage.googleapis.com", Path: "/b", Port: 80},
		{Principal: "cluster.local/ns/apps/sa/uploader", DestHost: "bucket.tls.example", SNI: "bucket.tls.example", Port: 443},
	} {
		d, err := prog.Eval(r)
		if err != nil || d.EnforcedAt != simulator.EnforceWaypoint || d.Waypoint != ns+"/waypoint" || d.Verdict != simulator.Allow {
			t.Fatalf("the simulator decides %+v for %+v (%v), want ALLOW at waypoint %s/waypoint", d, r, err, ns)
		}
	}
	for _, se := range []string{"wildcard.googleapis.com", "wildcard.tls.example"} {
		waitForIstioCondition(t, serviceEntryGVK, ns, se, "istio.io/WaypointBound", metav1.ConditionTrue)
	}
	for _, ap := range []string{"wildcard.googleapis.com-access", "wildcard.tls.example-access", "wildcard.tls.example-sni"} {
		waitForIstioCondition(t, policyGVK, ns, ap, "WaypointAccepted", metav1.ConditionTrue)
	}
}

// TestDeclaredRange declares a destination by CIDR range: istiod binds its
// ServiceEntry to the waypoint (WaypointBound=True), as the simulator says
// (it routes a connection into the range to that waypoint).
func TestDeclaredRange(t *testing.T) {
	ns := newNamespace(t, "range", nil)
	manifest := `{apiVersion: egress.ambient.io/v1alpha1, kind: EgressGateway, metadata: {name: waypoint},
  spec: {destinations: [{host: partner-db.example, addresses: [203.0.113.0/24], ports: [{number: 5432, protocol: TCP}]}]}}`
	apply(t, ns, manifest)
	waitForCondition(t, ns, "waypoint", egressv1alpha1.ConditionDestinationsReady, metav1.ConditionTrue)
	waitForCondition(t, ns, "waypoint", egressv1alpha1.ConditionWaypointReady, metav1.ConditionTrue)

	input := "apiVersion: v1\nkind: Namespace\nmetadata: {name: " + ns + "}\n---\n" +
		strings.Replace(manifest, "metadata: {name: waypoint}", "metadata: {name: waypoint, namespace: "+ns+"}", 1)
	snap, _, err := simulator.Parse("range.yaml", []byte(input))
	if err != nil {
		t.Fatal(err)
	}
	prog, _ := simulator.Compile(snap, simulator.Options{})
	d, err := prog.Eval(&simulator.Request{Principal: "cluster.local/ns/apps/sa/billing", DestIP: netip.MustParseAddr("203.0.113.9"), Port: 5432, DestHost: "db"})
	if err != nil || d.EnforcedAt != simulator.EnforceWaypoint || d.Waypoint != ns+"/waypoint" {
		t.Fatalf("the simulator routes 203.0.113.9 to %+v (%v), want waypoint %s/waypoint", d, err, ns)
	}
	waitForIstioCondition(t, serviceEntryGVK, ns, "partner-db.example", "istio.io/WaypointBound", metav1.ConditionTrue)
	waitForVerifiedAgrees(t, ns, "waypoint")
}

// waitForVerifiedAgrees waits for the operator's own check of the report
// against the RBAC the real istiod generates for the waypoint
// (--verify-xds-address) to agree on every request, and logs what it
// compared.
func waitForVerifiedAgrees(t *testing.T, ns, name string) {
	t.Helper()
	egw := waitForConditionReason(t, ns, name, egressv1alpha1.ConditionVerified, egressv1alpha1.ReasonAgrees)
	v := egw.Status.Verification
	if v == nil || v.InputsDigest != egw.Status.Simulation.InputsDigest {
		t.Fatalf("status.verification %+v does not check the current report", v)
	}
	t.Logf("the operator's check against istiod: %d requests on %d destination ports agree", v.Compared, v.DestinationPorts)
}
