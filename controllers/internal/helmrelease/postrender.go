package helmrelease

import (
	"bytes"
	"errors"
	"fmt"
	"io"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"
)

// OwnerRef is the object every rendered object is owned by, so the
// controller's watches find their EgressGateway and the garbage collector
// removes them if the release Secrets are ever lost.
type OwnerRef struct {
	APIVersion string
	Kind       string
	Name       string
	UID        types.UID
}

// ownerRefPostRenderer adds a controlling owner reference to every object.
type ownerRefPostRenderer struct {
	owner OwnerRef
}

// Run implements Helm's postrender.PostRenderer.
func (p ownerRefPostRenderer) Run(in *bytes.Buffer) (*bytes.Buffer, error) {
	objs, err := decodeManifest(in.Bytes())
	if err != nil {
		return nil, err
	}
	ref := metav1.OwnerReference{
		APIVersion:         p.owner.APIVersion,
		Kind:               p.owner.Kind,
		Name:               p.owner.Name,
		UID:                p.owner.UID,
		Controller:         new(true),
		BlockOwnerDeletion: new(true),
	}
	out := new(bytes.Buffer)
	for _, obj := range objs {
		obj.SetOwnerReferences([]metav1.OwnerReference{ref})
		data, err := yaml.Marshal(obj.Object)
		if err != nil {
			return nil, fmt.Errorf("encoding %s %s: %w", obj.GetKind(), obj.GetName(), err)
		}
		out.WriteString("---\n")
		out.Write(data)
	}
	return out, nil
}

// decodeManifest splits a multi-document manifest into objects, skipping
// empty documents.
func decodeManifest(manifest []byte) ([]*unstructured.Unstructured, error) {
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(manifest), 4096)
	var objs []*unstructured.Unstructured
	for {
		obj := &unstructured.Unstructured{}
		if err := dec.Decode(&obj.Object); err != nil {
			if errors.Is(err, io.EOF) {
				return objs, nil
			}
			return nil, fmt.Errorf("decoding rendered manifest: %w", err)
		}
		if len(obj.Object) == 0 {
			continue
		}
		objs = append(objs, obj)
	}
}
