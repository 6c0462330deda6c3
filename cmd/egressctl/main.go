// Command egressctl gives the ambient-egress simulator to people and CI
// pipelines without a cluster: it reads the manifests a user would apply and
// answers whether a request would be allowed.
package main

import (
	"fmt"
	"os"
	"runtime/debug"
	"runtime/pprof"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

// gcPercent is the garbage collector's target for one run of egressctl,
// unless GOGC says otherwise. A run is a short batch job whose garbage is
// mostly the parsed manifests it drops after loading; with Go's default of
// 100 the collector runs many times over a large input for little memory
// back (at the full benchmark size, 10k accounts and 2k policies, 400
// takes about a fifth off the wall time for some 70 MB more peak memory).
const gcPercent = 400

func main() {
	if _, set := os.LookupEnv("GOGC"); !set {
		debug.SetGCPercent(gcPercent)
	}
	os.Exit(profiled(func() int { return run(os.Args[1:], os.Stdout, os.Stderr) }))
}

// profiled runs f with a CPU profile written to $EGRESSCTL_CPUPROFILE when
// it is set: how the decode, simulate and encode split was measured.
func profiled(f func() int) int {
	path := os.Getenv("EGRESSCTL_CPUPROFILE")
	if path == "" {
		return f()
	}
	out, err := os.Create(path)
	if err != nil {
		fmt.Fprintln(os.Stderr, "egressctl: EGRESSCTL_CPUPROFILE:", err)
		return f()
	}
	defer out.Close()
	if err := pprof.StartCPUProfile(out); err != nil {
		fmt.Fprintln(os.Stderr, "egressctl: EGRESSCTL_CPUPROFILE:", err)
		return f()
	}
	defer pprof.StopCPUProfile()
	return f()
}
