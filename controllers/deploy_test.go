package controllers_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"
)

// csvPath is the generated ClusterServiceVersion: what OLM really installs.
const csvPath = "bundle/manifests/ambient-egress-operator.clusterserviceversion.yaml"

// readCSV decodes the bundle's CSV loosely, keeping only what these tests need.
func readCSV(t *testing.T) (deployment appsv1.DeploymentSpec, almExamples string) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(env.Root, csvPath))
	if err != nil {
		t.Fatal(err)
	}
	var csv struct {
		Metadata metav1.ObjectMeta `json:"metadata"`
		Spec     struct {
			Install struct {
				Spec struct {
					Deployments []struct {
						Spec appsv1.DeploymentSpec `json:"spec"`
					} `json:"deployments"`
				} `json:"spec"`
			} `json:"install"`
		} `json:"spec"`
	}
	if err := yaml.Unmarshal(data, &csv); err != nil {
		t.Fatalf("%s: %v", csvPath, err)
	}
	if len(csv.Spec.Install.Spec.Deployments) != 1 {
		t.Fatalf("%s: want one deployment in the install strategy", csvPath)
	}
	return csv.Spec.Install.Spec.Deployments[0].Spec, csv.Metadata.Annotations["alm-examples"]
}

// TestManagerPodPassesRestrictedPodSecurity creates a Pod from the manager
// Deployment's pod template in a namespace that enforces the restricted Pod
// Security Standard (what OpenShift's restricted-v2 SCC also demands), and a
// weakened copy that the API server's PodSecurity admission must reject.
func TestManagerPodPassesRestrictedPodSecurity(t *testing.T) {
	spec, _ := readCSV(t)
	ns := env.CreateNamespace(t, "restricted", map[string]string{"pod-security.kubernetes.io/enforce": "restricted"}).Name
	ctx := context.Background()
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: spec.Template.Spec.ServiceAccountName, Namespace: ns}}
	if err := env.Client.Create(ctx, sa); err != nil {
		t.Fatal(err)
	}

	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "manager", Namespace: ns, Labels: spec.Template.Labels},
		Spec:       *spec.Template.Spec.DeepCopy(),
	}
	if err := env.Client.Create(ctx, pod); err != nil {
		t.Fatalf("the manager pod was rejected by restricted Pod Security: %v", err)
	}

	weakened := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "weakened", Namespace: ns},
		Spec:       *spec.Template.Spec.DeepCopy(),
	}
	weakened.Spec.Containers[0].SecurityContext.AllowPrivilegeEscalation = new(true)
	err := env.Client.Create(ctx, weakened)
	if err == nil || !strings.Contains(err.Error(), "allowPrivilegeEscalation") {
		t.Fatalf("a copy allowing privilege escalation was not rejected for it: %v", err)
	}
}

// TestALMExamplesAreValid creates every alm-examples object of the CSV, as
// the OpenShift console would, so the examples never drift from the CRD.
func TestALMExamplesAreValid(t *testing.T) {
	_, examples := readCSV(t)
	var objs []map[string]any
	if err := json.Unmarshal([]byte(examples), &objs); err != nil {
		t.Fatalf("alm-examples is not a JSON array: %v", err)
	}
	if len(objs) < 2 {
		t.Fatalf("alm-examples has %d objects, want the seed and the autoscaling example", len(objs))
	}
	ns := env.CreateNamespace(t, "alm-examples", nil).Name
	for _, o := range objs {
		u := &unstructured.Unstructured{Object: o}
		u.SetNamespace(ns)
		if err := env.Client.Create(context.Background(), u); err != nil {
			t.Errorf("alm-examples %s %s: %v", u.GetKind(), u.GetName(), err)
		}
	}
}
