package reach

import (
	"fmt"
	"os"
	"strings"

	"sigs.k8s.io/yaml"

	"github.com/ambient-egress/ambient-egress-operator/simulator"
)

// Probe is a request to answer beside the report, optionally with the
// verdict and deciding policy it must get (a policy unit test).
type Probe struct {
	simulator.RequestSpec
	// Name labels the probe; a description is derived when empty.
	Name string `json:"name,omitempty"`
	// Verdict is the expected verdict, ALLOW or DENY, if any.
	Verdict string `json:"verdict,omitempty"`
	// Policy is the expected deciding policy ("namespace/name", "" for
	// none), if set.
	Policy *string `json:"policy,omitempty"`
}

// probeFile is the format of a probes file: the one of the seed scenario's
// expected.yaml.
type probeFile struct {
	Probes []Probe `json:"probes"`
}

// LoadProbes reads a probes file.
func LoadProbes(path string) ([]Probe, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read probes: %w", err)
	}
	var f probeFile
	if err := yaml.UnmarshalStrict(data, &f); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(f.Probes) == 0 {
		return nil, fmt.Errorf("%s: no probes (want probes: [{from, method, url, verdict, policy}, ...])", path)
	}
	for i, p := range f.Probes {
		// A typo in an expectation must not read as a failed probe: it is
		// a bad file, not a verdict that differs.
		switch strings.ToUpper(p.Verdict) {
		case "", "ALLOW", "DENY":
		default:
			return nil, fmt.Errorf("%s: probes[%d].verdict: %q is not ALLOW or DENY", path, i, p.Verdict)
		}
	}
	return f.Probes, nil
}

// expandProbes asks a probe without a caller (no from, not plaintext, no
// source namespace) once per source group, from the group's first
// principal: every principal of a group has the same access everywhere, so
// one answers for all. That is how the EgressGateway's spec.simulation.probes
// ask "who may send this request" without naming every workload.
func expandProbes(probes []Probe, groups []Group) []Probe {
	out := make([]Probe, 0, len(probes))
	for _, p := range probes {
		if p.From != "" || p.Plaintext || p.SourceNamespace != "" || len(groups) == 0 {
			out = append(out, p)
			continue
		}
		for _, g := range groups {
			if len(g.Principals) == 0 {
				continue
			}
			q := p
			q.From = g.Principals[0]
			q.Name = probeName(q)
			if g.Count > 1 {
				q.Name += fmt.Sprintf(" (group %s, %d sources)", g.Name, g.Count)
			}
			if p.Name != "" {
				q.Name = p.Name + ": " + q.Name
			}
			out = append(out, q)
		}
	}
	return out
}

// answerProbes evaluates each probe with Program.Eval, the engine egressctl
// check uses, so the answers agree with check by construction.
func answerProbes(prog *simulator.Program, probes []Probe) []ProbeResult {
	out := make([]ProbeResult, 0, len(probes))
	for _, p := range probes {
		out = append(out, answerProbe(prog, p))
	}
	return out
}

func answerProbe(prog *simulator.Program, p Probe) ProbeResult {
	res := ProbeResult{Name: probeName(p), Expected: strings.ToUpper(p.Verdict), Rule: -1, Match: true}
	if p.Policy != nil {
		res.ExpectedPolicy = *p.Policy
	}
	req, err := p.Build(prog.Settings().TrustDomain)
	if err == nil {
		var d simulator.Decision
		if d, err = prog.Eval(req); err == nil {
			res.Verdict, res.Policy, res.Rule, res.Reason = string(d.Verdict), d.DecidingPolicy, d.Rule, d.Reason
			res.Match = (res.Expected == "" || res.Expected == res.Verdict) && (p.Policy == nil || *p.Policy == d.DecidingPolicy)
			return res
		}
	}
	res.Error, res.Match = err.Error(), false
	return res
}

func probeName(p Probe) string {
	if p.Name != "" {
		return p.Name
	}
	target := p.URL
	if target == "" {
		target = p.Host + p.Path
	}
	from := p.From
	if p.Plaintext {
		from = "plaintext"
	}
	return strings.TrimSpace(strings.TrimSpace(p.Method+" "+target) + " from " + from)
}
