package controllers

import (
	"context"
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	appsv1ac "k8s.io/client-go/applyconfigurations/apps/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ambient-egress/ambient-egress-operator/controllers/internal/waypoint"
)

// replicasManager is the field manager under which the operator holds the
// waypoint Deployment's spec.replicas while istiod lets go of it.
const replicasManager = "ambient-egress-operator-replicas"

// Switching a waypoint from fixed replicas to autoscaling takes replicas out
// of the overlay istiod applies to its Deployment. istiod applies with
// server-side apply, so the field, owned by nobody else, would be removed
// and default to 1 until the HPA scales back up: a drop from, say, 3 pods
// to 1 in the middle of traffic. So, just before the upgrade that adds the
// HPA, the operator applies the current replicas as its own field manager:
// sharing ownership of the same value is no conflict, and when istiod lets
// go the value stays. The HPA's first change takes the field over. When
// autoscaling is off again, the operator releases the field, and istiod's
// fixed replicas (or the default) rule alone.

// holdReplicas co-owns the Deployment's current replicas before an upgrade
// that turns autoscaling on: the Deployment exists and the HPA does not.
func (r *EgressGatewayReconciler) holdReplicas(ctx context.Context, s *scope) error {
	if s.egw.Spec.Waypoint.Autoscaling == nil {
		return nil
	}
	name := waypoint.GatewayName(s.egw)
	key := client.ObjectKey{Namespace: s.egw.Namespace, Name: name}
	dep := &appsv1.Deployment{}
	if err := r.Get(ctx, key, dep); err != nil {
		return client.IgnoreNotFound(err) // istiod has not made it: nothing to hold
	}
	if dep.Spec.Replicas == nil || ownsReplicas(dep) {
		return nil
	}
	hpa := &autoscalingv2.HorizontalPodAutoscaler{}
	if err := r.Get(ctx, key, hpa); err == nil {
		return nil // already autoscaled: the HPA owns the size
	} else if client.IgnoreNotFound(err) != nil {
		return fmt.Errorf("reading HorizontalPodAutoscaler %s: %w", key, err)
	}
	ac := appsv1ac.Deployment(name, s.egw.Namespace).WithSpec(appsv1ac.DeploymentSpec().WithReplicas(*dep.Spec.Replicas))
	if err := r.Apply(ctx, ac, client.FieldOwner(replicasManager)); err != nil {
		return fmt.Errorf("holding the replicas of Deployment %s while autoscaling takes over: %w", key, err)
	}
	return nil
}

// releaseReplicas gives up the operator's share of spec.replicas once
// autoscaling is off, by applying nothing under the same field manager.
func (r *EgressGatewayReconciler) releaseReplicas(ctx context.Context, s *scope) error {
	dep := s.deployment
	if s.egw.Spec.Waypoint.Autoscaling != nil || dep == nil || !ownsReplicas(dep) {
		return nil
	}
	ac := appsv1ac.Deployment(dep.Name, dep.Namespace)
	if err := r.Apply(ctx, ac, client.FieldOwner(replicasManager)); err != nil {
		return fmt.Errorf("releasing the replicas of Deployment %s/%s: %w", dep.Namespace, dep.Name, err)
	}
	return nil
}

// ownsReplicas reports whether the operator's field manager has applied
// the Deployment's replicas.
func ownsReplicas(dep *appsv1.Deployment) bool {
	for _, mf := range dep.ManagedFields {
		if mf.Manager == replicasManager && mf.Operation == metav1.ManagedFieldsOperationApply && mf.FieldsV1 != nil &&
			mf.FieldsV1.GetRawString() != "" && mf.FieldsV1.GetRawString() != "{}" {
			return true
		}
	}
	return false
}
