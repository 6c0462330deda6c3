// Package crd embeds the EgressGateway CustomResourceDefinition that
// controller-gen writes into bases/, so that egressctl validates an
// EgressGateway with the very schema and CEL rules the API server applies.
package crd

import _ "embed"

// EgressGateway is bases/egress.ambient.io_egressgateways.yaml.
//
//go:embed bases/egress.ambient.io_egressgateways.yaml
var EgressGateway []byte
