package helmrelease

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"

	"helm.sh/helm/v3/pkg/release"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Drift is one rendered object of the release that no longer matches it.
type Drift struct {
	// Desired is the object as the release rendered it.
	Desired *unstructured.Unstructured
	// Missing is true when the object was deleted; otherwise its content
	// (spec, data, labels) was changed.
	Missing bool
}

// String names the drifted object for messages.
func (d Drift) String() string {
	how := "changed"
	if d.Missing {
		how = "deleted"
	}
	return fmt.Sprintf("%s %s %s", d.Desired.GetKind(), d.Desired.GetName(), how)
}

// DetectDrift compares the objects of rel with the live ones, read through
// reader (the manager's cache, so this makes no API request for the types
// the cache holds). A live object matches when everything the release set
// outside metadata and status, and every label it set, is there unchanged;
// fields the API server defaulted are not drift.
func DetectDrift(ctx context.Context, reader client.Reader, scheme *runtime.Scheme, rel *release.Release) ([]Drift, error) {
	desired, err := decodeManifest([]byte(rel.Manifest))
	if err != nil {
		return nil, err
	}
	var drifts []Drift
	for _, want := range desired {
		live, err := getLive(ctx, reader, scheme, want)
		if apierrors.IsNotFound(err) {
			drifts = append(drifts, Drift{Desired: want, Missing: true})
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("reading %s %s: %w", want.GetKind(), want.GetName(), err)
		}
		if !matches(want.Object, live) {
			drifts = append(drifts, Drift{Desired: want})
		}
	}
	return drifts, nil
}

// getLive reads the live copy of want as a typed object when the scheme
// knows its kind, so the read is served from the cache, and returns it as
// JSON-shaped data.
func getLive(ctx context.Context, reader client.Reader, scheme *runtime.Scheme, want *unstructured.Unstructured) (map[string]any, error) {
	key := client.ObjectKeyFromObject(want)
	var obj client.Object = &unstructured.Unstructured{}
	if typed, err := scheme.New(want.GroupVersionKind()); err == nil {
		if o, ok := typed.(client.Object); ok {
			obj = o
		}
	} else {
		obj.GetObjectKind().SetGroupVersionKind(want.GroupVersionKind())
	}
	if err := reader.Get(ctx, key, obj); err != nil {
		return nil, err
	}
	return jsonShaped(obj)
}

// matches reports whether live holds everything want sets outside metadata
// and status, and want's labels.
func matches(want, live map[string]any) bool {
	wantJSON, err := jsonShaped(want)
	if err != nil {
		return false
	}
	for k, v := range wantJSON {
		switch k {
		case "apiVersion", "kind", "status":
			continue
		case "metadata":
			wantLabels, _, _ := unstructured.NestedMap(wantJSON, "metadata", "labels")
			liveLabels, _, _ := unstructured.NestedMap(live, "metadata", "labels")
			if !subset(wantLabels, liveLabels) {
				return false
			}
		default:
			if !subset(v, live[k]) {
				return false
			}
		}
	}
	return true
}

// subset reports whether every field set in want has the same value in
// live. Lists must have the same length and match element by element.
func subset(want, live any) bool {
	switch w := want.(type) {
	case map[string]any:
		l, ok := live.(map[string]any)
		if !ok {
			return len(w) == 0 && live == nil
		}
		for k, v := range w {
			if !subset(v, l[k]) {
				return false
			}
		}
		return true
	case []any:
		l, ok := live.([]any)
		if !ok || len(l) != len(w) {
			return len(w) == 0 && live == nil
		}
		for i := range w {
			if !subset(w[i], l[i]) {
				return false
			}
		}
		return true
	default:
		return reflect.DeepEqual(want, live)
	}
}

// jsonShaped round-trips v through JSON so numbers and nested types compare
// alike whether they came from YAML or from a typed object.
func jsonShaped(v any) (map[string]any, error) {
	data, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	var out map[string]any
	if err := json.Unmarshal(data, &out); err != nil {
		return nil, err
	}
	return out, nil
}
