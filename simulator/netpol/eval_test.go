package netpol

import (
	"net/netip"
	"slices"
	"strings"
	"testing"

	"go4.org/netipx"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
)

// The documentation lines cited below are from
// kubernetes.io/docs/concepts/services-networking/network-policies/ unless
// another page is named.

var (
	tcp = ptr.To(corev1.ProtocolTCP)
	udp = ptr.To(corev1.ProtocolUDP)
)

func port(p int32) *intstr.IntOrString { return new(intstr.FromInt32(p)) }

func named(n string) *intstr.IntOrString { return new(intstr.FromString(n)) }

func egressOnly(rules ...networkingv1.NetworkPolicyEgressRule) networkingv1.NetworkPolicySpec {
	return networkingv1.NetworkPolicySpec{PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeEgress}, Egress: rules}
}

func toBlock(cidr string, except ...string) networkingv1.NetworkPolicyEgressRule {
	return networkingv1.NetworkPolicyEgressRule{To: []networkingv1.NetworkPolicyPeer{{IPBlock: &networkingv1.IPBlock{CIDR: cidr, Except: except}}}}
}

func pol(ns, name string, spec networkingv1.NetworkPolicySpec) *Policy {
	return &Policy{Namespace: ns, Name: name, Spec: spec}
}

var (
	app    = &Pod{Namespace: "default", Name: "app", Labels: map[string]string{"app": "web"}, IP: netip.MustParseAddr("10.244.0.10")}
	other  = &Pod{Namespace: "default", Name: "other", Labels: map[string]string{"app": "db"}, IP: netip.MustParseAddr("10.244.0.11")}
	dnsPod = &Pod{Namespace: "kube-system", Name: "dns", Labels: map[string]string{"k8s-app": "kube-dns"}, IP: netip.MustParseAddr("10.244.0.40"),
		Ports: []corev1.ContainerPort{{Name: "dns", ContainerPort: 53, Protocol: corev1.ProtocolUDP}, {Name: "dns-tcp", ContainerPort: 53}}}
	extern = netip.MustParseAddr("203.0.113.10")
)

func external(p int) Destination { return Destination{IP: extern, Port: p} }

func TestEvaluate(t *testing.T) {
	nsLabels := map[string]map[string]string{"kube-system": {"tier": "system"}, "default": {"istio.io/dataplane-mode": "ambient"}}
	cases := []struct {
		name     string
		doc      string
		policies []*Policy
		src      Source
		dst      Destination
		want     Verdict
	}{
		{name: "no policy", doc: "By default, a pod is non-isolated for egress; all outbound connections are allowed.",
			src: Source{Namespace: "default", Pod: app}, dst: external(443), want: Allowed},
		{name: "ingress-only policy does not isolate egress", doc: "A pod is isolated for egress if there is any NetworkPolicy that both selects the pod and has \"Egress\" in its policyTypes",
			policies: []*Policy{pol("default", "in", networkingv1.NetworkPolicySpec{PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress}})},
			src:      Source{Namespace: "default", Pod: app}, dst: external(443), want: Allowed},
		{name: "policyTypes unset with egress rules isolates", doc: "Egress will be set if the NetworkPolicy has any egress rules",
			policies: []*Policy{pol("default", "np", networkingv1.NetworkPolicySpec{Egress: []networkingv1.NetworkPolicyEgressRule{toBlock("10.0.0.0/8")}})},
			src:      Source{Namespace: "default", Pod: app}, dst: external(443), want: Denied},
		{name: "policyTypes unset without egress rules is ingress only", doc: "If no policyTypes are specified on a NetworkPolicy then by default Ingress will always be set",
			policies: []*Policy{pol("default", "np", networkingv1.NetworkPolicySpec{})},
			src:      Source{Namespace: "default", Pod: app}, dst: external(443), want: Allowed},
		{name: "egress with no rules denies all", doc: "Default deny all egress traffic: podSelector {} with policyTypes [Egress]",
			policies: []*Policy{pol("default", "deny", egressOnly())},
			src:      Source{Namespace: "default", Pod: app}, dst: external(443), want: Denied},
		{name: "an empty rule allows all", doc: "Allow all egress traffic: egress: [{}]",
			policies: []*Policy{pol("default", "deny", egressOnly()), pol("default", "all", egressOnly(networkingv1.NetworkPolicyEgressRule{}))},
			src:      Source{Namespace: "default", Pod: app}, dst: external(443), want: Allowed},
		{name: "ipBlock inside cidr", doc: "ipBlock: This selects particular IP CIDR ranges to allow as ingress sources or egress destinations.",
			policies: []*Policy{pol("default", "np", egressOnly(toBlock("203.0.113.0/24", "203.0.113.128/25")))},
			src:      Source{Namespace: "default", Pod: app}, dst: external(443), want: Allowed},
		{name: "ipBlock except", doc: "except: a list of CIDRs that should not be included within an IPBlock (IPBlock API reference)",
			policies: []*Policy{pol("default", "np", egressOnly(toBlock("203.0.113.0/24", "203.0.113.0/28")))},
			src:      Source{Namespace: "default", Pod: app}, dst: external(443), want: Denied},
		{name: "protocol defaults to TCP", doc: "protocol: The protocol (TCP, UDP, or SCTP) which traffic must match. If not specified, this field defaults to TCP.",
			policies: []*Policy{pol("default", "np", egressOnly(networkingv1.NetworkPolicyEgressRule{Ports: []networkingv1.NetworkPolicyPort{{Port: port(53)}}}))},
			src:      Source{Namespace: "default", Pod: app}, dst: Destination{IP: extern, Port: 53, Protocol: corev1.ProtocolUDP}, want: Denied},
		{name: "endPort range", doc: "Targeting a range of ports: port: 32000, endPort: 32768",
			policies: []*Policy{pol("default", "np", egressOnly(networkingv1.NetworkPolicyEgressRule{Ports: []networkingv1.NetworkPolicyPort{{Protocol: tcp, Port: port(32000), EndPort: ptr.To[int32](32768)}}}))},
			src:      Source{Namespace: "default", Pod: app}, dst: external(32768), want: Allowed},
		{name: "outside endPort range", doc: "Targeting a range of ports",
			policies: []*Policy{pol("default", "np", egressOnly(networkingv1.NetworkPolicyEgressRule{Ports: []networkingv1.NetworkPolicyPort{{Protocol: tcp, Port: port(32000), EndPort: ptr.To[int32](32768)}}}))},
			src:      Source{Namespace: "default", Pod: app}, dst: external(32769), want: Denied},
		{name: "named port never matches an outside address", doc: "port: ... can either be a numerical or named port on a pod (NetworkPolicyPort API reference)",
			policies: []*Policy{pol("default", "np", egressOnly(networkingv1.NetworkPolicyEgressRule{Ports: []networkingv1.NetworkPolicyPort{{Protocol: tcp, Port: named("https")}}}))},
			src:      Source{Namespace: "default", Pod: app}, dst: external(443), want: Denied},
		{name: "named port resolves on the destination pod", doc: "port: ... can either be a numerical or named port on a pod",
			policies: []*Policy{pol("default", "np", egressOnly(networkingv1.NetworkPolicyEgressRule{Ports: []networkingv1.NetworkPolicyPort{{Protocol: udp, Port: named("dns")}}}))},
			src:      Source{Namespace: "default", Pod: app}, dst: Destination{IP: dnsPod.IP, Pod: dnsPod, Port: 53, Protocol: corev1.ProtocolUDP}, want: Allowed},
		{name: "policies are additive", doc: "Network policies do not conflict; they are additive.",
			policies: []*Policy{pol("default", "a", egressOnly(toBlock("10.0.0.0/8"))), pol("default", "b", egressOnly(toBlock("203.0.113.10/32")))},
			src:      Source{Namespace: "default", Pod: app}, dst: external(443), want: Allowed},
		{name: "podSelector peer is the policy's namespace only", doc: "podSelector: This selects particular Pods in the same namespace as the NetworkPolicy",
			policies: []*Policy{pol("default", "np", egressOnly(networkingv1.NetworkPolicyEgressRule{To: []networkingv1.NetworkPolicyPeer{{PodSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"k8s-app": "kube-dns"}}}}}))},
			src:      Source{Namespace: "default", Pod: app}, dst: Destination{IP: dnsPod.IP, Pod: dnsPod, Port: 53}, want: Denied},
		{name: "namespaceSelector peer picks every pod of the namespaces", doc: "namespaceSelector: This selects particular namespaces for which all Pods should be allowed",
			policies: []*Policy{pol("default", "np", egressOnly(networkingv1.NetworkPolicyEgressRule{To: []networkingv1.NetworkPolicyPeer{{NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"tier": "system"}}}}}))},
			src:      Source{Namespace: "default", Pod: app}, dst: Destination{IP: dnsPod.IP, Pod: dnsPod, Port: 53}, want: Allowed},
		{name: "namespaceSelector and podSelector in one peer are ANDed", doc: "namespaceSelector and podSelector: A single to/from entry that specifies both ... selects particular Pods within particular namespaces",
			policies: []*Policy{pol("default", "np", egressOnly(networkingv1.NetworkPolicyEgressRule{To: []networkingv1.NetworkPolicyPeer{{
				NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{NamespaceNameLabel: "kube-system"}},
				PodSelector:       &metav1.LabelSelector{MatchLabels: map[string]string{"k8s-app": "other"}}}}}))},
			src: Source{Namespace: "default", Pod: app}, dst: Destination{IP: dnsPod.IP, Pod: dnsPod, Port: 53}, want: Denied},
		{name: "a policy that does not select the pod does not isolate it", doc: "podSelector: Each NetworkPolicy includes a podSelector which selects the grouping of pods to which the policy applies",
			policies: []*Policy{pol("default", "db", networkingv1.NetworkPolicySpec{PodSelector: metav1.LabelSelector{MatchLabels: map[string]string{"app": "db"}}, PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeEgress}})},
			src:      Source{Namespace: "default", Pod: app}, dst: external(443), want: Allowed},
		{name: "the same policy isolates the pod it selects", doc: "podSelector ... selects the grouping of pods to which the policy applies",
			policies: []*Policy{pol("default", "db", networkingv1.NetworkPolicySpec{PodSelector: metav1.LabelSelector{MatchLabels: map[string]string{"app": "db"}}, PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeEgress}})},
			src:      Source{Namespace: "default", Pod: other}, dst: external(443), want: Denied},
		{name: "unknown pod labels decide", doc: "podSelector ... selects the grouping of pods (labels the inputs do not have)",
			policies: []*Policy{pol("default", "db", networkingv1.NetworkPolicySpec{PodSelector: metav1.LabelSelector{MatchLabels: map[string]string{"app": "db"}}, PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeEgress}})},
			src:      Source{Namespace: "default"}, dst: external(443), want: Depends},
		{name: "unknown pod labels that cannot change the answer", doc: "Network policies do not conflict; they are additive.",
			policies: []*Policy{
				pol("default", "db", networkingv1.NetworkPolicySpec{PodSelector: metav1.LabelSelector{MatchLabels: map[string]string{"app": "db"}}, PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeEgress}}),
				pol("default", "all", egressOnly(networkingv1.NetworkPolicyEgressRule{})),
			},
			src: Source{Namespace: "default"}, dst: external(443), want: Allowed},
		{name: "hostNetwork pods are up to the implementation", doc: "NetworkPolicy behavior for hostNetwork pods is undefined",
			policies: []*Policy{pol("default", "deny", egressOnly())},
			src:      Source{Namespace: "default", Pod: &Pod{Namespace: "default", Name: "h", HostNetwork: true}}, dst: external(443), want: Depends},
		{name: "ipBlock on a pod address is up to the implementation", doc: "ipBlock ... These should be cluster-external IPs, since Pod IPs are ephemeral and unpredictable",
			policies: []*Policy{pol("default", "np", egressOnly(toBlock("10.244.0.0/16")))},
			src:      Source{Namespace: "default", Pod: app}, dst: Destination{IP: dnsPod.IP, Pod: dnsPod, Port: 53}, want: Depends},
		{name: "policies of another namespace do not apply", doc: "NetworkPolicy is a namespaced resource: it selects pods of its own namespace",
			policies: []*Policy{pol("kube-system", "deny", egressOnly())},
			src:      Source{Namespace: "default", Pod: app}, dst: external(443), want: Allowed},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := NewCluster(tc.policies, nsLabels)
			if err != nil {
				t.Fatal(err)
			}
			got := c.Evaluate(tc.src, tc.dst)
			if got.Verdict != tc.want {
				t.Errorf("%s\ngot %s (%+v), want %s", tc.doc, got.Verdict, got, tc.want)
			}
		})
	}
}

func TestExternalReach(t *testing.T) {
	lockdown := pol("default", "lockdown", egressOnly(
		networkingv1.NetworkPolicyEgressRule{To: []networkingv1.NetworkPolicyPeer{{NamespaceSelector: &metav1.LabelSelector{}}}},
		networkingv1.NetworkPolicyEgressRule{To: []networkingv1.NetworkPolicyPeer{{NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{NamespaceNameLabel: "istio-egress"}}}},
			Ports: []networkingv1.NetworkPolicyPort{{Protocol: tcp, Port: port(15008)}}},
		networkingv1.NetworkPolicyEgressRule{To: []networkingv1.NetworkPolicyPeer{{IPBlock: &networkingv1.IPBlock{CIDR: "10.96.0.1/32"}}},
			Ports: []networkingv1.NetworkPolicyPort{{Protocol: tcp, Port: port(6443)}}},
	))
	cases := []struct {
		name     string
		policies []*Policy
		src      Source
		only     *PortFilter
		want     Reach
		openings []string
	}{
		{name: "no policy", src: Source{Namespace: "default"}, want: Direct},
		{name: "lockdown", policies: []*Policy{lockdown}, src: Source{Namespace: "default"}, want: Partial,
			openings: []string{"10.96.0.1/32 TCP 6443 (default/lockdown rule 2)"}},
		{name: "lockdown on another port", policies: []*Policy{lockdown}, src: Source{Namespace: "default"}, only: &PortFilter{Protocol: corev1.ProtocolTCP, Port: 443}, want: Blocked},
		{name: "lockdown and allow-all", policies: []*Policy{lockdown, pol("default", "all", egressOnly(networkingv1.NetworkPolicyEgressRule{}))},
			src: Source{Namespace: "default"}, want: Direct,
			openings: []string{"0.0.0.0/0,::/0 any port (default/all rule 0)", "10.96.0.1/32 TCP 6443 (default/lockdown rule 2)"}},
		{name: "lockdown and IPv4 only", policies: []*Policy{lockdown, pol("default", "v4", egressOnly(toBlock("0.0.0.0/0")))},
			src: Source{Namespace: "default"}, only: &PortFilter{Protocol: corev1.ProtocolTCP, Port: 443}, want: Partial,
			openings: []string{"0.0.0.0/0 TCP 443 (default/v4 rule 0)"}},
		{name: "halves add up", policies: []*Policy{
			pol("default", "a", egressOnly(toBlock("0.0.0.0/1"), toBlock("::/1"))),
			pol("default", "b", egressOnly(toBlock("128.0.0.0/1"), toBlock("8000::/1")))},
			src: Source{Namespace: "default"}, want: Direct,
			openings: []string{"0.0.0.0/1 any port (default/a rule 0)", "::/1 any port (default/a rule 1)", "128.0.0.0/1 any port (default/b rule 0)", "8000::/1 any port (default/b rule 1)"}},
		{name: "except keeps a hole", policies: []*Policy{pol("default", "a", egressOnly(toBlock("0.0.0.0/0", "10.0.0.0/8"), toBlock("::/0")))},
			src: Source{Namespace: "default"}, only: &PortFilter{Protocol: corev1.ProtocolTCP, Port: 80}, want: Partial,
			openings: []string{"0.0.0.0/5,8.0.0.0/7,11.0.0.0/8,12.0.0.0/6,16.0.0.0/4,32.0.0.0/3,64.0.0.0/2,128.0.0.0/1 TCP 80 (default/a rule 0)", "::/0 TCP 80 (default/a rule 1)"}},
		{name: "ports keep it partial", policies: []*Policy{pol("default", "a", egressOnly(networkingv1.NetworkPolicyEgressRule{Ports: []networkingv1.NetworkPolicyPort{{Protocol: tcp, Port: port(443)}}}))},
			src: Source{Namespace: "default"}, want: Partial, openings: []string{"0.0.0.0/0,::/0 TCP 443 (default/a rule 0)"}},
		{name: "named ports open nothing outside", policies: []*Policy{pol("default", "a", egressOnly(networkingv1.NetworkPolicyEgressRule{Ports: []networkingv1.NetworkPolicyPort{{Protocol: tcp, Port: named("https")}}}))},
			src: Source{Namespace: "default"}, want: Blocked},
		{name: "label-selected lockdown, no pods", policies: []*Policy{pol("default", "web", networkingv1.NetworkPolicySpec{
			PodSelector: metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}, PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeEgress}})},
			src: Source{Namespace: "default"}, want: Unknown},
		{name: "label-selected lockdown, known pod", policies: []*Policy{pol("default", "web", networkingv1.NetworkPolicySpec{
			PodSelector: metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}, PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeEgress}})},
			src: Source{Namespace: "default", Pod: app}, want: Blocked},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := NewCluster(tc.policies, nil)
			if err != nil {
				t.Fatal(err)
			}
			e := c.External(tc.src, tc.only)
			var got []string
			for _, o := range e.Openings {
				got = append(got, o.Text())
			}
			if e.Reach != tc.want || !slices.Equal(got, tc.openings) {
				t.Errorf("got %s with openings\n%q\nwant %s with\n%q", e.Reach, got, tc.want, tc.openings)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	cases := []struct {
		name string
		spec networkingv1.NetworkPolicySpec
		want string
	}{
		{name: "bad cidr", spec: egressOnly(toBlock("300.0.0.0/8")), want: "spec.egress[0].to[0]: ipBlock.cidr"},
		{name: "except outside cidr", spec: egressOnly(toBlock("10.0.0.0/8", "11.0.0.0/16")), want: "strict subset"},
		{name: "endPort without port", spec: egressOnly(networkingv1.NetworkPolicyEgressRule{Ports: []networkingv1.NetworkPolicyPort{{EndPort: ptr.To[int32](9)}}}), want: "endPort"},
		{name: "endPort below port", spec: egressOnly(networkingv1.NetworkPolicyEgressRule{Ports: []networkingv1.NetworkPolicyPort{{Port: port(10), EndPort: ptr.To[int32](9)}}}), want: "endPort"},
		{name: "bad protocol", spec: egressOnly(networkingv1.NetworkPolicyEgressRule{Ports: []networkingv1.NetworkPolicyPort{{Protocol: ptr.To(corev1.Protocol("ICMP"))}}}), want: "protocol"},
		{name: "bad policy type", spec: networkingv1.NetworkPolicySpec{PolicyTypes: []networkingv1.PolicyType{"egress"}}, want: "policyTypes"},
		{name: "ipBlock with selector", spec: egressOnly(networkingv1.NetworkPolicyEgressRule{To: []networkingv1.NetworkPolicyPeer{{IPBlock: &networkingv1.IPBlock{CIDR: "10.0.0.0/8"}, PodSelector: &metav1.LabelSelector{}}}}), want: "may not be combined"},
		{name: "bad selector operator", spec: networkingv1.NetworkPolicySpec{PodSelector: metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "a", Operator: "Foo"}}}}, want: "spec.podSelector"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewCluster([]*Policy{pol("default", "np", tc.spec)}, nil)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want an error with %q", err, tc.want)
			}
		})
	}
}

// TestExternalFollowsInCluster checks that a namespace's any-other-host
// answer, computed once and kept, is computed again when the in-cluster
// addresses change: the lockdown's opening to the API server stops being
// "another host" once the API server's address is named in-cluster.
func TestExternalFollowsInCluster(t *testing.T) {
	c, err := NewCluster([]*Policy{pol("default", "lockdown", egressOnly(
		networkingv1.NetworkPolicyEgressRule{To: []networkingv1.NetworkPolicyPeer{{IPBlock: &networkingv1.IPBlock{CIDR: "10.96.0.1/32"}}},
			Ports: []networkingv1.NetworkPolicyPort{{Protocol: tcp, Port: port(6443)}}}))}, nil)
	if err != nil {
		t.Fatal(err)
	}
	src := Source{Namespace: "default"}
	if got := c.External(src, nil).Reach; got != Partial {
		t.Fatalf("before: %s, want Partial (the API server's address counts as another host)", got)
	}
	var b netipx.IPSetBuilder
	b.AddPrefix(netip.MustParsePrefix("10.96.0.1/32"))
	set, err := b.IPSet()
	if err != nil {
		t.Fatal(err)
	}
	c.SetInCluster(set)
	if got := c.External(src, nil).Reach; got != Blocked {
		t.Errorf("after SetInCluster: %s, want Blocked (a kept answer from before)", got)
	}
}
