package controllers_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	rbachttpv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/rbac/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	rbacnetv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/rbac/v3"
	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	egressv1alpha1 "github.com/ambient-egress/ambient-egress-operator/apis/egress/v1alpha1"
	"github.com/ambient-egress/ambient-egress-operator/controllers"
	"github.com/ambient-egress/ambient-egress-operator/controllers/internal/testenv"
	"github.com/ambient-egress/ambient-egress-operator/simulator/envoyrbac"
	"github.com/ambient-egress/ambient-egress-operator/simulator/verify"
)

// seedConfigDump is the seed's waypoint configuration as the real istiod
// generates it (egressctl verify's golden input, kept current by the
// end-to-end TestVerifySeed).
const seedConfigDump = "../cmd/egressctl/testdata/verify/seed-config-dump.json"

// adsServer stands in for istiod's xDS port: it answers a listener request
// with the listeners it holds, and records the node of each stream.
type adsServer struct {
	discoveryv3.UnimplementedAggregatedDiscoveryServiceServer
	mu        sync.Mutex
	listeners []*listenerv3.Listener
	nodes     []string
}

func (a *adsServer) StreamAggregatedResources(stream discoveryv3.AggregatedDiscoveryService_StreamAggregatedResourcesServer) error {
	req, err := stream.Recv()
	if err != nil {
		return err
	}
	a.mu.Lock()
	a.nodes = append(a.nodes, req.GetNode().GetId())
	resp := &discoveryv3.DiscoveryResponse{TypeUrl: req.GetTypeUrl(), VersionInfo: "1", Nonce: "1"}
	for _, l := range a.listeners {
		r, err := anypb.New(l)
		if err != nil {
			a.mu.Unlock()
			return err
		}
		resp.Resources = append(resp.Resources, r)
	}
	a.mu.Unlock()
	if err := stream.Send(resp); err != nil {
		return err
	}
	<-stream.Context().Done() // the client ends the stream once answered
	return nil
}

func (a *adsServer) serve(listeners []*listenerv3.Listener) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.listeners = listeners
}

func (a *adsServer) streams() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Clone(a.nodes)
}

// startADS serves a on address ("127.0.0.1:0" for any port) and returns
// the address and a stop function.
func startADS(t *testing.T, a *adsServer, address string) (string, func()) {
	t.Helper()
	var lis net.Listener
	testenv.Eventually(t, testenv.DefaultTimeout, "listening on "+address, func(context.Context) (bool, error) {
		var err error
		lis, err = net.Listen("tcp", address)
		return err == nil, nil
	})
	srv := grpc.NewServer()
	discoveryv3.RegisterAggregatedDiscoveryServiceServer(srv, a)
	go func() { _ = srv.Serve(lis) }()
	var once sync.Once
	stop := func() { once.Do(srv.Stop) }
	t.Cleanup(stop)
	return lis.Addr().String(), stop
}

// seedListeners is the seed's captured configuration dump for a seed
// whose gateway is in ns and whose sources are in src, as listeners: the
// dump's RBAC filters, each in the filter chain it came from (HTTP ones
// inside an HTTP connection manager), as istiod sends them over xDS.
// mutate changes the dump's text first.
func seedListeners(t *testing.T, ns, src string, mutate func(string) string) []*listenerv3.Listener {
	t.Helper()
	data, err := os.ReadFile(seedConfigDump)
	if err != nil {
		t.Fatal(err)
	}
	text := strings.NewReplacer("ns[istio-egress]", "ns["+ns+"]", "/ns/default/sa/", "/ns/"+src+"/sa/").Replace(string(data))
	if mutate != nil {
		text = mutate(text)
	}
	chains, err := envoyrbac.ParseConfigDump([]byte(text))
	if err != nil {
		t.Fatal(err)
	}
	l := &listenerv3.Listener{Name: "main_internal"}
	for _, name := range slices.Sorted(func(yield func(string) bool) {
		for k := range chains {
			if !yield(k) {
				return
			}
		}
	}) {
		fc := &listenerv3.FilterChain{Name: name}
		hcm := &hcmv3.HttpConnectionManager{StatPrefix: name}
		for _, f := range chains[name] {
			if f.Name == "envoy.filters.http.rbac" {
				hcm.HttpFilters = append(hcm.HttpFilters, &hcmv3.HttpFilter{Name: f.Name,
					ConfigType: &hcmv3.HttpFilter_TypedConfig{TypedConfig: mustAny(t, &rbachttpv3.RBAC{Rules: f.Rules, ShadowRules: f.Shadow})}})
				continue
			}
			fc.Filters = append(fc.Filters, &listenerv3.Filter{Name: f.Name,
				ConfigType: &listenerv3.Filter_TypedConfig{TypedConfig: mustAny(t, &rbacnetv3.RBAC{Rules: f.Rules, ShadowRules: f.Shadow, StatPrefix: "rbac"})}})
		}
		fc.Filters = append(fc.Filters, &listenerv3.Filter{Name: "envoy.filters.network.http_connection_manager",
			ConfigType: &listenerv3.Filter_TypedConfig{TypedConfig: mustAny(t, hcm)}})
		l.FilterChains = append(l.FilterChains, fc)
	}
	return []*listenerv3.Listener{l}
}

func mustAny(t *testing.T, m proto.Message) *anypb.Any {
	t.Helper()
	a, err := anypb.New(m)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// TestVerification: with --verify-xds-address, the operator reads the
// waypoint's listeners from istiod (here a server answering with the
// seed's captured configuration), presenting itself as the waypoint's
// running pod, and sets Verified. A configuration that disagrees gives
// Verified=False/ModelDisagrees, the finding and an Event, after a second
// look once istiod had time to catch up; istiod out of reach gives
// Verified=Unknown/IstiodUnreachable and leaves the rest of the status as
// it is, and the check recovers when istiod returns. A reconcile with the
// same inputs asks istiod nothing and writes nothing.
func TestVerification(t *testing.T) {
	ctx := context.Background()
	ns := env.CreateNamespace(t, "verify-egress", nil).Name
	src, _ := seedInNamespace(t, ns)
	ads := &adsServer{}
	ads.serve(seedListeners(t, ns, src, nil))
	addr, stop := startADS(t, ads, "127.0.0.1:0")
	op := startOperatorIn(t, env.Config, []string{ns, src}, controllers.Options{Verify: controllers.VerifyOptions{
		XDSAddress: addr, Settle: verifySettle, Retry: time.Second, Interval: time.Hour}})
	egw := newEgressGateway(ns, "waypoint", func(e *egressv1alpha1.EgressGateway) {
		e.Spec.Simulation.Sources = &egressv1alpha1.LabelSelector{MatchLabels: map[string]egressv1alpha1.LabelValue{sourcesLabel: egressv1alpha1.LabelValue(ns), "istio.io/dataplane-mode": "ambient"}}
	})
	if err := env.Client.Create(ctx, egw); err != nil {
		t.Fatal(err)
	}
	key := client.ObjectKeyFromObject(egw)
	waitForRelease(t, key, 1, "deployed")
	istiod{}.programs(t, ns, "waypoint", 1)
	env.WaitForCondition(t, key, egressv1alpha1.ConditionReady, metav1.ConditionTrue)

	// Verified waits for a pod to present as: none runs yet.
	waitForVerified(t, key, egressv1alpha1.ReasonVerifying, "waiting for a running pod of waypoint waypoint")
	runWaypointPod(t, ns, "waypoint-5d8f-abcde", "10.244.0.17")

	t.Run("agrees", func(t *testing.T) {
		got := waitForVerified(t, key, egressv1alpha1.ReasonAgrees, "the report agrees")
		v := got.Status.Verification
		if v == nil || v.Compared == 0 || v.DestinationPorts != 1 || v.Disagreements != 0 || v.Pod != ns+"/waypoint-5d8f-abcde" ||
			v.InputsDigest != got.Status.Simulation.InputsDigest {
			t.Fatalf("status.verification %+v", v)
		}
		t.Logf("Verified: %s (%d requests)", meta.FindStatusCondition(got.Status.Conditions, egressv1alpha1.ConditionVerified).Message, v.Compared)
		want := fmt.Sprintf("waypoint~10.244.0.17~waypoint-5d8f-abcde.%s~%s.svc.cluster.local", ns, ns)
		if nodes := ads.streams(); len(nodes) == 0 || nodes[len(nodes)-1] != want {
			t.Errorf("istiod was asked as %v, want node %s", nodes, want)
		}
		if hasFinding(got, verify.CodeModelDisagrees) {
			t.Errorf("a ModelDisagrees finding although the check agrees")
		}
		if c := meta.FindStatusCondition(got.Status.Conditions, egressv1alpha1.ConditionReady); c == nil || c.Status != metav1.ConditionTrue {
			t.Errorf("Ready %+v", c)
		}
	})

	t.Run("no-op reconcile asks istiod nothing", func(t *testing.T) {
		settle(t, op)
		before := len(ads.streams())
		assertNoOpReconcileWritesNothing(t, op, ns)
		if n := len(ads.streams()); n != before {
			t.Errorf("a reconcile with unchanged inputs asked istiod %d times", n-before)
		}
	})

	t.Run("disagrees", func(t *testing.T) {
		// istiod's RBAC says POST where the policy says GET; a new
		// source changes the inputs, so the report is checked again.
		ads.serve(seedListeners(t, ns, src, func(s string) string { return strings.ReplaceAll(s, `"exact": "GET"`, `"exact": "POST"`) }))
		addAccount(t, src, "third")
		waitForVerified(t, key, egressv1alpha1.ReasonVerifying, "checking again")
		got := waitForVerified(t, key, egressv1alpha1.ReasonModelDisagrees, "the report disagrees")
		if v := got.Status.Verification; v.Disagreements == 0 || len(v.Examples) == 0 || !strings.Contains(v.Examples[0], "GET /get") {
			t.Errorf("status.verification %+v", v)
		}
		if !hasFinding(got, verify.CodeModelDisagrees) {
			t.Errorf("no ModelDisagrees finding in %+v", got.Status.Simulation.Findings)
		}
		waitForEvent(t, ns, "waypoint", egressv1alpha1.ReasonModelDisagrees)
		if c := meta.FindStatusCondition(got.Status.Conditions, egressv1alpha1.ConditionReady); c == nil || c.Status != metav1.ConditionTrue {
			t.Errorf("Ready %+v: Verified judges the report, not the gateway", c)
		}

		ads.serve(seedListeners(t, ns, src, nil))
		deleteAccount(t, src, "third")
		got = waitForVerified(t, key, egressv1alpha1.ReasonAgrees, "the report agrees")
		if hasFinding(got, verify.CodeModelDisagrees) {
			t.Errorf("the ModelDisagrees finding stayed after the check agreed")
		}
	})

	t.Run("istiod catching up", func(t *testing.T) {
		// istiod serves the earlier configuration for a moment after a
		// change: the operator looks again within the settle period
		// and agrees once istiod has caught up, never reporting the
		// disagreement.
		ads.serve(seedListeners(t, ns, src, func(s string) string { return strings.ReplaceAll(s, `"exact": "GET"`, `"exact": "POST"`) }))
		addAccount(t, src, "late")
		waitForVerified(t, key, egressv1alpha1.ReasonVerifying, "checking again until")
		ads.serve(seedListeners(t, ns, src, nil))
		got := waitForVerified(t, key, egressv1alpha1.ReasonAgrees, "the report agrees")
		if v, sim := got.Status.Verification, got.Status.Simulation; !v.LastRunTime.Before(&metav1.Time{Time: sim.LastRunTime.Add(verifySettle)}) {
			t.Errorf("agreed at %s, after the settle period of the report of %s", v.LastRunTime, sim.LastRunTime)
		}
		deleteAccount(t, src, "late")
		waitForVerified(t, key, egressv1alpha1.ReasonAgrees, "the report agrees")
	})

	t.Run("istiod down and back", func(t *testing.T) {
		stop()
		addAccount(t, src, "fourth")
		// The report of the new inputs, and the last verification still
		// of the earlier ones.
		var got *egressv1alpha1.EgressGateway
		testenv.Eventually(t, testenv.DefaultTimeout, "Verified IstiodUnreachable on the new report", func(context.Context) (bool, error) {
			got = waitForVerified(t, key, egressv1alpha1.ReasonIstiodUnreachable, "could not read istiod's configuration")
			return got.Status.Simulation != nil && got.Status.Verification != nil &&
				got.Status.Verification.InputsDigest != got.Status.Simulation.InputsDigest && got.Status.ObservedGeneration == got.Generation, nil
		})
		waitForEvent(t, ns, "waypoint", egressv1alpha1.ReasonIstiodUnreachable)
		for _, c := range got.Status.Conditions {
			if c.Type != egressv1alpha1.ConditionVerified && c.Status != metav1.ConditionTrue {
				t.Errorf("istiod out of reach changed %s: %+v", c.Type, c)
			}
		}
		startADS(t, ads, addr)
		waitForVerified(t, key, egressv1alpha1.ReasonAgrees, "the report agrees")
	})
	settle(t, op)
}

// verifySettle is TestVerification's settle period: long enough that the
// operator looks again (every 3 s) before it ends.
const verifySettle = 8 * time.Second

// waitForVerified waits for the Verified condition with reason, its
// message containing contains, and returns the gateway.
func waitForVerified(t *testing.T, key client.ObjectKey, reason, contains string) *egressv1alpha1.EgressGateway {
	t.Helper()
	return waitForConditionReason(t, key, egressv1alpha1.ConditionVerified, reason, contains)
}

// waitForConditionReason waits for condition condType with reason, its
// message containing contains, set for the current generation, and
// returns the gateway; a timeout shows the last condition seen.
func waitForConditionReason(t *testing.T, key client.ObjectKey, condType, reason, contains string) *egressv1alpha1.EgressGateway {
	t.Helper()
	var got *egressv1alpha1.EgressGateway
	testenv.Eventually(t, testenv.DefaultTimeout, condType+" "+reason, func(ctx context.Context) (bool, error) {
		got = &egressv1alpha1.EgressGateway{}
		if err := env.Client.Get(ctx, key, got); err != nil {
			return false, err
		}
		c := meta.FindStatusCondition(got.Status.Conditions, condType)
		if c == nil || c.Reason != reason || !strings.Contains(c.Message, contains) || c.ObservedGeneration != got.Generation {
			return false, fmt.Errorf("%s %+v", condType, c)
		}
		return true, nil
	})
	return got
}

func hasFinding(egw *egressv1alpha1.EgressGateway, code string) bool {
	return egw.Status.Simulation != nil && slices.ContainsFunc(egw.Status.Simulation.Findings, func(f egressv1alpha1.Finding) bool { return f.Code == code })
}

// runWaypointPod creates a pod of the waypoint's Deployment, running with
// ip, as the kubelet would.
func runWaypointPod(t *testing.T, ns, name, ip string) {
	t.Helper()
	ctx := context.Background()
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: map[string]string{"gateway.networking.k8s.io/gateway-name": "waypoint"}},
		Spec:       corev1.PodSpec{ServiceAccountName: "waypoint", Containers: []corev1.Container{{Name: "istio-proxy", Image: "istio/proxyv2"}}},
	}
	if err := env.Client.Create(ctx, pod); err != nil {
		t.Fatal(err)
	}
	pod.Status = corev1.PodStatus{Phase: corev1.PodRunning, PodIP: ip, PodIPs: []corev1.PodIP{{IP: ip}}}
	if err := env.Client.Status().Update(ctx, pod); err != nil {
		t.Fatal(err)
	}
}

func addAccount(t *testing.T, ns, name string) {
	t.Helper()
	if err := env.Client.Create(context.Background(), &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}); err != nil {
		t.Fatal(err)
	}
}

func deleteAccount(t *testing.T, ns, name string) {
	t.Helper()
	if err := env.Client.Delete(context.Background(), &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}); err != nil {
		t.Fatal(err)
	}
}
