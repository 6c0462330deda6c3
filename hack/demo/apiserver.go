package main

import (
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
)

// stringsFlag collects a repeated flag.
type stringsFlag []string

func (s *stringsFlag) String() string { return fmt.Sprint(*s) }

func (s *stringsFlag) Set(v string) error { *s = append(*s, v); return nil }

// serveAPIServer is the plain control plane: etcd and kube-apiserver on
// 127.0.0.1 through controller-runtime's envtest, with the given CRDs
// installed. It writes an administrator kubeconfig once the CRDs are
// established, then runs until SIGTERM or SIGINT, when it stops both
// processes and removes their data.
func serveAPIServer(args []string) error {
	fs := flag.NewFlagSet("apiserver", flag.ContinueOnError)
	assets := fs.String("assets", "", "directory holding etcd and kube-apiserver")
	kubeconfig := fs.String("kubeconfig", "", "where to write the administrator kubeconfig")
	var crds stringsFlag
	fs.Var(&crds, "crd", "CRD file or directory to install (repeatable)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *assets == "" || *kubeconfig == "" {
		return fmt.Errorf("apiserver needs -assets and -kubeconfig")
	}
	// envtest's log goes to this process's log file (bin/demo/apiserver.log).
	ctrllog.SetLogger(zap.New(zap.WriteTo(os.Stderr)))
	// Listen before starting, so a signal during start-up is not lost.
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)

	scheme := runtime.NewScheme()
	utilruntime.Must(clientgoscheme.AddToScheme(scheme))
	utilruntime.Must(apiextensionsv1.AddToScheme(scheme))
	env := &envtest.Environment{
		BinaryAssetsDirectory: *assets,
		Scheme:                scheme,
		CRDInstallOptions: envtest.CRDInstallOptions{
			Paths:              crds,
			ErrorIfPathMissing: true,
			Scheme:             scheme,
		},
		ControlPlaneStartTimeout: time.Minute,
	}
	start := time.Now()
	cfg, err := env.Start()
	if err != nil {
		return fmt.Errorf("starting etcd and kube-apiserver from %s: %w", *assets, err)
	}
	defer func() {
		if err := env.Stop(); err != nil {
			fmt.Fprintf(os.Stderr, "stopping etcd and kube-apiserver: %v\n", err)
		}
	}()
	logf("etcd and kube-apiserver up on %s, %d CRDs established (%.1fs)", cfg.Host, len(env.CRDs), time.Since(start).Seconds())

	user, err := env.AddUser(envtest.User{Name: "demo-admin", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		return fmt.Errorf("adding the demo's administrator: %w", err)
	}
	data, err := user.KubeConfig()
	if err != nil {
		return err
	}
	// Write, then rename: the demo waits for the file to appear whole.
	tmp := *kubeconfig + ".tmp"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		return err
	}
	if err := os.Rename(tmp, *kubeconfig); err != nil {
		return err
	}
	sig := <-stop
	fmt.Fprintf(os.Stderr, "%s: stopping kube-apiserver and etcd\n", sig)
	return nil
}
