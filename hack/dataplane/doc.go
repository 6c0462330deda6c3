// Package dataplane holds `make dataplane` (hack/dataplane.sh): a test,
// behind the dataplane build tag, that checks the simulator's NetworkPolicy
// verdicts and the operator's lockdown policy against a real data plane.
//
// kube-router's network policy controller (iptables + ipset), a test-only
// program built from the Go module proxy, enforces the NetworkPolicies of a
// real etcd + kube-apiserver on "pods" that are Linux network namespaces
// joined to a "node" namespace by routed veths. For each configuration —
// no policy, the lockdown policy lockdown.Policy writes, the lockdown with
// an allowed CIDR, the lockdown next to a user's policy that defeats it —
// the test opens real connections from a source pod and compares each
// verdict with simulator/netpol's, and the report of `egressctl simulate`
// with what the connections did. Everything happens inside the test's own
// network namespaces: the machine's own network is never touched.
package dataplane
