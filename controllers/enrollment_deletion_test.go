package controllers_test

import (
	"context"
	"strings"
	"testing"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	istioapinetworkingv1 "istio.io/api/networking/v1"
	istionetworkingv1 "istio.io/client-go/pkg/apis/networking/v1"

	egressv1alpha1 "github.com/ambient-egress/ambient-egress-operator/apis/egress/v1alpha1"
	"github.com/ambient-egress/ambient-egress-operator/controllers"
	"github.com/ambient-egress/ambient-egress-operator/controllers/internal/testenv"
)

func TestEnrollmentConflictWithAPerson(t *testing.T) {
	ns := env.CreateNamespace(t, "conflict-person", map[string]string{"istio.io/use-waypoint": "someone-elses"}).Name
	startOperator(t, ns, controllers.Options{})
	egw := newEgressGateway(ns, "waypoint")
	if err := env.Client.Create(context.Background(), egw); err != nil {
		t.Fatal(err)
	}
	key := client.ObjectKeyFromObject(egw)
	c := env.WaitForCondition(t, key, egressv1alpha1.ConditionEnrolled, metav1.ConditionFalse)
	if c.Reason != egressv1alpha1.ReasonConflict || !strings.Contains(c.Message, "someone-elses") {
		t.Errorf("Enrolled = %s: %q, want Conflict naming the other waypoint", c.Reason, c.Message)
	}
	if got := namespaceLabels(t, ns)["istio.io/use-waypoint"]; got != "someone-elses" {
		t.Errorf("the operator overwrote a label it does not own: %q", got)
	}
	deleteAndWait(t, key)
	if got := namespaceLabels(t, ns)["istio.io/use-waypoint"]; got != "someone-elses" {
		t.Errorf("deletion removed a label the operator did not add: %q", got)
	}
}

func TestEnrollmentConflictOlderGatewayWins(t *testing.T) {
	ns := env.CreateNamespace(t, "conflict-gateways", nil).Name
	startOperator(t, ns, controllers.Options{})
	older, _ := installed(t, ns, "a-older")
	newer := newEgressGateway(ns, "b-newer", func(e *egressv1alpha1.EgressGateway) { e.Spec.Waypoint.Name = "b-waypoint" })
	if err := env.Client.Create(context.Background(), newer); err != nil {
		t.Fatal(err)
	}
	newerKey := client.ObjectKeyFromObject(newer)
	c := env.WaitForCondition(t, newerKey, egressv1alpha1.ConditionEnrolled, metav1.ConditionFalse)
	if c.Reason != egressv1alpha1.ReasonConflict || !strings.Contains(c.Message, "EgressGateway a-older") {
		t.Errorf("newer Enrolled = %s: %q, want Conflict naming EgressGateway a-older", c.Reason, c.Message)
	}
	env.WaitForCondition(t, older, egressv1alpha1.ConditionEnrolled, metav1.ConditionTrue)
	if got := namespaceLabels(t, ns)["istio.io/use-waypoint"]; got != "a-older" {
		t.Errorf("namespace enrolled to %q, want the older gateway's a-older", got)
	}

	// When the older one goes, the newer one takes the namespace.
	deleteAndWait(t, older)
	env.WaitForCondition(t, newerKey, egressv1alpha1.ConditionEnrolled, metav1.ConditionTrue)
	if got := namespaceLabels(t, ns)["istio.io/use-waypoint"]; got != "b-waypoint" {
		t.Errorf("namespace enrolled to %q after the older gateway left, want b-waypoint", got)
	}
}

func TestServiceEntrySelectorEnrollment(t *testing.T) {
	ns := env.CreateNamespace(t, "se-enroll", nil).Name
	startOperator(t, ns, controllers.Options{})
	ctx := context.Background()
	for _, name := range []string{"selected", "other"} {
		se := &istionetworkingv1.ServiceEntry{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: map[string]string{"egress": name}},
			Spec: istioapinetworkingv1.ServiceEntry{
				Hosts:      []string{name + ".example.com"},
				Ports:      []*istioapinetworkingv1.ServicePort{{Number: 80, Name: "http", Protocol: "HTTP"}},
				Resolution: istioapinetworkingv1.ServiceEntry_DNS,
			},
		}
		if err := env.Client.Create(ctx, se); err != nil {
			t.Fatal(err)
		}
	}
	key, _ := installed(t, ns, "waypoint", func(e *egressv1alpha1.EgressGateway) {
		e.Spec.EnrollNamespace = new(false)
		e.Spec.ServiceEntrySelector = &egressv1alpha1.LabelSelector{MatchLabels: map[string]egressv1alpha1.LabelValue{"egress": "selected"}}
	})
	if got := seLabel(t, ns, "selected"); got != "waypoint" {
		t.Errorf("selected ServiceEntry label = %q, want waypoint", got)
	}
	if got := seLabel(t, ns, "other"); got != "" {
		t.Errorf("unselected ServiceEntry label = %q, want none", got)
	}
	if _, ok := namespaceLabels(t, ns)["istio.io/use-waypoint"]; ok {
		t.Error("namespace labeled although enrollNamespace is false")
	}
	deleteAndWait(t, key)
	if got := seLabel(t, ns, "selected"); got != "" {
		t.Errorf("label left on the ServiceEntry after deletion: %q", got)
	}
}

func TestDeletionLeavesNothingBehind(t *testing.T) {
	ns := env.CreateNamespace(t, "delete", nil).Name
	startOperator(t, ns, controllers.Options{})
	key, _ := installed(t, ns, "waypoint", func(e *egressv1alpha1.EgressGateway) {
		e.Spec.Waypoint.Autoscaling = &egressv1alpha1.AutoscalingSpec{MaxReplicas: 3}
		e.Spec.Waypoint.PodDisruptionBudget = &egressv1alpha1.PodDisruptionBudgetSpec{MaxUnavailable: new(intstr.FromInt32(1))}
	})
	updateEGW(t, key, func(e *egressv1alpha1.EgressGateway) { e.Spec.Waypoint.Autoscaling.MaxReplicas = 4 })
	waitForRelease(t, key, 2, "deployed")
	deleteAndWait(t, key)
	assertNothingLeft(t, ns)
	waitForEvent(t, ns, key.Name, egressv1alpha1.ReasonUninstalled)
}

func TestDeletionDuringInstallLeavesNothingBehind(t *testing.T) {
	ns := env.CreateNamespace(t, "delete-early", nil).Name
	op := startOperator(t, ns, controllers.Options{})
	egw := newEgressGateway(ns, "waypoint")
	if err := env.Client.Create(context.Background(), egw); err != nil {
		t.Fatal(err)
	}
	// Wait only for the finalizer, so the delete races the install.
	testenv.Eventually(t, testenv.DefaultTimeout, "finalizer", func(ctx context.Context) (bool, error) {
		err := env.Client.Get(ctx, client.ObjectKeyFromObject(egw), egw)
		return err == nil && len(egw.Finalizers) > 0, err
	})
	deleteAndWait(t, client.ObjectKeyFromObject(egw))
	settle(t, op)
	assertNothingLeft(t, ns)
}

// deleteAndWait deletes an EgressGateway and waits until it is gone.
func deleteAndWait(t *testing.T, key client.ObjectKey) {
	t.Helper()
	egw := &egressv1alpha1.EgressGateway{ObjectMeta: metav1.ObjectMeta{Name: key.Name, Namespace: key.Namespace}}
	if err := env.Client.Delete(context.Background(), egw); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, testenv.DefaultTimeout, key.String()+" deleted", func(ctx context.Context) (bool, error) {
		err := env.Client.Get(ctx, key, egw)
		return apierrors.IsNotFound(err), client.IgnoreNotFound(err)
	})
}

// assertNothingLeft checks that no release Secret, enrollment label or
// rendered object is left in ns.
func assertNothingLeft(t *testing.T, ns string) {
	t.Helper()
	if s := releaseSecrets(t, ns); len(s) != 0 {
		t.Errorf("release Secrets left: %v", s)
	}
	labels, annotations := namespaceMeta(t, ns)
	if v, ok := labels["istio.io/use-waypoint"]; ok {
		t.Errorf("namespace label left: istio.io/use-waypoint=%s", v)
	}
	if v, ok := annotations["egress.ambient.io/enrolled-by"]; ok {
		t.Errorf("namespace annotation left: %s", v)
	}
	for _, list := range []client.ObjectList{
		&gatewayv1.GatewayList{}, &corev1.ConfigMapList{}, &autoscalingv2.HorizontalPodAutoscalerList{}, &policyv1.PodDisruptionBudgetList{},
	} {
		if err := env.Client.List(context.Background(), list, client.InNamespace(ns), client.HasLabels{"egress.ambient.io/egressgateway"}); err != nil {
			t.Fatal(err)
		}
		if n := len(mustItems(t, list)); n != 0 {
			t.Errorf("%d rendered objects left in %T", n, list)
		}
	}
}

func mustItems(t *testing.T, list client.ObjectList) []any {
	t.Helper()
	var items []any
	switch l := list.(type) {
	case *gatewayv1.GatewayList:
		for i := range l.Items {
			items = append(items, l.Items[i].Name)
		}
	case *corev1.ConfigMapList:
		for i := range l.Items {
			items = append(items, l.Items[i].Name)
		}
	case *autoscalingv2.HorizontalPodAutoscalerList:
		for i := range l.Items {
			items = append(items, l.Items[i].Name)
		}
	case *policyv1.PodDisruptionBudgetList:
		for i := range l.Items {
			items = append(items, l.Items[i].Name)
		}
	}
	return items
}

func namespaceMeta(t *testing.T, ns string) (labels, annotations map[string]string) {
	t.Helper()
	obj := &corev1.Namespace{}
	if err := env.Client.Get(context.Background(), client.ObjectKey{Name: ns}, obj); err != nil {
		t.Fatal(err)
	}
	return obj.Labels, obj.Annotations
}

func namespaceLabels(t *testing.T, ns string) map[string]string {
	t.Helper()
	labels, _ := namespaceMeta(t, ns)
	return labels
}

func seLabel(t *testing.T, ns, name string) string {
	t.Helper()
	se := &istionetworkingv1.ServiceEntry{}
	if err := env.Client.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, se); err != nil {
		t.Fatal(err)
	}
	return se.Labels["istio.io/use-waypoint"]
}

// TestNamespaceDeletionLeavesNothingBehind plays the namespace controller,
// which envtest does not run: once the namespace is terminating it deletes
// the objects in it in no particular order, here the release Secrets and the
// rendered objects before the EgressGateway.
func TestNamespaceDeletionLeavesNothingBehind(t *testing.T) {
	ns := env.CreateNamespace(t, "delete-ns", nil).Name
	op := startOperator(t, ns, controllers.Options{})
	key, _ := installed(t, ns, "waypoint")
	ctx := context.Background()
	failures := helmActions(t, "", "failure")
	if err := env.Client.Delete(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
		t.Fatal(err)
	}
	for _, obj := range []client.Object{&corev1.Secret{}, &gatewayv1.Gateway{}, &corev1.ConfigMap{}} {
		if err := env.Client.DeleteAllOf(ctx, obj, client.InNamespace(ns)); err != nil {
			t.Fatal(err)
		}
	}
	deleteAndWait(t, key)
	settle(t, op)
	if s := releaseSecrets(t, ns); len(s) != 0 {
		t.Errorf("release Secrets left: %v", s)
	}
	if got := helmActions(t, "", "failure") - failures; got != 0 {
		t.Errorf("%v failed Helm actions in the terminating namespace, want none tried", got)
	}
	var gateways gatewayv1.GatewayList
	if err := env.Client.List(ctx, &gateways, client.InNamespace(ns)); err != nil || len(gateways.Items) != 0 {
		t.Errorf("Gateways left: %d, %v", len(gateways.Items), err)
	}
}

// TestInvalidSelectorRefusedAtAdmission: a label selector the operator
// could not parse (a key or value that is not a label's, an operator
// metav1.LabelSelectorAsSelector does not know) is refused by the API
// server itself, naming the field, on each of the three selectors; so no
// admitted gateway ends in InvalidSelector (the spec fuzz checks that too).
func TestInvalidSelectorRefusedAtAdmission(t *testing.T) {
	ns := env.CreateNamespace(t, "bad-selector", nil).Name
	bad := map[string]*egressv1alpha1.LabelSelector{
		"matchLabels[bad key]": {MatchLabels: map[string]egressv1alpha1.LabelValue{"bad key": "x"}},
		"matchLabels[a/b/c]":   {MatchLabels: map[string]egressv1alpha1.LabelValue{"a/b/c": "x"}},
		"a label value":        {MatchLabels: map[string]egressv1alpha1.LabelValue{"team": "bad value!"}},
		"an expression key": {MatchExpressions: []egressv1alpha1.LabelSelectorRequirement{
			{Key: "Bad Key!", Operator: metav1.LabelSelectorOpExists}}},
		"an expression value": {MatchExpressions: []egressv1alpha1.LabelSelectorRequirement{
			{Key: "team", Operator: metav1.LabelSelectorOpIn, Values: []egressv1alpha1.LabelValue{"-a"}}}},
		"an operator": {MatchExpressions: []egressv1alpha1.LabelSelectorRequirement{
			{Key: "team", Operator: "Foo", Values: []egressv1alpha1.LabelValue{"a"}}}},
		"In without values": {MatchExpressions: []egressv1alpha1.LabelSelectorRequirement{
			{Key: "team", Operator: metav1.LabelSelectorOpIn}}},
	}
	fields := map[string]func(*egressv1alpha1.EgressGateway, *egressv1alpha1.LabelSelector){
		"spec.serviceEntrySelector": func(e *egressv1alpha1.EgressGateway, s *egressv1alpha1.LabelSelector) {
			e.Spec.EnrollNamespace = new(false)
			e.Spec.ServiceEntrySelector = s
		},
		"spec.simulation.sources": func(e *egressv1alpha1.EgressGateway, s *egressv1alpha1.LabelSelector) { e.Spec.Simulation.Sources = s },
		"spec.lockdown.sources":   func(e *egressv1alpha1.EgressGateway, s *egressv1alpha1.LabelSelector) { e.Spec.Lockdown.Sources = s },
	}
	for what, sel := range bad {
		for field, set := range fields {
			egw := newEgressGateway(ns, "waypoint", func(e *egressv1alpha1.EgressGateway) { set(e, sel) })
			err := env.Client.Create(context.Background(), egw)
			if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), field) {
				t.Errorf("%s with %s: %v, want Invalid naming %s", field, what, err, field)
				_ = env.Client.Delete(context.Background(), egw)
			}
		}
	}
}
