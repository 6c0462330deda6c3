//go:build dataplane

package dataplane

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"text/tabwriter"
	"time"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	"github.com/ambient-egress/ambient-egress-operator/simulator/lockdown"
	"github.com/ambient-egress/ambient-egress-operator/simulator/netpol"
)

// How long kube-router may take to enforce a change before the test fails,
// and how long one connection attempt may take before it counts as denied.
const (
	convergeTimeout = 60 * time.Second
	probeTimeout    = time.Second
)

// gatewayNamespace and gatewayName are the EgressGateway whose lockdown
// the test applies; the waypoint's pods carry its name.
const (
	gatewayNamespace = "istio-egress"
	gatewayName      = "waypoint"
)

// triple is one connection the source pod (default/src) opens.
type triple struct {
	what  string
	ip    string
	port  int
	proto corev1.Protocol
}

func (tr triple) String() string {
	return fmt.Sprintf("%-22s %s:%d/%s", tr.what, tr.ip, tr.port, tr.proto)
}

func (tr triple) addr() string { return net.JoinHostPort(tr.ip, fmt.Sprint(tr.port)) }

const (
	tcp = corev1.ProtocolTCP
	udp = corev1.ProtocolUDP
)

// triples are the connections checked in every configuration.
var triples = []triple{
	{"external (allowCIDR)", extAllowed, 443, tcp},
	{"external (allowCIDR)", extAllowed, 80, tcp},
	{"external (allowCIDR)", extAllowed, 53, udp},
	{"external (other)", extOther, 443, tcp},
	{"external (other)", extOther, 80, tcp},
	{"external (other)", extOther, 53, udp},
	{"waypoint HBONE", "10.244.0.20", 15008, tcp},
	{"waypoint other port", "10.244.0.20", 8080, tcp},
	{"kube-dns", "10.244.0.40", 53, udp},
	{"kube-dns", "10.244.0.40", 53, tcp},
	{"kube-dns metrics", "10.244.0.40", 9153, tcp},
	{"in-cluster app", "10.244.0.30", 8080, tcp},
	{"kube-apiserver", nodeIP, apiserverPort, tcp},
	{"node other port", nodeIP, nodeOtherPort, tcp},
}

// probeAllowedCIDR and probeOther are the connections the report's direct
// row is checked against: an address in the allowed CIDR, one in none.
var (
	probeAllowedCIDR = triples[0]
	probeOther       = triples[3]
)

// config is one set of NetworkPolicies in default, with the EgressGateway
// that describes it to egressctl and what its report must say.
type config struct {
	name string
	// mode is the EgressGateway's spec.lockdown.mode: Off writes no
	// policy, Enforce the one lockdown.Policy renders.
	mode           string
	allowInCluster bool
	allowCIDRs     []lockdown.AllowedCIDR
	// user are the namespace owner's own policies in default.
	user []*networkingv1.NetworkPolicy
	// wantAccess is the report's access for default's sources to any other
	// host; wantAllowed a range its allowed list must hold.
	wantAccess  netpol.Reach
	wantAllowed string
	// wantDefeatedBy is the user policy a LockdownDefeated finding must
	// name ("" for none: then no such finding may be reported).
	wantDefeatedBy string
}

func userPolicy(name string, rules ...networkingv1.NetworkPolicyEgressRule) *networkingv1.NetworkPolicy {
	return &networkingv1.NetworkPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"},
		Spec: networkingv1.NetworkPolicySpec{
			PodSelector: metav1.LabelSelector{},
			PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeEgress},
			Egress:      rules,
		},
	}
}

var testnet3 = []lockdown.AllowedCIDR{{CIDR: "203.0.113.0/24", Reason: "partner API (TEST-NET-3)"}}

// configs run in this order; each one changes at least one triple's
// verdict from the one before, so every change is seen to be enforced.
var configs = []config{
	{name: "a no policy", mode: "Off", wantAccess: netpol.Direct},
	{name: "b lockdown", mode: "Enforce", allowInCluster: true, wantAccess: netpol.Blocked},
	{name: "c lockdown+allowCIDR", mode: "Enforce", allowInCluster: true, allowCIDRs: testnet3,
		wantAccess: netpol.Partial, wantAllowed: "203.0.113.0/24"},
	{name: "d lockdown+user allow-all", mode: "Enforce", allowInCluster: true,
		user:       []*networkingv1.NetworkPolicy{userPolicy("allow-all", networkingv1.NetworkPolicyEgressRule{})},
		wantAccess: netpol.Direct, wantDefeatedBy: "allow-all"},
	{name: "g lockdown+user https-except", mode: "Enforce", allowInCluster: true,
		user: []*networkingv1.NetworkPolicy{userPolicy("allow-https", networkingv1.NetworkPolicyEgressRule{
			To:    []networkingv1.NetworkPolicyPeer{{IPBlock: &networkingv1.IPBlock{CIDR: "0.0.0.0/0", Except: []string{"198.51.100.0/24"}}}},
			Ports: []networkingv1.NetworkPolicyPort{{Protocol: ptr.To(tcp), Port: ptr.To(intstr.FromInt32(443))}},
		})},
		wantAccess: netpol.Partial, wantDefeatedBy: "allow-https"},
	{name: "e lockdown+user ipBlock 0/0", mode: "Enforce", allowInCluster: true,
		user: []*networkingv1.NetworkPolicy{userPolicy("allow-internet", networkingv1.NetworkPolicyEgressRule{
			To: []networkingv1.NetworkPolicyPeer{{IPBlock: &networkingv1.IPBlock{CIDR: "0.0.0.0/0"}}},
		})},
		wantAccess: netpol.Partial, wantAllowed: "0.0.0.0/0", wantDefeatedBy: "allow-internet"},
	{name: "f lockdown, allowInCluster false", mode: "Enforce", allowInCluster: false, wantAccess: netpol.Blocked},
}

// dataplane verdicts.
const (
	openV   = "allowed"
	closedV = "denied"
)

func TestDataplane(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("needs root (network namespaces, iptables): run hack/dataplane.sh")
	}
	e := &env{
		prefix:     os.Getenv("DATAPLANE_PREFIX"),
		k8sBin:     os.Getenv("DATAPLANE_K8S_BIN"),
		kubeRouter: os.Getenv("DATAPLANE_KUBE_ROUTER"),
		td:         &teardown{},
		lis:        &listeners{},
	}
	if e.k8sBin == "" || e.kubeRouter == "" {
		t.Fatal("DATAPLANE_K8S_BIN and DATAPLANE_KUBE_ROUTER are not set: run hack/dataplane.sh")
	}
	if e.prefix == "" {
		b := make([]byte, 2)
		_, _ = rand.Read(b)
		e.prefix = "egdp-" + hex.EncodeToString(b) + "-"
	}

	// Teardown, whichever comes first: the end of the test (also on
	// failure) or SIGINT/SIGTERM. The shell's trap is the last line, for a
	// test binary killed by its timeout.
	sigc := make(chan os.Signal, 1)
	signal.Notify(sigc, os.Interrupt, syscall.SIGTERM)
	stopSig := make(chan struct{})
	go func() {
		select {
		case s := <-sigc:
			fmt.Fprintf(os.Stderr, "dataplane: %v: tearing down\n", s)
			for _, err := range e.td.run() {
				fmt.Fprintln(os.Stderr, "dataplane: teardown:", err)
			}
			os.Exit(130)
		case <-stopSig:
		}
	}()
	t.Cleanup(func() {
		signal.Stop(sigc)
		close(stopSig)
	})
	t.Cleanup(func() {
		for _, err := range e.td.run() {
			t.Errorf("teardown: %v", err)
		}
	})

	var err error
	if e.work, err = os.MkdirTemp("", e.prefix+"*"); err != nil {
		t.Fatal(err)
	}
	e.td.add("work dir", func() error {
		if t.Failed() {
			for _, name := range []string{"kube-router", "kube-apiserver", "etcd"} {
				if b, err := os.ReadFile(filepath.Join(e.work, name+".log")); err == nil {
					t.Logf("last lines of %s's log:\n%s", name, lastLines(string(b), 25))
				}
			}
		}
		return os.RemoveAll(e.work)
	})
	e.td.add("echo servers", e.lis.close)

	egressctl := filepath.Join(e.work, "egressctl")
	var buildErr error
	var building sync.WaitGroup
	building.Go(func() { buildErr = buildEgressctl(egressctl) })
	defer building.Wait()

	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	start := time.Now()
	if err := e.topology(); err != nil {
		t.Fatalf("topology: %v", err)
	}
	t.Logf("network namespaces %s{node,src,wp,app,dns,ext} ready in %s", e.prefix, since(start))
	if err := e.controlPlane(ctx); err != nil {
		t.Fatalf("control plane: %v", err)
	}
	t.Logf("etcd and kube-apiserver ready at %s:%d inside %snode, %s", nodeIP, apiserverPort, e.prefix, since(start))
	if err := e.objects(ctx); err != nil {
		t.Fatalf("creating the cluster's objects: %v", err)
	}
	if err := e.kubeRouterStart(ctx); err != nil {
		t.Fatalf("kube-router: %v", err)
	}
	t.Logf("kube-router's network policy controller has hooked the source pod, %s", since(start))

	// The lockdown's inputs, read from the cluster as the operator reads
	// them.
	dnsSvc, err := e.client.CoreV1().Services("kube-system").Get(ctx, "kube-dns", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	dns, err := lockdown.DNSPeer(dnsSvc)
	if err != nil {
		t.Fatal(err)
	}
	slicesRead, err := e.apiServerSlices(ctx)
	if err != nil {
		t.Fatal(err)
	}
	apiEndpoints, err := lockdown.APIServerEndpoints(slicesRead)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("lockdown inputs: DNS %s/%v ports %d; API server endpoints %v", dns.Namespace, dns.Pods, len(dns.Ports), apiEndpoints)

	building.Wait()
	if buildErr != nil {
		t.Fatal(buildErr)
	}

	var prev map[triple]netpol.Verdict
	compared, agreed := 0, 0
	for _, cfg := range configs {
		want := desiredPolicies(t, cfg, dns, apiEndpoints)
		applied := time.Now()
		if err := e.apply(ctx, want); err != nil {
			t.Fatalf("%s: applying the policies: %v", cfg.name, err)
		}
		st, err := e.readBack(ctx)
		if err != nil {
			t.Fatalf("%s: reading the cluster back: %v", cfg.name, err)
		}
		sim, err := st.simulate()
		if err != nil {
			t.Fatalf("%s: %v", cfg.name, err)
		}
		verdicts := map[triple]netpol.Verdict{}
		for _, tr := range triples {
			verdicts[tr] = sim[tr].Verdict
			if sim[tr].Verdict == netpol.Depends {
				t.Errorf("%s: the simulator answers depends for %s: %s", cfg.name, tr, sim[tr].Why)
			}
		}
		if prev != nil && mapsEqual(prev, verdicts) {
			t.Logf("%s: note: the simulator's verdicts equal the previous configuration's; enforcement of this change is not observable", cfg.name)
		}
		prev = verdicts

		got, mismatch := e.converge(ctx, sim)
		took := time.Since(applied)
		var table strings.Builder
		tw := tabwriter.NewWriter(&table, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "config\tconnection from default/src\tsimulator\tdata plane\t")
		for _, tr := range triples {
			mark := ""
			compared++
			if agrees(sim[tr].Verdict, got[tr]) {
				agreed++
			} else {
				mark = "  <-- DISAGREE"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s%s\t\n", cfg.name, tr, simText(sim[tr]), got[tr], mark)
		}
		_ = tw.Flush()
		t.Logf("%s: comparison:\n%s", cfg.name, table.String())
		if len(mismatch) > 0 {
			t.Errorf("%s: after %s the data plane still disagrees with the simulator on %d of %d connections:\n  %s",
				cfg.name, convergeTimeout, len(mismatch), len(triples), strings.Join(mismatch, "\n  "))
		} else {
			t.Logf("%s: all %d connections agree with the simulator (twice in a row), %s after the policies were applied", cfg.name, len(triples), took.Round(time.Millisecond))
		}

		// The report: egressctl on the objects as YAML, declared (the
		// EgressGateway alone) and live (with the policy it wrote).
		for _, live := range []bool{false, true} {
			rep, err := e.report(egressctl, cfg, st, live)
			if err != nil {
				t.Errorf("%s: %v", cfg.name, err)
				continue
			}
			checkReport(t, cfg, live, rep, got, apiEndpoints)
		}
	}
	t.Logf("%d configurations x %d connections: %d of %d agree with the simulator", len(configs), len(triples), agreed, compared)
}

func since(t time.Time) string { return time.Since(t).Round(time.Millisecond).String() }

func lastLines(s string, n int) string {
	all := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(all) > n {
		all = all[len(all)-n:]
	}
	return strings.Join(all, "\n")
}

func mapsEqual(a, b map[triple]netpol.Verdict) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func simText(r netpol.Result) string {
	if r.Verdict == netpol.Allowed && len(r.AllowedBy) > 0 {
		return fmt.Sprintf("%s (%s)", r.Verdict, strings.Join(r.AllowedBy, ", "))
	}
	return string(r.Verdict)
}

func agrees(sim netpol.Verdict, dp string) bool {
	return sim == netpol.Allowed && dp == openV || sim == netpol.Denied && dp == closedV
}

// desiredPolicies is what default holds in a configuration: the lockdown
// policy lockdown.Policy renders, as the operator writes it, and the user's.
func desiredPolicies(t *testing.T, cfg config, dns lockdown.Peer, api []lockdown.Endpoint) []*networkingv1.NetworkPolicy {
	t.Helper()
	var out []*networkingv1.NetworkPolicy
	if cfg.mode == "Enforce" {
		np, err := lockdown.Policy(lockdown.Input{
			Name:      lockdown.PolicyName(gatewayNamespace, gatewayName),
			Namespace: "default",
			Labels:    map[string]string{lockdown.LabelGateway: gatewayName, lockdown.LabelGatewayNamespace: gatewayNamespace},
			Waypoint: lockdown.Peer{Namespace: gatewayNamespace,
				Pods: map[string]string{lockdown.WaypointPodLabel: gatewayName}},
			DNS:            dns,
			APIServer:      api,
			AllowInCluster: cfg.allowInCluster,
			AllowCIDRs:     cfg.allowCIDRs,
		})
		if err != nil {
			t.Fatalf("%s: lockdown.Policy: %v", cfg.name, err)
		}
		out = append(out, np)
	}
	for _, u := range cfg.user {
		out = append(out, u.DeepCopy())
	}
	return out
}

// apply makes default's NetworkPolicies exactly want.
func (e *env) apply(ctx context.Context, want []*networkingv1.NetworkPolicy) error {
	api := e.client.NetworkingV1().NetworkPolicies("default")
	names := map[string]bool{}
	for _, np := range want {
		names[np.Name] = true
		cur, err := api.Get(ctx, np.Name, metav1.GetOptions{})
		switch {
		case apierrors.IsNotFound(err):
			if _, err := api.Create(ctx, np, metav1.CreateOptions{}); err != nil {
				return err
			}
		case err != nil:
			return err
		default:
			cur.Labels, cur.Spec = np.Labels, np.Spec
			if _, err := api.Update(ctx, cur, metav1.UpdateOptions{}); err != nil {
				return err
			}
		}
	}
	l, err := api.List(ctx, metav1.ListOptions{})
	if err != nil {
		return err
	}
	for _, np := range l.Items {
		if !names[np.Name] {
			if err := api.Delete(ctx, np.Name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
				return err
			}
		}
	}
	return nil
}

// state is the cluster as read back from the API server.
type state struct {
	namespaces []corev1.Namespace
	pods       []corev1.Pod
	policies   []networkingv1.NetworkPolicy
}

func (e *env) readBack(ctx context.Context) (*state, error) {
	var st state
	nss, err := e.client.CoreV1().Namespaces().List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	pods, err := e.client.CoreV1().Pods("").List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	nps, err := e.client.NetworkingV1().NetworkPolicies("").List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	st.namespaces, st.pods, st.policies = nss.Items, pods.Items, nps.Items
	return &st, nil
}

// simulate evaluates every triple with simulator/netpol on the objects
// read back.
func (st *state) simulate() (map[triple]netpol.Result, error) {
	var policies []*netpol.Policy
	for _, np := range st.policies {
		policies = append(policies, &netpol.Policy{Namespace: np.Namespace, Name: np.Name, Spec: np.Spec})
	}
	nsLabels := map[string]map[string]string{}
	for _, ns := range st.namespaces {
		nsLabels[ns.Name] = ns.Labels
	}
	cluster, err := netpol.NewCluster(policies, nsLabels)
	if err != nil {
		return nil, err
	}
	byIP := map[string]*netpol.Pod{}
	var src *netpol.Pod
	for _, p := range st.pods {
		var ports []corev1.ContainerPort
		for _, c := range p.Spec.Containers {
			ports = append(ports, c.Ports...)
		}
		if ports == nil {
			ports = []corev1.ContainerPort{}
		}
		np := &netpol.Pod{Namespace: p.Namespace, Name: p.Name, Labels: p.Labels, IP: podIP(&p), Ports: ports, HostNetwork: p.Spec.HostNetwork}
		byIP[p.Status.PodIP] = np
		if p.Namespace == "default" && p.Name == "src" {
			src = np
		}
	}
	if src == nil {
		return nil, errors.New("pod default/src not found")
	}
	out := map[triple]netpol.Result{}
	for _, tr := range triples {
		dst := netpol.Destination{Pod: byIP[tr.ip], Port: tr.port, Protocol: tr.proto}
		dst.IP = mustAddr(tr.ip)
		out[tr] = cluster.Evaluate(netpol.Source{Namespace: "default", Pod: src}, dst)
	}
	return out, nil
}

// converge probes every triple with new connections until each one agrees
// with the simulator twice in a row, or convergeTimeout passes. It returns
// the last data-plane verdicts and the disagreements.
func (e *env) converge(ctx context.Context, sim map[triple]netpol.Result) (map[triple]string, []string) {
	start := time.Now()
	streak := 0
	// A round of probes every 100ms, until two rounds in a row agree (or
	// the deadline): polling for the condition, not sleeping for it.
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for ; ; <-tick.C {
		got := e.probeAll(ctx)
		var mismatch []string
		for _, tr := range triples {
			if !agrees(sim[tr].Verdict, got[tr]) {
				mismatch = append(mismatch, fmt.Sprintf("%s: simulator %s, data plane %s", tr, simText(sim[tr]), got[tr]))
			}
		}
		if len(mismatch) == 0 {
			if streak++; streak == 2 {
				return got, nil
			}
		} else {
			streak = 0
		}
		if time.Since(start) > convergeTimeout || ctx.Err() != nil {
			return got, mismatch
		}
	}
}

// probeAll opens one new connection per triple from the source pod.
func (e *env) probeAll(ctx context.Context) map[triple]string {
	out := map[triple]string{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, tr := range triples {
		wg.Go(func() {
			v := e.probe(ctx, tr)
			mu.Lock()
			out[tr] = v
			mu.Unlock()
		})
	}
	wg.Wait()
	return out
}

// probe opens a new connection: for TCP a completed handshake is allowed,
// for UDP an echoed datagram. Refused (kube-router REJECTs with
// icmp-port-unreachable) or no answer in time is denied; anything else is
// an error, which agrees with no verdict.
func (e *env) probe(ctx context.Context, tr triple) string {
	ctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	c, err := e.src.dial(ctx, strings.ToLower(string(tr.proto)), tr.addr())
	if err == nil {
		defer c.Close()
		if tr.proto == udp {
			err = echo(c)
		}
	}
	switch {
	case err == nil:
		return openV
	case errors.Is(err, syscall.ECONNREFUSED), isTimeout(err):
		return closedV
	default:
		return "error: " + err.Error()
	}
}

func echo(c net.Conn) error {
	_ = c.SetDeadline(time.Now().Add(probeTimeout))
	if _, err := c.Write([]byte("ping")); err != nil {
		return err
	}
	buf := make([]byte, 16)
	n, err := c.Read(buf)
	if err != nil {
		return err
	}
	if string(buf[:n]) != "ping" {
		return fmt.Errorf("unexpected reply %q", buf[:n])
	}
	return nil
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout() || errors.Is(err, context.DeadlineExceeded)
}
