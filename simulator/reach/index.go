package reach

import (
	"slices"
	"sort"
	"strings"

	"github.com/ambient-egress/ambient-egress-operator/simulator/match"
)

// anonymousAccount names the namespace and service account of the
// anonymous caller: a valid-looking identity no Kubernetes object can have,
// standing for every caller no policy names.
const anonymousAccount = "-"

// sourceIndex finds the sources a source condition matches without
// evaluating it for each source: exact principals, namespaces and accounts
// are looked up, prefixes are ranges of the sorted principals.
type sourceIndex struct {
	principals  []string
	byPrincipal map[string]int32
	byNS        map[string][]int32
	byAccount   map[string]int32
	// byTD and byTDNS group sources by trust domain, and by trust domain
	// and namespace, for conditions that depend only on those.
	byTD   map[string][]int32
	byTDNS map[string][]int32
	// odd lists the sources the lookups are not exact for (malformed
	// principals, or parts named "ns" or "sa"); they are evaluated directly.
	odd       []int32
	isOdd     []bool
	anonymous string
}

func newSourceIndex(principals []string, trustDomain string) *sourceIndex {
	x := &sourceIndex{principals: principals, byPrincipal: make(map[string]int32, len(principals)),
		byNS: map[string][]int32{}, byAccount: make(map[string]int32, len(principals)),
		byTD: map[string][]int32{}, byTDNS: map[string][]int32{}, isOdd: make([]bool, len(principals)),
		anonymous: principal(trustDomain, anonymousAccount, anonymousAccount)}
	for i, p := range principals {
		id := int32(i)
		x.byPrincipal[p] = id
		parts := strings.Split(p, "/")
		if len(parts) != 5 || parts[1] != "ns" || parts[3] != "sa" || reserved(parts[0], parts[2], parts[4]) {
			x.odd = append(x.odd, id)
			x.isOdd[i] = true
			continue
		}
		td, ns, sa := parts[0], parts[2], parts[4]
		x.byNS[ns] = append(x.byNS[ns], id)
		x.byAccount[ns+"/"+sa] = id
		x.byTD[td] = append(x.byTD[td], id)
		x.byTDNS[td+"/"+ns] = append(x.byTDNS[td+"/"+ns], id)
	}
	return x
}

func reserved(parts ...string) bool {
	for _, p := range parts {
		if p == "ns" || p == "sa" || p == "" {
			return true
		}
	}
	return false
}

// resolve fills the atom's anonymous value and the sources that differ
// from it, once per atom, whichever destination needs it first.
func (x *sourceIndex) resolve(a *atomInfo) {
	a.resolve.Do(func() {
		a.anon = a.atom.MatchesPrincipal(x.anonymous)
		matched := x.matching(a)
		if !a.anon {
			a.diff = matched
			return
		}
		a.diff = complement(matched, len(x.principals))
	})
}

// matching returns the sorted indexes of the sources the condition matches.
func (x *sourceIndex) matching(a *atomInfo) []int32 {
	hint, ok := a.atom.SourceHint()
	if !ok {
		return x.evalAll(a)
	}
	var ids []int32
	for _, m := range hint.Principals {
		ids = x.principalMatches(ids, m)
	}
	for _, ns := range hint.Namespaces {
		ids = append(ids, x.byNS[ns]...)
	}
	for _, acc := range hint.Accounts {
		if id, ok := x.byAccount[acc[0]+"/"+acc[1]]; ok {
			ids = append(ids, id)
		}
	}
	if hint.TrustDomainOnly {
		ids = x.byRepresentative(ids, a, x.byTD)
	}
	if hint.NamespaceOnly {
		ids = x.byRepresentative(ids, a, x.byTDNS)
	}
	if len(hint.Principals) == 0 {
		// Namespace and account lookups skip odd sources; evaluate them.
		ids = x.evalOdd(a, ids)
	}
	return uniqueSorted(ids)
}

// evalAll evaluates a condition without hint on every source.
func (x *sourceIndex) evalAll(a *atomInfo) []int32 {
	ids := []int32{}
	for i, p := range x.principals {
		if a.atom.MatchesPrincipal(p) {
			ids = append(ids, int32(i))
		}
	}
	return ids
}

// evalOdd adds the odd sources the condition matches.
func (x *sourceIndex) evalOdd(a *atomInfo, ids []int32) []int32 {
	for _, id := range x.odd {
		if a.atom.MatchesPrincipal(x.principals[id]) {
			ids = append(ids, id)
		}
	}
	return ids
}

func (x *sourceIndex) byRepresentative(ids []int32, a *atomInfo, groups map[string][]int32) []int32 {
	for _, members := range groups {
		if a.atom.MatchesPrincipal(x.principals[members[0]]) {
			ids = append(ids, members...)
		}
	}
	return ids
}

func (x *sourceIndex) principalMatches(ids []int32, m match.String) []int32 {
	switch m.Kind {
	case match.Exact:
		if id, ok := x.byPrincipal[m.Value]; ok {
			ids = append(ids, id)
		}
	case match.Prefix:
		i := sort.SearchStrings(x.principals, m.Value)
		for ; i < len(x.principals) && strings.HasPrefix(x.principals[i], m.Value); i++ {
			ids = append(ids, int32(i))
		}
	default:
		for i, p := range x.principals {
			if m.Match(p, p != "") {
				ids = append(ids, int32(i))
			}
		}
	}
	return ids
}

func uniqueSorted(ids []int32) []int32 {
	slices.Sort(ids)
	out := ids[:0]
	for i, id := range ids {
		if i == 0 || id != ids[i-1] {
			out = append(out, id)
		}
	}
	return out
}

func complement(ids []int32, n int) []int32 {
	out := make([]int32, 0, n-len(ids))
	j := 0
	for i := range n {
		if j < len(ids) && ids[j] == int32(i) {
			j++
			continue
		}
		out = append(out, int32(i))
	}
	return out
}
