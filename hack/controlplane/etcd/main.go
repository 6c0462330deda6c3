// Command etcd is the upstream etcd server, built from the go.etcd.io/etcd
// server module for the same reason as kube-apiserver: no release downloads.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
