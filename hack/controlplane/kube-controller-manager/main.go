// Command kube-controller-manager is the upstream controller manager, built
// from the k8s.io/kubernetes module for the end-to-end cluster (Deployments
// become ReplicaSets and Pods, garbage collection follows owner references).
package main

import (
	"os"

	"k8s.io/component-base/cli"
	_ "k8s.io/component-base/logs/json/register" // JSON log format, as upstream registers it
	"k8s.io/kubernetes/cmd/kube-controller-manager/app"
)

func main() {
	os.Exit(cli.Run(app.NewControllerManagerCommand()))
}
