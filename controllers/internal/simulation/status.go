package simulation

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	egressv1alpha1 "github.com/ambient-egress/ambient-egress-operator/apis/egress/v1alpha1"
	"github.com/ambient-egress/ambient-egress-operator/simulator/reach"
)

// DefaultBudget is how many bytes status.simulation may take in JSON. It
// leaves room under the 64 KiB the whole status is kept below for the
// conditions, the waypoint and the destinations.
const DefaultBudget = 48 << 10

// maxGroupPrincipals is how many principals a group lists in the status when
// the budget is tight; Count stays exact.
const maxGroupPrincipals = 10

// truncatedRoom is kept free, when cutting, for the Truncated sentence.
const truncatedRoom = 512

// Run is one simulation: when it ran, how long it took and what it found.
type Run struct {
	// Digest identifies the inputs.
	Digest string
	// Started is when the simulation began; Took is how long it ran.
	Started time.Time
	Took    time.Duration
	// Policies is the number of AuthorizationPolicies in the inputs.
	Policies int
	// Report is the full report.
	Report *reach.Report
}

// Status renders a run as status.simulation within budget bytes of JSON,
// and as status.destinations within DestinationsBudget; waypoint is
// "namespace/name" of this gateway's waypoint. When the whole report does
// not fit, it cuts destinations past their budget, then group principals,
// then reachability entries, groups and, last, findings (what to fix
// matters most), says what it cut in Truncated, and names reportConfigMap,
// which then must hold the full report; full is false in that case.
func Status(run Run, budget int, reportConfigMap, waypoint string) (st *egressv1alpha1.SimulationStatus, dests []egressv1alpha1.DestinationStatus, full bool, err error) {
	st = &egressv1alpha1.SimulationStatus{
		InputsDigest: run.Digest,
		LastRunTime:  &metav1.Time{Time: run.Started.UTC().Truncate(time.Second)},
		Duration:     &metav1.Duration{Duration: run.Took.Round(time.Microsecond)},
		Summary:      Summarize(run.Report, run.Policies),
	}
	if err := convert(run.Report.Reachability, &st.Reachability); err != nil {
		return nil, nil, false, err
	}
	for _, p := range run.Report.Probes {
		st.Probes = append(st.Probes, egressv1alpha1.ProbeResult{Name: p.Name, Verdict: p.Verdict, Policy: p.Policy,
			Rule: int32(p.Rule), Reason: p.Reason, Error: p.Error})
	}
	dests = Destinations(run.Report, waypoint)
	allDests := len(dests)
	trimTail(DestinationsBudget, func() int { return len(dests) }, func(k int) { dests = dests[:k] }, func() int { return size(dests) })
	for _, g := range run.Report.Groups {
		st.Groups = append(st.Groups, egressv1alpha1.SourceGroup{Name: g.Name, Principals: g.Principals, Count: int32(g.Count)})
	}
	for _, f := range run.Report.Findings {
		st.Findings = append(st.Findings, egressv1alpha1.Finding{
			Severity: egressv1alpha1.Severity(f.Severity), Code: f.Code, Object: f.Object,
			Field: f.Field, Message: f.Message, Fix: f.Fix,
		})
	}
	if size(st) <= budget && len(dests) == allDests {
		return st, dests, true, nil
	}
	st.ReportConfigMap = reportConfigMap
	budget -= truncatedRoom
	var cut []string
	if n := allDests - len(dests); n > 0 {
		cut = append(cut, fmt.Sprintf("%d of %d destinations from status.destinations", n, allDests))
	}
	if n := trimGroups(st.Groups); n > 0 {
		cut = append(cut, fmt.Sprintf("%d group principals", n))
	}
	// Each list first gets a share of the budget, so that no list crowds
	// out the others; then, in the order least useful first, lists shrink
	// further until the whole fits.
	lists := []struct {
		name  string
		total int
		share int
		len   func() int
		cut   func(int)
		size  func() int
	}{
		{"reachability entries", len(run.Report.Reachability), budget / 4, func() int { return len(st.Reachability) },
			func(k int) { st.Reachability = st.Reachability[:k] }, func() int { return size(st.Reachability) }},
		{"groups", len(run.Report.Groups), budget / 4, func() int { return len(st.Groups) },
			func(k int) { st.Groups = st.Groups[:k] }, func() int { return size(st.Groups) }},
		{"probe answers", len(run.Report.Probes), budget / 8, func() int { return len(st.Probes) },
			func(k int) { st.Probes = st.Probes[:k] }, func() int { return size(st.Probes) }},
		{"findings", len(run.Report.Findings), budget / 2, func() int { return len(st.Findings) },
			func(k int) { st.Findings = st.Findings[:k] }, func() int { return size(st.Findings) }},
	}
	for _, l := range lists {
		if size(st) > budget {
			trimTail(l.share, l.len, l.cut, l.size)
		}
	}
	for _, l := range lists {
		trimTail(budget, l.len, l.cut, func() int { return size(st) })
		if n := l.total - l.len(); n > 0 {
			cut = append(cut, fmt.Sprintf("%d of %d %s", n, l.total, l.name))
		}
	}
	st.Truncated = "left out " + strings.Join(cut, ", ") + "; ConfigMap " + reportConfigMap + " holds the full report"
	return st, dests, false, nil
}

// convert re-reads the report's JSON into the API types, so the status has
// exactly the shape egressctl simulate prints.
func convert(in []reach.Entry, out *[]egressv1alpha1.ReachabilityEntry) error {
	data, err := json.Marshal(in)
	if err != nil {
		return fmt.Errorf("encoding reachability: %w", err)
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("decoding reachability into the status: %w", err)
	}
	return nil
}

func size(v any) int {
	data, err := json.Marshal(v)
	if err != nil {
		return 0
	}
	return len(data)
}

// trimGroups cuts every group's principals to maxGroupPrincipals and
// returns how many it left out.
func trimGroups(groups []egressv1alpha1.SourceGroup) int {
	n := 0
	for i := range groups {
		if p := groups[i].Principals; len(p) > maxGroupPrincipals {
			n += len(p) - maxGroupPrincipals
			groups[i].Principals = p[:maxGroupPrincipals]
		}
	}
	return n
}

// trimTail shortens a list, by bisection on its length, until measure is
// at most limit (or the list is empty). Reslicing back up is safe because
// cutting keeps the capacity.
func trimTail(limit int, length func() int, cut func(int), measure func() int) {
	total := length()
	if total == 0 || measure() <= limit {
		return
	}
	lo, hi := 0, total // the longest prefix that fits is in [lo, hi]
	for lo < hi {
		mid := (lo + hi + 1) / 2
		cut(mid)
		if measure() <= limit {
			lo = mid
		} else {
			hi = mid - 1
		}
	}
	cut(lo)
}

// Summarize counts the report. A source group × destination pair takes the
// access of the entry that lists the group's sources, or else of the
// destination's entry for other sources.
func Summarize(r *reach.Report, policies int) egressv1alpha1.SimulationSummary {
	s := egressv1alpha1.SimulationSummary{
		Groups:       int32(len(r.Groups)),
		Destinations: int32(len(r.Destinations)),
		Policies:     int32(policies),
	}
	for _, g := range r.Groups {
		s.Sources += int32(g.Count)
	}
	countPairs(r, &s.Pairs)
	s.Reachable = s.Pairs.All + s.Pairs.Partial
	inexact := map[string]bool{}
	for _, e := range r.Reachability {
		if e.Inexact {
			inexact[e.Destination] = true
		}
	}
	s.InexactDestinations = int32(len(inexact))
	for _, f := range r.Findings {
		s.Findings.Total++
		switch f.Severity {
		case reach.SeverityError:
			s.Findings.Errors++
		case reach.SeverityWarning:
			s.Findings.Warnings++
		default:
			s.Findings.Info++
		}
	}
	return s
}

// countPairs counts the source group x destination pairs by access. A
// group's access to a destination is that of the first entry listing the
// group's first principal, else that of the destination's other-sources
// entry, else none. It walks each entry's sources once: the cost is the
// report's size, never destinations x groups x sources.
func countPairs(r *reach.Report, pairs *egressv1alpha1.AccessCounts) {
	group := map[string]int{} // a group's first principal -> its index
	counted := 0
	for i, g := range r.Groups {
		if len(g.Principals) > 0 {
			group[g.Principals[0]] = i
			counted++
		}
	}
	add := func(a reach.Access, n int) {
		switch a {
		case reach.AccessAll:
			pairs.All += int32(n)
		case reach.AccessPartial, reach.AccessUnknown:
			// An inexact entry may reach: counted with the partial ones.
			pairs.Partial += int32(n)
		default:
			pairs.None += int32(n)
		}
	}
	byDest := map[string][]int{}
	for i, e := range r.Reachability {
		byDest[e.Destination] = append(byDest[e.Destination], i)
	}
	// seen[g] is 1 + the index of the last destination that counted g.
	seen := make([]int, len(r.Groups))
	for di, d := range r.Destinations {
		other, listed := reach.AccessNone, 0
		for _, ei := range byDest[d.Key()] {
			e := &r.Reachability[ei]
			if e.OtherSources {
				other = e.Access
				continue
			}
			for _, p := range e.Sources {
				if gi, ok := group[p]; ok && seen[gi] != di+1 {
					seen[gi] = di + 1
					listed++
					add(e.Access, 1)
				}
			}
		}
		add(other, counted-listed)
	}
}
