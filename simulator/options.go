package simulator

import "slices"

// Options are the mesh settings a Program is compiled for. The zero value
// means Istio's defaults.
type Options struct {
	// RootNamespace is the mesh config root namespace; policies there apply
	// mesh-wide. Defaults to "istio-system".
	RootNamespace string
	// TrustDomain is the mesh trust domain. Defaults to "cluster.local".
	TrustDomain string
	// TrustDomainAliases are other trust domains treated as the local one.
	TrustDomainAliases []string
	// CustomProviderVerdict is what a matching CUSTOM policy's external
	// authorizer is assumed to answer. Defaults to Allow.
	CustomProviderVerdict Verdict
	// ExtensionProviders are the names of the mesh config's
	// extensionProviders, read only when ExtensionProvidersKnown. istiod
	// turns the rules of a CUSTOM policy naming any other provider into
	// DENY rules (pilot/pkg/security/authz/builder: getBadCustomDenyRules,
	// on HTTP and TCP filter chains alike). Without the mesh config every
	// provider is assumed to exist.
	ExtensionProviders      []string
	ExtensionProvidersKnown bool
}

// unknownProvider tells whether istiod has no extension provider of that
// name, as far as the options know.
func (o Options) unknownProvider(name string) bool {
	return o.ExtensionProvidersKnown && !slices.Contains(o.ExtensionProviders, name)
}

// Defaults used when an Options field is empty.
const (
	DefaultRootNamespace = "istio-system"
	DefaultTrustDomain   = "cluster.local"
)

func (o Options) withDefaults() Options {
	if o.RootNamespace == "" {
		o.RootNamespace = DefaultRootNamespace
	}
	if o.TrustDomain == "" {
		o.TrustDomain = DefaultTrustDomain
	}
	if o.CustomProviderVerdict == "" {
		o.CustomProviderVerdict = Allow
	}
	return o
}
