package waypoint_test

import (
	"flag"
	"os"
	"path/filepath"
	"testing"

	"sigs.k8s.io/yaml"

	egressv1alpha1 "github.com/ambient-egress/ambient-egress-operator/apis/egress/v1alpha1"
	"github.com/ambient-egress/ambient-egress-operator/controllers/internal/helmrelease"
	"github.com/ambient-egress/ambient-egress-operator/controllers/internal/waypoint"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// TestGolden renders the embedded chart for every testdata/<case>/egressgateway.yaml
// and compares the values and the manifest with values.golden.yaml and
// manifest.golden.yaml.
func TestGolden(t *testing.T) {
	chrt, err := helmrelease.LoadChart(waypoint.Chart(), "1.2.3")
	if err != nil {
		t.Fatal(err)
	}
	cases, err := filepath.Glob("testdata/*/egressgateway.yaml")
	if err != nil || len(cases) == 0 {
		t.Fatalf("no cases: %v", err)
	}
	for _, input := range cases {
		dir := filepath.Dir(input)
		t.Run(filepath.Base(dir), func(t *testing.T) {
			egw := readEgressGateway(t, input)
			values, err := waypoint.Values(egw)
			if err != nil {
				t.Fatal(err)
			}
			valuesYAML, err := yaml.Marshal(values)
			if err != nil {
				t.Fatal(err)
			}
			compareGolden(t, filepath.Join(dir, "values.golden.yaml"), valuesYAML)
			manifest, err := helmrelease.Render(chrt, values, waypoint.ReleaseName(egw), egw.Namespace)
			if err != nil {
				t.Fatal(err)
			}
			compareGolden(t, filepath.Join(dir, "manifest.golden.yaml"), []byte(manifest))
		})
	}
}

// TestValuesDigestIsStable guards the no-churn promise: the same spec must
// always give the same digest, and a changed spec a different one.
func TestValuesDigestIsStable(t *testing.T) {
	egw := readEgressGateway(t, "testdata/autoscaling-pdb/egressgateway.yaml")
	first, _ := waypoint.Values(egw)
	for range 20 {
		again, _ := waypoint.Values(egw)
		if waypoint.Digest(again) != waypoint.Digest(first) {
			t.Fatal("digest changed between two computations of the same spec")
		}
	}
	*egw.Spec.Waypoint.Autoscaling.MinReplicas = 3
	changed, _ := waypoint.Values(egw)
	if waypoint.Digest(changed) == waypoint.Digest(first) {
		t.Fatal("digest did not change with the spec")
	}
}

func TestReleaseName(t *testing.T) {
	for name, want := range map[string]string{
		"waypoint": "egw-waypoint",
		"a.b":      "egw-a-b-2e7336dc",
		"a-very-long-egress-gateway-name-that-goes-past-helms-limit": "egw-a-very-long-egress-gateway-name-that-goe-7a61102d",
	} {
		egw := &egressv1alpha1.EgressGateway{}
		egw.Name = name
		got := waypoint.ReleaseName(egw)
		if got != want || len(got) > 53 {
			t.Errorf("ReleaseName(%q) = %q, want %q", name, got, want)
		}
	}
}

func readEgressGateway(t *testing.T, path string) *egressv1alpha1.EgressGateway {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	egw := &egressv1alpha1.EgressGateway{}
	if err := yaml.UnmarshalStrict(data, egw); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return egw
}

func compareGolden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, got, 0o600); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if string(want) != string(got) {
		t.Errorf("%s differs (run go test -update and review the diff):\n--- want\n%s\n--- got\n%s", path, want, got)
	}
}
