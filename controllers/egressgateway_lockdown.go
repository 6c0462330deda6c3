package controllers

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	egressv1alpha1 "github.com/ambient-egress/ambient-egress-operator/apis/egress/v1alpha1"
	"github.com/ambient-egress/ambient-egress-operator/controllers/internal/waypoint"
	"github.com/ambient-egress/ambient-egress-operator/simulator/lockdown"
)

// +kubebuilder:rbac:groups=networking.k8s.io,resources=networkpolicies,verbs=get;list;watch;create;patch;delete
// +kubebuilder:rbac:groups=core,resources=services,verbs=get;list;watch
// +kubebuilder:rbac:groups=core,resources=pods,verbs=list;watch
// +kubebuilder:rbac:groups=discovery.k8s.io,resources=endpointslices,verbs=list;watch

// gatewayNamespaceLabel names, on the NetworkPolicies a gateway writes in
// other namespaces, the gateway's namespace: owner references cannot cross
// namespaces, so these two labels are how the operator finds, prunes and
// never mistakes its own policies.
const gatewayNamespaceLabel = lockdown.LabelGatewayNamespace

// lockdownOutcome is what the lockdown phase did, for the status.
type lockdownOutcome struct {
	mode       egressv1alpha1.LockdownMode
	policy     string
	namespaces []string
	conflicts  []string
	invalid    error
	err        error
}

// reconcileLockdown writes (Enforce) or only plans (Audit) the
// NetworkPolicy of each source namespace, and prunes the ones no longer
// wanted; Off prunes them all.
func (r *EgressGatewayReconciler) reconcileLockdown(ctx context.Context, s *scope) (ctrl.Result, error) {
	mode := s.egw.Spec.Lockdown.Mode
	out := &lockdownOutcome{mode: mode, policy: lockdownPolicyName(s.egw)}
	s.lockdown = out
	if mode == "" || mode == egressv1alpha1.LockdownOff {
		out.err = r.pruneLockdown(ctx, s.egw, nil)
		return ctrl.Result{}, out.err
	}
	want, err := r.lockdownPolicies(ctx, s.egw, out)
	if err != nil || out.invalid != nil {
		out.err = err
		return ctrl.Result{}, err
	}
	for _, np := range want {
		out.namespaces = append(out.namespaces, np.Namespace)
	}
	if mode != egressv1alpha1.LockdownEnforce {
		// Audit writes nothing, and leaves nothing an earlier Enforce wrote.
		out.err = r.pruneLockdown(ctx, s.egw, nil)
		return ctrl.Result{}, out.err
	}
	keep := map[string]bool{}
	for _, np := range want {
		keep[np.Namespace] = true
		if err := r.applyLockdownPolicy(ctx, s, np, out); err != nil {
			out.err = err
			return ctrl.Result{}, err
		}
	}
	out.err = r.pruneLockdown(ctx, s.egw, keep)
	return ctrl.Result{}, out.err
}

// lockdownPolicies renders the policy of each selected source namespace,
// from the cluster DNS, the API server endpoints and the waypoint.
func (r *EgressGatewayReconciler) lockdownPolicies(ctx context.Context, egw *egressv1alpha1.EgressGateway, out *lockdownOutcome) ([]*networkingv1.NetworkPolicy, error) {
	selector, err := lockdownSelector(egw)
	if err != nil {
		out.invalid = err
		return nil, nil
	}
	var nss corev1.NamespaceList
	if err := r.List(ctx, &nss, client.MatchingLabelsSelector{Selector: selector}); err != nil {
		return nil, fmt.Errorf("listing the namespaces to lock down: %w", err)
	}
	dns, err := r.discoverDNS(ctx)
	if err != nil {
		return nil, err
	}
	api, err := r.apiServerEndpoints(ctx)
	if err != nil {
		return nil, err
	}
	var cidrs []lockdown.AllowedCIDR
	for _, c := range egw.Spec.Lockdown.AllowCIDRs {
		cidrs = append(cidrs, lockdown.AllowedCIDR{CIDR: c.CIDR, Reason: c.Reason})
	}
	in := lockdown.Input{
		Name:           out.policy,
		Labels:         map[string]string{lockdown.LabelGateway: egw.Name, gatewayNamespaceLabel: egw.Namespace},
		Waypoint:       lockdown.Peer{Namespace: egw.Namespace, Pods: map[string]string{gatewayNameLabel: waypoint.GatewayName(egw)}},
		DNS:            dns,
		APIServer:      api,
		AllowInCluster: egw.Spec.Lockdown.AllowInCluster == nil || *egw.Spec.Lockdown.AllowInCluster,
		AllowCIDRs:     cidrs,
	}
	var want []*networkingv1.NetworkPolicy
	for _, ns := range nss.Items {
		if ns.Name == egw.Namespace || !ns.DeletionTimestamp.IsZero() {
			continue // the waypoint must reach the internet; a namespace going away needs nothing
		}
		in.Namespace = ns.Name
		np, err := lockdown.Policy(in)
		if err != nil {
			out.invalid = fmt.Errorf("spec.lockdown.%w", err)
			return nil, nil
		}
		want = append(want, np)
	}
	slices.SortFunc(want, func(a, b *networkingv1.NetworkPolicy) int { return strings.Compare(a.Namespace, b.Namespace) })
	return want, nil
}

// lockdownSelector is spec.lockdown.sources as a selector, or else the
// simulation's sources.
func lockdownSelector(egw *egressv1alpha1.EgressGateway) (labels.Selector, error) {
	if egw.Spec.Lockdown.Sources == nil {
		return sourceSelector(egw)
	}
	sel, err := metav1.LabelSelectorAsSelector(egw.Spec.Lockdown.Sources.AsMeta())
	if err != nil {
		return nil, &invalidSelectorError{field: "spec.lockdown.sources", err: err}
	}
	return sel, nil
}

// discoverDNS finds the cluster DNS Service among the known ones, in the
// cache, which holds exactly those (and watches them).
func (r *EgressGatewayReconciler) discoverDNS(ctx context.Context) (lockdown.Peer, error) {
	var tried []string
	for _, ref := range lockdown.DNSCandidates {
		svc := &corev1.Service{}
		err := r.Get(ctx, client.ObjectKey{Namespace: ref.Namespace, Name: ref.Name}, svc)
		if apierrors.IsNotFound(err) {
			tried = append(tried, ref.Namespace+"/"+ref.Name)
			continue
		}
		if err != nil {
			return lockdown.Peer{}, fmt.Errorf("reading the DNS Service %s/%s: %w", ref.Namespace, ref.Name, err)
		}
		return lockdown.DNSPeer(svc)
	}
	return lockdown.Peer{}, fmt.Errorf("no cluster DNS Service found (tried %s): a lockdown without DNS would break every pod", strings.Join(tried, ", "))
}

// apiServerEndpoints reads the kubernetes Service's EndpointSlices from
// the cache, which holds (and watches) exactly those.
func (r *EgressGatewayReconciler) apiServerEndpoints(ctx context.Context) ([]lockdown.Endpoint, error) {
	var list discoveryv1.EndpointSliceList
	if err := r.List(ctx, &list, client.InNamespace(metav1.NamespaceDefault),
		client.MatchingLabels{discoveryv1.LabelServiceName: "kubernetes"}); err != nil {
		return nil, fmt.Errorf("listing the API server's EndpointSlices: %w", err)
	}
	eps, err := lockdown.APIServerEndpoints(list.Items)
	if err != nil {
		return nil, fmt.Errorf("the API server's endpoints: %w", err)
	}
	return eps, nil
}

// applyLockdownPolicy creates or updates one policy; a same-named policy
// the gateway did not write is a conflict, left alone.
func (r *EgressGatewayReconciler) applyLockdownPolicy(ctx context.Context, s *scope, want *networkingv1.NetworkPolicy, out *lockdownOutcome) error {
	cur := &networkingv1.NetworkPolicy{}
	switch err := r.Get(ctx, client.ObjectKeyFromObject(want), cur); {
	case apierrors.IsNotFound(err):
		if err := r.Create(ctx, want); err != nil {
			if apierrors.IsAlreadyExists(err) {
				// Not in the cache, which holds only labeled policies:
				// someone else's.
				out.conflicts = append(out.conflicts, want.Namespace+"/"+want.Name+" exists and was not written by this EgressGateway")
				r.Recorder.Eventf(s.egw, want, corev1.EventTypeWarning, egressv1alpha1.ReasonConflict, "Lockdown",
					"NetworkPolicy %s/%s exists and was not written by this EgressGateway: left alone, so namespace %s is not locked down", want.Namespace, want.Name, want.Namespace)
				return nil
			}
			return fmt.Errorf("creating NetworkPolicy %s/%s: %w", want.Namespace, want.Name, err)
		}
		r.Recorder.Eventf(s.egw, want, corev1.EventTypeNormal, "Created", "Lockdown",
			"created NetworkPolicy %s/%s: direct egress from %s now goes only to DNS, the waypoint, the API server and the allowed ranges", want.Namespace, want.Name, want.Namespace)
		return nil
	case err != nil:
		return fmt.Errorf("reading NetworkPolicy %s/%s: %w", want.Namespace, want.Name, err)
	}
	if !ownsLockdownPolicy(s.egw, cur) {
		out.conflicts = append(out.conflicts, want.Namespace+"/"+want.Name+" exists and was not written by this EgressGateway")
		r.Recorder.Eventf(s.egw, cur, corev1.EventTypeWarning, egressv1alpha1.ReasonConflict, "Lockdown",
			"NetworkPolicy %s/%s exists and was not written by this EgressGateway: left alone, so namespace %s is not locked down", cur.Namespace, cur.Name, cur.Namespace)
		return nil
	}
	if equality.Semantic.DeepEqual(cur.Spec, want.Spec) && equality.Semantic.DeepEqual(cur.Labels, want.Labels) {
		return nil
	}
	before := cur.DeepCopy()
	cur.Spec, cur.Labels = want.Spec, want.Labels
	if err := r.Patch(ctx, cur, client.MergeFrom(before)); err != nil {
		return fmt.Errorf("updating NetworkPolicy %s/%s: %w", want.Namespace, want.Name, err)
	}
	r.Recorder.Eventf(s.egw, cur, corev1.EventTypeNormal, "Updated", "Lockdown", "updated NetworkPolicy %s/%s to spec.lockdown", cur.Namespace, cur.Name)
	return nil
}

// pruneLockdown deletes the policies the gateway wrote, except those in
// keep. It finds them by their labels, never by the spec, so a delete
// undoes what was written whatever the spec says now.
func (r *EgressGatewayReconciler) pruneLockdown(ctx context.Context, egw *egressv1alpha1.EgressGateway, keep map[string]bool) error {
	var list networkingv1.NetworkPolicyList
	if err := r.List(ctx, &list, client.MatchingLabels{lockdown.LabelGateway: egw.Name, gatewayNamespaceLabel: egw.Namespace}); err != nil {
		return fmt.Errorf("listing the lockdown NetworkPolicies: %w", err)
	}
	var errs []error
	for i := range list.Items {
		np := &list.Items[i]
		if keep[np.Namespace] && np.Name == lockdownPolicyName(egw) {
			continue
		}
		if err := r.Delete(ctx, np); client.IgnoreNotFound(err) != nil {
			errs = append(errs, fmt.Errorf("deleting NetworkPolicy %s/%s: %w", np.Namespace, np.Name, err))
			continue
		}
		r.Recorder.Eventf(egw, np, corev1.EventTypeNormal, "Deleted", "Lockdown", "deleted NetworkPolicy %s/%s: its namespace is no longer locked down by this EgressGateway", np.Namespace, np.Name)
	}
	return errors.Join(errs...)
}

func ownsLockdownPolicy(egw *egressv1alpha1.EgressGateway, np *networkingv1.NetworkPolicy) bool {
	return np.Labels[lockdown.LabelGateway] == egw.Name && np.Labels[gatewayNamespaceLabel] == egw.Namespace
}

// lockdownPolicyName is the name of the gateway's policy in every source
// namespace; a name too long for an object is cut and made unique by a
// digest.
func lockdownPolicyName(egw *egressv1alpha1.EgressGateway) string {
	return lockdown.PolicyName(egw.Namespace, egw.Name)
}

// lockdownCondition is LockedDown, nil when the mode is Off (the condition
// is then removed).
func lockdownCondition(out *lockdownOutcome) *metav1.Condition {
	switch {
	case out.mode == "" || out.mode == egressv1alpha1.LockdownOff:
		return nil
	case out.invalid != nil:
		return condition(egressv1alpha1.ConditionLockedDown, metav1.ConditionFalse, egressv1alpha1.ReasonInvalidLockdown, out.invalid.Error())
	case out.err != nil:
		return condition(egressv1alpha1.ConditionLockedDown, metav1.ConditionFalse, egressv1alpha1.ReasonApplyFailed,
			"the lockdown could not be applied (retrying): "+out.err.Error())
	case len(out.conflicts) > 0:
		return condition(egressv1alpha1.ConditionLockedDown, metav1.ConditionFalse, egressv1alpha1.ReasonConflict,
			"NetworkPolicy "+strings.Join(out.conflicts, "; ")+": rename or delete it, or leave its namespace out of spec.lockdown.sources")
	case out.mode == egressv1alpha1.LockdownAudit:
		return condition(egressv1alpha1.ConditionLockedDown, metav1.ConditionFalse, egressv1alpha1.ReasonAudit,
			fmt.Sprintf("audit only: Enforce would write NetworkPolicy %s in %s", out.policy, namespacesText(out.namespaces)))
	}
	return condition(egressv1alpha1.ConditionLockedDown, metav1.ConditionTrue, egressv1alpha1.ReasonEnforced,
		fmt.Sprintf("NetworkPolicy %s in %s allows egress only to DNS, the waypoint, the API server, the allowed ranges and (allowInCluster) other pods",
			out.policy, namespacesText(out.namespaces)))
}

func namespacesText(nss []string) string {
	switch len(nss) {
	case 0:
		return "no namespace (spec.lockdown.sources selects none)"
	case 1:
		return "namespace " + nss[0]
	}
	return fmt.Sprintf("%d namespaces: %s", len(nss), strings.Join(nss, ", "))
}

// lockdownStatus is status.lockdown, nil when the mode is Off.
func lockdownStatus(out *lockdownOutcome) *egressv1alpha1.LockdownStatus {
	if out.mode == "" || out.mode == egressv1alpha1.LockdownOff {
		return nil
	}
	return &egressv1alpha1.LockdownStatus{Mode: out.mode, PolicyName: out.policy, Namespaces: out.namespaces}
}

// gatewaysOfLockdownPolicy maps a lockdown NetworkPolicy to the gateway
// its labels name, so an edit or a delete of it is repaired.
func (r *EgressGatewayReconciler) gatewaysOfLockdownPolicy(ctx context.Context, np client.Object) []ctrl.Request {
	// Every NetworkPolicy of a source namespace is an input of the
	// gateways' reports (what the sources reach directly); a lockdown
	// policy also belongs to the gateway that wrote it, wherever it is.
	reqs := r.gatewaysSourcing(ctx, np)
	l := np.GetLabels()
	if l[lockdown.LabelGateway] == "" || l[gatewayNamespaceLabel] == "" {
		return reqs
	}
	own := ctrl.Request{NamespacedName: client.ObjectKey{Namespace: l[gatewayNamespaceLabel], Name: l[lockdown.LabelGateway]}}
	if slices.Contains(reqs, own) {
		return reqs
	}
	return append(reqs, own)
}
