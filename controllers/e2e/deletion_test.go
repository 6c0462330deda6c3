//go:build e2e

package e2e

import (
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	egressv1alpha1 "github.com/ambient-egress/ambient-egress-operator/apis/egress/v1alpha1"
)

// TestDeletionLeavesNothing deletes a running EgressGateway and checks that
// everything it caused is gone: the Gateway, istiod's Deployment (garbage
// collected through owner references), the Helm release Secrets and the
// enrollment label.
func TestDeletionLeavesNothing(t *testing.T) {
	ns := newNamespace(t, "delete", nil)
	apply(t, ns, `{apiVersion: egress.ambient.io/v1alpha1, kind: EgressGateway, metadata: {name: egress}, spec: {waypoint: {replicas: 1}}}`)
	waitForCondition(t, ns, "egress", egressv1alpha1.ConditionWaypointReady, metav1.ConditionTrue)

	egw := egressGateway(t, ns, "egress")
	if err := c.Delete(ctx(), egw); err != nil {
		t.Fatal(err)
	}
	waitGone(t, egw)
	waitGone(t, &gatewayv1.Gateway{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "egress"}})
	waitGone(t, &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "egress"}})

	var secrets corev1.SecretList
	if err := c.List(ctx(), &secrets, client.InNamespace(ns), client.MatchingLabels{"owner": "helm"}); err != nil {
		t.Fatal(err)
	}
	if len(secrets.Items) != 0 {
		t.Errorf("%d Helm release Secrets left in %s", len(secrets.Items), ns)
	}
	var nsObj corev1.Namespace
	if err := c.Get(ctx(), types.NamespacedName{Name: ns}, &nsObj); err != nil {
		t.Fatal(err)
	}
	if v, ok := nsObj.Labels["istio.io/use-waypoint"]; ok {
		t.Errorf("enrollment label left on the namespace: istio.io/use-waypoint=%s", v)
	}
}
