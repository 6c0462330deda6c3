// Package controllers holds the EgressGatewayReconciler, which turns an
// EgressGateway into a running waypoint, its enrollment and its report.
package controllers

import (
	"context"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"

	egressv1alpha1 "github.com/ambient-egress/ambient-egress-operator/apis/egress/v1alpha1"
)

// EgressGatewayReconciler reconciles EgressGateway objects.
type EgressGatewayReconciler struct {
	client.Client
}

// +kubebuilder:rbac:groups=egress.ambient.io,resources=egressgateways,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=egress.ambient.io,resources=egressgateways/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=egress.ambient.io,resources=egressgateways/finalizers,verbs=update
// +kubebuilder:rbac:groups=core,resources=events,verbs=create;patch
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

// Reconcile brings one EgressGateway closer to its spec.
func (r *EgressGatewayReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	var egw egressv1alpha1.EgressGateway
	if err := r.Get(ctx, req.NamespacedName, &egw); err != nil {
		if apierrors.IsNotFound(err) {
			return ctrl.Result{}, nil // deleted: nothing left to do
		}
		return ctrl.Result{}, fmt.Errorf("reading EgressGateway %s: %w", req.NamespacedName, err)
	}
	log.FromContext(ctx).V(1).Info("observed", "generation", egw.Generation)
	return ctrl.Result{}, nil
}

// SetupWithManager registers the reconciler and its watches with mgr.
func (r *EgressGatewayReconciler) SetupWithManager(mgr ctrl.Manager) error {
	return ctrl.NewControllerManagedBy(mgr).
		For(&egressv1alpha1.EgressGateway{}).
		Named("egressgateway").
		Complete(r)
}
