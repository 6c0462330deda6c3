package controllers_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	egressv1alpha1 "github.com/ambient-egress/ambient-egress-operator/apis/egress/v1alpha1"
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
		{"GatewayName()", egw.GatewayName(), "waypoint"},
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
func TestEgressGatewayValidation(t *testing.T) {
	ns := env.CreateNamespace(t, "validation", nil).Name
	cases := []struct {
		name    string
		spec    string
		message string // "" means the spec is valid
	}{
		{"replicas and autoscaling", `{waypoint: {replicas: 2, autoscaling: {maxReplicas: 3}}}`,
			"set either waypoint.replicas (a fixed size) or waypoint.autoscaling (a HorizontalPodAutoscaler), not both"},
		{"minReplicas above maxReplicas", `{waypoint: {autoscaling: {minReplicas: 5, maxReplicas: 3}}}`,
			"autoscaling.minReplicas must be less than or equal to autoscaling.maxReplicas"},
		{"minReplicas equal maxReplicas", `{waypoint: {autoscaling: {minReplicas: 3, maxReplicas: 3}}}`, ""},
		{"negative replicas", `{waypoint: {replicas: -1}}`, "should be greater than or equal to 0"},
		{"unknown traffic type", `{waypoint: {trafficType: workload}}`, `supported values: "service", "all"`},
		{"bad waypoint name", `{waypoint: {name: Egress_GW}}`, "waypoint.name must be a DNS label"},
		{"bad revision", `{waypoint: {revision: "1.31"}}`, "waypoint.revision must be a DNS label"},
		{"pdb with both bounds", `{waypoint: {podDisruptionBudget: {minAvailable: 1, maxUnavailable: 1}}}`,
			"podDisruptionBudget needs exactly one of minAvailable or maxUnavailable"},
		{"pdb with no bound", `{waypoint: {podDisruptionBudget: {}}}`,
			"podDisruptionBudget needs exactly one of minAvailable or maxUnavailable"},
		{"pdb percentage", `{waypoint: {podDisruptionBudget: {maxUnavailable: "50%"}}}`, ""},
		{"selector with namespace enrollment", `{serviceEntrySelector: {matchLabels: {egress: "yes"}}}`,
			"serviceEntrySelector binds ServiceEntries one by one: set enrollNamespace: false to use it"},
		{"selector without namespace enrollment", `{enrollNamespace: false, serviceEntrySelector: {matchLabels: {egress: "yes"}}}`, ""},
		{"host with underscore", `{destinations: [{host: my_api.example.com, ports: [{number: 443, protocol: TLS}]}]}`,
			"host must be a lower-case DNS name such as api.example.com, or a wildcard such as *.example.com"},
		{"host with upper case", `{destinations: [{host: API.example.com, ports: [{number: 443, protocol: TLS}]}]}`,
			"host must be a lower-case DNS name"},
		{"host with inner wildcard", `{destinations: [{host: "api.*.example.com", ports: [{number: 443, protocol: TLS}]}]}`,
			"host must be a lower-case DNS name"},
		{"host with empty label", `{destinations: [{host: api..example.com, ports: [{number: 443, protocol: TLS}]}]}`,
			"host must be a lower-case DNS name"},
		{"wildcard host", `{destinations: [{host: "*.example.com", ports: [{number: 443, protocol: TLS}]}]}`, ""},
		{"port zero", `{destinations: [{host: api.example.com, ports: [{number: 0}]}]}`,
			"should be greater than or equal to 1"},
		{"port above 65535", `{destinations: [{host: api.example.com, ports: [{number: 65536}]}]}`,
			"should be less than or equal to 65535"},
		{"target port above 65535", `{destinations: [{host: api.example.com, ports: [{number: 80, tlsOrigination: {mode: SIMPLE, targetPort: 70000}}]}]}`,
			"should be less than or equal to 65535"},
		{"destination without ports", `{destinations: [{host: api.example.com, ports: []}]}`,
			"should have at least 1 items"},
		{"duplicate destination host", `{destinations: [{host: a.example.com, ports: [{number: 80}]}, {host: a.example.com, ports: [{number: 81}]}]}`,
			"Duplicate value"},
		{"tls origination on a TCP port", `{destinations: [{host: db.example.com, ports: [{number: 5432, protocol: TCP, tlsOrigination: {mode: SIMPLE}}]}]}`,
			"tlsOrigination upgrades plain HTTP from the workloads to TLS: set protocol: HTTP on this port"},
		{"mutual TLS without credential", `{destinations: [{host: api.example.com, ports: [{number: 80, tlsOrigination: {mode: MUTUAL}}]}]}`,
			"tlsOrigination.mode MUTUAL needs credentialName"},
		{"lower-case probe method", `{simulation: {probes: [{method: get, path: /get, host: httpbin.org}]}}`,
			"probe method must be an upper-case HTTP method token such as GET or POST"},
		{"relative probe path", `{simulation: {probes: [{method: GET, path: get, host: httpbin.org}]}}`,
			"probe path must start with '/'"},
		{"wildcard probe host", `{simulation: {probes: [{method: GET, path: /, host: "*.httpbin.org"}]}}`,
			"probe host must be a lower-case DNS name"},
		{"probe port above 65535", `{simulation: {probes: [{host: httpbin.org, port: 65536}]}}`,
			"should be less than or equal to 65535"},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			obj := fromYAML(t, fmt.Sprintf(`{apiVersion: egress.ambient.io/v1alpha1, kind: EgressGateway, metadata: {name: case-%d}, spec: %s}`, i, tc.spec))
			obj.SetNamespace(ns)
			err := env.Client.Create(context.Background(), obj)
			switch {
			case tc.message == "" && err != nil:
				t.Fatalf("valid spec rejected: %v", err)
			case tc.message == "":
			case err == nil:
				t.Fatalf("invalid spec accepted, want rejection with %q", tc.message)
			case !strings.Contains(err.Error(), tc.message):
				t.Fatalf("rejected with\n  %v\nwant message containing\n  %q", err, tc.message)
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
			Destinations: 3, Reachable: 5, Findings: egressv1alpha1.FindingCounts{Total: 1, Warnings: 1}}},
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
	if got, want := strings.Fields(lines[0]), []string{"NAME", "READY", "WAYPOINT", "REPLICAS", "DESTINATIONS", "REACHABLE", "FINDINGS", "AGE"}; !equal(got, want) {
		t.Errorf("columns = %v, want %v", got, want)
	}
	if got, want := strings.Fields(lines[1])[:7], []string{"waypoint", "True", "waypoint", "2", "3", "5", "1"}; !equal(got, want) {
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
