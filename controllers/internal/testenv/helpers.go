package testenv

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	egressv1alpha1 "github.com/ambient-egress/ambient-egress-operator/apis/egress/v1alpha1"
)

// DefaultTimeout bounds every wait helper unless a test passes its own.
const DefaultTimeout = 30 * time.Second

// CreateNamespace creates a namespace with a generated name starting with
// prefix and the given labels, so tests sharing one API server never collide.
// envtest runs no namespace controller, so the namespace is not deleted at the
// end: its name is unique instead.
func (e *Env) CreateNamespace(t testing.TB, prefix string, labels map[string]string) *corev1.Namespace {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: prefix + "-", Labels: labels}}
	if err := e.Client.Create(context.Background(), ns); err != nil {
		t.Fatalf("creating namespace %q: %v", prefix, err)
	}
	return ns
}

// Eventually polls check until it reports done, fails the test when check
// returns an error that is not transient or when timeout passes, and says what
// it was waiting for.
func Eventually(t testing.TB, timeout time.Duration, what string, check func(ctx context.Context) (done bool, err error)) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var lastErr error
	for {
		done, err := check(ctx)
		if done && err == nil {
			return
		}
		if ctx.Err() == nil { // keep the last real error, not the deadline that cut the last call
			lastErr = err
		}
		select {
		case <-ctx.Done():
			t.Fatalf("timed out after %s waiting for %s (last error: %v)", timeout, what, lastErr)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// WaitForCondition waits until the EgressGateway key has condition condType
// with status, for its current generation, and returns the condition.
func (e *Env) WaitForCondition(t testing.TB, key client.ObjectKey, condType string, status metav1.ConditionStatus) metav1.Condition {
	t.Helper()
	var found metav1.Condition
	Eventually(t, DefaultTimeout, fmt.Sprintf("%s %s=%s", key, condType, status), func(ctx context.Context) (bool, error) {
		var egw egressv1alpha1.EgressGateway
		if err := e.Client.Get(ctx, key, &egw); err != nil {
			return false, err
		}
		c := meta.FindStatusCondition(egw.Status.Conditions, condType)
		if c == nil || c.Status != status || c.ObservedGeneration != egw.Generation {
			return false, nil
		}
		found = *c
		return true, nil
	})
	return found
}

// Kubectl runs the kubectl built beside the API server against it, as a
// cluster administrator, and returns its combined output.
func (e *Env) Kubectl(t testing.TB, args ...string) (string, error) {
	t.Helper()
	if e.kubeconfig == "" {
		if err := e.writeKubeconfig(); err != nil {
			t.Fatalf("writing kubeconfig: %v", err)
		}
	}
	kubectl := filepath.Join(e.env.BinaryAssetsDirectory, "kubectl")
	cmd := exec.Command(kubectl, append([]string{"--kubeconfig", e.kubeconfig}, args...)...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// writeKubeconfig adds an administrator user and writes its kubeconfig to a
// temporary file that Stop removes.
func (e *Env) writeKubeconfig() error {
	user, err := e.env.AddUser(envtest.User{Name: "testenv-admin", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		return err
	}
	data, err := user.KubeConfig()
	if err != nil {
		return err
	}
	f, err := os.CreateTemp("", "testenv-kubeconfig-*")
	if err != nil {
		return err
	}
	defer f.Close()
	if _, err := f.Write(data); err != nil {
		return err
	}
	e.kubeconfig = f.Name()
	return nil
}
