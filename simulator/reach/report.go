package reach

import (
	"slices"
	"sort"

	"github.com/ambient-egress/ambient-egress-operator/simulator"
)

// assemble puts the per-destination results together into a sorted report.
func assemble(b *builder, in Input, dests []*destSpec, results []destResult, issues simulator.Issues, cache *policyFindingsCache) *Report {
	entries, findings := 0, 0
	for _, res := range results {
		entries += len(res.entries)
		findings += len(res.findings)
	}
	r := &Report{Destinations: make([]Destination, len(dests)), Reachability: make([]Entry, 0, entries),
		Findings: make([]Finding, 0, findings)}
	var statuses []ruleStatus
	ids := make([][]int32, 0, entries)
	for i, d := range dests {
		ids = append(ids, results[i].ids...)
		r.Destinations[i] = d.Destination
		r.Reachability = append(r.Reachability, results[i].entries...)
		r.Findings = append(r.Findings, results[i].findings...)
		statuses = append(statuses, results[i].rules...)
	}
	r.Findings = append(r.Findings, neverFindings(statuses)...)
	r.Groups = groupSources(b.index.principals, ids)
	r.Direct, r.Findings = addDirect(in.Snapshot, b.index.principals, r.Destinations, r.Findings)
	r.Findings = append(r.Findings, b.globalFindings(in.Snapshot, cache)...)
	r.Findings = append(r.Findings, unknownAccountFindings(in.Snapshot, in.ServiceAccounts)...)
	r.Findings = append(r.Findings, issueFindings(append(slices.Clip(in.LoadIssues), issues...), r.Findings)...)
	sortFindings(r.Findings)
	r.Findings = dedupeSorted(r.Findings)
	if len(in.Probes) > 0 {
		r.Probes = answerProbes(b.prog, expandProbes(in.Probes, r.Groups))
	}
	return r
}

var severityRank = map[Severity]int{SeverityError: 0, SeverityWarning: 1, SeverityInfo: 2}

func sortFindings(fs []Finding) {
	sort.SliceStable(fs, func(i, j int) bool {
		a, b := fs[i], fs[j]
		switch {
		case severityRank[a.Severity] != severityRank[b.Severity]:
			return severityRank[a.Severity] < severityRank[b.Severity]
		case a.Code != b.Code:
			return a.Code < b.Code
		case a.Object != b.Object:
			return a.Object < b.Object
		case a.Field != b.Field:
			return a.Field < b.Field
		case a.Message != b.Message:
			return a.Message < b.Message
		}
		return a.Fix < b.Fix
	})
}

// dedupeSorted drops repeated findings (one per port or host of a
// ServiceEntry, say) from a sorted list.
func dedupeSorted(fs []Finding) []Finding {
	out := fs[:0]
	for i, f := range fs {
		if i == 0 || f != fs[i-1] {
			out = append(out, f)
		}
	}
	return out
}

// addDirect adds the rows and findings about what sources reach without a
// waypoint.
func addDirect(snap *simulator.Snapshot, principals []string, dests []Destination, findings []Finding) ([]DirectEntry, []Finding) {
	v, err := newDirectView(snap)
	if err != nil {
		// Decoding validated every policy; this is a Snapshot filled by
		// hand with one the API server would refuse.
		return []DirectEntry{}, append(findings, Finding{Severity: SeverityError, Code: "InvalidNetworkPolicy", Message: err.Error() + ": direct egress is not simulated"})
	}
	direct := v.directEntries(principals, dests)
	if direct == nil {
		direct = []DirectEntry{}
	}
	return direct, append(findings, v.directFindings(snap, direct, dests)...)
}
