package simulator

import (
	"sort"
	"time"

	networkingv1alpha3 "istio.io/api/networking/v1alpha3"
	securityv1beta1 "istio.io/api/security/v1beta1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/ambient-egress/ambient-egress-operator/simulator/lockdown"
)

// Origin records where an object came from, so findings can name it.
type Origin struct {
	// File is the manifest path the object was read from; Line is the
	// line its document starts on, 0 when not read from a file.
	File string
	Line int
	// Kind, Namespace and Name identify the object; Namespace is empty for
	// cluster-scoped kinds.
	Kind, Namespace, Name string
}

// Object renders "Kind namespace/name" (or "Kind name" when cluster-scoped).
func (o Origin) Object() string {
	if o.Kind == "" {
		return ""
	}
	if o.Namespace == "" {
		return o.Kind + " " + o.Name
	}
	return o.Kind + " " + o.Namespace + "/" + o.Name
}

// Meta is the part of an object's metadata the simulator reads.
type Meta struct {
	Origin
	// Labels and Annotations are the object's metadata maps.
	Labels, Annotations map[string]string
	// Created is metadata.creationTimestamp, zero in hand-written
	// manifests; it decides which of two EgressGateways wins a namespace.
	Created time.Time
}

// AuthorizationPolicy is a security.istio.io AuthorizationPolicy.
type AuthorizationPolicy struct {
	Meta
	// Spec is the decoded Istio API message.
	Spec *securityv1beta1.AuthorizationPolicy
}

// ServiceEntry is a networking.istio.io ServiceEntry.
type ServiceEntry struct {
	Meta
	// Spec is the decoded Istio API message.
	Spec *networkingv1alpha3.ServiceEntry
	// Allocated are the addresses istiod allocated (status.addresses),
	// when the input has them.
	Allocated []AllocatedAddress
}

// AllocatedAddress is one address istiod allocated to a ServiceEntry host.
type AllocatedAddress struct {
	Value string `json:"value"`
	Host  string `json:"host"`
}

// RequestAuthentication is a security.istio.io RequestAuthentication: the
// JWTs a proxy validates.
type RequestAuthentication struct {
	Meta
	// Spec is the decoded Istio API message.
	Spec *securityv1beta1.RequestAuthentication
}

// DestinationRule is a networking.istio.io DestinationRule.
type DestinationRule struct {
	Meta
	// Spec is the decoded Istio API message.
	Spec *networkingv1alpha3.DestinationRule
}

// Namespace is a Kubernetes Namespace; only its labels matter here.
type Namespace struct {
	Meta
}

// Listener is the part of a Gateway API listener that decides which
// namespaces may attach to a waypoint.
type Listener struct {
	// Name, Protocol and Port are the listener's fields.
	Name, Protocol string
	Port           int
	// AllowedFrom is allowedRoutes.namespaces.from: Same (default), All or
	// Selector.
	AllowedFrom string
	// AllowedSelector is allowedRoutes.namespaces.selector when From is
	// Selector.
	AllowedSelector *metav1.LabelSelector
}

// Gateway is a gateway.networking.k8s.io Gateway; waypoints are Gateways of
// class istio-waypoint.
type Gateway struct {
	Meta
	// ClassName is spec.gatewayClassName.
	ClassName string
	// Listeners are spec.listeners.
	Listeners []Listener
}

// GatewayClass is a gateway.networking.k8s.io GatewayClass; its
// istio.io/waypoint-for label sets the default traffic type of its waypoints.
type GatewayClass struct {
	Meta
}

// ServicePort is one port of a Kubernetes Service.
type ServicePort struct {
	// Name, Port and AppProtocol are the port's fields.
	Name        string
	Port        int
	AppProtocol string
}

// Service is a Kubernetes Service, the other kind a waypoint can serve.
type Service struct {
	Meta
	// Ports are spec.ports.
	Ports []ServicePort
	// ClusterIPs are spec.clusterIPs (or spec.clusterIP); Headless is set
	// for clusterIP None.
	ClusterIPs []string
	Headless   bool
}

// EgressGateway is this operator's egress.ambient.io/v1alpha1 resource, read
// only for what the operator would create from it.
type EgressGateway struct {
	Meta
	// WaypointName is spec.waypoint.name, defaulting to metadata.name.
	WaypointName string
	// TrafficType is spec.waypoint.trafficType: service (default) or all.
	TrafficType string
	// AllowedFrom and AllowedSelector are spec.waypoint.allowedRoutes: the
	// namespaces the waypoint's listener serves (Same by default).
	AllowedFrom     string
	AllowedSelector *metav1.LabelSelector
	// EnrollNamespace is spec.enrollNamespace, default true.
	EnrollNamespace bool
	// ServiceEntrySelector is spec.serviceEntrySelector.
	ServiceEntrySelector *metav1.LabelSelector
	// Sources is spec.simulation.sources, defaulted as the API server does
	// (ambient namespaces); Probes are spec.simulation.probes; and
	// SimulationDisabled is spec.simulation.disabled.
	Sources            *metav1.LabelSelector
	Probes             []RequestSpec
	SimulationDisabled bool
	// Lockdown is spec.lockdown, defaulted as the API server does.
	Lockdown Lockdown
	// declared are the objects spec.destinations makes the operator
	// create, by kind and name.
	declared []Origin
}

// The lockdown modes of spec.lockdown.mode.
const (
	LockdownOff     = "Off"
	LockdownAudit   = "Audit"
	LockdownEnforce = "Enforce"
)

// Lockdown is an EgressGateway's spec.lockdown.
type Lockdown struct {
	// Mode is Off, Audit or Enforce.
	Mode string
	// Sources selects the namespaces to lock down: spec.lockdown.sources,
	// else the simulation's sources.
	Sources *metav1.LabelSelector
	// AllowInCluster keeps pod-to-pod traffic open (default true).
	AllowInCluster bool
	// AllowCIDRs stay reachable directly.
	AllowCIDRs []lockdown.AllowedCIDR
}

// The label that puts a namespace in the ambient mesh, and its value.
const (
	LabelDataplaneMode = "istio.io/dataplane-mode"
	DataplaneAmbient   = "ambient"
)

// Snapshot is every object read from the inputs, after "later file wins"
// deduplication. Build one with Load or Parse, or fill it directly.
type Snapshot struct {
	// AuthorizationPolicies are the security.istio.io policies read.
	AuthorizationPolicies []*AuthorizationPolicy
	// RequestAuthentications say which JWTs the waypoints validate.
	RequestAuthentications []*RequestAuthentication
	// ServiceEntries are the external destinations read.
	ServiceEntries []*ServiceEntry
	// DestinationRules are read for TLS origination; they do not change
	// authorization.
	DestinationRules []*DestinationRule
	// Namespaces carry the enrollment labels.
	Namespaces []*Namespace
	// Gateways include the waypoints (class istio-waypoint).
	Gateways []*Gateway
	// GatewayClasses may set a default istio.io/waypoint-for.
	GatewayClasses []*GatewayClass
	// Services are Kubernetes Services a waypoint may serve.
	Services []*Service
	// EgressGateways stand for the waypoint and labels the operator creates.
	EgressGateways []*EgressGateway
	// ServiceAccounts are the callers' identities; the report's sources
	// are those of ambient namespaces.
	ServiceAccounts []*Meta
	// NetworkPolicies decide the connections pods open directly.
	NetworkPolicies []*NetworkPolicy
	// AdminNetworkPolicies and BaselineAdminNetworkPolicy are the
	// cluster administrator's tiers around the NetworkPolicies.
	AdminNetworkPolicies       []*AdminNetworkPolicy
	BaselineAdminNetworkPolicy *BaselineAdminNetworkPolicy
	// Pods, when given, tell which pods' labels NetworkPolicies select;
	// without them a policy that selects by pod labels is "depends".
	Pods []*Pod

	// index maps "Kind/namespace/name" to the object's slot, so that a later
	// document replaces an earlier one in place.
	index map[string]int
	// opts is how the manifests are read; documents counts the non-empty
	// documents read, so that an input without any is an error.
	opts      LoadOptions
	documents int
}

func objectKey(o Origin) string {
	return o.Kind + "/" + o.Namespace + "/" + o.Name
}

// put stores an object, replacing an earlier one with the same identity.
func put[T any](s *Snapshot, list *[]*T, o Origin, v *T) {
	if s.index == nil {
		s.index = map[string]int{}
	}
	key := objectKey(o)
	if i, ok := s.index[key]; ok {
		(*list)[i] = v
		return
	}
	s.index[key] = len(*list)
	*list = append(*list, v)
}

// sortByOrigin orders objects by namespace and name so results do not depend
// on input order.
func sortByOrigin[T any](list []*T, origin func(*T) Origin) {
	sort.SliceStable(list, func(i, j int) bool {
		a, b := origin(list[i]), origin(list[j])
		if a.Namespace != b.Namespace {
			return a.Namespace < b.Namespace
		}
		return a.Name < b.Name
	})
}
