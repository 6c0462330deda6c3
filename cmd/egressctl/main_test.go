package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ambient-egress/ambient-egress-operator/simulator"
)

// seedDir is the seed scenario shipped with the simulator's tests.
const seedDir = "../../simulator/testdata/seed/input"

func runCLI(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(args, &out, &errOut)
	return code, out.String(), errOut.String()
}

// The acceptance commands of issue 3: the default caller's POST is denied by
// istio-egress/httpbin, the admin's POST is allowed.
func TestCheckSeedJSON(t *testing.T) {
	cases := []struct {
		from, verdict string
		rule          int
	}{
		{"cluster.local/ns/default/sa/default", "DENY", -1},
		{"cluster.local/ns/default/sa/admin", "ALLOW", 0},
	}
	for _, c := range cases {
		code, out, errOut := runCLI(t, "check", "-f", seedDir, "--from", c.from, "--method", "POST",
			"--url", "http://httpbin.org/post", "-o", "json")
		if code != exitOK {
			t.Fatalf("exit %d, stderr %s", code, errOut)
		}
		var got struct {
			Verdict, EnforcedAt, DecidingPolicy, Reason string
			Rule                                        int
			Trace                                       []string
			Steps                                       []simulator.TraceStep
		}
		if err := json.Unmarshal([]byte(out), &got); err != nil {
			t.Fatalf("output is not JSON: %v\n%s", err, out)
		}
		if got.Verdict != c.verdict || got.DecidingPolicy != "istio-egress/httpbin" || got.Rule != c.rule ||
			got.EnforcedAt != "waypoint" || got.Reason == "" || len(got.Trace) == 0 {
			t.Errorf("from %s: got %+v", c.from, got)
		}
		// The steps as data: the last one is the decision, naming the
		// deciding policy and rule; trace is their text.
		if n := len(got.Steps); n != len(got.Trace) || n == 0 || got.Steps[n-1].Stage != simulator.StageDecision ||
			got.Steps[n-1].Policy != got.DecidingPolicy || got.Steps[n-1].Rule != got.Rule {
			t.Errorf("from %s: steps %+v, trace %v", c.from, got.Steps, got.Trace)
		}
	}
}

func TestCheckExitCodes(t *testing.T) {
	dir := t.TempDir()
	badCIDR := writeFile(t, dir, "bad-cidr.yaml", `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: bad, namespace: istio-egress}
spec:
  action: DENY
  rules: [{from: [{source: {ipBlocks: ["10.0.0.0/33"]}}]}]
`)
	malformed := writeFile(t, dir, "malformed.yaml", "apiVersion: v1\nkind: Namespace\nmetadata: {name: [\n")
	base := []string{"check", "-f", seedDir, "--from", "cluster.local/ns/default/sa/default", "--url", "http://httpbin.org/post"}
	cases := []struct {
		name   string
		args   []string
		code   int
		stderr []string
	}{
		{"allowed GET", []string{"check", "-f", seedDir, "--from", "cluster.local/ns/default/sa/default",
			"--url", "http://httpbin.org/get", "--expect", "allow"}, exitOK, nil},
		{"expect mismatch", append(slices.Clip(base), "--method", "POST", "--expect", "ALLOW"), exitMismatch, []string{"expected ALLOW, got DENY"}},
		{"unknown --at", append(slices.Clip(base), "--at", "sidecar"), exitBadInput, []string{"at:", "sidecar"}},
		{"invalid CIDR", []string{"check", "-f", seedDir, "-f", badCIDR, "--plaintext", "--url", "http://httpbin.org/"},
			exitBadInput, []string{"bad-cidr.yaml", "spec.rules[0].from[0].source.ipBlocks[0]", "bad CIDR"}},
		{"malformed YAML", []string{"check", "-f", malformed, "--plaintext", "--url", "http://httpbin.org/"},
			exitBadInput, []string{"malformed.yaml", "document 1"}},
		{"no identity", []string{"check", "-f", seedDir, "--url", "http://httpbin.org/"}, exitBadInput, []string{"from"}},
		{"unknown flag", []string{"check", "--bogus"}, exitBadInput, []string{"bogus"}},
		{"missing file", []string{"check", "-f", filepath.Join(dir, "nope"), "--plaintext", "--host", "x"}, exitBadInput, []string{"nope"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, _, errOut := runCLI(t, c.args...)
			if code != c.code {
				t.Fatalf("exit %d, want %d; stderr: %s", code, c.code, errOut)
			}
			for _, s := range c.stderr {
				if !strings.Contains(errOut, s) {
					t.Errorf("stderr %q lacks %q", errOut, s)
				}
			}
		})
	}
}

// TestCheckIstioFlags: --istio-version and --istio-wildcard-tls decide, as
// the operator's reading of istiod does, whether an EgressGateway's TLS
// wildcard destination exists: without the flag it is not rendered and the
// connection bypasses the waypoint; with it the waypoint enforces access.
func TestCheckIstioFlags(t *testing.T) {
	egw := writeFile(t, t.TempDir(), "egw.yaml", `apiVersion: egress.ambient.io/v1alpha1
kind: EgressGateway
metadata: {name: waypoint, namespace: istio-egress}
spec:
  destinations:
  - host: "*.tls.example"
    ports: [{number: 443, protocol: TLS}]
    access: [{from: {serviceAccounts: [apps/uploader]}}]
`)
	base := []string{"check", "-f", egw, "--from", "cluster.local/ns/apps/sa/web", "--url", "https://bucket.tls.example/", "-o", "json"}
	for _, c := range []struct {
		name  string
		flags []string
		code  int
		want  string
	}{
		{"default istiod: not rendered, bypasses", nil, exitOK, `"enforcedAt": "none"`},
		{"with the flag: denied at the waypoint", []string{"--istio-wildcard-tls"}, exitOK, `"policy": "istio-egress/wildcard.tls.example-access"`},
		{"with the flag on 1.28: not rendered", []string{"--istio-wildcard-tls", "--istio-version", "1.28.4"}, exitOK, `"enforcedAt": "none"`},
		{"a version that is none", []string{"--istio-version", "latest"}, exitBadInput, `--istio-version: "latest" is not an Istio version`},
	} {
		t.Run(c.name, func(t *testing.T) {
			code, out, errOut := runCLI(t, append(slices.Clip(base), c.flags...)...)
			if code != c.code || !strings.Contains(out+errOut, c.want) {
				t.Fatalf("exit %d, want %d with %q\nstdout %s\nstderr %s", code, c.code, c.want, out, errOut)
			}
		})
	}
}

func TestCheckTextAndZtunnel(t *testing.T) {
	code, out, errOut := runCLI(t, "check", "-f", seedDir, "--plaintext", "--host", "db.data", "--port", "5432",
		"--at", "ztunnel", "--dest-namespace", "data", "--dest-labels", "app=db")
	if code != exitOK || !strings.Contains(out, "verdict:") || !strings.Contains(out, "ztunnel") {
		t.Fatalf("exit %d\nstdout %s\nstderr %s", code, out, errOut)
	}
}

func TestVersion(t *testing.T) {
	old := version
	version = "v1.2.3"
	defer func() { version = old }()
	code, out, _ := runCLI(t, "version")
	if code != exitOK || strings.TrimSpace(out) != "v1.2.3" {
		t.Fatalf("exit %d, output %q", code, out)
	}
}

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}
