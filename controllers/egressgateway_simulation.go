package controllers

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	istionetworkingv1 "istio.io/client-go/pkg/apis/networking/v1"
	istiosecurityv1 "istio.io/client-go/pkg/apis/security/v1"

	egressv1alpha1 "github.com/ambient-egress/ambient-egress-operator/apis/egress/v1alpha1"
	"github.com/ambient-egress/ambient-egress-operator/controllers/internal/simulation"
	"github.com/ambient-egress/ambient-egress-operator/simulator"
	"github.com/ambient-egress/ambient-egress-operator/simulator/reach"
)

// defaultSources selects the namespaces whose service accounts are callers
// when spec.simulation.sources is unset, as the API server defaults it.
var defaultSources = &metav1.LabelSelector{MatchLabels: map[string]string{"istio.io/dataplane-mode": "ambient"}}

// +kubebuilder:rbac:groups=networking.istio.io,resources=destinationrules,verbs=list;watch
// +kubebuilder:rbac:groups=security.istio.io,resources=authorizationpolicies,verbs=list;watch
// +kubebuilder:rbac:groups=core,resources=serviceaccounts,verbs=list;watch

// reconcileSimulation computes the reachability report from the cluster's
// objects, and only when their digest differs from the one in the status.
// Invalid objects are findings in the report, never errors; the error is
// set only when the inputs cannot be read.
func (r *EgressGatewayReconciler) reconcileSimulation(ctx context.Context, s *scope) (ctrl.Result, error) {
	if s.egw.Spec.Simulation.Disabled {
		s.simulationDisabled = true
		return ctrl.Result{}, nil
	}
	in, err := r.simulationInputs(ctx, s)
	if err == nil {
		var prepared *simulation.Prepared
		if prepared, err = simulation.Prepare(in); err == nil {
			err = r.simulate(ctx, s, prepared, len(in.AuthorizationPolicies))
		}
	}
	if err != nil {
		s.simulationErr = err
		return ctrl.Result{}, fmt.Errorf("simulating: %w", err)
	}
	return ctrl.Result{}, nil
}

// simulate runs the simulator unless the status already describes the same
// inputs, and records the result in s.
func (r *EgressGatewayReconciler) simulate(ctx context.Context, s *scope, prepared *simulation.Prepared, policies int) error {
	if cur := s.original.Status.Simulation; cur != nil && cur.InputsDigest == prepared.Digest {
		s.simulation = cur.DeepCopy() // same inputs, same report: nothing to do
		return nil
	}
	started := time.Now()
	report, _ := reach.Build(prepared.Input) // the error issues are findings in the report
	run := simulation.Run{Digest: prepared.Digest, Started: started, Took: time.Since(started), Policies: policies, Report: report}
	st, _, err := simulation.Status(run, simulation.DefaultBudget, s.egw.Name+"-report")
	if err != nil {
		return err
	}
	ctrl.LoggerFrom(ctx).V(1).Info("simulated", "digest", prepared.Digest, "took", run.Took,
		"destinations", st.Summary.Destinations, "groups", st.Summary.Groups, "findings", st.Summary.Findings.Total)
	s.simulation = st
	return nil
}

// simulationInputs reads, from the cache, every object the report of s.egw
// depends on.
func (r *EgressGatewayReconciler) simulationInputs(ctx context.Context, s *scope) (*simulation.Inputs, error) {
	root := r.rootNamespace()
	in := &simulation.Inputs{EgressGateway: s.egw, Gateway: s.gateway, RootNamespace: root}
	sources, err := r.sourceNamespaces(ctx, s.egw)
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	for _, name := range []string{s.egw.Namespace, root} {
		ns := corev1.Namespace{}
		if err := r.Get(ctx, client.ObjectKey{Name: name}, &ns); err != nil {
			if apierrors.IsNotFound(err) {
				continue
			}
			return nil, fmt.Errorf("reading namespace %s: %w", name, err)
		}
		seen[name] = true
		in.Namespaces = append(in.Namespaces, ns)
	}
	for i := range sources {
		ns := sources[i]
		if !seen[ns.Name] {
			seen[ns.Name] = true
			in.Namespaces = append(in.Namespaces, ns)
		}
		accounts := &metav1.PartialObjectMetadataList{}
		accounts.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("ServiceAccountList"))
		if err := r.List(ctx, accounts, client.InNamespace(ns.Name)); err != nil {
			return nil, fmt.Errorf("listing ServiceAccounts in %s: %w", ns.Name, err)
		}
		for _, a := range accounts.Items {
			in.ServiceAccounts = append(in.ServiceAccounts, reach.Ref{Namespace: a.Namespace, Name: a.Name})
		}
	}
	for _, ns := range uniq(s.egw.Namespace, root) {
		if err := r.listConfig(ctx, ns, in); err != nil {
			return nil, err
		}
	}
	return in, nil
}

// listConfig appends the ServiceEntries, DestinationRules and
// AuthorizationPolicies of one namespace to in.
func (r *EgressGatewayReconciler) listConfig(ctx context.Context, ns string, in *simulation.Inputs) error {
	var ses istionetworkingv1.ServiceEntryList
	if err := r.List(ctx, &ses, client.InNamespace(ns)); err != nil {
		return fmt.Errorf("listing ServiceEntries in %s: %w", ns, err)
	}
	var drs istionetworkingv1.DestinationRuleList
	if err := r.List(ctx, &drs, client.InNamespace(ns)); err != nil {
		return fmt.Errorf("listing DestinationRules in %s: %w", ns, err)
	}
	var aps istiosecurityv1.AuthorizationPolicyList
	if err := r.List(ctx, &aps, client.InNamespace(ns)); err != nil {
		return fmt.Errorf("listing AuthorizationPolicies in %s: %w", ns, err)
	}
	in.ServiceEntries = append(in.ServiceEntries, ses.Items...)
	in.DestinationRules = append(in.DestinationRules, drs.Items...)
	in.AuthorizationPolicies = append(in.AuthorizationPolicies, aps.Items...)
	return nil
}

// sourceNamespaces lists the namespaces spec.simulation.sources selects.
func (r *EgressGatewayReconciler) sourceNamespaces(ctx context.Context, egw *egressv1alpha1.EgressGateway) ([]corev1.Namespace, error) {
	sel, err := sourceSelector(egw)
	if err != nil {
		return nil, err
	}
	var list corev1.NamespaceList
	if err := r.List(ctx, &list, client.MatchingLabelsSelector{Selector: sel}); err != nil {
		return nil, fmt.Errorf("listing source namespaces: %w", err)
	}
	return list.Items, nil
}

// sourceSelector is spec.simulation.sources as a selector.
func sourceSelector(egw *egressv1alpha1.EgressGateway) (labels.Selector, error) {
	ls := egw.Spec.Simulation.Sources
	if ls == nil {
		ls = defaultSources
	}
	sel, err := metav1.LabelSelectorAsSelector(ls)
	if err != nil {
		return nil, fmt.Errorf("spec.simulation.sources: %w", err)
	}
	return sel, nil
}

func (r *EgressGatewayReconciler) rootNamespace() string {
	if r.RootNamespace != "" {
		return r.RootNamespace
	}
	return simulator.DefaultRootNamespace
}

func uniq(a, b string) []string {
	if a == b {
		return []string{a}
	}
	return []string{a, b}
}
