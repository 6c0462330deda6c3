// Command reachgen writes a generated configuration for the reachability
// report: the full size (10,000 service accounts in 500 namespaces,
// 1,000 ServiceEntries, 2,000 policies) divided by -div. For example:
//
//	go run ./hack/reachgen -div 1 > /tmp/scale.yaml
//	egressctl simulate -f /tmp/scale.yaml -o json > /tmp/report.json
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/ambient-egress/ambient-egress-operator/simulator/reach/scalegen"
)

func main() {
	div := flag.Int("div", 1, "divide the full size by this factor (1, 10, 100)")
	seed := flag.Uint64("seed", 1, "random seed of the policies")
	flag.Parse()
	if *div < 1 || *div > 500 {
		fmt.Fprintln(os.Stderr, "reachgen: -div must be between 1 and 500")
		os.Exit(2)
	}
	cfg := scalegen.Scale(*div)
	cfg.Seed = *seed
	if _, err := os.Stdout.WriteString(scalegen.Generate(cfg)); err != nil {
		fmt.Fprintln(os.Stderr, "reachgen:", err)
		os.Exit(1)
	}
}
