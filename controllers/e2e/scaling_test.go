//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"math"
	"sync"
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
// moving, so istiod and the HPA do not fight), and the switch never shrinks
// the waypoint: the operator holds its replicas while istiod lets go.
func TestScaling(t *testing.T) {
	ns := newNamespace(t, "scaling", nil)
	apply(t, ns, `{apiVersion: egress.ambient.io/v1alpha1, kind: EgressGateway, metadata: {name: egress}, spec: {waypoint: {replicas: 3}}}`)
	waitForCondition(t, ns, "egress", egressv1alpha1.ConditionWaypointReady, metav1.ConditionTrue)
	waitForReadyReplicas(t, ns, "egress", 3)

	// From here until the Deployment settles, its size must never drop:
	// istiod stops setting replicas, and without the operator holding them
	// they would fall to the default 1 until the HPA scaled back up.
	lowest := watchLowestReplicas(t, ns, "egress")
	egw := egressGateway(t, ns, "egress")
	before := egw.DeepCopy()
	egw.Spec.Waypoint.Replicas = nil
	egw.Spec.Waypoint.Autoscaling = &egressv1alpha1.AutoscalingSpec{MinReplicas: ptr.To[int32](2), MaxReplicas: 5}
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
	if got := ptr.Deref(settled.Spec.Replicas, 0); got != 3 {
		t.Errorf("settled Deployment has %d replicas, want 3: within the HPA's 2..5, with no metrics to act on, it keeps the size it had", got)
	}
	if low := lowest(); low != 3 {
		t.Errorf("the Deployment went down to %d replicas during the switch to autoscaling, want it to stay at 3", low)
	}
}

// watchLowestReplicas polls the Deployment's spec.replicas every 50 ms
// until the test ends, and returns a function that reads the lowest value
// seen so far.
func watchLowestReplicas(t *testing.T, ns, name string) func() int32 {
	t.Helper()
	var mu sync.Mutex
	lowest := int32(math.MaxInt32)
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for {
			d := &appsv1.Deployment{}
			if err := c.Get(ctx(), types.NamespacedName{Namespace: ns, Name: name}, d); err == nil {
				mu.Lock()
				lowest = min(lowest, ptr.Deref(d.Spec.Replicas, 1))
				mu.Unlock()
			}
			select {
			case <-stop:
				return
			case <-tick.C:
			}
		}
	}()
	t.Cleanup(func() { close(stop); <-done })
	return func() int32 {
		mu.Lock()
		defer mu.Unlock()
		return lowest
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
