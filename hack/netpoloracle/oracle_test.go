package netpoloracle

// The oracle: kube-network-policies v0.8.0 (sigs.k8s.io/kube-network-policies,
// package pkg/networkpolicy), a NetworkPolicy / AdminNetworkPolicy
// implementation written independently of the simulator. Its verdicts come
// from the same code that decides, packet by packet, what its NFQUEUE data
// plane lets through.
//
// Why go:linkname. The evaluation is only reachable through unexported
// methods of *networkpolicy.Controller (evaluatePacket, fed a packet from
// the kernel's queue); the exported API is Run, which needs nftables,
// NFQUEUE and root. evaluatePacket itself is a pure function of the
// controller's listers, so the test pulls it in with go:linkname and calls
// it with a same-layout copy of the unexported packet struct, after filling
// the listers' indexers directly (no informer is started, no API call made).
//
// This is fragile by design and so pinned: go.mod requires exactly v0.8.0,
// and knpPacket below mirrors that version's packet struct field for
// field. Upgrading kube-network-policies means re-reading
// pkg/networkpolicy/packet.go and controller.go (evaluatePacket, NewController)
// and adjusting both. It is test-only: no non-test file imports it.

import (
	"context"
	"fmt"
	"net"
	"sync"
	_ "unsafe" // for go:linkname, see above

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/tools/cache"
	"sigs.k8s.io/kube-network-policies/pkg/networkpolicy"
	npav1alpha1 "sigs.k8s.io/network-policy-api/apis/v1alpha1"
	npafake "sigs.k8s.io/network-policy-api/pkg/client/clientset/versioned/fake"
	npainformers "sigs.k8s.io/network-policy-api/pkg/client/informers/externalversions"
)

// knpEvaluatePacket is (*networkpolicy.Controller).evaluatePacket of v0.8.0:
// the egress tiers (AdminNetworkPolicy, NetworkPolicy, Baseline) of the
// source pod, then the ingress tiers of the destination pod.
//
//go:linkname knpEvaluatePacket sigs.k8s.io/kube-network-policies/pkg/networkpolicy.(*Controller).evaluatePacket
func knpEvaluatePacket(c *networkpolicy.Controller, ctx context.Context, p knpPacket) bool //nolint:revive // a method's receiver comes first

// knpPacket mirrors networkpolicy.packet of v0.8.0 (pkg/networkpolicy/packet.go)
// field for field; evaluatePacket reads srcIP, dstIP, proto, srcPort, dstPort.
// The blank fields are id (uint32) and payload ([]byte), kept for the layout.
type knpPacket struct {
	_       uint32
	family  corev1.IPFamily
	srcIP   net.IP
	dstIP   net.IP
	proto   corev1.Protocol
	srcPort int
	dstPort int
	_       []byte
}

// oracleWorld is a world as the API server stores it: every default
// applied (see apiDefaults).
type oracleWorld struct {
	Namespaces      []*corev1.Namespace
	Pods            []*corev1.Pod
	NetworkPolicies []*networkingv1.NetworkPolicy
	Admin           []*npav1alpha1.AdminNetworkPolicy
	Baseline        *npav1alpha1.BaselineAdminNetworkPolicy
}

// oracle is one controller whose listers are refilled for every world; the
// fuzz engine calls the target sequentially within a worker process, and
// the mutex keeps it correct if that ever changes.
type oracle struct {
	mu     sync.Mutex
	c      *networkpolicy.Controller
	pods   cache.Indexer
	nss    cache.Indexer
	nps    cache.Indexer
	anps   cache.Indexer
	banps  cache.Indexer
	loaded *oracleWorld
}

var (
	theOracle     *oracle
	theOracleErr  error
	theOracleOnce sync.Once
)

// getOracle builds the controller once per process.
func getOracle() (*oracle, error) {
	theOracleOnce.Do(func() { theOracle, theOracleErr = newOracle() })
	return theOracle, theOracleErr
}

func newOracle() (*oracle, error) {
	client := fake.NewClientset()
	npaClient := npafake.NewSimpleClientset()
	inf := informers.NewSharedInformerFactory(client, 0)
	npaInf := npainformers.NewSharedInformerFactory(npaClient, 0)
	podInf, nsInf, npInf := inf.Core().V1().Pods(), inf.Core().V1().Namespaces(), inf.Networking().V1().NetworkPolicies()
	anpInf, banpInf := npaInf.Policy().V1alpha1().AdminNetworkPolicies(), npaInf.Policy().V1alpha1().BaselineAdminNetworkPolicies()
	c, err := networkpolicy.NewController(client, npInf, nsInf, podInf, inf.Core().V1().Nodes(), npaClient, anpInf, banpInf,
		networkpolicy.Config{
			AdminNetworkPolicy:         true,
			BaselineAdminNetworkPolicy: true,
			NodeName:                   nodeName,
			// NRIdisabled must stay false: with it true v0.8.0 leaves
			// nriPlugin nil and getPodAssignedToIP dereferences it for
			// every address that is not a pod's. The plugin is created,
			// never run.
			NRIdisabled: false,
		})
	if err != nil {
		return nil, err
	}
	// No Node objects ever: see the Nodes peer note in world_test.go.
	return &oracle{
		c:     c,
		pods:  podInf.Informer().GetIndexer(),
		nss:   nsInf.Informer().GetIndexer(),
		nps:   npInf.Informer().GetIndexer(),
		anps:  anpInf.Informer().GetIndexer(),
		banps: banpInf.Informer().GetIndexer(),
	}, nil
}

// load replaces the listers' contents with w (once per world).
func (o *oracle) load(w *oracleWorld) error {
	if o.loaded == w {
		return nil
	}
	replace := func(idx cache.Indexer, objs []any) error { return idx.Replace(objs, "1") }
	var pods, nss, nps, anps, banps []any
	for _, p := range w.Pods {
		pods = append(pods, p)
	}
	for _, n := range w.Namespaces {
		nss = append(nss, n)
	}
	for _, p := range w.NetworkPolicies {
		nps = append(nps, p)
	}
	for _, a := range w.Admin {
		anps = append(anps, a)
	}
	if w.Baseline != nil {
		banps = append(banps, w.Baseline)
	}
	for _, r := range []struct {
		idx  cache.Indexer
		objs []any
	}{{o.pods, pods}, {o.nss, nss}, {o.nps, nps}, {o.anps, anps}, {o.banps, banps}} {
		if err := replace(r.idx, r.objs); err != nil {
			return err
		}
	}
	o.loaded = w
	return nil
}

// allowed asks kube-network-policies whether a connection from srcIP to
// dstIP:port/proto is let through. A panic in the oracle is an error.
func (o *oracle) allowed(w *oracleWorld, srcIP, dstIP net.IP, port int, proto corev1.Protocol) (ok bool, err error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if err := o.load(w); err != nil {
		return false, err
	}
	family := corev1.IPv4Protocol
	if srcIP.To4() == nil {
		family = corev1.IPv6Protocol
	}
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("kube-network-policies panicked: %v", r)
		}
	}()
	return knpEvaluatePacket(o.c, context.Background(), knpPacket{
		family: family, srcIP: srcIP, dstIP: dstIP, proto: proto, srcPort: 40000, dstPort: port,
	}), nil
}
