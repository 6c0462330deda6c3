package controllers

import (
	"context"
	"errors"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	istionetworkingv1 "istio.io/client-go/pkg/apis/networking/v1"

	egressv1alpha1 "github.com/ambient-egress/ambient-egress-operator/apis/egress/v1alpha1"
	"github.com/ambient-egress/ambient-egress-operator/controllers/internal/enrollment"
	"github.com/ambient-egress/ambient-egress-operator/controllers/internal/waypoint"
)

// reconcileEnrollment labels the namespace or the selected ServiceEntries
// with istio.io/use-waypoint, removes the labels it added that are no
// longer wanted, and leaves labels others own alone.
func (r *EgressGatewayReconciler) reconcileEnrollment(ctx context.Context, s *scope) (ctrl.Result, error) {
	in, err := r.enrollmentInput(ctx, s.egw)
	if invalid, ok := errors.AsType[*invalidSelectorError](err); ok {
		// The user's to fix: said on Enrolled and in an Event, not
		// retried with backoff; the next spec change reconciles again.
		s.enrollmentErr = invalid
		r.Recorder.Eventf(s.egw, nil, corev1.EventTypeWarning, egressv1alpha1.ReasonInvalidSelector, "Enroll", "%s", invalid.Error())
		return ctrl.Result{}, nil
	}
	if err != nil {
		return ctrl.Result{}, r.enrollmentFailed(s, err)
	}
	plan := enrollment.NewPlan(in)
	if err := enrollment.Apply(ctx, r.Client, plan.Changes, enrollmentObject(s.egw.Namespace)); err != nil {
		return ctrl.Result{}, r.enrollmentFailed(s, err)
	}
	s.enrollment = &plan
	return ctrl.Result{}, nil
}

// enrollmentFailed records a read or write of the enrollment that failed,
// for Enrolled and a Warning Event, and returns it for a retry.
func (r *EgressGatewayReconciler) enrollmentFailed(s *scope, err error) error {
	s.enrollmentFailed = err
	r.Recorder.Eventf(s.egw, nil, corev1.EventTypeWarning, egressv1alpha1.ReasonApplyFailed, "Enroll", "%s", err.Error())
	return err
}

// enrollmentInput reads, from the cache, what an enrollment plan for egw
// depends on.
func (r *EgressGatewayReconciler) enrollmentInput(ctx context.Context, egw *egressv1alpha1.EgressGateway) (enrollment.Input, error) {
	self, err := enrollmentGateway(egw)
	if err != nil {
		return enrollment.Input{}, err
	}
	in := enrollment.Input{Self: self, Deleting: !egw.DeletionTimestamp.IsZero()}
	ns := &corev1.Namespace{}
	if err := r.Get(ctx, client.ObjectKey{Name: egw.Namespace}, ns); err != nil {
		return in, fmt.Errorf("reading namespace %s: %w", egw.Namespace, err)
	}
	in.Namespace = enrollment.Target{Kind: enrollment.KindNamespace, Name: ns.Name, Labels: ns.Labels, Annotations: ns.Annotations}
	var ses istionetworkingv1.ServiceEntryList
	if err := r.List(ctx, &ses, client.InNamespace(egw.Namespace)); err != nil {
		return in, fmt.Errorf("listing ServiceEntries in %s: %w", egw.Namespace, err)
	}
	for _, se := range ses.Items {
		in.ServiceEntries = append(in.ServiceEntries, enrollment.Target{
			Kind: enrollment.KindServiceEntry, Name: se.Name, Labels: se.Labels, Annotations: se.Annotations,
		})
	}
	var peers egressv1alpha1.EgressGatewayList
	if err := r.List(ctx, &peers, client.InNamespace(egw.Namespace)); err != nil {
		return in, fmt.Errorf("listing EgressGateways in %s: %w", egw.Namespace, err)
	}
	for i := range peers.Items {
		p := &peers.Items[i]
		if p.Name == egw.Name || !p.DeletionTimestamp.IsZero() {
			continue
		}
		if g, err := enrollmentGateway(p); err == nil {
			in.Others = append(in.Others, g)
		}
	}
	return in, nil
}

// enrollmentGateway describes egw as the enrollment plan sees it.
func enrollmentGateway(egw *egressv1alpha1.EgressGateway) (enrollment.Gateway, error) {
	g := enrollment.Gateway{
		Name:            egw.Name,
		Created:         egw.CreationTimestamp.Time,
		Waypoint:        waypoint.GatewayName(egw),
		EnrollNamespace: egw.Spec.EnrollsNamespace(),
	}
	// A gateway being deleted undoes what its annotations record, never
	// what its spec would select: a selector that does not parse must not
	// keep the finalizer forever.
	if egw.Spec.ServiceEntrySelector != nil && !g.EnrollNamespace && egw.DeletionTimestamp.IsZero() {
		sel, err := metav1.LabelSelectorAsSelector(egw.Spec.ServiceEntrySelector.AsMeta())
		if err != nil {
			return g, &invalidSelectorError{field: "spec.serviceEntrySelector", err: err}
		}
		g.Selector = sel
	}
	return g, nil
}

// invalidSelectorError is a label selector of the spec the operator cannot
// parse. The CRD refuses every such selector today; one stored under an
// earlier version of the CRD (which checked operators, not key and value
// syntax) can still carry one after an upgrade, as stored objects are not
// validated again.
type invalidSelectorError struct {
	field string
	err   error
}

func (e *invalidSelectorError) Error() string {
	return e.field + " is not a valid label selector: " + e.err.Error()
}

func (e *invalidSelectorError) Unwrap() error { return e.err }

// enrollmentObject returns, for a plan target, an empty object to patch.
func enrollmentObject(namespace string) func(enrollment.Target) client.Object {
	return func(t enrollment.Target) client.Object {
		if t.Kind == enrollment.KindNamespace {
			return &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: t.Name}}
		}
		return &istionetworkingv1.ServiceEntry{ObjectMeta: metav1.ObjectMeta{Name: t.Name, Namespace: namespace}}
	}
}
