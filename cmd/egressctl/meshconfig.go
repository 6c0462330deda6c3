package main

import (
	"os"

	"github.com/spf13/pflag"
	"sigs.k8s.io/yaml"

	"github.com/ambient-egress/ambient-egress-operator/simulator"
)

// meshConfigUsage documents --mesh-config for every command that takes it.
const meshConfigUsage = "Istio's mesh config: its ConfigMap (kubectl get cm istio -n istio-system -o yaml) or the MeshConfig YAML of its mesh key; " +
	"trustDomain, trustDomainAliases and rootNamespace are read from it as the operator reads them, and --trust-domain, --trust-domain-alias and --root-namespace override it"

// applyMeshConfig fills, from the mesh config file at path, the settings
// whose flags were not given: the operator reads the same ConfigMap with the
// same decoder, so a dump of the cluster with it gives the operator's report.
// A file that does not decode is bad input naming the file.
func applyMeshConfig(flags *pflag.FlagSet, path string, rootNS, trustDomain *string, aliases *[]string) error {
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
	changed := func(name string) bool { return flags != nil && flags.Changed(name) }
	if !changed("root-namespace") {
		*rootNS = opts.RootNamespace
	}
	if !changed("trust-domain") {
		*trustDomain = opts.TrustDomain
	}
	if !changed("trust-domain-alias") {
		*aliases = opts.TrustDomainAliases
	}
	return nil
}
