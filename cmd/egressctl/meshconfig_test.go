package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCustomProviderFromMeshConfig: check and simulate read the mesh
// config's extensionProviders (or --extension-provider): a CUSTOM policy
// naming another provider is enforced as DENY rules and flagged, as istiod
// does; without either, every provider is assumed to exist.
func TestCustomProviderFromMeshConfig(t *testing.T) {
	input := "../../simulator/testdata/custom-unknown-provider/input.yaml"
	dir := t.TempDir()
	mesh := filepath.Join(dir, "istio.yaml")
	if err := os.WriteFile(mesh, []byte(`apiVersion: v1
kind: ConfigMap
metadata: {name: istio, namespace: istio-system}
data:
  mesh: |
    extensionProviders:
    - name: ext-authz
      envoyExtAuthzHttp: {service: authz.example.svc.cluster.local, port: 8000}
`), 0o600); err != nil {
		t.Fatal(err)
	}
	request := []string{"check", "-f", input, "--from", "cluster.local/ns/default/sa/default", "--method", "GET", "--url", "http://api.example.com/custom/a"}
	for _, tc := range []struct {
		name    string
		flags   []string
		verdict string
	}{
		{"no mesh config: the provider is assumed", nil, "ALLOW"},
		{"the mesh config lacks opa", []string{"--mesh-config", mesh}, "DENY"},
		{"--extension-provider lacks opa", []string{"--extension-provider", "ext-authz"}, "DENY"},
		{"--extension-provider names opa over the mesh config", []string{"--mesh-config", mesh, "--extension-provider", "opa"}, "ALLOW"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := runCLI(t, append(append([]string{}, request...), tc.flags...)...)
			if code != exitOK || !strings.Contains(out, "verdict:          "+tc.verdict) {
				t.Fatalf("exit %d, want verdict %s:\n%s%s", code, tc.verdict, out, errOut)
			}
			if tc.verdict == "DENY" && !strings.Contains(out, "extensionProviders") {
				t.Errorf("the reason does not say why:\n%s", out)
			}
		})
	}
	code, out, errOut := runCLI(t, "simulate", "-f", input, "--mesh-config", mesh)
	if code != exitOK || !strings.Contains(out, "UnknownCustomProvider") {
		t.Errorf("simulate: exit %d, no UnknownCustomProvider finding:\n%s%s", code, out, errOut)
	}
}
