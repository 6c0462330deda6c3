package simulator

import (
	"fmt"

	"google.golang.org/protobuf/encoding/protojson"
	meshv1alpha1 "istio.io/api/mesh/v1alpha1"
	"sigs.k8s.io/yaml"
)

// MeshConfigKey is the key of Istio's mesh config ConfigMap (istio, or
// istio-<revision>) that holds the MeshConfig YAML.
const MeshConfigKey = "mesh"

// MeshConfigMapName is the name of the ConfigMap istiod of revision reads its
// mesh config from: "istio" for no revision or "default", "istio-<revision>"
// otherwise (pilot/pkg/bootstrap/mesh.go, getMeshConfigMapName).
func MeshConfigMapName(revision string) string {
	if revision == "" || revision == "default" {
		return "istio"
	}
	return "istio-" + revision
}

// ParseMeshConfig reads the settings the simulation depends on from a
// MeshConfig YAML document, the "mesh" key of Istio's ConfigMap, and returns
// them over Istio's defaults. It decodes as istiod does (YAML to JSON to the
// MeshConfig message, unknown fields ignored), so a value istiod cannot
// decode is an error here too; istiod then ignores the whole document and
// keeps its defaults or its last good config (pkg/config/mesh/meshwatcher).
func ParseMeshConfig(data string) (Options, error) {
	// Istio's default mesh config defines no extension provider.
	out := Options{RootNamespace: DefaultRootNamespace, TrustDomain: DefaultTrustDomain, ExtensionProvidersKnown: true}
	js, err := yaml.YAMLToJSON([]byte(data))
	if err != nil {
		return out, fmt.Errorf("mesh config is not YAML: %w", err)
	}
	if string(js) == "null" {
		return out, nil // an empty document: every default
	}
	var mc meshv1alpha1.MeshConfig
	if err := (protojson.UnmarshalOptions{DiscardUnknown: true}).Unmarshal(js, &mc); err != nil {
		return out, fmt.Errorf("mesh config: %w", err)
	}
	// An empty value is the default, as in istiod's DefaultMeshConfig
	// merged with the document.
	if mc.GetRootNamespace() != "" {
		out.RootNamespace = mc.GetRootNamespace()
	}
	if mc.GetTrustDomain() != "" {
		out.TrustDomain = mc.GetTrustDomain()
	}
	out.TrustDomainAliases = mc.GetTrustDomainAliases()
	out.ExtensionProvidersKnown = true
	for _, p := range mc.GetExtensionProviders() {
		out.ExtensionProviders = append(out.ExtensionProviders, p.GetName())
	}
	return out, nil
}
