package v1alpha1

import (
	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// EgressGatewaySpec is what the platform engineer asks for: a waypoint, what
// it enrolls, optional destinations and how to simulate access through it.
//
// +kubebuilder:validation:XValidation:rule="!has(self.serviceEntrySelector) || !self.enrollNamespace",message="serviceEntrySelector binds ServiceEntries one by one: set enrollNamespace: false to use it (enrolling the namespace already binds every ServiceEntry in it)"
type EgressGatewaySpec struct {
	// Waypoint configures the waypoint proxy the operator installs with Helm.
	// +kubebuilder:default={}
	// +optional
	Waypoint WaypointSpec `json:"waypoint,omitempty"`

	// EnrollNamespace labels this namespace with istio.io/use-waypoint, so
	// every ServiceEntry in it sends its traffic through the waypoint.
	// +kubebuilder:default=true
	// +optional
	EnrollNamespace *bool `json:"enrollNamespace,omitempty"`

	// ServiceEntrySelector selects ServiceEntries in this namespace to label
	// with istio.io/use-waypoint one by one, instead of the whole namespace.
	// Requires enrollNamespace: false.
	// +optional
	ServiceEntrySelector *LabelSelector `json:"serviceEntrySelector,omitempty"`

	// Destinations are external hosts the operator declares for you: one
	// ServiceEntry per host, plus a DestinationRule when a port originates TLS.
	// +listType=map
	// +listMapKey=host
	// +kubebuilder:validation:MaxItems=256
	// +optional
	Destinations []Destination `json:"destinations,omitempty"`

	// Simulation configures the reachability report in status.simulation.
	// +kubebuilder:default={}
	// +optional
	Simulation SimulationSpec `json:"simulation,omitempty"`

	// Lockdown closes direct egress from the source namespaces: ambient
	// mode lets their pods reach any host without a ServiceEntry straight
	// through, bypassing the waypoint. Off by default.
	// +optional
	Lockdown LockdownSpec `json:"lockdown,omitempty"`

	// Observability turns on what shows the egress traffic that actually
	// leaves: the waypoint's access logs.
	// +optional
	Observability ObservabilitySpec `json:"observability,omitempty"`
}

// ObservabilitySpec configures what the operator turns on to watch egress.
type ObservabilitySpec struct {
	// AccessLogging makes the waypoint log each request or connection it
	// handles (Envoy access logs on its standard output, Istio's envoy
	// provider), through a telemetry.istio.io Telemetry the operator owns.
	// Off by default.
	// +optional
	AccessLogging *AccessLoggingSpec `json:"accessLogging,omitempty"`
	// Prometheus is where the operator reads the traffic the waypoint
	// actually handled (Istio's standard metrics), to set it beside the
	// report in status.observed, with the findings DeniedTraffic,
	// UnusedGrant and UnexpectedTraffic. Unset reads nothing.
	// +optional
	Prometheus *PrometheusSpec `json:"prometheus,omitempty"`
}

// PrometheusSpec says how to query the Prometheus that scrapes the
// waypoint's metrics.
type PrometheusSpec struct {
	// URL is the base URL of the Prometheus HTTP API, such as
	// https://thanos-querier.openshift-monitoring.svc:9091 or
	// http://prometheus.istio-system:9090.
	// +kubebuilder:validation:MaxLength=2048
	// +kubebuilder:validation:XValidation:rule="self.startsWith('http://') || self.startsWith('https://')",message="url must start with http:// or https://"
	URL string `json:"url"`
	// BearerTokenSecret names a key of a Secret in this namespace whose
	// value is sent as "Authorization: Bearer".
	// +optional
	BearerTokenSecret *KeyReference `json:"bearerTokenSecret,omitempty"`
	// CAConfigMap names a key of a ConfigMap in this namespace holding the
	// PEM certificates to trust for https, instead of the system's (on
	// OpenShift, the service CA bundle ConfigMap).
	// +optional
	CAConfigMap *KeyReference `json:"caConfigMap,omitempty"`
	// Lookback is the window of traffic to read.
	// +kubebuilder:default="24h"
	// +kubebuilder:validation:XValidation:rule="duration(self) >= duration('5m') && duration(self) <= duration('720h')",message="lookback must be between 5m and 720h"
	// +optional
	Lookback *metav1.Duration `json:"lookback,omitempty"`
	// RefreshInterval is how often Prometheus is read again.
	// +kubebuilder:default="5m"
	// +kubebuilder:validation:XValidation:rule="duration(self) >= duration('30s')",message="refreshInterval must be at least 30s"
	// +optional
	RefreshInterval *metav1.Duration `json:"refreshInterval,omitempty"`
}

// KeyReference names one key of a Secret or ConfigMap in the
// EgressGateway's namespace.
type KeyReference struct {
	// Name of the object.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`
	// Key in its data.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Key string `json:"key"`
}

// AccessLoggingSpec turns the waypoint's access logs on.
type AccessLoggingSpec struct {
	// Enabled turns the access logs on.
	Enabled bool `json:"enabled"`
	// Filter is a CEL expression over Envoy's request attributes that
	// selects what to log, such as "response.code >= 400"; empty logs
	// everything. istiod refuses an expression that does not parse, and
	// so does the operator, with the AccessLogging condition.
	// +kubebuilder:validation:MaxLength=1024
	// +optional
	Filter string `json:"filter,omitempty"`
}

// TrafficType is the kind of traffic a waypoint handles, written to the
// Gateway's istio.io/waypoint-for label.
// +kubebuilder:validation:Enum=service;all
type TrafficType string

const (
	// TrafficTypeService handles traffic addressed to services and
	// ServiceEntries, which is what an egress gateway needs.
	TrafficTypeService TrafficType = "service"
	// TrafficTypeAll also handles traffic addressed to workloads directly.
	TrafficTypeAll TrafficType = "all"
)

// AllowedRoutes selects the namespaces whose ServiceEntries and Services
// may use the waypoint.
//
// +kubebuilder:validation:XValidation:rule="(self.from == 'Selector') == has(self.selector)",message="allowedRoutes.selector is required with from: Selector, and allowed only with it"
type AllowedRoutes struct {
	// From is Same (the waypoint's namespace), All, or Selector.
	// +kubebuilder:validation:Enum=Same;All;Selector
	// +kubebuilder:default=Same
	// +optional
	From AllowedRoutesFrom `json:"from,omitempty"`
	// Selector selects the namespaces when From is Selector.
	// +optional
	Selector *LabelSelector `json:"selector,omitempty"`
}

// AllowedRoutesFrom is Gateway API's FromNamespaces.
type AllowedRoutesFrom string

// The namespaces a waypoint serves.
const (
	AllowedRoutesSame     AllowedRoutesFrom = "Same"
	AllowedRoutesAll      AllowedRoutesFrom = "All"
	AllowedRoutesSelector AllowedRoutesFrom = "Selector"
)

// WaypointSpec configures the waypoint Gateway and its scaling objects.
//
// +kubebuilder:validation:XValidation:rule="!(has(self.replicas) && has(self.autoscaling))",message="set either waypoint.replicas (a fixed size) or waypoint.autoscaling (a HorizontalPodAutoscaler), not both"
type WaypointSpec struct {
	// Name of the waypoint Gateway, and of the Deployment and Service istiod
	// creates for it. Defaults to the EgressGateway's name.
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:XValidation:rule="self.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?$')",message="waypoint.name must be a DNS label: lower-case letters, digits and '-', starting and ending with a letter or digit"
	// +optional
	Name string `json:"name,omitempty"`

	// TrafficType is the waypoint's istio.io/waypoint-for label. Egress needs
	// "service" (ServiceEntries); "all" also captures workload-addressed traffic.
	// +kubebuilder:default=service
	// +optional
	TrafficType TrafficType `json:"trafficType,omitempty"`

	// AllowedRoutes says from which namespaces ServiceEntries and Services
	// may use the waypoint: the allowedRoutes.namespaces of its HBONE
	// listener, with Gateway API's semantics. The default, Same, serves the
	// EgressGateway's namespace only; a ServiceEntry in another namespace
	// (labeled istio.io/use-waypoint and istio.io/use-waypoint-namespace)
	// needs All or a Selector matching its namespace.
	// +optional
	AllowedRoutes *AllowedRoutes `json:"allowedRoutes,omitempty"`

	// Replicas is a fixed number of waypoint pods. Leave it unset to let
	// istiod decide (one pod), or use autoscaling instead.
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=1000
	// +optional
	Replicas *int32 `json:"replicas,omitempty"`

	// Autoscaling scales the waypoint Deployment with a HorizontalPodAutoscaler.
	// +optional
	Autoscaling *AutoscalingSpec `json:"autoscaling,omitempty"`

	// PodDisruptionBudget protects the waypoint pods during voluntary
	// disruptions such as node drains.
	// +optional
	PodDisruptionBudget *PodDisruptionBudgetSpec `json:"podDisruptionBudget,omitempty"`

	// Resources are the waypoint proxy container's requests and limits.
	// +optional
	Resources *corev1.ResourceRequirements `json:"resources,omitempty"`

	// Revision is the istio.io/rev label of the Gateway, selecting which
	// istiod revision programs it. Empty means the default revision.
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:XValidation:rule="self.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?$')",message="waypoint.revision must be a DNS label such as 1-31-4 or canary"
	// +optional
	Revision string `json:"revision,omitempty"`

	// Values are extra values merged over the ones the operator computes for
	// the embedded waypoint chart. An escape hatch: prefer the typed fields.
	// +kubebuilder:validation:Type=object
	// +kubebuilder:pruning:PreserveUnknownFields
	// +optional
	Values *apiextensionsv1.JSON `json:"values,omitempty"`
}

// AutoscalingSpec sizes the waypoint with a HorizontalPodAutoscaler on CPU.
//
// +kubebuilder:validation:XValidation:rule="!has(self.minReplicas) || self.minReplicas <= self.maxReplicas",message="autoscaling.minReplicas must be less than or equal to autoscaling.maxReplicas"
type AutoscalingSpec struct {
	// MinReplicas is the lower bound of the autoscaler.
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:default=1
	// +optional
	MinReplicas *int32 `json:"minReplicas,omitempty"`

	// MaxReplicas is the upper bound of the autoscaler.
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=1000
	MaxReplicas int32 `json:"maxReplicas"`

	// TargetCPUUtilizationPercentage is the average CPU use, as a percentage
	// of the requested CPU, that the autoscaler aims for.
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=1000
	// +kubebuilder:default=80
	// +optional
	TargetCPUUtilizationPercentage *int32 `json:"targetCPUUtilizationPercentage,omitempty"`
}

// PodDisruptionBudgetSpec is the one bound a PodDisruptionBudget may carry.
//
// +kubebuilder:validation:XValidation:rule="has(self.minAvailable) != has(self.maxUnavailable)",message="podDisruptionBudget needs exactly one of minAvailable or maxUnavailable"
type PodDisruptionBudgetSpec struct {
	// MinAvailable is the number or percentage of waypoint pods that must
	// stay up.
	// +kubebuilder:validation:XIntOrString
	// +optional
	MinAvailable *intstr.IntOrString `json:"minAvailable,omitempty"`

	// MaxUnavailable is the number or percentage of waypoint pods that may be
	// down at once.
	// +kubebuilder:validation:XIntOrString
	// +optional
	MaxUnavailable *intstr.IntOrString `json:"maxUnavailable,omitempty"`
}

// Destination is one external host the operator declares as a ServiceEntry.
//
// +kubebuilder:validation:XValidation:rule="!has(self.addresses) || !self.host.startsWith('*')",message="a wildcard host cannot have addresses: the addresses already say which connections are this destination's"
// +kubebuilder:validation:XValidation:rule="!self.host.startsWith('*') || self.ports.all(p, !has(p.protocol) || p.protocol in ['HTTP', 'TLS'])",message="a wildcard host needs HTTP or TLS ports: a waypoint reads the name to forward to from the Host header or the SNI, and istiod builds it no cluster for other protocols"
// +kubebuilder:validation:XValidation:rule="self.ports.exists(p, p.protocol in ['HTTP', 'HTTP2', 'GRPC']) || ((!has(self.access) || self.access.all(r, !has(r.to) || (!has(r.to.methods) && !has(r.to.paths)))) && (!has(self.deny) || self.deny.all(r, !has(r.to) || (!has(r.to.methods) && !has(r.to.paths)))))",message="methods and paths need an HTTP, HTTP2 or GRPC port: on TCP and TLS ports the waypoint sees neither, so such a rule would never match; match TLS and TCP traffic by from and ports"
type Destination struct {
	// Host is a DNS name (api.example.com) or a wildcard (*.example.com).
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:XValidation:rule="self.matches('^([*][.])?([a-z0-9]([-a-z0-9]*[a-z0-9])?[.])*[a-z0-9]([-a-z0-9]*[a-z0-9])?$')",message="host must be a lower-case DNS name such as api.example.com, or a wildcard such as *.example.com"
	Host string `json:"host"`

	// Ports the host is reached on.
	// +listType=map
	// +listMapKey=number
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=32
	Ports []DestinationPort `json:"ports"`

	// Addresses are the IP addresses or CIDR ranges the destination is
	// reached at, for destinations clients connect to by address (a
	// database, a partner's range). The ServiceEntry gets them with
	// resolution NONE: ztunnel sends connections to any of them to the
	// waypoint, whatever name the client used. Unset, the destination is
	// reached by its host name (resolution DNS, an address istiod allocates).
	// +kubebuilder:validation:MaxItems=32
	// +kubebuilder:validation:items:MaxLength=43
	// +kubebuilder:validation:items:XValidation:rule="isIP(self) || isCIDR(self)",message="an address is an IP address or a CIDR range, such as 203.0.113.0/24"
	// +optional
	Addresses []string `json:"addresses,omitempty"`

	// Access says who may call the destination, and how: the operator
	// writes it as an ALLOW AuthorizationPolicy on the destination's
	// ServiceEntry (named "<ServiceEntry>-access"), so a request no rule
	// matches is denied. Unset, the operator writes none and the policies
	// of the namespace decide, as before. An empty rule ({}) lets anyone
	// call.
	// +kubebuilder:validation:MaxItems=32
	// +optional
	Access []AccessRule `json:"access,omitempty"`

	// Deny lists requests refused whatever Access says: a DENY
	// AuthorizationPolicy named "<ServiceEntry>-deny".
	// +kubebuilder:validation:MaxItems=32
	// +optional
	Deny []AccessRule `json:"deny,omitempty"`
}

// AccessRule matches requests: those from any of the sources in From, for
// an operation To describes. A rule without From matches every caller, one
// without To every request.
type AccessRule struct {
	// From lists the callers.
	// +optional
	From *AccessSource `json:"from,omitempty"`
	// To describes the requests.
	// +optional
	To *AccessOperation `json:"to,omitempty"`
}

// AccessSource names callers; a caller matching any of the lists matches.
//
// +kubebuilder:validation:XValidation:rule="has(self.serviceAccounts) || has(self.namespaces) || has(self.principals)",message="access from: name serviceAccounts, namespaces or principals"
type AccessSource struct {
	// ServiceAccounts are "namespace/name" of the callers' service
	// accounts, without wildcards.
	// +kubebuilder:validation:MaxItems=16
	// +kubebuilder:validation:items:MaxLength=317
	// +kubebuilder:validation:items:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?/[a-z0-9]([-a-z0-9.]*[a-z0-9])?$`
	// +optional
	ServiceAccounts []string `json:"serviceAccounts,omitempty"`
	// Namespaces of the callers; a value may start or end with "*".
	// +kubebuilder:validation:MaxItems=64
	// +kubebuilder:validation:items:MaxLength=63
	// +kubebuilder:validation:items:Pattern=`^([*]|[*]?[a-z0-9][-a-z0-9]*|[a-z0-9][-a-z0-9]*[*])$`
	// +optional
	Namespaces []string `json:"namespaces,omitempty"`
	// Principals are the callers' mTLS identities
	// (<trust domain>/ns/<namespace>/sa/<name>); a value may start or end
	// with "*".
	// +kubebuilder:validation:MaxItems=64
	// +kubebuilder:validation:items:MinLength=1
	// +kubebuilder:validation:items:MaxLength=512
	// +kubebuilder:validation:items:Pattern=`^([*]|[*]?[^*]+[*]?)$`
	// +optional
	Principals []string `json:"principals,omitempty"`
}

// AccessOperation describes requests. Methods and paths need an HTTP port:
// on TCP and TLS ports the waypoint sees neither.
//
// +kubebuilder:validation:XValidation:rule="has(self.methods) || has(self.paths) || has(self.ports)",message="access to: name methods, paths or ports"
type AccessOperation struct {
	// Methods are HTTP methods, such as GET.
	// +kubebuilder:validation:MaxItems=16
	// +kubebuilder:validation:items:Pattern=`^[A-Z]+$`
	// +kubebuilder:validation:items:MaxLength=32
	// +optional
	Methods []string `json:"methods,omitempty"`
	// Paths are request paths, with Istio's syntax: exact, prefix ("/api/*"),
	// suffix ("*.json"), or templates ("/v1/{*}/items", "/files/{**}").
	// +kubebuilder:validation:MaxItems=64
	// +kubebuilder:validation:items:MinLength=1
	// +kubebuilder:validation:items:MaxLength=1024
	// +kubebuilder:validation:items:Pattern=`^[/*]`
	// +optional
	Paths []string `json:"paths,omitempty"`
	// Ports are destination ports; each must be one of the destination's.
	// +kubebuilder:validation:MaxItems=32
	// +kubebuilder:validation:items:Minimum=1
	// +kubebuilder:validation:items:Maximum=65535
	// +optional
	Ports []int32 `json:"ports,omitempty"`
}

// Protocol is the application protocol of a destination port, as Istio names
// it on a ServiceEntry port.
// +kubebuilder:validation:Enum=HTTP;HTTPS;HTTP2;GRPC;TCP;TLS
type Protocol string

// DestinationPort is one port of a destination.
//
// +kubebuilder:validation:XValidation:rule="!has(self.tlsOrigination) || self.protocol == 'HTTP'",message="tlsOrigination upgrades plain HTTP from the workloads to TLS: set protocol: HTTP on this port"
type DestinationPort struct {
	// Number is the port workloads connect to.
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=65535
	Number int32 `json:"number"`

	// Protocol decides what the waypoint can see: HTTP-family ports get L7
	// policy (methods, paths), TCP and TLS ports only L4.
	// +kubebuilder:default=HTTP
	// +optional
	Protocol Protocol `json:"protocol,omitempty"`

	// Name of the ServiceEntry port. Defaults to "<protocol>-<number>" in
	// lower case.
	// +kubebuilder:validation:MaxLength=63
	// +optional
	Name string `json:"name,omitempty"`

	// TLSOrigination makes the waypoint open TLS to the destination, so
	// workloads can send plain HTTP and it leaves the mesh encrypted.
	// +optional
	TLSOrigination *TLSOrigination `json:"tlsOrigination,omitempty"`
}

// TLSMode is the DestinationRule TLS mode used for origination.
// +kubebuilder:validation:Enum=SIMPLE;MUTUAL
type TLSMode string

const (
	// TLSModeSimple originates TLS, verifying the server only.
	TLSModeSimple TLSMode = "SIMPLE"
	// TLSModeMutual originates TLS with a client certificate.
	TLSModeMutual TLSMode = "MUTUAL"
)

// TLSOrigination is how the waypoint upgrades a plain HTTP port to TLS.
//
// +kubebuilder:validation:XValidation:rule="self.mode != 'MUTUAL' || has(self.credentialName)",message="tlsOrigination.mode MUTUAL needs credentialName: the Secret with the client certificate"
type TLSOrigination struct {
	// Mode is the DestinationRule tls.mode.
	Mode TLSMode `json:"mode"`

	// TargetPort is the port the destination really listens on for TLS.
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=65535
	// +kubebuilder:default=443
	// +optional
	TargetPort int32 `json:"targetPort,omitempty"`

	// SNI sent to the destination. Defaults to the host.
	// +kubebuilder:validation:MaxLength=253
	// +optional
	SNI string `json:"sni,omitempty"`

	// CredentialName is the Secret, in this namespace, holding the client
	// certificate and key (MUTUAL) or a CA bundle.
	// +kubebuilder:validation:MaxLength=253
	// +optional
	CredentialName string `json:"credentialName,omitempty"`
}

// LockdownMode says whether the operator gates direct egress.
// +kubebuilder:validation:Enum=Off;Audit;Enforce
type LockdownMode string

const (
	// LockdownOff writes nothing: pods reach hosts outside the mesh directly.
	LockdownOff LockdownMode = "Off"
	// LockdownAudit writes nothing, and status.lockdown and the LockedDown
	// condition say what Enforce would write.
	LockdownAudit LockdownMode = "Audit"
	// LockdownEnforce writes a NetworkPolicy in each source namespace that
	// allows egress only to DNS, the waypoint, the API server, other pods
	// (allowInCluster) and allowCIDRs.
	LockdownEnforce LockdownMode = "Enforce"
)

// LockdownSpec configures the lockdown of direct egress.
type LockdownSpec struct {
	// Mode is Off (default), Audit or Enforce.
	// +kubebuilder:default=Off
	// +optional
	Mode LockdownMode `json:"mode,omitempty"`

	// Sources selects the namespaces to lock down; the gateway's own
	// namespace never is (the waypoint must reach the internet). Defaults
	// to spec.simulation.sources.
	// +optional
	Sources *LabelSelector `json:"sources,omitempty"`

	// AllowInCluster keeps egress to every pod of the cluster open
	// (default true): only destinations outside the cluster's pods must go
	// through the waypoint.
	// +kubebuilder:default=true
	// +optional
	AllowInCluster *bool `json:"allowInCluster,omitempty"`

	// AllowCIDRs stay reachable directly, each for a stated reason.
	// +kubebuilder:validation:MaxItems=64
	// +listType=map
	// +listMapKey=cidr
	// +optional
	AllowCIDRs []AllowedCIDR `json:"allowCIDRs,omitempty"`
}

// AllowedCIDR is an address range pods may reach without the waypoint.
type AllowedCIDR struct {
	// CIDR is an IPv4 or IPv6 range such as 192.0.2.0/24 (not an
	// IPv4-mapped IPv6 range such as ::ffff:192.0.2.0/120).
	// +kubebuilder:validation:MaxLength=64
	// +kubebuilder:validation:XValidation:rule="isCIDR(self)",message="cidr must be an address range such as 192.0.2.0/24 or 2001:db8::/32"
	CIDR string `json:"cidr"`
	// Reason says why this range bypasses the waypoint.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=256
	Reason string `json:"reason"`
}

// SimulationSpec configures the reachability report.
type SimulationSpec struct {
	// Sources selects the namespaces whose service accounts are the possible
	// callers. Defaults to ambient namespaces (istio.io/dataplane-mode=ambient).
	// +kubebuilder:default={matchLabels: {"istio.io/dataplane-mode": "ambient"}}
	// +optional
	Sources *LabelSelector `json:"sources,omitempty"`

	// Probes are concrete requests to answer in the report, besides the
	// computed access of every source.
	// +kubebuilder:validation:MaxItems=64
	// +optional
	Probes []Probe `json:"probes,omitempty"`

	// Disabled turns the simulation off; status.simulation is then cleared.
	// +optional
	Disabled bool `json:"disabled,omitempty"`
}

// Probe is one request whose verdict the report states.
type Probe struct {
	// From is the caller's principal, such as cluster.local/ns/default/sa/admin.
	// Empty asks the question for every source group.
	// +kubebuilder:validation:MaxLength=512
	// +optional
	From string `json:"from,omitempty"`

	// Method is the HTTP method. Empty means a TCP/TLS connection.
	// +kubebuilder:validation:MaxLength=32
	// +kubebuilder:validation:XValidation:rule="self.matches('^[A-Z]+$')",message="probe method must be an upper-case HTTP method token such as GET or POST"
	// +optional
	Method string `json:"method,omitempty"`

	// Path is the request path, with an optional query.
	// +kubebuilder:validation:MaxLength=2048
	// +kubebuilder:validation:XValidation:rule="self.startsWith('/')",message="probe path must start with '/'"
	// +optional
	Path string `json:"path,omitempty"`

	// Host is the destination host, as sent in the Host header.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:XValidation:rule="self.matches('^([a-z0-9]([-a-z0-9]*[a-z0-9])?[.])*[a-z0-9]([-a-z0-9]*[a-z0-9])?$')",message="probe host must be a lower-case DNS name such as api.example.com"
	Host string `json:"host"`

	// Port is the destination service port.
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=65535
	// +kubebuilder:default=80
	// +optional
	Port int32 `json:"port,omitempty"`
}

// EgressGatewayStatus is what the operator observed and concluded.
type EgressGatewayStatus struct {
	// ObservedGeneration is the spec generation the status describes.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// Conditions: Ready, WaypointReady, Enrolled, PoliciesValid, Simulated.
	// +listType=map
	// +listMapKey=type
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// Waypoint describes the installed waypoint and its Helm release.
	// +optional
	Waypoint *WaypointStatus `json:"waypoint,omitempty"`

	// Lockdown says which namespaces are locked down (Enforce) or would
	// be (Audit).
	// +optional
	Lockdown *LockdownStatus `json:"lockdown,omitempty"`

	// Mesh is the mesh configuration the simulation used: Istio's own
	// (the istio or istio-<revision> ConfigMap), with the operator's
	// flags as overrides.
	// +optional
	Mesh *MeshStatus `json:"mesh,omitempty"`

	// Istio is the istiod the gateway runs under, as far as what the
	// operator renders depends on it: its version and whether it serves
	// TLS ports of wildcard destinations.
	// +optional
	Istio *IstioStatus `json:"istio,omitempty"`

	// Destinations are the external hosts declared in this namespace and in
	// the root namespace, as ServiceEntries, and whether their traffic
	// passes this waypoint. Sorted by host; cut, with a note in
	// simulation.truncated, when the status would outgrow its budget.
	// +optional
	Destinations []DestinationStatus `json:"destinations,omitempty"`

	// Simulation is the reachability report: who can reach which destination
	// with which methods and paths.
	// +optional
	Simulation *SimulationStatus `json:"simulation,omitempty"`
	// Verification is the last check of the report against the RBAC
	// istiod generates for the waypoint, when the operator runs with
	// --verify-xds-address; absent otherwise.
	// +optional
	Verification *VerificationStatus `json:"verification,omitempty"`
	// Observed is the traffic the waypoint handled, read from
	// spec.observability.prometheus, beside what the report allows;
	// absent when spec.observability.prometheus is unset.
	// +optional
	Observed *ObservedStatus `json:"observed,omitempty"`
}

// ObservedStatus is the last reading of the waypoint's traffic.
type ObservedStatus struct {
	// Prometheus is the URL read.
	Prometheus string `json:"prometheus"`
	// QueryTime is when it was read.
	QueryTime metav1.Time `json:"queryTime"`
	// Window is how far back the traffic was read (spec's lookback).
	Window metav1.Duration `json:"window"`
	// InputsDigest is status.simulation.inputsDigest of the report the
	// traffic was compared with.
	InputsDigest string `json:"inputsDigest"`
	// Traffic has one row per source group and destination host that
	// sent anything in the window.
	// +optional
	// +kubebuilder:validation:MaxItems=100
	Traffic []ObservedTraffic `json:"traffic,omitempty"`
	// Truncated says what was left out, if anything.
	// +optional
	Truncated string `json:"truncated,omitempty"`
}

// ObservedTraffic is what one source group sent one destination host.
type ObservedTraffic struct {
	// Via is waypoint (the waypoint handled and reported it) or direct
	// (ztunnel sent it straight out, to a ServiceEntry bound to no
	// waypoint; connections only).
	// +kubebuilder:validation:Enum=waypoint;direct
	Via string `json:"via"`
	// Group is the report's source group (status.simulation.groups), or
	// "others" for sources it lists nowhere.
	Group string `json:"group"`
	// Sources are principals of the group seen sending (at most five).
	// +optional
	Sources []string `json:"sources,omitempty"`
	// Destination is the host (Istio's metrics do not say the port).
	Destination string `json:"destination"`
	// Access is the most the report allows the group on any port of the
	// host: at the waypoint, or for direct traffic as the NetworkPolicies
	// (and the lockdown) let it out.
	Access Access `json:"access"`
	// Requests counts HTTP requests; Denied those the waypoint answered
	// 403; Connections TCP connections (TLS and TCP ports).
	Requests    int64 `json:"requests"`
	Denied      int64 `json:"denied"`
	Connections int64 `json:"connections"`
	// LastSeen is the latest five-minute step the group's counters grew in.
	// +optional
	LastSeen *metav1.Time `json:"lastSeen,omitempty"`
}

// VerificationStatus is what the last verification compared: requests to
// every destination bound to the waypoint, answered by the simulator and
// by the RBAC filters istiod generated for one of the waypoint's pods.
type VerificationStatus struct {
	// InputsDigest is status.simulation.inputsDigest of the report checked.
	InputsDigest string `json:"inputsDigest"`
	// LastRunTime is when istiod's configuration was read.
	LastRunTime metav1.Time `json:"lastRunTime"`
	// Pod is the waypoint pod (namespace/name) whose configuration istiod
	// generated.
	Pod string `json:"pod"`
	// Compared is the number of requests both answered.
	Compared int32 `json:"compared"`
	// DestinationPorts is the number of host:port destinations checked.
	DestinationPorts int32 `json:"destinationPorts"`
	// Disagreements is the number of requests answered differently.
	Disagreements int32 `json:"disagreements"`
	// NotCompared is the number of requests one side could not answer.
	NotCompared int32 `json:"notCompared"`
	// Examples are the first disagreements (or requests not compared),
	// each with both answers; egressctl verify lists them all.
	// +optional
	// +kubebuilder:validation:MaxItems=10
	Examples []string `json:"examples,omitempty"`
	// Truncated is set when the request budget stopped the check early.
	// +optional
	Truncated bool `json:"truncated,omitempty"`
}

// LockdownStatus is what the lockdown wrote, or would write.
type LockdownStatus struct {
	// Mode is the mode acted on.
	Mode LockdownMode `json:"mode"`
	// PolicyName is the NetworkPolicy written in each namespace.
	PolicyName string `json:"policyName"`
	// Namespaces are the namespaces locked down (Enforce) or that would be
	// (Audit), sorted.
	// +optional
	Namespaces []string `json:"namespaces,omitempty"`
}

// MeshStatus is the part of Istio's mesh config the report depends on.
type MeshStatus struct {
	// TrustDomain is the mesh trust domain: the first part of every
	// source principal in the report.
	TrustDomain string `json:"trustDomain"`
	// TrustDomainAliases are trust domains treated as the local one.
	// +optional
	TrustDomainAliases []string `json:"trustDomainAliases,omitempty"`
	// RootNamespace is the namespace whose Istio objects apply to every
	// gateway.
	RootNamespace string `json:"rootNamespace"`
	// ExtensionProviders are the names of the mesh config's
	// extensionProviders. istiod enforces the rules of a CUSTOM policy
	// naming any other provider as DENY rules (finding
	// UnknownCustomProvider).
	// +optional
	ExtensionProviders []string `json:"extensionProviders,omitempty"`
	// Source says where the values come from: the ConfigMap read (or that
	// it is absent, so Istio's defaults apply) and any operator flag that
	// overrides it.
	Source string `json:"source"`
}

// IstioStatus is the istiod the operator renders destinations for.
type IstioStatus struct {
	// Version is istiod's version ("1.29.1"), or "unknown" when neither
	// its Deployment nor the operator's --istio-version says; wildcard
	// destinations are then rendered as the newest Istio serves them.
	Version string `json:"version"`
	// WildcardTLS says istiod runs with
	// ENABLE_WILDCARD_HOST_SERVICE_ENTRIES_FOR_TLS=true, which TLS ports
	// of wildcard destinations need.
	// +optional
	WildcardTLS bool `json:"wildcardTLS,omitempty"`
	// Source says where the values come from: the istiod Deployment read,
	// or the operator flags that override it.
	Source string `json:"source"`
}

// WaypointStatus describes the waypoint Gateway and its Helm release.
type WaypointStatus struct {
	// GatewayName is the waypoint Gateway in this namespace.
	GatewayName string `json:"gatewayName"`

	// Release is the Helm release that renders the Gateway and its scaling
	// objects.
	// +optional
	Release *HelmReleaseStatus `json:"release,omitempty"`

	// Replicas is the desired size of the waypoint Deployment istiod created.
	// +optional
	Replicas int32 `json:"replicas"`

	// ReadyReplicas is how many waypoint pods are ready.
	// +optional
	ReadyReplicas int32 `json:"readyReplicas"`
}

// HelmReleaseStatus records the last release the operator applied, so it can
// skip Helm entirely when nothing changed.
type HelmReleaseStatus struct {
	// Name of the release, stored as Secrets in this namespace.
	Name string `json:"name"`
	// Revision of the release.
	Revision int `json:"revision"`
	// ChartVersion of the embedded chart the release was made from.
	ChartVersion string `json:"chartVersion"`
	// ValuesDigest is a digest of the values the release was made with.
	// +optional
	ValuesDigest string `json:"valuesDigest,omitempty"`
	// Status is Helm's release status, such as deployed or failed.
	Status string `json:"status"`
	// FailedAttempt is "<chartVersion>/<valuesDigest>" of the last install or
	// upgrade that failed. The operator does not try the same chart and
	// values again until the spec changes or a retry interval passes, so a
	// bad value does not churn releases.
	// +optional
	FailedAttempt string `json:"failedAttempt,omitempty"`
}

// DestinationStatus is one ServiceEntry host as the waypoint sees it.
type DestinationStatus struct {
	// Host is the external host name.
	Host string `json:"host"`
	// ServiceEntry is the namespace/name of the ServiceEntry declaring it.
	ServiceEntry string `json:"serviceEntry"`
	// Ports of the host.
	// +optional
	Ports []DestinationPortStatus `json:"ports,omitempty"`
	// Waypoint is the namespace/name of the waypoint the ServiceEntry is bound
	// to; empty when its traffic bypasses every waypoint.
	// +optional
	Waypoint string `json:"waypoint,omitempty"`
	// BoundToThisGateway is true when Waypoint is this EgressGateway's.
	BoundToThisGateway bool `json:"boundToThisGateway"`
	// Policies are the namespace/name of the AuthorizationPolicies the
	// waypoint enforces for this host, in evaluation order.
	// +optional
	Policies []string `json:"policies,omitempty"`
	// IstioWaypointBound is istiod's own word on the binding: the
	// ServiceEntry's istio.io/WaypointBound condition, when istiod writes
	// it. It should agree with Waypoint; when it does not, trust istiod and
	// report the difference as a simulator bug.
	// +optional
	IstioWaypointBound *IstioCondition `json:"istioWaypointBound,omitempty"`
}

// IstioCondition is a condition istiod wrote on one of its objects.
type IstioCondition struct {
	// Status is True, False or Unknown.
	Status metav1.ConditionStatus `json:"status"`
	// Reason is istiod's reason.
	// +optional
	Reason string `json:"reason,omitempty"`
	// Message is istiod's message.
	// +optional
	Message string `json:"message,omitempty"`
}

// ProbeResult is the answer to one probe request.
type ProbeResult struct {
	// Name describes the request and its caller.
	Name string `json:"name"`
	// Verdict is ALLOW or DENY; empty when the probe could not be asked.
	// +optional
	Verdict string `json:"verdict,omitempty"`
	// Policy is the namespace/name of the deciding policy; empty when a
	// default decided.
	// +optional
	Policy string `json:"policy,omitempty"`
	// Rule is the index of the deciding rule, -1 for none.
	Rule int32 `json:"rule"`
	// Reason explains the verdict.
	// +optional
	Reason string `json:"reason,omitempty"`
	// Error says why the probe could not be asked.
	// +optional
	Error string `json:"error,omitempty"`
}

// DestinationPortStatus is one port of a destination.
type DestinationPortStatus struct {
	// Number is the port workloads connect to.
	Number int32 `json:"number"`
	// Protocol of the port.
	Protocol string `json:"protocol"`
	// TargetPort is where the traffic really goes, when it differs.
	// +optional
	TargetPort int32 `json:"targetPort,omitempty"`
	// TLSOrigination is the DestinationRule TLS mode (SIMPLE, MUTUAL) when
	// the waypoint originates TLS on this port.
	// +optional
	TLSOrigination string `json:"tlsOrigination,omitempty"`
}

// SimulationStatus is the summary of the last simulation. The full report
// lives in ReportConfigMap when it does not fit here.
type SimulationStatus struct {
	// InputsDigest identifies the inputs the report was computed from; the
	// operator simulates again only when it changes.
	// +optional
	InputsDigest string `json:"inputsDigest,omitempty"`
	// LastRunTime is when the report was computed.
	// +optional
	LastRunTime *metav1.Time `json:"lastRunTime,omitempty"`
	// Duration the simulation took.
	// +optional
	Duration *metav1.Duration `json:"duration,omitempty"`
	// Summary counts sources, destinations, access and findings.
	Summary SimulationSummary `json:"summary"`
	// Reachability lists, per destination, which sources may send which
	// requests.
	// +optional
	Reachability []ReachabilityEntry `json:"reachability,omitempty"`
	// Groups names sets of sources with identical access everywhere.
	// +optional
	Groups []SourceGroup `json:"groups,omitempty"`
	// Direct is what the sources reach without any waypoint: every host no
	// ServiceEntry declares ("*"), and ServiceEntries bound to no waypoint,
	// as the NetworkPolicies and the lockdown allow.
	// +optional
	Direct []DirectEgressEntry `json:"direct,omitempty"`
	// Findings are configuration problems the simulation found.
	// +optional
	Findings []Finding `json:"findings,omitempty"`
	// Probes are the answers to spec.simulation.probes, one per probe, or
	// one per source group for a probe without a caller.
	// +optional
	Probes []ProbeResult `json:"probes,omitempty"`
	// ReportConfigMap names the ConfigMap in this namespace with the full
	// JSON report, set when the status holds only part of it.
	// +optional
	ReportConfigMap string `json:"reportConfigMap,omitempty"`
	// Truncated says what was left out of this status, if anything.
	// +optional
	Truncated string `json:"truncated,omitempty"`
}

// SimulationSummary counts what the report covers.
type SimulationSummary struct {
	// Sources is the number of candidate source service accounts.
	Sources int32 `json:"sources"`
	// Groups is the number of source groups with identical access.
	Groups int32 `json:"groups"`
	// Destinations is the number of host:port destinations.
	Destinations int32 `json:"destinations"`
	// Policies is the number of AuthorizationPolicies considered.
	Policies int32 `json:"policies"`
	// Pairs counts source group × destination pairs by access.
	Pairs AccessCounts `json:"pairs"`
	// Reachable is the number of pairs with any allowed request.
	Reachable int32 `json:"reachable"`
	// InexactDestinations counts the destinations on which the simulation
	// budget ran out (their entries are inexact; see ReportTooComplex).
	// +optional
	InexactDestinations int32 `json:"inexactDestinations,omitempty"`
	// Findings counts findings by severity.
	Findings FindingCounts `json:"findings"`
	// DirectEgress counts the sources (namespaces, or service accounts
	// where the inputs' Pods tell them apart) that reach any host outside
	// the mesh directly, bypassing every waypoint: no NetworkPolicy, or a
	// lockdown that is off or defeated.
	// +optional
	DirectEgress int32 `json:"directEgress"`
}

// AccessCounts counts reachability pairs by how much they allow.
type AccessCounts struct {
	// All is the number of pairs where every request is allowed.
	All int32 `json:"all"`
	// Partial is the number of pairs where some requests are allowed.
	Partial int32 `json:"partial"`
	// None is the number of pairs where nothing is allowed.
	None int32 `json:"none"`
}

// FindingCounts counts findings by severity.
type FindingCounts struct {
	// Total is the number of findings.
	Total int32 `json:"total"`
	// Errors is the number of error findings.
	Errors int32 `json:"errors"`
	// Warnings is the number of warning findings.
	Warnings int32 `json:"warnings"`
	// Info is the number of informational findings.
	Info int32 `json:"info"`
}

// Access is how much of a destination a source may use.
// +kubebuilder:validation:Enum=all;partial;none;unknown
type Access string

const (
	// AccessAll means every request is allowed.
	AccessAll Access = "all"
	// AccessPartial means some requests are allowed, as listed.
	AccessPartial Access = "partial"
	// AccessNone means every request is denied.
	AccessNone Access = "none"
	// AccessUnknown means the simulation budget ran out on the
	// destination: see ReachabilityEntry.Inexact.
	AccessUnknown Access = "unknown"
)

// DirectEgressEntry is what a set of sources reaches without any waypoint.
// It has the JSON shape of a "direct" entry of "egressctl simulate -o json".
type DirectEgressEntry struct {
	// Destination is "*" for any host no ServiceEntry declares, or
	// "host:port" of a ServiceEntry bound to no waypoint.
	Destination string `json:"destination"`
	// Sources are "namespace/*" (every account of the namespace) or
	// "namespace/account".
	Sources []string `json:"sources"`
	// Access is direct (everything), partial, blocked, or depends (pod
	// labels the operator does not read decide).
	// +kubebuilder:validation:Enum=direct;partial;blocked;depends
	Access string `json:"access"`
	// Allowed are the openings left: range, ports and the rule.
	// +optional
	Allowed []string `json:"allowed,omitempty"`
	// BlockedBy are the NetworkPolicies that select the sources for egress.
	// +optional
	BlockedBy []string `json:"blockedBy,omitempty"`
	// Reason says why, in one sentence.
	Reason string `json:"reason"`
}

// ReachabilityEntry is what a set of sources may send to one destination. It
// has the JSON shape of an entry of "egressctl simulate -o json", except that
// empty lists are left out.
type ReachabilityEntry struct {
	// Destination is "host:port".
	Destination string `json:"destination"`
	// Sources are the principals this entry covers; empty when OtherSources.
	// +optional
	Sources []string `json:"sources,omitempty"`
	// OtherSources is true when the entry covers every source that no other
	// entry of the destination lists, including identities not in the inputs.
	// +optional
	OtherSources bool `json:"otherSources,omitempty"`
	// Access is all, partial or none.
	Access Access `json:"access"`
	// Allowed lists the allowed requests as cubes, in the order the waypoint
	// tries the rules: the first cube containing a request names the policy
	// and rule that allow it.
	// +optional
	Allowed []Cube `json:"allowed,omitempty"`
	// Denied lists the requests DENY rules take away, each with its rule.
	// +optional
	Denied []Cube `json:"denied,omitempty"`
	// DecidedBy names the policy rules, or defaults, that decide the entry's
	// requests.
	// +optional
	DecidedBy []Decider `json:"decidedBy,omitempty"`
	// Inexact is true when the simulation budget ran out on the
	// destination: every allowed request is in an Allowed cube and in no
	// Denied cube, but Allowed may list more than is allowed, and Access is
	// unknown. A ReportTooComplex finding names the policies.
	// +optional
	Inexact bool `json:"inexact,omitempty"`
}

// Decider is one policy rule, or default behavior, that decides requests.
type Decider struct {
	// Effect is allow or deny.
	Effect string `json:"effect"`
	// Policy is the namespace/name of the policy; empty for a default.
	// +optional
	Policy string `json:"policy,omitempty"`
	// Rule is the index of the rule in the policy, -1 when no rule decided
	// (a default, or no ALLOW rule matched).
	Rule int32 `json:"rule"`
	// Reason says why, in one sentence.
	Reason string `json:"reason"`
}

// Cube is a set of requests, named with Istio's own vocabulary. A key that is
// absent matches anything.
type Cube struct {
	// Methods the requests use.
	// +optional
	Methods []string `json:"methods,omitempty"`
	// NotMethods the requests do not use.
	// +optional
	NotMethods []string `json:"notMethods,omitempty"`
	// Paths the requests use.
	// +optional
	Paths []string `json:"paths,omitempty"`
	// NotPaths the requests do not use.
	// +optional
	NotPaths []string `json:"notPaths,omitempty"`
	// Hosts the requests are sent to.
	// +optional
	Hosts []string `json:"hosts,omitempty"`
	// NotHosts the requests are not sent to.
	// +optional
	NotHosts []string `json:"notHosts,omitempty"`
	// Ports the requests use.
	// +optional
	Ports []string `json:"ports,omitempty"`
	// NotPorts the requests do not use.
	// +optional
	NotPorts []string `json:"notPorts,omitempty"`
	// Principals are the source identities the cube is limited to.
	// +optional
	Principals []string `json:"principals,omitempty"`
	// NotPrincipals are the source identities the cube excludes.
	// +optional
	NotPrincipals []string `json:"notPrincipals,omitempty"`
	// Namespaces are the source namespaces the cube is limited to.
	// +optional
	Namespaces []string `json:"namespaces,omitempty"`
	// NotNamespaces are the source namespaces the cube excludes.
	// +optional
	NotNamespaces []string `json:"notNamespaces,omitempty"`
	// RequestPrincipals (validated JWT issuer/subject) required.
	// +optional
	RequestPrincipals []string `json:"requestPrincipals,omitempty"`
	// NotRequestPrincipals (validated JWT issuer/subject) excluded.
	// +optional
	NotRequestPrincipals []string `json:"notRequestPrincipals,omitempty"`
	// IPBlocks are the peer addresses required.
	// +optional
	IPBlocks []string `json:"ipBlocks,omitempty"`
	// NotIPBlocks are the peer addresses excluded.
	// +optional
	NotIPBlocks []string `json:"notIpBlocks,omitempty"`
	// RemoteIPBlocks are the original client addresses required.
	// +optional
	RemoteIPBlocks []string `json:"remoteIpBlocks,omitempty"`
	// NotRemoteIPBlocks are the original client addresses excluded.
	// +optional
	NotRemoteIPBlocks []string `json:"notRemoteIpBlocks,omitempty"`
	// Headers constrain request headers, by lower-case header name.
	// +optional
	Headers map[string]HeaderValues `json:"headers,omitempty"`
	// When lists conditions on attributes that have no field of their own.
	// +optional
	When []CubeCondition `json:"when,omitempty"`
	// And lists further cubes that must all hold, when one attribute's
	// constraints cannot be said in a single field.
	// +kubebuilder:validation:Schemaless
	// +kubebuilder:pruning:PreserveUnknownFields
	// +optional
	And []apiextensionsv1.JSON `json:"and,omitempty"`
	// Policy is the namespace/name of the policy whose rule makes this cube;
	// empty when no policy is involved.
	// +optional
	Policy string `json:"policy,omitempty"`
	// Rule is the index of the rule in that policy, -1 without a rule.
	Rule int32 `json:"rule"`
}

// HeaderValues is one header's constraint in a cube.
type HeaderValues struct {
	// Values the header may have.
	// +optional
	Values []string `json:"values,omitempty"`
	// NotValues the header may not have.
	// +optional
	NotValues []string `json:"notValues,omitempty"`
}

// CubeCondition is a constraint on an attribute, in the vocabulary of an
// AuthorizationPolicy "when" condition.
type CubeCondition struct {
	// Key is the Istio condition key, such as request.auth.claims[iss].
	Key string `json:"key"`
	// Values the attribute may have.
	// +optional
	Values []string `json:"values,omitempty"`
	// NotValues the attribute may not have.
	// +optional
	NotValues []string `json:"notValues,omitempty"`
}

// SourceGroup is a named set of sources with identical access everywhere.
type SourceGroup struct {
	// Name of the group, used by reachability entries.
	Name string `json:"name"`
	// Principals in the group; the status may cut the list short (Count is
	// exact and the report ConfigMap has them all).
	// +optional
	Principals []string `json:"principals,omitempty"`
	// Count is the number of principals in the group.
	Count int32 `json:"count"`
}

// Severity ranks a finding.
// +kubebuilder:validation:Enum=error;warning;info
type Severity string

const (
	// SeverityError means the configuration does not do what it says.
	SeverityError Severity = "error"
	// SeverityWarning means the configuration is likely a mistake.
	SeverityWarning Severity = "warning"
	// SeverityInfo is worth knowing but not wrong.
	SeverityInfo Severity = "info"
)

// Finding is one configuration problem, with how to fix it.
type Finding struct {
	// Severity of the finding.
	Severity Severity `json:"severity"`
	// Code is a stable identifier documented in docs/report.md.
	Code string `json:"code"`
	// Object is the Kind namespace/name the finding is about.
	Object string `json:"object"`
	// Message says what is wrong.
	Message string `json:"message"`
	// Field is the path of the offending field, when known.
	// +optional
	Field string `json:"field,omitempty"`
	// Fix says what to change.
	// +optional
	Fix string `json:"fix,omitempty"`
}

// EgressGateway runs an Istio ambient egress waypoint and reports who can
// reach which external host, method and path through it.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=egw,categories=istio-io
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Waypoint",type=string,JSONPath=`.status.waypoint.gatewayName`
// +kubebuilder:printcolumn:name="Replicas",type=integer,JSONPath=`.status.waypoint.readyReplicas`,description="Ready waypoint pods"
// +kubebuilder:printcolumn:name="Destinations",type=integer,JSONPath=`.status.simulation.summary.destinations`
// +kubebuilder:printcolumn:name="Reachable",type=integer,JSONPath=`.status.simulation.summary.reachable`,description="Source group × destination pairs with any allowed request"
// +kubebuilder:printcolumn:name="Direct",type=integer,JSONPath=`.status.simulation.summary.directEgress`,description="Sources that reach hosts outside the mesh directly, bypassing the waypoint"
// +kubebuilder:printcolumn:name="Findings",type=integer,JSONPath=`.status.simulation.summary.findings.total`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type EgressGateway struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Spec is the desired egress gateway.
	// +kubebuilder:default={}
	// +optional
	Spec EgressGatewaySpec `json:"spec,omitempty"`
	// Status is what the operator observed.
	// +optional
	Status EgressGatewayStatus `json:"status,omitempty"`
}

// EnrollsNamespace reports whether the namespace itself is enrolled; an
// unset field means true, as the API server defaults it.
func (s *EgressGatewaySpec) EnrollsNamespace() bool {
	return s.EnrollNamespace == nil || *s.EnrollNamespace
}

// EgressGatewayList is a list of EgressGateways.
//
// +kubebuilder:object:root=true
type EgressGatewayList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	// Items are the EgressGateways.
	Items []EgressGateway `json:"items"`
}
