package controllers

import (
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/ambient-egress/ambient-egress-operator/simulator"
)

// TestIstiodDeployment: what istioOf reads from istiod Deployments as
// Istio's chart, older operators and other installers shape them.
func TestIstiodDeployment(t *testing.T) {
	dep := func(labels map[string]string, env []corev1.EnvVar, containers ...corev1.Container) *appsv1.Deployment {
		if len(containers) == 0 {
			containers = []corev1.Container{{Name: "discovery", Image: "docker.io/istio/pilot", Env: env}}
		}
		return &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Labels: labels},
			Spec: appsv1.DeploymentSpec{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{Containers: containers}}}}
	}
	image := func(ref string) corev1.Container { return corev1.Container{Name: "discovery", Image: ref} }
	flag := func(v string) []corev1.EnvVar { return []corev1.EnvVar{{Name: simulator.WildcardTLSFlag, Value: v}} }
	for _, tc := range []struct {
		name        string
		dep         *appsv1.Deployment
		version     string
		wildcardTLS bool
		note        string
	}{
		{"chart label", dep(map[string]string{"app.kubernetes.io/version": "1.29.2"}, nil), "1.29.2", false, ""},
		{"the label wins over the tag", dep(map[string]string{"app.kubernetes.io/version": "1.29.2"}, nil, image("istio/pilot:1.28.0")), "1.29.2", false, ""},
		{"older operator label", dep(map[string]string{"operator.istio.io/version": "1.27.1"}, nil), "1.27.1", false, ""},
		{"image tag with a suffix", dep(nil, nil, image("gcr.io/istio-release/pilot:1.30.1-distroless")), "1.30.1", false, ""},
		{"registry with a port", dep(nil, nil, image("registry.example:5000/istio/pilot:1.28.4")), "1.28.4", false, ""},
		{"registry port, no tag", dep(nil, nil, image("registry.example:5000/istio/pilot")), "unknown", false, "has no version tag"},
		{"digest only", dep(nil, nil, image("registry.redhat.io/openshift-service-mesh/istio-pilot-rhel9@sha256:0123")), "unknown", false, "has no version tag"},
		{"tag and digest", dep(nil, nil, image("istio/pilot:1.29.0@sha256:0123")), "1.29.0", false, ""},
		{"no discovery container among several", dep(nil, nil, corev1.Container{Name: "init", Image: "x:1.29"}, corev1.Container{Name: "sidecar", Image: "y:1.0"}), "unknown", false, "no discovery container"},
		{"a single container of another name", dep(nil, nil, corev1.Container{Name: "pilot", Image: "istio/pilot:1.29.1"}), "1.29.1", false, ""},
		{"flag on", dep(map[string]string{"app.kubernetes.io/version": "1.29.2"}, flag("true")), "1.29.2", true, ""},
		{"flag 1", dep(map[string]string{"app.kubernetes.io/version": "1.29.2"}, flag("1")), "1.29.2", true, ""},
		{"flag off", dep(map[string]string{"app.kubernetes.io/version": "1.29.2"}, flag("false")), "1.29.2", false, ""},
		{"flag not a boolean", dep(map[string]string{"app.kubernetes.io/version": "1.29.2"}, flag("yes")), "1.29.2", false, `"yes" is not a boolean`},
		{"flag from a ConfigMap", dep(map[string]string{"app.kubernetes.io/version": "1.29.2"},
			[]corev1.EnvVar{{Name: simulator.WildcardTLSFlag, ValueFrom: &corev1.EnvVarSource{}}}), "1.29.2", false, "set --istio-wildcard-tls"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v, vnote := deploymentVersion(tc.dep)
			on, fnote := deploymentWildcardTLS(tc.dep)
			note := vnote + fnote
			if v.String() != tc.version || on != tc.wildcardTLS || (tc.note == "") != (note == "") || !strings.Contains(note, tc.note) {
				t.Errorf("version %s, wildcard TLS %t, note %q; want %s, %t, %q", v, on, note, tc.version, tc.wildcardTLS, tc.note)
			}
		})
	}
}
