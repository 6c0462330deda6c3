package controllers_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	crmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
	"sigs.k8s.io/yaml"

	egressv1alpha1 "github.com/ambient-egress/ambient-egress-operator/apis/egress/v1alpha1"
	"github.com/ambient-egress/ambient-egress-operator/controllers"
	"github.com/ambient-egress/ambient-egress-operator/controllers/internal/testenv"
)

// sourcesLabel marks the source namespaces of one test, so that the
// gateway's spec.simulation.sources selects them and no other test's.
const sourcesLabel = "test.egress.ambient.io/sources"

// createYAML creates the object a manifest describes.
func createYAML(t *testing.T, manifest string) {
	t.Helper()
	u := &unstructured.Unstructured{}
	if err := yaml.Unmarshal([]byte(manifest), &u.Object); err != nil {
		t.Fatal(err)
	}
	if err := env.Client.Create(context.Background(), u); err != nil {
		t.Fatalf("creating %s %s: %v", u.GetKind(), u.GetName(), err)
	}
}

// mergePatch applies a JSON merge patch to an object of the given kind.
func mergePatch(t *testing.T, apiVersion, kind string, key client.ObjectKey, patch string) {
	t.Helper()
	u := &unstructured.Unstructured{}
	u.SetAPIVersion(apiVersion)
	u.SetKind(kind)
	u.SetNamespace(key.Namespace)
	u.SetName(key.Name)
	if err := env.Client.Patch(context.Background(), u, client.RawPatch(types.MergePatchType, []byte(patch))); err != nil {
		t.Fatalf("patching %s %s: %v", kind, key, err)
	}
}

// waitForSimulation waits until status.simulation satisfies ok, for the
// current generation, and returns the gateway.
func waitForSimulation(t *testing.T, key client.ObjectKey, what string, ok func(*egressv1alpha1.SimulationStatus) bool) *egressv1alpha1.EgressGateway {
	t.Helper()
	var got *egressv1alpha1.EgressGateway
	testenv.Eventually(t, testenv.DefaultTimeout, what, func(ctx context.Context) (bool, error) {
		egw := &egressv1alpha1.EgressGateway{}
		if err := env.Client.Get(ctx, key, egw); err != nil {
			return false, err
		}
		if egw.Status.ObservedGeneration != egw.Generation || egw.Status.Simulation == nil || !ok(egw.Status.Simulation) {
			return false, nil
		}
		got = egw
		return true, nil
	})
	return got
}

// entryFor finds the reachability entry of a destination for a principal,
// or for other sources when principal is empty.
func entryFor(sim *egressv1alpha1.SimulationStatus, dest, principal string) *egressv1alpha1.ReachabilityEntry {
	for i, e := range sim.Reachability {
		if e.Destination != dest {
			continue
		}
		if (principal == "" && e.OtherSources) || (principal != "" && slices.Contains(e.Sources, principal)) {
			return &sim.Reachability[i]
		}
	}
	return nil
}

func TestSimulationSeed(t *testing.T) {
	ns := env.CreateNamespace(t, "sim-egress", nil).Name
	run := map[string]string{sourcesLabel: ns}
	src := env.CreateNamespace(t, "sim-src", map[string]string{sourcesLabel: ns, "istio.io/dataplane-mode": "ambient"}).Name
	other := env.CreateNamespace(t, "sim-other", run).Name
	t.Cleanup(func() { // namespaces outlive the test: leave no ambient one for other tests' gateways
		for _, n := range []string{src, other} {
			mergePatch(t, "v1", "Namespace", client.ObjectKey{Name: n}, `{"metadata":{"labels":{"istio.io/dataplane-mode":null}}}`)
		}
	})
	for _, sa := range []struct{ ns, name string }{{src, "default"}, {src, "admin"}, {other, "worker"}} {
		if err := env.Client.Create(context.Background(), &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: sa.ns, Name: sa.name}}); err != nil {
			t.Fatal(err)
		}
	}
	op := startOperatorIn(t, env.Config, []string{ns, src, other}, controllers.Options{})
	admin := "cluster.local/ns/" + src + "/sa/admin"
	createSeedDestination(t, ns, admin)
	egw := newEgressGateway(ns, "waypoint", func(e *egressv1alpha1.EgressGateway) {
		e.Spec.Simulation.Sources = &egressv1alpha1.LabelSelector{MatchLabels: map[string]egressv1alpha1.LabelValue{sourcesLabel: egressv1alpha1.LabelValue(ns), "istio.io/dataplane-mode": "ambient"}}
		e.Spec.Simulation.Probes = []egressv1alpha1.Probe{
			{From: admin, Method: "POST", Host: "httpbin.org", Path: "/post", Port: 80},
			{Method: "GET", Host: "httpbin.org", Path: "/get", Port: 80}, // every group
		}
	})
	if err := env.Client.Create(context.Background(), egw); err != nil {
		t.Fatal(err)
	}
	key := client.ObjectKeyFromObject(egw)
	waitForRelease(t, key, 1, "deployed")
	istiod{}.programs(t, ns, "waypoint", 1)
	env.WaitForCondition(t, key, egressv1alpha1.ConditionReady, metav1.ConditionTrue)
	policy := ns + "/httpbin"

	t.Run("seed", func(t *testing.T) {
		got := waitForSimulation(t, key, "the seed report", func(sim *egressv1alpha1.SimulationStatus) bool {
			return entryFor(sim, "httpbin.org:80", admin) != nil
		})
		sim := got.Status.Simulation
		t.Logf("simulation of the seed took %s", sim.Duration.Duration)
		if a := entryFor(sim, "httpbin.org:80", admin); a.Access != egressv1alpha1.AccessAll {
			t.Errorf("admin: access %s, want all: %+v", a.Access, a)
		}
		o := entryFor(sim, "httpbin.org:80", "")
		if o == nil {
			t.Fatalf("no entry for other sources: %+v", sim.Reachability)
		}
		if o.Access != egressv1alpha1.AccessPartial || len(o.Allowed) != 1 ||
			!slices.Equal(o.Allowed[0].Methods, []string{"GET"}) || !slices.Equal(o.Allowed[0].Paths, []string{"/get"}) || o.Allowed[0].Policy != policy {
			t.Errorf("other sources: want partial, exactly GET /get allowed by %s; got %+v", policy, o)
		}
		if len(o.DecidedBy) == 0 || !slices.ContainsFunc(o.DecidedBy, func(d egressv1alpha1.Decider) bool { return d.Policy == policy && d.Effect == "deny" }) {
			t.Errorf("other sources: want the rest denied by %s, decidedBy %+v", policy, o.DecidedBy)
		}
		want := egressv1alpha1.SimulationSummary{Sources: 2, Groups: 2, Destinations: 1, Policies: 1, Reachable: 2,
			Pairs: egressv1alpha1.AccessCounts{All: 1, Partial: 1},
			// Nothing stops default from reaching other hosts directly.
			DirectEgress: 1, Findings: egressv1alpha1.FindingCounts{Total: 1, Warnings: 1}}
		if sim.Summary != want {
			t.Errorf("summary %+v, want %+v", sim.Summary, want)
		}
		for _, c := range []string{egressv1alpha1.ConditionSimulated, egressv1alpha1.ConditionPoliciesValid} {
			cond := meta.FindStatusCondition(got.Status.Conditions, c)
			if cond == nil || cond.Status != metav1.ConditionTrue || cond.ObservedGeneration != got.Generation {
				t.Errorf("condition %s: %+v", c, cond)
			}
		}
		if c := meta.FindStatusCondition(got.Status.Conditions, egressv1alpha1.ConditionSimulated); c != nil && !strings.Contains(c.Message, "2 pairs reachable (1 all, 1 partial)") {
			t.Errorf("Simulated message %q does not count the pairs", c.Message)
		}
		wantDests := []egressv1alpha1.DestinationStatus{{Host: "httpbin.org", ServiceEntry: ns + "/httpbin.org",
			Ports:    []egressv1alpha1.DestinationPortStatus{{Number: 80, Protocol: "HTTP"}},
			Waypoint: ns + "/waypoint", BoundToThisGateway: true, Policies: []string{policy}}}
		if !reflect.DeepEqual(got.Status.Destinations, wantDests) {
			t.Errorf("status.destinations:\n got  %+v\n want %+v", got.Status.Destinations, wantDests)
		}
		// The admin's POST, then GET /get once per group: both groups may.
		if p := sim.Probes; len(p) != 3 || p[0].Verdict != "ALLOW" || p[0].Policy != policy || p[1].Verdict != "ALLOW" || p[2].Verdict != "ALLOW" {
			t.Errorf("probes: want the admin's POST allowed by %s and GET /get allowed for both groups; got %+v", policy, p)
		}
	})

	t.Run("istiod's conditions are shown", func(t *testing.T) {
		patchIstioStatus(t, "networking.istio.io/v1", "ServiceEntry", client.ObjectKey{Namespace: ns, Name: "httpbin.org"},
			"istio.io/WaypointBound", "True", "WaypointAccepted", "bound to "+ns+"/waypoint")
		patchIstioStatus(t, "security.istio.io/v1", "AuthorizationPolicy", client.ObjectKey{Namespace: ns, Name: "httpbin"},
			"WaypointAccepted", "False", "TargetNotFound", "no ServiceEntry httpbin.org")
		testenv.Eventually(t, testenv.DefaultTimeout, "istiod's conditions in the status", func(context.Context) (bool, error) {
			e := getEGW(t, key)
			if len(e.Status.Destinations) != 1 {
				return false, nil
			}
			b := e.Status.Destinations[0].IstioWaypointBound
			c := meta.FindStatusCondition(e.Status.Conditions, egressv1alpha1.ConditionPoliciesValid)
			return b != nil && b.Status == metav1.ConditionTrue && b.Reason == "WaypointAccepted" &&
				c != nil && strings.Contains(c.Message, policy+" (TargetNotFound: no ServiceEntry httpbin.org)"), nil
		})
		// Back to accepted: the message says nothing about it any more.
		patchIstioStatus(t, "security.istio.io/v1", "AuthorizationPolicy", client.ObjectKey{Namespace: ns, Name: "httpbin"},
			"WaypointAccepted", "True", "Accepted", "bound to "+ns+"/waypoint")
		testenv.Eventually(t, testenv.DefaultTimeout, "PoliciesValid without istiod's complaint", func(context.Context) (bool, error) {
			c := meta.FindStatusCondition(getEGW(t, key).Status.Conditions, egressv1alpha1.ConditionPoliciesValid)
			return c != nil && !strings.Contains(c.Message, "istiod"), nil
		})
	})

	t.Run("egressctl on a dump of the cluster gives the same report", func(t *testing.T) {
		sim := getEGW(t, key).Status.Simulation
		dump := dumpObjects(t, []string{ns, src, other}, ns)
		cli := egressctlSimulate(t, dump, "--root-namespace", ns)
		for _, part := range []string{"reachability", "probes"} {
			var fromStatus any
			switch part {
			case "reachability":
				fromStatus = sim.Reachability
			case "probes":
				fromStatus = sim.Probes
			}
			want, got := normalizedJSON(t, fromStatus), normalizedJSON(t, cli[part])
			if part == "probes" {
				// match is egressctl's answer to an expected verdict; the
				// gateway's probes expect none, and the status has no such
				// field.
				for _, p := range got.([]any) {
					delete(p.(map[string]any), "match")
				}
			}
			if !reflect.DeepEqual(want, got) {
				t.Errorf("%s differs:\n operator  %v\n egressctl %v", part, want, got)
			}
		}
	})

	t.Run("no-op reconcile writes nothing", func(t *testing.T) {
		settle(t, op)
		n, reconciles := op.requests.count(), metricSum(t, "controller_runtime_reconcile_total")
		// An annotation on a source namespace reconciles the gateway, and
		// changes nothing it reads (a namespace's labels are inputs: a
		// waypoint's allowedRoutes may select on any of them).
		mergePatch(t, "v1", "Namespace", client.ObjectKey{Name: src}, `{"metadata":{"annotations":{"unrelated":"yes"}}}`)
		testenv.Eventually(t, testenv.DefaultTimeout, "a reconcile", func(context.Context) (bool, error) {
			return metricSum(t, "controller_runtime_reconcile_total") > reconciles, nil
		})
		settle(t, op)
		if w := writes(op.requests.since(n)); len(w) != 0 {
			t.Errorf("a reconcile with unchanged inputs wrote: %v", w)
		}
	})

	t.Run("a namespace the gateway does not read does not reconcile it", func(t *testing.T) {
		settle(t, op)
		reconciles := metricSum(t, "controller_runtime_reconcile_total")
		// other is not a source (not ambient) and holds no gateway.
		mergePatch(t, "v1", "Namespace", client.ObjectKey{Name: other}, `{"metadata":{"labels":{"unrelated":"again"}}}`)
		settle(t, op)
		if got := metricSum(t, "controller_runtime_reconcile_total"); got != reconciles {
			t.Errorf("a label on a namespace no gateway reads caused %v reconciles", got-reconciles)
		}
	})

	t.Run("editing the policy updates the report", func(t *testing.T) {
		mergePatch(t, "security.istio.io/v1", "AuthorizationPolicy", client.ObjectKey{Namespace: ns, Name: "httpbin"}, fmt.Sprintf(
			`{"spec":{"rules":[{"from":[{"source":{"principals":[%q]}}]},{"to":[{"operation":{"methods":["GET"],"paths":["/get"]}}]},{"to":[{"operation":{"methods":["POST"],"paths":["/post"]}}]}]}}`, admin))
		waitForSimulation(t, key, "POST /post allowed to other sources", func(sim *egressv1alpha1.SimulationStatus) bool {
			o := entryFor(sim, "httpbin.org:80", "")
			return o != nil && slices.ContainsFunc(o.Allowed, func(c egressv1alpha1.Cube) bool {
				return slices.Equal(c.Methods, []string{"POST"}) && slices.Equal(c.Paths, []string{"/post"}) && c.Rule == 2
			})
		})
	})

	t.Run("an ambient namespace adds its service accounts", func(t *testing.T) {
		mergePatch(t, "v1", "Namespace", client.ObjectKey{Name: other}, `{"metadata":{"labels":{"istio.io/dataplane-mode":"ambient"}}}`)
		got := waitForSimulation(t, key, "the worker service account among the sources", func(sim *egressv1alpha1.SimulationStatus) bool {
			return slices.ContainsFunc(sim.Groups, func(g egressv1alpha1.SourceGroup) bool {
				return slices.Contains(g.Principals, "cluster.local/ns/"+other+"/sa/worker")
			})
		})
		if s := got.Status.Simulation.Summary.Sources; s < 3 {
			t.Errorf("summary counts %d sources, want at least 3", s)
		}
	})

	t.Run("deleting the ServiceEntry is a finding", func(t *testing.T) {
		se := &unstructured.Unstructured{}
		se.SetAPIVersion("networking.istio.io/v1")
		se.SetKind("ServiceEntry")
		se.SetNamespace(ns)
		se.SetName("httpbin.org")
		if err := env.Client.Delete(context.Background(), se); err != nil {
			t.Fatal(err)
		}
		got := waitForSimulation(t, key, "a TargetNotFound finding", func(sim *egressv1alpha1.SimulationStatus) bool {
			return slices.ContainsFunc(sim.Findings, func(f egressv1alpha1.Finding) bool {
				return f.Code == "TargetNotFound" && strings.Contains(f.Object, policy)
			})
		})
		if got.Status.Simulation.Summary.Destinations != 0 || got.Status.Simulation.Summary.Findings.Warnings == 0 {
			t.Errorf("summary %+v", got.Status.Simulation.Summary)
		}
		c := meta.FindStatusCondition(got.Status.Conditions, egressv1alpha1.ConditionPoliciesValid)
		if c == nil || !strings.Contains(c.Message, "TargetNotFound") {
			t.Errorf("PoliciesValid does not quote the finding: %+v", c)
		}
	})

	t.Run("disabled clears the report", func(t *testing.T) {
		updateEGW(t, key, func(e *egressv1alpha1.EgressGateway) { e.Spec.Simulation.Disabled = true })
		testenv.Eventually(t, testenv.DefaultTimeout, "status.simulation cleared", func(ctx context.Context) (bool, error) {
			e := &egressv1alpha1.EgressGateway{}
			if err := env.Client.Get(ctx, key, e); err != nil {
				return false, err
			}
			return e.Status.ObservedGeneration == e.Generation && e.Status.Simulation == nil &&
				meta.FindStatusCondition(e.Status.Conditions, egressv1alpha1.ConditionSimulated) == nil, nil
		})
	})
}

// TestSimulationStatusShape checks that status.simulation.reachability
// decodes the JSON of egressctl simulate without losing a field.
func TestSimulationStatusShape(t *testing.T) {
	const entry = `{"destination":"httpbin.org:80","otherSources":true,"access":"partial",
"allowed":[{"methods":["GET"],"paths":["/get"],"notPaths":["/x"],"headers":{"x-a":{"values":["1"]}},"when":[{"key":"request.auth.claims[iss]","values":["a"]}],"policy":"p/q","rule":1}],
"denied":[{"hosts":["a"],"rule":0,"policy":"p/d"}],
"decidedBy":[{"effect":"allow","policy":"p/q","rule":1,"reason":"ALLOW rule matches"},{"effect":"deny","rule":-1,"reason":"default"}]}`
	var e egressv1alpha1.ReachabilityEntry
	if err := json.Unmarshal([]byte(entry), &e); err != nil {
		t.Fatal(err)
	}
	back, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	var want, got any
	if err := json.Unmarshal([]byte(entry), &want); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(back, &got); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(want) != fmt.Sprint(got) {
		t.Errorf("round trip lost fields:\n want %v\n got  %v", want, got)
	}
}

// patchIstioStatus writes one condition into an Istio object's status, as
// istiod does.
func patchIstioStatus(t *testing.T, apiVersion, kind string, key client.ObjectKey, condType, status, reason, message string) {
	t.Helper()
	u := &unstructured.Unstructured{}
	u.SetAPIVersion(apiVersion)
	u.SetKind(kind)
	u.SetNamespace(key.Namespace)
	u.SetName(key.Name)
	patch := fmt.Sprintf(`{"status":{"conditions":[{"type":%q,"status":%q,"reason":%q,"message":%q}]}}`, condType, status, reason, message)
	if err := env.Client.Status().Patch(context.Background(), u, client.RawPatch(types.MergePatchType, []byte(patch))); err != nil {
		t.Fatalf("patching the status of %s %s: %v", kind, key, err)
	}
}

// seedInNamespace creates the seed's sources, ServiceEntry and policy around
// namespace ns and returns the source namespace and the admin principal.
func seedInNamespace(t *testing.T, ns string) (src, admin string) {
	t.Helper()
	src = env.CreateNamespace(t, "sim-src", map[string]string{sourcesLabel: ns, "istio.io/dataplane-mode": "ambient"}).Name
	t.Cleanup(func() {
		mergePatch(t, "v1", "Namespace", client.ObjectKey{Name: src}, `{"metadata":{"labels":{"istio.io/dataplane-mode":null}}}`)
	})
	for _, sa := range []string{"default", "admin"} {
		if err := env.Client.Create(context.Background(), &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: src, Name: sa}}); err != nil {
			t.Fatal(err)
		}
	}
	admin = "cluster.local/ns/" + src + "/sa/admin"
	createSeedDestination(t, ns, admin)
	return src, admin
}

// createSeedDestination creates the seed's ServiceEntry httpbin.org and its
// policy in ns: admin may send anything, everyone else only GET /get.
func createSeedDestination(t *testing.T, ns, admin string) {
	t.Helper()
	createYAML(t, fmt.Sprintf(`
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: httpbin.org, namespace: %s}
spec:
  hosts: [httpbin.org]
  ports: [{number: 80, name: http, protocol: HTTP}]
  resolution: DNS
`, ns))
	createSeedPolicy(t, ns, admin)
}

// createSeedPolicy creates the seed's policy httpbin in ns, on the
// ServiceEntry httpbin.org: admin may send anything, everyone else only GET
// /get.
func createSeedPolicy(t *testing.T, ns, admin string) {
	t.Helper()
	createYAML(t, fmt.Sprintf(`
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: httpbin, namespace: %s}
spec:
  targetRefs: [{kind: ServiceEntry, group: networking.istio.io, name: httpbin.org}]
  action: ALLOW
  rules:
  - from: [{source: {principals: [%q]}}]
  - to: [{operation: {methods: [GET], paths: [/get]}}]
`, ns, admin))
}

func TestSimulationReportConfigMap(t *testing.T) {
	ns := env.CreateNamespace(t, "sim-report", nil).Name
	src, _ := seedInNamespace(t, ns)
	// A budget the seed does not fit moves the full report to the ConfigMap.
	const budget = 700
	startOperatorIn(t, env.Config, []string{ns, src}, controllers.Options{StatusBudget: budget})
	egw := newEgressGateway(ns, "waypoint", func(e *egressv1alpha1.EgressGateway) {
		e.Spec.Simulation.Sources = &egressv1alpha1.LabelSelector{MatchLabels: map[string]egressv1alpha1.LabelValue{sourcesLabel: egressv1alpha1.LabelValue(ns), "istio.io/dataplane-mode": "ambient"}}
	})
	if err := env.Client.Create(context.Background(), egw); err != nil {
		t.Fatal(err)
	}
	key := client.ObjectKeyFromObject(egw)
	got := waitForSimulation(t, key, "a truncated report", func(sim *egressv1alpha1.SimulationStatus) bool { return sim.ReportConfigMap != "" })
	sim := got.Status.Simulation
	if data, _ := json.Marshal(sim); len(data) > budget {
		t.Errorf("status.simulation is %d bytes, budget %d", len(data), budget)
	}
	if sim.ReportConfigMap != "waypoint-report" || !strings.Contains(sim.Truncated, "reachability entries") || sim.Summary.Reachable != 2 {
		t.Errorf("reportConfigMap %q, truncated %q, summary %+v", sim.ReportConfigMap, sim.Truncated, sim.Summary)
	}
	// The ConfigMap is written before the status, and the inputs may still
	// change (the Gateway appears): read both until they describe the same
	// inputs.
	readReport := func() (*corev1.ConfigMap, map[string]any) {
		cm := &corev1.ConfigMap{}
		testenv.Eventually(t, testenv.DefaultTimeout, "the report ConfigMap of the status's inputs", func(ctx context.Context) (bool, error) {
			if err := env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "waypoint-report"}, cm); err != nil {
				return false, client.IgnoreNotFound(err)
			}
			got = getEGW(t, key)
			return got.Status.Simulation != nil && cm.Annotations["egress.ambient.io/inputs-digest"] == got.Status.Simulation.InputsDigest, nil
		})
		var report map[string]any
		if err := json.Unmarshal([]byte(cm.Data["report.json"]), &report); err != nil {
			t.Fatal(err)
		}
		return cm, report
	}
	cm, report := readReport()
	if !metav1.IsControlledBy(cm, got) {
		t.Errorf("ConfigMap owners %+v, annotations %v", cm.OwnerReferences, cm.Annotations)
	}
	if entries, _ := report["reachability"].([]any); len(entries) != 2 {
		t.Errorf("the ConfigMap's report has %d reachability entries, want 2: %v", len(entries), report)
	}

	t.Run("a deleted report is written again", func(t *testing.T) {
		if err := env.Client.Delete(context.Background(), cm); err != nil {
			t.Fatal(err)
		}
		testenv.Eventually(t, testenv.DefaultTimeout, "the report ConfigMap again", func(ctx context.Context) (bool, error) {
			again := &corev1.ConfigMap{}
			if err := env.Client.Get(ctx, client.ObjectKeyFromObject(cm), again); err != nil {
				return false, client.IgnoreNotFound(err)
			}
			return again.UID != cm.UID, nil
		})
	})

	t.Run("metrics", func(t *testing.T) {
		families, err := crmetrics.Registry.Gather()
		if err != nil {
			t.Fatal(err)
		}
		var observed uint64
		pairs := map[string]float64{}
		for _, f := range families {
			for _, m := range f.GetMetric() {
				labels := map[string]string{}
				for _, l := range m.GetLabel() {
					labels[l.GetName()] = l.GetValue()
				}
				if labels["namespace"] != ns {
					continue
				}
				switch f.GetName() {
				case "egressgateway_simulation_duration_seconds":
					observed += m.GetHistogram().GetSampleCount()
				case "egressgateway_reachability_pairs":
					pairs[labels["access"]] = m.GetGauge().GetValue()
				}
			}
		}
		if observed == 0 || pairs["all"] != 1 || pairs["partial"] != 1 || pairs["none"] != 0 {
			t.Errorf("simulations observed %d, pairs %v", observed, pairs)
		}
	})

	t.Run("disabled deletes the report", func(t *testing.T) {
		updateEGW(t, key, func(e *egressv1alpha1.EgressGateway) { e.Spec.Simulation.Disabled = true })
		testenv.Eventually(t, testenv.DefaultTimeout, "the report ConfigMap deleted", func(ctx context.Context) (bool, error) {
			err := env.Client.Get(ctx, client.ObjectKeyFromObject(cm), &corev1.ConfigMap{})
			return apierrors.IsNotFound(err), client.IgnoreNotFound(err)
		})
	})
}

// dumpObjects writes, as kubectl get -o yaml would, the objects the report
// depends on: the namespaces with their labels, their ServiceAccounts, the
// gateway namespace's Istio objects, EgressGateways and Gateways.
func dumpObjects(t *testing.T, namespaces []string, gatewayNS string) string {
	t.Helper()
	var docs []string
	add := func(u unstructured.Unstructured) {
		obj := map[string]any{"apiVersion": u.GetAPIVersion(), "kind": u.GetKind()}
		meta := map[string]any{"name": u.GetName()}
		if u.GetNamespace() != "" {
			meta["namespace"] = u.GetNamespace()
		}
		if l := u.GetLabels(); len(l) > 0 {
			meta["labels"] = l
		}
		if a := u.GetAnnotations(); len(a) > 0 {
			meta["annotations"] = a
		}
		meta["creationTimestamp"] = u.GetCreationTimestamp().UTC().Format("2006-01-02T15:04:05Z")
		obj["metadata"] = meta
		if spec, ok := u.Object["spec"]; ok {
			obj["spec"] = spec
		}
		data, err := yaml.Marshal(obj)
		if err != nil {
			t.Fatal(err)
		}
		docs = append(docs, string(data))
	}
	list := func(apiVersion, kind, namespace string) {
		l := &unstructured.UnstructuredList{}
		l.SetAPIVersion(apiVersion)
		l.SetKind(kind + "List")
		if err := env.Client.List(context.Background(), l, client.InNamespace(namespace)); err != nil {
			t.Fatal(err)
		}
		for _, u := range l.Items {
			add(u)
		}
	}
	for _, n := range namespaces {
		u := unstructured.Unstructured{}
		u.SetAPIVersion("v1")
		u.SetKind("Namespace")
		if err := env.Client.Get(context.Background(), client.ObjectKey{Name: n}, &u); err != nil {
			t.Fatal(err)
		}
		delete(u.Object, "spec") // finalizers only
		add(u)
		list("v1", "ServiceAccount", n)
	}
	for _, k := range [][2]string{{"networking.istio.io/v1", "ServiceEntry"}, {"networking.istio.io/v1", "DestinationRule"},
		{"security.istio.io/v1", "AuthorizationPolicy"}, {"egress.ambient.io/v1alpha1", "EgressGateway"}, {"gateway.networking.k8s.io/v1", "Gateway"}} {
		list(k[0], k[1], gatewayNS)
	}
	return strings.Join(docs, "---\n")
}

// egressctlSimulate builds egressctl from this tree, runs simulate -o json
// on the manifests and returns its JSON.
func egressctlSimulate(t *testing.T, manifests string, args ...string) map[string]any {
	t.Helper()
	dir := t.TempDir()
	bin := filepath.Join(dir, "egressctl")
	build := exec.Command("go", "build", "-o", bin, "./cmd/egressctl")
	build.Dir = env.Root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building egressctl: %v\n%s", err, out)
	}
	file := filepath.Join(dir, "dump.yaml")
	if err := os.WriteFile(file, []byte(manifests), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, append([]string{"simulate", "-f", file, "-o", "json"}, args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("egressctl simulate: %v\n%s\n%s", err, stderr.String(), manifests)
	}
	var report map[string]any
	if err := json.Unmarshal(out, &report); err != nil {
		t.Fatal(err)
	}
	return report
}

// normalizedJSON is v as generic JSON without empty lists, nulls and
// false booleans: the status leaves them out where egressctl writes them.
func normalizedJSON(t *testing.T, v any) any {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var out any
	if err := json.Unmarshal(data, &out); err != nil {
		t.Fatal(err)
	}
	var prune func(any) any
	prune = func(x any) any {
		switch x := x.(type) {
		case map[string]any:
			for k, v := range x {
				v = prune(v)
				if v == nil || v == false || v == "" {
					delete(x, k)
					continue
				}
				if l, ok := v.([]any); ok && len(l) == 0 {
					delete(x, k)
					continue
				}
				x[k] = v
			}
			return x
		case []any:
			for i := range x {
				x[i] = prune(x[i])
			}
			return x
		}
		return x
	}
	return prune(out)
}
