package controllers_test

import (
	"context"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/ambient-egress/ambient-egress-operator/controllers/internal/testenv"
)

// env is the control plane shared by every test in this package.
var env *testenv.Env

func TestMain(m *testing.M) {
	testenv.RunAndExit(m, &env)
}

// fromYAML decodes a manifest the way kubectl would read it.
func fromYAML(t *testing.T, manifest string) *unstructured.Unstructured {
	t.Helper()
	obj := &unstructured.Unstructured{}
	if err := yaml.Unmarshal([]byte(manifest), &obj.Object); err != nil {
		t.Fatalf("decoding manifest: %v\n%s", err, manifest)
	}
	return obj
}

// create creates obj in the test API server and fails the test on error.
func create(t *testing.T, obj *unstructured.Unstructured) {
	t.Helper()
	if err := env.Client.Create(context.Background(), obj); err != nil {
		t.Fatalf("creating %s %s: %v", obj.GetKind(), obj.GetName(), err)
	}
}
