// Package netpol evaluates the egress side of Kubernetes NetworkPolicy
// (networking.k8s.io/v1) for the simulator: which destinations a source pod
// may open connections to, and which policy decides. It is pure: the
// objects come from the simulator's snapshot, the CLI's YAML or the
// operator's cache, never from a cluster.
//
// The rules encoded here are the API's, as the Kubernetes documentation
// states them (kubernetes.io/docs/concepts/services-networking/network-policies,
// cited by section in the comments and the tests). Where the documentation
// leaves a point to the implementation (ipBlock on pod addresses,
// hostNetwork pods), the answer says so instead of picking one.
//
// Pod labels decide which pods a policy selects. The inputs often have no
// Pods (the operator does not read them; a YAML tree rarely holds them), so a
// source may be a namespace whose pods' labels are unknown: a policy whose
// podSelector is empty selects them for sure, any other "may" select them,
// and a verdict that depends on such a policy is Depends, never a guess.
package netpol

import (
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strings"

	"go4.org/netipx"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// Policy is one NetworkPolicy.
type Policy struct {
	// Namespace and Name identify it.
	Namespace, Name string
	// Spec is the policy's spec.
	Spec networkingv1.NetworkPolicySpec
}

// Ref is "namespace/name".
func (p *Policy) Ref() string { return p.Namespace + "/" + p.Name }

// Pod is a pod as policies see it.
type Pod struct {
	// Namespace, Name and Labels identify and select it.
	Namespace, Name string
	Labels          map[string]string
	// IP is status.podIP, invalid when not known.
	IP netip.Addr
	// Ports are the containers' ports, for named ports in egress rules.
	Ports []corev1.ContainerPort
	// HostNetwork pods use the node's network namespace; whether a
	// NetworkPolicy applies to them is up to the implementation.
	HostNetwork bool
}

// Source sends the traffic: a known pod, or (Pod nil) any pod of Namespace
// whose labels are not known.
type Source struct {
	Namespace string
	Pod       *Pod
}

// Destination is where a connection goes: Pod when the address is a known
// pod's, else an address outside the cluster's pods (IP invalid: any such
// address).
type Destination struct {
	IP       netip.Addr
	Pod      *Pod
	Port     int
	Protocol corev1.Protocol
}

// Verdict is the answer for one connection.
type Verdict string

// Verdicts.
const (
	// Allowed: the connection may be opened.
	Allowed Verdict = "allowed"
	// Denied: the source is isolated for egress and no rule allows it.
	Denied Verdict = "denied"
	// Depends: the answer depends on pod labels the inputs do not have, or
	// on a point the API leaves to the implementation.
	Depends Verdict = "depends"
)

// Result is a Verdict with what decided it.
type Result struct {
	Verdict Verdict
	// Isolating are the policies that select the source for egress
	// ("namespace/name"); empty when the source is not isolated.
	Isolating []string
	// AllowedBy are the rules that allow it ("namespace/name rule i", or
	// an admin tier's rule).
	AllowedBy []string
	// DeniedBy is the admin tier's rule that denies it, if one does.
	DeniedBy string
	// Why explains a Depends verdict, or an unisolated source.
	Why string
}

// Cluster is the policies and namespaces one evaluation reads. It caches
// parsed selectors, so it is not safe for concurrent use.
type Cluster struct {
	// byNamespace holds each namespace's policies, in name order.
	byNamespace map[string][]*Policy
	// nsLabels are the namespaces' labels; a namespace not listed has
	// only its kubernetes.io/metadata.name label, which the API server
	// sets on every namespace.
	nsLabels map[string]map[string]string
	// selectors caches parsed label selectors by pointer.
	selectors map[*metav1.LabelSelector]labels.Selector
	// admin are the AdminNetworkPolicies in evaluation order; baseline
	// the BaselineAdminNetworkPolicy, nil when there is none.
	admin    []*AdminPolicy
	baseline *BaselinePolicy
	// inCluster are addresses in the cluster that are not pods'.
	inCluster *netipx.IPSet
	// budget is the regions External may still evaluate; nil: no bound.
	budget *int
	// externals are the namespace-wide External answers computed so far.
	externals map[externalKey]External
}

// NamespaceNameLabel is set by the API server on every namespace.
const NamespaceNameLabel = "kubernetes.io/metadata.name"

// NewCluster indexes the policies and namespace labels. A policy that is
// not valid is an error naming it, as the API server would refuse it.
func NewCluster(policies []*Policy, namespaceLabels map[string]map[string]string) (*Cluster, error) {
	c := &Cluster{byNamespace: map[string][]*Policy{}, nsLabels: namespaceLabels, selectors: map[*metav1.LabelSelector]labels.Selector{}}
	for _, p := range policies {
		if err := c.validate(p); err != nil {
			return nil, fmt.Errorf("NetworkPolicy %s: %w", p.Ref(), err)
		}
		c.byNamespace[p.Namespace] = append(c.byNamespace[p.Namespace], p)
	}
	for _, ps := range c.byNamespace {
		slices.SortFunc(ps, func(a, b *Policy) int { return strings.Compare(a.Name, b.Name) })
	}
	return c, nil
}

// Validate checks one policy as NewCluster does.
func Validate(p *Policy) error {
	var c Cluster
	return c.validate(p)
}

// Policies returns a namespace's policies, in name order.
func (c *Cluster) Policies(namespace string) []*Policy { return c.byNamespace[namespace] }

// namespaceLabels returns a namespace's labels, with the name label the API
// server always sets.
func (c *Cluster) namespaceLabels(ns string) labels.Set {
	out := labels.Set{NamespaceNameLabel: ns}
	maps.Copy(out, c.nsLabels[ns])
	return out
}

func (c *Cluster) selector(s *metav1.LabelSelector) labels.Selector {
	if sel, ok := c.selectors[s]; ok {
		return sel
	}
	sel, err := metav1.LabelSelectorAsSelector(s)
	if err != nil {
		sel = labels.Nothing() // validate refused it already
	}
	c.selectors[s] = sel
	return sel
}

// match is a three-valued selection: yes, no, or unknown labels.
type match int

const (
	no match = iota
	maybe
	yes
)

// selects says whether a policy's podSelector picks the source: "An empty
// podSelector selects all pods in the namespace" (section "The
// NetworkPolicy resource"); a non-empty one needs the pod's labels.
func (c *Cluster) selects(p *Policy, src Source) match {
	sel := &p.Spec.PodSelector
	if src.Pod == nil {
		if len(sel.MatchLabels) == 0 && len(sel.MatchExpressions) == 0 {
			return yes
		}
		return maybe
	}
	if c.selector(sel).Matches(labels.Set(src.Pod.Labels)) {
		return yes
	}
	return no
}

// HasEgress says whether a policy restricts egress: "If no policyTypes are
// specified on a NetworkPolicy then by default Ingress will always be set
// and Egress will be set if the NetworkPolicy has any egress rules"
// (section "The NetworkPolicy resource", policyTypes).
func HasEgress(spec *networkingv1.NetworkPolicySpec) bool {
	if len(spec.PolicyTypes) == 0 {
		return len(spec.Egress) > 0
	}
	return slices.Contains(spec.PolicyTypes, networkingv1.PolicyTypeEgress)
}
