//go:build e2e

package e2e

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	egressv1alpha1 "github.com/ambient-egress/ambient-egress-operator/apis/egress/v1alpha1"
	"github.com/ambient-egress/ambient-egress-operator/controllers/internal/testenv"
)

// TestGatewayDeletedByHand deletes the waypoint Gateway behind the
// operator's back: it comes back and istiod programs it again.
func TestGatewayDeletedByHand(t *testing.T) {
	ns := newNamespace(t, "drift", nil)
	apply(t, ns, `{apiVersion: egress.ambient.io/v1alpha1, kind: EgressGateway, metadata: {name: egress}}`)
	waitForCondition(t, ns, "egress", egressv1alpha1.ConditionWaypointReady, metav1.ConditionTrue)

	gw := &gatewayv1.Gateway{}
	key := types.NamespacedName{Namespace: ns, Name: "egress"}
	if err := c.Get(ctx(), key, gw); err != nil {
		t.Fatal(err)
	}
	oldUID := gw.UID
	if err := c.Delete(ctx(), gw); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, timeout, "the Gateway recreated and Programmed", func(ctx context.Context) (bool, error) {
		gw := &gatewayv1.Gateway{}
		if err := c.Get(ctx, key, gw); err != nil {
			return false, client.IgnoreNotFound(err)
		}
		return gw.UID != oldUID && programmed(gw), nil
	})
	waitForCondition(t, ns, "egress", egressv1alpha1.ConditionWaypointReady, metav1.ConditionTrue)
}

func programmed(gw *gatewayv1.Gateway) bool {
	for _, c := range gw.Status.Conditions {
		if c.Type == string(gatewayv1.GatewayConditionProgrammed) && c.Status == metav1.ConditionTrue {
			return len(gw.Status.Addresses) > 0
		}
	}
	return false
}

// TestIstiodOutage takes istiod away while a new waypoint is created:
// WaypointReady says it waits for istiod, and turns True once istiod is back.
func TestIstiodOutage(t *testing.T) {
	clusterCommand(t, "stop-istiod")
	restarted := false
	t.Cleanup(func() {
		if !restarted {
			clusterCommand(t, "start-istiod")
		}
	})
	ns := newNamespace(t, "outage", nil)
	apply(t, ns, `{apiVersion: egress.ambient.io/v1alpha1, kind: EgressGateway, metadata: {name: egress}}`)
	cond := waitForCondition(t, ns, "egress", egressv1alpha1.ConditionWaypointReady, metav1.ConditionFalse)
	if cond.Reason != egressv1alpha1.ReasonWaitingForIstiod {
		t.Errorf("WaypointReady reason without istiod = %s (%s), want %s", cond.Reason, cond.Message, egressv1alpha1.ReasonWaitingForIstiod)
	}
	clusterCommand(t, "start-istiod")
	restarted = true
	waitForCondition(t, ns, "egress", egressv1alpha1.ConditionWaypointReady, metav1.ConditionTrue)
}

// TestManagerKilledDuringInstall kills the manager as soon as the Helm
// release exists, restarts it, and checks it converges to one release
// revision with a ready waypoint.
func TestManagerKilledDuringInstall(t *testing.T) {
	ns := newNamespace(t, "killed", nil)
	apply(t, ns, `{apiVersion: egress.ambient.io/v1alpha1, kind: EgressGateway, metadata: {name: egress}}`)
	testenv.Eventually(t, timeout, "a Helm release Secret", func(ctx context.Context) (bool, error) {
		var secrets corev1.SecretList
		err := c.List(ctx, &secrets, client.InNamespace(ns), client.MatchingLabels{"owner": "helm"})
		return len(secrets.Items) > 0, err
	})
	manager.kill()
	if err := manager.start(); err != nil {
		t.Fatal(err)
	}
	// Converged means the release recovered, not only that the waypoint
	// runs: the Gateway the killed install created makes WaypointReady True
	// while the restarted manager still unlocks and reinstalls the release.
	waitForCondition(t, ns, "egress", egressv1alpha1.ConditionWaypointReady, metav1.ConditionTrue)
	waitForCondition(t, ns, "egress", egressv1alpha1.ConditionReleased, metav1.ConditionTrue)
	var egw *egressv1alpha1.EgressGateway
	testenv.Eventually(t, timeout, "the release deployed after the restart", func(ctx context.Context) (bool, error) {
		egw = &egressv1alpha1.EgressGateway{}
		if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: "egress"}, egw); err != nil {
			return false, err
		}
		w := egw.Status.Waypoint
		return w != nil && w.Release != nil && w.Release.Status == "deployed", nil
	})
	if r := egw.Status.Waypoint.Release; r.Revision != 1 {
		t.Errorf("release after restart = %+v, want revision 1 deployed", r)
	}
	var secrets corev1.SecretList
	if err := c.List(ctx(), &secrets, client.InNamespace(ns), client.MatchingLabels{"owner": "helm"}); err != nil {
		t.Fatal(err)
	}
	if len(secrets.Items) != 1 {
		t.Errorf("%d release Secrets after restart, want exactly one revision", len(secrets.Items))
	}
}
