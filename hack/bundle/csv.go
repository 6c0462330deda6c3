package main

import (
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"

	"github.com/blang/semver/v4"
	"github.com/operator-framework/api/pkg/lib/version"
	operatorsv1alpha1 "github.com/operator-framework/api/pkg/operators/v1alpha1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"
)

// csvBase is the hand-written part of the CSV: descriptions, descriptors,
// install modes, links and feature annotations.
const csvBase = "config/manifests/bases/" + packageName + ".clusterserviceversion.yaml"

// buildCSV completes the base CSV with what config/ and the flags say.
func buildCSV(o options, p *parts, samples []*unstructured.Unstructured) (*operatorsv1alpha1.ClusterServiceVersion, error) {
	data, err := os.ReadFile(filepath.Join(o.root, csvBase))
	if err != nil {
		return nil, err
	}
	var csv operatorsv1alpha1.ClusterServiceVersion
	if err := yaml.UnmarshalStrict(data, &csv); err != nil {
		return nil, fmt.Errorf("%s: %w", csvBase, err)
	}
	v, err := semver.Parse(o.version)
	if err != nil {
		return nil, fmt.Errorf("-version %q is not semver: %w", o.version, err)
	}
	csv.Name = packageName + ".v" + o.version
	csv.Spec.Version = version.OperatorVersion{Version: v}
	examples, err := almExamples(samples)
	if err != nil {
		return nil, err
	}
	csv.Annotations["alm-examples"] = examples
	csv.Annotations["containerImage"] = o.image
	csv.Spec.RelatedImages = []operatorsv1alpha1.RelatedImage{{Name: "manager", Image: o.image}}
	csv.Spec.InstallStrategy = operatorsv1alpha1.NamedInstallStrategy{
		StrategyName: operatorsv1alpha1.InstallStrategyNameDeployment,
		StrategySpec: installStrategy(o, p),
	}
	return &csv, nil
}

// almExamples is the JSON array the OpenShift console offers as templates.
func almExamples(samples []*unstructured.Unstructured) (string, error) {
	objs := make([]map[string]any, 0, len(samples))
	for _, s := range samples {
		s.SetNamespace("") // the console creates them in the namespace the user picks
		objs = append(objs, s.Object)
	}
	data, err := json.MarshalIndent(objs, "", "  ")
	return string(data), err
}

// installStrategy turns the Deployment and the bound RBAC into the CSV's
// deployment strategy, with the manager image pinned to o.image.
func installStrategy(o options, p *parts) operatorsv1alpha1.StrategyDetailsDeployment {
	var s operatorsv1alpha1.StrategyDetailsDeployment
	for _, d := range p.deployments {
		spec := *d.Spec.DeepCopy()
		for i := range spec.Template.Spec.Containers {
			if spec.Template.Spec.Containers[i].Name == "manager" {
				spec.Template.Spec.Containers[i].Image = o.image
			}
		}
		s.DeploymentSpecs = append(s.DeploymentSpecs, operatorsv1alpha1.StrategyDeploymentSpec{
			Name: d.Name, Spec: spec, Label: d.Labels,
		})
	}
	for _, sa := range slices.Sorted(maps.Keys(p.permissions)) {
		s.Permissions = append(s.Permissions, operatorsv1alpha1.StrategyDeploymentPermissions{ServiceAccountName: sa, Rules: p.permissions[sa]})
	}
	for _, sa := range slices.Sorted(maps.Keys(p.clusterPermissions)) {
		s.ClusterPermissions = append(s.ClusterPermissions, operatorsv1alpha1.StrategyDeploymentPermissions{ServiceAccountName: sa, Rules: p.clusterPermissions[sa]})
	}
	return s
}
