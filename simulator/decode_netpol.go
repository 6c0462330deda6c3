package simulator

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/netip"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	npav1alpha1 "sigs.k8s.io/network-policy-api/apis/v1alpha1"

	"github.com/ambient-egress/ambient-egress-operator/simulator/netpol"
)

// NetworkPolicy is a networking.k8s.io/v1 NetworkPolicy: it decides which
// connections the source pods may open directly, bypassing the waypoint.
type NetworkPolicy struct {
	Meta
	// Spec is the policy's spec.
	Spec networkingv1.NetworkPolicySpec
}

// AdminNetworkPolicy is a cluster-scoped policy.networking.k8s.io
// AdminNetworkPolicy: egress rules above every NetworkPolicy.
type AdminNetworkPolicy struct {
	Meta
	Spec npav1alpha1.AdminNetworkPolicySpec
}

// BaselineAdminNetworkPolicy is the cluster's baseline (named default):
// egress rules below every NetworkPolicy.
type BaselineAdminNetworkPolicy struct {
	Meta
	Spec npav1alpha1.BaselineAdminNetworkPolicySpec
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

func decodeAdminNetworkPolicy(s *Snapshot, m Meta, spec json.RawMessage) error {
	p := &AdminNetworkPolicy{Meta: m}
	if err := strictJSON(spec, &p.Spec); err != nil {
		return err
	}
	var c netpol.Cluster
	if err := c.SetAdmin([]*netpol.AdminPolicy{{Name: m.Name, Spec: p.Spec}}, nil); err != nil {
		return err
	}
	put(s, &s.AdminNetworkPolicies, m.Origin, p)
	return nil
}

func decodeBaselineAdminNetworkPolicy(s *Snapshot, m Meta, spec json.RawMessage) error {
	p := &BaselineAdminNetworkPolicy{Meta: m}
	if err := strictJSON(spec, &p.Spec); err != nil {
		return err
	}
	// The API server admits only one, named default.
	if m.Name != "default" {
		return fmt.Errorf("metadata.name: a BaselineAdminNetworkPolicy must be named default, got %q", m.Name)
	}
	s.BaselineAdminNetworkPolicy = p
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
