//go:build olm

package olm

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	operatorsv1 "github.com/operator-framework/api/pkg/operators/v1"
	operatorsv1alpha1 "github.com/operator-framework/api/pkg/operators/v1alpha1"
	operatorsv2 "github.com/operator-framework/api/pkg/operators/v2"
	appsv1 "k8s.io/api/apps/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
	"sigs.k8s.io/yaml"

	egressv1alpha1 "github.com/ambient-egress/ambient-egress-operator/apis/egress/v1alpha1"
	"github.com/ambient-egress/ambient-egress-operator/controllers/internal/upgradeable"
)

const (
	// operatorNamespace is where OLM installs operators for all namespaces,
	// with its global OperatorGroup, as on a cluster installed with OLM's
	// manifests.
	operatorNamespace = "operators"
	// catalogNamespace is OLM's global catalog namespace.
	catalogNamespace = "olm"
	catalogName      = "ambient-egress-catalog"
)

// bundle is what the committed bundle/ says about itself.
type bundle struct {
	pkg, channel string
	csv          *operatorsv1alpha1.ClusterServiceVersion
	manifests    []*unstructured.Unstructured // every file of bundle/manifests
}

func readBundle(t *testing.T) bundle {
	t.Helper()
	b := bundle{}
	annotations := struct {
		Annotations map[string]string `json:"annotations"`
	}{}
	readYAML(t, filepath.Join(root, "bundle", "metadata", "annotations.yaml"), &annotations)
	b.pkg = annotations.Annotations["operators.operatorframework.io.bundle.package.v1"]
	b.channel = annotations.Annotations["operators.operatorframework.io.bundle.channel.default.v1"]
	files, err := filepath.Glob(filepath.Join(root, "bundle", "manifests", "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("bundle/manifests: %v", err)
	}
	for _, f := range files {
		u := &unstructured.Unstructured{}
		readYAML(t, f, &u.Object)
		b.manifests = append(b.manifests, u)
		if u.GetKind() == operatorsv1alpha1.ClusterServiceVersionKind {
			b.csv = &operatorsv1alpha1.ClusterServiceVersion{}
			readYAML(t, f, b.csv)
		}
	}
	if b.pkg == "" || b.channel == "" || b.csv == nil {
		t.Fatal("bundle/ names no package, channel or ClusterServiceVersion")
	}
	return b
}

func readYAML(t *testing.T, path string, into any) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(data, into); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// TestInstallUpgradeUninstall follows a user's whole life with the operator
// through OLM. The steps depend on each other and stop at the first failure.
func TestInstallUpgradeUninstall(t *testing.T) {
	b := readBundle(t)
	first := b.csv.Name
	next := b.pkg + ".v" + envOr("NEXT_VERSION", "0.2.0")
	var manager *managerPod

	steps := []struct {
		name string
		run  func(t *testing.T)
	}{
		{"install through a Subscription", func(t *testing.T) { install(t, b) }},
		{"the RBAC OLM granted is the CSV's", func(t *testing.T) { assertGrantedRBAC(t, b.csv) }},
		{"the manager as OLM's ServiceAccount reconciles the seed", func(t *testing.T) {
			manager = startManagerAs(t, operatorDeployment(t, b.csv, first))
			reconcileSeed(t)
		}},
		{"an upgrade waits while a Helm action is in flight", func(t *testing.T) {
			manager = upgradeWithHold(t, b, first, next, manager)
		}},
		{"uninstall leaves the EgressGateways' waypoints and enrollment", func(t *testing.T) {
			uninstall(t, b, next, manager)
		}},
	}
	for _, s := range steps {
		if !t.Run(s.name, s.run) {
			t.FailNow()
		}
	}
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// install subscribes to the package at bundle/'s version with manual
// approval (as production clusters do, so the upgrade below is the test's
// to time) and follows OLM to a Succeeded CSV.
func install(t *testing.T, b bundle) {
	createOrFail(t, &operatorsv1.OperatorGroup{ObjectMeta: metav1.ObjectMeta{Name: "global-operators", Namespace: operatorNamespace}})
	createOrFail(t, &operatorsv1alpha1.CatalogSource{
		ObjectMeta: metav1.ObjectMeta{Name: catalogName, Namespace: catalogNamespace},
		Spec: operatorsv1alpha1.CatalogSourceSpec{
			SourceType: operatorsv1alpha1.SourceTypeGrpc, Address: envOr("CATALOG_ADDR", "127.0.0.1:50051"),
			DisplayName: "ambient-egress-operator (local)", Publisher: "olm e2e",
		},
	})
	eventually(t, "CatalogSource READY", func(ctx context.Context) (bool, error) {
		cs := &operatorsv1alpha1.CatalogSource{}
		if err := c.Get(ctx, client.ObjectKey{Namespace: catalogNamespace, Name: catalogName}, cs); err != nil {
			return false, err
		}
		s := cs.Status.GRPCConnectionState
		return s != nil && s.LastObservedState == "READY", nil
	})
	createOrFail(t, &operatorsv1alpha1.Subscription{
		ObjectMeta: metav1.ObjectMeta{Name: b.pkg, Namespace: operatorNamespace},
		Spec: &operatorsv1alpha1.SubscriptionSpec{
			CatalogSource: catalogName, CatalogSourceNamespace: catalogNamespace,
			Package: b.pkg, Channel: b.channel, StartingCSV: b.csv.Name,
			InstallPlanApproval: operatorsv1alpha1.ApprovalManual,
		},
	})
	plan := waitForPlan(t, b.pkg, b.csv.Name)
	approve(t, plan)
	plan = waitForPlanPhase(t, plan.Name, operatorsv1alpha1.InstallPlanPhaseComplete)
	assertPlanSteps(t, plan, b)
	waitForCSVPhase(t, b.csv.Name, operatorsv1alpha1.CSVPhaseSucceeded)

	crd := &apiextensionsv1.CustomResourceDefinition{}
	get(t, client.ObjectKey{Name: "egressgateways.egress.ambient.io"}, crd)
	for _, spec := range b.csv.Spec.InstallStrategy.StrategySpec.DeploymentSpecs {
		d := &appsv1.Deployment{}
		get(t, client.ObjectKey{Namespace: operatorNamespace, Name: spec.Name}, d)
		if d.Status.AvailableReplicas < 1 {
			t.Errorf("Deployment %s: %d available replicas", spec.Name, d.Status.AvailableReplicas)
		}
	}
}

// assertPlanSteps checks that the InstallPlan created or found every
// manifest of the bundle, and that no step is left unfinished.
func assertPlanSteps(t *testing.T, plan *operatorsv1alpha1.InstallPlan, b bundle) {
	t.Helper()
	type key struct{ kind, name string }
	done := map[key]bool{}
	for _, s := range plan.Status.Plan {
		t.Logf("step %s %s: %s", s.Resource.Kind, s.Resource.Name, s.Status)
		ok := s.Status == operatorsv1alpha1.StepStatusCreated || s.Status == operatorsv1alpha1.StepStatusPresent
		if !ok {
			t.Errorf("InstallPlan step %s %s is %s", s.Resource.Kind, s.Resource.Name, s.Status)
		}
		done[key{s.Resource.Kind, s.Resource.Name}] = ok
	}
	for _, m := range b.manifests {
		if !done[key{m.GetKind(), m.GetName()}] {
			t.Errorf("no finished InstallPlan step for the bundle's %s %s", m.GetKind(), m.GetName())
		}
	}
}

// assertGrantedRBAC asks the API server, as the CSV's ServiceAccounts,
// whether each rule of the CSV's permissions and clusterPermissions is
// allowed where the CSV says (cluster-wide for clusterPermissions, in the
// operator's namespace for permissions), and that something outside them is
// not.
func assertGrantedRBAC(t *testing.T, csv *operatorsv1alpha1.ClusterServiceVersion) {
	spec := csv.Spec.InstallStrategy.StrategySpec
	check := func(perms []operatorsv1alpha1.StrategyDeploymentPermissions, namespace string) {
		for _, p := range perms {
			sa := &corev1.ServiceAccount{}
			get(t, client.ObjectKey{Namespace: operatorNamespace, Name: p.ServiceAccountName}, sa)
			for _, rule := range p.Rules {
				for _, attrs := range ruleAttributes(rule, namespace) {
					if !allowed(t, p.ServiceAccountName, attrs) {
						t.Errorf("ServiceAccount %s may not %s", p.ServiceAccountName, describe(attrs))
					}
				}
			}
		}
	}
	check(spec.ClusterPermissions, "")
	check(spec.Permissions, operatorNamespace)
	if len(spec.ClusterPermissions) > 0 {
		deny := authorizationv1.ResourceAttributes{Verb: "delete", Resource: "nodes"}
		if allowed(t, spec.ClusterPermissions[0].ServiceAccountName, &deny) {
			t.Errorf("ServiceAccount %s may %s, which the CSV does not ask for", spec.ClusterPermissions[0].ServiceAccountName, describe(&deny))
		}
	}
}

// ruleAttributes expands a PolicyRule into one access check per group,
// resource and verb. Non-resource URLs are not part of the CSV.
func ruleAttributes(rule rbacv1.PolicyRule, namespace string) []*authorizationv1.ResourceAttributes {
	var out []*authorizationv1.ResourceAttributes
	for _, g := range rule.APIGroups {
		for _, r := range rule.Resources {
			resource, sub, _ := strings.Cut(r, "/")
			for _, v := range rule.Verbs {
				names := rule.ResourceNames
				if len(names) == 0 {
					names = []string{""}
				}
				for _, n := range names {
					out = append(out, &authorizationv1.ResourceAttributes{Namespace: namespace, Group: g, Resource: resource, Subresource: sub, Verb: v, Name: n})
				}
			}
		}
	}
	return out
}

func allowed(t *testing.T, sa string, attrs *authorizationv1.ResourceAttributes) bool {
	t.Helper()
	user := "system:serviceaccount:" + operatorNamespace + ":" + sa
	sar := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
		User: user, Groups: []string{"system:serviceaccounts", "system:serviceaccounts:" + operatorNamespace, "system:authenticated"},
		ResourceAttributes: attrs,
	}}
	if err := c.Create(ctx(), sar); err != nil {
		t.Fatalf("SubjectAccessReview: %v", err)
	}
	return sar.Status.Allowed
}

func describe(a *authorizationv1.ResourceAttributes) string {
	r := a.Resource
	if a.Subresource != "" {
		r += "/" + a.Subresource
	}
	if a.Group != "" {
		r += "." + a.Group
	}
	where := "cluster-wide"
	if a.Namespace != "" {
		where = "in " + a.Namespace
	}
	return fmt.Sprintf("%s %s %s", a.Verb, r, where)
}

// operatorDeployment returns OLM's Deployment of the operator for CSV csvName,
// once OLM has injected that CSV's OperatorCondition name into it.
func operatorDeployment(t *testing.T, csv *operatorsv1alpha1.ClusterServiceVersion, csvName string) *appsv1.Deployment {
	t.Helper()
	name := csv.Spec.InstallStrategy.StrategySpec.DeploymentSpecs[0].Name
	d := &appsv1.Deployment{}
	eventually(t, "Deployment "+name+" with OPERATOR_CONDITION_NAME="+csvName, func(ctx context.Context) (bool, error) {
		if err := c.Get(ctx, client.ObjectKey{Namespace: operatorNamespace, Name: name}, d); err != nil {
			return false, err
		}
		for _, e := range d.Spec.Template.Spec.Containers[0].Env {
			if e.Name == "OPERATOR_CONDITION_NAME" {
				return e.Value == csvName, nil
			}
		}
		return false, nil
	})
	return d
}

// seedFiles are the seed scenario's manifests, applied as a user would.
var seedFiles = []string{"00-namespaces.yaml", "10-egressgateway.yaml", "20-serviceentry.yaml", "30-authorizationpolicy.yaml"}

func reconcileSeed(t *testing.T) {
	for _, f := range seedFiles {
		data, err := os.ReadFile(filepath.Join(root, "config", "samples", "seed", f))
		if err != nil {
			t.Fatal(err)
		}
		for doc := range strings.SplitSeq(string(data), "\n---\n") {
			u := &unstructured.Unstructured{}
			if err := yaml.Unmarshal([]byte(doc), &u.Object); err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			if len(u.Object) == 0 {
				continue
			}
			if err := c.Apply(ctx(), client.ApplyConfigurationFromUnstructured(u), client.FieldOwner("olm-e2e"), client.ForceOwnership); err != nil {
				t.Fatalf("applying %s %s from %s: %v", u.GetKind(), u.GetName(), f, err)
			}
		}
	}
	waitForGateway(t, "istio-egress", "waypoint", "Ready", "Simulated")
}

// upgradeWithHold makes the next version available while a Helm action of
// the running operator is held in flight, and checks that OLM keeps the new
// CSV Pending on the operator's Upgradeable=False, then upgrades once the
// action ends. It returns the manager of the new version.
func upgradeWithHold(t *testing.T, b bundle, first, next string, old *managerPod) *managerPod {
	plan := waitForPlan(t, b.pkg, next)
	if plan.Spec.Approved {
		t.Fatalf("InstallPlan %s for %s was approved without us", plan.Name, next)
	}

	ns := createNamespace(t, "olm-hold")
	hold := startHelmHold(t, ns)
	createOrFail(t, &egressv1alpha1.EgressGateway{ObjectMeta: metav1.ObjectMeta{Name: "held", Namespace: ns}})
	select {
	case <-hold.Held():
	case <-time.After(timeout):
		t.Fatal("the operator never created the held EgressGateway's Gateway")
	}
	waitForUpgradeable(t, first, metav1.ConditionFalse, upgradeable.ReasonHelmActionInProgress)

	approve(t, plan)
	eventually(t, "CSV "+next+" Pending: "+string(operatorsv1alpha1.CSVReasonOperatorConditionNotUpgradeable), func(ctx context.Context) (bool, error) {
		csv := &operatorsv1alpha1.ClusterServiceVersion{}
		if err := c.Get(ctx, client.ObjectKey{Namespace: operatorNamespace, Name: next}, csv); err != nil {
			return false, client.IgnoreNotFound(err)
		}
		if csv.Status.Phase != operatorsv1alpha1.CSVPhasePending && csv.Status.Phase != operatorsv1alpha1.CSVPhaseNone {
			return false, fmt.Errorf("CSV %s went %s (%s) while the operator was not upgradeable", next, csv.Status.Phase, csv.Status.Message)
		}
		return csv.Status.Reason == operatorsv1alpha1.CSVReasonOperatorConditionNotUpgradeable, nil
	})
	// OLM marks the old CSV Replacing at once; what must not move yet is the
	// operator itself: its Deployment still runs the old version.
	if d := operatorDeployment(t, b.csv, first); d.Status.AvailableReplicas < 1 {
		t.Errorf("the %s Deployment lost its replicas while the upgrade was held", first)
	}
	t.Logf("OLM holds %s while %s's Helm action is in flight", next, first)

	hold.Release()
	waitForUpgradeable(t, first, metav1.ConditionTrue, upgradeable.ReasonNoHelmAction)
	waitForPlanPhase(t, plan.Name, operatorsv1alpha1.InstallPlanPhaseComplete)
	waitForCSVPhase(t, next, operatorsv1alpha1.CSVPhaseSucceeded)
	eventually(t, "CSV "+first+" replaced and deleted", func(ctx context.Context) (bool, error) {
		err := c.Get(ctx, client.ObjectKey{Namespace: operatorNamespace, Name: first}, &operatorsv1alpha1.ClusterServiceVersion{})
		return apierrors.IsNotFound(err), client.IgnoreNotFound(err)
	})
	eventually(t, "Subscription "+string(operatorsv1alpha1.SubscriptionStateAtLatest)+" at "+next, func(ctx context.Context) (bool, error) {
		sub := &operatorsv1alpha1.Subscription{}
		if err := c.Get(ctx, client.ObjectKey{Namespace: operatorNamespace, Name: b.pkg}, sub); err != nil {
			return false, err
		}
		return sub.Status.State == operatorsv1alpha1.SubscriptionStateAtLatest && sub.Status.InstalledCSV == next, nil
	})

	// The kubelet would now replace the Pod: the old manager stops, the new
	// one starts with the new CSV's OperatorCondition.
	old.stop()
	manager := startManagerAs(t, operatorDeployment(t, b.csv, next))
	waitForGateway(t, ns, "held", "Ready")
	waitForGateway(t, "istio-egress", "waypoint", "Ready", "Simulated")
	return manager
}

// uninstall removes the operator as OLM's documentation says (Subscription,
// then CSV) and checks what the README promises: the EgressGateways, their
// waypoint releases and the enrollment stay as they were, unmanaged.
func uninstall(t *testing.T, b bundle, csvName string, manager *managerPod) {
	deleteOrFail(t, &operatorsv1alpha1.Subscription{ObjectMeta: metav1.ObjectMeta{Name: b.pkg, Namespace: operatorNamespace}})
	deleteOrFail(t, &operatorsv1alpha1.ClusterServiceVersion{ObjectMeta: metav1.ObjectMeta{Name: csvName, Namespace: operatorNamespace}})
	name := b.csv.Spec.InstallStrategy.StrategySpec.DeploymentSpecs[0].Name
	eventually(t, "Deployment "+name+" deleted with its CSV", func(ctx context.Context) (bool, error) {
		err := c.Get(ctx, client.ObjectKey{Namespace: operatorNamespace, Name: name}, &appsv1.Deployment{})
		return apierrors.IsNotFound(err), client.IgnoreNotFound(err)
	})
	manager.stop() // its Pod went with the Deployment

	egw := &egressv1alpha1.EgressGateway{}
	get(t, client.ObjectKey{Namespace: "istio-egress", Name: "waypoint"}, egw)
	if !slices.Contains(egw.Finalizers, egressv1alpha1.Finalizer) {
		t.Errorf("EgressGateway istio-egress/waypoint lost its finalizer: %v", egw.Finalizers)
	}
	if egw.Status.Waypoint == nil || egw.Status.Waypoint.Release == nil {
		t.Fatal("EgressGateway istio-egress/waypoint records no Helm release")
	}
	release := egw.Status.Waypoint.Release.Name
	releases := &corev1.SecretList{}
	if err := c.List(ctx(), releases, client.InNamespace("istio-egress"), client.MatchingLabels{"owner": "helm", "name": release, "status": "deployed"}); err != nil {
		t.Fatal(err)
	}
	if len(releases.Items) != 1 {
		t.Errorf("the waypoint's deployed Helm release %s: %d Secrets, want 1", release, len(releases.Items))
	}
	get(t, client.ObjectKey{Namespace: "istio-egress", Name: "waypoint"}, &gatewayv1.Gateway{})
	ns := &corev1.Namespace{}
	get(t, client.ObjectKey{Name: "istio-egress"}, ns)
	if got := ns.Labels["istio.io/use-waypoint"]; got != "waypoint" {
		t.Errorf("namespace istio-egress: istio.io/use-waypoint=%q after uninstall, want waypoint", got)
	}
	get(t, client.ObjectKey{Name: "egressgateways.egress.ambient.io"}, &apiextensionsv1.CustomResourceDefinition{})
}

// waitForPlan waits for the Subscription's current InstallPlan to be the one
// installing csvName.
func waitForPlan(t *testing.T, sub, csvName string) *operatorsv1alpha1.InstallPlan {
	t.Helper()
	plan := &operatorsv1alpha1.InstallPlan{}
	eventually(t, "an InstallPlan for "+csvName, func(ctx context.Context) (bool, error) {
		s := &operatorsv1alpha1.Subscription{}
		if err := c.Get(ctx, client.ObjectKey{Namespace: operatorNamespace, Name: sub}, s); err != nil {
			return false, err
		}
		if s.Status.InstallPlanRef == nil {
			return false, nil
		}
		if err := c.Get(ctx, client.ObjectKey{Namespace: operatorNamespace, Name: s.Status.InstallPlanRef.Name}, plan); err != nil {
			return false, client.IgnoreNotFound(err)
		}
		return slices.Contains(plan.Spec.ClusterServiceVersionNames, csvName), nil
	})
	return plan
}

func approve(t *testing.T, plan *operatorsv1alpha1.InstallPlan) {
	t.Helper()
	patch := client.MergeFrom(plan.DeepCopy())
	plan.Spec.Approved = true
	if err := c.Patch(ctx(), plan, patch); err != nil {
		t.Fatalf("approving InstallPlan %s: %v", plan.Name, err)
	}
}

func waitForPlanPhase(t *testing.T, name string, phase operatorsv1alpha1.InstallPlanPhase) *operatorsv1alpha1.InstallPlan {
	t.Helper()
	plan := &operatorsv1alpha1.InstallPlan{}
	eventually(t, "InstallPlan "+name+" "+string(phase), func(ctx context.Context) (bool, error) {
		if err := c.Get(ctx, client.ObjectKey{Namespace: operatorNamespace, Name: name}, plan); err != nil {
			return false, err
		}
		if plan.Status.Phase == operatorsv1alpha1.InstallPlanPhaseFailed {
			return false, fmt.Errorf("InstallPlan %s failed: %s", name, planMessage(plan))
		}
		return plan.Status.Phase == phase, nil
	})
	return plan
}

func planMessage(plan *operatorsv1alpha1.InstallPlan) string {
	var msgs []string
	for _, c := range plan.Status.Conditions {
		msgs = append(msgs, fmt.Sprintf("%s=%s %s: %s", c.Type, c.Status, c.Reason, c.Message))
	}
	return strings.Join(msgs, "; ")
}

func waitForCSVPhase(t *testing.T, name string, phase operatorsv1alpha1.ClusterServiceVersionPhase) {
	t.Helper()
	eventually(t, "CSV "+name+" "+string(phase), func(ctx context.Context) (bool, error) {
		csv := &operatorsv1alpha1.ClusterServiceVersion{}
		if err := c.Get(ctx, client.ObjectKey{Namespace: operatorNamespace, Name: name}, csv); err != nil {
			return false, err
		}
		if csv.Status.Phase == operatorsv1alpha1.CSVPhaseFailed {
			return false, fmt.Errorf("CSV %s failed: %s: %s", name, csv.Status.Reason, csv.Status.Message)
		}
		return csv.Status.Phase == phase, nil
	})
}

// waitForUpgradeable waits until OLM has copied the operator's Upgradeable
// condition (written in spec by the operator) into the OperatorCondition's
// status for its current generation, which is what OLM's upgrade check reads.
func waitForUpgradeable(t *testing.T, csvName string, status metav1.ConditionStatus, reason string) {
	t.Helper()
	eventually(t, fmt.Sprintf("OperatorCondition %s Upgradeable=%s (%s)", csvName, status, reason), func(ctx context.Context) (bool, error) {
		oc := &operatorsv2.OperatorCondition{}
		if err := c.Get(ctx, client.ObjectKey{Namespace: operatorNamespace, Name: csvName}, oc); err != nil {
			return false, err
		}
		cond := meta.FindStatusCondition(oc.Status.Conditions, operatorsv2.Upgradeable)
		return cond != nil && cond.Status == status && cond.Reason == reason && cond.ObservedGeneration == oc.Generation, nil
	})
}

// waitForGateway waits until EgressGateway ns/name has each condition True
// for its current generation.
func waitForGateway(t *testing.T, ns, name string, conds ...string) {
	t.Helper()
	eventually(t, fmt.Sprintf("EgressGateway %s/%s %v", ns, name, conds), func(ctx context.Context) (bool, error) {
		egw := &egressv1alpha1.EgressGateway{}
		if err := c.Get(ctx, types.NamespacedName{Namespace: ns, Name: name}, egw); err != nil {
			return false, err
		}
		for _, ct := range conds {
			cond := meta.FindStatusCondition(egw.Status.Conditions, ct)
			if cond == nil || cond.Status != metav1.ConditionTrue || cond.ObservedGeneration != egw.Generation {
				return false, nil
			}
		}
		return true, nil
	})
}

func createNamespace(t *testing.T, prefix string) string {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: prefix + "-"}}
	createOrFail(t, ns)
	return ns.Name
}

func createOrFail(t *testing.T, obj client.Object) {
	t.Helper()
	if err := c.Create(ctx(), obj); err != nil {
		t.Fatalf("creating %T %s/%s: %v", obj, obj.GetNamespace(), obj.GetName(), err)
	}
}

func deleteOrFail(t *testing.T, obj client.Object) {
	t.Helper()
	if err := c.Delete(ctx(), obj); err != nil {
		t.Fatalf("deleting %T %s/%s: %v", obj, obj.GetNamespace(), obj.GetName(), err)
	}
}
