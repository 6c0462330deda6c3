package lockdown

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
)

func port(proto corev1.Protocol, p intstr.IntOrString) networkingv1.NetworkPolicyPort {
	return networkingv1.NetworkPolicyPort{Protocol: new(proto), Port: new(p)}
}

func TestDNSPeer(t *testing.T) {
	svc := func(ns, name string, selector map[string]string, ports ...corev1.ServicePort) *corev1.Service {
		return &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
			Spec: corev1.ServiceSpec{Selector: selector, Ports: ports}}
	}
	for _, tc := range []struct {
		name string
		svc  *corev1.Service
		want Peer
		err  string
	}{{
		// OpenShift's DNS operator: port 53 to the pods' named ports
		// dns/dns-tcp (5353); a NetworkPolicy port "can either be a
		// numerical or named port on a pod" (networking.k8s.io/v1
		// NetworkPolicyPort.port), so the names are kept.
		name: "openshift-dns",
		svc: svc("openshift-dns", "dns-default", map[string]string{"dns.operator.openshift.io/daemonset-dns": "default"},
			corev1.ServicePort{Name: "dns", Port: 53, Protocol: corev1.ProtocolUDP, TargetPort: intstr.FromString("dns")},
			corev1.ServicePort{Name: "dns-tcp", Port: 53, Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromString("dns-tcp")},
			corev1.ServicePort{Name: "metrics", Port: 9154, Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromString("metrics")}),
		want: Peer{Namespace: "openshift-dns", Pods: map[string]string{"dns.operator.openshift.io/daemonset-dns": "default"},
			Ports: []networkingv1.NetworkPolicyPort{port(corev1.ProtocolUDP, intstr.FromString("dns")), port(corev1.ProtocolTCP, intstr.FromString("dns-tcp"))}},
	}, {
		name: "kube-dns",
		svc: svc("kube-system", "kube-dns", map[string]string{"k8s-app": "kube-dns"},
			corev1.ServicePort{Name: "dns", Port: 53, Protocol: corev1.ProtocolUDP, TargetPort: intstr.FromInt32(53)},
			corev1.ServicePort{Name: "dns-tcp", Port: 53, Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromInt32(53)},
			corev1.ServicePort{Name: "metrics", Port: 9153, Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromInt32(9153)}),
		want: Peer{Namespace: "kube-system", Pods: map[string]string{"k8s-app": "kube-dns"},
			Ports: []networkingv1.NetworkPolicyPort{port(corev1.ProtocolUDP, intstr.FromInt32(53)), port(corev1.ProtocolTCP, intstr.FromInt32(53))}},
	}, {
		// ServicePort.targetPort: "If this is not specified, the value
		// of the 'port' field is used"; ServicePort.protocol defaults
		// to TCP.
		name: "target port and protocol unset",
		svc:  svc("dns", "coredns", map[string]string{"app": "coredns"}, corev1.ServicePort{Port: 53}),
		want: Peer{Namespace: "dns", Pods: map[string]string{"app": "coredns"},
			Ports: []networkingv1.NetworkPolicyPort{port(corev1.ProtocolTCP, intstr.FromInt32(53))}},
	}, {
		name: "no selector",
		svc:  svc("kube-system", "kube-dns", nil, corev1.ServicePort{Port: 53}),
		err:  "no pod selector",
	}, {
		name: "no port 53",
		svc:  svc("kube-system", "kube-dns", map[string]string{"k8s-app": "kube-dns"}, corev1.ServicePort{Port: 9153}),
		err:  "no port 53",
	}} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := DNSPeer(tc.svc)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want one containing %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(tc.want, got); d != "" {
				t.Errorf("DNSPeer (-want +got):\n%s", d)
			}
		})
	}
}

func TestAPIServerEndpoints(t *testing.T) {
	slice := func(name string, addrs []string, ports ...int32) discoveryv1.EndpointSlice {
		s := discoveryv1.EndpointSlice{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: name}}
		for _, a := range addrs {
			s.Endpoints = append(s.Endpoints, discoveryv1.Endpoint{Addresses: []string{a}})
		}
		for _, p := range ports {
			s.Ports = append(s.Ports, discoveryv1.EndpointPort{Name: new("https"), Port: new(p), Protocol: ptr.To(corev1.ProtocolTCP)})
		}
		return s
	}
	got, err := APIServerEndpoints([]discoveryv1.EndpointSlice{
		slice("kubernetes", []string{"10.0.0.2", "10.0.0.1"}, 6443),
		slice("kubernetes-v6", []string{"fd00::1"}, 6443),
		slice("dup", []string{"10.0.0.1"}, 6443),
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []Endpoint{
		{netip.MustParseAddr("10.0.0.1"), 6443, corev1.ProtocolTCP},
		{netip.MustParseAddr("10.0.0.2"), 6443, corev1.ProtocolTCP},
		{netip.MustParseAddr("fd00::1"), 6443, corev1.ProtocolTCP},
	}
	if d := cmp.Diff(want, got, cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); d != "" {
		t.Errorf("endpoints (-want +got):\n%s", d)
	}
	if _, err := APIServerEndpoints(nil); err == nil {
		t.Error("no EndpointSlice: want an error, a policy without the API server would cut pods off it")
	}
	if _, err := APIServerEndpoints([]discoveryv1.EndpointSlice{slice("bad", []string{"not-an-ip"}, 443)}); err == nil || !strings.Contains(err.Error(), "not-an-ip") {
		t.Errorf("bad address: error %v", err)
	}
}

func TestPolicy(t *testing.T) {
	base := Input{
		Name: "egress-lockdown", Namespace: "default", Labels: map[string]string{"egress.ambient.io/egressgateway": "waypoint"},
		Waypoint:  Peer{Namespace: "istio-egress", Pods: map[string]string{"gateway.networking.k8s.io/gateway-name": "waypoint"}},
		DNS:       Peer{Namespace: "kube-system", Pods: map[string]string{"k8s-app": "kube-dns"}, Ports: []networkingv1.NetworkPolicyPort{port(corev1.ProtocolUDP, intstr.FromInt32(53))}},
		APIServer: []Endpoint{{netip.MustParseAddr("10.0.0.1"), 6443, corev1.ProtocolTCP}, {netip.MustParseAddr("fd00::1"), 6443, corev1.ProtocolTCP}},
	}
	np, err := Policy(base)
	if err != nil {
		t.Fatal(err)
	}
	// "podSelector: An empty podSelector selects all pods in this
	// namespace" and policyTypes [Egress] leaves ingress alone
	// (NetworkPolicySpec).
	if len(np.Spec.PodSelector.MatchLabels)+len(np.Spec.PodSelector.MatchExpressions) != 0 ||
		len(np.Spec.PolicyTypes) != 1 || np.Spec.PolicyTypes[0] != networkingv1.PolicyTypeEgress {
		t.Errorf("the policy must select every pod for egress only: %+v", np.Spec)
	}
	want := []networkingv1.NetworkPolicyEgressRule{
		{To: []networkingv1.NetworkPolicyPeer{{NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{namespaceNameLabel: "kube-system"}},
			PodSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"k8s-app": "kube-dns"}}}},
			Ports: []networkingv1.NetworkPolicyPort{port(corev1.ProtocolUDP, intstr.FromInt32(53))}},
		{To: []networkingv1.NetworkPolicyPeer{{NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{namespaceNameLabel: "istio-egress"}},
			PodSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"gateway.networking.k8s.io/gateway-name": "waypoint"}}}},
			Ports: []networkingv1.NetworkPolicyPort{port(corev1.ProtocolTCP, intstr.FromInt32(HBONEPort))}},
		{To: []networkingv1.NetworkPolicyPeer{{IPBlock: &networkingv1.IPBlock{CIDR: "10.0.0.1/32"}}}, Ports: []networkingv1.NetworkPolicyPort{port(corev1.ProtocolTCP, intstr.FromInt32(6443))}},
		{To: []networkingv1.NetworkPolicyPeer{{IPBlock: &networkingv1.IPBlock{CIDR: "fd00::1/128"}}}, Ports: []networkingv1.NetworkPolicyPort{port(corev1.ProtocolTCP, intstr.FromInt32(6443))}},
	}
	if d := cmp.Diff(want, np.Spec.Egress); d != "" {
		t.Errorf("egress rules (-want +got):\n%s", d)
	}

	in := base
	in.AllowInCluster = true
	in.AllowCIDRs = []AllowedCIDR{{CIDR: "192.0.2.7/24", Reason: "partner VPN"}}
	np, err = Policy(in)
	if err != nil {
		t.Fatal(err)
	}
	extra := np.Spec.Egress[len(want):]
	// "namespaceSelector ... If present but empty, it selects all
	// namespaces" (NetworkPolicyPeer): every pod, and only pods.
	wantExtra := []networkingv1.NetworkPolicyEgressRule{
		{To: []networkingv1.NetworkPolicyPeer{{NamespaceSelector: &metav1.LabelSelector{}}}},
		{To: []networkingv1.NetworkPolicyPeer{{IPBlock: &networkingv1.IPBlock{CIDR: "192.0.2.0/24"}}}},
	}
	if d := cmp.Diff(wantExtra, extra); d != "" {
		t.Errorf("in-cluster and allowCIDRs rules (-want +got):\n%s", d)
	}

	in.AllowCIDRs = []AllowedCIDR{{CIDR: "300.0.0.0/8", Reason: "typo"}}
	if _, err := Policy(in); err == nil || !strings.Contains(err.Error(), "300.0.0.0/8") || !strings.Contains(err.Error(), "typo") {
		t.Errorf("a bad CIDR: error %v, want it named with its reason", err)
	}
}
