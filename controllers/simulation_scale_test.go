package controllers_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"regexp"
	"strings"
	"sync"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	egressv1alpha1 "github.com/ambient-egress/ambient-egress-operator/apis/egress/v1alpha1"
	"github.com/ambient-egress/ambient-egress-operator/controllers"
	"github.com/ambient-egress/ambient-egress-operator/simulator/reach"
	"github.com/ambient-egress/ambient-egress-operator/simulator/reach/scalegen"
)

// TestSimulationAtScale is issue 6's second acceptance test: with 2,000
// service accounts, 300 ServiceEntries and 500 policies, the status stays
// under 64 KiB, the report ConfigMap holds the full report, and a reconcile
// with unchanged inputs writes nothing.
func TestSimulationAtScale(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: this test creates 2,800 objects in the API server; make test (no -short) runs it")
	}
	ns := env.CreateNamespace(t, "sim-scale", nil).Name
	namespaces, objects := scaleObjects(t, ns, scalegen.Config{Namespaces: 40, AccountsPerNS: 50, ServiceEntries: 300, Policies: 500, Seed: 6})
	cacheNamespaces := []string{ns}
	for _, n := range namespaces {
		cacheNamespaces = append(cacheNamespaces, n.GetName())
	}
	createAll(t, namespaces)
	createAll(t, objects)
	op := startOperatorIn(t, env.Config, cacheNamespaces, controllers.Options{})
	egw := newEgressGateway(ns, "waypoint", func(e *egressv1alpha1.EgressGateway) {
		e.Spec.Simulation.Sources = &egressv1alpha1.LabelSelector{MatchLabels: map[string]egressv1alpha1.LabelValue{sourcesLabel: egressv1alpha1.LabelValue(ns)}}
	})
	if err := env.Client.Create(context.Background(), egw); err != nil {
		t.Fatal(err)
	}
	key := client.ObjectKeyFromObject(egw)
	got := waitForSimulation(t, key, "the report of 2,000 service accounts", func(sim *egressv1alpha1.SimulationStatus) bool {
		return sim.Summary.Policies == 500 && sim.Summary.Sources >= 2000
	})
	sim := got.Status.Simulation
	status, err := json.Marshal(got.Status)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("simulation took %s: %d sources, %d groups, %d destinations, %d reachable pairs, %d findings; status %d bytes; %s",
		sim.Duration.Duration, sim.Summary.Sources, sim.Summary.Groups, sim.Summary.Destinations, sim.Summary.Reachable, sim.Summary.Findings.Total, len(status), sim.Truncated)
	if len(status) > 64<<10 {
		t.Errorf("status is %d bytes, more than 64 KiB", len(status))
	}
	if sim.Summary.Destinations < 300 || sim.ReportConfigMap != "waypoint-report" || sim.Truncated == "" {
		t.Errorf("destinations %d, reportConfigMap %q, truncated %q", sim.Summary.Destinations, sim.ReportConfigMap, sim.Truncated)
	}
	full := reportFromConfigMap(t, ns, sim.ReportConfigMap)
	if len(full.Groups) != int(sim.Summary.Groups) || len(full.Destinations) != int(sim.Summary.Destinations) || len(full.Reachability) <= len(sim.Reachability) {
		t.Errorf("the ConfigMap's report is not the full report: %d groups, %d destinations, %d entries", len(full.Groups), len(full.Destinations), len(full.Reachability))
	}

	// egressctl on a dump of the same objects gives the same report.
	assertSameAsEgressctl(t, full, cacheNamespaces, ns)

	// After a policy edit the operator recomputes only what the edit
	// touches (it keeps each gateway's reach.Builder): its report is still
	// the one egressctl computes from scratch.
	settle(t, op)
	mergePatch(t, "security.istio.io/v1", "AuthorizationPolicy", client.ObjectKey{Namespace: ns, Name: "pol-7"},
		`{"spec":{"rules":[{"to":[{"operation":{"methods":["GET"],"paths":["/edited"]}}]}]}}`)
	edited := waitForSimulation(t, key, "the report after an edit", func(s *egressv1alpha1.SimulationStatus) bool {
		return s.InputsDigest != sim.InputsDigest
	})
	settle(t, op)
	assertSameAsEgressctl(t, reportFromConfigMap(t, ns, edited.Status.Simulation.ReportConfigMap), cacheNamespaces, ns)

	assertNoOpReconcileWritesNothing(t, op, ns)
}

// scaleObjects generates a scalegen configuration as live objects for the
// gateway namespace ns: names unique to the test, and source namespaces that
// only this test's gateway selects (sourcesLabel). The namespaces and the
// other objects come apart, to be created in that order; the cleanup takes
// the ambient label off the namespaces, which outlive the test.
func scaleObjects(t *testing.T, ns string, cfg scalegen.Config) (namespaces, objects []*unstructured.Unstructured) {
	t.Helper()
	manifests := scalegen.Generate(cfg)
	// Make every name unique to this test, and its source namespaces
	// selectable by this test's gateway alone.
	manifests = regexp.MustCompile(`\bns-(\d+)`).ReplaceAllString(manifests, ns+"-src-$1")
	manifests = strings.ReplaceAll(manifests, "istio-egress", ns)
	manifests = strings.ReplaceAll(manifests, "labels: {istio.io/dataplane-mode: ambient}",
		"labels: {istio.io/dataplane-mode: ambient, "+sourcesLabel+": "+ns+"}")
	for doc := range strings.SplitSeq(manifests, "\n---\n") {
		u := &unstructured.Unstructured{}
		if err := yaml.Unmarshal([]byte(doc), &u.Object); err != nil {
			t.Fatal(err)
		}
		switch {
		case u.Object == nil || u.GetKind() == "EgressGateway" || u.GetName() == ns:
		case u.GetKind() == "Namespace":
			namespaces = append(namespaces, u)
		default:
			objects = append(objects, u)
		}
	}
	t.Cleanup(func() {
		for _, n := range namespaces {
			mergePatch(t, "v1", "Namespace", client.ObjectKey{Name: n.GetName()}, `{"metadata":{"labels":{"istio.io/dataplane-mode":null}}}`)
		}
	})
	return namespaces, objects
}

// assertSameAsEgressctl checks that egressctl on a dump of the namespaces
// gives the operator's report.
func assertSameAsEgressctl(t *testing.T, full *reach.Report, cacheNamespaces []string, ns string) {
	t.Helper()
	cliJSON, err := json.Marshal(egressctlSimulate(t, dumpObjects(t, cacheNamespaces, ns), "--root-namespace", ns))
	if err != nil {
		t.Fatal(err)
	}
	var cli reach.Report
	if err := json.Unmarshal(cliJSON, &cli); err != nil {
		t.Fatalf("egressctl's report: %v", err)
	}
	// The same sources and destinations, and the same access for each:
	// Diff compares the request spaces, which two runs may split into
	// cubes differently.
	for _, part := range []struct {
		name          string
		operator, cli any
	}{{"groups", full.Groups, cli.Groups}, {"destinations", full.Destinations, cli.Destinations}} {
		a, errA := json.Marshal(part.operator)
		b, errB := json.Marshal(part.cli)
		if errA != nil || errB != nil {
			t.Fatal(errA, errB)
		}
		if !bytes.Equal(a, b) {
			t.Errorf("egressctl on a dump differs from the operator's report in %s", part.name)
		}
	}
	if d := reach.Diff(full, &cli); len(d.Changes) > 0 {
		t.Errorf("egressctl on a dump gives other access than the operator's report: %d changes, first on %s", len(d.Changes), d.Changes[0].Destination)
	}

}

// reportFromConfigMap reads the full report from its ConfigMap.
func reportFromConfigMap(t *testing.T, ns, name string) *reach.Report {
	t.Helper()
	cm := &corev1.ConfigMap{}
	if err := env.Client.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, cm); err != nil {
		t.Fatal(err)
	}
	data := []byte(cm.Data["report.json"])
	if gz, ok := cm.BinaryData["report.json.gz"]; ok {
		zr, err := gzip.NewReader(bytes.NewReader(gz))
		if err != nil {
			t.Fatal(err)
		}
		if data, err = io.ReadAll(zr); err != nil {
			t.Fatal(err)
		}
	}
	var r reach.Report
	if err := json.Unmarshal(data, &r); err != nil {
		t.Fatalf("the report ConfigMap: %v", err)
	}
	return &r
}

// createAll creates objects concurrently.
func createAll(t *testing.T, objs []*unstructured.Unstructured) {
	t.Helper()
	work := make(chan *unstructured.Unstructured)
	errs := make(chan error, len(objs))
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			for u := range work {
				if err := env.Client.Create(context.Background(), u); err != nil {
					errs <- fmt.Errorf("creating %s %s/%s: %w", u.GetKind(), u.GetNamespace(), u.GetName(), err)
				}
			}
		})
	}
	for _, u := range objs {
		work <- u
	}
	close(work)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}
