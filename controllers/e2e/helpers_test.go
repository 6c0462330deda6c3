//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	egressv1alpha1 "github.com/ambient-egress/ambient-egress-operator/apis/egress/v1alpha1"
	"github.com/ambient-egress/ambient-egress-operator/controllers/internal/testenv"
)

// newNamespace creates a namespace with a generated name; the test deletes
// it at the end, and the cluster's namespace controller empties it.
func newNamespace(t *testing.T, prefix string, labels map[string]string) string {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: prefix + "-", Labels: labels}}
	if err := c.Create(ctx(), ns); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Delete(context.Background(), ns) })
	return ns.Name
}

// apply creates each YAML document in namespace ns (when the object is
// namespaced and names none), like kubectl apply -n.
func apply(t *testing.T, ns, manifests string) {
	t.Helper()
	for doc := range strings.SplitSeq(manifests, "\n---\n") {
		if strings.TrimSpace(doc) == "" {
			continue
		}
		u := &unstructured.Unstructured{}
		if err := yaml.Unmarshal([]byte(doc), &u.Object); err != nil {
			t.Fatalf("decoding manifest: %v\n%s", err, doc)
		}
		if u.GetNamespace() == "" && u.GetKind() != "Namespace" {
			u.SetNamespace(ns)
		}
		if err := c.Create(ctx(), u); err != nil {
			t.Fatalf("creating %s %s/%s: %v", u.GetKind(), u.GetNamespace(), u.GetName(), err)
		}
	}
}

// egressGateway reads the EgressGateway ns/name.
func egressGateway(t *testing.T, ns, name string) *egressv1alpha1.EgressGateway {
	t.Helper()
	egw := &egressv1alpha1.EgressGateway{}
	if err := c.Get(ctx(), types.NamespacedName{Namespace: ns, Name: name}, egw); err != nil {
		t.Fatal(err)
	}
	return egw
}

// waitForCondition waits until the EgressGateway has condType=status for its
// current generation.
func waitForCondition(t *testing.T, ns, name, condType string, status metav1.ConditionStatus) metav1.Condition {
	t.Helper()
	var found metav1.Condition
	testenv.Eventually(t, timeout, fmt.Sprintf("EgressGateway %s/%s %s=%s", ns, name, condType, status), func(ctx context.Context) (bool, error) {
		egw := &egressv1alpha1.EgressGateway{}
		if err := c.Get(ctx, types.NamespacedName{Namespace: ns, Name: name}, egw); err != nil {
			return false, err
		}
		cond := meta.FindStatusCondition(egw.Status.Conditions, condType)
		if cond == nil || cond.Status != status || cond.ObservedGeneration != egw.Generation {
			return false, nil
		}
		found = *cond
		return true, nil
	})
	return found
}

// waitForConditionReason waits for condition condType with reason and
// returns the gateway; the last condition seen is in the timeout's error.
func waitForConditionReason(t *testing.T, ns, name, condType, reason string) *egressv1alpha1.EgressGateway {
	t.Helper()
	var got *egressv1alpha1.EgressGateway
	testenv.Eventually(t, timeout, fmt.Sprintf("EgressGateway %s/%s %s reason %s", ns, name, condType, reason), func(ctx context.Context) (bool, error) {
		got = &egressv1alpha1.EgressGateway{}
		if err := c.Get(ctx, types.NamespacedName{Namespace: ns, Name: name}, got); err != nil {
			return false, err
		}
		if cond := meta.FindStatusCondition(got.Status.Conditions, condType); cond == nil || cond.Reason != reason {
			return false, fmt.Errorf("%s: %+v", condType, cond)
		}
		return true, nil
	})
	return got
}

// istioCondition reads condition condType from the status of an Istio
// object (ServiceEntry, AuthorizationPolicy), as istiod writes it.
func istioCondition(ctx context.Context, gvk schema.GroupVersionKind, ns, name, condType string) (*metav1.Condition, error) {
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(gvk)
	if err := c.Get(ctx, types.NamespacedName{Namespace: ns, Name: name}, u); err != nil {
		return nil, err
	}
	conds, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
	for _, raw := range conds {
		m, _ := raw.(map[string]any)
		if m["type"] == condType {
			status, _ := m["status"].(string)
			reason, _ := m["reason"].(string)
			message, _ := m["message"].(string)
			return &metav1.Condition{Type: condType, Status: metav1.ConditionStatus(status), Reason: reason, Message: message}, nil
		}
	}
	return nil, nil
}

var (
	serviceEntryGVK = schema.GroupVersionKind{Group: "networking.istio.io", Version: "v1", Kind: "ServiceEntry"}
	policyGVK       = schema.GroupVersionKind{Group: "security.istio.io", Version: "v1", Kind: "AuthorizationPolicy"}
)

// waitForIstioCondition waits until istiod wrote condType=status on an object.
func waitForIstioCondition(t *testing.T, gvk schema.GroupVersionKind, ns, name, condType string, status metav1.ConditionStatus) {
	t.Helper()
	testenv.Eventually(t, timeout, fmt.Sprintf("%s %s/%s %s=%s", gvk.Kind, ns, name, condType, status), func(ctx context.Context) (bool, error) {
		cond, err := istioCondition(ctx, gvk, ns, name, condType)
		return cond != nil && cond.Status == status, err
	})
}

// waypointDeployment waits for istiod's Deployment for the waypoint name to
// have ready replicas, and returns it.
func waitForReadyReplicas(t *testing.T, ns, name string, replicas int32) *appsv1.Deployment {
	t.Helper()
	d := &appsv1.Deployment{}
	testenv.Eventually(t, timeout, fmt.Sprintf("Deployment %s/%s with %d ready replicas", ns, name, replicas), func(ctx context.Context) (bool, error) {
		if err := c.Get(ctx, types.NamespacedName{Namespace: ns, Name: name}, d); err != nil {
			return false, client.IgnoreNotFound(err)
		}
		return d.Status.ReadyReplicas == replicas && d.Status.UpdatedReplicas == replicas, nil
	})
	return d
}

// waitGone waits until obj no longer exists.
func waitGone(t *testing.T, obj client.Object) {
	t.Helper()
	key := client.ObjectKeyFromObject(obj)
	testenv.Eventually(t, timeout, fmt.Sprintf("%T %s to be gone", obj, key), func(ctx context.Context) (bool, error) {
		err := c.Get(ctx, key, obj)
		if apierrors.IsNotFound(err) {
			return true, nil
		}
		return false, err
	})
}
