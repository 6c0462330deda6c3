package controllers_test

import (
	"context"
	"slices"
	"testing"

	"sigs.k8s.io/controller-runtime/pkg/client"

	egressv1alpha1 "github.com/ambient-egress/ambient-egress-operator/apis/egress/v1alpha1"
	"github.com/ambient-egress/ambient-egress-operator/controllers"
)

// TestWatchNamespaces runs the operator watching one namespace, as
// --watch-namespaces does: its gateway reports sources from a namespace the
// operator does not watch (ServiceAccounts are read everywhere), and a
// gateway in an unwatched namespace is left alone.
func TestWatchNamespaces(t *testing.T) {
	ns := env.CreateNamespace(t, "watched", nil).Name
	unwatched := env.CreateNamespace(t, "unwatched", nil).Name
	_, admin := seedInNamespace(t, ns) // the source namespace is not watched
	op := startOperatorIn(t, env.Config, []string{ns}, controllers.Options{})
	mine := newEgressGateway(ns, "waypoint", func(e *egressv1alpha1.EgressGateway) {
		e.Spec.Simulation.Sources = &egressv1alpha1.LabelSelector{MatchLabels: map[string]egressv1alpha1.LabelValue{sourcesLabel: egressv1alpha1.LabelValue(ns), "istio.io/dataplane-mode": "ambient"}}
	})
	other := newEgressGateway(unwatched, "waypoint")
	for _, egw := range []*egressv1alpha1.EgressGateway{mine, other} {
		if err := env.Client.Create(context.Background(), egw); err != nil {
			t.Fatal(err)
		}
	}
	waitForSimulation(t, client.ObjectKeyFromObject(mine), "the admin of an unwatched namespace among the sources", func(sim *egressv1alpha1.SimulationStatus) bool {
		return slices.ContainsFunc(sim.Groups, func(g egressv1alpha1.SourceGroup) bool { return slices.Contains(g.Principals, admin) })
	})
	settle(t, op)
	got := getEGW(t, client.ObjectKeyFromObject(other))
	if len(got.Finalizers) != 0 || got.Status.ObservedGeneration != 0 {
		t.Errorf("the gateway in unwatched namespace %s was reconciled: finalizers %v, status %+v", unwatched, got.Finalizers, got.Status)
	}
}
