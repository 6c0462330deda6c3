// Package crd embeds the CustomResourceDefinitions egressctl validates
// objects against, so that it refuses exactly what the API server refuses:
// ours, which controller-gen writes into bases/, and the CRDs of the Istio
// kinds the simulator reads, copied into istio/ by hack/istiocrds from the
// istio.io/api module at the pinned version.
package crd

import _ "embed"

// EgressGateway is bases/egress.ambient.io_egressgateways.yaml.
//
//go:embed bases/egress.ambient.io_egressgateways.yaml
var EgressGateway []byte

// Istio holds the AuthorizationPolicy, DestinationRule, RequestAuthentication
// and ServiceEntry CRDs, one YAML document each.
//
//go:embed istio/istio-crds.gen.yaml
var Istio []byte
