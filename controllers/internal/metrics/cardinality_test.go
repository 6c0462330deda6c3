package metrics

import (
	"fmt"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ambient-egress/ambient-egress-operator/simulator/reach"
)

// TestCardinality: the series a gateway's report makes are bounded by the
// finding codes, whatever the number of findings, sources or destinations
// behind them; a report without a code drops its series; a deleted
// gateway leaves none.
func TestCardinality(t *testing.T) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(ReachabilityPairs, Findings, DirectEgress)
	series := func() int {
		families, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, f := range families {
			n += len(f.GetMetric())
		}
		return n
	}
	var findings []reach.Finding
	for i := range 5000 {
		code := []string{reach.CodeDirectEgressOpen, reach.CodeRuleNeverMatches, reach.CodeShadowedByDeny}[i%3]
		findings = append(findings, reach.Finding{Code: code, Severity: reach.SeverityWarning, Object: fmt.Sprintf("AuthorizationPolicy ns/p%d", i)})
	}
	for g := range 3 {
		RecordReport("ns", fmt.Sprintf("gw%d", g), 1000, 2000, 3000, 4000, findings)
	}
	// Per gateway: 3 access values, 3 codes, 1 direct-egress series.
	if got, want := series(), 3*(3+3+1); got != want {
		t.Errorf("%d series for 3 gateways with 5,000 findings each, want %d", got, want)
	}
	RecordReport("ns", "gw0", 1, 0, 0, 0, findings[:1])
	if got, want := series(), 3*(3+3+1)-2; got != want {
		t.Errorf("%d series after a report with one code, want %d", got, want)
	}
	for g := range 3 {
		ForgetGateway("ns", fmt.Sprintf("gw%d", g))
	}
	if got := series(); got != 0 {
		t.Errorf("%d series left after the gateways were deleted", got)
	}
}
