//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	egressv1alpha1 "github.com/ambient-egress/ambient-egress-operator/apis/egress/v1alpha1"
	"github.com/ambient-egress/ambient-egress-operator/controllers/internal/testenv"
)

// TestScaling checks both sizing modes on istiod's real Deployment: fixed
// replicas give that many ready Pods; autoscaling gives an HPA on istiod's
// Deployment, and istiod then leaves replicas alone (its generation stops
// moving, so istiod and the HPA do not fight).
func TestScaling(t *testing.T) {
	ns := newNamespace(t, "scaling", nil)
	apply(t, ns, `{apiVersion: egress.ambient.io/v1alpha1, kind: EgressGateway, metadata: {name: egress}, spec: {waypoint: {replicas: 2}}}`)
	waitForCondition(t, ns, "egress", egressv1alpha1.ConditionWaypointReady, metav1.ConditionTrue)
	waitForReadyReplicas(t, ns, "egress", 2)

	egw := egressGateway(t, ns, "egress")
	before := egw.DeepCopy()
	egw.Spec.Waypoint.Replicas = nil
	egw.Spec.Waypoint.Autoscaling = &egressv1alpha1.AutoscalingSpec{MinReplicas: ptr.To[int32](2), MaxReplicas: 3}
	if err := c.Patch(ctx(), egw, client.MergeFrom(before)); err != nil {
		t.Fatal(err)
	}
	hpa := &autoscalingv2.HorizontalPodAutoscaler{}
	testenv.Eventually(t, timeout, "the HorizontalPodAutoscaler", func(ctx context.Context) (bool, error) {
		err := c.Get(ctx, types.NamespacedName{Namespace: ns, Name: "egress"}, hpa)
		return err == nil, client.IgnoreNotFound(err)
	})
	if ref := hpa.Spec.ScaleTargetRef; ref.Kind != "Deployment" || ref.Name != "egress" {
		t.Errorf("HPA targets %s %s, want istiod's Deployment egress", ref.Kind, ref.Name)
	}
	waitForCondition(t, ns, "egress", egressv1alpha1.ConditionWaypointReady, metav1.ConditionTrue)

	// No fight: after the switch (istiod drops replicas from its apply, the
	// HPA sets them) the Deployment's generation must stop moving. A fight
	// would keep bumping it until the deadline. The quiet window outlasts the
	// HPA controller's 15 s sync period, so the HPA has had its say.
	settled := waitForStableGeneration(t, ns, "egress", 20*time.Second)
	if got := ptr.Deref(settled.Spec.Replicas, 0); got != 2 {
		t.Errorf("settled Deployment has %d replicas, want the HPA's minimum 2", got)
	}
}

// waitForStableGeneration waits until the Deployment's generation has not
// changed for quiet, and returns it then.
func waitForStableGeneration(t *testing.T, ns, name string, quiet time.Duration) *appsv1.Deployment {
	t.Helper()
	d := &appsv1.Deployment{}
	var last int64
	var since time.Time
	testenv.Eventually(t, timeout, fmt.Sprintf("Deployment %s/%s generation to stop moving for %s", ns, name, quiet), func(ctx context.Context) (bool, error) {
		if err := c.Get(ctx, types.NamespacedName{Namespace: ns, Name: name}, d); err != nil {
			return false, err
		}
		if d.Generation != last {
			last, since = d.Generation, time.Now()
			return false, nil
		}
		return time.Since(since) >= quiet, nil
	})
	return d
}
