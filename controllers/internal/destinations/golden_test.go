package destinations_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	egressv1alpha1 "github.com/ambient-egress/ambient-egress-operator/apis/egress/v1alpha1"
	"github.com/ambient-egress/ambient-egress-operator/controllers/internal/destinations"
	"github.com/ambient-egress/ambient-egress-operator/simulator"
	"github.com/ambient-egress/ambient-egress-operator/simulator/lockdown"
)

// seedTLSGateway is the seed's EgressGateway declaring the seed's TLS
// variant itself: httpbin.org port 80, HTTP, TLS originated to 443.
func seedTLSGateway() *egressv1alpha1.EgressGateway {
	return &egressv1alpha1.EgressGateway{
		TypeMeta:   metav1.TypeMeta{APIVersion: egressv1alpha1.GroupVersion.String(), Kind: "EgressGateway"},
		ObjectMeta: metav1.ObjectMeta{Name: "waypoint", Namespace: "istio-egress"},
		Spec: egressv1alpha1.EgressGatewaySpec{
			EnrollNamespace: new(true),
			Destinations: []egressv1alpha1.Destination{{
				Host: "httpbin.org",
				Ports: []egressv1alpha1.DestinationPort{{
					Number: 80, Name: "http", Protocol: "HTTP",
					TLSOrigination: &egressv1alpha1.TLSOrigination{Mode: egressv1alpha1.TLSModeSimple, TargetPort: 443},
				}},
			}},
		},
	}
}

// TestGoldenSeedTLS renders the seed's TLS variant from spec.destinations
// and compares it, field by field, with the seed's own files (testdata/,
// copied from the shared seed-tls scenario). The label the operator adds is
// the only difference, and it is checked separately.
func TestGoldenSeedTLS(t *testing.T) {
	r := destinations.Render(seedTLSGateway(), simulator.Istio{})
	if len(r.Problems) != 0 || len(r.Hosts) != 1 || r.Hosts[0].DestinationRule == nil {
		t.Fatalf("rendered %+v", r)
	}
	h := r.Hosts[0]
	for _, tc := range []struct {
		golden string
		obj    any
		labels map[string]string
	}{
		{"20-serviceentry.yaml", h.ServiceEntry, h.ServiceEntry.Labels},
		{"40-destinationrule.yaml", h.DestinationRule, h.DestinationRule.Labels},
	} {
		t.Run(tc.golden, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join("testdata", tc.golden))
			if err != nil {
				t.Fatal(err)
			}
			var want map[string]any
			if err := yaml.Unmarshal(data, &want); err != nil {
				t.Fatal(err)
			}
			got := asMap(t, tc.obj)
			if !reflect.DeepEqual(got, want) {
				g, _ := yaml.Marshal(got)
				t.Errorf("rendered:\n%s\nwant (%s):\n%s", g, tc.golden, data)
			}
			if len(tc.labels) != 1 || tc.labels[lockdown.LabelGateway] != "waypoint" {
				t.Errorf("labels %v, want only %s=waypoint", tc.labels, lockdown.LabelGateway)
			}
		})
	}
}

// asMap is obj as its JSON would be applied, without the labels the golden
// leaves out and the empty fields a typed object always encodes.
func asMap(t *testing.T, obj any) map[string]any {
	t.Helper()
	data, err := json.Marshal(obj)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	if meta, ok := m["metadata"].(map[string]any); ok {
		delete(meta, "labels")
		if meta["creationTimestamp"] == nil {
			delete(meta, "creationTimestamp")
		}
	}
	if s, ok := m["status"].(map[string]any); ok && len(s) == 0 {
		delete(m, "status")
	}
	return m
}

// TestGoldenOneObjectSeed renders the access rules of the one-object seed
// (config/samples/seed-one-object) and compares the policy with its golden.
func TestGoldenOneObjectSeed(t *testing.T) {
	data, err := os.ReadFile("../../../config/samples/seed-one-object/10-egressgateway.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var egw egressv1alpha1.EgressGateway
	if err := yaml.UnmarshalStrict(data, &egw); err != nil {
		t.Fatal(err)
	}
	r := destinations.Render(&egw, simulator.Istio{})
	if len(r.Problems) != 0 || len(r.Hosts) != 1 || len(r.Hosts[0].Policies) != 1 {
		t.Fatalf("rendered %+v", r)
	}
	golden, err := os.ReadFile("testdata/60-authorizationpolicy-access.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var want map[string]any
	if err := yaml.Unmarshal(golden, &want); err != nil {
		t.Fatal(err)
	}
	if got := asMap(t, r.Hosts[0].Policies[0]); !reflect.DeepEqual(got, want) {
		g, _ := yaml.Marshal(got)
		t.Errorf("rendered:\n%s\nwant:\n%s", g, golden)
	}
}
