package main

import (
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/operator-framework/api/pkg/manifests"
	"github.com/operator-framework/api/pkg/validation"
	"github.com/operator-framework/api/pkg/validation/errors"
	validator "github.com/operator-framework/api/pkg/validation/interfaces"
	rbacv1 "k8s.io/api/rbac/v1"
	"sigs.k8s.io/yaml"
)

// root is the repository root, seen from this package's directory.
const root = "../.."

// explained lists validator warnings we accept, by a fragment of their
// message, with the reason. Anything else fails the test.
var explained = map[string]string{}

// TestBundleValidates runs operator-framework/api's validators on bundle/,
// the set `operator-sdk bundle validate --select-optional suite=operatorframework`
// runs: the default bundle checks plus OperatorHub, capabilities, categories,
// good practices and deprecated APIs.
func TestBundleValidates(t *testing.T) {
	bundle, err := manifests.GetBundleFromDir(filepath.Join(root, "bundle"))
	if err != nil {
		t.Fatalf("loading bundle/: %v", err)
	}
	// A fresh slice: appending to DefaultBundleValidators could write into
	// the package's own backing array.
	validators := append(append(validator.Validators{}, validation.DefaultBundleValidators...),
		validation.OperatorHubV2Validator,
		validation.StandardCapabilitiesValidator,
		validation.StandardCategoriesValidator,
		validation.GoodPracticesValidator,
		validation.AlphaDeprecatedAPIsValidator,
		validation.ObjectValidator,
	)
	objs := append(bundle.ObjectsToValidate(), map[string]string{"k8s-version": "1.30"})
	for _, result := range validators.Validate(objs...) {
		for _, e := range result.Errors {
			t.Errorf("%s: error: %v", result.Name, e)
		}
		for _, w := range result.Warnings {
			if !isExplained(w) {
				t.Errorf("%s: unexplained warning: %v", result.Name, w)
			}
		}
	}
	if n := len(bundle.V1CRDs); n != 1 {
		t.Errorf("bundle has %d CRDs, want 1 (EgressGateway)", n)
	}
}

func isExplained(w errors.Error) bool {
	for fragment := range explained {
		if strings.Contains(w.Error(), fragment) {
			return true
		}
	}
	return false
}

// TestBundleInSync regenerates the bundle from config/ into a temporary
// directory and compares it with the committed bundle/, file by file, so a
// change to the CRD, RBAC or manager that was not followed by `make bundle`
// fails here as well as in `make verify`.
func TestBundleInSync(t *testing.T) {
	out := t.TempDir()
	csv, err := os.ReadFile(filepath.Join(root, "bundle/manifests/ambient-egress-operator.clusterserviceversion.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var head struct {
		Spec struct {
			Version     string `json:"version"`
			RelatedImgs []struct {
				Image string `json:"image"`
			} `json:"relatedImages"`
		} `json:"spec"`
	}
	if err := yaml.Unmarshal(csv, &head); err != nil || len(head.Spec.RelatedImgs) == 0 {
		t.Fatalf("reading version and image of the committed CSV: %v", err)
	}
	o := options{version: head.Spec.Version, image: head.Spec.RelatedImgs[0].Image, root: root, out: out, channel: defaultChannel}
	if err := generate(o); err != nil {
		t.Fatal(err)
	}
	want, got := readTree(t, filepath.Join(root, "bundle")), readTree(t, out)
	for name, data := range want {
		if !bytes.Equal(got[name], data) {
			t.Errorf("bundle/%s is stale: run make bundle", name)
		}
	}
	for name := range got {
		if _, ok := want[name]; !ok {
			t.Errorf("bundle/%s is missing: run make bundle", name)
		}
	}
}

func readTree(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	files := map[string][]byte{}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		files[rel], err = os.ReadFile(path)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// TestRBACHasNoWildcards keeps the manager's generated role least-privilege:
// no "*" in API groups, resources or verbs.
func TestRBACHasNoWildcards(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(root, "config/rbac/role.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var role rbacv1.ClusterRole
	if err := yaml.UnmarshalStrict(data, &role); err != nil {
		t.Fatal(err)
	}
	if len(role.Rules) == 0 {
		t.Fatal("config/rbac/role.yaml has no rules")
	}
	for i, r := range role.Rules {
		for field, values := range map[string][]string{"apiGroups": r.APIGroups, "resources": r.Resources, "verbs": r.Verbs, "resourceNames": r.ResourceNames} {
			for _, v := range values {
				if strings.Contains(v, "*") {
					t.Errorf("rule %d %s contains wildcard %q: list what the controller needs", i, field, v)
				}
			}
		}
	}
}

// TestExamplesHaveSpecDescriptors is scorecard's olm-spec-descriptors test
// (operator-sdk internal/scorecard/tests/olm.go): every top-level spec field
// an alm-examples object sets needs a spec descriptor whose path is exactly
// that field, or the console cannot show it and the test fails.
func TestExamplesHaveSpecDescriptors(t *testing.T) {
	bundle, err := manifests.GetBundleFromDir(filepath.Join(root, "bundle"))
	if err != nil {
		t.Fatalf("loading bundle/: %v", err)
	}
	csv := bundle.CSV
	var examples []struct {
		Kind string         `json:"kind"`
		Spec map[string]any `json:"spec"`
	}
	if err := yaml.Unmarshal([]byte(csv.Annotations["alm-examples"]), &examples); err != nil {
		t.Fatalf("alm-examples: %v", err)
	}
	paths := map[string]map[string]bool{}
	for _, crd := range csv.Spec.CustomResourceDefinitions.Owned {
		paths[crd.Kind] = map[string]bool{}
		for _, d := range crd.SpecDescriptors {
			paths[crd.Kind][d.Path] = true
		}
	}
	for _, ex := range examples {
		for field := range ex.Spec {
			if !paths[ex.Kind][field] {
				t.Errorf("%s example sets spec.%s, which has no spec descriptor with path %q", ex.Kind, field, field)
			}
		}
	}
}
