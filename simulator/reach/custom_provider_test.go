package reach

import (
	"os"
	"slices"
	"testing"
)

// TestUnknownCustomProvider: a CUSTOM policy whose provider the mesh config
// does not define is enforced as DENY rules (simulator testdata
// custom-unknown-provider cites istiod's builder), in the report as in
// check, and flagged; once the mesh defines the provider, neither.
func TestUnknownCustomProvider(t *testing.T) {
	data, err := os.ReadFile("../testdata/custom-unknown-provider/input.yaml")
	if err != nil {
		t.Fatal(err)
	}
	manifests := string(data) + "---\n" + seedCallers
	for _, tc := range []struct {
		providers []string
		flagged   bool
	}{
		{[]string{"ext-authz"}, true},
		{nil, true}, // Istio's default mesh config defines none
		{[]string{"ext-authz", "opa"}, false},
	} {
		in := parseInput(t, manifests)
		in.Options.ExtensionProviders, in.Options.ExtensionProvidersKnown = tc.providers, true
		r, _ := Build(in)
		flagged := slices.ContainsFunc(r.Findings, func(f Finding) bool {
			return f.Code == CodeUnknownCustomProvider && f.Object == "AuthorizationPolicy istio-egress/ext-authz"
		})
		if flagged != tc.flagged {
			t.Errorf("providers %v: UnknownCustomProvider reported %v, want %v: %+v", tc.providers, flagged, tc.flagged, r.Findings)
		}
		t.Run("agrees with check", func(t *testing.T) { checkAgreementN(t, in, true, 1000) })
	}
}
