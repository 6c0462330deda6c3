package controllers_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	egressv1alpha1 "github.com/ambient-egress/ambient-egress-operator/apis/egress/v1alpha1"
	"github.com/ambient-egress/ambient-egress-operator/controllers"
	"github.com/ambient-egress/ambient-egress-operator/controllers/internal/testenv"
)

// installed creates an EgressGateway, waits for its first release, lets the
// test's istiod program it and waits for Ready.
func installed(t *testing.T, ns, name string, mutate ...func(*egressv1alpha1.EgressGateway)) (client.ObjectKey, time.Duration) {
	t.Helper()
	egw := newEgressGateway(ns, name, mutate...)
	start := time.Now()
	if err := env.Client.Create(context.Background(), egw); err != nil {
		t.Fatal(err)
	}
	key := client.ObjectKeyFromObject(egw)
	waitForRelease(t, key, 1, "deployed")
	took := time.Since(start)
	t.Logf("install: EgressGateway %s created to release deployed and recorded in status in %s", name, took)
	istiod{}.programs(t, ns, gatewayName(egw), 1)
	env.WaitForCondition(t, key, egressv1alpha1.ConditionReady, metav1.ConditionTrue)
	return key, took
}

func gatewayName(egw *egressv1alpha1.EgressGateway) string {
	if egw.Spec.Waypoint.Name != "" {
		return egw.Spec.Waypoint.Name
	}
	return egw.Name
}

func TestInstall(t *testing.T) {
	ns := env.CreateNamespace(t, "install", nil).Name
	startOperator(t, ns, controllers.Options{})
	ctx := context.Background()
	egw := newEgressGateway(ns, "waypoint")
	start := time.Now()
	if err := env.Client.Create(ctx, egw); err != nil {
		t.Fatal(err)
	}
	key := client.ObjectKeyFromObject(egw)
	got := waitForRelease(t, key, 1, "deployed")
	t.Logf("install: EgressGateway created to release deployed and recorded in status in %s", time.Since(start))

	if r := got.Status.Waypoint.Release; r.Name != "egw-waypoint" || r.ChartVersion != testVersion || !strings.HasPrefix(r.ValuesDigest, "sha256:") {
		t.Errorf("status.waypoint.release = %+v", r)
	}
	if c := env.WaitForCondition(t, key, egressv1alpha1.ConditionWaypointReady, metav1.ConditionFalse); c.Reason != egressv1alpha1.ReasonWaitingForIstiod {
		t.Errorf("WaypointReady before istiod = %s: %s, want reason %s", c.Reason, c.Message, egressv1alpha1.ReasonWaitingForIstiod)
	}
	gw := &gatewayv1.Gateway{}
	if err := env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "waypoint"}, gw); err != nil {
		t.Fatal(err)
	}
	if gw.Spec.GatewayClassName != "istio-waypoint" || len(gw.Spec.Listeners) != 1 || gw.Spec.Listeners[0].Port != 15008 ||
		gw.Spec.Listeners[0].Protocol != "HBONE" || gw.Labels["istio.io/waypoint-for"] != "service" {
		t.Errorf("Gateway is not a waypoint: %+v %+v", gw.Labels, gw.Spec)
	}
	if p := gw.Spec.Infrastructure; p == nil || p.ParametersRef == nil || p.ParametersRef.Kind != "ConfigMap" {
		t.Errorf("Gateway has no parametersRef: %+v", p)
	} else if err := env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: p.ParametersRef.Name}, &corev1.ConfigMap{}); err != nil {
		t.Errorf("parametersRef ConfigMap: %v", err)
	}
	if refs := gw.OwnerReferences; len(refs) != 1 || refs[0].UID != got.UID || !ptr.Deref(refs[0].Controller, false) {
		t.Errorf("Gateway owner references = %+v, want the EgressGateway as controller", refs)
	}
	if secrets := releaseSecrets(t, ns); len(secrets) != 1 || secrets[0] != "sh.helm.release.v1.egw-waypoint.v1" {
		t.Errorf("release Secrets = %v", secrets)
	}
	nsObj := &corev1.Namespace{}
	if err := env.Client.Get(ctx, client.ObjectKey{Name: ns}, nsObj); err != nil {
		t.Fatal(err)
	}
	if nsObj.Labels["istio.io/use-waypoint"] != "waypoint" {
		t.Errorf("namespace labels = %v, want istio.io/use-waypoint=waypoint", nsObj.Labels)
	}

	istiod{}.programs(t, ns, "waypoint", 2)
	env.WaitForCondition(t, key, egressv1alpha1.ConditionWaypointReady, metav1.ConditionTrue)
	env.WaitForCondition(t, key, egressv1alpha1.ConditionReady, metav1.ConditionTrue)
	if w := getEGW(t, key).Status.Waypoint; w.Replicas != 2 || w.ReadyReplicas != 2 || w.GatewayName != "waypoint" {
		t.Errorf("status.waypoint = %+v, want 2/2 replicas of Gateway waypoint", w)
	}
}

func TestNoOpReconcilesChangeNothing(t *testing.T) {
	ns := env.CreateNamespace(t, "noop", nil).Name
	op := startOperator(t, ns, controllers.Options{})
	key, _ := installed(t, ns, "waypoint", func(e *egressv1alpha1.EgressGateway) {
		e.Spec.Waypoint.Autoscaling = &egressv1alpha1.AutoscalingSpec{MaxReplicas: 4}
		e.Spec.Waypoint.PodDisruptionBudget = &egressv1alpha1.PodDisruptionBudgetSpec{MinAvailable: new(intstr.FromInt32(1))}
	})
	settle(t, op)
	before := getEGW(t, key)
	actions := helmActions(t, "", "")
	n := op.requests.count()
	start := time.Now()
	const reconciles = 20
	for range reconciles {
		res, err := op.reconciler.Reconcile(context.Background(), ctrl.Request{NamespacedName: key})
		if err != nil || res.RequeueAfter != 0 {
			t.Fatalf("no-op reconcile = %+v, %v", res, err)
		}
	}
	took := time.Since(start)
	requests := op.requests.since(n)
	after := getEGW(t, key)
	t.Logf("no-op reconcile: %s each, %d API requests each (%v)", took/reconciles, len(requests)/reconciles, requests[:len(requests)/reconciles])

	if got := helmActions(t, "", "") - actions; got != 0 {
		t.Errorf("%v Helm actions during no-op reconciles, want 0", got)
	}
	if w := writes(requests); len(w) != 0 {
		t.Errorf("no-op reconciles wrote: %v", w)
	}
	if after.ResourceVersion != before.ResourceVersion {
		t.Errorf("EgressGateway changed during no-op reconciles: resourceVersion %s -> %s", before.ResourceVersion, after.ResourceVersion)
	}
	if after.Status.Waypoint.Release.Revision != 1 {
		t.Errorf("release revision = %d, want 1", after.Status.Waypoint.Release.Revision)
	}
	if secrets := releaseSecrets(t, ns); len(secrets) != 1 {
		t.Errorf("release Secrets = %v, want one revision", secrets)
	}

	// The same through the manager: an irrelevant namespace annotation
	// triggers each reconcile through the watches.
	n = op.requests.count()
	for i := range reconciles {
		done := metricSum(t, "controller_runtime_reconcile_total")
		patch := fmt.Sprintf(`{"metadata":{"annotations":{"test/touch":"%d"}}}`, i)
		nsObj := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}
		if err := env.Client.Patch(context.Background(), nsObj, client.RawPatch(types.MergePatchType, []byte(patch))); err != nil {
			t.Fatal(err)
		}
		testenv.Eventually(t, testenv.DefaultTimeout, "a reconcile", func(context.Context) (bool, error) {
			return metricSum(t, "controller_runtime_reconcile_total") > done, nil
		})
	}
	settle(t, op)
	if w := writes(op.requests.since(n)); len(w) != 0 {
		t.Errorf("reconciles triggered by watch events wrote: %v", w)
	}
	if got := helmActions(t, "", "") - actions; got != 0 {
		t.Errorf("%v Helm actions during reconciles triggered by watch events, want 0", got)
	}
	if got := getEGW(t, key); got.ResourceVersion != before.ResourceVersion {
		t.Errorf("EgressGateway changed during reconciles triggered by watch events")
	}
}

func TestSpecChangeMakesOneRevision(t *testing.T) {
	ns := env.CreateNamespace(t, "upgrade", nil).Name
	op := startOperator(t, ns, controllers.Options{})
	key, _ := installed(t, ns, "waypoint", func(e *egressv1alpha1.EgressGateway) { e.Spec.Waypoint.Replicas = ptr.To[int32](1) })
	upgrades := helmActions(t, "upgrade", "")
	updateEGW(t, key, func(e *egressv1alpha1.EgressGateway) { e.Spec.Waypoint.Replicas = ptr.To[int32](3) })
	waitForRelease(t, key, 2, "deployed")
	settle(t, op)
	if got := getEGW(t, key).Status.Waypoint.Release.Revision; got != 2 {
		t.Errorf("revision after one spec change = %d, want 2", got)
	}
	if got := helmActions(t, "upgrade", "") - upgrades; got != 1 {
		t.Errorf("%v upgrades for one spec change, want 1", got)
	}
	cm := parameters(t, ns, "waypoint")
	if !strings.Contains(cm.Data["deployment"], "replicas: 3") {
		t.Errorf("deployment overlay = %q, want replicas: 3", cm.Data["deployment"])
	}
	// A change that does not touch the chart values makes no revision.
	updateEGW(t, key, func(e *egressv1alpha1.EgressGateway) { e.Spec.EnrollNamespace = new(false) })
	env.WaitForCondition(t, key, egressv1alpha1.ConditionEnrolled, metav1.ConditionTrue)
	settle(t, op)
	if got := getEGW(t, key).Status.Waypoint.Release.Revision; got != 2 {
		t.Errorf("revision after a change outside the chart values = %d, want 2", got)
	}
}

func TestAutoscalingAndFixedReplicasSwitch(t *testing.T) {
	ns := env.CreateNamespace(t, "scaling", nil).Name
	startOperator(t, ns, controllers.Options{})
	key, _ := installed(t, ns, "waypoint", func(e *egressv1alpha1.EgressGateway) { e.Spec.Waypoint.Replicas = ptr.To[int32](2) })
	hpaKey := client.ObjectKey{Namespace: ns, Name: "waypoint"}

	updateEGW(t, key, func(e *egressv1alpha1.EgressGateway) {
		e.Spec.Waypoint.Replicas = nil
		e.Spec.Waypoint.Autoscaling = &egressv1alpha1.AutoscalingSpec{MinReplicas: ptr.To[int32](2), MaxReplicas: 5}
		e.Spec.Waypoint.PodDisruptionBudget = &egressv1alpha1.PodDisruptionBudgetSpec{MinAvailable: new(intstr.FromInt32(1))}
	})
	waitForRelease(t, key, 2, "deployed")
	pdb := &policyv1.PodDisruptionBudget{}
	if err := env.Client.Get(context.Background(), hpaKey, pdb); err != nil {
		t.Fatalf("PodDisruptionBudget: %v", err)
	}
	if pdb.Spec.MinAvailable.IntValue() != 1 || pdb.Spec.Selector.MatchLabels["gateway.networking.k8s.io/gateway-name"] != "waypoint" {
		t.Errorf("PodDisruptionBudget spec = %+v", pdb.Spec)
	}
	hpa := &autoscalingv2.HorizontalPodAutoscaler{}
	if err := env.Client.Get(context.Background(), hpaKey, hpa); err != nil {
		t.Fatalf("HPA after switching to autoscaling: %v", err)
	}
	if hpa.Spec.MaxReplicas != 5 || ptr.Deref(hpa.Spec.MinReplicas, 0) != 2 || hpa.Spec.ScaleTargetRef.Name != "waypoint" {
		t.Errorf("HPA spec = %+v", hpa.Spec)
	}
	if d := parameters(t, ns, "waypoint").Data["deployment"]; strings.Contains(d, "replicas") {
		t.Errorf("deployment overlay sets replicas while autoscaling, istiod and the HPA would fight: %q", d)
	}

	updateEGW(t, key, func(e *egressv1alpha1.EgressGateway) {
		e.Spec.Waypoint.Autoscaling = nil
		e.Spec.Waypoint.Replicas = ptr.To[int32](4)
	})
	waitForRelease(t, key, 3, "deployed")
	if err := env.Client.Get(context.Background(), hpaKey, &autoscalingv2.HorizontalPodAutoscaler{}); !apierrors.IsNotFound(err) {
		t.Errorf("HPA after switching back to fixed replicas: %v, want NotFound", err)
	}
	if d := parameters(t, ns, "waypoint").Data["deployment"]; !strings.Contains(d, "replicas: 4") {
		t.Errorf("deployment overlay = %q, want replicas: 4", d)
	}
}

func TestGatewayDeletedByHandIsRecreated(t *testing.T) {
	ns := env.CreateNamespace(t, "drift", nil).Name
	op := startOperator(t, ns, controllers.Options{})
	key, _ := installed(t, ns, "waypoint")
	ctx := context.Background()
	gwKey := client.ObjectKey{Namespace: ns, Name: "waypoint"}
	repairs, upgrades := helmActions(t, "repair", "success"), helmActions(t, "upgrade", "")

	gw := &gatewayv1.Gateway{}
	if err := env.Client.Get(ctx, gwKey, gw); err != nil {
		t.Fatal(err)
	}
	oldUID := gw.UID
	if err := env.Client.Delete(ctx, gw); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, testenv.DefaultTimeout, "Gateway recreated", func(ctx context.Context) (bool, error) {
		err := env.Client.Get(ctx, gwKey, gw)
		return err == nil && gw.UID != oldUID, client.IgnoreNotFound(err)
	})
	if gw.Spec.GatewayClassName != "istio-waypoint" || len(gw.OwnerReferences) != 1 || gw.Labels["app.kubernetes.io/managed-by"] != "Helm" {
		t.Errorf("recreated Gateway = %+v %+v", gw.ObjectMeta, gw.Spec)
	}

	// A hand edit of the spec is put back too.
	gw.Spec.Listeners[0].Port = 15009
	if err := env.Client.Update(ctx, gw); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, testenv.DefaultTimeout, "Gateway listener restored", func(ctx context.Context) (bool, error) {
		err := env.Client.Get(ctx, gwKey, gw)
		return err == nil && gw.Spec.Listeners[0].Port == 15008, err
	})
	settle(t, op)
	if got := helmActions(t, "repair", "success") - repairs; got != 2 {
		t.Errorf("%v drift repairs, want 2", got)
	}
	if got := helmActions(t, "upgrade", "") - upgrades; got != 0 {
		t.Errorf("%v upgrades to repair drift, want 0", got)
	}
	if got := getEGW(t, key).Status.Waypoint.Release.Revision; got != 1 {
		t.Errorf("revision after drift repair = %d, want 1 (no new revision)", got)
	}
	if c := meta.FindStatusCondition(getEGW(t, key).Status.Conditions, egressv1alpha1.ConditionReleased); c.Reason != egressv1alpha1.ReasonDriftRepaired {
		t.Errorf("Released = %s: %s, want reason %s", c.Reason, c.Message, egressv1alpha1.ReasonDriftRepaired)
	}
}

// parameters reads the parametersRef ConfigMap of Gateway gateway.
func parameters(t *testing.T, ns, gateway string) *corev1.ConfigMap {
	t.Helper()
	cm := &corev1.ConfigMap{}
	if err := env.Client.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: gateway + "-waypoint-parameters"}, cm); err != nil {
		t.Fatal(err)
	}
	return cm
}
