package reach

import (
	"sort"
	"strconv"
	"strings"
)

// bypassDecider explains the entry of a destination no waypoint serves.
var bypassDecider = Decider{Effect: "allow", Rule: -1,
	Reason: "the ServiceEntry bypasses every waypoint: nothing enforces authorization"}

// destEntries computes one destination's entries: one for the sources no
// policy singles out (otherSources), one per distinct access of the others.
func (b *builder) destEntries(d *destSpec, o evalOptions) []Entry {
	key := d.Key()
	if d.Waypoint == nil {
		return []Entry{{Destination: key, OtherSources: true, Access: AccessAll,
			Allowed: []Cube{{Rule: -1}}, DecidedBy: []Decider{bypassDecider}}}
	}
	pols := b.policies(d)
	groups := b.singledOut(pols, o)
	anon := o.evaluate(&context{port: d.Port, host: d.Host}, pols)
	anonKey := anon.key()
	byOutcome := map[string]*Entry{}
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
		for _, id := range g.sources {
			e.Sources = append(e.Sources, b.index.principals[id])
		}
	}
	other := newEntry(key, anon)
	other.OtherSources = true
	entries := []Entry{*other}
	for _, e := range listed {
		sort.Strings(e.Sources)
		entries = append(entries, *e)
	}
	sort.SliceStable(entries[1:], func(i, j int) bool { return entries[1+i].Sources[0] < entries[1+j].Sources[0] })
	return entries
}

// sourceGroup is the sources sharing one signature: the set of source
// conditions on which they differ from an anonymous caller.
type sourceGroup struct {
	flipped map[*atomInfo]bool
	sources []int32
}

// singledOut groups the sources some enforced rule of the destination
// distinguishes from an anonymous caller, by signature.
func (b *builder) singledOut(pols []policyRules, o evalOptions) []*sourceGroup {
	var enforced []policyRules
	for i := range pols {
		if o.enforced(&pols[i]) {
			enforced = append(enforced, pols[i])
		}
	}
	atoms := sourceAtoms(enforced)
	sig := map[int32][]byte{}
	for ai, a := range atoms {
		b.index.resolve(a)
		for _, s := range a.diff {
			sig[s] = strconv.AppendInt(append(sig[s], ','), int64(ai), 10)
		}
	}
	byKey := map[string]*sourceGroup{}
	var keys []string
	for s, k := range sig {
		g, ok := byKey[string(k)]
		if !ok {
			g = &sourceGroup{flipped: flippedAtoms(atoms, string(k))}
			byKey[string(k)] = g
			keys = append(keys, string(k))
		}
		g.sources = append(g.sources, s)
	}
	sort.Strings(keys)
	out := make([]*sourceGroup, len(keys))
	for i, k := range keys {
		out[i] = byKey[k]
	}
	return out
}

func flippedAtoms(atoms []*atomInfo, sig string) map[*atomInfo]bool {
	m := map[*atomInfo]bool{}
	for _, part := range strings.Split(strings.TrimPrefix(sig, ","), ",") {
		i, _ := strconv.Atoi(part)
		m[atoms[i]] = true
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
