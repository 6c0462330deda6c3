package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The seed as config/samples/seed has it, and the waypoint configuration the
// real istiod generates for it (captured by the end-to-end TestVerifySeed,
// which also fails when istiod's output drifts from this file).
const (
	seedSamples    = "../../config/samples/seed"
	seedConfigDump = "testdata/verify/seed-config-dump.json"
)

// TestVerifySeedGolden: the simulator agrees with istiod's RBAC for the
// seed on every request of the set.
func TestVerifySeedGolden(t *testing.T) {
	code, out, errOut := runCLI(t, "verify", "-f", seedSamples, "--config-dump", seedConfigDump)
	if code != exitOK {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	golden(t, "verify-seed.txt", out)
}

// TestVerifyDisagreements: a dump whose ALLOW rule says POST where the
// manifests say GET, and manifests with a DENY policy the dump does not
// have, each give their disagreements and exit 1.
func TestVerifyDisagreements(t *testing.T) {
	data, err := os.ReadFile(seedConfigDump)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	post := filepath.Join(dir, "post.json")
	if n := strings.Count(string(data), `"exact": "GET"`); n != 1 {
		t.Fatalf("the seed's dump names GET %d times, want 1 (the HTTP chain's rule 1)", n)
	}
	if err := os.WriteFile(post, []byte(strings.ReplaceAll(string(data), `"exact": "GET"`, `"exact": "POST"`)), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := runCLI(t, "verify", "-f", seedSamples, "--config-dump", post)
	if code != exitDisagree {
		t.Fatalf("exit %d, want %d\n%s%s", code, exitDisagree, out, errOut)
	}
	golden(t, "verify-post.txt", out)

	deny := writeFile(t, dir, "deny.yaml", `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: no-post, namespace: istio-egress}
spec:
  targetRefs: [{kind: ServiceEntry, group: networking.istio.io, name: httpbin.org}]
  action: DENY
  rules: [{to: [{operation: {methods: [POST]}}]}]
`)
	code, out, errOut = runCLI(t, "verify", "-f", seedSamples, "-f", deny, "--config-dump", seedConfigDump)
	if code != exitDisagree || !strings.Contains(out, "DISAGREE  httpbin.org:80 POST /get from cluster.local/ns/default/sa/admin: simulator DENY") {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
}

// TestVerifyBadInput: the dump is named in every error, with exit 2.
func TestVerifyBadInput(t *testing.T) {
	dir := t.TempDir()
	notDump := writeFile(t, dir, "not-a-dump.json", `{"configs": [{"@type": "type.googleapis.com/envoy.admin.v3.ClustersConfigDump"}]}`)
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"no dump", []string{"verify", "-f", seedSamples}, "--config-dump: give the waypoint's configuration dump"},
		{"missing file", []string{"verify", "-f", seedSamples, "--config-dump", filepath.Join(dir, "nope.json")}, "nope.json"},
		{"no listeners", []string{"verify", "-f", seedSamples, "--config-dump", notDump}, "not-a-dump.json: the config dump has no type.googleapis.com/envoy.admin.v3.ListenersConfigDump"},
		{"not JSON", []string{"verify", "-f", seedSamples, "--config-dump", seedSamples + "/10-egressgateway.yaml"}, "not an Envoy config dump"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := runCLI(t, tc.args...)
			if code != exitBadInput || !strings.Contains(errOut, tc.want) {
				t.Fatalf("exit %d, want %d with %q\n%s%s", code, exitBadInput, tc.want, out, errOut)
			}
		})
	}
}

// TestVerifyMaxSources: the sources are bounded and spread evenly, and the
// output says how many of them sent requests.
func TestVerifyMaxSources(t *testing.T) {
	var b strings.Builder
	for i := range 200 {
		fmt.Fprintf(&b, "---\napiVersion: v1\nkind: ServiceAccount\nmetadata: {name: sa%03d, namespace: default}\n", i)
	}
	accounts := writeFile(t, t.TempDir(), "accounts.yaml", b.String())
	code, out, errOut := runCLI(t, "verify", "-f", seedSamples, "-f", accounts, "--config-dump", seedConfigDump, "--max-sources", "10")
	if code != exitOK || !strings.Contains(out, "requests from 10 of the 202 sources in the inputs (--max-sources)") ||
		!strings.Contains(out, "compared 48 requests") {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	if code, _, errOut := runCLI(t, "verify", "-f", seedSamples, "--config-dump", seedConfigDump, "--max-sources", "-1"); code != exitBadInput ||
		!strings.Contains(errOut, "--max-sources") {
		t.Fatalf("exit %d: %s", code, errOut)
	}
}
