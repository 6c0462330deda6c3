package netpol

import (
	"fmt"
	"net/netip"
	"slices"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation"
)

// validate refuses what the API server's NetworkPolicy validation refuses
// and the evaluation depends on, so a manifest kubectl would reject is an
// error here too, naming the field, not a silently different answer.
func (c *Cluster) validate(p *Policy) error {
	if err := validSelector("spec.podSelector", &p.Spec.PodSelector); err != nil {
		return err
	}
	for i, t := range p.Spec.PolicyTypes {
		if t != networkingv1.PolicyTypeIngress && t != networkingv1.PolicyTypeEgress {
			return fmt.Errorf("spec.policyTypes[%d]: %q is not Ingress or Egress", i, t)
		}
	}
	for i := range p.Spec.Egress {
		r := &p.Spec.Egress[i]
		for j := range r.Ports {
			if err := validPort(&r.Ports[j]); err != nil {
				return fmt.Errorf("spec.egress[%d].ports[%d]: %w", i, j, err)
			}
		}
		for j := range r.To {
			if err := validPeer(&r.To[j]); err != nil {
				return fmt.Errorf("spec.egress[%d].to[%d]: %w", i, j, err)
			}
		}
	}
	return nil
}

func validSelector(field string, s *metav1.LabelSelector) error {
	if _, err := metav1.LabelSelectorAsSelector(s); err != nil {
		return fmt.Errorf("%s: %w", field, err)
	}
	return nil
}

func validPort(pp *networkingv1.NetworkPolicyPort) error {
	if pp.Protocol != nil && !slices.Contains([]corev1.Protocol{corev1.ProtocolTCP, corev1.ProtocolUDP, corev1.ProtocolSCTP}, *pp.Protocol) {
		return fmt.Errorf("protocol: %q is not TCP, UDP or SCTP", *pp.Protocol)
	}
	if pp.Port == nil {
		if pp.EndPort != nil {
			return fmt.Errorf("endPort: may not be set without port")
		}
		return nil
	}
	if pp.Port.Type == intstr.String {
		if errs := validation.IsValidPortName(pp.Port.StrVal); len(errs) > 0 {
			return fmt.Errorf("port: %q: %s", pp.Port.StrVal, errs[0])
		}
		if pp.EndPort != nil {
			return fmt.Errorf("endPort: may not be set with a named port")
		}
		return nil
	}
	if pp.Port.IntVal < 1 || pp.Port.IntVal > 65535 {
		return fmt.Errorf("port: %d is not between 1 and 65535", pp.Port.IntVal)
	}
	if pp.EndPort != nil && (*pp.EndPort < pp.Port.IntVal || *pp.EndPort > 65535) {
		return fmt.Errorf("endPort: %d must be between port (%d) and 65535", *pp.EndPort, pp.Port.IntVal)
	}
	return nil
}

func validPeer(peer *networkingv1.NetworkPolicyPeer) error {
	if peer.IPBlock == nil {
		if peer.PodSelector == nil && peer.NamespaceSelector == nil {
			return fmt.Errorf("must specify a peer (podSelector, namespaceSelector or ipBlock)")
		}
		if peer.PodSelector != nil {
			if err := validSelector("podSelector", peer.PodSelector); err != nil {
				return err
			}
		}
		if peer.NamespaceSelector != nil {
			return validSelector("namespaceSelector", peer.NamespaceSelector)
		}
		return nil
	}
	if peer.PodSelector != nil || peer.NamespaceSelector != nil {
		return fmt.Errorf("ipBlock may not be combined with podSelector or namespaceSelector")
	}
	cidr, err := netip.ParsePrefix(peer.IPBlock.CIDR)
	if err != nil {
		return fmt.Errorf("ipBlock.cidr: %q is not a CIDR", peer.IPBlock.CIDR)
	}
	for k, e := range peer.IPBlock.Except {
		ex, err := netip.ParsePrefix(e)
		if err != nil {
			return fmt.Errorf("ipBlock.except[%d]: %q is not a CIDR", k, e)
		}
		// The API server: "must be a strict subset of cidr".
		if ex.Addr().Is4() != cidr.Addr().Is4() || ex.Bits() <= cidr.Bits() || !cidr.Contains(ex.Addr()) {
			return fmt.Errorf("ipBlock.except[%d]: %s must be a strict subset of cidr %s", k, e, peer.IPBlock.CIDR)
		}
	}
	return nil
}
