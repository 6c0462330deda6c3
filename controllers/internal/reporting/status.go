package reporting

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	egressv1alpha1 "github.com/ambient-egress/ambient-egress-operator/apis/egress/v1alpha1"
	"github.com/ambient-egress/ambient-egress-operator/apis/egress/v1alpha1/reportstatus"
	"github.com/ambient-egress/ambient-egress-operator/simulator/netpol"
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
	// Every list but the reachability entries, converted whole; those are
	// converted only as far as the budget keeps them (keepReachability).
	parts := *run.Report
	parts.Reachability = nil
	st, err = reportstatus.Simulation(&parts)
	if err != nil {
		return nil, nil, false, err
	}
	st.InputsDigest = run.Digest
	st.LastRunTime = &metav1.Time{Time: run.Started.UTC().Truncate(time.Second)}
	st.Duration = &metav1.Duration{Duration: run.Took.Round(time.Microsecond)}
	st.Summary = Summarize(run.Report, run.Policies)
	dests = reportstatus.Destinations(run.Report, waypoint)
	allDests := len(dests)
	destSizes := newListSizes(dests)
	trimTail(DestinationsBudget, func() int { return len(dests) }, func(k int) { dests = dests[:k] },
		func() int { return destSizes.json(len(dests), DestinationsBudget) })
	// The status is measured as the sum of its parts, each list element
	// encoded once and only as far as a budget can reach: re-encoding the
	// whole status at each step of the cuts below took seconds on a large
	// report. The reachability entries become API types only for the part
	// that is kept.
	m := &statusMeasure{st: st, lists: []*listField{
		newListField("reachability", run.Report.Reachability),
		newListField("groups", st.Groups),
		newListField("probes", st.Probes),
		newListField("findings", st.Findings),
		newListField("direct", st.Direct),
	}}
	entries, groups, probes, findings, direct := m.lists[0], m.lists[1], m.lists[2], m.lists[3], m.lists[4]
	if m.size(budget) <= budget && len(dests) == allDests {
		return st, dests, true, m.keepReachability(run.Report.Reachability)
	}
	st.ReportConfigMap = reportConfigMap
	budget -= truncatedRoom
	var cut []string
	if n := allDests - len(dests); n > 0 {
		cut = append(cut, fmt.Sprintf("%d of %d destinations from status.destinations", n, allDests))
	}
	if n := trimGroups(st.Groups); n > 0 {
		cut = append(cut, fmt.Sprintf("%d group principals", n))
		groups.sizes = newListSizes(st.Groups)
	}
	// Each list first gets a share of the budget, so that no list crowds
	// out the others; then, in the order least useful first, lists shrink
	// further until the whole fits.
	shares := []struct {
		name  string
		list  *listField
		share int
	}{
		{"reachability entries", entries, budget / 4},
		{"groups", groups, budget / 4},
		{"probe answers", probes, budget / 8},
		{"direct egress entries", direct, budget / 8},
		{"findings", findings, budget / 2},
	}
	for _, l := range shares {
		if m.size(budget) > budget {
			trimTail(l.share, l.list.length, l.list.cut, func() int { return l.list.sizes.json(l.list.n, l.share) })
		}
	}
	for _, l := range shares {
		trimTail(budget, l.list.length, l.list.cut, func() int { return m.size(budget) })
		if n := l.list.total - l.list.n; n > 0 {
			cut = append(cut, fmt.Sprintf("%d of %d %s", n, l.list.total, l.name))
		}
	}
	st.Groups, st.Probes, st.Findings, st.Direct = st.Groups[:groups.n], st.Probes[:probes.n], st.Findings[:findings.n], st.Direct[:direct.n]
	st.Truncated = "left out " + strings.Join(cut, ", ") + "; ConfigMap " + reportConfigMap + " holds the full report"
	return st, dests, false, m.keepReachability(run.Report.Reachability)
}

// statusMeasure sizes status.simulation with each list cut to its length n:
// the JSON of the status without its lists, plus each non-empty list's key
// and elements.
type statusMeasure struct {
	st    *egressv1alpha1.SimulationStatus
	lists []*listField
}

// listField is one list of the status, kept to its first n elements.
type listField struct {
	key      string
	total, n int
	sizes    *listSizes
}

func newListField[T any](key string, list []T) *listField {
	return &listField{key: key, total: len(list), n: len(list), sizes: newListSizes(list)}
}

func (l *listField) length() int { return l.n }
func (l *listField) cut(k int)   { l.n = k }

// size is the status's JSON size, exact up to limit; past it, some value
// above limit.
func (m *statusMeasure) size(limit int) int {
	st := *m.st
	st.Reachability, st.Groups, st.Probes, st.Findings, st.Direct = nil, nil, nil, nil, nil
	total := jsonSize(&st)
	for _, l := range m.lists {
		if l.n == 0 || total > limit {
			continue
		}
		// ,"key": then the array: the status without its lists has
		// fields, so each list adds a comma.
		total += len(`,"":`) + len(l.key) + l.sizes.json(l.n, limit-total)
	}
	return total
}

// keepReachability converts the kept reachability entries to the API type.
func (m *statusMeasure) keepReachability(entries []reach.Entry) error {
	n := m.lists[0].n
	m.st.Reachability = nil
	for _, e := range entries[:n] {
		se, err := reportstatus.Entry(e)
		if err != nil {
			return err
		}
		m.st.Reachability = append(m.st.Reachability, se)
	}
	return nil
}

// listSizes encodes a list's elements one by one, only as far as asked,
// and keeps their JSON.
type listSizes struct {
	at      func(int) any
	n, done int
	encoded [][]byte
	prefix  []int // prefix[i] is the size of elements 0..i-1
}

func newListSizes[T any](list []T) *listSizes {
	return &listSizes{at: func(i int) any { return &list[i] }, n: len(list), prefix: []int{0}}
}

func (l *listSizes) encodeTo(k int) {
	for l.done < k && l.done < l.n {
		data, err := json.Marshal(l.at(l.done))
		if err != nil {
			data = nil
		}
		l.encoded = append(l.encoded, data)
		l.prefix = append(l.prefix, l.prefix[l.done]+len(data))
		l.done++
	}
}

// json is the size of the JSON array of the first k elements, exact up to
// limit: it encodes elements only until the array passes limit.
func (l *listSizes) json(k, limit int) int {
	if k == 0 {
		return len("[]")
	}
	array := func(k int) int { return 2 + l.prefix[k] + k - 1 } // brackets and commas
	for l.done < k {
		l.encodeTo(l.done + 1)
		if array(l.done) > limit {
			return array(l.done)
		}
	}
	return array(k)
}

func jsonSize(v any) int {
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
	for _, d := range r.Direct {
		if d.Destination == reach.AnyOtherHost && d.Access == netpol.Direct {
			s.DirectEgress += int32(len(d.Sources))
		}
	}
	for _, f := range r.Findings {
		CountFinding(&s.Findings, egressv1alpha1.Severity(f.Severity), 1)
	}
	return s
}

// CountFinding adds n (negative to take away) findings of severity to c;
// an unknown severity counts as info.
func CountFinding(c *egressv1alpha1.FindingCounts, severity egressv1alpha1.Severity, n int32) {
	c.Total += n
	switch severity {
	case egressv1alpha1.SeverityError:
		c.Errors += n
	case egressv1alpha1.SeverityWarning:
		c.Warnings += n
	default:
		c.Info += n
	}
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
