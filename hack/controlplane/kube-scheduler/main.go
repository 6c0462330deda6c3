// Command kube-scheduler is the upstream scheduler, built from the
// k8s.io/kubernetes module for the end-to-end cluster (Pods land on kwok's
// fake nodes).
package main

import (
	"os"

	"k8s.io/component-base/cli"
	_ "k8s.io/component-base/logs/json/register" // JSON log format, as upstream registers it
	"k8s.io/kubernetes/cmd/kube-scheduler/app"
)

func main() {
	os.Exit(cli.Run(app.NewSchedulerCommand()))
}
