// Command standin stands in for the manager in hack/image's tests: a tiny
// program that cross-compiles in a moment with the manager's flags.
package main

import "os"

// version is set with -ldflags "-X main.version=...", as the manager's is.
var version = "dev"

func main() {
	_, _ = os.Stdout.WriteString("standin " + version + "\n")
}
