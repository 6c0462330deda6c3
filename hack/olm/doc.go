// Package olm is a build-only module: its go.mod pins Operator Lifecycle
// Manager's olm and catalog operators and operator-registry's opm as tools,
// so hack/olm.sh can build them from the Go module proxy at exact versions
// (the proxy serves those versions but not their version lists, so
// `go install ...@version` cannot resolve them). It is a module of its own
// because OLM's dependency graph must not move the operator's.
package olm
