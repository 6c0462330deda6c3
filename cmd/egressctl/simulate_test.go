package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ambient-egress/ambient-egress-operator/simulator/reach/scalegen"
)

// Scenarios shipped with the reachability report's tests.
const (
	reachSeed    = "../../simulator/reach/testdata/seed/input"
	reachProbes  = "../../simulator/reach/testdata/seed/probes.yaml"
	reachSeedTLS = "../../simulator/reach/testdata/seed-tls/input"
)

// simulateJSON is the part of the JSON contract the acceptance checks read.
type simulateJSON struct {
	Destinations []struct {
		Host           string
		Port           int
		TLSOrigination *struct {
			Mode string
			Port int
		}
	}
	Reachability []struct {
		Destination  string
		Sources      []string
		OtherSources bool
		Access       string
		Allowed      []map[string]any
	}
	Probes []struct{ Verdict string }
}

func simulate(t *testing.T, wantCode int, args ...string) simulateJSON {
	t.Helper()
	code, out, errOut := runCLI(t, append([]string{"simulate", "-o", "json"}, args...)...)
	if code != wantCode {
		t.Fatalf("exit %d, want %d; stderr: %s", code, wantCode, errOut)
	}
	var got simulateJSON
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("output is not JSON: %v\n%s", err, out)
	}
	return got
}

// Acceptance 1 of the reachability issue: admin may do anything on
// httpbin.org:80, every other source exactly GET /get; every probe matches.
func TestSimulateSeed(t *testing.T) {
	got := simulate(t, exitOK, "-f", reachSeed, "--probes", reachProbes)
	if len(got.Reachability) != 2 {
		t.Fatalf("want two entries, got %+v", got.Reachability)
	}
	other, admin := got.Reachability[0], got.Reachability[1]
	if !other.OtherSources || other.Access != "partial" || len(other.Allowed) != 1 ||
		!sameJSON(other.Allowed[0], `{"methods":["GET"],"paths":["/get"],"policy":"istio-egress/httpbin","rule":1}`) {
		t.Errorf("other sources (default/default): %+v", other)
	}
	if admin.Access != "all" || len(admin.Sources) != 1 || admin.Sources[0] != "cluster.local/ns/default/sa/admin" {
		t.Errorf("admin: %+v", admin)
	}
	if len(got.Probes) != 5 {
		t.Errorf("want 5 probes answered, got %d", len(got.Probes))
	}
}

func TestSimulateSeedTLS(t *testing.T) {
	got := simulate(t, exitOK, "-f", reachSeed, "-f", reachSeedTLS)
	tls := got.Destinations[0].TLSOrigination
	if tls == nil || tls.Mode != "SIMPLE" || tls.Port != 443 {
		t.Errorf("want TLS origination SIMPLE to 443, got %+v", got.Destinations)
	}
}

func TestSimulateProbeMismatch(t *testing.T) {
	probes := writeFile(t, t.TempDir(), "probes.yaml", `probes:
- {from: cluster.local/ns/default/sa/default, method: POST, url: http://httpbin.org/post, verdict: ALLOW}
`)
	code, _, errOut := runCLI(t, "simulate", "-f", reachSeed, "--probes", probes)
	if code != exitMismatch || !strings.Contains(errOut, "do not match") {
		t.Fatalf("exit %d, stderr %s", code, errOut)
	}
}

func TestSimulateFormatsAndBadInput(t *testing.T) {
	for _, f := range []string{"table", "yaml", "dot", "mermaid"} {
		if code, out, errOut := runCLI(t, "simulate", "-f", reachSeed, "-o", f); code != exitOK || out == "" {
			t.Errorf("-o %s: exit %d, stderr %s", f, code, errOut)
		}
	}
	for _, args := range [][]string{{"simulate"}, {"simulate", "-f", reachSeed, "-o", "xml"},
		{"simulate", "-f", reachSeed, "--probes", "missing.yaml"}} {
		if code, _, _ := runCLI(t, args...); code != exitBadInput {
			t.Errorf("%v: exit %d, want %d", args, code, exitBadInput)
		}
	}
}

// diff exits 1 when the change opens access and 0 when it only closes it.
func TestDiff(t *testing.T) {
	dir := t.TempDir()
	opened := copySeed(t, filepath.Join(dir, "opened"), `methods: ["GET"]`, `methods: ["GET", "POST"]`)
	closed := copySeed(t, filepath.Join(dir, "closed"), `sa/admin"]`, `sa/nobody"]`)
	code, out, errOut := runCLI(t, "diff", reachSeed, opened)
	if code != exitOpens || !strings.Contains(out, "+ POST /get") {
		t.Errorf("opening change: exit %d\n%s\n%s", code, out, errOut)
	}
	code, out, errOut = runCLI(t, "diff", reachSeed, closed)
	if code != exitOK || !strings.Contains(out, "default/admin  all -> partial") || strings.Contains(out, "+ ") {
		t.Errorf("closing change: exit %d\n%s\n%s", code, out, errOut)
	}
	if code, out, _ := runCLI(t, "diff", reachSeed, reachSeed); code != exitOK || !strings.Contains(out, "no change") {
		t.Errorf("no change: exit %d\n%s", code, out)
	}
	code, out, _ = runCLI(t, "diff", "-o", "json", reachSeed, opened)
	var got struct {
		Opens   bool
		Changes []struct{ Opened []map[string]any }
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil || code != exitOpens || !got.Opens || len(got.Changes) != 1 ||
		!sameJSON(got.Changes[0].Opened[0], `{"methods":["POST"],"paths":["/get"],"policy":"istio-egress/httpbin","rule":1}`) {
		t.Errorf("diff -o json: exit %d, %v\n%s", code, err, out)
	}
}

// copySeed copies the seed scenario into dir, replacing from with to in
// its policy.
func copySeed(t *testing.T, dir, from, to string) string {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	files, err := filepath.Glob(filepath.Join(reachSeed, "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		text := strings.Replace(string(data), from, to, 1)
		writeFile(t, dir, filepath.Base(f), text)
	}
	return dir
}

func sameJSON(v any, want string) bool {
	got, err := json.Marshal(v)
	return err == nil && string(got) == want
}

// The probes simulate answers agree with check run on the same request.
func TestSimulateProbesAgreeWithCheck(t *testing.T) {
	got := simulate(t, exitOK, "-f", reachSeed, "--probes", reachProbes)
	requests := [][]string{
		{"--from", "cluster.local/ns/default/sa/default", "--method", "GET", "--url", "http://httpbin.org/get"},
		{"--from", "cluster.local/ns/default/sa/default", "--method", "POST", "--url", "http://httpbin.org/post"},
		{"--from", "cluster.local/ns/default/sa/default", "--method", "GET", "--url", "http://httpbin.org/headers"},
		{"--from", "cluster.local/ns/default/sa/admin", "--method", "POST", "--url", "http://httpbin.org/post"},
		{"--from", "cluster.local/ns/default/sa/admin", "--method", "DELETE", "--url", "http://httpbin.org/anything"},
	}
	if len(got.Probes) != len(requests) {
		t.Fatalf("%d probes answered, want %d", len(got.Probes), len(requests))
	}
	for i, req := range requests {
		code, out, errOut := runCLI(t, append([]string{"check", "-f", reachSeed, "-o", "json"}, req...)...)
		var d struct{ Verdict string }
		if code != exitOK || json.Unmarshal([]byte(out), &d) != nil {
			t.Fatalf("check %v: exit %d, %s", req, code, errOut)
		}
		if d.Verdict != got.Probes[i].Verdict {
			t.Errorf("probe %d: simulate says %s, check says %s", i, got.Probes[i].Verdict, d.Verdict)
		}
	}
}

// TestSimulateBudget: past --max-work the report still comes out (exit 0),
// with the destination inexact and a ReportTooComplex finding in the table.
func TestSimulateBudget(t *testing.T) {
	dir := t.TempDir()
	manifests := "apiVersion: v1\nkind: Namespace\nmetadata: {name: istio-egress}\n---\n" +
		"apiVersion: egress.ambient.io/v1alpha1\nkind: EgressGateway\nmetadata: {name: waypoint, namespace: istio-egress}\nspec: {enrollNamespace: true}\n---\n" +
		"apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {name: httpbin.org, namespace: istio-egress}\n" +
		"spec: {hosts: [httpbin.org], ports: [{number: 80, name: http, protocol: HTTP}], resolution: DNS}\n" +
		scalegen.AdversarialPolicies("deny-interleaved", "istio-egress", "httpbin.org", 20, 1)
	path := filepath.Join(dir, "adversarial.yaml")
	if err := os.WriteFile(path, []byte(manifests), 0o600); err != nil {
		t.Fatal(err)
	}
	got := simulate(t, exitOK, "-f", path, "--max-work", "1000")
	for _, e := range got.Reachability {
		if e.Access != "unknown" {
			t.Errorf("entry %+v: want access unknown past the budget", e)
		}
	}
	code, out, errOut := runCLI(t, "simulate", "-f", path, "--max-work", "1000")
	if code != exitOK || !strings.Contains(out, "ReportTooComplex") {
		t.Fatalf("exit %d, want 0 and a ReportTooComplex finding; stdout:\n%s\nstderr: %s", code, out, errOut)
	}
	if code, _, errOut := runCLI(t, "simulate", "-f", path, "--max-work", "-1"); code != exitBadInput || !strings.Contains(errOut, "--max-work") {
		t.Fatalf("--max-work -1: exit %d (%s), want %d naming the flag", code, errOut, exitBadInput)
	}
}

// TestSimulateUsesTheGatewaysSimulationSpec: egressctl reads an
// EgressGateway's spec.simulation as the operator does: its sources
// selector picks the callers (here a namespace that is not ambient), and
// its probes are answered.
func TestSimulateUsesTheGatewaysSimulationSpec(t *testing.T) {
	dir := t.TempDir()
	manifests := `apiVersion: v1
kind: Namespace
metadata: {name: team, labels: {egress-callers: "yes"}}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: app, namespace: team}
---
apiVersion: v1
kind: Namespace
metadata: {name: mesh, labels: {istio.io/dataplane-mode: ambient}}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: other, namespace: mesh}
---
apiVersion: v1
kind: Namespace
metadata: {name: istio-egress}
---
apiVersion: egress.ambient.io/v1alpha1
kind: EgressGateway
metadata: {name: waypoint, namespace: istio-egress}
spec:
  simulation:
    sources: {matchLabels: {egress-callers: "yes"}}
    probes: [{from: cluster.local/ns/team/sa/app, method: GET, host: httpbin.org, path: /get}]
---
` + seedSE + "---\n" + seedAP
	path := filepath.Join(dir, "m.yaml")
	if err := os.WriteFile(path, []byte(manifests), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := runCLI(t, "simulate", "-f", path, "-o", "json")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var got struct {
		Groups []struct{ Principals []string }
		Probes []struct{ Name, Verdict string }
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatal(err)
	}
	var principals []string
	for _, g := range got.Groups {
		principals = append(principals, g.Principals...)
	}
	slices.Sort(principals)
	want := []string{"cluster.local/ns/team/sa/app", "cluster.local/ns/team/sa/default"}
	if !slices.Equal(principals, want) {
		t.Errorf("sources %v, want the selected namespace's %v (not the ambient one's)", principals, want)
	}
	if len(got.Probes) != 1 || got.Probes[0].Verdict != "ALLOW" {
		t.Errorf("probes %+v, want the gateway's GET /get answered ALLOW", got.Probes)
	}
}
