package reach

import (
	"strings"
	"testing"

	"github.com/ambient-egress/ambient-egress-operator/simulator"
)

// A probe without a caller is asked once per source group, and each answer
// agrees with the same probe asked from the group's principal.
func TestProbeWithoutCallerAsksEveryGroup(t *testing.T) {
	in := loadScenario(t, "testdata/seed")
	in.Probes = []Probe{
		{RequestSpec: simulator.RequestSpec{Method: "POST", URL: "http://httpbin.org/post"}},
		{RequestSpec: simulator.RequestSpec{Plaintext: true, Method: "GET", URL: "http://httpbin.org/get"}},
	}
	r, _ := Build(in)
	if len(r.Groups) < 2 {
		t.Fatalf("seed has %d groups, want at least 2", len(r.Groups))
	}
	if got, want := len(r.Probes), len(r.Groups)+1; got != want {
		t.Fatalf("got %d probe answers, want one per group (%d) plus the plaintext one: %+v", got, len(r.Groups), r.Probes)
	}
	verdicts := map[string]string{}
	for _, p := range r.Probes[:len(r.Groups)] {
		if p.Error != "" {
			t.Fatalf("probe %q: %s", p.Name, p.Error)
		}
		verdicts[p.Name] = p.Verdict
	}
	for _, g := range r.Groups {
		single := in
		single.Probes = []Probe{{RequestSpec: simulator.RequestSpec{From: g.Principals[0], Method: "POST", URL: "http://httpbin.org/post"}}}
		want, _ := Build(single)
		found := false
		for name, v := range verdicts {
			if strings.Contains(name, "from "+g.Principals[0]) {
				found = true
				if v != want.Probes[0].Verdict {
					t.Errorf("group %s: expanded probe says %s, the same probe from %s says %s", g.Name, v, g.Principals[0], want.Probes[0].Verdict)
				}
			}
		}
		if !found {
			t.Errorf("no probe answer names group %s's principal %s: %v", g.Name, g.Principals[0], verdicts)
		}
	}
	if last := r.Probes[len(r.Probes)-1]; !strings.Contains(last.Name, "from plaintext") {
		t.Errorf("the plaintext probe must be asked once, as given; got %q", last.Name)
	}
	seen := map[string]bool{}
	for _, p := range r.Probes {
		if p.Verdict == "ALLOW" {
			seen["ALLOW"] = true
		} else {
			seen[p.Verdict] = true
		}
	}
	if !seen["ALLOW"] || !seen["DENY"] {
		t.Errorf("seed: admin may POST and default may not, want both verdicts among %+v", r.Probes)
	}
}
