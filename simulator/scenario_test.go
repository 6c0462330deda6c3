package simulator

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// scenarioWant is a scenario's want.yaml: the options to compile with, the
// findings that must appear, and probes with their expected decisions.
type scenarioWant struct {
	Options struct {
		RootNamespace         string   `json:"rootNamespace"`
		TrustDomain           string   `json:"trustDomain"`
		TrustDomainAliases    []string `json:"trustDomainAliases"`
		CustomProviderVerdict string   `json:"customProviderVerdict"`
		// ExtensionProviders, when set, are the mesh config's providers.
		ExtensionProviders *[]string `json:"extensionProviders"`
		// IstioVersion and WildcardTLS describe istiod (LoadOptions.Istio).
		IstioVersion string `json:"istioVersion"`
		WildcardTLS  bool   `json:"wildcardTLS"`
	} `json:"options"`
	Issues []wantIssue `json:"issues"`
	Probes []probe     `json:"probes"`
}

// wantIssue matches a finding by severity, object, field prefix and a
// message substring; empty fields match anything.
type wantIssue struct {
	Severity Severity `json:"severity"`
	Object   string   `json:"object"`
	Field    string   `json:"field"`
	Contains string   `json:"contains"`
}

func (w wantIssue) matches(i Issue) bool {
	return (w.Severity == "" || w.Severity == i.Severity) &&
		(w.Object == "" || w.Object == i.Object) &&
		strings.HasPrefix(i.Field, w.Field) &&
		strings.Contains(i.Message, w.Contains)
}

// probe is a request plus what the decision must say; unset expectations
// are not checked.
type probe struct {
	RequestSpec
	Name       string  `json:"name"`
	Verdict    Verdict `json:"verdict"`
	Policy     *string `json:"policy"`
	Rule       *int    `json:"rule"`
	EnforcedAt string  `json:"enforcedAt"`
	Protocol   string  `json:"protocol"`
	Reason     string  `json:"reason"`
	DryRun     string  `json:"dryRun"`
	Audited    string  `json:"audited"`
	Provider   string  `json:"provider"`
	Error      string  `json:"error"`
}

// TestScenarios runs every testdata/<case>: the manifests in input/ (or
// input.yaml) are compiled with the options of want.yaml, the listed
// findings must be reported, every error finding must be expected, and each
// probe must get the wanted decision.
func TestScenarios(t *testing.T) {
	dirs, err := filepath.Glob("testdata/*/want.yaml")
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no scenarios found: %v", err)
	}
	for _, wantFile := range dirs {
		dir := filepath.Dir(wantFile)
		t.Run(filepath.Base(dir), func(t *testing.T) { runScenario(t, dir) })
	}
}

func runScenario(t *testing.T, dir string) {
	want := readWant(t, filepath.Join(dir, "want.yaml"))
	input := filepath.Join(dir, "input")
	if _, err := os.Stat(input); err != nil {
		input += ".yaml"
	}
	istio := Istio{WildcardTLS: want.Options.WildcardTLS}
	if v := want.Options.IstioVersion; v != "" {
		var err error
		if istio.Version, err = ParseIstioVersion(v); err != nil {
			t.Fatal(err)
		}
	}
	sources, err := ReadSources(nil, input)
	if err != nil {
		t.Fatal(err)
	}
	snap, issues, err := LoadSources(LoadOptions{Istio: istio}, sources)
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	opts := Options{RootNamespace: want.Options.RootNamespace, TrustDomain: want.Options.TrustDomain,
		TrustDomainAliases: want.Options.TrustDomainAliases, CustomProviderVerdict: Verdict(want.Options.CustomProviderVerdict)}
	if p := want.Options.ExtensionProviders; p != nil {
		opts.ExtensionProviders, opts.ExtensionProvidersKnown = *p, true
	}
	prog, found := Compile(snap, opts)
	issues = append(issues, found...)
	checkIssues(t, issues, want.Issues)
	for i, p := range want.Probes {
		name := p.Name
		if name == "" {
			name = strings.TrimSpace(p.Method + " " + p.URL + p.Host + " from " + p.From)
		}
		t.Run(strings.ReplaceAll(name, "/", "_"), func(t *testing.T) { runProbe(t, prog, i, p, opts) })
	}
}

func readWant(t *testing.T, path string) scenarioWant {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var w scenarioWant
	if err := yaml.UnmarshalStrict(data, &w); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return w
}

func checkIssues(t *testing.T, got Issues, want []wantIssue) {
	t.Helper()
	for _, w := range want {
		if !anyIssue(got, w) {
			t.Errorf("missing finding %+v; got:\n%s", w, renderIssues(got))
		}
	}
	for _, i := range got.Filter(SeverityError) {
		expected := false
		for _, w := range want {
			expected = expected || w.matches(i)
		}
		if !expected {
			t.Errorf("unexpected error finding: %s", i)
		}
	}
}

func anyIssue(got Issues, w wantIssue) bool {
	return slices.ContainsFunc(got, w.matches)
}

func renderIssues(is Issues) string {
	var b strings.Builder
	for _, i := range is {
		b.WriteString("  " + i.String() + "\n")
	}
	return b.String()
}

func runProbe(t *testing.T, prog *Program, i int, p probe, opts Options) {
	p.Explain = true
	req, err := p.Build(opts.withDefaults().TrustDomain)
	if err == nil {
		var d Decision
		d, err = prog.Eval(req)
		if err == nil {
			checkDecision(t, i, p, d)
			return
		}
	}
	if p.Error == "" || !strings.Contains(err.Error(), p.Error) {
		t.Fatalf("probe %d: error %v, want error containing %q", i, err, p.Error)
	}
}

func checkDecision(t *testing.T, i int, p probe, d Decision) {
	t.Helper()
	fail := func(what string, got, want any) {
		t.Errorf("probe %d: %s = %v, want %v\n  reason: %s\n  trace:\n    %s", i, what, got, want, d.Reason, strings.Join(d.Trace, "\n    "))
	}
	if p.Error != "" {
		fail("error", nil, p.Error)
	}
	if p.Verdict != "" && d.Verdict != p.Verdict {
		fail("verdict", d.Verdict, p.Verdict)
	}
	if p.Policy != nil && d.DecidingPolicy != *p.Policy {
		fail("decidingPolicy", d.DecidingPolicy, *p.Policy)
	}
	if p.Rule != nil && d.Rule != *p.Rule {
		fail("rule", d.Rule, *p.Rule)
	}
	checkContains := []struct{ what, got, want string }{
		{"enforcedAt", string(d.EnforcedAt), p.EnforcedAt},
		{"protocol", d.Protocol, p.Protocol},
		{"reason", d.Reason, p.Reason},
		{"dryRun", strings.Join(d.DryRun, "; "), p.DryRun},
		{"audited", strings.Join(d.Audited, "; "), p.Audited},
		{"customProvider", d.CustomProvider, p.Provider},
	}
	for _, c := range checkContains {
		if c.want != "" && !strings.Contains(c.got, c.want) {
			fail(c.what, c.got, c.want)
		}
	}
}
