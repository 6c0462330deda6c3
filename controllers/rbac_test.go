package controllers_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	egressv1alpha1 "github.com/ambient-egress/ambient-egress-operator/apis/egress/v1alpha1"
	"github.com/ambient-egress/ambient-egress-operator/controllers"
)

// TestManagerRBACIsSufficient runs the seed scenario's reconcile, from
// install to deletion, with only the permissions config/rbac/role.yaml (and
// so the bundle) grants: the manager impersonates a ServiceAccount bound to
// that ClusterRole and nothing else. A missing rule shows up as a Forbidden
// error and a condition that never turns True. The wildcard test keeps the
// same role small; this one proves it is enough.
func TestManagerRBACIsSufficient(t *testing.T) {
	ns := env.CreateNamespace(t, "rbac", nil).Name
	asManager := asManagerServiceAccount(t, ns)
	startOperatorWith(t, asManager, ns, controllers.Options{})
	// A locked-down source namespace: the lockdown reads the cluster DNS
	// and the API server's endpoints and writes a NetworkPolicy there.
	ensureClusterDNS(t)
	src := env.CreateNamespace(t, "rbac-src", map[string]string{"test.egress.ambient.io/lockdown": ns}).Name

	for _, manifest := range []string{
		`{apiVersion: egress.ambient.io/v1alpha1, kind: EgressGateway, metadata: {name: waypoint}, spec: {enrollNamespace: true,
		  lockdown: {mode: Enforce, sources: {matchLabels: {test.egress.ambient.io/lockdown: ` + ns + `}}}}}`,
		`{apiVersion: networking.istio.io/v1, kind: ServiceEntry, metadata: {name: httpbin.org},
		  spec: {hosts: [httpbin.org], ports: [{number: 80, name: http, protocol: HTTP}], resolution: DNS}}`,
		`{apiVersion: security.istio.io/v1, kind: AuthorizationPolicy, metadata: {name: httpbin},
		  spec: {targetRefs: [{kind: ServiceEntry, group: networking.istio.io, name: httpbin.org}], action: ALLOW,
		         rules: [{from: [{source: {principals: ["cluster.local/ns/default/sa/admin"]}}]}, {to: [{operation: {methods: [GET], paths: [/get]}}]}]}}`,
	} {
		obj := fromYAML(t, manifest)
		obj.SetNamespace(ns)
		create(t, obj)
	}
	key := client.ObjectKey{Namespace: ns, Name: "waypoint"}
	waitForRelease(t, key, 1, "deployed")
	istiod{}.programs(t, ns, "waypoint", 1)
	for _, cond := range []string{egressv1alpha1.ConditionReleased, egressv1alpha1.ConditionEnrolled, egressv1alpha1.ConditionWaypointReady,
		egressv1alpha1.ConditionLockedDown} {
		env.WaitForCondition(t, key, cond, metav1.ConditionTrue)
	}
	if got := namespaceLabels(t, ns)["istio.io/use-waypoint"]; got != "waypoint" {
		t.Errorf("namespace label istio.io/use-waypoint = %q under the manager's RBAC, want waypoint", got)
	}

	if got := lockdownPolicies(t, "egress-lockdown-waypoint", src); len(got) != 1 {
		t.Errorf("no lockdown NetworkPolicy in %s under the manager's RBAC", src)
	}

	deleteAndWait(t, key)
	assertNothingLeft(t, ns)
	if got := lockdownPolicies(t, "egress-lockdown-waypoint", src); len(got) != 0 {
		t.Errorf("the lockdown NetworkPolicy in %s outlived the gateway", src)
	}
}

// asManagerServiceAccount returns a rest.Config that impersonates a
// ServiceAccount of ns bound to the ClusterRole of config/rbac/role.yaml
// (and so of the bundle) and nothing else.
func asManagerServiceAccount(t *testing.T, ns string) *rest.Config {
	t.Helper()
	ctx := context.Background()
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "controller-manager", Namespace: ns}}
	if err := env.Client.Create(ctx, sa); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(env.Root, "config", "rbac", "role.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	role := &rbacv1.ClusterRole{}
	if err := yaml.UnmarshalStrict(data, role); err != nil {
		t.Fatal(err)
	}
	role.Name = ns + "-manager-role" // one per test run: ClusterRoles outlive namespaces
	binding := &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: role.Name},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: role.Name},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: sa.Name, Namespace: ns}},
	}
	for _, obj := range []client.Object{role, binding} {
		if err := env.Client.Create(ctx, obj); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = env.Client.Delete(context.Background(), obj) })
	}
	asManager := rest.CopyConfig(env.Config)
	asManager.Impersonate = rest.ImpersonationConfig{UserName: "system:serviceaccount:" + ns + ":" + sa.Name}
	return asManager
}
