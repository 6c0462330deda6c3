//go:build olm

// Package olm installs, upgrades and uninstalls the operator through the real
// Operator Lifecycle Manager, the way our users do on OpenShift: a catalog
// served by opm, a Subscription, InstallPlans, ClusterServiceVersions and the
// OperatorCondition. `hack/olm.sh e2e` (part of `make test`) brings up the
// cluster of hack/cluster, OLM and the catalog, runs this suite and tears
// everything down.
//
// kwok runs the Pods OLM creates without running their images, so the suite
// runs the manager built from this tree itself, as the Deployment OLM made
// would run it: that Deployment's arguments and environment, and the
// ServiceAccount token, CA and namespace mounted where a Pod finds them (in
// a private mount namespace), talking to the API server as that ServiceAccount.
package olm

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	operatorsv1 "github.com/operator-framework/api/pkg/operators/v1"
	operatorsv1alpha1 "github.com/operator-framework/api/pkg/operators/v1alpha1"
	operatorsv2 "github.com/operator-framework/api/pkg/operators/v2"
	appsv1 "k8s.io/api/apps/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ambient-egress/ambient-egress-operator/controllers/internal/testenv"
)

var (
	// c talks to the cluster as its administrator.
	c client.Client
	// root is the repository root.
	root string
	// kubeconfig is the administrator's kubeconfig written by hack/cluster.
	kubeconfig string
	// managerBin is the manager built from this tree.
	managerBin string
	// managers are the managers started, stopped when the suite ends.
	managers []*managerPod
)

// timeout bounds each wait: OLM, istiod and kwok react in seconds.
const timeout = 3 * time.Minute

func TestMain(m *testing.M) { os.Exit(run(m)) }

func run(m *testing.M) int {
	var err error
	if root, err = filepath.Abs("../../.."); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	kubeconfig = filepath.Join(root, "bin", "e2e", "kubeconfig")
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		fmt.Fprintf(os.Stderr, "olm: no cluster (run 'hack/olm.sh e2e'): %v\n", err)
		return 1
	}
	if c, err = client.New(cfg, client.Options{Scheme: scheme()}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	managerBin = filepath.Join(os.TempDir(), fmt.Sprintf("egress-manager-olm-%d", os.Getpid()))
	build := exec.Command("go", "build", "-o", managerBin, "./cmd/manager")
	build.Dir, build.Stdout, build.Stderr = root, os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintf(os.Stderr, "olm: building the manager: %v\n", err)
		return 1
	}
	defer os.Remove(managerBin)
	code := m.Run()
	for _, p := range managers {
		p.stop()
	}
	if code != 0 {
		fmt.Fprintf(os.Stderr, "olm: the managers' log: %s\n", filepath.Join(root, "bin", "e2e", "manager-olm.log"))
	}
	return code
}

func scheme() *runtime.Scheme {
	s := testenv.NewScheme()
	utilruntime.Must(operatorsv1alpha1.AddToScheme(s))
	utilruntime.Must(operatorsv1.AddToScheme(s))
	utilruntime.Must(operatorsv2.AddToScheme(s))
	return s
}

func ctx() context.Context { return context.Background() }

// managerPod is the manager run as the Pod of OLM's Deployment would run it.
type managerPod struct {
	cmd *exec.Cmd
	log string
}

// startManagerAs runs the manager with the first container of deployment:
// its arguments (ports moved to loopback ones free on this host, which the
// suite shares with OLM and istiod), its environment (OPERATOR_CONDITION_NAME
// among it, injected by OLM), and its ServiceAccount's token, the cluster CA
// and the namespace at /var/run/secrets/kubernetes.io/serviceaccount. The
// manager finds the API server through KUBERNETES_SERVICE_HOST/PORT like in
// a Pod; no kubeconfig is given.
func startManagerAs(t *testing.T, deployment *appsv1.Deployment) *managerPod {
	t.Helper()
	pod := deployment.Spec.Template.Spec
	container := pod.Containers[0]
	sa := &corev1.ServiceAccount{}
	if err := c.Get(ctx(), client.ObjectKey{Namespace: deployment.Namespace, Name: pod.ServiceAccountName}, sa); err != nil {
		t.Fatalf("the Deployment's ServiceAccount: %v", err)
	}
	tr := &authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: ptr.To[int64](3600)}}
	if err := c.SubResource("token").Create(ctx(), sa, tr); err != nil {
		t.Fatalf("a token for ServiceAccount %s/%s: %v", sa.Namespace, sa.Name, err)
	}
	host, port, ca := apiServer(t)
	secrets := t.TempDir()
	for name, data := range map[string][]byte{"token": []byte(tr.Status.Token), "ca.crt": ca, "namespace": []byte(deployment.Namespace)} {
		if err := os.WriteFile(filepath.Join(secrets, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + secrets, "KUBERNETES_SERVICE_HOST=" + host, "KUBERNETES_SERVICE_PORT=" + port}
	for _, e := range container.Env {
		value := e.Value
		if e.ValueFrom != nil {
			if e.ValueFrom.FieldRef == nil || e.ValueFrom.FieldRef.FieldPath != "metadata.namespace" {
				t.Fatalf("env %s: only values and metadata.namespace are supported by this suite", e.Name)
			}
			value = deployment.Namespace
		}
		env = append(env, e.Name+"="+value)
	}
	args := hostArgs(container.Args)
	log := filepath.Join(root, "bin", "e2e", "manager-olm.log")
	out, err := os.OpenFile(log, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	fmt.Fprintf(out, "--- manager as %s/%s, %v\n", sa.Namespace, sa.Name, env[4:])
	// A tmpfs over /run in a private mount namespace: the host's /run is
	// left alone and the manager alone sees the mounted ServiceAccount.
	script := `mount -t tmpfs tmpfs /run && mkdir -p /run/secrets/kubernetes.io && ` +
		`cp -r "$1" /run/secrets/kubernetes.io/serviceaccount && shift && exec "$@"`
	cmd := exec.Command("unshare", append([]string{"--mount", "--propagation", "private", "--", "sh", "-c", script, "sh", secrets, managerBin}, args...)...)
	cmd.Env, cmd.Stdout, cmd.Stderr = env, out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL} // never outlive the suite
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting the manager: %v", err)
	}
	// It outlives the step that starts it; the suite stops any left running.
	p := &managerPod{cmd: cmd, log: log}
	managers = append(managers, p)
	return p
}

// hostArgs moves the Deployment's listening ports to loopback ports this
// suite keeps free: in a Pod they are the Pod's own, here they are shared
// with OLM (which serves on :8443) and istiod.
func hostArgs(args []string) []string {
	moved := map[string]string{
		"--metrics-bind-address":      "127.0.0.1:18443",
		"--health-probe-bind-address": "127.0.0.1:18081",
	}
	out := make([]string, 0, len(args)+len(moved))
	for _, a := range args {
		name, _, _ := strings.Cut(a, "=")
		if addr, ok := moved[name]; ok {
			out = append(out, name+"="+addr)
			delete(moved, name)
			continue
		}
		out = append(out, a)
	}
	for name, addr := range moved {
		out = append(out, name+"="+addr)
	}
	return out
}

// stop ends the manager as the kubelet would when OLM replaces or deletes
// its Deployment: SIGTERM, then SIGKILL after a grace period.
func (p *managerPod) stop() {
	if p.cmd.ProcessState != nil {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _, _ = p.cmd.Process.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		_ = p.cmd.Process.Kill()
		<-done
	}
}

// apiServer returns the API server's host, port and CA from the
// administrator's kubeconfig, which is what a Pod gets from the
// kubernetes Service and its mounted ca.crt.
func apiServer(t *testing.T) (host, port string, ca []byte) {
	t.Helper()
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(cfg.Host)
	if err != nil {
		t.Fatal(err)
	}
	if host, port, err = net.SplitHostPort(u.Host); err != nil {
		t.Fatal(err)
	}
	ca = cfg.CAData
	if len(ca) == 0 && cfg.CAFile != "" {
		if ca, err = os.ReadFile(cfg.CAFile); err != nil {
			t.Fatal(err)
		}
	}
	if len(ca) == 0 {
		t.Fatal("the kubeconfig names no CA for the API server")
	}
	return host, port, ca
}

// eventually waits for check; what names the condition in the failure.
func eventually(t *testing.T, what string, check func(ctx context.Context) (bool, error)) {
	t.Helper()
	testenv.Eventually(t, timeout, what, check)
}

// get reads key into obj, failing the test on an error.
func get(t *testing.T, key client.ObjectKey, obj client.Object) {
	t.Helper()
	if err := c.Get(ctx(), key, obj); err != nil {
		t.Fatalf("reading %T %s: %v", obj, key, err)
	}
}
