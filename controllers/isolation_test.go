package controllers_test

import (
	"context"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	egressv1alpha1 "github.com/ambient-egress/ambient-egress-operator/apis/egress/v1alpha1"
	"github.com/ambient-egress/ambient-egress-operator/controllers"
	"github.com/ambient-egress/ambient-egress-operator/controllers/internal/testenv"
	"github.com/ambient-egress/ambient-egress-operator/simulator/reach"
	"github.com/ambient-egress/ambient-egress-operator/simulator/reach/scalegen"
)

// createAdversarialPolicies creates n policies of five rules on the
// ServiceEntry httpbin.org in ns, every other one DENY (the shape the
// simulator's benchmarks call deny-interleaved): subtracting independent
// DENY rules of several conditions each is what makes the exact report grow
// exponentially.
func createAdversarialPolicies(t *testing.T, ns string, n int) {
	t.Helper()
	for doc := range strings.SplitSeq(scalegen.AdversarialPolicies("deny-interleaved", ns, "httpbin.org", n, 1), "---\n") {
		if strings.TrimSpace(doc) != "" {
			createYAML(t, doc)
		}
	}
}

// TestSlowSimulationIsolated: one gateway whose simulation has no budget
// and runs for minutes does not hold up another gateway, which installs,
// enrolls and reports as usual; and the manager stops promptly in the middle
// of that simulation.
func TestSlowSimulationIsolated(t *testing.T) {
	slow := env.CreateNamespace(t, "iso-slow", nil).Name
	quick := env.CreateNamespace(t, "iso-quick", nil).Name
	src := env.CreateNamespace(t, "iso-src", map[string]string{sourcesLabel: slow, "istio.io/dataplane-mode": "ambient"}).Name
	t.Cleanup(func() {
		mergePatch(t, "v1", "Namespace", client.ObjectKey{Name: src}, `{"metadata":{"labels":{"istio.io/dataplane-mode":null}}}`)
	})
	if err := env.Client.Create(context.Background(), &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: src, Name: "app"}}); err != nil {
		t.Fatal(err)
	}
	// No budget at all: the slow gateway's simulation would run for
	// minutes (the default budget would cut it at a fraction of a second).
	op := startOperatorIn(t, env.Config, []string{slow, quick, src}, controllers.Options{
		SimulationBudget: reach.Budget{Work: 1 << 62, PerDestination: -1, Total: time.Hour}})
	createSeedDestination(t, slow, "cluster.local/ns/"+src+"/sa/app")
	createAdversarialPolicies(t, slow, 30)
	sources := &egressv1alpha1.LabelSelector{MatchLabels: map[string]egressv1alpha1.LabelValue{sourcesLabel: egressv1alpha1.LabelValue(slow), "istio.io/dataplane-mode": "ambient"}}
	slowGW := newEgressGateway(slow, "waypoint", func(e *egressv1alpha1.EgressGateway) { e.Spec.Simulation.Sources = sources })
	if err := env.Client.Create(context.Background(), slowGW); err != nil {
		t.Fatal(err)
	}
	// The slow gateway is in its simulation once its release is installed
	// (the waypoint phase comes first) and no report has been written.
	waitForRelease(t, client.ObjectKeyFromObject(slowGW), 1, "deployed")

	createSeedDestination(t, quick, "cluster.local/ns/"+src+"/sa/app")
	quickGW := newEgressGateway(quick, "waypoint", func(e *egressv1alpha1.EgressGateway) { e.Spec.Simulation.Sources = sources })
	if err := env.Client.Create(context.Background(), quickGW); err != nil {
		t.Fatal(err)
	}
	quickKey := client.ObjectKeyFromObject(quickGW)
	waitForRelease(t, quickKey, 1, "deployed")
	istiod{}.programs(t, quick, "waypoint", 1)
	env.WaitForCondition(t, quickKey, egressv1alpha1.ConditionEnrolled, metav1.ConditionTrue)
	waitForSimulation(t, quickKey, "the quick gateway's report", func(sim *egressv1alpha1.SimulationStatus) bool {
		return sim.Summary.Destinations == 1
	})
	env.WaitForCondition(t, quickKey, egressv1alpha1.ConditionReady, metav1.ConditionTrue)
	if sim := getEGW(t, client.ObjectKeyFromObject(slowGW)).Status.Simulation; sim != nil {
		t.Fatalf("the slow gateway already has a report (%+v): the test did not make it slow", sim.Summary)
	}

	stopping := time.Now()
	op.stop(t)
	took := time.Since(stopping)
	t.Logf("the manager stopped %s after its context was canceled, mid-simulation", took)
	// Not a benchmark: the bound catches a simulation that ignores its
	// context (it would run for minutes), with room for a loaded machine.
	if took > 10*time.Second {
		t.Fatalf("the manager took %s to stop", took)
	}
}

// TestTooComplexIsReported: past the default budget the report is still
// written, its destination is inexact, and Simulated says so with
// TooComplex and a Warning Event names the ServiceEntry.
func TestTooComplexIsReported(t *testing.T) {
	ns := env.CreateNamespace(t, "too-complex", nil).Name
	startOperator(t, ns, controllers.Options{})
	createSeedDestination(t, ns, "cluster.local/ns/"+ns+"/sa/app")
	createAdversarialPolicies(t, ns, 30)
	egw := newEgressGateway(ns, "waypoint")
	if err := env.Client.Create(context.Background(), egw); err != nil {
		t.Fatal(err)
	}
	key := client.ObjectKeyFromObject(egw)
	got := waitForSimulation(t, key, "an inexact report", func(sim *egressv1alpha1.SimulationStatus) bool {
		return sim.Summary.InexactDestinations == 1
	})
	c := meta.FindStatusCondition(got.Status.Conditions, egressv1alpha1.ConditionSimulated)
	if c == nil || c.Status != metav1.ConditionFalse || c.Reason != egressv1alpha1.ReasonTooComplex || !strings.Contains(c.Message, "1 destination exceeded") {
		t.Fatalf("Simulated = %+v, want False/TooComplex naming 1 destination", c)
	}
	if r := meta.FindStatusCondition(got.Status.Conditions, egressv1alpha1.ConditionReady); r == nil || r.Status == metav1.ConditionTrue {
		t.Errorf("Ready = %+v with an inexact report", r)
	}
	sim := got.Status.Simulation
	for _, e := range sim.Reachability {
		if !e.Inexact || e.Access != egressv1alpha1.AccessUnknown {
			t.Errorf("entry %+v, want inexact with access unknown", e)
		}
	}
	if len(sim.Reachability) == 0 && sim.ReportConfigMap == "" {
		t.Errorf("no entries in status and no report ConfigMap (truncated: %q)", sim.Truncated)
	}
	testenv.Eventually(t, testenv.DefaultTimeout, "a TooComplex Event", func(ctx context.Context) (bool, error) {
		var events eventsv1.EventList
		if err := env.Client.List(ctx, &events, client.InNamespace(ns)); err != nil {
			return false, err
		}
		for _, ev := range events.Items {
			if ev.Reason == egressv1alpha1.ReasonTooComplex && ev.Type == corev1.EventTypeWarning &&
				strings.Contains(ev.Note, "ServiceEntry "+ns+"/httpbin.org") {
				return true, nil
			}
		}
		return false, nil
	})
}
