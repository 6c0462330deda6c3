package controllers_test

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	"sigs.k8s.io/controller-runtime/pkg/client"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	egressv1alpha1 "github.com/ambient-egress/ambient-egress-operator/apis/egress/v1alpha1"
	"github.com/ambient-egress/ambient-egress-operator/controllers"
	"github.com/ambient-egress/ambient-egress-operator/controllers/internal/testenv"
	"github.com/ambient-egress/ambient-egress-operator/simulator/reach/scalegen"
)

// TestEditLatencyAtFullSize measures, at the full benchmark size as live
// objects (10,000 service accounts in 500 namespaces, 1,000 ServiceEntries,
// 2,000 policies), how long the operator takes from start to the first
// report, and from one policy edit to the status that shows it; the peak
// memory of the process the manager runs in; and the writes of an idle
// minute, which must be none. It takes minutes, so it runs only when
// EGRESS_LATENCY=1: hack/latency.sh runs it and prints the figures.
// EGRESS_LATENCY_EDITS sets the number of edits (default 15).
func TestEditLatencyAtFullSize(t *testing.T) {
	if os.Getenv("EGRESS_LATENCY") != "1" {
		t.Skip("set EGRESS_LATENCY=1 (or run hack/latency.sh) to measure edit-to-status latency at full size")
	}
	edits := 15
	if s := os.Getenv("EGRESS_LATENCY_EDITS"); s != "" {
		var err error
		if edits, err = strconv.Atoi(s); err != nil {
			t.Fatal(err)
		}
	}
	ns := env.CreateNamespace(t, "lat", nil).Name
	namespaces, objects := scaleObjects(t, ns, scalegen.Scale(1))
	start := time.Now()
	createAll(t, namespaces)
	createAll(t, objects)
	t.Logf("created %d namespaces and %d objects in %s", len(namespaces), len(objects), time.Since(start).Round(time.Millisecond))
	runtime.GC()

	peak := watchPeakRSS(t)
	base := peak.Load()
	// Every namespace cached, as the operator runs in production: the
	// test runs alone (-run), so no other test's objects are in the way.
	op := startOperatorCaching(t, env.Config, ns, nil, controllers.Options{}, metricsserver.Options{BindAddress: "0"})
	egw := newEgressGateway(ns, "waypoint", func(e *egressv1alpha1.EgressGateway) {
		e.Spec.Simulation.Sources = &egressv1alpha1.LabelSelector{MatchLabels: map[string]egressv1alpha1.LabelValue{sourcesLabel: egressv1alpha1.LabelValue(ns)}}
	})
	start = time.Now()
	if err := env.Client.Create(context.Background(), egw); err != nil {
		t.Fatal(err)
	}
	key := client.ObjectKeyFromObject(egw)
	var got *egressv1alpha1.EgressGateway
	testenv.Eventually(t, 5*time.Minute, "the first full-size report", func(ctx context.Context) (bool, error) {
		got = &egressv1alpha1.EgressGateway{}
		if err := env.Client.Get(ctx, key, got); err != nil {
			return false, err
		}
		sim := got.Status.Simulation
		return sim != nil && sim.Summary.Policies == 2000 && sim.Summary.Sources >= 10000, nil
	})
	first := time.Since(start)
	t.Logf("first report %s after the EgressGateway was created (the simulation itself took %s)", first.Round(time.Millisecond), got.Status.Simulation.Duration.Duration)
	settle(t, op)

	if path := os.Getenv("EGRESS_LATENCY_CPUPROFILE"); path != "" {
		f, err := os.Create(path)
		if err != nil {
			t.Fatal(err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(pprof.StopCPUProfile)
	}
	var took []time.Duration
	for i := range edits {
		digest := getEGW(t, key).Status.Simulation.InputsDigest
		// A new rule on policy pol-<i*37 mod 2000>: an edit of one policy
		// among 2,000.
		policy := fmt.Sprintf("pol-%d", (i*37)%2000)
		start := time.Now()
		mergePatch(t, "security.istio.io/v1", "AuthorizationPolicy", client.ObjectKey{Namespace: ns, Name: policy},
			fmt.Sprintf(`{"spec":{"rules":[{"to":[{"operation":{"methods":["GET"],"paths":["/edit-%d"]}}]}]}}`, i))
		testenv.Eventually(t, testenv.DefaultTimeout, "the edit of "+policy+" in status", func(ctx context.Context) (bool, error) {
			e := &egressv1alpha1.EgressGateway{}
			if err := env.Client.Get(ctx, key, e); err != nil {
				return false, err
			}
			c := meta.FindStatusCondition(e.Status.Conditions, egressv1alpha1.ConditionSimulated)
			return e.Status.Simulation != nil && e.Status.Simulation.InputsDigest != digest && c != nil && c.Reason != egressv1alpha1.ReasonReconciling, nil
		})
		took = append(took, time.Since(start))
		settle(t, op)
	}
	slices.Sort(took)
	if len(took) > 0 {
		t.Logf("policy edit to status over %d edits: median %s, min %s, max %s", len(took),
			took[len(took)/2].Round(time.Millisecond), took[0].Round(time.Millisecond), took[len(took)-1].Round(time.Millisecond))
	}

	pprof.StopCPUProfile()
	if os.Getenv("EGRESS_LATENCY_SKIP_IDLE") == "1" {
		return
	}
	// An idle minute: the operator writes nothing.
	settle(t, op)
	n := op.requests.count()
	// The minute is the measure, not a wait for anything to settle: the
	// operator is watched for a write during it, and the first one fails
	// the test at once.
	for end := time.Now().Add(time.Minute); time.Now().Before(end); {
		if w := writes(op.requests.since(n)); len(w) != 0 {
			t.Fatalf("the operator wrote while idle: %v", w)
		}
		select {
		case <-time.After(time.Second):
		case <-t.Context().Done():
			return
		}
	}
	t.Logf("idle minute: %d writes; peak RSS of the test process %d MiB (%d MiB before the manager started: the test's own client and objects)",
		len(writes(op.requests.since(n))), peak.Load()>>20, base>>20)
}

// watchPeakRSS samples the process's resident memory every 50 ms until the
// test ends and keeps the largest value seen.
func watchPeakRSS(t *testing.T) *atomic.Int64 {
	var peak atomic.Int64
	sample := func() {
		data, err := os.ReadFile("/proc/self/status")
		if err != nil {
			return
		}
		for line := range strings.SplitSeq(string(data), "\n") {
			if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
				if kb, err := strconv.ParseInt(f[1], 10, 64); err == nil && kb<<10 > peak.Load() {
					peak.Store(kb << 10)
				}
			}
		}
	}
	sample()
	stop := make(chan struct{})
	go func() {
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				sample()
			}
		}
	}()
	t.Cleanup(func() { close(stop) })
	return &peak
}
