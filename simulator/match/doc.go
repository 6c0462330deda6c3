// Package match holds the value matchers the simulator compiles Istio
// authorization fields into: string patterns, IP blocks, request paths and
// path templates, and JWT claim paths.
//
// Every matcher is built once, when a policy is compiled, and evaluated many
// times without allocating, so that checking a request stays cheap however
// many policies were compiled.
package match
