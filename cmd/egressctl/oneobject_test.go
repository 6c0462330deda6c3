package main

import (
	"bytes"
	"strings"
	"testing"
)

// TestOneObjectSeedReportsAsTheSeed: the seed written as one EgressGateway
// (config/samples/seed-one-object: the destination and its access) gives
// the report of the hand-written seed (config/samples/seed: ServiceEntry and
// AuthorizationPolicy), byte for byte apart from the policy's name.
func TestOneObjectSeedReportsAsTheSeed(t *testing.T) {
	t.Chdir("../..")
	report := func(dir string) string {
		var out, errOut bytes.Buffer
		if code := run([]string{"simulate", "-f", dir, "-o", "json"}, &out, &errOut); code != exitOK {
			t.Fatalf("simulate %s: exit %d: %s", dir, code, errOut.String())
		}
		return out.String()
	}
	seed := report("config/samples/seed")
	one := strings.ReplaceAll(report("config/samples/seed-one-object"), "istio-egress/httpbin.org-access", "istio-egress/httpbin")
	if one != seed {
		t.Errorf("the one-object seed's report differs from the seed's:\n%s\n---\n%s", one, seed)
	}
}
