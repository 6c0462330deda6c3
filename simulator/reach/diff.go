package reach

import (
	"cmp"
	"context"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Change is what a configuration change does to the access of some sources
// to one destination.
type Change struct {
	// Destination is "host:port".
	Destination string `json:"destination"`
	// Sources are the principals concerned; OtherSources marks the sources
	// neither report singles out.
	Sources      []string `json:"sources,omitempty"`
	OtherSources bool     `json:"otherSources,omitempty"`
	// AccessBefore and AccessAfter summarize the two sides.
	AccessBefore Access `json:"accessBefore"`
	AccessAfter  Access `json:"accessAfter"`
	// Opened lists requests allowed after but not before; Closed the
	// reverse. Each cube names the rule of the side it comes from.
	Opened []Cube `json:"opened,omitempty"`
	Closed []Cube `json:"closed,omitempty"`
	// Inexact is set when a side is an inexact entry or the comparison ran
	// past its budget: Opened and Closed may then list more than changed.
	Inexact bool `json:"inexact,omitempty"`
}

// DiffResult lists the changes between two reports, sorted by destination
// then sources.
type DiffResult struct {
	// Changes are the differences, one per destination and set of sources.
	Changes []Change `json:"changes"`
	// Direct are the changes to what sources reach without a waypoint.
	Direct []DirectChange `json:"direct,omitempty"`
	// Opens is set when any change opens access: the question reviewers ask
	// of every policy change.
	Opens bool `json:"opens"`
}

// Diff compares the access of two reports, destination by destination and
// source by source. A destination present on one side only counts as
// closed to everyone on the other.
func Diff(before, after *Report) *DiffResult {
	t := newAtomTable()
	oldBy, newBy := entriesByDestination(before), entriesByDestination(after)
	keys := destinationOrder(before, after)
	res := &DiffResult{Changes: []Change{}}
	for _, k := range keys {
		m := newMeter(context.Background(), DefaultBudget.Work, time.Now().Add(DefaultBudget.PerDestination))
		for _, c := range diffEntries(t, k, oldBy[k], newBy[k], m) {
			res.Changes = append(res.Changes, c)
			res.Opens = res.Opens || len(c.Opened) > 0
		}
	}
	direct, opens := diffDirect(before, after)
	res.Direct, res.Opens = direct, res.Opens || opens
	return res
}

func entriesByDestination(r *Report) map[string][]Entry {
	m := map[string][]Entry{}
	for _, e := range r.Reachability {
		m[e.Destination] = append(m[e.Destination], e)
	}
	return m
}

// destinationOrder lists the destinations of both reports in report order:
// by host, then port.
func destinationOrder(reports ...*Report) []string {
	seen := map[string]bool{}
	var ds []Destination
	for _, r := range reports {
		for _, d := range r.Destinations {
			if !seen[d.Key()] {
				seen[d.Key()] = true
				ds = append(ds, d)
			}
		}
	}
	slices.SortStableFunc(ds, func(a, b Destination) int {
		return cmp.Or(cmp.Compare(a.Host, b.Host), cmp.Compare(a.Port, b.Port))
	})
	keys := make([]string, len(ds))
	for i, d := range ds {
		keys[i] = d.Key()
	}
	return keys
}

// closedEntry stands for a destination missing on one side.
func closedEntry(dest string) []Entry {
	return []Entry{{Destination: dest, OtherSources: true, Access: AccessNone, Allowed: []Cube{}}}
}

// diffEntries compares one destination's entries. Every source falls in one
// entry per side (its listing entry, else otherSources), so sources are
// split by their pair of entries and each pair is compared once.
func diffEntries(t *atomTable, dest string, before, after []Entry, m *meter) []Change {
	if len(before) == 0 {
		before = closedEntry(dest)
	}
	if len(after) == 0 {
		after = closedEntry(dest)
	}
	pairs := map[[2]int][]string{{otherIndex(before), otherIndex(after)}: nil}
	order := [][2]int{{otherIndex(before), otherIndex(after)}}
	oldOf, newOf := listedIndex(before), listedIndex(after)
	for _, p := range unionSources(before, after) {
		k := [2]int{indexOr(oldOf, p, otherIndex(before)), indexOr(newOf, p, otherIndex(after))}
		if _, ok := pairs[k]; !ok {
			order = append(order, k)
		}
		pairs[k] = append(pairs[k], p)
	}
	var out []Change
	for i, k := range order {
		c := compareEntries(t, before[k[0]], after[k[1]], m)
		if len(c.Opened)+len(c.Closed) == 0 {
			continue
		}
		c.Destination = dest
		c.OtherSources = i == 0
		c.Sources = pairs[k]
		out = append(out, c)
	}
	return out
}

func otherIndex(es []Entry) int {
	for i, e := range es {
		if e.OtherSources {
			return i
		}
	}
	return 0
}

func listedIndex(es []Entry) map[string]int {
	m := map[string]int{}
	for i, e := range es {
		for _, s := range e.Sources {
			m[s] = i
		}
	}
	return m
}

func indexOr(m map[string]int, k string, def int) int {
	if i, ok := m[k]; ok {
		return i
	}
	return def
}

func unionSources(sides ...[]Entry) []string {
	set := map[string]bool{}
	for _, es := range sides {
		for _, e := range es {
			for _, s := range e.Sources {
				set[s] = true
			}
		}
	}
	out := make([]string, 0, len(set))
	for s := range set {
		out = append(out, s)
	}
	sort.Strings(out)
	return out
}

func compareEntries(t *atomTable, before, after Entry, m *meter) Change {
	opened, exactOpened := difference(t, after.Allowed, before.Allowed, m)
	closed, exactClosed := difference(t, before.Allowed, after.Allowed, m)
	return Change{AccessBefore: before.Access, AccessAfter: after.Access, Opened: opened, Closed: closed,
		Inexact: before.Inexact || after.Inexact || !exactOpened || !exactClosed}
}

// difference returns the cubes covering the requests of xs that no cube of
// ys contains. Cubes of two reports are re-interned into one table first,
// as the algebra compares atoms by pointer. Past the budget the pieces left
// are kept whole (a superset), and exact is false.
func difference(t *atomTable, xs, ys []Cube, m *meter) (out []Cube, exact bool) {
	exact = true
	for _, x := range xs {
		pieces := []cube{reintern(t, x.lits)}
		for _, y := range ys {
			if !exact {
				break
			}
			yc := reintern(t, y.lits)
			var next []cube
			for _, p := range pieces {
				ps := subtract(p, yc)
				if !m.spend(len(yc) + len(ps)) {
					exact = false
					next = pieces
					break
				}
				next = append(next, ps...)
			}
			pieces = next
		}
		for _, p := range pruneSubsumed(m, pieces) {
			out = append(out, Cube{Policy: x.Policy, Rule: x.Rule, lits: p})
		}
	}
	return out, exact
}

func reintern(t *atomTable, c cube) cube {
	out := make(cube, len(c))
	for i, l := range c {
		out[i] = lit{a: t.intern(l.a.atom), neg: l.neg}
	}
	sortCube(out)
	return out
}

// changeSummary describes a change in a few words for findings: who, then
// what (changeWhat).
func changeSummary(c Change) string {
	return changeWho(c) + " on " + changeWhat(c)
}

// changeWho names the sources of a change: other sources, or the first
// principal and how many more.
func changeWho(c Change) string {
	who := "other sources"
	if !c.OtherSources {
		who = ShortPrincipal(c.Sources[0])
		if len(c.Sources) > 1 {
			who += " +" + strconv.Itoa(len(c.Sources)-1)
		}
	}
	return who
}

// changeWhat is the destination, the access before and after, and the
// requests opened and closed, each list sorted so that the text does not
// depend on the order of rules or policies.
func changeWhat(c Change) string {
	var s strings.Builder
	s.WriteString(c.Destination + " (" + string(c.AccessBefore) + " -> " + string(c.AccessAfter) + ")")
	for _, part := range []struct {
		verb  string
		cubes []Cube
	}{{" opens ", c.Opened}, {" closes ", c.Closed}} {
		texts := make([]string, len(part.cubes))
		for i, x := range part.cubes {
			texts[i] = x.Text()
		}
		sort.Strings(texts)
		for _, x := range slices.Compact(texts) {
			s.WriteString(part.verb + x)
		}
	}
	return s.String()
}

// DirectChange is what a change does to what some sources reach without a
// waypoint (a lockdown turned on or off, a NetworkPolicy edited).
type DirectChange struct {
	// Destination is AnyOtherHost or "host:port" of an unbound
	// ServiceEntry.
	Destination string `json:"destination"`
	// Sources are "namespace/*" or "namespace/account".
	Sources []string `json:"sources"`
	// AccessBefore and AccessAfter are the two sides' access.
	AccessBefore string `json:"accessBefore"`
	AccessAfter  string `json:"accessAfter"`
	// Opened and Closed are the openings only after, and only before.
	Opened []string `json:"opened,omitempty"`
	Closed []string `json:"closed,omitempty"`
}

// directRank orders direct access from closed to open; depends counts as
// partly open.
var directRank = map[string]int{"blocked": 0, "partial": 1, "depends": 1, "direct": 2}

// diffDirect compares the direct rows source by source, and groups the
// sources whose change is the same.
func diffDirect(before, after *Report) (changes []DirectChange, opens bool) {
	type side struct {
		access  string
		allowed []string
	}
	index := func(r *Report) map[[2]string]side {
		m := map[[2]string]side{}
		for _, e := range r.Direct {
			allowed := e.Allowed
			if e.Access == "direct" && len(allowed) == 0 {
				allowed = []string{"every address on every port (no NetworkPolicy isolates these pods)"}
			}
			for _, s := range e.Sources {
				m[[2]string{e.Destination, s}] = side{string(e.Access), allowed}
			}
		}
		return m
	}
	oldBy, newBy := index(before), index(after)
	keys := map[[2]string]bool{}
	for k := range oldBy {
		keys[k] = true
	}
	for k := range newBy {
		keys[k] = true
	}
	sorted := slices.SortedFunc(func(yield func([2]string) bool) {
		for k := range keys {
			if !yield(k) {
				return
			}
		}
	}, func(a, b [2]string) int {
		if a[0] != b[0] {
			return strings.Compare(a[0], b[0])
		}
		return strings.Compare(a[1], b[1])
	})
	grouped := map[string]*DirectChange{}
	for _, k := range sorted {
		o, n := oldBy[k], newBy[k]
		if o.access == "" {
			o.access = "none"
		}
		if n.access == "" {
			n.access = "none"
		}
		opened, closed := setMinus(n.allowed, o.allowed), setMinus(o.allowed, n.allowed)
		if o.access == n.access && len(opened) == 0 && len(closed) == 0 {
			continue
		}
		if directRank[n.access] > directRank[o.access] || len(opened) > 0 {
			opens = true
		}
		key := k[0] + "\x00" + o.access + "\x00" + n.access + "\x00" + strings.Join(opened, "\x00") + "\x01" + strings.Join(closed, "\x00")
		if c, ok := grouped[key]; ok {
			c.Sources = append(c.Sources, k[1])
			continue
		}
		c := &DirectChange{Destination: k[0], Sources: []string{k[1]}, AccessBefore: o.access, AccessAfter: n.access, Opened: opened, Closed: closed}
		grouped[key] = c
		changes = append(changes, *c)
	}
	for i := range changes {
		c := &changes[i]
		key := c.Destination + "\x00" + c.AccessBefore + "\x00" + c.AccessAfter + "\x00" + strings.Join(c.Opened, "\x00") + "\x01" + strings.Join(c.Closed, "\x00")
		c.Sources = grouped[key].Sources
	}
	return changes, opens
}

// setMinus lists the elements of a that are not in b.
func setMinus(a, b []string) []string {
	var out []string
	for _, x := range a {
		if !slices.Contains(b, x) {
			out = append(out, x)
		}
	}
	return out
}
