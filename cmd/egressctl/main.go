// Command egressctl gives the ambient-egress simulator to people and CI
// pipelines without a cluster: it reads the manifests a user would apply and
// answers whether a request would be allowed.
package main

import (
	"os"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}
