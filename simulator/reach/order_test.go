package reach

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"

	"github.com/ambient-egress/ambient-egress-operator/simulator/reach/scalegen"
)

// TestReportIgnoresOrderAndNames is the order-independence property: the
// same objects in another order, with every AuthorizationPolicy renamed,
// give the same report: no destination's access changes (Diff finds no
// change in any entry's request space), and the findings are the same once
// the names are mapped back. Istio evaluates DENY before ALLOW whatever the
// names, and which of two ALLOW rules decides a request changes only which
// policy a cube names, never whether it is allowed.
func TestReportIgnoresOrderAndNames(t *testing.T) {
	cases := map[string]string{}
	for _, dir := range []string{"seed", "seed-tls", "mixed", "jwt"} {
		cases[dir] = readDir(t, filepath.Join("testdata", dir, "input"))
	}
	for seed := uint64(1); seed <= 4; seed++ {
		cases[fmt.Sprintf("generated-%d", seed)] = scalegen.Generate(scalegen.Config{Namespaces: 4, AccountsPerNS: 3, ServiceEntries: 5, Policies: 20, Seed: seed})
	}
	cases["deny-interleaved"] = adversarialManifests("deny-interleaved", 4, 9)
	cases["shadowed"] = advBase + shadowPolicies
	for name, manifests := range cases {
		t.Run(name, func(t *testing.T) {
			base, _ := Build(parseLenient(t, manifests))
			for trial := range uint64(5) {
				rng := rand.New(rand.NewPCG(trial, 99))
				shuffled, renames := shuffleAndRename(t, manifests, rng)
				got, _ := Build(parseLenient(t, shuffled))
				for _, c := range Diff(base, got).Changes {
					// Past the budget, Allowed over-approximates, and how
					// much depends on the order subtraction stopped in.
					if !c.Inexact {
						t.Fatalf("trial %d: the shuffled, renamed input changes access: %s", trial, changeSummary(c))
					}
				}
				want, have := findingKeys(base.Findings, nil), findingKeys(got.Findings, renames)
				if !slices.Equal(want, have) {
					t.Fatalf("trial %d: findings differ\n base:     %q\n shuffled: %q", trial, want, have)
				}
			}
		})
	}
}

// shadowPolicies has an ALLOW rule shadowed by a DENY rule, so the property
// covers ShadowedByDeny under renaming.
const shadowPolicies = `---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: a-allow, namespace: istio-egress}
spec:
  targetRefs: [{kind: ServiceEntry, group: networking.istio.io, name: httpbin.org}]
  rules: [{to: [{operation: {methods: [POST], paths: ["/admin/*"]}}]}, {to: [{operation: {methods: [GET]}}]}]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: m-deny, namespace: istio-egress}
spec:
  targetRefs: [{kind: ServiceEntry, group: networking.istio.io, name: httpbin.org}]
  action: DENY
  rules: [{to: [{operation: {paths: ["/admin/*"]}}]}]
`

func readDir(t *testing.T, dir string) string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		b.WriteString("---\n")
		b.Write(data)
		b.WriteString("\n")
	}
	return b.String()
}

// shuffleAndRename splits the manifests into documents, renames every
// AuthorizationPolicy to a name that sorts elsewhere, and shuffles the
// documents; renames maps "namespace/new" back to "namespace/old".
func shuffleAndRename(t *testing.T, manifests string, rng *rand.Rand) (string, map[string]string) {
	t.Helper()
	var docs []map[string]any
	r := utilyaml.NewYAMLReader(bufio.NewReader(strings.NewReader(manifests)))
	for {
		chunk, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		var doc map[string]any
		if err := yaml.Unmarshal(chunk, &doc); err != nil {
			t.Fatal(err)
		}
		if len(doc) > 0 {
			docs = append(docs, doc)
		}
	}
	renames := map[string]string{}
	for i, doc := range docs {
		if doc["kind"] != "AuthorizationPolicy" {
			continue
		}
		meta := doc["metadata"].(map[string]any)
		ns, _ := meta["namespace"].(string)
		if ns == "" {
			ns = "default"
		}
		old := meta["name"].(string)
		// A random prefix moves the policy anywhere in name order.
		name := fmt.Sprintf("p%03d-renamed-%d", rng.IntN(1000), i)
		meta["name"] = name
		renames[ns+"/"+name] = ns + "/" + old
	}
	rng.Shuffle(len(docs), func(i, j int) { docs[i], docs[j] = docs[j], docs[i] })
	var b bytes.Buffer
	for _, doc := range docs {
		data, err := yaml.Marshal(doc)
		if err != nil {
			t.Fatal(err)
		}
		b.WriteString("---\n")
		b.Write(data)
	}
	return b.String(), renames
}

// findingKeys renders findings with renamed policies mapped back, sorted.
func findingKeys(fs []Finding, renames map[string]string) []string {
	out := make([]string, 0, len(fs))
	for _, f := range fs {
		msg := f.Message
		if f.Code == CodeDryRun {
			// Whether enforcing it changes anything is order-independent;
			// the cubes that say what changes are a decomposition of the
			// space that follows the order of the rules.
			msg = strconv.FormatBool(strings.Contains(msg, "would change nothing"))
		}
		s := fmt.Sprintf("%s|%s|%s|%s|%s", f.Severity, f.Code, f.Object, f.Field, msg)
		for renamed, old := range renames {
			s = strings.ReplaceAll(s, renamed, old)
		}
		out = append(out, s)
	}
	slices.Sort(out)
	return out
}
