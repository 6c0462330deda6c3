package controllers

import (
	"errors"
	"slices"
	"strconv"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	egressv1alpha1 "github.com/ambient-egress/ambient-egress-operator/apis/egress/v1alpha1"
)

func TestWaypointReadyCondition(t *testing.T) {
	programmed := metav1.Condition{Type: "Programmed", Status: metav1.ConditionTrue, Reason: "Programmed"}
	addr := []gatewayv1.GatewayStatusAddress{{Value: "10.0.0.1"}}
	available := &appsv1.Deployment{Status: appsv1.DeploymentStatus{Conditions: []appsv1.DeploymentCondition{
		{Type: appsv1.DeploymentAvailable, Status: corev1.ConditionTrue},
	}}}
	unavailable := &appsv1.Deployment{Status: appsv1.DeploymentStatus{Conditions: []appsv1.DeploymentCondition{
		{Type: appsv1.DeploymentAvailable, Status: corev1.ConditionFalse},
	}}}
	gateway := func(conds []metav1.Condition, addrs []gatewayv1.GatewayStatusAddress) *gatewayv1.Gateway {
		return &gatewayv1.Gateway{Status: gatewayv1.GatewayStatus{Conditions: conds, Addresses: addrs}}
	}
	for _, tc := range []struct {
		name       string
		gw         *gatewayv1.Gateway
		dep        *appsv1.Deployment
		wantStatus metav1.ConditionStatus
		wantReason string
	}{
		{"no gateway", nil, nil, metav1.ConditionFalse, egressv1alpha1.ReasonGatewayMissing},
		{"not programmed", gateway(nil, addr), available, metav1.ConditionFalse, egressv1alpha1.ReasonWaitingForIstiod},
		{"programmed false", gateway([]metav1.Condition{{Type: "Programmed", Status: metav1.ConditionFalse, Reason: "Invalid"}}, addr), available,
			metav1.ConditionFalse, egressv1alpha1.ReasonWaitingForIstiod},
		{"no address", gateway([]metav1.Condition{programmed}, nil), available, metav1.ConditionFalse, egressv1alpha1.ReasonNoAddress},
		{"no deployment", gateway([]metav1.Condition{programmed}, addr), nil, metav1.ConditionFalse, egressv1alpha1.ReasonDeploymentUnavailable},
		{"deployment unavailable", gateway([]metav1.Condition{programmed}, addr), unavailable, metav1.ConditionFalse, egressv1alpha1.ReasonDeploymentUnavailable},
		{"ready", gateway([]metav1.Condition{programmed}, addr), available, metav1.ConditionTrue, egressv1alpha1.ReasonAsExpected},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := waypointReadyCondition("waypoint", tc.gw, tc.dep)
			if c.Status != tc.wantStatus || c.Reason != tc.wantReason {
				t.Errorf("got %s %s (%s), want %s %s", c.Status, c.Reason, c.Message, tc.wantStatus, tc.wantReason)
			}
		})
	}
}

func TestReadyCondition(t *testing.T) {
	cond := func(t string, s metav1.ConditionStatus) metav1.Condition {
		return metav1.Condition{Type: t, Status: s, Reason: "R", Message: "m", ObservedGeneration: 2}
	}
	base := []string{egressv1alpha1.ConditionReleased, egressv1alpha1.ConditionWaypointReady, egressv1alpha1.ConditionEnrolled}
	allTrue := func(types ...string) []metav1.Condition {
		var out []metav1.Condition
		for _, t := range types {
			out = append(out, cond(t, metav1.ConditionTrue))
		}
		return out
	}
	for _, tc := range []struct {
		name     string
		conds    []metav1.Condition
		expected []string
		want     metav1.ConditionStatus
		says     string
	}{
		{"all true", allTrue(base...), base, metav1.ConditionTrue, ""},
		{"one false", append(allTrue(egressv1alpha1.ConditionReleased, egressv1alpha1.ConditionEnrolled),
			cond(egressv1alpha1.ConditionWaypointReady, metav1.ConditionFalse)), base, metav1.ConditionFalse, "WaypointReady (R: m)"},
		{"a missing condition is not True", allTrue(egressv1alpha1.ConditionReleased, egressv1alpha1.ConditionWaypointReady), base,
			metav1.ConditionFalse, "Enrolled (not reported yet)"},
		{"nothing reported yet", nil, base, metav1.ConditionFalse, "Released (not reported yet)"},
		{"unknown counts as not ready", append(allTrue(base...), cond(egressv1alpha1.ConditionSimulated, metav1.ConditionUnknown)),
			append(base, egressv1alpha1.ConditionSimulated), metav1.ConditionFalse, "Simulated"},
		{"a condition not expected is not required", allTrue(base...), base, metav1.ConditionTrue, ""},
		{"Ready itself is not an input", append(allTrue(base...), cond(egressv1alpha1.ConditionReady, metav1.ConditionFalse)), base, metav1.ConditionTrue, ""},
		{"a True condition about an older generation is not True now", append(allTrue(egressv1alpha1.ConditionReleased, egressv1alpha1.ConditionWaypointReady),
			metav1.Condition{Type: egressv1alpha1.ConditionEnrolled, Status: metav1.ConditionTrue, ObservedGeneration: 1}), base,
			metav1.ConditionFalse, "Enrolled (not reported for generation 2 yet)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := readyCondition(tc.conds, tc.expected, 2)
			if got.Status != tc.want || !strings.Contains(got.Message, tc.says) {
				t.Errorf("Ready = %s (%s), want %s saying %q", got.Status, got.Message, tc.want, tc.says)
			}
		})
	}
}

// TestExpectedConditions: what Ready requires follows the spec.
func TestExpectedConditions(t *testing.T) {
	egw := &egressv1alpha1.EgressGateway{}
	if got := expectedConditions(egw); len(got) != 5 || slices.Contains(got, egressv1alpha1.ConditionDestinationsReady) {
		t.Errorf("default spec: %v, want the waypoint's, enrollment's and simulation's five", got)
	}
	egw.Spec.Simulation.Disabled = true
	egw.Spec.Destinations = []egressv1alpha1.Destination{{Host: "api.example.com"}}
	got := expectedConditions(egw)
	if slices.Contains(got, egressv1alpha1.ConditionSimulated) || !slices.Contains(got, egressv1alpha1.ConditionDestinationsReady) {
		t.Errorf("simulation off, destinations on: %v", got)
	}
}

// TestComputeStatusIsStable guards "steady state writes nothing": computing
// the status twice from the same observations gives the same status.
func TestComputeStatusIsStable(t *testing.T) {
	egw := &egressv1alpha1.EgressGateway{ObjectMeta: metav1.ObjectMeta{Name: "w", Namespace: "ns", Generation: 3}}
	observe := func(e *egressv1alpha1.EgressGateway) *scope {
		s := newScope(e)
		s.gatewayName = "w"
		s.release = &egressv1alpha1.HelmReleaseStatus{Name: "egw-w", Revision: 1, Status: "deployed"}
		s.released = condition(egressv1alpha1.ConditionReleased, metav1.ConditionTrue, egressv1alpha1.ReasonInstalled, "installed")
		return s
	}
	first := observe(egw)
	computeStatus(first)
	second := observe(first.egw.DeepCopy())
	second.released = nil // the next pass takes no action
	computeStatus(second)
	if len(second.egw.Status.Conditions) != len(first.egw.Status.Conditions) {
		t.Fatalf("conditions changed: %v -> %v", first.egw.Status.Conditions, second.egw.Status.Conditions)
	}
	for i, c := range first.egw.Status.Conditions {
		if second.egw.Status.Conditions[i] != c {
			t.Errorf("condition %s changed: %+v -> %+v", c.Type, c, second.egw.Status.Conditions[i])
		}
	}
}

// TestComputeStatusAfterAFailedPhase: a phase that stopped says so on its
// own condition, keeps what the status recorded before (the release and its
// failed-attempt guard), leaves Ready False and observedGeneration where it
// was; a pass that ran every phase moves observedGeneration.
func TestComputeStatusAfterAFailedPhase(t *testing.T) {
	readErr := errors.New("etcdserver: request timed out")
	before := egressv1alpha1.EgressGatewayStatus{
		ObservedGeneration: 1,
		Waypoint: &egressv1alpha1.WaypointStatus{GatewayName: "w",
			Release: &egressv1alpha1.HelmReleaseStatus{Name: "egw-w", Revision: 2, Status: "deployed", FailedAttempt: "0.1.0/abc"}},
	}
	for _, tc := range []struct {
		name       string
		observe    func(*scope)
		condition  string
		reason     string
		says       string
		generation int64
	}{
		{"a failed read of the waypoint", func(s *scope) {
			s.gatewayName, s.waypointErr = "w", readErr
		}, egressv1alpha1.ConditionWaypointReady, egressv1alpha1.ReasonObserveFailed, "request timed out", 1},
		{"a Gateway that is really absent", func(s *scope) {
			s.gatewayName, s.waypointObserved = "w", true
			s.release = before.Waypoint.Release
			s.complete = true
		}, egressv1alpha1.ConditionWaypointReady, egressv1alpha1.ReasonGatewayMissing, "does not exist yet", 2},
		{"a failed enrollment write", func(s *scope) {
			s.enrollmentFailed = readErr
		}, egressv1alpha1.ConditionEnrolled, egressv1alpha1.ReasonApplyFailed, "could not be read or written", 1},
		{"an invalid selector ran to its end", func(s *scope) {
			s.enrollmentErr = errors.New(`spec.serviceEntrySelector: "Foo" is not a valid label selector operator`)
			s.complete = true
		}, egressv1alpha1.ConditionEnrolled, egressv1alpha1.ReasonInvalidSelector, "spec.serviceEntrySelector", 2},
		{"a failed read of the simulation inputs", func(s *scope) {
			s.simulationErr = readErr
		}, egressv1alpha1.ConditionSimulated, egressv1alpha1.ReasonSimulationFailed, "could not be read", 1},
		{"a failed write of a declared destination", func(s *scope) {
			s.declared = &destinationsOutcome{err: readErr}
		}, egressv1alpha1.ConditionDestinationsReady, egressv1alpha1.ReasonApplyFailed, "request timed out", 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			egw := &egressv1alpha1.EgressGateway{ObjectMeta: metav1.ObjectMeta{Name: "w", Namespace: "ns", Generation: 2},
				Status: *before.DeepCopy()}
			egw.Spec.Destinations = []egressv1alpha1.Destination{{Host: "api.example.com"}}
			s := newScope(egw)
			tc.observe(s)
			computeStatus(s)
			st := s.egw.Status
			c := meta.FindStatusCondition(st.Conditions, tc.condition)
			if c == nil || c.Status != metav1.ConditionFalse || c.Reason != tc.reason || !strings.Contains(c.Message, tc.says) {
				t.Fatalf("%s = %+v, want False/%s saying %q", tc.condition, c, tc.reason, tc.says)
			}
			if ready := meta.FindStatusCondition(st.Conditions, egressv1alpha1.ConditionReady); ready == nil || ready.Status != metav1.ConditionFalse {
				t.Errorf("Ready = %+v, want False", ready)
			}
			if st.ObservedGeneration != tc.generation {
				t.Errorf("observedGeneration = %d, want %d", st.ObservedGeneration, tc.generation)
			}
			if st.Waypoint == nil || st.Waypoint.Release == nil || st.Waypoint.Release.FailedAttempt != "0.1.0/abc" {
				t.Errorf("status.waypoint = %+v, want the recorded release and its failed attempt kept", st.Waypoint)
			}
		})
	}
}

// TestStatusPatchIsLocked: the status write names the resourceVersion it
// was computed from, so a write from a stale copy is refused instead of
// merged into a newer status. (Unlocked, the demo once showed "0 findings"
// beside a quoted finding: the summary of one report, the findings of
// another.)
func TestStatusPatchIsLocked(t *testing.T) {
	original := &egressv1alpha1.EgressGateway{ObjectMeta: metav1.ObjectMeta{Name: "w", Namespace: "n", ResourceVersion: "42"}}
	changed := original.DeepCopy()
	changed.Status.Simulation = &egressv1alpha1.SimulationStatus{Summary: egressv1alpha1.SimulationSummary{Sources: 1}}
	data, err := statusPatch(original).Data(changed)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), `"resourceVersion":"42"`) {
		t.Errorf("status patch %s does not carry the resourceVersion it was computed from", data)
	}
}

// TestRebaseStatus: a status computed from a stale copy, written over a
// newer stored one, keeps what the newer one recorded that this pass did
// not change (a failed attempt's guard: lost, the same bad upgrade was
// retried), takes what this pass changed (a rollback's outcome), and never
// mixes two simulation reports.
func TestRebaseStatus(t *testing.T) {
	released := func(reason string) metav1.Condition {
		return metav1.Condition{Type: egressv1alpha1.ConditionReleased, Status: metav1.ConditionFalse, Reason: reason}
	}
	report := func(findings int32) *egressv1alpha1.SimulationStatus {
		sim := &egressv1alpha1.SimulationStatus{InputsDigest: strconv.Itoa(int(findings)), Summary: egressv1alpha1.SimulationSummary{Findings: egressv1alpha1.FindingCounts{Total: findings}}}
		for range findings {
			sim.Findings = append(sim.Findings, egressv1alpha1.Finding{Code: "DirectEgressOpen"})
		}
		return sim
	}
	release := func(failed string) *egressv1alpha1.HelmReleaseStatus {
		return &egressv1alpha1.HelmReleaseStatus{Name: "egw-w", Revision: 2, Status: "failed", FailedAttempt: failed}
	}
	// What this pass read: an older copy.
	original := egressv1alpha1.EgressGatewayStatus{
		Conditions: []metav1.Condition{released("Upgrading")},
		Waypoint:   &egressv1alpha1.WaypointStatus{GatewayName: "w", Replicas: 1, Release: release("")},
		Simulation: report(1),
	}
	// What is stored: a newer pass recorded a failed attempt and a new
	// report (no findings).
	fresh := *original.DeepCopy()
	fresh.Waypoint.Release = release("digest-1")
	fresh.Simulation = report(0)
	// This pass: the waypoint's replicas moved and the rollback's outcome;
	// its report is the one it read.
	computed := *original.DeepCopy()
	computed.Waypoint.Replicas = 2
	computed.Conditions = []metav1.Condition{released("RolledBack")}
	// and a part the read copy did not have at all.
	computed.Istio = &egressv1alpha1.IstioStatus{Version: "1.29.0", Source: "Deployment istio-system/istiod"}

	got := rebaseStatus(original, computed, fresh)
	if got.Istio == nil || got.Istio.Version != "1.29.0" {
		t.Errorf("this pass's status.istio was lost: %+v", got.Istio)
	}
	if got.Waypoint.Release.FailedAttempt != "digest-1" {
		t.Errorf("the stored failed attempt was lost: %+v", got.Waypoint.Release)
	}
	if got.Waypoint.Replicas != 2 {
		t.Errorf("replicas = %d, want this pass's 2", got.Waypoint.Replicas)
	}
	if c := meta.FindStatusCondition(got.Conditions, egressv1alpha1.ConditionReleased); c == nil || c.Reason != "RolledBack" {
		t.Errorf("Released = %+v, want this pass's RolledBack", c)
	}
	if s := got.Simulation; s.Summary.Findings.Total != int32(len(s.Findings)) || s.InputsDigest != "0" {
		t.Errorf("simulation %+v is not the stored report whole", s)
	}
}
