package reach

// Access summarizes an entry's allowed request space.
type Access string

// Access values: every request, some requests, or none.
const (
	AccessAll     Access = "all"
	AccessPartial Access = "partial"
	AccessNone    Access = "none"
	// AccessUnknown is an inexact entry's: the budget ran out before the
	// DENY rules were all subtracted (see Entry.Inexact).
	AccessUnknown Access = "unknown"
)

// Report is the reachability report; its JSON form is the machine contract
// of egressctl simulate and of the ConfigMap the operator writes. Every list
// is sorted, so the encoding is byte-for-byte stable.
type Report struct {
	// Destinations are the egress destinations, by host and port.
	Destinations []Destination `json:"destinations"`
	// Reachability has one entry per destination and group of sources with
	// identical access.
	Reachability []Entry `json:"reachability"`
	// Direct is what the sources reach without any waypoint: every host
	// no ServiceEntry declares, and ServiceEntries bound to no waypoint,
	// as the NetworkPolicies (and the lockdown) allow.
	Direct []DirectEntry `json:"direct"`
	// Groups are the sources whose access is identical across every
	// destination, for people reading the table.
	Groups []Group `json:"groups"`
	// Findings are problems and notes about the configuration.
	Findings []Finding `json:"findings"`
	// Probes are the answered probe requests, when probes were given.
	Probes []ProbeResult `json:"probes,omitempty"`
}

// Ref names a namespaced object, such as a ServiceAccount.
type Ref struct {
	// Namespace and Name identify the object.
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
}

// TLSOrigination says the waypoint upgrades plain HTTP to TLS on the way out.
type TLSOrigination struct {
	// Mode is the DestinationRule tls.mode (SIMPLE or MUTUAL).
	Mode string `json:"mode"`
	// Port is the upstream port the TLS connection goes to: the
	// ServiceEntry port's targetPort, else its number.
	Port int `json:"port"`
	// DestinationRule is "namespace/name" of the rule that asks for it.
	DestinationRule string `json:"destinationRule"`
}

// Destination is one ServiceEntry host and port.
type Destination struct {
	// Host and Port are the address callers use.
	Host string `json:"host"`
	Port int    `json:"port"`
	// Protocol is the port's declared protocol, "" when unset (sniffed; the
	// report then covers HTTP requests).
	Protocol string `json:"protocol"`
	// TargetPort is the ServiceEntry port's targetPort, 0 when unset.
	TargetPort int `json:"targetPort,omitempty"`
	// ServiceEntry is "namespace/name" of the ServiceEntry declaring the
	// destination.
	ServiceEntry string `json:"serviceEntry"`
	// Waypoint is "namespace/name" of the waypoint that enforces policy,
	// or nil when the traffic bypasses every waypoint.
	Waypoint *string `json:"waypoint"`
	// Binding explains why the destination is bound or not.
	Binding string `json:"binding"`
	// TLSOrigination is set when a DestinationRule originates TLS.
	TLSOrigination *TLSOrigination `json:"tlsOrigination"`
	// Policies are the policies the waypoint enforces for this destination,
	// "namespace/name", in evaluation order.
	Policies []string `json:"policies"`
}

// Key is "host:port", the name entries use for the destination.
func (d Destination) Key() string { return hostPort(d.Host, d.Port) }

// Entry is the access one set of sources has to one destination.
type Entry struct {
	// Destination is "host:port".
	Destination string `json:"destination"`
	// Sources are the principals the entry covers; empty when OtherSources.
	// In Go it is always the full list. In JSON, a large list is written
	// compactly (see Report.MarshalJSON): it may hold Istio-style principal
	// patterns, with NotSources as exceptions.
	Sources []string `json:"sources,omitempty"`
	// NotSources are the exceptions to the patterns of Sources in a
	// compact JSON entry; empty in Go, where Sources is expanded.
	NotSources []string `json:"notSources,omitempty"`
	// OtherSources marks the entry for every source no other entry of the
	// destination lists, including identities not in the inputs.
	OtherSources bool `json:"otherSources,omitempty"`
	// Access summarizes Allowed.
	Access Access `json:"access"`
	// Allowed lists the allowed request space as cubes, in the order the
	// enforcement point tries the rules: the first cube containing a request
	// names the policy and rule that allow it.
	Allowed []Cube `json:"allowed"`
	// Denied lists the space DENY rules take away, each with its rule.
	Denied []Cube `json:"denied,omitempty"`
	// DecidedBy names what decides the entry's requests.
	DecidedBy []Decider `json:"decidedBy"`
	// Inexact is set when the simulation budget ran out on the entry's
	// destination. The entry is still sound: every allowed request is in
	// an Allowed cube and in no Denied cube, but not every such request is
	// allowed (Allowed over-approximates; Access is unknown unless none).
	// A ReportTooComplex finding names the policies.
	Inexact bool `json:"inexact,omitempty"`
}

// Decider is one policy rule, or default behavior, that decides requests.
type Decider struct {
	// Effect is "allow" or "deny".
	Effect string `json:"effect"`
	// Policy is "namespace/name", empty for a default.
	Policy string `json:"policy,omitempty"`
	// Rule is the rule index, -1 when no rule (a default, or no ALLOW rule
	// matched).
	Rule int `json:"rule"`
	// Reason says why, in one sentence.
	Reason string `json:"reason"`
}

// Group is a set of sources whose rows are identical across every
// destination.
type Group struct {
	// Name is a short label for the table.
	Name string `json:"name"`
	// Principals are the group's sources.
	Principals []string `json:"principals"`
	// Count is len(Principals).
	Count int `json:"count"`
}

// Severity ranks a finding.
type Severity string

// Finding severities.
const (
	SeverityError   Severity = "error"
	SeverityWarning Severity = "warning"
	SeverityInfo    Severity = "info"
)

// Finding is one problem or note about the configuration.
type Finding struct {
	// Severity ranks it; Code identifies the kind (documented in the
	// README).
	Severity Severity `json:"severity"`
	Code     string   `json:"code"`
	// Object is "Kind namespace/name"; Field is the offending field.
	Object string `json:"object"`
	Field  string `json:"field,omitempty"`
	// Message says what is wrong; Fix says what to change.
	Message string `json:"message"`
	Fix     string `json:"fix,omitempty"`
}

// ProbeResult is one answered probe.
type ProbeResult struct {
	// Name describes the request ("GET http://httpbin.org/get from ...").
	Name string `json:"name"`
	// Verdict, Policy and Rule are what the simulator decided.
	Verdict string `json:"verdict"`
	Policy  string `json:"policy"`
	Rule    int    `json:"rule"`
	// Reason explains the verdict.
	Reason string `json:"reason"`
	// Expected and ExpectedPolicy are the probe's expectations, if any.
	Expected       string `json:"expected,omitempty"`
	ExpectedPolicy string `json:"expectedPolicy,omitempty"`
	// Match is false when an expectation does not hold.
	Match bool `json:"match"`
	// Error is set when the probe could not be evaluated.
	Error string `json:"error,omitempty"`
}
