package reach

import (
	"slices"
	"sort"
	"strings"
)

// bypassDecider explains the entry of a destination no waypoint serves.
var bypassDecider = Decider{Effect: "allow", Rule: -1,
	Reason: "the ServiceEntry bypasses every waypoint: nothing enforces authorization"}

// destEntries computes one destination's entries: one for the sources no
// policy singles out (otherSources), one per distinct access of the others.
// Beside each entry it returns the sorted indexes of its sources.
func (b *builder) destEntries(d *destSpec, o evalOptions, m *meter) ([]Entry, [][]int32) {
	key := d.Key()
	if d.Waypoint == nil {
		return []Entry{{Destination: key, OtherSources: true, Access: AccessAll,
			Allowed: []Cube{{Rule: -1}}, DecidedBy: []Decider{bypassDecider}}}, [][]int32{nil}
	}
	if d.unserved != "" {
		// The waypoint has nowhere to send the connection: no policy
		// is reached, and nobody gets through.
		return []Entry{{Destination: key, OtherSources: true, Access: AccessNone, Allowed: []Cube{},
			DecidedBy: []Decider{{Effect: "deny", Rule: -1, Reason: d.unserved + ": every connection fails"}}}}, [][]int32{nil}
	}
	return b.entriesOf(d, o, b.policies(d), m)
}

// entriesOf computes a bound destination's entries under the given
// policies.
func (b *builder) entriesOf(d *destSpec, o evalOptions, pols []policyRules, m *meter) ([]Entry, [][]int32) {
	key := d.Key()
	anon := o.evaluate(&evalContext{port: d.Port, host: d.Host, noJWT: d.noJWT, m: m}, pols)
	other := newEntry(key, anon)
	other.OtherSources = true
	listed := b.listedEntries(d, o, pols, anon.key(), m)
	entries, ids := []Entry{*other}, [][]int32{nil}
	for _, l := range listed {
		entries = append(entries, l.entry)
		ids = append(ids, l.ids)
	}
	return entries, ids
}

// listed is an entry that lists its sources, with their indexes.
type listed struct {
	entry Entry
	ids   []int32
}

// listedEntries evaluates each group of singled-out sources and merges the
// groups with the same access; groups with the access of an anonymous
// caller stay in otherSources. Entries are sorted by their first source.
func (b *builder) listedEntries(d *destSpec, o evalOptions, pols []policyRules, anonKey string, m *meter) []listed {
	byOutcome := map[string]*listed{}
	var out []*listed
	for _, g := range b.singledOut(pols, o) {
		res := o.evaluate(&evalContext{port: d.Port, host: d.Host, noJWT: d.noJWT, flipped: g.flipped, m: m}, pols)
		k := res.key()
		if k == anonKey {
			continue
		}
		l, ok := byOutcome[k]
		if !ok {
			l = &listed{entry: *newEntry(d.Key(), res)}
			byOutcome[k] = l
			out = append(out, l)
		}
		l.ids = append(l.ids, g.sources...)
	}
	for _, l := range out {
		// Principals are indexed in sorted order, so sorted ids give
		// sorted principals.
		slices.Sort(l.ids)
		l.entry.Sources = make([]string, len(l.ids))
		for i, id := range l.ids {
			l.entry.Sources[i] = b.index.principals[id]
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ids[0] < out[j].ids[0] })
	res := make([]listed, len(out))
	for i, l := range out {
		res[i] = *l
	}
	return res
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
	slices.Sort(touched)
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
		DecidedBy: out.deciders, Inexact: out.inexact}
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
	if o.inexact {
		b.WriteString("||inexact")
	}
	return b.String()
}
