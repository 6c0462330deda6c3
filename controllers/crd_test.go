package controllers_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/yaml"

	egressv1alpha1 "github.com/ambient-egress/ambient-egress-operator/apis/egress/v1alpha1"
	"github.com/ambient-egress/ambient-egress-operator/controllers/internal/waypoint"
)

// TestCRDsEstablished checks that our CRD and the upstream Istio and Gateway
// API CRDs the operator relies on are served, and that objects of each kind
// can be created, as in the seed scenario.
func TestCRDsEstablished(t *testing.T) {
	for _, name := range []string{
		"egressgateways.egress.ambient.io",
		"serviceentries.networking.istio.io",
		"destinationrules.networking.istio.io",
		"authorizationpolicies.security.istio.io",
		"gateways.gateway.networking.k8s.io",
		"gatewayclasses.gateway.networking.k8s.io",
	} {
		var crd apiextensionsv1.CustomResourceDefinition
		if err := env.Client.Get(context.Background(), types.NamespacedName{Name: name}, &crd); err != nil {
			t.Errorf("CRD %s: %v", name, err)
			continue
		}
		if !established(&crd) {
			t.Errorf("CRD %s is not Established", name)
		}
	}

	ns := env.CreateNamespace(t, "crds", nil).Name
	for _, manifest := range []string{
		`{apiVersion: networking.istio.io/v1, kind: ServiceEntry, metadata: {name: httpbin.org},
		  spec: {hosts: [httpbin.org], ports: [{number: 80, name: http, protocol: HTTP}], resolution: DNS}}`,
		`{apiVersion: security.istio.io/v1, kind: AuthorizationPolicy, metadata: {name: httpbin},
		  spec: {targetRefs: [{kind: ServiceEntry, group: networking.istio.io, name: httpbin.org}], action: ALLOW,
		         rules: [{to: [{operation: {methods: [GET], paths: [/get]}}]}]}}`,
		`{apiVersion: gateway.networking.k8s.io/v1, kind: Gateway, metadata: {name: waypoint, labels: {istio.io/waypoint-for: service}},
		  spec: {gatewayClassName: istio-waypoint, listeners: [{name: mesh, port: 15008, protocol: HBONE}]}}`,
	} {
		obj := fromYAML(t, manifest)
		obj.SetNamespace(ns)
		create(t, obj)
	}
}

func established(crd *apiextensionsv1.CustomResourceDefinition) bool {
	for _, c := range crd.Status.Conditions {
		if c.Type == apiextensionsv1.Established && c.Status == apiextensionsv1.ConditionTrue {
			return true
		}
	}
	return false
}

// TestEgressGatewayDefaults checks that the API server fills in every
// documented default, so the controller never has to guess.
func TestEgressGatewayDefaults(t *testing.T) {
	ns := env.CreateNamespace(t, "defaults", nil).Name
	obj := fromYAML(t, `
apiVersion: egress.ambient.io/v1alpha1
kind: EgressGateway
metadata: {name: waypoint}
spec:
  waypoint:
    autoscaling: {maxReplicas: 4}
  destinations:
  - host: httpbin.org
    ports:
    - number: 80
      tlsOrigination: {mode: SIMPLE}
  simulation:
    probes:
    - {method: GET, path: /get, host: httpbin.org}
`)
	obj.SetNamespace(ns)
	create(t, obj)

	var egw egressv1alpha1.EgressGateway
	if err := env.Client.Get(context.Background(), types.NamespacedName{Namespace: ns, Name: "waypoint"}, &egw); err != nil {
		t.Fatal(err)
	}
	s := egw.Spec
	checks := []struct {
		field     string
		got, want any
	}{
		{"enrollNamespace", deref(s.EnrollNamespace), true},
		{"waypoint.trafficType", s.Waypoint.TrafficType, egressv1alpha1.TrafficTypeService},
		{"waypoint.autoscaling.minReplicas", deref(s.Waypoint.Autoscaling.MinReplicas), int32(1)},
		{"waypoint.autoscaling.targetCPUUtilizationPercentage", deref(s.Waypoint.Autoscaling.TargetCPUUtilizationPercentage), int32(80)},
		{"destinations[0].ports[0].protocol", s.Destinations[0].Ports[0].Protocol, egressv1alpha1.Protocol("HTTP")},
		{"destinations[0].ports[0].tlsOrigination.targetPort", s.Destinations[0].Ports[0].TLSOrigination.TargetPort, int32(443)},
		{"simulation.sources", fmt.Sprint(s.Simulation.Sources.MatchLabels), "map[istio.io/dataplane-mode:ambient]"},
		{"simulation.probes[0].port", s.Simulation.Probes[0].Port, int32(80)},
		{"waypoint.GatewayName", waypoint.GatewayName(&egw), "waypoint"},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("spec.%s = %v, want default %v", c.field, c.got, c.want)
		}
	}

	// An empty spec is valid too: the seed scenario's CR only sets enrollNamespace.
	empty := fromYAML(t, `{apiVersion: egress.ambient.io/v1alpha1, kind: EgressGateway, metadata: {name: empty}}`)
	empty.SetNamespace(ns)
	create(t, empty)
}

func deref[T any](p *T) any {
	if p == nil {
		return nil
	}
	return *p
}

// TestEgressGatewayValidation checks that each invalid spec is rejected by the
// API server with a message that tells the user what to change.
// validationCase is one EgressGateway spec and the API server's answer.
type validationCase struct {
	Name    string `json:"name"`
	Spec    string `json:"spec"`
	Message string `json:"message"` // "" means the spec is valid
}

// validationCases reads config/crd/testdata/validation-cases.yaml, which
// egressctl's validation is tested against too.
func validationCases(t *testing.T) []validationCase {
	t.Helper()
	data, err := os.ReadFile("../config/crd/testdata/validation-cases.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Cases []validationCase `json:"cases"`
	}
	if err := yaml.UnmarshalStrict(data, &f); err != nil {
		t.Fatal(err)
	}
	return f.Cases
}

func TestEgressGatewayValidation(t *testing.T) {
	ns := env.CreateNamespace(t, "validation", nil).Name
	cases := validationCases(t)
	for i, tc := range cases {
		t.Run(tc.Name, func(t *testing.T) {
			obj := fromYAML(t, fmt.Sprintf(`{apiVersion: egress.ambient.io/v1alpha1, kind: EgressGateway, metadata: {name: case-%d}, spec: %s}`, i, tc.Spec))
			obj.SetNamespace(ns)
			err := env.Client.Create(context.Background(), obj)
			switch {
			case tc.Message == "" && err != nil:
				t.Fatalf("valid spec rejected: %v", err)
			case tc.Message == "":
			case err == nil:
				t.Fatalf("invalid spec accepted, want rejection with %q", tc.Message)
			case !strings.Contains(err.Error(), tc.Message):
				t.Fatalf("rejected with\n  %v\nwant message containing\n  %q", err, tc.Message)
			}
		})
	}
}

// TestKubectlShowsColumnsAndDocs checks what a user sees with kubectl: the
// printer columns of `kubectl get egw` and the field docs of `kubectl explain`.
func TestKubectlShowsColumnsAndDocs(t *testing.T) {
	ns := env.CreateNamespace(t, "kubectl", nil).Name
	obj := fromYAML(t, `{apiVersion: egress.ambient.io/v1alpha1, kind: EgressGateway, metadata: {name: waypoint}}`)
	obj.SetNamespace(ns)
	create(t, obj)

	// Play the operator: write a status the columns read from.
	var egw egressv1alpha1.EgressGateway
	key := types.NamespacedName{Namespace: ns, Name: "waypoint"}
	if err := env.Client.Get(context.Background(), key, &egw); err != nil {
		t.Fatal(err)
	}
	egw.Status = egressv1alpha1.EgressGatewayStatus{
		Conditions: []metav1.Condition{{Type: egressv1alpha1.ConditionReady, Status: metav1.ConditionTrue,
			Reason: egressv1alpha1.ReasonAsExpected, LastTransitionTime: metav1.Now()}},
		Waypoint: &egressv1alpha1.WaypointStatus{GatewayName: "waypoint", Replicas: 2, ReadyReplicas: 2},
		Simulation: &egressv1alpha1.SimulationStatus{Summary: egressv1alpha1.SimulationSummary{
			Destinations: 3, Reachable: 5, DirectEgress: 4, Findings: egressv1alpha1.FindingCounts{Total: 1, Warnings: 1}}},
	}
	if err := env.Client.Status().Update(context.Background(), &egw); err != nil {
		t.Fatal(err)
	}

	out, err := env.Kubectl(t, "get", "egw", "-n", ns)
	if err != nil {
		t.Fatalf("kubectl get egw: %v\n%s", err, out)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 {
		t.Fatalf("kubectl get egw printed %d lines, want header and one row:\n%s", len(lines), out)
	}
	if got, want := strings.Fields(lines[0]), []string{"NAME", "READY", "WAYPOINT", "REPLICAS", "DESTINATIONS", "REACHABLE", "DIRECT", "FINDINGS", "AGE"}; !equal(got, want) {
		t.Errorf("columns = %v, want %v", got, want)
	}
	if got, want := strings.Fields(lines[1])[:8], []string{"waypoint", "True", "waypoint", "2", "3", "5", "4", "1"}; !equal(got, want) {
		t.Errorf("row = %v, want %v", got, want)
	}

	out, err = env.Kubectl(t, "explain", "egressgateway.spec.waypoint")
	if err != nil {
		t.Fatalf("kubectl explain: %v\n%s", err, out)
	}
	for _, want := range []string{"Waypoint configures the waypoint proxy", "autoscaling", "Name of the waypoint Gateway", "trafficType"} {
		if !strings.Contains(out, want) {
			t.Errorf("kubectl explain egressgateway.spec.waypoint lacks %q:\n%s", want, out)
		}
	}
}

func equal(a, b []string) bool {
	return strings.Join(a, " ") == strings.Join(b, " ")
}
