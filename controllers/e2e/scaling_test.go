//go:build e2e

package e2e

import (
	"context"
	"testing"
	"time"

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

	// No fight: once settled, nobody rewrites the Deployment.
	d := waitForReadyReplicas(t, ns, "egress", 2)
	generation := d.Generation
	time.Sleep(10 * time.Second)
	d = waitForReadyReplicas(t, ns, "egress", 2)
	if d.Generation != generation {
		t.Errorf("Deployment generation moved from %d to %d with the HPA in charge: istiod and the HPA fight over replicas", generation, d.Generation)
	}
}
