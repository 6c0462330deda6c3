package reach_test

import (
	"fmt"

	"github.com/ambient-egress/ambient-egress-operator/simulator"
	"github.com/ambient-egress/ambient-egress-operator/simulator/reach"
)

// The seed scenario: the admin may call anything on httpbin.org:80, every
// other source only GET /get.
func ExampleBuild() {
	snap, _, err := simulator.Load("testdata/seed/input")
	if err != nil {
		panic(err)
	}
	accounts, err := reach.LoadServiceAccounts("testdata/seed/input")
	if err != nil {
		panic(err)
	}
	r, _ := reach.Build(reach.Input{Snapshot: snap, ServiceAccounts: accounts})
	for _, e := range r.Reachability {
		who := "other sources"
		if !e.OtherSources {
			who = fmt.Sprint(e.Sources)
		}
		fmt.Printf("%s %s: %s", e.Destination, who, e.Access)
		for _, c := range e.Allowed {
			fmt.Printf(" [%s by %s rule %d]", c.Text(), c.Policy, c.Rule)
		}
		fmt.Println()
	}
	// Output:
	// httpbin.org:80 other sources: partial [GET /get by istio-egress/httpbin rule 1]
	// httpbin.org:80 [cluster.local/ns/default/sa/admin]: all [any request by istio-egress/httpbin rule 0]
}
