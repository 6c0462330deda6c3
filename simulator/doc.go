// Package simulator evaluates Istio authorization the way an ambient mesh
// enforces it, without a cluster: waypoint proxies (Envoy RBAC built by
// istiod) and ztunnel (istiod's L4 conversion plus ztunnel's own matcher).
//
// It is shaped like a compiler. Load or Parse turns the YAML a user would
// apply into a Snapshot; Compile turns a Snapshot into a Program once,
// returning the findings it made beside it; Program.Eval answers one request
// cheaply and explains itself only when asked.
//
// What the package knows of each request attribute (its condition key, the
// policy fields that set it, whether it is HTTP only, what ztunnel does with
// it, its validation and its compilation) is one row of the table in
// attributes.go; TestAttributeTable names any part a new row lacks.
//
// The package depends on Istio's API types and nothing that talks to a
// cluster, so the operator and the egressctl CLI share it.
package simulator
