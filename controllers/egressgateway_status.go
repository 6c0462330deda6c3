package controllers

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"sort"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	egressv1alpha1 "github.com/ambient-egress/ambient-egress-operator/apis/egress/v1alpha1"
	"github.com/ambient-egress/ambient-egress-operator/controllers/internal/enrollment"
	"github.com/ambient-egress/ambient-egress-operator/controllers/internal/helmrelease"
	"github.com/ambient-egress/ambient-egress-operator/controllers/internal/metrics"
	"github.com/ambient-egress/ambient-egress-operator/controllers/internal/reporting"
	"github.com/ambient-egress/ambient-egress-operator/simulator/observe"
	"github.com/ambient-egress/ambient-egress-operator/simulator/verify"
)

// patchStatus computes the status from what the phases observed and
// patches it only when it differs from what was read.
func (r *EgressGatewayReconciler) patchStatus(ctx context.Context, s *scope) error {
	computeStatus(s)
	if w := s.egw.Status.Waypoint; w != nil {
		metrics.RecordReplicas(s.egw.Namespace, s.egw.Name, w.Replicas, w.ReadyReplicas)
	}
	if equality.Semantic.DeepEqual(s.original.Status, s.egw.Status) {
		return nil // steady state writes nothing
	}
	err := r.Status().Patch(ctx, s.egw, statusPatch(s.original))
	if apierrors.IsConflict(err) {
		// The copy read was older than the stored one. What this pass
		// changed (some of it, like a rollback's outcome, no later pass
		// sees again) is written over the stored status as it is now;
		// what it did not change stays as stored, which may be newer
		// than what this pass read (a failed attempt recorded since).
		err = retry.RetryOnConflict(retry.DefaultRetry, func() error {
			fresh := &egressv1alpha1.EgressGateway{}
			if err := r.APIReader.Get(ctx, client.ObjectKeyFromObject(s.egw), fresh); err != nil {
				return err
			}
			want := fresh.DeepCopy()
			want.Status = rebaseStatus(s.original.Status, s.egw.Status, fresh.Status)
			return r.Status().Patch(ctx, want, statusPatch(fresh))
		})
	}
	if err != nil {
		return fmt.Errorf("patching status: %w", err)
	}
	return nil
}

// statusPatch is the status write: a merge patch from the object as read,
// locked to its resourceVersion. Without the lock, a status computed from a
// cached copy older than the stored one (the cache lags the operator's own
// last write) merges only the fields that differ from the stale copy, and
// the stored status becomes a mix of two reports (a summary of one, the
// findings of the other). With it, such a write is a Conflict, and
// patchStatus writes the whole status again over a fresh copy.
func statusPatch(original *egressv1alpha1.EgressGateway) client.Patch {
	return client.MergeFromWithOptions(original, client.MergeFromWithOptimisticLock{})
}

// computeStatus writes every condition and the waypoint status into
// s.egw.Status. It is pure in s.
func computeStatus(s *scope) {
	st := &s.egw.Status
	gen := s.egw.Generation
	if s.gatewayName != "" && s.waypointObserved {
		st.Waypoint = waypointStatus(s.gatewayName, s.release, s.deployment)
	}
	set := func(c *metav1.Condition) {
		if c != nil {
			c.ObservedGeneration = gen
			meta.SetStatusCondition(&st.Conditions, *c)
		}
	}
	if c := meta.FindStatusCondition(st.Conditions, egressv1alpha1.ConditionReleased); s.released == nil && c != nil {
		kept := *c
		set(&kept) // the last action's word stands; only the generation moves
	}
	set(s.released)
	switch {
	case s.waypointErr != nil:
		set(condition(egressv1alpha1.ConditionWaypointReady, metav1.ConditionFalse, egressv1alpha1.ReasonObserveFailed,
			"the waypoint's state could not be read (retrying): "+s.waypointErr.Error()))
	case s.waypointObserved:
		set(waypointReadyCondition(s.gatewayName, s.gateway, s.deployment))
	}
	switch {
	case s.enrollmentErr != nil:
		set(condition(egressv1alpha1.ConditionEnrolled, metav1.ConditionFalse, egressv1alpha1.ReasonInvalidSelector, s.enrollmentErr.Error()))
	case s.enrollmentFailed != nil:
		set(condition(egressv1alpha1.ConditionEnrolled, metav1.ConditionFalse, egressv1alpha1.ReasonApplyFailed,
			"the enrollment could not be read or written (retrying): "+s.enrollmentFailed.Error()))
	case s.enrollment != nil:
		set(enrolledCondition(s.egw, *s.enrollment))
	}
	if s.istioStatus != nil {
		st.Istio = s.istioStatus
	}
	if s.mesh != nil {
		st.Mesh = s.mesh
	}
	switch {
	case s.simulationDisabled:
		st.Simulation, st.Destinations, st.Mesh = nil, nil, nil
		meta.RemoveStatusCondition(&st.Conditions, egressv1alpha1.ConditionSimulated)
		meta.RemoveStatusCondition(&st.Conditions, egressv1alpha1.ConditionPoliciesValid)
	case !s.simulationSince.IsZero():
		// status.simulation stays as it is: it describes earlier inputs.
		set(condition(egressv1alpha1.ConditionSimulated, metav1.ConditionFalse, egressv1alpha1.ReasonReconciling,
			"simulating the current inputs since "+s.simulationSince.UTC().Format(time.RFC3339)+
				"; status.simulation describes earlier inputs until it ends"))
	case s.simulationErr != nil:
		set(condition(egressv1alpha1.ConditionSimulated, metav1.ConditionFalse, egressv1alpha1.ReasonSimulationFailed,
			"the simulation inputs could not be read, status.simulation may be stale: "+s.simulationErr.Error()))
	case s.simulation != nil:
		st.Simulation = s.simulation
		st.Destinations = reporting.WithIstioConditions(s.destinations, s.istioWaypointBound)
		set(simulatedCondition(s.simulation))
		set(policiesValidCondition(s.simulation, s.istioPolicyAccepted))
	}
	switch v := s.verification; {
	case v != nil:
		if v.status != nil {
			st.Verification = v.status
		}
		set(v.cond)
	case s.complete || s.simulationDisabled:
		// Verification is off: what an earlier run wrote goes.
		st.Verification = nil
		meta.RemoveStatusCondition(&st.Conditions, egressv1alpha1.ConditionVerified)
	}
	switch o := s.observed; {
	case o != nil:
		if o.status != nil {
			st.Observed = o.status
		}
		set(o.cond)
	case s.complete || s.simulationDisabled:
		st.Observed = nil
		meta.RemoveStatusCondition(&st.Conditions, egressv1alpha1.ConditionObserved)
	}
	// The findings of the phases after the simulation, about the report
	// the status shows.
	if sim := st.Simulation; sim != nil {
		extra := modelDisagrees(sim.InputsDigest, st.Verification, s.egw)
		if o := st.Observed; o != nil && o.InputsDigest == sim.InputsDigest {
			extra = append(extra, s.observedFindings(sim)...)
		}
		st.Simulation = withPhaseFindings(sim, extra)
	}
	if c := destinationsReadyCondition(s.declared, len(s.egw.Spec.Destinations)); c != nil {
		set(c)
	} else if s.declared != nil {
		meta.RemoveStatusCondition(&st.Conditions, egressv1alpha1.ConditionDestinationsReady)
	}
	if c := accessLoggingCondition(s.observability); c != nil {
		set(c)
	} else if s.observability != nil {
		meta.RemoveStatusCondition(&st.Conditions, egressv1alpha1.ConditionAccessLogging)
	}
	if s.lockdown != nil {
		st.Lockdown = lockdownStatus(s.lockdown)
		if c := lockdownCondition(s.lockdown); c != nil {
			set(c)
		} else {
			meta.RemoveStatusCondition(&st.Conditions, egressv1alpha1.ConditionLockedDown)
		}
	}
	set(readyCondition(st.Conditions, expectedConditions(s.egw), gen))
	// kstatus-based tools (Argo CD, Flux, kubectl wait) read
	// observedGeneration as "this spec was acted on": a pass that stopped
	// at a failed phase has not acted on all of it.
	if s.complete {
		st.ObservedGeneration = gen
	}
}

// waypointStatus describes the Gateway, its release and its Deployment.
func waypointStatus(gatewayName string, release *egressv1alpha1.HelmReleaseStatus, dep *appsv1.Deployment) *egressv1alpha1.WaypointStatus {
	w := &egressv1alpha1.WaypointStatus{GatewayName: gatewayName, Release: release}
	if dep != nil {
		w.Replicas = 1
		if dep.Spec.Replicas != nil {
			w.Replicas = *dep.Spec.Replicas
		}
		w.ReadyReplicas = dep.Status.ReadyReplicas
	}
	return w
}

// releaseStatus records the observed release, nil when it is absent and
// no failure needs remembering.
func releaseStatus(name string, obs helmrelease.Observed, failedAttempt string) *egressv1alpha1.HelmReleaseStatus {
	if obs.Last == nil && failedAttempt == "" {
		return nil
	}
	return &egressv1alpha1.HelmReleaseStatus{
		Name:          name,
		Revision:      obs.Revision(),
		ChartVersion:  obs.ChartVersion,
		ValuesDigest:  obs.ValuesDigest,
		Status:        string(obs.Status()),
		FailedAttempt: failedAttempt,
	}
}

// waypointReadyCondition is True only when the Gateway is Programmed with
// an address and its Deployment is Available; otherwise its reason names the
// first of the three that is missing.
func waypointReadyCondition(name string, gw *gatewayv1.Gateway, dep *appsv1.Deployment) *metav1.Condition {
	const t = egressv1alpha1.ConditionWaypointReady
	if gw == nil {
		return condition(t, metav1.ConditionFalse, egressv1alpha1.ReasonGatewayMissing,
			fmt.Sprintf("waypoint Gateway %s does not exist yet", name))
	}
	if p := meta.FindStatusCondition(gw.Status.Conditions, string(gatewayv1.GatewayConditionProgrammed)); p == nil || p.Status != metav1.ConditionTrue {
		msg := fmt.Sprintf("Gateway %s is not Programmed: is istiod running with ambient enabled?", name)
		if p != nil && p.ObservedGeneration == gw.Generation && p.Reason != string(gatewayv1.GatewayReasonPending) {
			msg = fmt.Sprintf("Gateway %s is not Programmed (%s): %s", name, p.Reason, p.Message)
		}
		return condition(t, metav1.ConditionFalse, egressv1alpha1.ReasonWaitingForIstiod, msg)
	}
	if len(gw.Status.Addresses) == 0 {
		return condition(t, metav1.ConditionFalse, egressv1alpha1.ReasonNoAddress,
			fmt.Sprintf("Gateway %s is Programmed but has no address yet", name))
	}
	if dep == nil || !deploymentAvailable(dep) {
		return condition(t, metav1.ConditionFalse, egressv1alpha1.ReasonDeploymentUnavailable,
			fmt.Sprintf("Deployment %s that istiod runs the waypoint in is missing or not Available", name))
	}
	return condition(t, metav1.ConditionTrue, egressv1alpha1.ReasonAsExpected,
		fmt.Sprintf("Gateway %s is Programmed at %s and Deployment %s is Available", name, gw.Status.Addresses[0].Value, name))
}

func deploymentAvailable(dep *appsv1.Deployment) bool {
	for _, c := range dep.Status.Conditions {
		if c.Type == appsv1.DeploymentAvailable {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// enrolledCondition is True when every object the EgressGateway wants
// labeled is, and names the owners of the ones it may not take.
func enrolledCondition(egw *egressv1alpha1.EgressGateway, plan enrollment.Plan) *metav1.Condition {
	const t = egressv1alpha1.ConditionEnrolled
	if len(plan.Conflicts) > 0 {
		return condition(t, metav1.ConditionFalse, egressv1alpha1.ReasonConflict, plan.ConflictMessage())
	}
	switch {
	case egw.Spec.EnrollsNamespace():
		return condition(t, metav1.ConditionTrue, egressv1alpha1.ReasonAsExpected,
			fmt.Sprintf("namespace %s uses this waypoint (%s)", egw.Namespace, enrollment.LabelUseWaypoint))
	case egw.Spec.ServiceEntrySelector != nil:
		return condition(t, metav1.ConditionTrue, egressv1alpha1.ReasonAsExpected,
			fmt.Sprintf("%d ServiceEntries selected by serviceEntrySelector use this waypoint", plan.Wanted))
	default:
		return condition(t, metav1.ConditionTrue, egressv1alpha1.ReasonAsExpected,
			"enrollment is off: enrollNamespace is false and there is no serviceEntrySelector")
	}
}

// firstFindings is how many findings a condition message quotes.
const firstFindings = 3

// simulatedCondition is True once status.simulation describes the current
// inputs; its message counts what the report covers and quotes the first
// findings.
func simulatedCondition(sim *egressv1alpha1.SimulationStatus) *metav1.Condition {
	sum := sim.Summary
	msg := fmt.Sprintf("%s in %s, %s, %s: %s reachable (%d all, %d partial), %d none; %s (%d errors, %d warnings, %d info)",
		count(sum.Sources, "source", "sources"), count(sum.Groups, "group", "groups"),
		count(sum.Destinations, "destination", "destinations"), count(sum.Policies, "policy", "policies"),
		count(sum.Reachable, "pair", "pairs"), sum.Pairs.All, sum.Pairs.Partial, sum.Pairs.None,
		count(sum.Findings.Total, "finding", "findings"), sum.Findings.Errors, sum.Findings.Warnings, sum.Findings.Info)
	if len(sim.Probes) > 0 {
		verdicts := map[string]int{}
		for _, p := range sim.Probes {
			switch {
			case p.Error != "":
				verdicts["unanswerable"]++
			default:
				verdicts[p.Verdict]++
			}
		}
		msg += fmt.Sprintf("; %s: %d ALLOW, %d DENY", count(len(sim.Probes), "probe", "probes"), verdicts["ALLOW"], verdicts["DENY"])
		if n := verdicts["unanswerable"]; n > 0 {
			msg += fmt.Sprintf(", %d unanswerable (see status.simulation.probes)", n)
		}
	}
	if quoted := quoteFindings(sim.Findings, func(egressv1alpha1.Finding) bool { return true }); quoted != "" {
		msg += ": " + quoted
	}
	if sim.Truncated != "" {
		msg += "; status truncated, full report in ConfigMap " + sim.ReportConfigMap
	}
	if n := sum.InexactDestinations; n > 0 {
		// The report is sound but not exact there; say so where kstatus
		// and kubectl wait look, not only in a finding.
		return condition(egressv1alpha1.ConditionSimulated, metav1.ConditionFalse, egressv1alpha1.ReasonTooComplex,
			fmt.Sprintf("%s exceeded the simulation budget and are reported inexactly (access unknown; see the ReportTooComplex findings); %s",
				count(n, "destination", "destinations"), msg))
	}
	return condition(egressv1alpha1.ConditionSimulated, metav1.ConditionTrue, egressv1alpha1.ReasonAsExpected, msg)
}

// policiesValidCondition is False when an AuthorizationPolicy has an
// error-level finding (Istio would reject it, so it does nothing); warnings
// about policies are quoted but keep it True.
//
// istiod's own WaypointAccepted=False on a policy is quoted too: a policy
// the waypoint does not enforce is worth knowing about whatever the
// simulator concluded.
func policiesValidCondition(sim *egressv1alpha1.SimulationStatus, accepted map[string]*egressv1alpha1.IstioCondition) *metav1.Condition {
	const t = egressv1alpha1.ConditionPoliciesValid
	isPolicy := func(f egressv1alpha1.Finding) bool { return strings.HasPrefix(f.Object, "AuthorizationPolicy ") }
	var errs, warnings int
	for _, f := range sim.Findings {
		if !isPolicy(f) {
			continue
		}
		switch f.Severity {
		case egressv1alpha1.SeverityError:
			errs++
		case egressv1alpha1.SeverityWarning:
			warnings++
		}
	}
	if errs > 0 {
		return condition(t, metav1.ConditionFalse, egressv1alpha1.ReasonInvalidPolicies,
			fmt.Sprintf("%d policy errors, %d policy warnings: %s", errs, warnings, quoteFindings(sim.Findings, func(f egressv1alpha1.Finding) bool {
				return isPolicy(f) && f.Severity == egressv1alpha1.SeverityError
			}))+notAccepted(accepted))
	}
	msg := count(sim.Summary.Policies, "policy", "policies") + ", none rejected"
	if warnings > 0 {
		msg += fmt.Sprintf("; %d policy warnings: %s", warnings, quoteFindings(sim.Findings, func(f egressv1alpha1.Finding) bool {
			return isPolicy(f) && f.Severity == egressv1alpha1.SeverityWarning
		}))
	}
	return condition(t, metav1.ConditionTrue, egressv1alpha1.ReasonAsExpected, msg+notAccepted(accepted))
}

// notAccepted quotes the first policies istiod says no waypoint enforces,
// in name order, or is empty.
func notAccepted(accepted map[string]*egressv1alpha1.IstioCondition) string {
	var names []string
	for name, c := range accepted {
		if c.Status == metav1.ConditionFalse {
			names = append(names, name)
		}
	}
	if len(names) == 0 {
		return ""
	}
	sort.Strings(names)
	var quoted []string
	for _, name := range names[:min(len(names), firstFindings)] {
		quoted = append(quoted, fmt.Sprintf("%s (%s: %s)", name, accepted[name].Reason, accepted[name].Message))
	}
	if len(names) > len(quoted) {
		quoted = append(quoted, fmt.Sprintf("and %d more", len(names)-len(quoted)))
	}
	return fmt.Sprintf("; istiod reports %s not accepted by a waypoint (WaypointAccepted=False): %s", count(len(names), "policy", "policies"), strings.Join(quoted, "; "))
}

// quoteFindings renders the first findings that keep selects.
func quoteFindings(findings []egressv1alpha1.Finding, keep func(egressv1alpha1.Finding) bool) string {
	var quoted []string
	n := 0
	for _, f := range findings {
		if !keep(f) {
			continue
		}
		n++
		if len(quoted) < firstFindings {
			quoted = append(quoted, fmt.Sprintf("%s %s: %s", f.Code, f.Object, f.Message))
		}
	}
	if n > len(quoted) {
		quoted = append(quoted, fmt.Sprintf("and %d more", n-len(quoted)))
	}
	return strings.Join(quoted, "; ")
}

// expectedConditions are the conditions Ready requires for egw's spec:
// the waypoint's and the enrollment's always, the simulation's unless it is
// disabled, and DestinationsReady when spec.destinations asks for objects.
// A condition not reported yet is not True: a phase that failed before
// setting its condition cannot leave Ready True.
func expectedConditions(egw *egressv1alpha1.EgressGateway) []string {
	out := []string{egressv1alpha1.ConditionReleased, egressv1alpha1.ConditionWaypointReady, egressv1alpha1.ConditionEnrolled}
	if !egw.Spec.Simulation.Disabled {
		out = append(out, egressv1alpha1.ConditionPoliciesValid, egressv1alpha1.ConditionSimulated)
	}
	if len(egw.Spec.Destinations) > 0 {
		out = append(out, egressv1alpha1.ConditionDestinationsReady)
	}
	if egw.Spec.Lockdown.Mode == egressv1alpha1.LockdownEnforce {
		out = append(out, egressv1alpha1.ConditionLockedDown)
	}
	if al := egw.Spec.Observability.AccessLogging; al != nil && al.Enabled {
		out = append(out, egressv1alpha1.ConditionAccessLogging)
	}
	return out
}

// readyCondition is True when every expected condition is present, True
// and about generation gen; otherwise it names each that is not, and why.
func readyCondition(conds []metav1.Condition, expected []string, gen int64) *metav1.Condition {
	var notReady []string
	for _, t := range expected {
		switch c := meta.FindStatusCondition(conds, t); {
		case c == nil:
			notReady = append(notReady, t+" (not reported yet)")
		case c.ObservedGeneration != gen:
			notReady = append(notReady, fmt.Sprintf("%s (not reported for generation %d yet)", t, gen))
		case c.Status != metav1.ConditionTrue:
			notReady = append(notReady, fmt.Sprintf("%s (%s: %s)", t, c.Reason, c.Message))
		}
	}
	if len(notReady) == 0 {
		return condition(egressv1alpha1.ConditionReady, metav1.ConditionTrue, egressv1alpha1.ReasonAsExpected,
			"the waypoint is released, ready and enrolled")
	}
	sort.Strings(notReady)
	return condition(egressv1alpha1.ConditionReady, metav1.ConditionFalse, egressv1alpha1.ReasonNotReady,
		"not ready: "+strings.Join(notReady, "; "))
}

// count says "1 policy" or "2 policies".
func count[N int | int32](n N, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

func condition(t string, status metav1.ConditionStatus, reason, message string) *metav1.Condition {
	return &metav1.Condition{Type: t, Status: status, Reason: reason, Message: message}
}

// rebaseStatus is a three-way merge of a status: each part this pass
// changed from what it read (original) is this pass's (computed), each part
// it left alone is the stored one's (fresh). Structs are merged field by
// field; a condition is a part of its own, by type; the simulation report
// and lists are whole parts, so two reports never mix.
func rebaseStatus(original, computed, fresh egressv1alpha1.EgressGatewayStatus) egressv1alpha1.EgressGatewayStatus {
	out := *fresh.DeepCopy()
	// Every field but the conditions, so that a field added to the
	// status is never dropped by a write that met a conflict.
	o, c, f := reflect.ValueOf(original), reflect.ValueOf(computed), reflect.ValueOf(fresh)
	for i := range o.NumField() {
		if o.Type().Field(i).Name != "Conditions" {
			reflect.ValueOf(&out).Elem().Field(i).Set(merge3(o.Field(i), c.Field(i), f.Field(i)))
		}
	}
	out.Conditions = rebaseConditions(original.Conditions, computed.Conditions, fresh.Conditions)
	return *out.DeepCopy()
}

// merge3 merges one value: fresh when computed did not change it from
// original, else computed, recursing into structs (and pointers to them)
// except the simulation report, which is one part.
func merge3(original, computed, fresh reflect.Value) reflect.Value {
	if equality.Semantic.DeepEqual(original.Interface(), computed.Interface()) {
		return fresh
	}
	if original.Type() == reflect.TypeFor[*egressv1alpha1.SimulationStatus]() {
		return computed
	}
	switch original.Kind() {
	case reflect.Pointer:
		if original.IsNil() || computed.IsNil() || fresh.IsNil() || original.Elem().Kind() != reflect.Struct {
			return computed
		}
		out := reflect.New(original.Elem().Type())
		out.Elem().Set(merge3(original.Elem(), computed.Elem(), fresh.Elem()))
		return out
	case reflect.Struct:
		out := reflect.New(original.Type()).Elem()
		for i := range original.NumField() {
			out.Field(i).Set(merge3(original.Field(i), computed.Field(i), fresh.Field(i)))
		}
		return out
	}
	return computed
}

// rebaseConditions merges conditions by type, as merge3 merges fields.
func rebaseConditions(original, computed, fresh []metav1.Condition) []metav1.Condition {
	out := slices.Clone(fresh)
	types := map[string]bool{}
	for _, c := range slices.Concat(original, computed) {
		types[c.Type] = true
	}
	for t := range types {
		o, c := meta.FindStatusCondition(original, t), meta.FindStatusCondition(computed, t)
		if equality.Semantic.DeepEqual(o, c) {
			continue // left alone: the stored one stands
		}
		i := slices.IndexFunc(out, func(x metav1.Condition) bool { return x.Type == t })
		switch {
		case c == nil && i >= 0:
			out = slices.Delete(out, i, i+1)
		case c != nil && i >= 0:
			out[i] = *c
		case c != nil:
			out = append(out, *c)
		}
	}
	return out
}

// phaseFindingCodes are the finding codes the phases after the simulation
// add to its report; the simulation's own report never has them.
var phaseFindingCodes = append([]string{verify.CodeModelDisagrees}, observe.Codes...)

// withPhaseFindings returns sim with the findings of phaseFindingCodes
// replaced by add, and the counts to match; sim itself is left alone.
func withPhaseFindings(sim *egressv1alpha1.SimulationStatus, add []egressv1alpha1.Finding) *egressv1alpha1.SimulationStatus {
	out := withoutPhaseFindings(sim)
	if len(add) == 0 {
		return out
	}
	if out == sim {
		out = sim.DeepCopy()
	}
	for _, f := range add {
		out.Findings = append(out.Findings, f)
		reporting.CountFinding(&out.Summary.Findings, f.Severity, 1)
	}
	return out
}

// withoutPhaseFindings is sim without the findings of phaseFindingCodes:
// sim itself when it has none, else a copy.
func withoutPhaseFindings(sim *egressv1alpha1.SimulationStatus) *egressv1alpha1.SimulationStatus {
	isPhase := func(f egressv1alpha1.Finding) bool { return slices.Contains(phaseFindingCodes, f.Code) }
	if sim == nil || !slices.ContainsFunc(sim.Findings, isPhase) {
		return sim
	}
	out := sim.DeepCopy()
	out.Findings = out.Findings[:0]
	for _, f := range sim.Findings {
		if isPhase(f) {
			reporting.CountFinding(&out.Summary.Findings, f.Severity, -1)
			continue
		}
		out.Findings = append(out.Findings, f)
	}
	return out
}
