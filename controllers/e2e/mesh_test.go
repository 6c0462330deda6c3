//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/yaml"

	egressv1alpha1 "github.com/ambient-egress/ambient-egress-operator/apis/egress/v1alpha1"
	"github.com/ambient-egress/ambient-egress-operator/controllers/internal/testenv"
)

// TestMeshConfigTrustDomain edits the mesh config the real istiod runs with
// (the istio ConfigMap rendered from Istio's own chart) to a custom trust
// domain with an alias: the operator's status shows them, its sources are in
// the new trust domain, and a policy naming the admin in the alias grants
// the admin everything, as istiod's alias rewriting does. The ConfigMap is
// put back at the end.
func TestMeshConfigTrustDomain(t *testing.T) {
	key := types.NamespacedName{Namespace: "istio-system", Name: "istio"}
	var cm corev1.ConfigMap
	if err := c.Get(ctx(), key, &cm); err != nil {
		t.Fatalf("reading istiod's mesh config: %v", err)
	}
	original := cm.Data["mesh"]
	mesh := map[string]any{}
	if err := yaml.Unmarshal([]byte(original), &mesh); err != nil {
		t.Fatalf("decoding istiod's mesh config: %v", err)
	}
	mesh["trustDomain"] = "example.org"
	mesh["trustDomainAliases"] = []string{"old.example"}
	edited, err := yaml.Marshal(mesh)
	if err != nil {
		t.Fatal(err)
	}
	setMesh := func(data string) error {
		var cur corev1.ConfigMap
		if err := c.Get(context.Background(), key, &cur); err != nil {
			return err
		}
		cur.Data["mesh"] = data
		return c.Update(context.Background(), &cur)
	}
	if err := setMesh(string(edited)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := setMesh(original); err != nil {
			t.Errorf("putting istiod's mesh config back: %v", err)
		}
	})

	src := newNamespace(t, "mesh-src", map[string]string{"istio.io/dataplane-mode": "ambient"})
	apply(t, src, `{apiVersion: v1, kind: ServiceAccount, metadata: {name: admin}}`)
	ns := newNamespace(t, "mesh-egress", nil)
	apply(t, ns, strings.Replace(seedManifests(src), `"cluster.local/ns/`, `"old.example/ns/`, 1))

	admin := "example.org/ns/" + src + "/sa/admin"
	want := egressv1alpha1.MeshStatus{TrustDomain: "example.org", TrustDomainAliases: []string{"old.example"},
		RootNamespace: "istio-system", Source: "ConfigMap istio-system/istio"}
	testenv.Eventually(t, timeout, "status.mesh from istiod's ConfigMap and the admin allowed through the alias", func(context.Context) (bool, error) {
		st := egressGateway(t, ns, "waypoint").Status
		if st.Mesh == nil || !reflect.DeepEqual(*st.Mesh, want) {
			return false, fmt.Errorf("status.mesh = %+v, want %+v", st.Mesh, want)
		}
		if st.Simulation == nil {
			return false, nil
		}
		for _, e := range st.Simulation.Reachability {
			if e.Destination == "httpbin.org:80" && len(e.Sources) == 1 && e.Sources[0] == admin {
				if e.Access != egressv1alpha1.AccessAll {
					return false, fmt.Errorf("admin access %s, want all", e.Access)
				}
				return true, nil
			}
		}
		return false, fmt.Errorf("no entry for %s in %+v", admin, st.Simulation.Reachability)
	})
}
