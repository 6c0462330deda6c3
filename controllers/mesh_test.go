package controllers_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	egressv1alpha1 "github.com/ambient-egress/ambient-egress-operator/apis/egress/v1alpha1"
	"github.com/ambient-egress/ambient-egress-operator/controllers"
	"github.com/ambient-egress/ambient-egress-operator/controllers/internal/testenv"
)

// TestMeshConfigDrivesTheReport: the trust domain, its aliases and the root
// namespace come from Istio's mesh config ConfigMap; an edit of it moves the
// report, and one that istiod cannot decode is reported, not trusted.
func TestMeshConfigDrivesTheReport(t *testing.T) {
	ns := env.CreateNamespace(t, "mesh-egress", nil).Name
	ensureMeshConfig(t, ns, "rootNamespace: "+ns+"\ntrustDomain: example.org\n")
	src := env.CreateNamespace(t, "mesh-src", map[string]string{sourcesLabel: ns}).Name
	if err := env.Client.Create(context.Background(), &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: src, Name: "admin"}}); err != nil {
		t.Fatal(err)
	}
	startOperatorIn(t, env.Config, []string{ns, src}, controllers.Options{})
	// The policy names the admin in a trust domain that is the mesh's only
	// once it is an alias: istiod rewrites aliased principals.
	createSeedDestination(t, ns, "old.example/ns/"+src+"/sa/admin")
	egw := newEgressGateway(ns, "waypoint", func(e *egressv1alpha1.EgressGateway) {
		e.Spec.Simulation.Sources = &egressv1alpha1.LabelSelector{MatchLabels: map[string]egressv1alpha1.LabelValue{sourcesLabel: egressv1alpha1.LabelValue(ns)}}
	})
	if err := env.Client.Create(context.Background(), egw); err != nil {
		t.Fatal(err)
	}
	key := client.ObjectKeyFromObject(egw)
	waitForRelease(t, key, 1, "deployed")
	istiod{}.programs(t, ns, "waypoint", 1)
	cmKey := client.ObjectKey{Namespace: ns, Name: "istio"}

	expect := func(t *testing.T, what string, mesh egressv1alpha1.MeshStatus, principal string, access egressv1alpha1.Access) {
		t.Helper()
		testenv.Eventually(t, testenv.DefaultTimeout, what, func(context.Context) (bool, error) {
			e := getEGW(t, key)
			if e.Status.Mesh == nil || !reflect.DeepEqual(*e.Status.Mesh, mesh) || e.Status.Simulation == nil {
				return false, fmt.Errorf("status.mesh %+v", e.Status.Mesh)
			}
			entry := entryFor(e.Status.Simulation, "httpbin.org:80", principal)
			if entry == nil || entry.Access != access {
				return false, fmt.Errorf("entry %+v in %+v", entry, e.Status.Simulation.Reachability)
			}
			return true, nil
		})
	}
	t.Run("trust domain from the ConfigMap", func(t *testing.T) {
		// Without the alias the policy's admin is another mesh's: the
		// admin only has what everyone has, GET /get, so it is one of the
		// other sources.
		expect(t, "the admin among the other sources", egressv1alpha1.MeshStatus{TrustDomain: "example.org", RootNamespace: ns,
			Source: "ConfigMap " + cmKey.String()}, "", egressv1alpha1.AccessPartial)
		if sim := getEGW(t, key).Status.Simulation; len(sim.Reachability) != 1 {
			t.Errorf("want only the other sources' entry, got %+v", sim.Reachability)
		}
	})
	t.Run("an alias added to the ConfigMap", func(t *testing.T) {
		mergePatch(t, "v1", "ConfigMap", cmKey, fmt.Sprintf(`{"data":{"mesh":"rootNamespace: %s\ntrustDomain: example.org\ntrustDomainAliases: [old.example]\n"}}`, ns))
		expect(t, "the admin's policy applies through the alias", egressv1alpha1.MeshStatus{TrustDomain: "example.org",
			TrustDomainAliases: []string{"old.example"}, RootNamespace: ns, Source: "ConfigMap " + cmKey.String()},
			"example.org/ns/"+src+"/sa/admin", egressv1alpha1.AccessAll)
	})
	t.Run("a CUSTOM provider the mesh does not define", func(t *testing.T) {
		// istiod enforces the rules of a CUSTOM policy whose provider is
		// not among extensionProviders as DENY rules: the report says so
		// until the mesh config defines the provider.
		createYAML(t, fmt.Sprintf(`
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: ext-authz, namespace: %s}
spec:
  targetRefs: [{kind: ServiceEntry, group: networking.istio.io, name: httpbin.org}]
  action: CUSTOM
  provider: {name: opa}
  rules: [{to: [{operation: {paths: ["/custom*"]}}]}]
`, ns))
		flagged := func(e *egressv1alpha1.EgressGateway) bool {
			return e.Status.Simulation != nil && slices.ContainsFunc(e.Status.Simulation.Findings, func(f egressv1alpha1.Finding) bool {
				return f.Code == "UnknownCustomProvider" && f.Object == "AuthorizationPolicy "+ns+"/ext-authz"
			})
		}
		testenv.Eventually(t, testenv.DefaultTimeout, "UnknownCustomProvider in status", func(context.Context) (bool, error) {
			return flagged(getEGW(t, key)), nil
		})
		mergePatch(t, "v1", "ConfigMap", cmKey, fmt.Sprintf(`{"data":{"mesh":"rootNamespace: %s\ntrustDomain: example.org\ntrustDomainAliases: [old.example]\nextensionProviders:\n- name: opa\n  envoyExtAuthzGrpc: {service: opa.%s.svc.cluster.local, port: 9191}\n"}}`, ns, ns))
		testenv.Eventually(t, testenv.DefaultTimeout, "the provider in status.mesh and the finding gone", func(context.Context) (bool, error) {
			e := getEGW(t, key)
			return e.Status.Mesh != nil && slices.Equal(e.Status.Mesh.ExtensionProviders, []string{"opa"}) && e.Status.Simulation != nil && !flagged(e), nil
		})
	})
	t.Run("egressctl with the same mesh config gives the same report", func(t *testing.T) {
		sim := getEGW(t, key).Status.Simulation
		cm := &corev1.ConfigMap{}
		if err := env.Client.Get(context.Background(), cmKey, cm); err != nil {
			t.Fatal(err)
		}
		data, err := yaml.Marshal(map[string]any{"apiVersion": "v1", "kind": "ConfigMap",
			"metadata": map[string]any{"name": cm.Name, "namespace": cm.Namespace}, "data": cm.Data})
		if err != nil {
			t.Fatal(err)
		}
		file := filepath.Join(t.TempDir(), "istio.yaml")
		if err := os.WriteFile(file, data, 0o600); err != nil {
			t.Fatal(err)
		}
		cli := egressctlSimulate(t, dumpObjects(t, []string{ns, src}, ns), "--mesh-config", file)
		if want, got := normalizedJSON(t, sim.Reachability), normalizedJSON(t, cli["reachability"]); !reflect.DeepEqual(want, got) {
			t.Errorf("reachability differs:\n operator  %v\n egressctl %v", want, got)
		}
	})
	t.Run("a root namespace the operator does not watch", func(t *testing.T) {
		mergePatch(t, "v1", "ConfigMap", cmKey, `{"data":{"mesh":"rootNamespace: elsewhere\ntrustDomain: example.org\n"}}`)
		c := env.WaitForCondition(t, key, egressv1alpha1.ConditionSimulated, metav1.ConditionFalse)
		if !strings.Contains(c.Message, "root namespace elsewhere") || !strings.Contains(c.Message, "--watch-namespaces") {
			t.Errorf("Simulated message %q does not say why", c.Message)
		}
		if m := getEGW(t, key).Status.Mesh; m == nil || m.RootNamespace != "elsewhere" {
			t.Errorf("status.mesh %+v, want the root namespace read", m)
		}
	})
	t.Run("a ConfigMap istiod cannot decode", func(t *testing.T) {
		mergePatch(t, "v1", "ConfigMap", cmKey, fmt.Sprintf(`{"data":{"mesh":"rootNamespace: %s\ntrustDomainAliases: old.example\n"}}`, ns))
		testenv.Eventually(t, testenv.DefaultTimeout, "status.mesh says the ConfigMap is ignored", func(context.Context) (bool, error) {
			m := getEGW(t, key).Status.Mesh
			return m != nil && m.TrustDomain == "cluster.local" && strings.Contains(m.Source, "does not decode") &&
				strings.Contains(m.Source, cmKey.String()), nil
		})
		waitForEvent(t, ns, "waypoint", egressv1alpha1.ReasonMeshConfigInvalid)
	})
}
