// Package testenv is the one envtest harness every controller and end-to-end
// test package shares: it starts a real kube-apiserver and etcd (built from
// their Go modules by hack/controlplane.sh), installs our CRD and the real
// upstream Istio and Gateway API CRDs, and offers small helpers to create
// namespaces and wait for conditions.
package testenv

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	istionetworkingv1 "istio.io/client-go/pkg/apis/networking/v1"
	istiosecurityv1 "istio.io/client-go/pkg/apis/security/v1"
	istiotelemetryv1 "istio.io/client-go/pkg/apis/telemetry/v1"

	egressv1alpha1 "github.com/ambient-egress/ambient-egress-operator/apis/egress/v1alpha1"
	"github.com/ambient-egress/ambient-egress-operator/hack/crds"
)

// modulePath identifies the repository root while walking up from a test's
// working directory.
const modulePath = "github.com/ambient-egress/ambient-egress-operator"

// Env is a running control plane with our CRDs installed.
type Env struct {
	// Config reaches the API server as a cluster administrator.
	Config *rest.Config
	// Client is a controller-runtime client over Config with Scheme.
	Client client.Client
	// Scheme knows core Kubernetes, our API, Istio and Gateway API types.
	Scheme *runtime.Scheme
	// CRDs are the CustomResourceDefinitions installed at start.
	CRDs []*apiextensionsv1.CustomResourceDefinition
	// Root is the repository root.
	Root string

	env        *envtest.Environment
	kubeconfig string
}

// NewScheme returns a scheme with every API group the operator and its tests
// use.
func NewScheme() *runtime.Scheme {
	s := runtime.NewScheme()
	utilruntime.Must(clientgoscheme.AddToScheme(s))
	utilruntime.Must(apiextensionsv1.AddToScheme(s))
	utilruntime.Must(egressv1alpha1.AddToScheme(s))
	utilruntime.Must(istionetworkingv1.AddToScheme(s))
	utilruntime.Must(istiosecurityv1.AddToScheme(s))
	utilruntime.Must(istiotelemetryv1.AddToScheme(s))
	utilruntime.Must(gatewayv1.Install(s))
	return s
}

// RunAndExit is a test package's whole TestMain: it starts the control plane
// once, stores it in *env, runs the tests, stops it and exits.
func RunAndExit(m *testing.M, env **Env) {
	os.Exit(run(m, env))
}

// run is RunAndExit without the exit, so deferred clean-up runs first.
func run(m *testing.M, env **Env) int {
	e, err := Start()
	if err != nil {
		fmt.Fprintf(os.Stderr, "testenv: %v\n", err)
		return 1
	}
	*env = e
	code := m.Run()
	if err := e.Stop(); err != nil {
		fmt.Fprintf(os.Stderr, "testenv: stopping control plane: %v\n", err)
		if code == 0 {
			code = 1
		}
	}
	return code
}

// Start builds the control plane if needed, starts it on 127.0.0.1 and
// installs the CRDs.
func Start() (*Env, error) {
	root, err := repoRoot()
	if err != nil {
		return nil, err
	}
	assets, err := controlPlaneAssets(root)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	crdPaths, err := crds.Paths(ctx, root)
	if err != nil {
		return nil, err
	}
	scheme := NewScheme()
	te := &envtest.Environment{
		BinaryAssetsDirectory: assets,
		Scheme:                scheme,
		CRDInstallOptions: envtest.CRDInstallOptions{
			Paths:              crdPaths,
			ErrorIfPathMissing: true,
			Scheme:             scheme,
		},
	}
	cfg, err := te.Start()
	if err != nil {
		// envtest leaves etcd and kube-apiserver running when a later step
		// (installing a CRD the API server refuses) fails: stop them, or
		// they outlive the test run.
		return nil, errors.Join(fmt.Errorf("starting kube-apiserver and etcd from %s: %w", assets, err), te.Stop())
	}
	e := &Env{Config: cfg, Scheme: scheme, CRDs: te.CRDs, Root: root, env: te}
	if e.Client, err = client.New(cfg, client.Options{Scheme: scheme}); err != nil {
		return nil, errors.Join(fmt.Errorf("creating client: %w", err), te.Stop())
	}
	return e, nil
}

// Stop stops the API server and etcd and removes their data.
func (e *Env) Stop() error {
	if e.kubeconfig != "" {
		_ = os.Remove(e.kubeconfig)
	}
	return e.env.Stop()
}

// repoRoot walks up from the working directory to the operator's go.mod.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		data, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && bytes.HasPrefix(data, []byte("module "+modulePath+"\n")) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod of " + modulePath + " above the working directory")
		}
		dir = parent
	}
}

// controlPlaneAssets returns KUBEBUILDER_ASSETS when set (make test sets it),
// otherwise builds or reuses the binaries with hack/controlplane.sh, so a
// plain `go test` works on a fresh clone too.
func controlPlaneAssets(root string) (string, error) {
	if dir := os.Getenv("KUBEBUILDER_ASSETS"); dir != "" {
		return dir, nil
	}
	cmd := exec.Command(filepath.Join(root, "hack", "controlplane.sh"))
	cmd.Dir = root
	cmd.Stderr = os.Stderr // progress lines: a cold build takes minutes
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("hack/controlplane.sh: %w", err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	return lines[len(lines)-1], nil
}
