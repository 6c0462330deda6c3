package helmrelease

import (
	"context"
	"fmt"
	"maps"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Repair puts drifted objects back as the release rendered them, without a
// new revision: deleted objects are created again, changed ones get the
// release's content back. It carries Helm's ownership metadata, so later
// upgrades keep managing the objects. apiReader reads uncached, so updates
// start from the current resourceVersion.
func Repair(ctx context.Context, c client.Client, apiReader client.Reader, releaseName string, drifts []Drift) error {
	for _, d := range drifts {
		want := d.Desired.DeepCopy()
		addHelmOwnership(want, releaseName)
		if d.Missing {
			err := c.Create(ctx, want)
			if err == nil {
				continue
			}
			if !apierrors.IsAlreadyExists(err) {
				return fmt.Errorf("creating %s %s again: %w", want.GetKind(), want.GetName(), err)
			}
		}
		if err := restore(ctx, c, apiReader, want); err != nil {
			return err
		}
	}
	return nil
}

// restore writes want's content and labels over the live object.
func restore(ctx context.Context, c client.Client, apiReader client.Reader, want *unstructured.Unstructured) error {
	live := &unstructured.Unstructured{}
	live.SetGroupVersionKind(want.GroupVersionKind())
	if err := apiReader.Get(ctx, client.ObjectKeyFromObject(want), live); err != nil {
		return fmt.Errorf("reading %s %s: %w", want.GetKind(), want.GetName(), err)
	}
	for k, v := range want.Object {
		if k != "apiVersion" && k != "kind" && k != "metadata" && k != "status" {
			live.Object[k] = v
		}
	}
	labels := live.GetLabels()
	if labels == nil {
		labels = map[string]string{}
	}
	maps.Copy(labels, want.GetLabels())
	live.SetLabels(labels)
	annotations := live.GetAnnotations()
	if annotations == nil {
		annotations = map[string]string{}
	}
	maps.Copy(annotations, want.GetAnnotations())
	live.SetAnnotations(annotations)
	live.SetOwnerReferences(want.GetOwnerReferences())
	if err := c.Update(ctx, live); err != nil {
		return fmt.Errorf("restoring %s %s: %w", want.GetKind(), want.GetName(), err)
	}
	return nil
}

// addHelmOwnership sets the label and annotations Helm puts on every object
// it creates and checks before it adopts one.
func addHelmOwnership(obj *unstructured.Unstructured, releaseName string) {
	labels := obj.GetLabels()
	if labels == nil {
		labels = map[string]string{}
	}
	labels["app.kubernetes.io/managed-by"] = "Helm"
	obj.SetLabels(labels)
	annotations := obj.GetAnnotations()
	if annotations == nil {
		annotations = map[string]string{}
	}
	annotations["meta.helm.sh/release-name"] = releaseName
	annotations["meta.helm.sh/release-namespace"] = obj.GetNamespace()
	obj.SetAnnotations(annotations)
}
