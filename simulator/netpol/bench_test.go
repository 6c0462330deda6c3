package netpol

import (
	"fmt"
	"testing"

	networkingv1 "k8s.io/api/networking/v1"
)

// adversarial is one namespace whose policies name n CIDRs and n ports:
// External's regions grow as their product, up to MaxRegions.
func adversarial(n int) *Cluster {
	var rules []networkingv1.NetworkPolicyEgressRule
	for i := range n {
		rules = append(rules, networkingv1.NetworkPolicyEgressRule{
			To:    []networkingv1.NetworkPolicyPeer{{IPBlock: &networkingv1.IPBlock{CIDR: fmt.Sprintf("%d.%d.0.0/16", 11+i/256, i%256)}}},
			Ports: []networkingv1.NetworkPolicyPort{{Protocol: tcp, Port: port(int32(1000 + i)), EndPort: new(int32(1000 + i))}},
		})
	}
	c, err := NewCluster([]*Policy{pol("default", "many", egressOnly(rules...))}, nil)
	if err != nil {
		panic(err)
	}
	return c
}

// TestExternalIsBounded: past MaxRegions the answer is Unknown with a
// reason, not an unbounded enumeration.
func TestExternalIsBounded(t *testing.T) {
	e := adversarial(400).External(Source{Namespace: "default"}, nil)
	if e.Reach != Unknown || e.Why == "" {
		t.Errorf("got %s (%q), want depends with a reason", e.Reach, e.Why)
	}
	if e := adversarial(20).External(Source{Namespace: "default"}, nil); e.Reach != Partial || len(e.Openings) != 20 {
		t.Errorf("got %s with %d openings, want partial with 20", e.Reach, len(e.Openings))
	}
}

// BenchmarkExternal measures the worst shapes: a namespace whose policies
// name n CIDRs and n ports (regions ~ 2n × 2n × protocols), and a
// lockdown-sized one.
func BenchmarkExternal(b *testing.B) {
	for _, n := range []int{5, 50, 110} {
		c := adversarial(n)
		b.Run(fmt.Sprintf("cidrs×ports=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				c.External(Source{Namespace: "default"}, nil)
			}
		})
	}
}
