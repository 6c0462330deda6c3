//go:build e2e

// Package e2e runs the operator against a whole cluster without a data plane
// (hack/cluster: kube-apiserver, etcd, kube-controller-manager, kube-scheduler,
// kwok fake nodes and the real istiod) and checks what Istio itself does with
// what the operator creates. `make e2e` brings the cluster up and down.
package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ambient-egress/ambient-egress-operator/controllers/internal/testenv"
)

var (
	// c talks to the e2e cluster as its administrator.
	c client.Client
	// root is the repository root.
	root string
	// kubeconfig is the cluster's kubeconfig written by hack/cluster up.
	kubeconfig string
	// manager is the operator process under test.
	manager *managerProcess
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	var err error
	if root, err = filepath.Abs("../.."); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	kubeconfig = os.Getenv("E2E_KUBECONFIG")
	if kubeconfig == "" {
		kubeconfig = filepath.Join(root, "bin", "e2e", "kubeconfig")
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		fmt.Fprintf(os.Stderr, "e2e: no cluster (run 'make e2e' or 'hack/cluster up'): %v\n", err)
		return 1
	}
	if c, err = client.New(cfg, client.Options{Scheme: testenv.NewScheme()}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	bin := filepath.Join(os.TempDir(), fmt.Sprintf("egress-manager-e2e-%d", os.Getpid()))
	build := exec.Command("go", "build", "-o", bin, "./cmd/manager")
	build.Dir, build.Stdout, build.Stderr = root, os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: building the manager: %v\n", err)
		return 1
	}
	defer os.Remove(bin)
	manager = &managerProcess{bin: bin, log: filepath.Join(root, "bin", "e2e", "manager.log")}
	if err := manager.start(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	code := m.Run()
	manager.stop()
	if code != 0 {
		fmt.Fprintf(os.Stderr, "e2e: manager log: %s\n", manager.log)
	}
	return code
}

// managerProcess is the operator binary built from this tree, run against the
// cluster like a deployment would, so tests can kill and restart it.
type managerProcess struct {
	bin, log string
	cmd      *exec.Cmd
}

func (p *managerProcess) start() error {
	out, err := os.OpenFile(p.log, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	// istiod runs outside the cluster, with no Deployment to read its
	// flags from: --istio-wildcard-tls says what hack/cluster gives it.
	// --verify-xds-address: every gateway's report is checked against
	// the RBAC the real istiod generates for its waypoint.
	p.cmd = exec.Command(p.bin, "--leader-elect=false", "--istio-wildcard-tls=true", "--verify-xds-address="+istiodXDS,
		"--metrics-bind-address=127.0.0.1:18443", "--health-probe-bind-address=127.0.0.1:18081")
	p.cmd.Env = append(os.Environ(), "KUBECONFIG="+kubeconfig)
	p.cmd.Stdout, p.cmd.Stderr = out, out
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL} // never outlive the suite
	if err := p.cmd.Start(); err != nil {
		return fmt.Errorf("e2e: starting the manager: %w", err)
	}
	return nil
}

// kill ends the manager abruptly, as an OOM kill or node loss would.
func (p *managerProcess) kill() {
	_ = p.cmd.Process.Kill()
	_, _ = p.cmd.Process.Wait()
}

// stop ends the manager gracefully.
func (p *managerProcess) stop() {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _, _ = p.cmd.Process.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		p.kill()
	}
}

// clusterCommand runs hack/cluster with args (stop-istiod, start-istiod).
func clusterCommand(t *testing.T, args ...string) {
	t.Helper()
	cmd := exec.Command(filepath.Join(root, "hack", "cluster"), args...)
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("hack/cluster %v: %v\n%s", args, err, out)
	}
}

// timeout bounds every wait in the suite; istiod and kwok react in seconds.
const timeout = 2 * time.Minute

func ctx() context.Context { return context.Background() }
