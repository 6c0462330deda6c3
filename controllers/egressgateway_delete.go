package controllers

import (
	"context"
	"fmt"

	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	egressv1alpha1 "github.com/ambient-egress/ambient-egress-operator/apis/egress/v1alpha1"
	"github.com/ambient-egress/ambient-egress-operator/controllers/internal/enrollment"
	"github.com/ambient-egress/ambient-egress-operator/controllers/internal/metrics"
)

// reconcileDelete uninstalls the release, removes the enrollment labels the
// EgressGateway added, then removes the finalizer, in that order, so a
// failure at any step is retried and nothing is left behind.
func (r *EgressGatewayReconciler) reconcileDelete(ctx context.Context, s *scope) (ctrl.Result, error) {
	r.forgetSimulation(client.ObjectKeyFromObject(s.egw))
	if !controllerutil.ContainsFinalizer(s.egw, egressv1alpha1.Finalizer) {
		return ctrl.Result{}, nil
	}
	req := r.releaseRequest(s.egw, nil)
	obs, err := r.observeRelease(ctx, req)
	if err != nil {
		return ctrl.Result{}, err
	}
	if obs.Last != nil {
		r.Upgradeable.Begin(ctx, req.Namespace+"/"+req.Name)
		err := r.Helm.Uninstall(req.Namespace, req.Name)
		r.Upgradeable.End(ctx, req.Namespace+"/"+req.Name)
		r.record(ctx, s, helmOutcome{action: actionUninstall, err: err,
			message: fmt.Sprintf("uninstalled Helm release %s: the EgressGateway is being deleted", req.Name)})
		if err != nil {
			return ctrl.Result{}, r.patchDeletingStatus(ctx, s, err)
		}
	}
	in, err := r.enrollmentInput(ctx, s.egw)
	if err != nil {
		return ctrl.Result{}, err
	}
	plan := enrollment.NewPlan(in)
	if err := enrollment.Apply(ctx, r.Client, plan.Changes, enrollmentObject(s.egw.Namespace)); err != nil {
		return ctrl.Result{}, err
	}
	// The lockdown policies live in other namespaces, where owner
	// references cannot reach: they go before the finalizer does.
	if err := r.pruneLockdown(ctx, s.egw, nil); err != nil {
		return ctrl.Result{}, err
	}
	before := s.egw.DeepCopy()
	controllerutil.RemoveFinalizer(s.egw, egressv1alpha1.Finalizer)
	if err := r.Patch(ctx, s.egw, client.MergeFromWithOptions(before, client.MergeFromWithOptimisticLock{})); err != nil {
		return ctrl.Result{}, fmt.Errorf("removing finalizer: %w", err)
	}
	metrics.ForgetGateway(s.egw.Namespace, s.egw.Name)
	return ctrl.Result{}, nil
}

// patchDeletingStatus tells the user why deletion is stuck, then returns
// cause so the deletion is retried with backoff.
func (r *EgressGatewayReconciler) patchDeletingStatus(ctx context.Context, s *scope, cause error) error {
	if err := r.patchStatus(ctx, s); err != nil {
		return fmt.Errorf("%w (and %w)", cause, err)
	}
	return cause
}
