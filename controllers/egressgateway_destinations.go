package controllers

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"google.golang.org/protobuf/proto"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	istionetworkingv1 "istio.io/client-go/pkg/apis/networking/v1"
	istiosecurityv1 "istio.io/client-go/pkg/apis/security/v1"
	istiotelemetryv1 "istio.io/client-go/pkg/apis/telemetry/v1"

	egressv1alpha1 "github.com/ambient-egress/ambient-egress-operator/apis/egress/v1alpha1"
	"github.com/ambient-egress/ambient-egress-operator/controllers/internal/destinations"
	"github.com/ambient-egress/ambient-egress-operator/simulator/lockdown"
)

// destinationsOutcome is what reconcileDestinations observed, for the
// DestinationsReady condition.
type destinationsOutcome struct {
	// applied counts the ServiceEntries and DestinationRules that exist as
	// rendered, policies the AuthorizationPolicies.
	applied, policies int
	// conflicts are objects of the names we need that we do not own.
	conflicts []string
	// problems are destinations we cannot render, or whose objects the API
	// server rejected.
	problems []string
	// err stopped the phase; it is retried.
	err error
}

// rendered counts one object of kind that exists as rendered.
func (out *destinationsOutcome) rendered(kind string) {
	if kind == "AuthorizationPolicy" {
		out.policies++
		return
	}
	out.applied++
}

// +kubebuilder:rbac:groups=networking.istio.io,resources=serviceentries,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups=networking.istio.io,resources=destinationrules,verbs=get;list;watch;create;update;patch;delete

// reconcileDestinations creates or updates the ServiceEntry and
// DestinationRule each spec.destinations entry asks for, owned by the
// EgressGateway, and deletes those it owns that are no longer asked for. An
// object of a needed name that the gateway does not own is left alone: it
// is a conflict, reported in DestinationsReady and a Warning Event.
func (r *EgressGatewayReconciler) reconcileDestinations(ctx context.Context, s *scope) (ctrl.Result, error) {
	istio, st, err := r.istioOf(ctx, s.egw)
	if err != nil {
		return ctrl.Result{}, err
	}
	s.istio, s.istioStatus = istio, st
	rendered := destinations.Render(s.egw, istio)
	out := &destinationsOutcome{}
	for _, p := range rendered.Problems {
		out.problems = append(out.problems, fmt.Sprintf("destination %s: %s", p.Host, p.Message))
	}
	wantSE, wantDR, wantAP := map[string]bool{}, map[string]bool{}, map[string]bool{}
	var result ctrl.Result
	for _, h := range rendered.Hosts {
		wantSE[h.ServiceEntry.Name] = true
		conflicts := len(out.conflicts)
		res, err := r.applyDestinationObject(ctx, s, h.ServiceEntry, out)
		result = soonest(result, res)
		if err != nil {
			return result, r.destinationsFailed(s, out, err)
		}
		// Over someone else's ServiceEntry our DestinationRule and
		// policies would change traffic we do not declare: they wait for
		// the conflict to go, and those we own, if any, are deleted.
		if len(out.conflicts) > conflicts {
			continue
		}
		var deps []client.Object
		if h.DestinationRule != nil {
			wantDR[h.DestinationRule.Name] = true
			deps = append(deps, h.DestinationRule)
		}
		for _, ap := range h.Policies {
			wantAP[ap.Name] = true
			deps = append(deps, ap)
		}
		for _, obj := range deps {
			res, err = r.applyDestinationObject(ctx, s, obj, out)
			result = soonest(result, res)
			if err != nil {
				return result, r.destinationsFailed(s, out, err)
			}
		}
	}
	if err := r.pruneDestinations(ctx, s, wantSE, wantDR, wantAP); err != nil {
		return result, r.destinationsFailed(s, out, err)
	}
	s.declared = out
	r.warnDestinations(s, out)
	return result, nil
}

// destinationsFailed records err, which stops the phase, in the outcome and
// returns it for a retry with backoff.
func (r *EgressGatewayReconciler) destinationsFailed(s *scope, out *destinationsOutcome, err error) error {
	out.err = err
	s.declared = out
	r.warnDestinations(s, out)
	return err
}

// applyDestinationObject applies one object of spec.destinations
// (applyOwnedObject) and records the outcome.
func (r *EgressGatewayReconciler) applyDestinationObject(ctx context.Context, s *scope, want client.Object, out *destinationsOutcome) (ctrl.Result, error) {
	// Read before the write: creating want decodes the API server's answer
	// into it, which leaves its kind empty.
	kind := want.GetObjectKind().GroupVersionKind().Kind
	res, err := r.applyOwnedObject(ctx, s, want, "spec.destinations")
	switch {
	case err != nil:
		return ctrl.Result{}, err
	case res.conflict != "":
		out.conflicts = append(out.conflicts, res.conflict)
	case res.invalid != "":
		out.problems = append(out.problems, res.invalid)
	case res.applied:
		out.rendered(kind)
	}
	return res.result, nil
}

// applied is what applyOwnedObject did with an object.
type applied struct {
	// applied is set when the object exists as rendered.
	applied bool
	// conflict names an object of the name the gateway does not own;
	// invalid is the API server's reason for refusing the object.
	conflict, invalid string
	// result asks for a look again (the cache has not seen a new object).
	result ctrl.Result
}

// applyOwnedObject creates want, owned by the gateway, or brings the object
// of its name back to it when the gateway owns that object; an object of
// the name that the gateway does not own is left alone (a conflict). Only
// the spec, the managed label and the owner reference are written: other
// labels and annotations (enrollment's istio.io/use-waypoint, say) stay.
// purpose names the spec field the object is for, in Events.
func (r *EgressGatewayReconciler) applyOwnedObject(ctx context.Context, s *scope, want client.Object, purpose string) (applied, error) {
	kind := want.GetObjectKind().GroupVersionKind().Kind
	key := client.ObjectKeyFromObject(want)
	cur := emptyLike(want)
	err := r.Get(ctx, key, cur)
	switch {
	case apierrors.IsNotFound(err):
		if err := controllerutil.SetControllerReference(s.egw, want, r.Scheme); err != nil {
			return applied{}, err
		}
		if err := r.Create(ctx, want); err != nil {
			switch {
			case apierrors.IsAlreadyExists(err):
				// The cache has not seen it yet: look again shortly.
				return applied{result: ctrl.Result{RequeueAfter: afterAction}}, nil
			case apierrors.IsInvalid(err):
				return applied{invalid: fmt.Sprintf("%s %s was rejected: %s", kind, key.Name, apiMessage(err))}, nil
			}
			return applied{}, fmt.Errorf("creating %s %s: %w", kind, key.Name, err)
		}
		r.Recorder.Eventf(s.egw, want, corev1.EventTypeNormal, "Created", "Create"+kind,
			"created %s %s for %s", kind, key.Name, purpose)
		return applied{applied: true}, nil
	case err != nil:
		return applied{}, fmt.Errorf("reading %s %s: %w", kind, key.Name, err)
	}
	if !metav1.IsControlledBy(cur, s.egw) {
		return applied{conflict: fmt.Sprintf("%s %s/%s%s", kind, key.Namespace, key.Name, controlledBy(cur))}, nil
	}
	before := cur.DeepCopyObject().(client.Object)
	changed := copySpec(want, cur)
	labels := cur.GetLabels()
	if labels[lockdown.LabelGateway] != s.egw.Name {
		if labels == nil {
			labels = map[string]string{}
		}
		labels[lockdown.LabelGateway] = s.egw.Name
		cur.SetLabels(labels)
		changed = true
	}
	if !changed {
		return applied{applied: true}, nil
	}
	// A merge patch without optimistic lock: it names only our fields, so
	// it cannot undo a label another writer just added.
	if err := r.Patch(ctx, cur, client.MergeFrom(before)); err != nil {
		if apierrors.IsInvalid(err) {
			return applied{invalid: fmt.Sprintf("%s %s was rejected: %s", kind, key.Name, apiMessage(err))}, nil
		}
		return applied{}, fmt.Errorf("updating %s %s: %w", kind, key.Name, err)
	}
	r.Recorder.Eventf(s.egw, cur, corev1.EventTypeNormal, "Updated", "Update"+kind,
		"updated %s %s to %s", kind, key.Name, purpose)
	return applied{applied: true}, nil
}

// emptyLike returns an empty object of obj's type.
func emptyLike(obj client.Object) client.Object {
	switch obj.(type) {
	case *istionetworkingv1.ServiceEntry:
		return &istionetworkingv1.ServiceEntry{}
	case *istionetworkingv1.DestinationRule:
		return &istionetworkingv1.DestinationRule{}
	case *istiosecurityv1.AuthorizationPolicy:
		return &istiosecurityv1.AuthorizationPolicy{}
	case *istiotelemetryv1.Telemetry:
		return &istiotelemetryv1.Telemetry{}
	}
	panic(fmt.Sprintf("destinations: unexpected object type %T", obj))
}

// copySpec sets cur's spec to want's and reports whether it changed.
func copySpec(want, cur client.Object) bool {
	var w, c proto.Message
	switch cur := cur.(type) {
	case *istionetworkingv1.ServiceEntry:
		w, c = &want.(*istionetworkingv1.ServiceEntry).Spec, &cur.Spec
	case *istionetworkingv1.DestinationRule:
		w, c = &want.(*istionetworkingv1.DestinationRule).Spec, &cur.Spec
	case *istiosecurityv1.AuthorizationPolicy:
		w, c = &want.(*istiosecurityv1.AuthorizationPolicy).Spec, &cur.Spec
	case *istiotelemetryv1.Telemetry:
		w, c = &want.(*istiotelemetryv1.Telemetry).Spec, &cur.Spec
	}
	if proto.Equal(w, c) {
		return false
	}
	proto.Reset(c)
	proto.Merge(c, w)
	return true
}

// controlledBy names the controller of obj, if any, for a conflict message.
func controlledBy(obj client.Object) string {
	if ref := metav1.GetControllerOf(obj); ref != nil {
		return fmt.Sprintf(" (controlled by %s %s)", ref.Kind, ref.Name)
	}
	return ""
}

// apiMessage is the API server's reason for rejecting an object.
func apiMessage(err error) string {
	if st, ok := err.(apierrors.APIStatus); ok {
		return st.Status().Message
	}
	return err.Error()
}

// pruneDestinations deletes the ServiceEntries, DestinationRules and
// AuthorizationPolicies the gateway controls that spec.destinations no
// longer asks for, found by owner reference so that a label someone removed
// does not hide one.
func (r *EgressGatewayReconciler) pruneDestinations(ctx context.Context, s *scope, wantSE, wantDR, wantAP map[string]bool) error {
	var ses istionetworkingv1.ServiceEntryList
	if err := r.List(ctx, &ses, client.InNamespace(s.egw.Namespace)); err != nil {
		return fmt.Errorf("listing ServiceEntries in %s: %w", s.egw.Namespace, err)
	}
	var drs istionetworkingv1.DestinationRuleList
	if err := r.List(ctx, &drs, client.InNamespace(s.egw.Namespace)); err != nil {
		return fmt.Errorf("listing DestinationRules in %s: %w", s.egw.Namespace, err)
	}
	var aps istiosecurityv1.AuthorizationPolicyList
	if err := r.List(ctx, &aps, client.InNamespace(s.egw.Namespace)); err != nil {
		return fmt.Errorf("listing AuthorizationPolicies in %s: %w", s.egw.Namespace, err)
	}
	stale := staleOf(ses.Items, wantSE, s.egw)
	stale = append(stale, staleOf(drs.Items, wantDR, s.egw)...)
	stale = append(stale, staleOf(aps.Items, wantAP, s.egw)...)
	for _, obj := range stale {
		kind := "ServiceEntry"
		switch obj.(type) {
		case *istionetworkingv1.DestinationRule:
			kind = "DestinationRule"
		case *istiosecurityv1.AuthorizationPolicy:
			kind = "AuthorizationPolicy"
		}
		// Delete only the object we saw: a same-named one someone created
		// since is not ours.
		pre := client.Preconditions{UID: new(obj.GetUID())}
		if err := r.Delete(ctx, obj, pre); client.IgnoreNotFound(err) != nil {
			if apierrors.IsConflict(err) {
				continue
			}
			return fmt.Errorf("deleting %s %s: %w", kind, obj.GetName(), err)
		}
		r.Recorder.Eventf(s.egw, obj, corev1.EventTypeNormal, "Deleted", "DeleteDestination",
			"deleted %s %s: no longer in spec.destinations", kind, obj.GetName())
	}
	return nil
}

// staleOf lists the objects owner controls that want does not name.
func staleOf[T client.Object](items []T, want map[string]bool, owner client.Object) []client.Object {
	var out []client.Object
	for _, obj := range items {
		if !want[obj.GetName()] && metav1.IsControlledBy(obj, owner) {
			out = append(out, obj)
		}
	}
	return out
}

// warnDestinations sends a Warning Event when the DestinationsReady
// condition is about to say something new that needs a person: the Event
// is not repeated on every reconcile while nothing changes.
func (r *EgressGatewayReconciler) warnDestinations(s *scope, out *destinationsOutcome) {
	c := destinationsReadyCondition(out, len(s.egw.Spec.Destinations))
	if c == nil || c.Status == metav1.ConditionTrue {
		return
	}
	if old := meta.FindStatusCondition(s.original.Status.Conditions, egressv1alpha1.ConditionDestinationsReady); old != nil &&
		old.Reason == c.Reason && old.Message == c.Message {
		return
	}
	r.Recorder.Eventf(s.egw, nil, corev1.EventTypeWarning, c.Reason, "ApplyDestinations", "%s", c.Message)
}

// destinationsReadyCondition is nil when there is nothing to say (no
// destinations, nothing owned), False with reason Conflict when an object of
// a needed name belongs to someone else, InvalidDestination when a
// destination cannot be created, and True/Applied otherwise.
func destinationsReadyCondition(out *destinationsOutcome, declared int) *metav1.Condition {
	const t = egressv1alpha1.ConditionDestinationsReady
	switch {
	case out == nil:
		return nil
	case out.err != nil:
		return condition(t, metav1.ConditionFalse, egressv1alpha1.ReasonApplyFailed,
			"applying spec.destinations failed, the operator retries: "+out.err.Error())
	case len(out.conflicts) > 0:
		conflicts := append([]string(nil), out.conflicts...)
		sort.Strings(conflicts)
		msg := fmt.Sprintf("%s already exists and is not owned by this EgressGateway, so the operator leaves it as it is: delete it to let the operator create its own, or remove its host from spec.destinations",
			strings.Join(conflicts, ", "))
		if len(out.problems) > 0 {
			msg += "; also: " + strings.Join(out.problems, "; ")
		}
		return condition(t, metav1.ConditionFalse, egressv1alpha1.ReasonConflict, msg)
	case len(out.problems) > 0:
		return condition(t, metav1.ConditionFalse, egressv1alpha1.ReasonInvalidDestination, strings.Join(out.problems, "; "))
	case declared == 0:
		return nil
	}
	objects := count(out.applied, "ServiceEntry or DestinationRule", "ServiceEntries and DestinationRules")
	if out.policies > 0 {
		objects += " and " + count(out.policies, "AuthorizationPolicy", "AuthorizationPolicies")
	}
	return condition(t, metav1.ConditionTrue, egressv1alpha1.ReasonApplied,
		fmt.Sprintf("spec.destinations: %s, %s as rendered", count(declared, "host", "hosts"), objects))
}
