package reporting

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

// TestStatusMeasureIsExact: the status measured as the sum of its parts is
// the size of its JSON, for every cut of its lists.
func TestStatusMeasureIsExact(t *testing.T) {
	r := generatedReport(t, 100)
	st, _, _, err := Status(Run{Digest: "d", Report: r, Policies: 20}, 1<<30, "cm", "ns/waypoint")
	if err != nil {
		t.Fatal(err)
	}
	st.ReportConfigMap = "cm"
	m := &statusMeasure{st: st, lists: []*listField{
		newListField("reachability", st.Reachability),
		newListField("groups", st.Groups),
		newListField("probes", st.Probes),
		newListField("findings", st.Findings),
		newListField("direct", st.Direct),
	}}
	if len(st.Direct) == 0 {
		t.Fatal("the generated report has no direct entries to measure")
	}
	full := *st
	for _, k := range [][5]int{{0, 0, 0, 0, 0}, {1, 0, 0, 0, 1}, {0, 1, 0, 1, 0}, {len(st.Reachability), len(st.Groups), len(st.Probes), len(st.Findings), len(st.Direct)}, {3, 2, 0, 5, 1}} {
		cut := full
		cut.Reachability, cut.Groups, cut.Probes, cut.Findings, cut.Direct = full.Reachability[:min(k[0], len(full.Reachability))],
			full.Groups[:min(k[1], len(full.Groups))], full.Probes[:min(k[2], len(full.Probes))], full.Findings[:min(k[3], len(full.Findings))],
			full.Direct[:min(k[4], len(full.Direct))]
		lens := []int{len(cut.Reachability), len(cut.Groups), len(cut.Probes), len(cut.Findings), len(cut.Direct)}
		for i, l := range m.lists {
			l.n = lens[i]
		}
		if got, want := m.size(1<<30), jsonSize(&cut); got != want {
			t.Errorf("cut %v: measured %d bytes, the JSON has %d", lens, got, want)
		}
	}
}

// BenchmarkStatusFullSize renders the full-size report as status within the
// default budget: the cuts must not re-encode the report at every step.
func BenchmarkStatusFullSize(b *testing.B) {
	r := generatedReport(b, 1)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, _, _, err := Status(Run{Digest: "d", Report: r, Policies: 2000}, DefaultBudget, "cm", "ns/waypoint"); err != nil {
			b.Fatal(err)
		}
	}
}
