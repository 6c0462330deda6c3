// Package netpoloracle holds only tests: a differential fuzz target that
// checks the simulator's NetworkPolicy / AdminNetworkPolicy egress evaluator
// (simulator/netpol) against an independent implementation, the evaluation
// code of sigs.k8s.io/kube-network-policies v0.8.0.
//
// kube-network-policies is a test-only dependency: nothing outside this
// package's _test.go files imports it, so it never reaches the operator or
// egressctl binaries. Run the fuzzer with
//
//	go test -run '^$' -fuzz FuzzEgressAgainstKubeNetworkPolicies -fuzztime 3m ./hack/netpoloracle/
//
// and the seeded corpus plus 2,000 random worlds with plain go test.
package netpoloracle
