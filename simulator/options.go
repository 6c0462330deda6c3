package simulator

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
