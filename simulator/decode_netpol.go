package simulator

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/netip"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"

	"github.com/ambient-egress/ambient-egress-operator/simulator/netpol"
)

// NetworkPolicy is a networking.k8s.io/v1 NetworkPolicy: it decides which
// connections the source pods may open directly, bypassing the waypoint.
type NetworkPolicy struct {
	Meta
	// Spec is the policy's spec.
	Spec networkingv1.NetworkPolicySpec
}

// Pod is the part of a Pod that NetworkPolicy and enrollment read.
type Pod struct {
	Meta
	// ServiceAccount is spec.serviceAccountName ("default" when unset).
	ServiceAccount string
	// IP is status.podIP, invalid when not set.
	IP netip.Addr
	// HostNetwork is spec.hostNetwork.
	HostNetwork bool
	// Ports are the containers' ports, for named ports.
	Ports []corev1.ContainerPort
}

// strictJSON decodes like kubectl's strict field validation: an unknown
// field is an error naming it.
func strictJSON(data json.RawMessage, v any) error {
	if len(bytes.TrimSpace(data)) == 0 || bytes.Equal(bytes.TrimSpace(data), []byte("null")) {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("cannot decode: %w", err)
	}
	return nil
}

func decodeNetworkPolicy(s *Snapshot, m Meta, spec json.RawMessage) error {
	np := &NetworkPolicy{Meta: m}
	if err := strictJSON(spec, &np.Spec); err != nil {
		return err
	}
	if err := netpol.Validate(&netpol.Policy{Namespace: m.Namespace, Name: m.Name, Spec: np.Spec}); err != nil {
		return err
	}
	put(s, &s.NetworkPolicies, m.Origin, np)
	return nil
}

func decodePod(s *Snapshot, m Meta, spec, status json.RawMessage) error {
	var ps corev1.PodSpec
	var st corev1.PodStatus
	// A Pod's spec has many fields the simulator does not read; decode
	// leniently, as kubectl get -o yaml output carries every one.
	if len(bytes.TrimSpace(spec)) > 0 {
		if err := json.Unmarshal(spec, &ps); err != nil {
			return fmt.Errorf("cannot decode: %w", err)
		}
	}
	if len(bytes.TrimSpace(status)) > 0 {
		if err := json.Unmarshal(status, &st); err != nil {
			return fmt.Errorf("status: cannot decode: %w", err)
		}
	}
	pod := &Pod{Meta: m, ServiceAccount: ps.ServiceAccountName, HostNetwork: ps.HostNetwork}
	if pod.ServiceAccount == "" {
		pod.ServiceAccount = "default"
	}
	if st.PodIP != "" {
		ip, err := netip.ParseAddr(st.PodIP)
		if err != nil {
			return fmt.Errorf("status.podIP: %q is not an address", st.PodIP)
		}
		pod.IP = ip
	}
	for _, c := range ps.Containers {
		pod.Ports = append(pod.Ports, c.Ports...)
	}
	if pod.Ports == nil {
		pod.Ports = []corev1.ContainerPort{} // known to have none
	}
	put(s, &s.Pods, m.Origin, pod)
	return nil
}
