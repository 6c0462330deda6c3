package simulator

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"

	"github.com/ambient-egress/ambient-egress-operator/hack/crds"
)

// TestEgressGatewayValidationMatchesAPIServer runs the cases the envtest
// sends to the real API server (config/crd/testdata/validation-cases.yaml)
// through the loader: the same specs are refused with the same messages,
// and the valid ones load.
func TestEgressGatewayValidationMatchesAPIServer(t *testing.T) {
	data, err := os.ReadFile("../config/crd/testdata/validation-cases.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Cases []struct{ Name, Spec, Message string } `json:"cases"`
	}
	if err := yaml.Unmarshal(data, &f); err != nil {
		t.Fatal(err)
	}
	if len(f.Cases) < 20 {
		t.Fatalf("only %d cases", len(f.Cases))
	}
	for i, tc := range f.Cases {
		t.Run(tc.Name, func(t *testing.T) {
			doc := fmt.Sprintf("apiVersion: egress.ambient.io/v1alpha1\nkind: EgressGateway\nmetadata: {name: case-%d, namespace: ns}\nspec: %s\n", i, tc.Spec)
			snap, issues, err := Parse("cases.yaml", []byte(doc))
			if err != nil {
				t.Fatal(err)
			}
			errs := issues.Filter(SeverityError)
			switch {
			case tc.Message == "" && len(errs) > 0:
				t.Fatalf("valid spec refused: %v", errs.Err())
			case tc.Message == "" && len(snap.EgressGateways) != 1:
				t.Fatalf("valid spec not loaded: %v", issues)
			case tc.Message == "":
			case len(errs) == 0:
				t.Fatalf("invalid spec accepted, want %q", tc.Message)
			case !strings.Contains(errs.Err().Error(), tc.Message) || !strings.Contains(errs.Err().Error(), "cases.yaml:1"):
				t.Fatalf("refused with\n  %v\nwant the file, line and %q", errs.Err(), tc.Message)
			}
		})
	}
}

// TestStrictLoading: what the loader refuses, and that --ignore-unknown
// turns unknown documents into warnings.
func TestStrictLoading(t *testing.T) {
	const ap = "apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: p, namespace: ns}\nspec: {}\n"
	se := func(spec string) string {
		return "apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {name: s, namespace: ns}\nspec: " + spec + "\n"
	}
	cases := []struct {
		name, doc string
		want      []string // parts of the error, "" for none
	}{
		{"typo'd kind", strings.Replace(ap, "AuthorizationPolicy", "AuthorisationPolicy", 1), []string{"f.yaml:1", "AuthorisationPolicy", "did you mean AuthorizationPolicy?"}},
		{"unknown version", strings.Replace(ap, "/v1", "/v2", 1), []string{"not served at version \"v2\"", "served: v1, v1beta1"}},
		{"unknown group", strings.Replace(ap, "security.istio.io", "securty.istio.io", 1), []string{"API group \"securty.istio.io\""}},
		{"no apiVersion", strings.Replace(ap, "apiVersion: security.istio.io/v1\n", "", 1), []string{"apiVersion missing"}},
		{"no kind", strings.Replace(ap, "kind: AuthorizationPolicy\n", "", 1), []string{"kind missing"}},
		{"no envelope", "probes: []\n", []string{"apiVersion and kind missing", "document 1"}},
		{"second document", "apiVersion: v1\nkind: Namespace\nmetadata: {name: ns}\n---\n" + strings.Replace(ap, "v1\nkind: A", "v9\nkind: A", 1), []string{"f.yaml:5", "document 2"}},
		{"upper-case gateway name", "apiVersion: egress.ambient.io/v1alpha1\nkind: EgressGateway\nmetadata: {name: Waypoint, namespace: ns}\nspec: {}\n", []string{"metadata.name", "lower case"}},
		{"unknown gateway field", "apiVersion: egress.ambient.io/v1alpha1\nkind: EgressGateway\nmetadata: {name: w, namespace: ns}\nspec: {waypoint: {replica: 2}}\n", []string{"spec.waypoint.replica", "unknown field"}},
		{"service entry port above 65535", se("{hosts: [a.example], ports: [{number: 99999, name: http, protocol: HTTP}], resolution: DNS}"), []string{"spec.ports[0].number", "port must be between 1-65535"}},
		{"service entry target port above 65535", se("{hosts: [a.example], ports: [{number: 80, name: http, protocol: HTTP, targetPort: 70000}], resolution: DNS}"), []string{"spec.ports[0].targetPort"}},
		{"service entry without hosts", se("{ports: [{number: 80, name: http, protocol: HTTP}], resolution: DNS}"), []string{"spec.hosts: Required value"}},
		{"service entry duplicate port", se("{hosts: [a.example], ports: [{number: 80, name: a, protocol: HTTP}, {number: 80, name: b, protocol: HTTP}]}"), []string{"port number cannot be duplicated"}},
		{"service entry wildcard host with DNS", se("{hosts: [\"*.a.example\"], ports: [{number: 80, name: http, protocol: HTTP}], resolution: DNS}"), []string{"hosts[0]", "must be FQDN", "DNS"}},
		{"policy with 17 targetRefs", strings.Replace(ap, "spec: {}", "spec: {targetRefs: ["+strings.Repeat("{kind: ServiceEntry, group: networking.istio.io, name: s}, ", 16)+"{kind: ServiceEntry, group: networking.istio.io, name: s}]}", 1), []string{"spec.targetRefs", "must have at most 16 items"}},
		{"policy unknown field", strings.Replace(ap, "spec: {}", "spec: {rule: []}", 1), []string{"spec.rule", "unknown field"}},
		{"valid", ap, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, issues, err := LoadSources(LoadOptions{}, []Source{{Name: "f.yaml", Data: []byte(tc.doc)}})
			if err != nil {
				t.Fatal(err)
			}
			errs := issues.Filter(SeverityError)
			if len(tc.want) == 0 {
				if len(errs) > 0 {
					t.Fatalf("refused: %v", errs.Err())
				}
				return
			}
			if len(errs) == 0 {
				t.Fatalf("accepted, want an error with %q", tc.want)
			}
			for _, w := range tc.want {
				if !strings.Contains(errs.Err().Error(), w) {
					t.Errorf("error %v does not say %q", errs.Err(), w)
				}
			}
			if !strings.Contains(errs.Err().Error(), "--ignore-unknown") {
				return // the API server's refusals are not unknown documents
			}
			_, issues, err = LoadSources(LoadOptions{IgnoreUnknown: true}, []Source{{Name: "f.yaml", Data: []byte(tc.doc)}})
			if err != nil || issues.HasErrors() || len(issues.Filter(SeverityWarning)) == 0 {
				t.Errorf("--ignore-unknown: err %v, issues %v: want warnings only", err, issues)
			}
		})
	}
}

// TestLoaderRefusals are the errors that stop a load: duplicate keys,
// malformed YAML and input without objects, each naming where.
func TestLoaderRefusals(t *testing.T) {
	cases := []struct {
		name, data string
		want       []string
	}{
		{"duplicate key", "apiVersion: v1\nkind: Namespace\nmetadata: {name: a}\nmetadata: {name: b}\n", []string{"f.yaml:1: document 1", "malformed YAML", "metadata"}},
		{"duplicate key in the second document", "apiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n---\napiVersion: v1\nkind: Namespace\nkind: Namespace\n", []string{"f.yaml:5: document 2"}},
		{"bad YAML", "apiVersion: v1\nkind: [Namespace\n", []string{"f.yaml:1: document 1", "malformed YAML"}},
		{"empty", "", []string{"no objects", "f.yaml"}},
		{"only separators and comments", "---\n# nothing\n---\n", []string{"no objects"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := LoadSources(LoadOptions{}, []Source{{Name: "f.yaml", Data: []byte(tc.data)}})
			if err == nil {
				t.Fatalf("loaded, want an error with %q", tc.want)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
		})
	}
	if _, err := ReadSources(nil, t.TempDir()); err == nil || !strings.Contains(err.Error(), "no .yaml") {
		t.Errorf("empty directory: %v", err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "a.yaml"), []byte("apiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	src, err := ReadSources(strings.NewReader("apiVersion: v1\nkind: Namespace\nmetadata: {name: b}\n"), dir, "-", "-")
	if err != nil || len(src) != 2 || src[1].Name != StdinName {
		t.Fatalf("a directory and stdin twice: %v, %+v", err, src)
	}
}

// TestKnownAPIsMatchTheCRDs: for the Istio, Gateway API and EgressGateway
// groups the table of known kinds is exactly what the CRDs at the pinned
// versions serve.
func TestKnownAPIsMatchTheCRDs(t *testing.T) {
	paths, err := crds.Paths(context.Background(), "..")
	if err != nil {
		t.Fatalf("locating the CRDs in the module cache: %v", err)
	}
	served := map[string]knownAPI{}
	err = walkCRDs(paths, func(c *apiextensionsv1.CustomResourceDefinition) {
		if _, ours := knownAPIs[c.Spec.Group]; !ours {
			return
		}
		if served[c.Spec.Group] == nil {
			served[c.Spec.Group] = knownAPI{}
		}
		for _, v := range c.Spec.Versions {
			if v.Served {
				served[c.Spec.Group][c.Spec.Names.Kind] = append(served[c.Spec.Group][c.Spec.Names.Kind], v.Name)
			}
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	for group, kinds := range served {
		for kind, versions := range kinds {
			slices.Sort(versions)
			known := slices.Sorted(slices.Values(knownAPIs[group][kind]))
			if !slices.Equal(versions, known) {
				t.Errorf("%s %s: the CRD serves %v, the table knows %v", group, kind, versions, known)
			}
		}
		for kind := range knownAPIs[group] {
			if _, ok := kinds[kind]; !ok {
				t.Errorf("%s %s is in the table but no CRD serves it", group, kind)
			}
		}
	}
	for _, g := range []string{groupSecurity, groupNetworking, groupGateway, groupEgress} {
		if served[g] == nil {
			t.Errorf("no CRD of group %s found in %v", g, paths)
		}
	}
}

func walkCRDs(paths []string, visit func(*apiextensionsv1.CustomResourceDefinition)) error {
	for _, p := range paths {
		files, err := manifestFiles(p)
		if err != nil {
			return err
		}
		for _, f := range files {
			data, err := os.ReadFile(f)
			if err != nil {
				return err
			}
			r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
			for {
				chunk, err := r.Read()
				if err != nil {
					break
				}
				var c apiextensionsv1.CustomResourceDefinition
				if yaml.Unmarshal(chunk, &c) == nil && c.Kind == "CustomResourceDefinition" {
					visit(&c)
				}
			}
		}
	}
	return nil
}

// TestIstioCRDCopyIsCurrent: the Istio CRDs egressctl embeds are the ones
// the pinned istio.io/api ships (make manifests regenerates them).
func TestIstioCRDCopyIsCurrent(t *testing.T) {
	path, err := crds.IstioFile(context.Background(), "..")
	if err != nil {
		t.Fatalf("locating istio.io/api in the module cache: %v", err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	want, err := crds.Extract(data, crds.SimulatorKinds...)
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile("../config/crd/istio/istio-crds.gen.yaml")
	if err != nil {
		t.Fatal(err)
	}
	_, body, _ := bytes.Cut(got, []byte("\n"))
	if !bytes.Equal(body, want) {
		t.Fatal("config/crd/istio/istio-crds.gen.yaml differs from istio.io/api's CRDs: run make manifests")
	}
}

// TestOlderGatewayWinsTheNamespace: of two EgressGateways enrolling one
// namespace, the older one binds it, as the operator decides, whatever
// the file order; without creation times the name decides.
func TestOlderGatewayWinsTheNamespace(t *testing.T) {
	gw := func(name, waypoint, created string) string {
		ts := ""
		if created != "" {
			ts = ", creationTimestamp: " + created
		}
		return fmt.Sprintf("apiVersion: egress.ambient.io/v1alpha1\nkind: EgressGateway\nmetadata: {name: %s, namespace: egress%s}\nspec: {waypoint: {name: %s}}\n", name, ts, waypoint)
	}
	se := "apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {name: api, namespace: egress}\nspec: {hosts: [api.example.com], ports: [{number: 80, name: http, protocol: HTTP}], resolution: DNS}\n"
	ns := "apiVersion: v1\nkind: Namespace\nmetadata: {name: egress}\n"
	cases := []struct {
		name, docs, want string
	}{
		{"older second in the file", ns + "---\n" + gw("a-new", "wp-new", "2026-02-01T00:00:00Z") + "---\n" + gw("z-old", "wp-old", "2026-01-01T00:00:00Z") + "---\n" + se, "egress/wp-old"},
		{"older first in the file", ns + "---\n" + gw("z-old", "wp-old", "2026-01-01T00:00:00Z") + "---\n" + gw("a-new", "wp-new", "2026-02-01T00:00:00Z") + "---\n" + se, "egress/wp-old"},
		{"no creation times: the name", ns + "---\n" + gw("zz", "wp-z", "") + "---\n" + gw("aa", "wp-a", "") + "---\n" + se, "egress/wp-a"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			snap, issues, err := Parse("f.yaml", []byte(tc.docs))
			if err != nil || issues.HasErrors() {
				t.Fatalf("%v %v", err, issues)
			}
			prog, _ := Compile(snap, Options{})
			d, err := prog.Eval(&Request{Principal: "cluster.local/ns/x/sa/y", DestHost: "api.example.com", Port: 80, HTTP: true, Method: "GET", Path: "/", Host: "api.example.com"})
			if err != nil {
				t.Fatal(err)
			}
			if d.Waypoint != tc.want {
				t.Fatalf("waypoint %q, want %q (%s)", d.Waypoint, tc.want, d.Reason)
			}
		})
	}
}

// TestDeclaredDestinationConflict: a ServiceEntry the gateway does not own,
// with the name a declared destination needs, is what takes effect (the
// operator never overwrites it and reports a Conflict), in either file
// order, and the simulator says so.
func TestDeclaredDestinationConflict(t *testing.T) {
	gw := "apiVersion: egress.ambient.io/v1alpha1\nkind: EgressGateway\nmetadata: {name: waypoint, namespace: egress}\n" +
		"spec: {destinations: [{host: api.example.com, ports: [{number: 80, protocol: HTTP}]}]}\n"
	snap, _, err := Parse("probe.yaml", []byte(gw))
	if err != nil || len(snap.ServiceEntries) != 1 {
		t.Fatalf("the declared destination: %v %v", err, snap)
	}
	name := snap.ServiceEntries[0].Name
	user := fmt.Sprintf("apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {name: %s, namespace: egress}\n"+
		"spec: {hosts: [api.example.com], ports: [{number: 8080, name: http, protocol: HTTP}], resolution: DNS}\n", name)
	for _, docs := range []string{gw + "---\n" + user, user + "---\n" + gw} {
		snap, issues, err := Parse("f.yaml", []byte(docs))
		if err != nil || issues.HasErrors() {
			t.Fatalf("%v %v", err, issues)
		}
		if len(snap.ServiceEntries) != 1 || snap.ServiceEntries[0].Spec.GetPorts()[0].GetNumber() != 8080 {
			t.Fatalf("the user's ServiceEntry does not take effect: %+v", snap.ServiceEntries)
		}
		_, found := Compile(snap, Options{})
		if !slices.ContainsFunc(found, func(is Issue) bool {
			return is.Severity == SeverityWarning && strings.Contains(is.Message, "DestinationsReady=False/Conflict")
		}) {
			t.Errorf("no Conflict warning: %v", found)
		}
	}
}
