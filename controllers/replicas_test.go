package controllers_test

import (
	"context"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	appsv1ac "k8s.io/client-go/applyconfigurations/apps/v1"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"
	metav1ac "k8s.io/client-go/applyconfigurations/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	egressv1alpha1 "github.com/ambient-egress/ambient-egress-operator/apis/egress/v1alpha1"
	"github.com/ambient-egress/ambient-egress-operator/controllers"
	"github.com/ambient-egress/ambient-egress-operator/controllers/internal/testenv"
)

// istiodManager is the field manager istiod's gateway controller applies
// the waypoint Deployment with.
const istiodManager = "istio.io/gateway-controller"

// applyAsIstiod applies the waypoint Deployment as istiod does: server-side,
// forced, with replicas only when the overlay has them.
func applyAsIstiod(t *testing.T, ns, name string, replicas *int32) {
	t.Helper()
	labels := map[string]string{"gateway.networking.k8s.io/gateway-name": name}
	spec := appsv1ac.DeploymentSpec().
		WithSelector(metav1ac.LabelSelector().WithMatchLabels(labels)).
		WithTemplate(corev1ac.PodTemplateSpec().WithLabels(labels).
			WithSpec(corev1ac.PodSpec().WithContainers(corev1ac.Container().WithName("istio-proxy").WithImage("istio/proxyv2"))))
	if replicas != nil {
		spec = spec.WithReplicas(*replicas)
	}
	ac := appsv1ac.Deployment(name, ns).WithLabels(labels).WithSpec(spec)
	if err := env.Client.Apply(context.Background(), ac, client.FieldOwner(istiodManager), client.ForceOwnership); err != nil {
		t.Fatalf("applying Deployment %s/%s as istiod: %v", ns, name, err)
	}
}

func deploymentReplicas(t *testing.T, ns, name string) int32 {
	t.Helper()
	var got int32
	testenv.Eventually(t, testenv.DefaultTimeout, "reading the Deployment", func(ctx context.Context) (bool, error) {
		dep := &appsv1.Deployment{}
		if err := env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, dep); err != nil {
			return false, err
		}
		got = ptr.Deref(dep.Spec.Replicas, -1)
		return true, nil
	})
	return got
}

// TestReplicasSurviveTheSwitchToAutoscaling switches a 3-replica waypoint
// to autoscaling. istiod then applies its Deployment without replicas;
// without the operator holding the field, the API server would drop it and
// the Deployment would shrink to 1 pod until the HPA scaled it up again.
func TestReplicasSurviveTheSwitchToAutoscaling(t *testing.T) {
	ns := env.CreateNamespace(t, "handoff", nil).Name
	startOperator(t, ns, controllers.Options{})
	egw := newEgressGateway(ns, "waypoint", func(e *egressv1alpha1.EgressGateway) {
		e.Spec.Waypoint.Replicas = ptr.To[int32](3)
	})
	if err := env.Client.Create(context.Background(), egw); err != nil {
		t.Fatal(err)
	}
	key := client.ObjectKeyFromObject(egw)
	waitForRelease(t, key, 1, "deployed")
	applyAsIstiod(t, ns, "waypoint", ptr.To[int32](3))

	updateEGW(t, key, func(e *egressv1alpha1.EgressGateway) {
		e.Spec.Waypoint.Replicas = nil
		e.Spec.Waypoint.Autoscaling = &egressv1alpha1.AutoscalingSpec{MinReplicas: ptr.To[int32](2), MaxReplicas: 5}
	})
	waitForRelease(t, key, 2, "deployed")
	if err := env.Client.Get(context.Background(), key, &autoscalingv2.HorizontalPodAutoscaler{}); err != nil {
		t.Fatalf("HPA after switching to autoscaling: %v", err)
	}
	applyAsIstiod(t, ns, "waypoint", nil) // istiod reads the new overlay: no replicas
	if got := deploymentReplicas(t, ns, "waypoint"); got != 3 {
		t.Errorf("replicas after istiod let go of them: %d, want 3 (the HPA, not a default of 1, decides from here)", got)
	}

	t.Run("the HPA's change takes the field over", func(t *testing.T) {
		// The HPA resizes through the scale subresource, as an update.
		dep := &appsv1.Deployment{}
		if err := env.Client.Get(context.Background(), key, dep); err != nil {
			t.Fatal(err)
		}
		scale := &autoscalingv1.Scale{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "waypoint"}, Spec: autoscalingv1.ScaleSpec{Replicas: 4}}
		if err := env.Client.SubResource("scale").Update(context.Background(), dep,
			client.WithSubResourceBody(scale), client.FieldOwner("horizontal-pod-autoscaler")); err != nil {
			t.Fatal(err)
		}
		if got := deploymentReplicas(t, ns, "waypoint"); got != 4 {
			t.Errorf("replicas after the HPA scaled: %d, want 4", got)
		}
	})

	t.Run("fixed replicas again release the field", func(t *testing.T) {
		updateEGW(t, key, func(e *egressv1alpha1.EgressGateway) {
			e.Spec.Waypoint.Autoscaling = nil
			e.Spec.Waypoint.Replicas = ptr.To[int32](2)
		})
		waitForRelease(t, key, 3, "deployed")
		applyAsIstiod(t, ns, "waypoint", ptr.To[int32](2))
		testenv.Eventually(t, testenv.DefaultTimeout, "the operator's field manager gone from the Deployment", func(ctx context.Context) (bool, error) {
			dep := &appsv1.Deployment{}
			if err := env.Client.Get(ctx, key, dep); err != nil {
				return false, err
			}
			for _, mf := range dep.ManagedFields {
				if mf.Manager == "ambient-egress-operator-replicas" && mf.FieldsV1 != nil && mf.FieldsV1.GetRawString() != "{}" {
					return false, nil
				}
			}
			return ptr.Deref(dep.Spec.Replicas, -1) == 2, nil
		})
	})
}
