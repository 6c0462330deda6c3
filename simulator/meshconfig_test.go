package simulator

import (
	"reflect"
	"strings"
	"testing"
)

func TestParseMeshConfig(t *testing.T) {
	// Istio's default mesh config defines no extension provider.
	defaults := Options{RootNamespace: DefaultRootNamespace, TrustDomain: DefaultTrustDomain, ExtensionProvidersKnown: true}
	for _, tc := range []struct {
		name, data string
		want       Options
		err        string
	}{
		{name: "empty document", data: "", want: defaults},
		{name: "only comments", data: "# nothing here\n", want: defaults},
		{name: "other fields only", data: "accessLogFile: /dev/stdout\ndefaultConfig:\n  discoveryAddress: istiod:15012\n", want: defaults},
		{name: "custom trust domain and aliases", data: "trustDomain: example.org\ntrustDomainAliases: [old.example, cluster.local]\nrootNamespace: mesh-root\n",
			want: Options{RootNamespace: "mesh-root", TrustDomain: "example.org", TrustDomainAliases: []string{"old.example", "cluster.local"}, ExtensionProvidersKnown: true}},
		{name: "extension providers", data: "extensionProviders:\n- name: ext-authz\n  envoyExtAuthzHttp: {service: authz.example.svc.cluster.local, port: 8000}\n- name: opa\n  envoyExtAuthzGrpc: {service: opa.example.svc.cluster.local, port: 9191}\n",
			want: Options{RootNamespace: DefaultRootNamespace, TrustDomain: DefaultTrustDomain, ExtensionProviders: []string{"ext-authz", "opa"}, ExtensionProvidersKnown: true}},
		{name: "empty values keep the defaults", data: "trustDomain: \"\"\nrootNamespace: \"\"\n", want: defaults},
		// istiod decodes with unknown fields allowed, so a field from a
		// newer Istio does not invalidate the rest.
		{name: "unknown field", data: "trustDomain: a.example\nnotAField: 3\n", want: Options{RootNamespace: DefaultRootNamespace, TrustDomain: "a.example", ExtensionProvidersKnown: true}},
		{name: "wrong type", data: "trustDomainAliases: old.example\n", want: defaults, err: "mesh config"},
		{name: "not YAML", data: "trustDomain: [\n", want: defaults, err: "not YAML"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseMeshConfig(tc.data)
			if tc.err == "" && err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			if tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)) {
				t.Fatalf("error = %v, want one containing %q", err, tc.err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestMeshConfigMapName(t *testing.T) {
	for rev, want := range map[string]string{"": "istio", "default": "istio", "canary": "istio-canary", "1-31": "istio-1-31"} {
		if got := MeshConfigMapName(rev); got != want {
			t.Errorf("MeshConfigMapName(%q) = %q, want %q", rev, got, want)
		}
	}
}
