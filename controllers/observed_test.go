package controllers_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	egressv1alpha1 "github.com/ambient-egress/ambient-egress-operator/apis/egress/v1alpha1"
	"github.com/ambient-egress/ambient-egress-operator/controllers"
	"github.com/ambient-egress/ambient-egress-operator/controllers/internal/testenv"
	"github.com/ambient-egress/ambient-egress-operator/simulator/observe"
	"github.com/ambient-egress/ambient-egress-operator/simulator/observe/observetest"
)

// countingProxy forwards to target and counts the queries it forwards.
func countingProxy(t *testing.T, target string) (string, *atomic.Int64) {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	var n atomic.Int64
	proxy := httputil.NewSingleHostReverseProxy(u)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/api/v1/query") {
			n.Add(1)
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv.URL, &n
}

// TestObservedTraffic: a real Prometheus over series shaped like Istio's
// standard metrics for the seed (admin POSTing, default GETting and denied
// on POST, a grant never used, one impossible flow). The operator writes
// the observed rows and the three findings; a reconcile between refreshes
// asks Prometheus nothing and writes nothing; Prometheus stopped gives
// Observed=False and leaves the rest of the status as it was, and the
// operator recovers when Prometheus returns.
func TestObservedTraffic(t *testing.T) {
	ctx := context.Background()
	ns := env.CreateNamespace(t, "observed-egress", nil).Name
	src, _ := seedInNamespace(t, ns)
	api, err := os.ReadFile("../simulator/observe/testdata/api.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for doc := range strings.SplitSeq(strings.ReplaceAll(strings.ReplaceAll(string(api), "istio-egress", ns), "ns/default/", "ns/"+src+"/"), "\n---\n") {
		createYAML(t, doc)
	}
	prom := observetest.Start(t, observetest.OpenMetrics(observetest.SeedFlows(time.Now(), src)))
	promURL, queries := countingProxy(t, prom.URL)
	op := startOperatorIn(t, env.Config, []string{ns, src}, controllers.Options{})
	egw := newEgressGateway(ns, "waypoint", func(e *egressv1alpha1.EgressGateway) {
		e.Spec.Simulation.Sources = &egressv1alpha1.LabelSelector{MatchLabels: map[string]egressv1alpha1.LabelValue{sourcesLabel: egressv1alpha1.LabelValue(ns), "istio.io/dataplane-mode": "ambient"}}
		e.Spec.Observability.Prometheus = &egressv1alpha1.PrometheusSpec{URL: promURL}
	})
	if err := env.Client.Create(ctx, egw); err != nil {
		t.Fatal(err)
	}
	key := client.ObjectKeyFromObject(egw)
	waitForRelease(t, key, 1, "deployed")
	istiod{}.programs(t, ns, "waypoint", 1)
	env.WaitForCondition(t, key, egressv1alpha1.ConditionReady, metav1.ConditionTrue)

	got := waitForObserved(t, key, egressv1alpha1.ReasonQueried, "read "+promURL)
	t.Run("rows and findings", func(t *testing.T) {
		if st := getEGW(t, key).Spec.Observability.Prometheus; st.Lookback == nil || st.Lookback.Duration != 24*time.Hour || st.RefreshInterval.Duration != 5*time.Minute {
			t.Errorf("defaults: %+v", st)
		}
		var rows []string
		for _, r := range got.Status.Observed.Traffic {
			rows = append(rows, fmt.Sprintf("%s %s %s %s requests=%d denied=%d connections=%d seen=%v",
				r.Via, r.Destination, r.Group, r.Access, r.Requests, r.Denied, r.Connections, r.LastSeen != nil))
		}
		want := []string{
			"waypoint api.example.com others none requests=15 denied=0 connections=0 seen=true",
			"waypoint httpbin.org " + src + "/admin all requests=120 denied=0 connections=0 seen=true",
			"waypoint httpbin.org others partial requests=340 denied=40 connections=0 seen=true",
		}
		if strings.Join(rows, "\n") != strings.Join(want, "\n") {
			t.Errorf("status.observed.traffic:\n%s\nwant:\n%s", strings.Join(rows, "\n"), strings.Join(want, "\n"))
		}
		if o := got.Status.Observed; o.InputsDigest != got.Status.Simulation.InputsDigest || o.Window.Duration != 24*time.Hour ||
			!strings.Contains(o.Truncated, "2 series with labels not shaped as Istio writes them") {
			t.Errorf("status.observed %+v", o)
		}
		for _, code := range observe.Codes {
			if n := countFindings(got, code); n != 1 {
				t.Errorf("%d %s findings, want 1: %+v", n, code, got.Status.Simulation.Findings)
			}
		}
		if c := meta.FindStatusCondition(got.Status.Conditions, egressv1alpha1.ConditionReady); c == nil || c.Status != metav1.ConditionTrue {
			t.Errorf("Ready %+v", c)
		}
	})

	t.Run("no-op reconcile: no query, no write", func(t *testing.T) {
		settle(t, op)
		before := queries.Load()
		assertNoOpReconcileWritesNothing(t, op, ns)
		if n := queries.Load() - before; n != 0 {
			t.Errorf("a reconcile between refreshes sent %d queries", n)
		}
	})

	t.Run("Prometheus down and back", func(t *testing.T) {
		before := getEGW(t, key)
		prom.Stop()
		// A shorter window is a new reading, due at once; it leaves the
		// report's inputs as they are.
		updateEGW(t, key, func(e *egressv1alpha1.EgressGateway) {
			e.Spec.Observability.Prometheus.Lookback = &metav1.Duration{Duration: 23 * time.Hour}
		})
		down := waitForObserved(t, key, egressv1alpha1.ReasonPrometheusUnavailable, "retrying in")
		if !reflect.DeepEqual(down.Status.Observed, before.Status.Observed) || !reflect.DeepEqual(down.Status.Simulation, before.Status.Simulation) {
			t.Errorf("Prometheus down changed status.observed or status.simulation")
		}
		for _, c := range down.Status.Conditions {
			if c.Type != egressv1alpha1.ConditionObserved && c.Status != metav1.ConditionTrue {
				t.Errorf("Prometheus down changed %s: %+v", c.Type, c)
			}
		}
		waitForEvent(t, ns, "waypoint", egressv1alpha1.ReasonPrometheusUnavailable)
		prom.Restart()
		back := waitForObserved(t, key, egressv1alpha1.ReasonQueried, "over the last 23h;")
		if back.Status.Observed.Window.Duration != 23*time.Hour || len(back.Status.Observed.Traffic) != 3 {
			t.Errorf("after Prometheus returned: %+v", back.Status.Observed)
		}
	})

	t.Run("turned off", func(t *testing.T) {
		updateEGW(t, key, func(e *egressv1alpha1.EgressGateway) { e.Spec.Observability.Prometheus = nil })
		testenv.Eventually(t, testenv.DefaultTimeout, "status.observed, Observed and its findings gone", func(context.Context) (bool, error) {
			e := getEGW(t, key)
			return e.Status.Observed == nil && meta.FindStatusCondition(e.Status.Conditions, egressv1alpha1.ConditionObserved) == nil &&
				countFindings(e, observe.CodeUnusedGrant) == 0, nil
		})
	})
	settle(t, op)
}

func waitForObserved(t *testing.T, key client.ObjectKey, reason, contains string) *egressv1alpha1.EgressGateway {
	t.Helper()
	return waitForConditionReason(t, key, egressv1alpha1.ConditionObserved, reason, contains)
}

func countFindings(egw *egressv1alpha1.EgressGateway, code string) int {
	n := 0
	if egw.Status.Simulation != nil {
		for _, f := range egw.Status.Simulation.Findings {
			if f.Code == code {
				n++
			}
		}
	}
	return n
}

// TestPrometheusSpecValidation: the API server refuses what the operator
// could not query, naming the field.
func TestPrometheusSpecValidation(t *testing.T) {
	ns := env.CreateNamespace(t, "observed-crd", nil).Name
	for _, tc := range []struct {
		name, prometheus, want string
	}{
		{"no scheme", `{url: "prometheus:9090"}`, "url must start with http:// or https://"},
		{"ftp", `{url: "ftp://prometheus"}`, "url must start with http:// or https://"},
		{"short window", `{url: "http://p:9090", lookback: 1m}`, "lookback must be between 5m and 720h"},
		{"long window", `{url: "http://p:9090", lookback: 1000h}`, "lookback must be between 5m and 720h"},
		{"fast refresh", `{url: "http://p:9090", refreshInterval: 5s}`, "refreshInterval must be at least 30s"},
		{"secret without key", `{url: "http://p:9090", bearerTokenSecret: {name: t}}`, "bearerTokenSecret.key: Required value"},
		{"valid", `{url: "https://thanos-querier.openshift-monitoring.svc:9091", bearerTokenSecret: {name: t, key: token}, caConfigMap: {name: ca, key: service-ca.crt}, lookback: 2h, refreshInterval: 1m}`, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			obj := fromYAML(t, `{apiVersion: egress.ambient.io/v1alpha1, kind: EgressGateway, metadata: {generateName: p-}, spec: {observability: {prometheus: `+tc.prometheus+`}}}`)
			obj.SetNamespace(ns)
			err := env.Client.Create(context.Background(), obj)
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("error %v, want %q", err, tc.want)
			}
		})
	}
}
