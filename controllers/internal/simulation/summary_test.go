package simulation

import (
	"testing"

	egressv1alpha1 "github.com/ambient-egress/ambient-egress-operator/apis/egress/v1alpha1"
	"github.com/ambient-egress/ambient-egress-operator/simulator"
	"github.com/ambient-egress/ambient-egress-operator/simulator/reach"
	"github.com/ambient-egress/ambient-egress-operator/simulator/reach/scalegen"
)

// generatedReport simulates a scalegen configuration divided by div.
func generatedReport(t testing.TB, div int) *reach.Report {
	t.Helper()
	manifests := scalegen.Generate(scalegen.Scale(div))
	snap, _, err := simulator.Parse("generated.yaml", []byte(manifests))
	if err != nil {
		t.Fatal(err)
	}
	accounts, err := reach.ServiceAccountsIn([]byte(manifests))
	if err != nil {
		t.Fatal(err)
	}
	r, _ := reach.Build(reach.Input{Snapshot: snap, ServiceAccounts: accounts})
	return r
}

// pairsByDefinition counts pairs as their definition reads: for each
// destination and group, the first entry listing the group's first
// principal, else the other-sources entry, else none.
func pairsByDefinition(r *reach.Report) egressv1alpha1.AccessCounts {
	var c egressv1alpha1.AccessCounts
	for _, d := range r.Destinations {
		for _, g := range r.Groups {
			if len(g.Principals) == 0 {
				continue
			}
			access, other, found := reach.AccessNone, reach.AccessNone, false
			for _, e := range r.Reachability {
				if e.Destination != d.Key() {
					continue
				}
				if e.OtherSources {
					other = e.Access
					continue
				}
				for _, p := range e.Sources {
					if p == g.Principals[0] && !found {
						access, found = e.Access, true
					}
				}
			}
			if !found {
				access = other
			}
			switch access {
			case reach.AccessAll:
				c.All++
			case reach.AccessPartial, reach.AccessUnknown:
				c.Partial++
			default:
				c.None++
			}
		}
	}
	return c
}

func TestCountPairsAgreesWithItsDefinition(t *testing.T) {
	for _, div := range []int{100, 20} {
		r := generatedReport(t, div)
		var got egressv1alpha1.AccessCounts
		countPairs(r, &got)
		if want := pairsByDefinition(r); got != want {
			t.Errorf("div %d: countPairs %+v, by definition %+v", div, got, want)
		}
		if got.All+got.Partial+got.None == 0 {
			t.Errorf("div %d: no pairs counted", div)
		}
	}
}

// BenchmarkSummarizeFullSize: the summary of the full-size report, which a
// lookup of every group in every destination's entries made take seconds.
func BenchmarkSummarizeFullSize(b *testing.B) {
	r := generatedReport(b, 1)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		Summarize(r, 2000)
	}
}
