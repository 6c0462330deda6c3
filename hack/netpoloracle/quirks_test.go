package netpoloracle

import (
	"net/netip"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	npav1alpha1 "sigs.k8s.io/network-policy-api/apis/v1alpha1"

	"github.com/ambient-egress/ambient-egress-operator/simulator/netpol"
)

// The kube-network-policies v0.8.0 behaviors the comparison works around,
// each on a minimal world, so that a version that fixes one (or a
// normalisation that stops being needed) shows up here.

var (
	outside = netip.MustParseAddr("203.0.113.10")
	allNS   = npav1alpha1.AdminNetworkPolicySubject{Namespaces: &metav1.LabelSelector{}}
)

func quirkWorld() *world {
	return &world{
		Shape:      "quirk",
		Namespaces: []genNamespace{{Name: "default", Labels: map[string]string{}}},
		Pods: []*netpol.Pod{
			{Namespace: "default", Name: "pod0", Labels: map[string]string{"app": "web"}, IP: netip.MustParseAddr("10.244.0.10"), Ports: []corev1.ContainerPort{}},
			{Namespace: "default", Name: "pod1", Labels: map[string]string{"app": "db"}, IP: netip.MustParseAddr("10.244.0.11"),
				Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8080, Protocol: corev1.ProtocolTCP}}},
		},
	}
}

// verdicts returns the simulator's verdict and kube-network-policies' on
// ow (w.apiDefaults() unless given) for w's first connection.
func verdicts(t *testing.T, w *world, ow *oracleWorld) (netpol.Verdict, bool) {
	t.Helper()
	c, err := netpol.NewCluster(w.Policies, w.nsLabels())
	if err != nil {
		t.Fatal(err)
	}
	if err := c.SetAdmin(w.Admin, w.Baseline); err != nil {
		t.Fatal(err)
	}
	cn := w.Conns[0]
	r := c.Evaluate(netpol.Source{Namespace: cn.Src.Namespace, Pod: cn.Src}, netpol.Destination{IP: cn.DstIP, Pod: cn.Dst, Port: cn.Port, Protocol: cn.Protocol})
	if ow == nil {
		ow = w.apiDefaults()
	}
	o, err := getOracle()
	if err != nil {
		t.Fatal(err)
	}
	allowed, err := o.allowed(ow, ip(cn.Src.IP), ip(cn.DstIP), cn.Port, cn.Protocol)
	if err != nil {
		t.Fatal(err)
	}
	return r.Verdict, allowed
}

// TestDivergenceAdminNamedPort: an admin namedPort matches in
// kube-network-policies whatever the connection's port; the simulator
// reads it as the named container port ("NamedPort selects a port on a
// pod(s) based on name", AdminNetworkPolicyPort).
func TestDivergenceAdminNamedPort(t *testing.T) {
	w := quirkWorld()
	w.Admin = []*netpol.AdminPolicy{{Name: "deny-http", Spec: npav1alpha1.AdminNetworkPolicySpec{Priority: 10, Subject: allNS,
		Egress: []npav1alpha1.AdminNetworkPolicyEgressRule{{Action: npav1alpha1.AdminNetworkPolicyRuleActionDeny,
			To:    []npav1alpha1.AdminNetworkPolicyEgressPeer{{Namespaces: &metav1.LabelSelector{}}},
			Ports: &[]npav1alpha1.AdminNetworkPolicyPort{{NamedPort: new("http")}}}}}}}
	w.Conns = []conn{{Src: w.Pods[0], Dst: w.Pods[1], DstIP: w.Pods[1].IP, Port: 9090, Protocol: corev1.ProtocolTCP}}
	ours, allowed := verdicts(t, w, nil)
	if ours != netpol.Allowed || allowed {
		t.Errorf("simulator %s (want allowed), kube-network-policies allowed=%v (v0.8.0: false); drop divAdminNamedPort if fixed", ours, allowed)
	}
	if got := divergence(w, w.apiDefaults(), &w.Conns[0]); got != divAdminNamedPort {
		t.Errorf("divergence = %q, want %q", got, divAdminNamedPort)
	}
	// On the named port itself both agree.
	w.Conns[0].Port = 8080
	if ours, allowed := verdicts(t, w, nil); ours != netpol.Denied || allowed {
		t.Errorf("on the named port: simulator %s, kube-network-policies allowed=%v; want both denied", ours, allowed)
	}
}

// TestDivergenceBaselineMaskedByIngressOnly: an ingress-only NetworkPolicy
// selecting the source keeps kube-network-policies from running the
// Baseline's egress rules; isolation is per direction.
func TestDivergenceBaselineMaskedByIngressOnly(t *testing.T) {
	w := quirkWorld()
	w.Policies = []*netpol.Policy{{Namespace: "default", Name: "ingress-only", Spec: networkingv1.NetworkPolicySpec{
		PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress}}}}
	w.Baseline = &netpol.BaselinePolicy{Name: "default", Spec: npav1alpha1.BaselineAdminNetworkPolicySpec{Subject: allNS,
		Egress: []npav1alpha1.BaselineAdminNetworkPolicyEgressRule{{Action: npav1alpha1.BaselineAdminNetworkPolicyRuleActionDeny,
			To: []npav1alpha1.BaselineAdminNetworkPolicyEgressPeer{{Networks: []npav1alpha1.CIDR{"0.0.0.0/0"}}}}}}}
	w.Conns = []conn{{Src: w.Pods[0], DstIP: outside, Port: 443, Protocol: corev1.ProtocolTCP}}
	ours, allowed := verdicts(t, w, nil)
	if ours != netpol.Denied || !allowed {
		t.Errorf("simulator %s (want denied), kube-network-policies allowed=%v (v0.8.0: true); drop divBaselineMasked if fixed", ours, allowed)
	}
	if got := divergence(w, w.apiDefaults(), &w.Conns[0]); got != divBaselineMasked {
		t.Errorf("divergence = %q, want %q", got, divBaselineMasked)
	}
}

// TestOracleNeedsAPIDefaults: what apiDefaults normalises. Fed the world
// as written, kube-network-policies v0.8.0 answers differently from the
// API's documented meaning (or panics); fed the stored form it agrees.
func TestOracleNeedsAPIDefaults(t *testing.T) {
	egressOnly := []networkingv1.PolicyType{networkingv1.PolicyTypeEgress}
	cases := []struct {
		name    string
		spec    networkingv1.NetworkPolicySpec
		want    netpol.Verdict
		rawWant string // kube-network-policies on the raw spec
	}{
		{name: "egress: [] denies all egress", want: netpol.Denied, rawWant: "allowed",
			spec: networkingv1.NetworkPolicySpec{PolicyTypes: egressOnly, Egress: []networkingv1.NetworkPolicyEgressRule{}}},
		{name: "policyTypes unset with egress rules isolates egress", want: netpol.Denied, rawWant: "allowed",
			spec: networkingv1.NetworkPolicySpec{Egress: []networkingv1.NetworkPolicyEgressRule{{To: []networkingv1.NetworkPolicyPeer{{IPBlock: &networkingv1.IPBlock{CIDR: "10.0.0.0/8"}}}}}}},
		{name: "protocol unset is TCP", want: netpol.Allowed, rawWant: "panic",
			spec: networkingv1.NetworkPolicySpec{PolicyTypes: egressOnly, Egress: []networkingv1.NetworkPolicyEgressRule{{Ports: []networkingv1.NetworkPolicyPort{{Port: new(intstr.FromInt32(443))}}}}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w := quirkWorld()
			w.Policies = []*netpol.Policy{{Namespace: "default", Name: "np", Spec: tc.spec}}
			w.Conns = []conn{{Src: w.Pods[0], DstIP: outside, Port: 443, Protocol: corev1.ProtocolTCP}}
			ours, allowed := verdicts(t, w, nil)
			if ours != tc.want || allowed != (tc.want == netpol.Allowed) {
				t.Errorf("defaulted: simulator %s, kube-network-policies allowed=%v; want both %s", ours, allowed, tc.want)
			}
			raw := w.apiDefaults()
			raw.NetworkPolicies[0].Spec = *tc.spec.DeepCopy()
			raw.NetworkPolicies[0].Spec.Ingress = []networkingv1.NetworkPolicyIngressRule{{}}
			o, err := getOracle()
			if err != nil {
				t.Fatal(err)
			}
			cn := w.Conns[0]
			got, err := o.allowed(raw, ip(cn.Src.IP), ip(cn.DstIP), cn.Port, cn.Protocol)
			gotWord := verdictWord(got)
			if err != nil {
				if !strings.Contains(err.Error(), "panicked") {
					t.Fatal(err)
				}
				gotWord = "panic"
			}
			if gotWord != tc.rawWant {
				t.Errorf("kube-network-policies on the raw spec: %s, v0.8.0 gives %s; apiDefaults may no longer need this", gotWord, tc.rawWant)
			}
		})
	}
}
