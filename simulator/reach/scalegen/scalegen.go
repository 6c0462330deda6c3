// Package scalegen generates realistic large inputs for the reachability
// report: ambient namespaces full of service accounts, ServiceEntries bound
// to an egress waypoint, and policies mixing principals, namespaces,
// methods, path prefixes and templates, headers, DENY rules and dry-run.
// The benchmarks and property tests of package reach use it, and
// hack/reachgen writes its output for egressctl.
package scalegen

import (
	"fmt"
	"math/rand/v2"
	"strings"
)

// Config sizes a generated configuration.
type Config struct {
	// Namespaces is the number of ambient namespaces, each with
	// AccountsPerNS service accounts.
	Namespaces, AccountsPerNS int
	// ServiceEntries and Policies are the numbers of ServiceEntries and
	// AuthorizationPolicies.
	ServiceEntries, Policies int
	// Seed makes the policies reproducible.
	Seed uint64
	// Lockdown turns the EgressGateway's lockdown to Enforce (with two
	// allowCIDRs), and NetworkPolicies adds that many namespace owners'
	// egress NetworkPolicies, spread over the namespaces: ranges with
	// exceptions, ports and port ranges, pod selectors, and now and then
	// a broad opening that defeats the lockdown.
	Lockdown        bool
	NetworkPolicies int
}

// Scale returns the full size of the reachability issue divided by div:
// 10,000 service accounts in 500 namespaces, 1,000 ServiceEntries and
// 2,000 policies at div 1.
func Scale(div int) Config {
	return Config{Namespaces: 500 / div, AccountsPerNS: 20, ServiceEntries: 1000 / div, Policies: 2000 / div, Seed: 1}
}

// Generate builds a realistic configuration as the YAML a user
// would apply: ambient namespaces with service accounts, one EgressGateway
// enrolling istio-egress, ServiceEntries (HTTP, some with a TLS port), and
// policies mixing principals, namespaces, methods, path prefixes and
// templates, headers, DENY rules and dry-run.
func Generate(cfg Config) string {
	rng := rand.New(rand.NewPCG(cfg.Seed, 7))
	var b strings.Builder
	b.WriteString("apiVersion: v1\nkind: Namespace\nmetadata: {name: istio-egress}\n---\n")
	spec := "{enrollNamespace: true}"
	if cfg.Lockdown {
		spec = "{enrollNamespace: true, lockdown: {mode: Enforce, allowCIDRs: [{cidr: 192.0.2.0/24, reason: partner}, {cidr: '2001:db8::/32', reason: partner v6}]}}"
	}
	fmt.Fprintf(&b, "apiVersion: egress.ambient.io/v1alpha1\nkind: EgressGateway\nmetadata: {name: waypoint, namespace: istio-egress}\nspec: %s\n", spec)
	for n := 0; n < cfg.Namespaces; n++ {
		fmt.Fprintf(&b, "---\napiVersion: v1\nkind: Namespace\nmetadata: {name: ns-%d, labels: {istio.io/dataplane-mode: ambient}}\n", n)
		for a := 0; a < cfg.AccountsPerNS; a++ {
			fmt.Fprintf(&b, "---\napiVersion: v1\nkind: ServiceAccount\nmetadata: {name: sa-%d, namespace: ns-%d}\n", a, n)
		}
	}
	for i := 0; i < cfg.ServiceEntries; i++ {
		writeServiceEntry(&b, i)
	}
	for i := 0; i < cfg.Policies; i++ {
		writePolicy(&b, rng, cfg, i)
	}
	for i := 0; i < cfg.NetworkPolicies && cfg.Namespaces > 0; i++ {
		writeNetworkPolicy(&b, rng, i%cfg.Namespaces, i)
	}
	return b.String()
}

// writeNetworkPolicy writes one namespace owner's egress policy.
func writeNetworkPolicy(b *strings.Builder, rng *rand.Rand, ns, i int) {
	fmt.Fprintf(b, "---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: np-%d, namespace: ns-%d}\nspec:\n", i, ns)
	if rng.IntN(4) == 0 {
		b.WriteString("  podSelector: {matchLabels: {app: batch}}\n")
	} else {
		b.WriteString("  podSelector: {}\n")
	}
	b.WriteString("  policyTypes: [Egress]\n  egress:\n")
	for r := 0; r < 1+rng.IntN(4); r++ {
		switch rng.IntN(5) {
		case 0: // a partner range with a hole
			o := rng.IntN(256)
			fmt.Fprintf(b, "  - to: [{ipBlock: {cidr: 10.%d.0.0/16, except: [10.%d.%d.0/24]}}]\n", o, o, rng.IntN(256))
		case 1: // one SaaS address on HTTPS
			fmt.Fprintf(b, "  - to: [{ipBlock: {cidr: 203.0.%d.%d/32}}]\n    ports: [{protocol: TCP, port: 443}]\n", rng.IntN(256), rng.IntN(256))
		case 2: // a port range anywhere
			lo := 30000 + rng.IntN(1000)
			fmt.Fprintf(b, "  - ports: [{protocol: TCP, port: %d, endPort: %d}]\n", lo, lo+rng.IntN(100))
		case 3: // other pods
			b.WriteString("  - to: [{namespaceSelector: {matchLabels: {istio.io/dataplane-mode: ambient}}}]\n")
		default: // a broad opening that defeats a lockdown
			if rng.IntN(10) == 0 {
				b.WriteString("  - to: [{ipBlock: {cidr: 0.0.0.0/0, except: [10.0.0.0/8]}}]\n")
			} else {
				fmt.Fprintf(b, "  - to: [{ipBlock: {cidr: 198.51.%d.0/24}}]\n", rng.IntN(256))
			}
		}
	}
}

func writeServiceEntry(b *strings.Builder, i int) {
	ports := "[{number: 80, name: http, protocol: HTTP}]"
	if i%10 == 0 {
		ports = "[{number: 80, name: http, protocol: HTTP}, {number: 443, name: tls, protocol: TLS}]"
	}
	fmt.Fprintf(b, "---\napiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {name: svc-%d, namespace: istio-egress}\n"+
		"spec: {hosts: [svc-%d.example.com], ports: %s, resolution: DNS}\n", i, i, ports)
}

// writePolicy writes policy i, attached to ServiceEntry i modulo their
// number: even policies ALLOW, odd ones mostly DENY.
func writePolicy(b *strings.Builder, rng *rand.Rand, cfg Config, i int) {
	se := i % cfg.ServiceEntries
	action, annotations := "ALLOW", ""
	if i%2 == 1 {
		action = "DENY"
		if i%20 == 3 {
			annotations = ", annotations: {istio.io/dry-run: \"true\"}"
		}
	}
	fmt.Fprintf(b, "---\napiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: pol-%d, namespace: istio-egress%s}\n", i, annotations)
	fmt.Fprintf(b, "spec:\n  targetRefs: [{kind: ServiceEntry, group: networking.istio.io, name: svc-%d}]\n  action: %s\n  rules:\n", se, action)
	rules := 1 + rng.IntN(3)
	for range rules {
		b.WriteString("  - " + randomRule(rng, cfg, action == "DENY") + "\n")
	}
}

func randomRule(rng *rand.Rand, cfg Config, deny bool) string {
	var parts []string
	if from := randomSource(rng, cfg); from != "" {
		parts = append(parts, "from: [{source: {"+from+"}}]")
	}
	if to := randomOperation(rng, deny); to != "" {
		parts = append(parts, "to: [{operation: {"+to+"}}]")
	}
	if rng.IntN(6) == 0 {
		parts = append(parts, fmt.Sprintf(`when: [{key: "request.headers[x-tenant]", values: [t%d, t%d]}]`, rng.IntN(4), rng.IntN(4)))
	}
	if len(parts) == 0 {
		return "{}"
	}
	return "{" + strings.Join(parts, ", ") + "}"
}

func randomSource(rng *rand.Rand, cfg Config) string {
	ns := func() string { return fmt.Sprintf("ns-%d", rng.IntN(cfg.Namespaces)) }
	sa := func() string { return fmt.Sprintf("cluster.local/ns/%s/sa/sa-%d", ns(), rng.IntN(cfg.AccountsPerNS)) }
	switch rng.IntN(7) {
	case 0:
		return fmt.Sprintf("principals: [%s, %s]", sa(), sa())
	case 1:
		return fmt.Sprintf("namespaces: [%s, %s]", ns(), ns())
	case 2:
		return fmt.Sprintf(`principals: ["cluster.local/ns/%s/*"]`, ns())
	case 3:
		return fmt.Sprintf("notNamespaces: [%s]", ns())
	case 4:
		return fmt.Sprintf(`principals: ["*/sa/sa-%d"]`, rng.IntN(cfg.AccountsPerNS))
	case 5:
		return fmt.Sprintf("serviceAccounts: [%s/sa-%d]", ns(), rng.IntN(cfg.AccountsPerNS))
	}
	return ""
}

var (
	genMethods = []string{"GET", "POST", "PUT", "DELETE", "HEAD"}
	genPaths   = []string{"/api/*", "/v1/{*}/items", "/admin/*", "/get", "*.json", "/static/{**}", "/health"}
)

func randomOperation(rng *rand.Rand, deny bool) string {
	var parts []string
	switch rng.IntN(4) {
	case 0:
		parts = append(parts, fmt.Sprintf("methods: [%s, %s]", pick(rng, genMethods), pick(rng, genMethods)))
	case 1:
		parts = append(parts, fmt.Sprintf("notMethods: [%s]", pick(rng, genMethods)))
	case 2:
		parts = append(parts, "methods: [GET]")
	}
	switch rng.IntN(4) {
	case 0, 1:
		parts = append(parts, fmt.Sprintf(`paths: ["%s", "%s"]`, pick(rng, genPaths), pick(rng, genPaths)))
	case 2:
		parts = append(parts, fmt.Sprintf(`notPaths: ["%s"]`, pick(rng, genPaths)))
	}
	if deny && rng.IntN(4) == 0 {
		parts = append(parts, `ports: ["80"]`)
	}
	switch rng.IntN(12) {
	case 0:
		parts = append(parts, fmt.Sprintf(`hosts: ["svc-%d.example.com", "svc-%d.example.com:80"]`, rng.IntN(4), rng.IntN(4)))
	case 1:
		parts = append(parts, `notHosts: ["*.example.com:80"]`)
	case 2:
		parts = append(parts, `hosts: ["SVC-*"]`)
	}
	return strings.Join(parts, ", ")
}

func pick(rng *rand.Rand, list []string) string { return list[rng.IntN(len(list))] }
