package simulator

import (
	"fmt"
	"slices"
	"strings"

	securityv1beta1 "istio.io/api/security/v1beta1"

	"github.com/ambient-egress/ambient-egress-operator/simulator/match"
)

// The request attributes an AuthorizationPolicy can test, each in one row
// of the attributes table below: what Istio calls it, the policy fields
// that set it, which side of the request it reads, whether istiod can
// generate it on a TCP chain, what ztunnel makes of it, how its values are
// validated and how it is compiled for Envoy and for ztunnel. Istio keeps
// its own keys the same way, one constant and one generator per key
// (pilot/pkg/security/authz/model/model.go and generator.go); a new or
// reshaped attribute in an Istio release is one row here, and
// TestAttributeTable names any part a row is missing.

// Condition keys, as a when condition names them
// (https://istio.io/latest/docs/reference/config/security/conditions/).
const (
	KeySourceIP             = "source.ip"
	KeyRemoteIP             = "remote.ip"
	KeySourceNamespace      = "source.namespace"
	KeySourcePrincipal      = "source.principal"
	KeySourceServiceAccount = "source.serviceAccount"
	KeySourceTrustDomain    = "source.trustDomain"
	KeyRequestPrincipal     = "request.auth.principal"
	KeyRequestAudiences     = "request.auth.audiences"
	KeyRequestPresenter     = "request.auth.presenter"
	KeyDestinationIP        = "destination.ip"
	KeyDestinationPort      = "destination.port"
	KeySNI                  = "connection.sni"
	// Families: the key is the prefix followed by a bracketed name.
	KeyRequestHeaders = "request.headers"
	KeyRequestClaims  = "request.auth.claims"
	KeyEnvoyFilters   = "experimental.envoy.filters."
)

// Keys for the operation fields, which have no condition key of their own
// in Istio's vocabulary; Atom.Key returns them.
const (
	AtomMethods = "methods"
	AtomPaths   = "paths"
	AtomHosts   = "hosts"
)

// side is the part of a request an attribute reads.
type side uint8

const (
	// sidePeer is the caller's mTLS identity (its SPIFFE principal).
	sidePeer side = iota + 1
	// sideSourceAddress is the caller's address.
	sideSourceAddress
	// sideDestination is where the connection goes: address and port.
	sideDestination
	// sideConnection is the TLS handshake (SNI).
	sideConnection
	// sideRequest is the HTTP request: authority, method, path, headers.
	sideRequest
	// sideJWT is the request's validated JWT.
	sideJWT
	// sideEnvoyMetadata is Envoy dynamic metadata set by other filters.
	sideEnvoyMetadata
)

// ztunnelUse is what istiod's ambient conversion does with a policy field
// (pilot/pkg/serviceregistry/ambient/authorization.go, handleRule).
type ztunnelUse uint8

const (
	// ztunnelHTTP: an HTTP attribute ztunnel cannot see; istiod leaves it
	// out and omits ALLOW rules that use it.
	ztunnelHTTP ztunnelUse = iota
	// ztunnelEnforced: converted and matched by ztunnel.
	ztunnelEnforced
	// ztunnelIgnored: dropped without a warning (trustDomains).
	ztunnelIgnored
)

// attribute is one row of the table.
type attribute struct {
	// key is the condition key, the AtomMethods/AtomPaths/AtomHosts key of
	// an operation field, or the prefix of a family.
	key string
	// family says key is a prefix that a bracketed name completes
	// (request.headers[x-tenant]).
	family bool
	// label names the attribute in a report's text ("source IP"); the key
	// when empty.
	label string
	// field and notField are the from.source or to.operation fields that
	// set it; empty for attributes only a when condition can set.
	field, notField string
	// source and operation read those fields from a policy.
	source    func(*securityv1beta1.Source) (values, notValues []string)
	operation func(*securityv1beta1.Operation) (values, notValues []string)
	// inReport says a report names the attribute by its fields rather
	// than as a when condition.
	inReport bool
	// whenKey says a when condition may use the key.
	whenKey bool
	side    side
	// httpOnly says istiod's generator refuses it on a TCP filter chain
	// (generator.go: "... is HTTP only").
	httpOnly bool
	// webhookL4 says the validating webhook counts the field as one a TCP
	// chain can see when it warns about HTTP-only DENY rules
	// (pkg/config/validation, tcpRulesInFrom and tcpRulesInTo).
	webhookL4 bool
	// ztunnelField is what istiod's ambient conversion does with the
	// field; ztunnelWhen says it converts the when key
	// (authorization.go, l4WhenAttributes).
	ztunnelField ztunnelUse
	ztunnelWhen  bool
	// check validates one value as istiod does (security.go,
	// ValidateAttribute, and the webhook's checks of source and operation
	// fields); count is the number of values in its list. Nil accepts any
	// non-empty value.
	check func(value string, count int) error
	// envoy compiles values for the waypoint's Envoy RBAC filter, as
	// istiod's generator for the key does.
	envoy func(m envoyMode, key string, values []string) (term, error)
	// ztunnel compiles values for ztunnel, keeping those that parse as
	// istiod does; nil when ztunnel does not enforce the attribute.
	ztunnel func(values []string, policyNS string) (term, bool)
	// example is a valid value, or for a family a full key, which the
	// table's test compiles.
	example string
}

// attributes is the table. The source fields come in the order of
// Istio's Source message and the operation fields in that of Operation:
// compiled rules list their conditions in this order.
var attributes = []attribute{
	{
		key: KeySourcePrincipal, field: "principals", notField: "notPrincipals", inReport: true, whenKey: true,
		source: func(s *securityv1beta1.Source) ([]string, []string) { return s.GetPrincipals(), s.GetNotPrincipals() },
		side:   sidePeer, webhookL4: true, ztunnelField: ztunnelEnforced, ztunnelWhen: true,
		envoy: func(m envoyMode, _ string, values []string) (term, error) {
			return principalTerm{ms: patterns(m.trust.replaceAliases(values), false)}, nil
		},
		ztunnel: func(values []string, _ string) (term, bool) {
			return principalTerm{ms: patterns(values, false)}, len(values) > 0
		},
		example: "cluster.local/ns/apps/sa/client",
	},
	{
		key: KeyRequestPrincipal, label: "request principal", field: "requestPrincipals", notField: "notRequestPrincipals",
		inReport: true, whenKey: true,
		source: func(s *securityv1beta1.Source) ([]string, []string) {
			return s.GetRequestPrincipals(), s.GetNotRequestPrincipals()
		},
		side: sideJWT, httpOnly: true, ztunnelField: ztunnelHTTP,
		envoy: func(_ envoyMode, _ string, values []string) (term, error) {
			return newRequestPrincipalTerm(values), nil
		},
		example: "https://issuer.example/subject",
	},
	{
		key: KeySourceNamespace, field: "namespaces", notField: "notNamespaces", inReport: true, whenKey: true,
		source: func(s *securityv1beta1.Source) ([]string, []string) { return s.GetNamespaces(), s.GetNotNamespaces() },
		side:   sidePeer, webhookL4: true, ztunnelField: ztunnelEnforced, ztunnelWhen: true,
		envoy: func(_ envoyMode, _ string, values []string) (term, error) { return namespaceRegexTerm(values) },
		ztunnel: func(values []string, _ string) (term, bool) {
			return namespaceTerm{ms: patterns(values, false)}, len(values) > 0
		},
		example: "apps",
	},
	{
		key: KeySourceServiceAccount, field: "serviceAccounts", notField: "notServiceAccounts", whenKey: true,
		source: func(s *securityv1beta1.Source) ([]string, []string) {
			return s.GetServiceAccounts(), s.GetNotServiceAccounts()
		},
		side: sidePeer, webhookL4: true, ztunnelField: ztunnelEnforced,
		check: validateServiceAccount,
		envoy: func(m envoyMode, _ string, values []string) (term, error) {
			return serviceAccountRegexTerm(m.policyNamespace, values)
		},
		ztunnel: serviceAccountsTerm,
		example: "apps/client",
	},
	{
		key: KeySourceTrustDomain, field: "trustDomains", notField: "notTrustDomains", whenKey: true,
		source: func(s *securityv1beta1.Source) ([]string, []string) {
			return s.GetTrustDomains(), s.GetNotTrustDomains()
		},
		side: sidePeer, ztunnelField: ztunnelIgnored,
		check: func(v string, _ int) error { return validateTrustDomain(v) },
		envoy: func(m envoyMode, _ string, values []string) (term, error) {
			return trustDomainRegexTerm(m.trust.expand(values))
		},
		example: "cluster.local",
	},
	{
		key: KeySourceIP, label: "source IP", field: "ipBlocks", notField: "notIpBlocks", inReport: true, whenKey: true,
		source: func(s *securityv1beta1.Source) ([]string, []string) { return s.GetIpBlocks(), s.GetNotIpBlocks() },
		side:   sideSourceAddress, webhookL4: true, ztunnelField: ztunnelEnforced, ztunnelWhen: true,
		check:   func(v string, _ int) error { return validateIP(v) },
		envoy:   func(_ envoyMode, _ string, values []string) (term, error) { return newIPTerm(ipSource, values) },
		ztunnel: func(values []string, _ string) (term, bool) { return parsedIPTerm(ipSource, values) },
		example: "10.0.0.0/8",
	},
	{
		key: KeyRemoteIP, label: "remote IP", field: "remoteIpBlocks", notField: "notRemoteIpBlocks", inReport: true, whenKey: true,
		source: func(s *securityv1beta1.Source) ([]string, []string) {
			return s.GetRemoteIpBlocks(), s.GetNotRemoteIpBlocks()
		},
		side: sideSourceAddress, webhookL4: true, ztunnelField: ztunnelHTTP,
		check:   func(v string, _ int) error { return validateIP(v) },
		envoy:   func(_ envoyMode, _ string, values []string) (term, error) { return newIPTerm(ipRemote, values) },
		example: "192.0.2.1/32",
	},
	{
		key: AtomHosts, label: "host", field: "hosts", notField: "notHosts", inReport: true,
		operation: func(o *securityv1beta1.Operation) ([]string, []string) { return o.GetHosts(), o.GetNotHosts() },
		side:      sideRequest, httpOnly: true, ztunnelField: ztunnelHTTP,
		envoy: func(_ envoyMode, _ string, values []string) (term, error) {
			return headerTerm{name: ":authority", ms: patterns(values, true)}, nil
		},
		example: "api.example.com",
	},
	{
		key: KeyDestinationPort, field: "ports", notField: "notPorts", inReport: true, whenKey: true,
		operation: func(o *securityv1beta1.Operation) ([]string, []string) { return o.GetPorts(), o.GetNotPorts() },
		side:      sideDestination, webhookL4: true, ztunnelField: ztunnelEnforced, ztunnelWhen: true,
		check:   func(v string, _ int) error { _, err := parsePort(v); return err },
		envoy:   func(_ envoyMode, _ string, values []string) (term, error) { return newPortTerm(values) },
		ztunnel: func(values []string, _ string) (term, bool) { return parsedPortTerm(values) },
		example: "443",
	},
	{
		key: AtomMethods, label: "method", field: "methods", notField: "notMethods", inReport: true,
		operation: func(o *securityv1beta1.Operation) ([]string, []string) { return o.GetMethods(), o.GetNotMethods() },
		side:      sideRequest, httpOnly: true, ztunnelField: ztunnelHTTP,
		envoy: func(_ envoyMode, _ string, values []string) (term, error) {
			return headerTerm{name: ":method", ms: patterns(values, false)}, nil
		},
		example: "GET",
	},
	{
		key: AtomPaths, label: "path", field: "paths", notField: "notPaths", inReport: true,
		operation: func(o *securityv1beta1.Operation) ([]string, []string) { return o.GetPaths(), o.GetNotPaths() },
		side:      sideRequest, httpOnly: true, ztunnelField: ztunnelHTTP,
		check:   func(v string, _ int) error { return match.ValidateTemplate(v) },
		envoy:   func(_ envoyMode, _ string, values []string) (term, error) { return newPathTerm(values) },
		example: "/api/{*}/items",
	},
	{
		key: KeyDestinationIP, whenKey: true, side: sideDestination, ztunnelWhen: true,
		check:   func(v string, _ int) error { return validateIP(v) },
		envoy:   func(_ envoyMode, _ string, values []string) (term, error) { return newIPTerm(ipDest, values) },
		ztunnel: func(values []string, _ string) (term, bool) { return parsedIPTerm(ipDest, values) },
		example: "203.0.113.0/24",
	},
	{
		key: KeySNI, whenKey: true, side: sideConnection,
		envoy: func(_ envoyMode, _ string, values []string) (term, error) {
			return sniTerm{ms: patterns(values, false)}, nil
		},
		example: "api.example.com",
	},
	{
		key: KeyRequestAudiences, whenKey: true, side: sideJWT, httpOnly: true,
		envoy: func(_ envoyMode, key string, values []string) (term, error) {
			return claimTerm{label: key, path: []string{"aud"}, ms: patterns(values, false)}, nil
		},
		example: "egress",
	},
	{
		key: KeyRequestPresenter, whenKey: true, side: sideJWT, httpOnly: true,
		envoy: func(_ envoyMode, key string, values []string) (term, error) {
			return claimTerm{label: key, path: []string{"azp"}, ms: patterns(values, false)}, nil
		},
		example: "client-app",
	},
	{
		key: KeyRequestHeaders, family: true, whenKey: true, side: sideRequest, httpOnly: true,
		envoy: func(_ envoyMode, key string, values []string) (term, error) {
			name, err := match.ParseBracketed(strings.TrimPrefix(key, KeyRequestHeaders))
			if err != nil {
				return nil, err
			}
			return headerTerm{name: strings.ToLower(name), ms: patterns(values, false)}, nil
		},
		example: "request.headers[x-tenant]",
	},
	{
		key: KeyRequestClaims, family: true, whenKey: true, side: sideJWT, httpOnly: true,
		envoy: func(_ envoyMode, key string, values []string) (term, error) {
			path, err := match.ParseClaimPath(strings.TrimPrefix(key, KeyRequestClaims))
			if err != nil {
				return nil, err
			}
			return claimTerm{label: key, path: path, ms: patterns(values, false)}, nil
		},
		example: "request.auth.claims[groups]",
	},
	{
		// Dynamic metadata of other Envoy filters, which the simulator
		// cannot see: its term never matches.
		key: KeyEnvoyFilters, family: true, whenKey: true, side: sideEnvoyMetadata,
		envoy:   func(_ envoyMode, key string, _ []string) (term, error) { return unknownTerm{attr: key}, nil },
		example: "experimental.envoy.filters.network.mysql_proxy[db.table]",
	},
}

// retiredKeys are keys istiod refuses with a message of their own
// (security.go, ValidateAttribute), by key or, ending in "*", by prefix.
var retiredKeys = map[string]string{
	"destination.namespace": "attribute %s is replaced by the metadata.namespace",
	"destination.labels*":   "attribute %s is replaced by the workload selector",
	"destination.name":      "deprecated attribute %s: only supported in v1alpha1",
	"destination.user":      "deprecated attribute %s: only supported in v1alpha1",
}

// attributeFor returns the row of a key: the row of that exact key, else
// the family whose prefix it has (as istiod matches families by prefix).
func attributeFor(key string) (*attribute, bool) {
	for i := range attributes {
		if a := &attributes[i]; !a.family && a.key == key {
			return a, true
		}
	}
	for i := range attributes {
		if a := &attributes[i]; a.family && strings.HasPrefix(key, a.key) {
			return a, true
		}
	}
	return nil, false
}

// whenAttribute returns the row of a when condition's key.
func whenAttribute(key string) (*attribute, bool) {
	a, ok := attributeFor(key)
	if !ok || !a.whenKey {
		return nil, false
	}
	return a, true
}

// field is one source or operation field set in a policy, with its negative
// twin, under its row.
type field struct {
	name              string
	attr              *attribute
	values, notValues []string
}

// key is the condition key the field is equivalent to.
func (f field) key() string { return f.attr.key }

func sourceFields(s *securityv1beta1.Source) []field {
	var out []field
	for i := range attributes {
		if a := &attributes[i]; a.source != nil {
			if vals, nots := a.source(s); len(vals)+len(nots) > 0 {
				out = append(out, field{name: a.field, attr: a, values: vals, notValues: nots})
			}
		}
	}
	return out
}

func operationFields(o *securityv1beta1.Operation) []field {
	var out []field
	for i := range attributes {
		if a := &attributes[i]; a.operation != nil {
			if vals, nots := a.operation(o); len(vals)+len(nots) > 0 {
				out = append(out, field{name: a.field, attr: a, values: vals, notValues: nots})
			}
		}
	}
	return out
}

// validateAttribute checks a when condition's values as istiod's
// ValidateAttribute does (pkg/config/security/security.go).
func validateAttribute(key string, values []string) error {
	if slices.Contains(values, "") {
		return fmt.Errorf("empty value not allowed")
	}
	a, ok := whenAttribute(key)
	if !ok {
		for k, msg := range retiredKeys {
			if k == key || (strings.HasSuffix(k, "*") && strings.HasPrefix(key, strings.TrimSuffix(k, "*"))) {
				return fmt.Errorf(msg, key)
			}
		}
		return fmt.Errorf("unknown attribute: %s", key)
	}
	if a.family {
		return validateMapKey(key)
	}
	if a.check == nil {
		return nil
	}
	for _, v := range values {
		if err := a.check(v, len(values)); err != nil {
			return err
		}
	}
	return nil
}

// identityBound reports whether the attribute needs the caller's identity
// or its JWT, which a CUSTOM policy may not use (the webhook's check of
// CUSTOM rules).
func (a *attribute) identityBound() bool { return a.side == sidePeer || a.side == sideJWT }

// ReportField is an attribute a report names by its policy fields.
type ReportField struct {
	// Key is the attribute's key, as Atom.Key returns it.
	Key string
	// Field and NotField are the policy's field names ("ipBlocks",
	// "notIpBlocks").
	Field, NotField string
}

// ReportFields lists the attributes a report names by their policy fields;
// the others are when conditions.
func ReportFields() []ReportField {
	var out []ReportField
	for _, a := range attributes {
		if a.inReport {
			out = append(out, ReportField{Key: a.key, Field: a.field, NotField: a.notField})
		}
	}
	return out
}

// AttributeLabel names an attribute key for people ("source IP"); keys
// without a label of their own are their own name.
func AttributeLabel(key string) string {
	if a, ok := attributeFor(key); ok && !a.family && a.label != "" {
		return a.label
	}
	return key
}
