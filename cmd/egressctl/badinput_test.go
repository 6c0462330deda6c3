package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// badInputCase is one malformed or invalid input: the files to write (by
// name), what to read on stdin, the command, and what the error must name.
type badInputCase struct {
	name  string
	files map[string]string
	stdin string
	args  []string // "DIR" stands for the directory the files are in
	want  []string
}

const (
	seedNS = "apiVersion: v1\nkind: Namespace\nmetadata: {name: default, labels: {istio.io/dataplane-mode: ambient}}\n---\n" +
		"apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: admin, namespace: default}\n---\n"
	seedGW = "apiVersion: egress.ambient.io/v1alpha1\nkind: EgressGateway\nmetadata: {name: waypoint, namespace: istio-egress}\nspec: {enrollNamespace: true}\n"
	seedSE = "apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {name: httpbin.org, namespace: istio-egress}\n" +
		"spec: {hosts: [httpbin.org], ports: [{number: 80, name: http, protocol: HTTP}], resolution: DNS}\n"
	seedAP = "apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: httpbin, namespace: istio-egress}\n" +
		"spec: {targetRefs: [{kind: ServiceEntry, group: networking.istio.io, name: httpbin.org}], rules: [{to: [{operation: {methods: [GET]}}]}]}\n"
)

// seedWith is the seed with one document replaced by doc (or added when
// which is "").
func seedWith(which, doc string) string {
	docs := map[string]string{"gw": seedGW, "se": seedSE, "ap": seedAP}
	if which != "" {
		docs[which] = doc
	}
	out := seedNS + docs["gw"] + "---\n" + docs["se"] + "---\n" + docs["ap"]
	if which == "" {
		out += "---\n" + doc
	}
	return out
}

func badInputCases(t *testing.T) []badInputCase {
	se := func(spec string) string {
		return "apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {name: httpbin.org, namespace: istio-egress}\nspec: " + spec + "\n"
	}
	ap := func(spec string) string {
		return "apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: httpbin, namespace: istio-egress}\nspec: " + spec + "\n"
	}
	cases := []badInputCase{
		{name: "typo'd kind", files: map[string]string{"seed.yaml": seedWith("ap", strings.Replace(seedAP, "AuthorizationPolicy", "AuthorisationPolicy", 1))},
			want: []string{"seed.yaml:", "document 5", "did you mean AuthorizationPolicy?"}},
		{name: "wrong group", files: map[string]string{"seed.yaml": seedWith("ap", strings.Replace(seedAP, "security.istio.io/v1", "securty.istio.io/v1", 1))},
			want: []string{"seed.yaml:", "securty.istio.io"}},
		{name: "unserved version", files: map[string]string{"seed.yaml": seedWith("ap", strings.Replace(seedAP, "security.istio.io/v1", "security.istio.io/v2", 1))},
			want: []string{"seed.yaml:", "v2"}},
		{name: "no apiVersion or kind", files: map[string]string{"seed.yaml": seedWith("", "metadata: {name: x}\n")}, want: []string{"seed.yaml:", "document 6", "apiVersion and kind missing"}},
		{name: "no kind", files: map[string]string{"seed.yaml": seedWith("", "apiVersion: v1\nmetadata: {name: x}\n")}, want: []string{"kind missing"}},
		{name: "duplicate key", files: map[string]string{"seed.yaml": seedWith("", "apiVersion: v1\nkind: Namespace\nkind: Namespace\nmetadata: {name: x}\n")}, want: []string{"seed.yaml:", "document 6", "malformed YAML"}},
		{name: "malformed YAML", files: map[string]string{"seed.yaml": seedWith("", "apiVersion: v1\nkind: [Namespace\n")}, want: []string{"seed.yaml:", "malformed YAML"}},
		{name: "empty file", files: map[string]string{"empty.yaml": ""}, want: []string{"no objects", "empty.yaml"}},
		{name: "only comments", files: map[string]string{"c.yaml": "# nothing\n---\n"}, want: []string{"no objects"}},
		{name: "empty directory", files: map[string]string{}, want: []string{"no .yaml"}},
		{name: "mesh config that does not decode", files: map[string]string{"s.yaml": seedWith("gw", seedGW), "mesh.yaml": "trustDomainAliases: old.example\n"},
			args: []string{"simulate", "-f", "DIR/s.yaml", "--mesh-config", "DIR/mesh.yaml"}, want: []string{"--mesh-config", "mesh.yaml", "mesh config"}},
		{name: "mesh ConfigMap without mesh key", files: map[string]string{"s.yaml": seedWith("gw", seedGW), "cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: istio}\ndata: {other: x}\n"},
			args: []string{"check", "-f", "DIR/s.yaml", "--mesh-config", "DIR/cm.yaml", "--url", "http://httpbin.org/get", "--method", "GET"}, want: []string{"cm.yaml", `no "mesh" key`}},
		{name: "missing mesh config", files: map[string]string{"s.yaml": seedWith("gw", seedGW)},
			args: []string{"diff", "DIR/s.yaml", "DIR/s.yaml", "--mesh-config", "DIR/nope.yaml"}, want: []string{"--mesh-config", "nope.yaml"}},
		{name: "/dev/null", args: []string{"simulate", "-f", "/dev/null"}, want: []string{"no objects", "/dev/null"}},
		{name: "empty stdin", args: []string{"simulate", "-f", "-"}, want: []string{"no objects", "<stdin>"}},
		{name: "bad stdin", stdin: seedWith("ap", strings.Replace(seedAP, "/v1", "/v3", 1)), args: []string{"simulate", "-f", "-"}, want: []string{"<stdin>:", "v3"}},
		{name: "missing file", args: []string{"simulate", "-f", "/nonexistent/x.yaml"}, want: []string{"/nonexistent/x.yaml"}},
		{name: "no -f", args: []string{"simulate"}, want: []string{"-f"}},
		{name: "unknown output", args: []string{"simulate", "-f", "DIR", "-o", "xml"}, files: map[string]string{"s.yaml": seedWith("", "")[:len(seedWith("", ""))-4]}, want: []string{"-o"}},
		{name: "negative budget", args: []string{"simulate", "-f", "DIR", "--max-work", "-5"}, files: map[string]string{"s.yaml": seedWith("gw", seedGW)}, want: []string{"--max-work"}},
		{name: "probe verdict typo", files: map[string]string{"s.yaml": seedWith("gw", seedGW), "probes.txt": "probes: [{from: cluster.local/ns/default/sa/admin, method: GET, url: http://httpbin.org/get, verdict: alow}]\n"},
			args: []string{"simulate", "-f", "DIR/s.yaml", "--probes", "DIR/probes.txt"}, want: []string{"probes.txt", "probes[0].verdict", "alow"}},
		{name: "probe file without probes", files: map[string]string{"s.yaml": seedWith("gw", seedGW), "probes.txt": "probes: []\n"},
			args: []string{"simulate", "-f", "DIR/s.yaml", "--probes", "DIR/probes.txt"}, want: []string{"no probes"}},
		{name: "service entry port 99999", files: map[string]string{"s.yaml": seedWith("se", se("{hosts: [httpbin.org], ports: [{number: 99999, name: http, protocol: HTTP}], resolution: DNS}"))},
			want: []string{"s.yaml:", "ServiceEntry istio-egress/httpbin.org", "spec.ports[0].number"}},
		{name: "service entry targetPort 70000", files: map[string]string{"s.yaml": seedWith("se", se("{hosts: [httpbin.org], ports: [{number: 80, name: http, protocol: HTTP, targetPort: 70000}], resolution: DNS}"))},
			want: []string{"spec.ports[0].targetPort"}},
		{name: "service entry without hosts", files: map[string]string{"s.yaml": seedWith("se", se("{ports: [{number: 80, name: http, protocol: HTTP}], resolution: DNS}"))},
			want: []string{"spec.hosts"}},
		{name: "service entry duplicate ports", files: map[string]string{"s.yaml": seedWith("se", se("{hosts: [httpbin.org], ports: [{number: 80, name: a, protocol: HTTP}, {number: 80, name: b, protocol: HTTP}]}"))},
			want: []string{"spec.ports", "duplicated"}},
		{name: "service entry unknown field", files: map[string]string{"s.yaml": seedWith("se", se("{hosts: [httpbin.org], port: [{number: 80}]}"))},
			want: []string{"spec.port", "unknown field"}},
		{name: "policy with 17 targetRefs", files: map[string]string{"s.yaml": seedWith("ap", ap("{targetRefs: ["+strings.Repeat("{kind: ServiceEntry, group: networking.istio.io, name: httpbin.org}, ", 16)+"{kind: ServiceEntry, group: networking.istio.io, name: httpbin.org}]}"))},
			want: []string{"spec.targetRefs", "16"}},
		{name: "policy empty operation", files: map[string]string{"s.yaml": seedWith("ap", ap("{targetRefs: [{kind: ServiceEntry, group: networking.istio.io, name: httpbin.org}], rules: [{to: [{operation: {}}]}]}"))},
			want: []string{"spec.rules[0].to[0].operation"}},
		{name: "policy bad action", files: map[string]string{"s.yaml": seedWith("ap", ap("{action: ALOW}"))}, want: []string{"AuthorizationPolicy istio-egress/httpbin", "ALOW"}},
		{name: "policy unknown field", files: map[string]string{"s.yaml": seedWith("ap", ap("{rule: []}"))}, want: []string{"spec.rule", "unknown field"}},
		{name: "gateway upper-case name", files: map[string]string{"s.yaml": seedWith("gw", strings.Replace(seedGW, "name: waypoint", "name: Waypoint", 1))},
			want: []string{"EgressGateway istio-egress/Waypoint", "metadata.name"}},
		{name: "gateway unknown field", files: map[string]string{"s.yaml": seedWith("gw", strings.Replace(seedGW, "enrollNamespace: true", "enrolNamespace: true", 1))},
			want: []string{"spec.enrolNamespace", "unknown field"}},
		{name: "check with typo'd kind", files: map[string]string{"seed.yaml": seedWith("ap", strings.Replace(seedAP, "AuthorizationPolicy", "AuthorisationPolicy", 1))},
			args: []string{"check", "-f", "DIR", "--from", "cluster.local/ns/default/sa/admin", "--url", "http://httpbin.org/post", "--method", "POST"},
			want: []string{"did you mean AuthorizationPolicy?"}},
		{name: "diff with typo'd kind", files: map[string]string{"old/s.yaml": seedWith("gw", seedGW), "new/s.yaml": seedWith("ap", strings.Replace(seedAP, "AuthorizationPolicy", "AuthorisationPolicy", 1))},
			args: []string{"diff", "DIR/old", "DIR/new"}, want: []string{"new/s.yaml:", "AuthorisationPolicy"}},
	}
	// Every EgressGateway spec the API server refuses (the cases the
	// envtest sends to it) is refused by egressctl too, naming the file.
	data, err := os.ReadFile("../../config/crd/testdata/validation-cases.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Cases []struct{ Name, Spec, Message string } `json:"cases"`
	}
	if err := yaml.Unmarshal(data, &f); err != nil {
		t.Fatal(err)
	}
	for _, vc := range f.Cases {
		if vc.Message == "" {
			continue
		}
		gw := fmt.Sprintf("apiVersion: egress.ambient.io/v1alpha1\nkind: EgressGateway\nmetadata: {name: waypoint, namespace: istio-egress}\nspec: %s\n", vc.Spec)
		cases = append(cases, badInputCase{name: "gateway: " + vc.Name, files: map[string]string{"gw.yaml": seedWith("gw", gw)},
			want: []string{"gw.yaml:", "EgressGateway istio-egress/waypoint", vc.Message}})
	}
	return cases
}

// TestBadInputExitsTwo: every malformed or invalid input ends in exit code
// 2 with the file, document or field named, and never in a report.
func TestBadInputExitsTwo(t *testing.T) {
	cases := badInputCases(t)
	if len(cases) < 40 {
		t.Fatalf("%d cases, want at least 40", len(cases))
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			for name, content := range tc.files {
				path := filepath.Join(dir, name)
				if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			args := tc.args
			if args == nil {
				args = []string{"simulate", "-f", "DIR"}
			}
			args = append([]string(nil), args...)
			for i := range args {
				args[i] = strings.ReplaceAll(args[i], "DIR", dir)
			}
			var out, errOut bytes.Buffer
			code := runWithInput(args, strings.NewReader(tc.stdin), &out, &errOut)
			if code != exitBadInput {
				t.Fatalf("exit %d, want %d; stdout:\n%s\nstderr:\n%s", code, exitBadInput, out.String(), errOut.String())
			}
			if out.Len() > 0 {
				t.Errorf("bad input printed a result:\n%s", out.String())
			}
			for _, w := range tc.want {
				if !strings.Contains(errOut.String(), w) {
					t.Errorf("stderr does not name %q:\n%s", w, errOut.String())
				}
			}
		})
	}
}

// TestIgnoreUnknownShowsAWarning: with --ignore-unknown the typo'd kind is
// left out, and every output format says so.
func TestIgnoreUnknownShowsAWarning(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "seed.yaml")
	if err := os.WriteFile(path, []byte(seedWith("ap", strings.Replace(seedAP, "AuthorizationPolicy", "AuthorisationPolicy", 1))), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, format := range []string{"table", "json", "yaml", "dot", "mermaid"} {
		code, out, errOut := runCLI(t, "simulate", "-f", path, "--ignore-unknown", "-o", format)
		if code != exitOK || !strings.Contains(out, "AuthorisationPolicy") {
			t.Errorf("-o %s: exit %d, want 0 and the ignored document in the output:\n%s\n%s", format, code, out, errOut)
		}
	}
	code, out, _ := runCLI(t, "check", "-f", path, "--ignore-unknown", "--from", "cluster.local/ns/default/sa/admin", "--url", "http://httpbin.org/post", "--method", "POST")
	if code != exitOK || !strings.Contains(out, "AuthorisationPolicy") {
		t.Errorf("check: exit %d, want 0 and the ignored document among the findings:\n%s", code, out)
	}
}
