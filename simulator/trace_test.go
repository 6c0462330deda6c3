package simulator

import (
	"slices"
	"testing"
)

// TestTraceSteps: an explained evaluation lists its steps as data (stage,
// policy, rule, matched) in the order the enforcement point takes them,
// ending with the decision that sets the verdict; Trace is their text.
func TestTraceSteps(t *testing.T) {
	snap, _, err := Load("testdata/actions/input.yaml")
	if err != nil {
		t.Fatal(err)
	}
	prog, _ := Compile(snap, Options{})
	for _, tc := range []struct {
		name   string
		spec   RequestSpec
		stages []string
		last   TraceStep
	}{
		{"allowed by a rule", RequestSpec{From: "cluster.local/ns/default/sa/admin", Method: "GET", URL: "http://api.example.com/x"},
			[]string{StageDestination, StageCustom, StageDeny, StageAllow, StageDecision},
			TraceStep{Stage: StageDecision, Policy: "istio-egress/allow-admin", Rule: 0, Matched: true}},
		{"denied by a DENY rule", RequestSpec{From: "cluster.local/ns/default/sa/admin", Method: "POST", URL: "http://api.example.com/x"},
			[]string{StageDestination, StageCustom, StageDeny, StageDecision},
			TraceStep{Stage: StageDecision, Policy: "istio-egress/block-admin-post", Rule: 0, Matched: true}},
		{"no ALLOW rule matched", RequestSpec{From: "cluster.local/ns/default/sa/default", Method: "POST", URL: "http://api.example.com/x"},
			[]string{StageDestination, StageCustom, StageDeny, StageAllow, StageAllow, StageDecision},
			TraceStep{Stage: StageDecision, Policy: "istio-egress/allow-admin", Rule: -1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, err := tc.spec.Build(DefaultTrustDomain)
			if err != nil {
				t.Fatal(err)
			}
			req.Explain = true
			d, err := prog.Eval(req)
			if err != nil {
				t.Fatal(err)
			}
			var stages []string
			for _, s := range d.Steps {
				stages = append(stages, s.Stage)
			}
			if !slices.Equal(stages, tc.stages) {
				t.Errorf("stages %v, want %v\n%v", stages, tc.stages, d.Trace)
			}
			last := d.Steps[len(d.Steps)-1]
			last.Text = ""
			if last != tc.last || last.Policy != d.DecidingPolicy || last.Rule != d.Rule {
				t.Errorf("last step %+v, want %+v (decision %s rule %d)", last, tc.last, d.DecidingPolicy, d.Rule)
			}
			if len(d.Trace) != len(d.Steps) {
				t.Fatalf("%d trace lines for %d steps", len(d.Trace), len(d.Steps))
			}
			for i, s := range d.Steps {
				if d.Trace[i] != s.Text || s.Text == "" {
					t.Errorf("trace line %d %q, step text %q", i, d.Trace[i], s.Text)
				}
			}
		})
	}
}
