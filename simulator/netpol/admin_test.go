package netpol

import (
	"net/netip"
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	npav1alpha1 "sigs.k8s.io/network-policy-api/apis/v1alpha1"
)

// The documentation lines cited below are from the network-policy-api
// reference (network-policy-api.sigs.k8s.io/reference/spec/), types
// AdminNetworkPolicySpec, AdminNetworkPolicyRuleAction,
// AdminNetworkPolicyEgressPeer and BaselineAdminNetworkPolicyRuleAction.

const (
	allow = npav1alpha1.AdminNetworkPolicyRuleActionAllow
	deny  = npav1alpha1.AdminNetworkPolicyRuleActionDeny
	pass  = npav1alpha1.AdminNetworkPolicyRuleActionPass
)

var everyNamespace = npav1alpha1.AdminNetworkPolicySubject{Namespaces: &metav1.LabelSelector{}}

func anp(name string, priority int32, rules ...npav1alpha1.AdminNetworkPolicyEgressRule) *AdminPolicy {
	return &AdminPolicy{Name: name, Spec: npav1alpha1.AdminNetworkPolicySpec{Priority: priority, Subject: everyNamespace, Egress: rules}}
}

func toNetworks(action npav1alpha1.AdminNetworkPolicyRuleAction, cidrs ...string) npav1alpha1.AdminNetworkPolicyEgressRule {
	var ns []npav1alpha1.CIDR
	for _, c := range cidrs {
		ns = append(ns, npav1alpha1.CIDR(c))
	}
	return npav1alpha1.AdminNetworkPolicyEgressRule{Action: action, To: []npav1alpha1.AdminNetworkPolicyEgressPeer{{Networks: ns}}}
}

func TestAdminEvaluate(t *testing.T) {
	lockdown := pol("default", "lockdown", egressOnly())
	allowAll := pol("default", "all", egressOnly(networkingv1.NetworkPolicyEgressRule{}))
	appPod := &Pod{Namespace: "apps", Name: "app", Labels: map[string]string{"app": "a"}, IP: netip.MustParseAddr("10.244.0.30")}
	cases := []struct {
		name     string
		doc      string
		policies []*Policy
		admin    []*AdminPolicy
		baseline *BaselinePolicy
		src      Source
		dst      Destination
		want     Verdict
	}{
		{name: "admin deny beats a NetworkPolicy allow", doc: "Deny: denies the selected traffic",
			policies: []*Policy{allowAll}, admin: []*AdminPolicy{anp("deny-testnet", 10, toNetworks(deny, "203.0.113.0/24"))},
			src: Source{Namespace: "default", Pod: app}, dst: external(443), want: Denied},
		{name: "admin allow beats a NetworkPolicy deny", doc: "Allow: allows the selected traffic (even if it would otherwise have been denied by NetworkPolicy)",
			policies: []*Policy{lockdown}, admin: []*AdminPolicy{anp("allow-testnet", 10, toNetworks(allow, "203.0.113.0/24"))},
			src: Source{Namespace: "default", Pod: app}, dst: external(443), want: Allowed},
		{name: "pass hands over to the NetworkPolicies", doc: "Pass: instructs the selected traffic to skip any remaining ANP rules, and then pass execution to any NetworkPolicies that select the pod",
			policies: []*Policy{lockdown}, admin: []*AdminPolicy{anp("pass", 10, toNetworks(pass, "203.0.113.0/24")), anp("allow", 20, toNetworks(allow, "0.0.0.0/0"))},
			src: Source{Namespace: "default", Pod: app}, dst: external(443), want: Denied},
		{name: "lower priority value first", doc: "Policies with lower priority values have higher precedence, and are checked before policies with higher priority values",
			admin: []*AdminPolicy{anp("deny", 20, toNetworks(deny, "0.0.0.0/0")), anp("allow", 5, toNetworks(allow, "203.0.113.10/32"))},
			src:   Source{Namespace: "default", Pod: app}, dst: external(443), want: Allowed},
		{name: "first rule of a policy first", doc: "a rule that appears at the top of the egress rules would take the highest precedence",
			admin: []*AdminPolicy{anp("mixed", 10, toNetworks(deny, "203.0.113.0/24"), toNetworks(allow, "0.0.0.0/0"))},
			src:   Source{Namespace: "default", Pod: app}, dst: external(443), want: Denied},
		{name: "a subject that does not select the namespace", doc: "Subject defines the pods to which this AdminNetworkPolicy applies",
			admin: []*AdminPolicy{{Name: "other", Spec: npav1alpha1.AdminNetworkPolicySpec{Priority: 1,
				Subject: npav1alpha1.AdminNetworkPolicySubject{Namespaces: &metav1.LabelSelector{MatchLabels: map[string]string{NamespaceNameLabel: "prod"}}},
				Egress:  []npav1alpha1.AdminNetworkPolicyEgressRule{toNetworks(deny, "0.0.0.0/0")}}}},
			src: Source{Namespace: "default", Pod: app}, dst: external(443), want: Allowed},
		{name: "networks also match pod addresses", doc: "note that cluster-internal traffic will be checked against the rule as well",
			admin: []*AdminPolicy{anp("deny-pods", 10, toNetworks(deny, "10.244.0.0/16"))},
			src:   Source{Namespace: "default", Pod: app}, dst: Destination{IP: appPod.IP, Pod: appPod, Port: 8080}, want: Denied},
		{name: "port range", doc: "PortRange selects a port range on the destination",
			admin: []*AdminPolicy{anp("deny-high", 10, npav1alpha1.AdminNetworkPolicyEgressRule{Action: deny,
				To:    []npav1alpha1.AdminNetworkPolicyEgressPeer{{Networks: []npav1alpha1.CIDR{"0.0.0.0/0"}}},
				Ports: &[]npav1alpha1.AdminNetworkPolicyPort{{PortRange: &npav1alpha1.PortRange{Protocol: corev1.ProtocolTCP, Start: 1024, End: 65535}}}})},
			src: Source{Namespace: "default", Pod: app}, dst: external(443), want: Allowed},
		// Found by hack/netpoloracle: a manifest's portRange or portNumber
		// without protocol never matched, where the API server makes it TCP.
		{name: "port range without protocol is TCP", doc: "Protocol ... If not specified, this field defaults to TCP (PortRange)",
			admin: []*AdminPolicy{anp("deny-high", 10, npav1alpha1.AdminNetworkPolicyEgressRule{Action: deny,
				To:    []npav1alpha1.AdminNetworkPolicyEgressPeer{{Networks: []npav1alpha1.CIDR{"0.0.0.0/0"}}},
				Ports: &[]npav1alpha1.AdminNetworkPolicyPort{{PortRange: &npav1alpha1.PortRange{Start: 400, End: 500}}}})},
			src: Source{Namespace: "default", Pod: app}, dst: external(443), want: Denied},
		{name: "port number without protocol is TCP", doc: "Protocol ... If not specified, this field defaults to TCP (Port)",
			admin: []*AdminPolicy{anp("deny-https", 10, npav1alpha1.AdminNetworkPolicyEgressRule{Action: deny,
				To:    []npav1alpha1.AdminNetworkPolicyEgressPeer{{Networks: []npav1alpha1.CIDR{"0.0.0.0/0"}}},
				Ports: &[]npav1alpha1.AdminNetworkPolicyPort{{PortNumber: &npav1alpha1.Port{Port: 443}}}})},
			src: Source{Namespace: "default", Pod: app}, dst: external(443), want: Denied},
		{name: "port number without protocol is not UDP", doc: "Protocol ... If not specified, this field defaults to TCP (Port)",
			admin: []*AdminPolicy{anp("deny-https", 10, npav1alpha1.AdminNetworkPolicyEgressRule{Action: deny,
				To:    []npav1alpha1.AdminNetworkPolicyEgressPeer{{Networks: []npav1alpha1.CIDR{"0.0.0.0/0"}}},
				Ports: &[]npav1alpha1.AdminNetworkPolicyPort{{PortNumber: &npav1alpha1.Port{Port: 443}}}})},
			src: Source{Namespace: "default", Pod: app}, dst: Destination{IP: extern, Port: 443, Protocol: corev1.ProtocolUDP}, want: Allowed},
		{name: "baseline applies to sources no NetworkPolicy isolates", doc: "If the pod is not selected by any NetworkPolicies then execution is passed to any BaselineAdminNetworkPolicies that select the pod",
			baseline: &BaselinePolicy{Name: "default", Spec: npav1alpha1.BaselineAdminNetworkPolicySpec{Subject: everyNamespace,
				Egress: []npav1alpha1.BaselineAdminNetworkPolicyEgressRule{{Action: npav1alpha1.BaselineAdminNetworkPolicyRuleActionDeny,
					To: []npav1alpha1.BaselineAdminNetworkPolicyEgressPeer{{Networks: []npav1alpha1.CIDR{"0.0.0.0/0"}}}}}}},
			src: Source{Namespace: "default", Pod: app}, dst: external(443), want: Denied},
		{name: "a NetworkPolicy that isolates decides before the baseline", doc: "All AdminNetworkPolicy rules have higher precedence than NetworkPolicy or BaselineAdminNetworkPolicy rules",
			policies: []*Policy{pol("default", "testnet", egressOnly(toBlock("203.0.113.0/24")))},
			baseline: &BaselinePolicy{Name: "default", Spec: npav1alpha1.BaselineAdminNetworkPolicySpec{Subject: everyNamespace,
				Egress: []npav1alpha1.BaselineAdminNetworkPolicyEgressRule{{Action: npav1alpha1.BaselineAdminNetworkPolicyRuleActionDeny,
					To: []npav1alpha1.BaselineAdminNetworkPolicyEgressPeer{{Networks: []npav1alpha1.CIDR{"0.0.0.0/0"}}}}}}},
			src: Source{Namespace: "default", Pod: app}, dst: external(443), want: Allowed},
		{name: "a pods subject on unknown labels", doc: "Pods defines a way to select a set of pods in a set of namespaces",
			admin: []*AdminPolicy{{Name: "web", Spec: npav1alpha1.AdminNetworkPolicySpec{Priority: 1,
				Subject: npav1alpha1.AdminNetworkPolicySubject{Pods: &npav1alpha1.NamespacedPod{PodSelector: metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}}},
				Egress:  []npav1alpha1.AdminNetworkPolicyEgressRule{toNetworks(deny, "0.0.0.0/0")}}}},
			src: Source{Namespace: "default"}, dst: external(443), want: Depends},
		{name: "node peers on an outside address", doc: "Nodes ... selects the nodeIPs as the peer type",
			admin: []*AdminPolicy{anp("nodes", 10, npav1alpha1.AdminNetworkPolicyEgressRule{Action: deny, To: []npav1alpha1.AdminNetworkPolicyEgressPeer{{Nodes: &metav1.LabelSelector{}}}})},
			src:   Source{Namespace: "default", Pod: app}, dst: external(443), want: Depends},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := NewCluster(tc.policies, nil)
			if err != nil {
				t.Fatal(err)
			}
			if err := c.SetAdmin(tc.admin, tc.baseline); err != nil {
				t.Fatal(err)
			}
			if got := c.Evaluate(tc.src, tc.dst); got.Verdict != tc.want {
				t.Errorf("%s\ngot %s (%+v), want %s", tc.doc, got.Verdict, got, tc.want)
			}
		})
	}
}

// TestAdminExternal: an administrator's allow-list in front of a lockdown.
func TestAdminExternal(t *testing.T) {
	c, err := NewCluster([]*Policy{pol("default", "lockdown", egressOnly())}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.SetAdmin([]*AdminPolicy{anp("saas", 10, toNetworks(allow, "198.51.100.0/24"))}, nil); err != nil {
		t.Fatal(err)
	}
	e := c.External(Source{Namespace: "default"}, nil)
	var got []string
	for _, o := range e.Openings {
		got = append(got, o.Text())
	}
	want := []string{"198.51.100.0/24 any port (AdminNetworkPolicy saas rule 0)"}
	if e.Reach != Partial || !slices.Equal(got, want) {
		t.Errorf("got %s %q, want partial %q", e.Reach, got, want)
	}
}

// TestAdminExternalDefaultProtocol: External cuts the TCP ports at a
// portNumber written without protocol (found by hack/netpoloracle).
func TestAdminExternalDefaultProtocol(t *testing.T) {
	c, err := NewCluster([]*Policy{pol("default", "lockdown", egressOnly())}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.SetAdmin([]*AdminPolicy{anp("saas", 10, npav1alpha1.AdminNetworkPolicyEgressRule{Action: allow,
		To:    []npav1alpha1.AdminNetworkPolicyEgressPeer{{Networks: []npav1alpha1.CIDR{"198.51.100.0/24"}}},
		Ports: &[]npav1alpha1.AdminNetworkPolicyPort{{PortNumber: &npav1alpha1.Port{Port: 443}}}})}, nil); err != nil {
		t.Fatal(err)
	}
	e := c.External(Source{Namespace: "default"}, nil)
	var got []string
	for _, o := range e.Openings {
		got = append(got, o.Text())
	}
	want := []string{"198.51.100.0/24 TCP 443 (AdminNetworkPolicy saas rule 0)"}
	if e.Reach != Partial || !slices.Equal(got, want) {
		t.Errorf("got %s %q, want partial %q", e.Reach, got, want)
	}
}
