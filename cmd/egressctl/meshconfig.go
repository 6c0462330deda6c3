package main

import (
	"os"
	"strings"

	"github.com/spf13/pflag"
	"sigs.k8s.io/yaml"

	"github.com/ambient-egress/ambient-egress-operator/simulator"
)

// meshConfigUsage documents --mesh-config for every command that takes it.
const meshConfigUsage = "Istio's mesh config: its ConfigMap (kubectl get cm istio -n istio-system -o yaml) or the MeshConfig YAML of its mesh key; " +
	"trustDomain, trustDomainAliases, rootNamespace and the names of extensionProviders are read from it as the operator reads them, " +
	"and --trust-domain, --trust-domain-alias, --root-namespace and --extension-provider override it"

// meshFlags are the mesh settings check, simulate and diff share.
type meshFlags struct {
	trustDomain string
	aliases     []string
	rootNS      string
	customVerd  string
	meshConfig  string
	providers   []string
	flags       *pflag.FlagSet
}

func (m *meshFlags) bind(f *pflag.FlagSet) {
	m.flags = f
	f.StringVar(&m.meshConfig, "mesh-config", "", meshConfigUsage)
	f.StringVar(&m.trustDomain, "trust-domain", simulator.DefaultTrustDomain, "mesh trust domain")
	f.StringArrayVar(&m.aliases, "trust-domain-alias", nil, "trust domain alias (repeatable)")
	f.StringVar(&m.rootNS, "root-namespace", simulator.DefaultRootNamespace, "mesh root namespace")
	f.StringVar(&m.customVerd, "custom-provider-verdict", "allow", "what a matching CUSTOM provider answers: allow or deny")
	f.StringArrayVar(&m.providers, "extension-provider", nil, "name of an extension provider the mesh config defines (repeatable); "+
		"with it or --mesh-config, a CUSTOM policy naming any other provider is enforced as DENY rules, as istiod does, "+
		"and without either every provider is assumed to exist")
}

// options are the simulator's options from the flags and the mesh config.
func (m *meshFlags) options() (simulator.Options, error) {
	switch strings.ToLower(m.customVerd) {
	case "allow", "deny":
	default:
		return simulator.Options{}, badInput("--custom-provider-verdict: %q is not allow or deny", m.customVerd)
	}
	if err := m.applyMeshConfig(); err != nil {
		return simulator.Options{}, err
	}
	return simulator.Options{RootNamespace: m.rootNS, TrustDomain: m.trustDomain, TrustDomainAliases: m.aliases,
		CustomProviderVerdict: simulator.Verdict(strings.ToUpper(m.customVerd)),
		ExtensionProviders:    m.providers, ExtensionProvidersKnown: m.meshConfig != "" || m.changed("extension-provider")}, nil
}

func (m *meshFlags) changed(name string) bool { return m.flags != nil && m.flags.Changed(name) }

// applyMeshConfig fills, from the mesh config file, the settings whose
// flags were not given: the operator reads the same ConfigMap with the
// same decoder, so a dump of the cluster with it gives the operator's
// report. A file that does not decode is bad input naming the file.
func (m *meshFlags) applyMeshConfig() error {
	path := m.meshConfig
	if path == "" {
		return nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return badInput("--mesh-config: %w", err)
	}
	mesh := string(data)
	var cm struct {
		Kind string            `json:"kind"`
		Data map[string]string `json:"data"`
	}
	if yaml.Unmarshal(data, &cm) == nil && cm.Kind == "ConfigMap" {
		var ok bool
		if mesh, ok = cm.Data[simulator.MeshConfigKey]; !ok {
			return badInput("--mesh-config: %s: the ConfigMap has no %q key", path, simulator.MeshConfigKey)
		}
	}
	opts, err := simulator.ParseMeshConfig(mesh)
	if err != nil {
		return badInput("--mesh-config: %s: %w", path, err)
	}
	if !m.changed("root-namespace") {
		m.rootNS = opts.RootNamespace
	}
	if !m.changed("trust-domain") {
		m.trustDomain = opts.TrustDomain
	}
	if !m.changed("trust-domain-alias") {
		m.aliases = opts.TrustDomainAliases
	}
	if !m.changed("extension-provider") {
		m.providers = opts.ExtensionProviders
	}
	return nil
}
