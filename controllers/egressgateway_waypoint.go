package controllers

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	egressv1alpha1 "github.com/ambient-egress/ambient-egress-operator/apis/egress/v1alpha1"
	"github.com/ambient-egress/ambient-egress-operator/controllers/internal/helmrelease"
	"github.com/ambient-egress/ambient-egress-operator/controllers/internal/metrics"
	"github.com/ambient-egress/ambient-egress-operator/controllers/internal/waypoint"
)

// reconcileWaypoint finds the release's state and takes at most one Helm
// action for it; InSync takes none. Then it observes the Gateway and the
// Deployment istiod made for it.
func (r *EgressGatewayReconciler) reconcileWaypoint(ctx context.Context, s *scope) (ctrl.Result, error) {
	values, err := waypoint.Values(s.egw)
	if err != nil {
		s.released = condition(egressv1alpha1.ConditionReleased, metav1.ConditionFalse, egressv1alpha1.ReasonInvalidValues, err.Error())
		return ctrl.Result{}, nil // the user's to fix: no retry until the spec changes
	}
	s.gatewayName = waypoint.GatewayName(s.egw)
	req := r.releaseRequest(s.egw, values)
	obs, err := r.observeRelease(ctx, req)
	if err != nil {
		return ctrl.Result{}, r.waypointFailed(s, err)
	}
	digest := waypoint.Digest(values)
	var drifts []helmrelease.Drift
	if helmrelease.DetermineState(obs, r.Helm.ChartVersion(), digest, false) == helmrelease.StateInSync {
		if drifts, err = helmrelease.DetectDrift(ctx, r.Client, r.Scheme, obs.Last); err != nil {
			return ctrl.Result{}, r.waypointFailed(s, fmt.Errorf("checking the release's objects for drift: %w", err))
		}
	}
	state := helmrelease.DetermineState(obs, r.Helm.ChartVersion(), digest, len(drifts) > 0)
	result, acted, actErr := r.act(ctx, s, state, req, obs, drifts, r.Helm.ChartVersion()+"/"+digest)
	if acted {
		if obs, err = r.observeRelease(ctx, req); err != nil {
			return ctrl.Result{}, errors.Join(actErr, r.waypointFailed(s, err))
		}
	}
	failedAttempt := ""
	if w := s.egw.Status.Waypoint; w != nil && w.Release != nil {
		failedAttempt = w.Release.FailedAttempt
	}
	if s.attempted {
		failedAttempt = s.failedAttempt
	}
	s.release = releaseStatus(req.Name, obs, failedAttempt)
	if err := r.observeWaypoint(ctx, s); err != nil {
		return ctrl.Result{}, errors.Join(actErr, r.waypointFailed(s, err))
	}
	s.waypointObserved = true
	if err := r.releaseReplicas(ctx, s); err != nil {
		return ctrl.Result{}, errors.Join(actErr, err)
	}
	return result, actErr
}

// waypointFailed records a read that left the waypoint's state unknown:
// WaypointReady says so (ObserveFailed, not GatewayMissing), the status
// keeps the release it recorded (and its failed-attempt guard), and a
// Warning Event carries the error. It returns err for a retry with backoff.
func (r *EgressGatewayReconciler) waypointFailed(s *scope, err error) error {
	s.waypointErr = err
	r.Recorder.Eventf(s.egw, nil, corev1.EventTypeWarning, egressv1alpha1.ReasonObserveFailed, "Observe", "%s", err.Error())
	return err
}

// act takes the one action state calls for and reports whether it ran one.
// A failed install or upgrade is remembered in status and not retried at
// once; a failed recovery step (unlock, rollback, uninstall, repair) is
// returned as an error, so it is retried with the workqueue's backoff.
func (r *EgressGatewayReconciler) act(ctx context.Context, s *scope, state helmrelease.State, req helmrelease.Request,
	obs helmrelease.Observed, drifts []helmrelease.Drift, attempt string,
) (ctrl.Result, bool, error) {
	if wait, blocked := r.failedAttemptBlocks(s, state, attempt); blocked {
		return ctrl.Result{RequeueAfter: wait}, false, nil
	}
	if state != helmrelease.StateInSync && r.namespaceTerminating(ctx, req.Namespace) {
		return ctrl.Result{}, false, nil // nothing can be created there; deletion follows
	}
	if state == helmrelease.StateInSync {
		if c := meta.FindStatusCondition(s.egw.Status.Conditions, egressv1alpha1.ConditionReleased); c == nil || c.Status != metav1.ConditionTrue {
			s.released = condition(egressv1alpha1.ConditionReleased, metav1.ConditionTrue, egressv1alpha1.ReasonAsExpected,
				fmt.Sprintf("Helm release %s revision %d is deployed from the current spec", req.Name, obs.Revision()))
		}
		return ctrl.Result{}, false, nil
	}
	// OLM must not replace the operator while Helm writes a release: the
	// release would be left pending.
	r.Upgradeable.Begin(ctx, req.Namespace+"/"+req.Name)
	defer r.Upgradeable.End(ctx, req.Namespace+"/"+req.Name)
	var recoveryErr error
	switch state {
	case helmrelease.StateAbsent:
		_, err := r.Helm.Install(ctx, req)
		r.record(ctx, s, helmOutcome{action: actionInstall, err: err, attempt: attempt,
			message: fmt.Sprintf("installed Helm release %s (chart %s)", req.Name, r.Helm.ChartVersion())})
	case helmrelease.StateOutOfSync:
		if err := r.holdReplicas(ctx, s); err != nil {
			return ctrl.Result{}, false, err
		}
		_, err := r.Helm.Upgrade(ctx, req)
		r.record(ctx, s, helmOutcome{action: actionUpgrade, err: err, attempt: attempt,
			message: fmt.Sprintf("upgraded Helm release %s from revision %d (chart %s)", req.Name, obs.Revision(), r.Helm.ChartVersion())})
	case helmrelease.StateLocked:
		recoveryErr = r.Helm.Unlock(req.Namespace, req.Name)
		r.record(ctx, s, helmOutcome{action: actionUnlock, err: recoveryErr,
			message: fmt.Sprintf("Helm release %s revision %d was stuck in %s; marked it failed to recover", req.Name, obs.Revision(), obs.Status())})
	case helmrelease.StateFailed:
		recoveryErr = r.recoverFailed(ctx, s, req, obs)
	case helmrelease.StateDrifted:
		recoveryErr = helmrelease.Repair(ctx, r.Client, r.APIReader, req.Name, drifts)
		r.record(ctx, s, helmOutcome{action: actionRepair, err: recoveryErr,
			message: fmt.Sprintf("repaired Helm release %s revision %d without a new revision: %s", req.Name, obs.Revision(), describe(drifts))})
	}
	if recoveryErr != nil {
		return ctrl.Result{}, true, recoveryErr
	}
	return ctrl.Result{RequeueAfter: afterAction}, true, nil
}

// recoverFailed rolls a failed release back to its last deployed revision,
// or uninstalls it when it was never deployed, so it can be installed again.
func (r *EgressGatewayReconciler) recoverFailed(ctx context.Context, s *scope, req helmrelease.Request, obs helmrelease.Observed) error {
	why := ""
	// Say why, once: the failed revision's own description, which Helm
	// wrote with the error, and which a cached status read just after the
	// failure may not hold yet; else the condition, if it is not the
	// previous recovery's own message.
	if obs.Last != nil && obs.Last.Info != nil && obs.Last.Info.Description != "" {
		why = " after: " + helmrelease.Message(errors.New(obs.Last.Info.Description))
	} else if c := meta.FindStatusCondition(s.egw.Status.Conditions, egressv1alpha1.ConditionReleased); c != nil && c.Status == metav1.ConditionFalse &&
		c.Reason != egressv1alpha1.ReasonRolledBack && c.Reason != egressv1alpha1.ReasonUninstalled {
		why = " after: " + c.Message
	}
	if obs.LastDeployed != nil {
		err := r.Helm.Rollback(req.Namespace, req.Name, obs.LastDeployed.Version)
		r.record(ctx, s, helmOutcome{action: actionRollback, err: err,
			message: fmt.Sprintf("rolled Helm release %s back to revision %d%s", req.Name, obs.LastDeployed.Version, why)})
		s.released.Status = metav1.ConditionFalse // the waypoint runs, but not from the current spec
		return err
	}
	err := r.Helm.Uninstall(req.Namespace, req.Name)
	r.record(ctx, s, helmOutcome{action: actionUninstall, err: err,
		message: fmt.Sprintf("uninstalled failed Helm release %s to install it again%s", req.Name, why)})
	s.released.Status = metav1.ConditionFalse
	return err
}

// failedAttemptBlocks keeps the reconciler from installing or upgrading the
// same chart and values that just failed, until the spec changes or the
// retry interval passes.
func (r *EgressGatewayReconciler) failedAttemptBlocks(s *scope, state helmrelease.State, attempt string) (time.Duration, bool) {
	if state != helmrelease.StateAbsent && state != helmrelease.StateOutOfSync {
		return 0, false
	}
	w := s.egw.Status.Waypoint
	if w == nil || w.Release == nil || w.Release.FailedAttempt != attempt {
		return 0, false
	}
	c := meta.FindStatusCondition(s.egw.Status.Conditions, egressv1alpha1.ConditionReleased)
	if c == nil {
		return 0, false
	}
	wait := time.Until(c.LastTransitionTime.Add(r.retryFailedAfter()))
	return wait, wait > 0
}

// helmAction is one kind of Helm action, with the Released reasons it ends in.
type helmAction struct{ name, okReason, failReason string }

var (
	actionInstall   = helmAction{"install", egressv1alpha1.ReasonInstalled, egressv1alpha1.ReasonInstallFailed}
	actionUpgrade   = helmAction{"upgrade", egressv1alpha1.ReasonUpgraded, egressv1alpha1.ReasonUpgradeFailed}
	actionUnlock    = helmAction{"unlock", egressv1alpha1.ReasonUnlocked, egressv1alpha1.ReasonUnlockFailed}
	actionRepair    = helmAction{"repair", egressv1alpha1.ReasonDriftRepaired, egressv1alpha1.ReasonRepairFailed}
	actionRollback  = helmAction{"rollback", egressv1alpha1.ReasonRolledBack, egressv1alpha1.ReasonRollbackFailed}
	actionUninstall = helmAction{"uninstall", egressv1alpha1.ReasonUninstalled, egressv1alpha1.ReasonUninstallFailed}
)

// helmOutcome is what one Helm action did.
type helmOutcome struct {
	action helmAction
	err    error
	// message says what succeeded; a failure's message is Helm's error.
	message string
	// attempt is "<chart>/<values digest>" for an install or upgrade, whose
	// failure blocks the same attempt for a while; empty for the others.
	attempt string
}

// record counts a Helm action, logs it, sends its Event and sets the
// Released condition, all with the same message (a failure's Event adds the
// end of Helm's log).
func (r *EgressGatewayReconciler) record(ctx context.Context, s *scope, o helmOutcome) {
	metrics.RecordHelmAction(o.action.name, o.err)
	status, reason, eventType, message, note := metav1.ConditionTrue, o.action.okReason, corev1.EventTypeNormal, o.message, o.message
	if o.err != nil {
		status, reason, eventType, message = metav1.ConditionFalse, o.action.failReason, corev1.EventTypeWarning, helmrelease.Message(o.err)
		// The Event also quotes the end of Helm's log; the condition keeps
		// Helm's error alone, as it is shown in kubectl get.
		note = helmrelease.EventNote(o.err)
	}
	ctrl.LoggerFrom(ctx).Info("Helm action", "action", o.action.name, "release", waypoint.ReleaseName(s.egw),
		"chart", r.Helm.ChartVersion(), "succeeded", o.err == nil, "reason", reason, "message", message)
	s.released = condition(egressv1alpha1.ConditionReleased, status, reason, message)
	r.Recorder.Eventf(s.egw, nil, eventType, reason, o.action.name, "%s", note)
	if o.attempt != "" {
		s.failedAttempt = ""
		if o.err != nil {
			s.failedAttempt = o.attempt
		}
		s.attempted = true
	}
}

// releaseRequest names egw's release and its values.
func (r *EgressGatewayReconciler) releaseRequest(egw *egressv1alpha1.EgressGateway, values map[string]any) helmrelease.Request {
	return helmrelease.Request{
		Namespace: egw.Namespace,
		Name:      waypoint.ReleaseName(egw),
		Values:    values,
		Owner: helmrelease.OwnerRef{
			APIVersion: egressv1alpha1.GroupVersion.String(),
			Kind:       "EgressGateway",
			Name:       egw.Name,
			UID:        egw.UID,
		},
	}
}

func (r *EgressGatewayReconciler) observeRelease(_ context.Context, req helmrelease.Request) (helmrelease.Observed, error) {
	return r.Helm.Observe(req.Namespace, req.Name, waypoint.Digest)
}

// observeWaypoint reads the Gateway and the Deployment istiod made for it,
// from the cache.
func (r *EgressGatewayReconciler) observeWaypoint(ctx context.Context, s *scope) error {
	key := client.ObjectKey{Namespace: s.egw.Namespace, Name: s.gatewayName}
	gw := &gatewayv1.Gateway{}
	switch err := r.Get(ctx, key, gw); {
	case err == nil:
		s.gateway = gw
	case !apierrors.IsNotFound(err):
		return fmt.Errorf("reading Gateway %s: %w", key, err)
	}
	dep := &appsv1.Deployment{}
	switch err := r.Get(ctx, key, dep); {
	case err == nil:
		s.deployment = dep
	case !apierrors.IsNotFound(err):
		return fmt.Errorf("reading Deployment %s: %w", key, err)
	}
	return nil
}

// namespaceTerminating reports, from the cache, whether namespace is being
// deleted, when the API server refuses to create anything in it.
func (r *EgressGatewayReconciler) namespaceTerminating(ctx context.Context, namespace string) bool {
	ns := &corev1.Namespace{}
	return r.Get(ctx, client.ObjectKey{Name: namespace}, ns) == nil && !ns.DeletionTimestamp.IsZero()
}

func describe(drifts []helmrelease.Drift) string {
	parts := make([]string, 0, len(drifts))
	for _, d := range drifts {
		parts = append(parts, d.String())
	}
	return strings.Join(parts, ", ")
}
