package reach

import (
	"sort"
	"strings"
)

// bypassDecider explains the entry of a destination no waypoint serves.
var bypassDecider = Decider{Effect: "allow", Rule: -1,
	Reason: "the ServiceEntry bypasses every waypoint: nothing enforces authorization"}

// destEntries computes one destination's entries: one for the sources no
// policy singles out (otherSources), one per distinct access of the others.
// Beside each entry it returns the sorted indexes of its sources.
func (b *builder) destEntries(d *destSpec, o evalOptions) ([]Entry, [][]int32) {
	key := d.Key()
	if d.Waypoint == nil {
		return []Entry{{Destination: key, OtherSources: true, Access: AccessAll,
			Allowed: []Cube{{Rule: -1}}, DecidedBy: []Decider{bypassDecider}}}, [][]int32{nil}
	}
	pols := b.policies(d)
	groups := b.singledOut(pols, o)
	anon := o.evaluate(&context{port: d.Port, host: d.Host}, pols)
	anonKey := anon.key()
	byOutcome := map[string]*Entry{}
	ids := map[*Entry][]int32{}
	var listed []*Entry
	for _, g := range groups {
		out := o.evaluate(&context{port: d.Port, host: d.Host, flipped: g.flipped}, pols)
		k := out.key()
		if k == anonKey {
			continue
		}
		e, ok := byOutcome[k]
		if !ok {
			e = newEntry(key, out)
			byOutcome[k] = e
			listed = append(listed, e)
		}
		ids[e] = append(ids[e], g.sources...)
	}
	other := newEntry(key, anon)
	other.OtherSources = true
	entries := []Entry{*other}
	sorted := [][]int32{nil}
	for _, e := range listed {
		// Principals are indexed in sorted order, so sorted ids give
		// sorted principals.
		list := ids[e]
		sort.Slice(list, func(i, j int) bool { return list[i] < list[j] })
		e.Sources = make([]string, len(list))
		for i, id := range list {
			e.Sources[i] = b.index.principals[id]
		}
		entries = append(entries, *e)
		sorted = append(sorted, list)
	}
	// Order the listed entries by their first source, ids and entries alike.
	order := make([]int, len(entries)-1)
	for i := range order {
		order[i] = i + 1
	}
	sort.Slice(order, func(i, j int) bool { return sorted[order[i]][0] < sorted[order[j]][0] })
	outE, outIDs := []Entry{entries[0]}, [][]int32{nil}
	for _, i := range order {
		outE = append(outE, entries[i])
		outIDs = append(outIDs, sorted[i])
	}
	return outE, outIDs
}

// sourceGroup is the sources sharing one signature: the set of source
// conditions on which they differ from an anonymous caller.
type sourceGroup struct {
	flipped map[*atomInfo]bool
	sources []int32
}

// singledOut groups the sources some enforced rule of the destination
// distinguishes from an anonymous caller, by signature. A signature is
// hashed as it is built (atoms are visited in order), in scratch slices
// indexed by source, so the cost is the number of (source, condition) pairs
// that differ, not the number of sources.
func (b *builder) singledOut(pols []policyRules, o evalOptions) []*sourceGroup {
	var enforced []policyRules
	for i := range pols {
		if o.enforced(&pols[i]) {
			enforced = append(enforced, pols[i])
		}
	}
	atoms := sourceAtoms(enforced)
	sc := b.scratchFor(len(b.index.principals))
	var touched []int32
	for ai, a := range atoms {
		b.index.resolve(a)
		for _, s := range a.diff {
			if sc.hash[s] == 0 {
				touched = append(touched, s)
				sc.hash[s] = fnvOffset
			}
			sc.hash[s] = (sc.hash[s] ^ uint64(ai+1)) * fnvPrime
		}
	}
	byHash := map[uint64]*sourceGroup{}
	var out []*sourceGroup
	sort.Slice(touched, func(i, j int) bool { return touched[i] < touched[j] })
	for _, s := range touched {
		h := sc.hash[s]
		sc.hash[s] = 0
		g, ok := byHash[h]
		if !ok {
			g = &sourceGroup{flipped: flippedFor(atoms, s)}
			byHash[h] = g
			out = append(out, g)
		}
		g.sources = append(g.sources, s)
	}
	return out
}

// FNV-1a parameters for signature hashes.
const (
	fnvOffset uint64 = 14695981039346656037
	fnvPrime  uint64 = 1099511628211
)

// scratch is per-source working memory reused across destinations.
type scratch struct {
	hash []uint64
}

func (b *builder) scratchFor(n int) *scratch {
	if b.scratch == nil || len(b.scratch.hash) != n {
		b.scratch = &scratch{hash: make([]uint64, n)}
	}
	return b.scratch
}

// flippedFor lists the conditions on which source s differs from an
// anonymous caller.
func flippedFor(atoms []*atomInfo, s int32) map[*atomInfo]bool {
	m := map[*atomInfo]bool{}
	for _, a := range atoms {
		i := sort.Search(len(a.diff), func(i int) bool { return a.diff[i] >= s })
		if i < len(a.diff) && a.diff[i] == s {
			m[a] = true
		}
	}
	return m
}

func newEntry(dest string, out outcome) *Entry {
	e := &Entry{Destination: dest, Access: out.access, Allowed: toCubes(out.allowed), Denied: toCubes(out.denied),
		DecidedBy: out.deciders}
	if e.Allowed == nil {
		e.Allowed = []Cube{}
	}
	return e
}

func toCubes(ts []taggedCube) []Cube {
	if len(ts) == 0 {
		return nil
	}
	out := make([]Cube, len(ts))
	for i, t := range ts {
		out[i] = Cube{Policy: t.policy, Rule: t.rule, lits: t.c}
	}
	return out
}

// key identifies an outcome's allowed and denied spaces with their rules.
func (o outcome) key() string {
	var b strings.Builder
	for _, t := range o.allowed {
		b.WriteString(Cube{Policy: t.policy, Rule: t.rule, lits: t.c}.key())
		b.WriteByte(';')
	}
	b.WriteString("||")
	for _, t := range o.denied {
		b.WriteString(Cube{Policy: t.policy, Rule: t.rule, lits: t.c}.key())
		b.WriteByte(';')
	}
	return b.String()
}
