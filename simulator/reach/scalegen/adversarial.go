package scalegen

import (
	"fmt"
	"math/rand/v2"
	"strings"
)

// AdversarialShapes are the policy shapes a hostile or careless tenant can
// write to make the symbolic report expensive: the shape of issue 12
// (ALLOW rules mixing notMethods, notPaths and one header), DENY rules
// interleaved with ALLOW rules (each DENY rule multiplies the cubes left),
// rules with many notPaths, rules over many header keys, and path templates
// that overlap one another.
var AdversarialShapes = []string{"issue12", "deny-interleaved", "many-notpaths", "many-headers", "overlapping-templates"}

// AdvMethods, AdvPaths, AdvHeaders and AdvValues are the literals the shapes draw from; random requests
// draw from the same values and their near misses, so they land on both
// sides of every condition.
var (
	AdvMethods = []string{"GET", "POST", "PATCH", "PUT", "DELETE", "HEAD"}
	AdvPaths   = []string{"/", "/p1/a", "/p2/b", "/p3", "/a/x1", "/b/x2", "/q1", "/q2", "/p1", "/x3", "/p12/z", "/api/v1/items", "/api/v2/items/x"}
	AdvHeaders = []string{"x-h0", "x-h1", "x-h2", "x-h3"}
	AdvValues  = []string{"v0", "v1", "v2", "v3"}
)

// AdversarialPolicies is n AuthorizationPolicies of five rules each in the
// given shape, in namespace ns, on the ServiceEntry named se; the same seed
// gives the same manifests.
func AdversarialPolicies(shape, ns, se string, n int, seed uint64) string {
	rng := rand.New(rand.NewPCG(seed, 12))
	var b strings.Builder
	for p := range n {
		action := "ALLOW"
		if shape == "deny-interleaved" && p%2 == 1 {
			action = "DENY"
		}
		fmt.Fprintf(&b, "---\napiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: adv-%d, namespace: %s}\n"+
			"spec:\n  targetRefs: [{kind: ServiceEntry, group: networking.istio.io, name: %s}]\n  action: %s\n  rules:\n", p, ns, se, action)
		for range 5 {
			b.WriteString(advRule(shape, rng))
		}
	}
	return b.String()
}

func advRule(shape string, rng *rand.Rand) string {
	two := func(list []string) string {
		i, j := rng.IntN(len(list)), rng.IntN(len(list))
		return list[i] + ", " + list[j]
	}
	k := func() int { return rng.IntN(4) }
	switch shape {
	case "issue12":
		return fmt.Sprintf("  - to: [{operation: {notMethods: [%s], notPaths: [\"/p%d/*\", \"*/x%d\", \"/q%d\"]}}]\n"+
			"    when: [{key: \"request.headers[x-h3]\", values: [\"v%d\"]}]\n", two(AdvMethods), k(), k(), k(), k())
	case "deny-interleaved":
		return fmt.Sprintf("  - to: [{operation: {methods: [%s], notPaths: [\"/p%d/*\", \"*/x%d\"]}}]\n"+
			"    when: [{key: \"request.headers[%s]\", notValues: [\"v%d\"]}]\n", two(AdvMethods), k(), k(), AdvHeaders[k()], k())
	case "many-notpaths":
		var ps []string
		for range 12 {
			ps = append(ps, fmt.Sprintf("\"/p%d/*\"", rng.IntN(20)), fmt.Sprintf("\"*/x%d\"", rng.IntN(20)))
		}
		return fmt.Sprintf("  - to: [{operation: {notPaths: [%s]}}]\n", strings.Join(ps, ", "))
	case "many-headers":
		var ws []string
		for _, h := range AdvHeaders {
			if rng.IntN(2) == 0 {
				ws = append(ws, fmt.Sprintf("{key: \"request.headers[%s]\", notValues: [\"v%d\"]}", h, k()))
			} else {
				ws = append(ws, fmt.Sprintf("{key: \"request.headers[%s]\", values: [\"v%d\", \"v%d\"]}", h, k(), k()))
			}
		}
		return fmt.Sprintf("  - to: [{operation: {notMethods: [%s]}}]\n    when: [%s]\n", two(AdvMethods), strings.Join(ws, ", "))
	case "overlapping-templates":
		return fmt.Sprintf("  - to: [{operation: {paths: [\"/api/{*}/items\", \"/api/v%d/{**}\"], notPaths: [\"/api/v%d/items/*\", \"*/x%d\"]}}]\n",
			k(), k(), k())
	}
	panic("unknown shape " + shape)
}
