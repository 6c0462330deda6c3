package controllers_test

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/metrics/filters"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	"sigs.k8s.io/yaml"

	egressv1alpha1 "github.com/ambient-egress/ambient-egress-operator/apis/egress/v1alpha1"
	"github.com/ambient-egress/ambient-egress-operator/controllers"
	"github.com/ambient-egress/ambient-egress-operator/controllers/internal/testenv"
)

// TestMetricsEndpoint scrapes the manager's secure metrics endpoint, set up
// as cmd/manager does (HTTPS, authenticated and authorized by the API
// server), with the token of a ServiceAccount bound to the metrics-reader
// ClusterRole from config/rbac, and parses what it serves.
func TestMetricsEndpoint(t *testing.T) {
	ns := env.CreateNamespace(t, "metrics", nil).Name
	src, _ := seedInNamespace(t, ns)
	// A policy whose target does not exist: one TargetNotFound finding.
	createYAML(t, fmt.Sprintf(`
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: dangling, namespace: %s}
spec:
  targetRefs: [{kind: ServiceEntry, group: networking.istio.io, name: missing.example.com}]
  action: ALLOW
  rules: [{}]
`, ns))
	addr := freeLoopbackAddr(t)
	startOperatorServing(t, env.Config, []string{ns, src}, controllers.Options{}, metricsserver.Options{
		BindAddress: addr, SecureServing: true, FilterProvider: filters.WithAuthenticationAndAuthorization,
	})
	egw := newEgressGateway(ns, "waypoint", func(e *egressv1alpha1.EgressGateway) {
		e.Spec.Simulation.Sources = &egressv1alpha1.LabelSelector{MatchLabels: map[string]egressv1alpha1.LabelValue{sourcesLabel: egressv1alpha1.LabelValue(ns), "istio.io/dataplane-mode": "ambient"}}
		e.Spec.Waypoint.Replicas = ptr.To[int32](2)
	})
	if err := env.Client.Create(context.Background(), egw); err != nil {
		t.Fatal(err)
	}
	key := client.ObjectKeyFromObject(egw)
	waitForRelease(t, key, 1, "deployed")
	istiod{}.programs(t, ns, "waypoint", 2)
	env.WaitForCondition(t, key, egressv1alpha1.ConditionSimulated, metav1.ConditionTrue)
	created := getEGW(t, key).CreationTimestamp

	reader, stranger := scraperToken(t, ns, true), scraperToken(t, ns, false)
	url := "https://" + addr + "/metrics"
	if code, _ := scrape(t, url, ""); code != http.StatusUnauthorized {
		t.Errorf("scrape without a token: HTTP %d, want 401", code)
	}
	if code, _ := scrape(t, url, stranger); code != http.StatusForbidden {
		t.Errorf("scrape by a ServiceAccount without metrics-reader: HTTP %d, want 403", code)
	}

	gw := map[string]string{"namespace": ns, "name": "waypoint"}
	with := func(extra map[string]string) map[string]string {
		out := map[string]string{}
		maps.Copy(out, gw)
		maps.Copy(out, extra)
		return out
	}
	want := []struct {
		family string
		labels map[string]string
		ok     func(float64) bool
		what   string
	}{
		{"egressgateway_simulation_duration_seconds", gw, func(v float64) bool { return v >= 1 }, "at least one observation"},
		{"egressgateway_reachability_pairs", with(map[string]string{"access": "all"}), func(v float64) bool { return v == 1 }, "1 (admin)"},
		{"egressgateway_reachability_pairs", with(map[string]string{"access": "partial"}), func(v float64) bool { return v == 1 }, "1 (default: GET /get)"},
		{"egressgateway_reachability_pairs", with(map[string]string{"access": "none"}), func(v float64) bool { return v == 0 }, "0"},
		{"egressgateway_findings", with(map[string]string{"code": "TargetNotFound", "severity": "warning"}), func(v float64) bool { return v == 1 }, "1 (the dangling policy)"},
		{"egressgateway_waypoint_replicas", with(map[string]string{"state": "desired"}), func(v float64) bool { return v == 2 }, "2"},
		{"egressgateway_waypoint_replicas", with(map[string]string{"state": "ready"}), func(v float64) bool { return v == 2 }, "2"},
		{"egressgateway_helm_actions_total", map[string]string{"action": "install", "result": "success"}, func(v float64) bool { return v >= 1 }, "at least 1"},
		{"resource_created_at_seconds", map[string]string{"namespace": ns, "name": "waypoint", "group": "egress.ambient.io", "version": "v1alpha1", "kind": "EgressGateway"},
			func(v float64) bool { return v == float64(created.Unix()) }, fmt.Sprint(created.Unix())},
	}
	var families map[string]*dto.MetricFamily
	testenv.Eventually(t, testenv.DefaultTimeout, "every metric served", func(context.Context) (bool, error) {
		code, body := scrape(t, url, reader)
		if code != http.StatusOK {
			return false, fmt.Errorf("scrape by metrics-reader: HTTP %d: %s", code, body)
		}
		parser := expfmt.NewTextParser(model.UTF8Validation)
		var err error
		if families, err = parser.TextToMetricFamilies(strings.NewReader(body)); err != nil {
			return false, fmt.Errorf("parsing the scrape: %w", err)
		}
		for _, w := range want {
			if v, ok := sample(families[w.family], w.labels); !ok || !w.ok(v) {
				t.Logf("not yet: %s%v = %v (present %v), want %s", w.family, w.labels, v, ok, w.what)
				return false, nil
			}
		}
		return true, nil
	})
	for _, w := range want {
		if v, ok := sample(families[w.family], w.labels); !ok || !w.ok(v) {
			t.Errorf("%s%v = %v (present %v), want %s", w.family, w.labels, v, ok, w.what)
		}
	}
	t.Run("a deleted gateway leaves no series", func(t *testing.T) {
		if err := env.Client.Delete(context.Background(), getEGW(t, key)); err != nil {
			t.Fatal(err)
		}
		testenv.Eventually(t, testenv.DefaultTimeout, "the gateway's series gone", func(ctx context.Context) (bool, error) {
			if err := env.Client.Get(ctx, key, &egressv1alpha1.EgressGateway{}); err == nil {
				return false, nil
			}
			_, body := scrape(t, url, reader)
			for line := range strings.SplitSeq(body, "\n") {
				if strings.Contains(line, `namespace="`+ns+`"`) && !strings.HasPrefix(line, "#") {
					t.Logf("still served: %s", line)
					return false, nil
				}
			}
			return true, nil
		})
	})
	// No series may carry a per-workload label.
	for name, f := range families {
		if !strings.HasPrefix(name, "egressgateway_") {
			continue
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				switch l.GetName() {
				case "namespace", "name", "access", "code", "severity", "state", "action", "result", "le":
				default:
					t.Errorf("%s has label %s: only bounded labels are allowed", name, l.GetName())
				}
			}
		}
	}
}

// freeLoopbackAddr returns a 127.0.0.1 address with a port free right now.
func freeLoopbackAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return addr
}

// scraperToken creates a ServiceAccount in ns, bound to config/rbac's
// metrics-reader ClusterRole when reader is true, and returns a token for it.
func scraperToken(t *testing.T, ns string, reader bool) string {
	t.Helper()
	ctx := context.Background()
	name := "stranger"
	if reader {
		name = "prometheus"
		data, err := os.ReadFile(filepath.Join("..", "config", "rbac", "metrics_reader_role.yaml"))
		if err != nil {
			t.Fatal(err)
		}
		role := &rbacv1.ClusterRole{}
		if err := yaml.UnmarshalStrict(data, role); err != nil {
			t.Fatal(err)
		}
		role.Name = ns + "-metrics-reader" // cluster-scoped: one per test namespace
		binding := &rbacv1.ClusterRoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: role.Name},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: role.Name},
			Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Namespace: ns, Name: name}},
		}
		for _, obj := range []client.Object{role, binding} {
			if err := env.Client.Create(ctx, obj); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = env.Client.Delete(context.Background(), obj) })
		}
	}
	if err := env.Client.Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}); err != nil {
		t.Fatal(err)
	}
	cs, err := kubernetes.NewForConfig(env.Config)
	if err != nil {
		t.Fatal(err)
	}
	tr, err := cs.CoreV1().ServiceAccounts(ns).CreateToken(ctx, name, &authenticationv1.TokenRequest{
		Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: ptr.To[int64](600)},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return tr.Status.Token
}

// scrape GETs url with token as a bearer token, if any. The endpoint's
// certificate is self-signed by controller-runtime, so it is not verified:
// the test is about who may read, not about the certificate.
func scrape(t *testing.T, url, token string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // self-signed test endpoint
	}}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("scraping %s: %v", url, err)
	}
	defer func() { _ = resp.Body.Close() }()
	var b strings.Builder
	if _, err := io.Copy(&b, resp.Body); err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, b.String()
}

// sample returns the value of the metric in f whose labels include want:
// the gauge or counter value, or the histogram's sample count.
func sample(f *dto.MetricFamily, want map[string]string) (float64, bool) {
next:
	for _, m := range f.GetMetric() {
		have := map[string]string{}
		for _, l := range m.GetLabel() {
			have[l.GetName()] = l.GetValue()
		}
		for k, v := range want {
			if have[k] != v {
				continue next
			}
		}
		switch {
		case m.Histogram != nil:
			return float64(m.GetHistogram().GetSampleCount()), true
		case m.Counter != nil:
			return m.GetCounter().GetValue(), true
		default:
			return m.GetGauge().GetValue(), true
		}
	}
	return 0, false
}
