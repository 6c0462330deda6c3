// Command kubectl is the upstream kubectl, built from the k8s.io/kubernetes
// module so tests and `make demo` have a client whose version matches the API
// server, even on a machine without a kubectl package.
package main

import (
	"k8s.io/component-base/cli"
	"k8s.io/kubectl/pkg/cmd"
	"k8s.io/kubectl/pkg/cmd/util"
)

func main() {
	command := cmd.NewDefaultKubectlCommand()
	if err := cli.RunNoErrOutput(command); err != nil {
		util.CheckErr(err)
	}
}
