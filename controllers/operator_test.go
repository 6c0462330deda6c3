package controllers_test

import (
	"context"
	"errors"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/go-logr/logr"
	dto "github.com/prometheus/client_model/go"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	crmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	egressv1alpha1 "github.com/ambient-egress/ambient-egress-operator/apis/egress/v1alpha1"
	"github.com/ambient-egress/ambient-egress-operator/controllers"
	"github.com/ambient-egress/ambient-egress-operator/controllers/internal/testenv"
)

// testVersion is the operator version the tests run as; it is the chart
// version of every release they make.
const testVersion = "1.0.0-test"

// setLogger gives controller-runtime a logger once per test binary; set
// TEST_OPERATOR_LOGS=1 to see the operator's logs.
var setLogger sync.Once

// operator is a running manager with the EgressGateway controller, watching
// only the test's namespace so tests never act on each other's objects.
type operator struct {
	reconciler *controllers.EgressGatewayReconciler
	requests   *requestLog
	cancel     context.CancelFunc
	done       chan error
	panics     float64
	// idleQueue is what the work-queue gauges read before this operator
	// started: the registry is global, and a manager stopped with items in
	// its queue leaves its gauges where they were.
	idleQueue [2]float64
}

// queueGauges reads the EgressGateway controller's queue depth and active
// workers.
func queueGauges(t *testing.T) [2]float64 {
	return [2]float64{metricWhere(t, "workqueue_depth", "name", "egressgateway"),
		metricWhere(t, "controller_runtime_active_workers", "controller", "egressgateway")}
}

// startOperator starts a manager for namespace; it stops when the test ends
// and fails the test if the controller panicked.
func startOperator(t *testing.T, namespace string, opts controllers.Options) *operator {
	t.Helper()
	return startOperatorWith(t, env.Config, namespace, opts)
}

// startOperatorWith is startOperator with base as the manager's rest.Config,
// for example one impersonating the manager's ServiceAccount.
func startOperatorWith(t *testing.T, base *rest.Config, namespace string, opts controllers.Options) *operator {
	t.Helper()
	return startOperatorIn(t, base, []string{namespace}, opts)
}

// startOperatorIn is startOperatorWith with a cache over several namespaces,
// the first being the EgressGateways'. The root namespace defaults to it, as
// the cache sees no other.
func startOperatorIn(t *testing.T, base *rest.Config, namespaces []string, opts controllers.Options) *operator {
	t.Helper()
	return startOperatorServing(t, base, namespaces, opts, metricsserver.Options{BindAddress: "0"})
}

// startOperatorServing is startOperatorIn with the manager's metrics
// endpoint configured by metrics.
func startOperatorServing(t *testing.T, base *rest.Config, namespaces []string, opts controllers.Options, metrics metricsserver.Options) *operator {
	t.Helper()
	return startOperatorCaching(t, base, namespaces[0], namespaces, opts, metrics)
}

// startOperatorCaching starts a manager whose cache holds cacheNamespaces,
// or every namespace when nil, as in production; istioNamespace plays
// Istio's: it holds the mesh config, which names it the root namespace, as
// Istio's charts render it.
func startOperatorCaching(t *testing.T, base *rest.Config, istioNamespace string, namespaces []string, opts controllers.Options, metrics metricsserver.Options) *operator {
	t.Helper()
	if opts.IstioNamespace == "" {
		opts.IstioNamespace = istioNamespace
		ensureMeshConfig(t, istioNamespace, "rootNamespace: "+istioNamespace+"\n")
	}
	opts.WatchNamespaces = namespaces
	setLogger.Do(func() {
		if os.Getenv("TEST_OPERATOR_LOGS") != "" {
			ctrl.SetLogger(zap.New(zap.UseDevMode(true), zap.WriteTo(os.Stderr)))
		} else {
			ctrl.SetLogger(logr.Discard())
		}
	})
	if opts.Version == "" {
		opts.Version = testVersion
	}
	log := &requestLog{}
	cfg := rest.CopyConfig(base)
	cfg.QPS, cfg.Burst = 1000, 2000
	cfg.WrapTransport = func(rt http.RoundTripper) http.RoundTripper { return log.wrap(rt) }
	// The manager watches only the test's namespaces, as
	// --watch-namespaces does, so tests never act on each other's objects.
	cacheOpts := controllers.CacheOptions(opts.IstioNamespace, namespaces...)
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:     env.Scheme,
		Cache:      cacheOpts,
		Metrics:    metrics,
		Controller: config.Controller{SkipNameValidation: new(true)},
	})
	if err != nil {
		t.Fatal(err)
	}
	r, err := controllers.NewEgressGatewayReconciler(mgr, opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.SetupWithManager(mgr); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	op := &operator{reconciler: r, requests: log, cancel: cancel, done: make(chan error, 1), panics: metricSum(t, "controller_runtime_reconcile_panics_total"),
		idleQueue: queueGauges(t)}
	go func() { op.done <- mgr.Start(ctx) }()
	if !mgr.GetCache().WaitForCacheSync(ctx) {
		t.Fatal("cache did not sync")
	}
	t.Cleanup(func() { op.stop(t) })
	return op
}

// ensureMeshConfig creates Istio's mesh config ConfigMap in namespace with
// the mesh document given, unless one is there already.
func ensureMeshConfig(t *testing.T, namespace, mesh string) {
	t.Helper()
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: "istio"}, Data: map[string]string{"mesh": mesh}}
	if err := env.Client.Create(context.Background(), cm); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
}

// stop stops the manager and fails the test if a reconcile panicked.
func (op *operator) stop(t *testing.T) {
	t.Helper()
	if op.cancel == nil {
		return
	}
	op.cancel()
	op.cancel = nil
	if err := <-op.done; err != nil && !errors.Is(err, context.Canceled) {
		t.Errorf("manager: %v", err)
	}
	if p := metricSum(t, "controller_runtime_reconcile_panics_total"); p != op.panics {
		t.Errorf("the controller panicked %v times", p-op.panics)
	}
}

// requestLog counts the API requests a manager makes.
type requestLog struct {
	mu       sync.Mutex
	seen     []string
	inFlight int
}

func (l *requestLog) wrap(rt http.RoundTripper) http.RoundTripper {
	return roundTripFunc(func(req *http.Request) (*http.Response, error) {
		watch := req.URL.Query().Get("watch") == "true"
		l.mu.Lock()
		l.seen = append(l.seen, req.Method+" "+req.URL.Path+"?"+req.URL.RawQuery)
		if !watch {
			l.inFlight++
		}
		l.mu.Unlock()
		resp, err := rt.RoundTrip(req)
		if !watch {
			l.mu.Lock()
			l.inFlight--
			l.mu.Unlock()
		}
		return resp, err
	})
}

// idle reports the number of requests made so far and whether none but
// watches is in flight.
func (l *requestLog) idle() (int, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.seen), l.inFlight == 0
}

// since returns the requests made after the first n.
func (l *requestLog) since(n int) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.seen[n:]...)
}

func (l *requestLog) count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.seen)
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// metricSum adds up every series of a metric in controller-runtime's registry.
func metricSum(t *testing.T, name string) float64 {
	t.Helper()
	return metricMatching(t, name, func(*dto.Metric) bool { return true })
}

// helmActions reads egressgateway_helm_actions_total for action and result
// ("" matches any).
func helmActions(t *testing.T, action, result string) float64 {
	t.Helper()
	families, err := crmetrics.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
	for _, f := range families {
		if f.GetName() != "egressgateway_helm_actions_total" {
			continue
		}
		for _, m := range f.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if (action == "" || labels["action"] == action) && (result == "" || labels["result"] == result) {
				sum += value(m)
			}
		}
	}
	return sum
}

func value(m *dto.Metric) float64 {
	if c := m.GetCounter(); c != nil {
		return c.GetValue()
	}
	return m.GetGauge().GetValue()
}

// istiod stands in for the real istiod, which envtest does not run: it
// programs a waypoint Gateway and runs its Deployment.
type istiod struct{}

// programs marks the Gateway Programmed with an address and creates the
// Deployment named like it, Available with replicas pods.
func (istiod) programs(t *testing.T, namespace, gateway string, replicas int32) {
	t.Helper()
	ctx := context.Background()
	testenv.Eventually(t, testenv.DefaultTimeout, "Gateway "+gateway+" programmed", func(ctx context.Context) (bool, error) {
		gw := &gatewayv1.Gateway{}
		if err := env.Client.Get(ctx, client.ObjectKey{Namespace: namespace, Name: gateway}, gw); err != nil {
			return false, client.IgnoreNotFound(err)
		}
		meta.SetStatusCondition(&gw.Status.Conditions, metav1.Condition{
			Type: "Programmed", Status: metav1.ConditionTrue, Reason: "Programmed", Message: "programmed by the test's istiod", ObservedGeneration: gw.Generation,
		})
		gw.Status.Addresses = []gatewayv1.GatewayStatusAddress{{Type: ptr.To(gatewayv1.IPAddressType), Value: "10.96.0.15"}}
		return true, env.Client.Status().Update(ctx, gw)
	})
	dep := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: gateway, Namespace: namespace, Labels: map[string]string{"gateway.networking.k8s.io/gateway-name": gateway}},
		Spec: appsv1.DeploymentSpec{
			Replicas: new(replicas),
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"gateway.networking.k8s.io/gateway-name": gateway}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"gateway.networking.k8s.io/gateway-name": gateway}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "istio-proxy", Image: "istio/proxyv2"}}},
			},
		},
	}
	if err := env.Client.Create(ctx, dep); err != nil {
		t.Fatal(err)
	}
	dep.Status = appsv1.DeploymentStatus{
		Replicas: replicas, ReadyReplicas: replicas, AvailableReplicas: replicas, UpdatedReplicas: replicas,
		Conditions: []appsv1.DeploymentCondition{{Type: appsv1.DeploymentAvailable, Status: corev1.ConditionTrue, Reason: "MinimumReplicasAvailable"}},
	}
	if err := env.Client.Status().Update(ctx, dep); err != nil {
		t.Fatal(err)
	}
}

// newEgressGateway returns an EgressGateway named name in namespace, changed
// by each of mutate.
func newEgressGateway(namespace, name string, mutate ...func(*egressv1alpha1.EgressGateway)) *egressv1alpha1.EgressGateway {
	egw := &egressv1alpha1.EgressGateway{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace}}
	for _, m := range mutate {
		m(egw)
	}
	return egw
}

// getEGW reads an EgressGateway and fails the test if it cannot.
func getEGW(t *testing.T, key client.ObjectKey) *egressv1alpha1.EgressGateway {
	t.Helper()
	egw := &egressv1alpha1.EgressGateway{}
	if err := env.Client.Get(context.Background(), key, egw); err != nil {
		t.Fatal(err)
	}
	return egw
}

// updateEGW changes an EgressGateway's spec, retrying on conflicts.
func updateEGW(t *testing.T, key client.ObjectKey, mutate func(*egressv1alpha1.EgressGateway)) {
	t.Helper()
	testenv.Eventually(t, testenv.DefaultTimeout, "updating "+key.String(), func(ctx context.Context) (bool, error) {
		egw := &egressv1alpha1.EgressGateway{}
		if err := env.Client.Get(ctx, key, egw); err != nil {
			return false, err
		}
		mutate(egw)
		return true, env.Client.Update(ctx, egw)
	})
}

// waitForRelease waits until status.waypoint.release has revision and
// Helm status, and the Released condition is for the current generation.
func waitForRelease(t *testing.T, key client.ObjectKey, revision int, status string) *egressv1alpha1.EgressGateway {
	t.Helper()
	var got *egressv1alpha1.EgressGateway
	testenv.Eventually(t, testenv.DefaultTimeout, "release revision "+status, func(ctx context.Context) (bool, error) {
		egw := &egressv1alpha1.EgressGateway{}
		if err := env.Client.Get(ctx, key, egw); err != nil {
			return false, err
		}
		w := egw.Status.Waypoint
		c := meta.FindStatusCondition(egw.Status.Conditions, egressv1alpha1.ConditionReleased)
		if w == nil || w.Release == nil || w.Release.Revision != revision || w.Release.Status != status || c == nil || c.ObservedGeneration != egw.Generation {
			return false, nil
		}
		got = egw
		return true, nil
	})
	return got
}

// releaseSecrets lists the Helm release Secrets in namespace.
func releaseSecrets(t *testing.T, namespace string) []string {
	t.Helper()
	var list corev1.SecretList
	if err := env.Client.List(context.Background(), &list, client.InNamespace(namespace), client.MatchingLabels{"owner": "helm"}); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range list.Items {
		names = append(names, s.Name)
	}
	return names
}

// writes keeps the requests that change something.
func writes(requests []string) []string {
	var out []string
	for _, r := range requests {
		if !strings.HasPrefix(r, "GET ") {
			out = append(out, r)
		}
	}
	return out
}

// settle waits until the operator is quiet: its work queue is empty, no
// reconcile and no background simulation runs, no request of its own is in
// flight, and that holds on two looks in a row with no request in between.
// It waits for that state, not for a length of time, so it holds on a busy
// machine; tests then assert on what happened.
func settle(t *testing.T, op *operator) {
	t.Helper()
	last := -1
	testenv.Eventually(t, testenv.DefaultTimeout, "the operator to be quiet", func(context.Context) (bool, error) {
		n, idle := op.requests.idle()
		quiet := idle && queueGauges(t) == op.idleQueue && metricSum(t, "egressgateway_simulations_running") == 0
		if !quiet {
			last = -1
			return false, nil
		}
		done := n == last
		last = n
		return done, nil
	})
}

// assertNoOpReconcileWritesNothing reconciles the gateways of namespace
// through an annotation on it, which changes nothing they read, and fails
// the test if the operator wrote anything.
func assertNoOpReconcileWritesNothing(t *testing.T, op *operator, namespace string) {
	t.Helper()
	settle(t, op)
	n, reconciles := op.requests.count(), metricSum(t, "controller_runtime_reconcile_total")
	mergePatch(t, "v1", "Namespace", client.ObjectKey{Name: namespace}, `{"metadata":{"annotations":{"test/touch":"`+strconv.Itoa(n)+`"}}}`)
	testenv.Eventually(t, testenv.DefaultTimeout, "a reconcile", func(context.Context) (bool, error) {
		return metricSum(t, "controller_runtime_reconcile_total") > reconciles, nil
	})
	settle(t, op)
	if w := writes(op.requests.since(n)); len(w) != 0 {
		t.Errorf("a reconcile with unchanged inputs wrote: %v", w)
	}
}

// metricWhere sums the series of name whose label is want.
func metricWhere(t *testing.T, name, label, want string) float64 {
	t.Helper()
	return metricMatching(t, name, func(m *dto.Metric) bool {
		return slices.ContainsFunc(m.GetLabel(), func(l *dto.LabelPair) bool { return l.GetName() == label && l.GetValue() == want })
	})
}

// metricMatching sums the series of name that keep selects.
func metricMatching(t *testing.T, name string, keep func(*dto.Metric) bool) float64 {
	t.Helper()
	families, err := crmetrics.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			if keep(m) {
				sum += value(m)
			}
		}
	}
	return sum
}
