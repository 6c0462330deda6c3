package controllers

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	istionetworkingv1 "istio.io/client-go/pkg/apis/networking/v1"
	istiosecurityv1 "istio.io/client-go/pkg/apis/security/v1"

	egressv1alpha1 "github.com/ambient-egress/ambient-egress-operator/apis/egress/v1alpha1"
	"github.com/ambient-egress/ambient-egress-operator/controllers/internal/metrics"
	"github.com/ambient-egress/ambient-egress-operator/controllers/internal/reporting"
	"github.com/ambient-egress/ambient-egress-operator/simulator/lockdown"
	"github.com/ambient-egress/ambient-egress-operator/simulator/reach"
)

// defaultSources selects the namespaces whose service accounts are callers
// when spec.simulation.sources is unset, as the API server defaults it.
var defaultSources = &metav1.LabelSelector{MatchLabels: map[string]string{"istio.io/dataplane-mode": "ambient"}}

// +kubebuilder:rbac:groups=networking.istio.io,resources=destinationrules,verbs=list;watch
// +kubebuilder:rbac:groups=security.istio.io,resources=authorizationpolicies,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups=security.istio.io,resources=requestauthentications,verbs=list;watch
// +kubebuilder:rbac:groups=core,resources=serviceaccounts,verbs=list;watch

// reconcileSimulation computes the reachability report from the cluster's
// objects, and only when their digest differs from the one in the status.
// Invalid objects are findings in the report, never errors; the error is
// set only when the inputs cannot be read.
func (r *EgressGatewayReconciler) reconcileSimulation(ctx context.Context, s *scope) (ctrl.Result, error) {
	if s.egw.Spec.Simulation.Disabled {
		r.forgetSimulation(client.ObjectKeyFromObject(s.egw))
		s.simulationDisabled = true
		metrics.ForgetReport(s.egw.Namespace, s.egw.Name)
		return ctrl.Result{}, r.deleteReport(ctx, s)
	}
	in, err := r.simulationInputs(ctx, s)
	if err == nil {
		var prepared *reporting.Prepared
		if prepared, err = reporting.Prepare(in, r.encodingsOf(client.ObjectKeyFromObject(s.egw))); err == nil {
			s.prepared = prepared
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
// inputs (and the report ConfigMap it names is current), and records the
// result in s. The full report goes to a ConfigMap when the status cannot
// hold it.
func (r *EgressGatewayReconciler) simulate(ctx context.Context, s *scope, prepared *reporting.Prepared, policies int) error {
	if cur := s.original.Status.Simulation; cur != nil && cur.InputsDigest == prepared.Digest {
		current, err := r.reportCurrent(ctx, s, cur)
		if err != nil {
			return err
		}
		if current {
			// Same inputs, same report: nothing to do. The findings
			// later phases added go, so that the conditions computed
			// from the report are those of the report alone; the
			// status adds them again.
			s.simulation = withoutPhaseFindings(cur.DeepCopy())
			s.destinations = s.original.Status.Destinations
			return nil
		}
	}
	in := prepared.Input
	in.Budget = r.simulationBudget()
	// The simulation runs beside the reconcile; a slow one is picked up
	// by the reconcile its end triggers. The error issues are findings in
	// the report; the only error is a cancellation (the manager stopping).
	job, done, err := r.sims.result(ctx, client.ObjectKeyFromObject(s.egw), prepared, in, simulationGrace)
	if err != nil {
		return err
	}
	if !done {
		s.simulationSince = job.started
		return nil
	}
	report := job.report
	run := reporting.Run{Digest: prepared.Digest, Started: job.started, Took: job.took, Policies: policies, Report: report}
	metrics.RecordSimulation(s.egw.Namespace, s.egw.Name, run.Took)
	st, dests, full, err := reporting.Status(run, r.statusBudget(), reporting.ReportName(s.egw.Name), s.egw.Namespace+"/"+s.gatewayName)
	if err != nil {
		return err
	}
	ctrl.LoggerFrom(ctx).V(1).Info("simulated", "digest", prepared.Digest, "took", run.Took,
		"destinations", st.Summary.Destinations, "groups", st.Summary.Groups, "findings", st.Summary.Findings.Total, "truncated", !full)
	if full {
		err = r.deleteReport(ctx, s)
	} else {
		err = r.writeReport(ctx, s, prepared.Digest, report)
		if errors.Is(err, reporting.ErrReportTooLarge) {
			st.ReportConfigMap, err = "", nil
			st.Truncated += "; the full report is too large for a ConfigMap, run egressctl simulate on the same objects"
		}
	}
	if err != nil {
		return err
	}
	metrics.RecordReport(s.egw.Namespace, s.egw.Name, st.Summary.Pairs.All, st.Summary.Pairs.Partial, st.Summary.Pairs.None, st.Summary.DirectEgress, report.Findings)
	s.simulation, s.destinations = st, dests
	if n := st.Summary.InexactDestinations; n > 0 {
		r.Recorder.Eventf(s.egw, nil, corev1.EventTypeWarning, egressv1alpha1.ReasonTooComplex, "Simulate",
			"%d destination(s) exceeded the simulation budget in %s; their entries are inexact (access unknown): %s",
			n, run.Took.Round(time.Millisecond), tooComplexObjects(report))
	}
	return nil
}

// simulationBudget is the reconciler's budget with the report's time cap
// defaulted: a simulation is never the reason a reconcile runs long.
func (r *EgressGatewayReconciler) simulationBudget() reach.Budget {
	b := r.SimulationBudget
	if b.Total == 0 {
		b.Total = DefaultSimulationTimeout
	}
	return b
}

// tooComplexObjects lists the ServiceEntries the ReportTooComplex findings
// name, for the Event.
func tooComplexObjects(report *reach.Report) string {
	var out []string
	for _, f := range report.Findings {
		if f.Code == reach.CodeReportTooComplex && !slices.Contains(out, f.Object) {
			out = append(out, f.Object)
		}
	}
	return strings.Join(out, ", ")
}

// reportCurrent reports whether the ConfigMap cur names, if any, holds the
// report of cur's inputs; someone may have deleted or edited it.
func (r *EgressGatewayReconciler) reportCurrent(ctx context.Context, s *scope, cur *egressv1alpha1.SimulationStatus) (bool, error) {
	if cur.ReportConfigMap == "" {
		return true, nil
	}
	cm := &corev1.ConfigMap{}
	if err := r.Get(ctx, client.ObjectKey{Namespace: s.egw.Namespace, Name: cur.ReportConfigMap}, cm); err != nil {
		if apierrors.IsNotFound(err) {
			return false, nil
		}
		return false, fmt.Errorf("reading ConfigMap %s: %w", cur.ReportConfigMap, err)
	}
	return cm.Annotations[egressv1alpha1.InputsDigestAnnotation] == cur.InputsDigest, nil
}

// writeReport creates or updates the report ConfigMap, owned by the
// EgressGateway so that it goes away with it.
func (r *EgressGatewayReconciler) writeReport(ctx context.Context, s *scope, digest string, report *reach.Report) error {
	want, err := reporting.ReportConfigMap(s.egw.Namespace, reporting.ReportName(s.egw.Name), digest,
		map[string]string{lockdown.LabelGateway: s.egw.Name}, report)
	if err != nil {
		return err
	}
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: want.Namespace, Name: want.Name}}
	_, err = controllerutil.CreateOrUpdate(ctx, r.Client, cm, func() error {
		cm.Labels, cm.Annotations, cm.Data, cm.BinaryData = want.Labels, want.Annotations, want.Data, want.BinaryData
		return controllerutil.SetControllerReference(s.egw, cm, r.Scheme)
	})
	if err != nil {
		return fmt.Errorf("writing ConfigMap %s: %w", want.Name, err)
	}
	return nil
}

// deleteReport deletes the report ConfigMap, if this gateway owns one.
func (r *EgressGatewayReconciler) deleteReport(ctx context.Context, s *scope) error {
	cm := &corev1.ConfigMap{}
	key := client.ObjectKey{Namespace: s.egw.Namespace, Name: reporting.ReportName(s.egw.Name)}
	if err := r.Get(ctx, key, cm); err != nil {
		return client.IgnoreNotFound(err)
	}
	if !metav1.IsControlledBy(cm, s.egw) {
		return nil // not ours: leave it
	}
	if err := r.Delete(ctx, cm); client.IgnoreNotFound(err) != nil {
		return fmt.Errorf("deleting ConfigMap %s: %w", key.Name, err)
	}
	return nil
}

func (r *EgressGatewayReconciler) statusBudget() int {
	if r.StatusBudget > 0 {
		return r.StatusBudget
	}
	return reporting.DefaultBudget
}

// simulationInputs reads, from the cache, every object the report of s.egw
// depends on.
func (r *EgressGatewayReconciler) simulationInputs(ctx context.Context, s *scope) (*reporting.Inputs, error) {
	mesh, undecodable, err := r.meshSettings(ctx, s.egw)
	if mesh != nil {
		s.mesh = mesh // shown even when the root namespace is out of reach
		if undecodable != nil && (s.original.Status.Mesh == nil || s.original.Status.Mesh.Source != mesh.Source) {
			r.Recorder.Eventf(s.egw, nil, corev1.EventTypeWarning, egressv1alpha1.ReasonMeshConfigInvalid, "Simulate",
				"the report assumes %s", mesh.Source)
		}
	}
	if err != nil {
		return nil, err
	}
	root := mesh.RootNamespace
	in := &reporting.Inputs{EgressGateway: s.egw, Gateway: s.gateway, RootNamespace: root,
		TrustDomain: mesh.TrustDomain, TrustDomainAliases: mesh.TrustDomainAliases, ExtensionProviders: mesh.ExtensionProviders,
		Istio: s.istio}
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
		var nps networkingv1.NetworkPolicyList
		if err := r.List(ctx, &nps, client.InNamespace(ns.Name)); err != nil {
			return nil, fmt.Errorf("listing NetworkPolicies in %s: %w", ns.Name, err)
		}
		for i := range nps.Items {
			in.NetworkPolicies = append(in.NetworkPolicies, &nps.Items[i])
		}
		var pods corev1.PodList
		if err := r.List(ctx, &pods, client.InNamespace(ns.Name)); err != nil {
			return nil, fmt.Errorf("listing Pods in %s: %w", ns.Name, err)
		}
		for i := range pods.Items {
			if pods.Items[i].DeletionTimestamp.IsZero() {
				in.Pods = append(in.Pods, &pods.Items[i])
			}
		}
	}
	for _, ns := range uniq(s.egw.Namespace, root) {
		if err := r.listConfig(ctx, ns, in); err != nil {
			return nil, err
		}
	}
	// istiod's own conditions are not inputs (they leave the digest alone)
	// but the status shows them beside the simulator's answer.
	s.istioWaypointBound = reporting.IstioWaypointBound(in.ServiceEntries)
	s.istioPolicyAccepted = reporting.IstioPolicyAccepted(in.AuthorizationPolicies)
	return in, nil
}

// listConfig appends the ServiceEntries, DestinationRules,
// AuthorizationPolicies and RequestAuthentications of one namespace to in.
func (r *EgressGatewayReconciler) listConfig(ctx context.Context, ns string, in *reporting.Inputs) error {
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
	var ras istiosecurityv1.RequestAuthenticationList
	if err := r.List(ctx, &ras, client.InNamespace(ns)); err != nil {
		return fmt.Errorf("listing RequestAuthentications in %s: %w", ns, err)
	}
	in.ServiceEntries = append(in.ServiceEntries, ses.Items...)
	in.DestinationRules = append(in.DestinationRules, drs.Items...)
	in.AuthorizationPolicies = append(in.AuthorizationPolicies, aps.Items...)
	in.RequestAuthentications = append(in.RequestAuthentications, ras.Items...)
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
	ls := defaultSources
	if egw.Spec.Simulation.Sources != nil {
		ls = egw.Spec.Simulation.Sources.AsMeta()
	}
	sel, err := metav1.LabelSelectorAsSelector(ls)
	if err != nil {
		return nil, fmt.Errorf("spec.simulation.sources: %w", err)
	}
	return sel, nil
}

func uniq(a, b string) []string {
	if a == b {
		return []string{a}
	}
	return []string{a, b}
}

// encodingsOf is the gateway's input encodings, kept from one reconcile to
// the next so that an edit re-encodes only what changed.
func (r *EgressGatewayReconciler) encodingsOf(key client.ObjectKey) *reporting.Encodings {
	e, _ := r.encodings.LoadOrStore(key, &reporting.Encodings{})
	return e.(*reporting.Encodings)
}

// forgetSimulation drops what the gateway's simulations keep: its running
// job and its input encodings.
func (r *EgressGatewayReconciler) forgetSimulation(key client.ObjectKey) {
	r.sims.forget(key)
	r.encodings.Delete(key)
	r.verifyAttempts.Delete(key)
	r.observations.forget(key)
}
