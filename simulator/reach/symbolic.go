package reach

import (
	"strings"

	"github.com/ambient-egress/ambient-egress-operator/simulator"
	"github.com/ambient-egress/ambient-egress-operator/simulator/match"
)

// context is what is known while partially evaluating rules: the
// destination (port and host) and, for each source condition, whether the
// caller satisfies it. keepSources leaves source conditions symbolic, for
// findings about rules themselves.
type context struct {
	port int
	// host is the destination host; "" or a wildcard host leaves host
	// conditions symbolic.
	host string
	// flipped marks the source conditions whose value differs from the
	// value for an anonymous caller.
	flipped     map[*atomInfo]bool
	keepSources bool
}

// constant is the value of a literal known from the context.
type constant uint8

const (
	unknown constant = iota
	isTrue
	isFalse
)

func (cx *context) value(l lit) constant {
	a := l.a
	var v bool
	switch {
	case a.source && cx.keepSources:
		return unknown
	case a.source:
		v = a.anon != cx.flipped[a]
	case a.atom.NeverMatches():
		v = false
	default:
		matched, decided := a.atom.MatchesPort(cx.port)
		if !decided {
			if !cx.hostNeverMatches(a) {
				return unknown
			}
			matched = false
		}
		v = matched
	}
	if v != l.neg {
		return isTrue
	}
	return isFalse
}

// hostNeverMatches decides a hosts condition whose patterns are all exact
// hosts other than the destination's: a request with such a Host header is
// routed to another destination, so on this one it never matches.
func (cx *context) hostNeverMatches(a *atomInfo) bool {
	if a.key != simulator.AtomHosts || cx.host == "" || strings.HasPrefix(cx.host, "*") {
		return false
	}
	// Resolving a Host header only strips a port, brackets and a trailing
	// dot and lower-cases, so a value that does not contain the destination
	// host cannot resolve to it.
	for _, m := range a.ms {
		if m.Kind != match.Exact || strings.Contains(strings.ToLower(m.Value), cx.host) {
			return false
		}
	}
	return len(a.tpls) == 0
}

// altCube turns one alternative into a cube; ok is false when a literal is
// known false.
func (cx *context) altCube(alt []lit) (cube, bool) {
	c := make(cube, 0, len(alt))
	for _, l := range alt {
		switch cx.value(l) {
		case isFalse:
			return nil, false
		case unknown:
			c = append(c, l)
		}
	}
	sortCube(c)
	return simplify(c)
}

// clauseCubes is the OR of a clause's alternatives; an empty clause is
// every request.
func (cx *context) clauseCubes(alts [][]lit) []cube {
	if len(alts) == 0 {
		return []cube{{}}
	}
	var out []cube
	for _, alt := range alts {
		c, ok := cx.altCube(alt)
		if !ok {
			continue
		}
		if len(c) == 0 {
			return []cube{{}}
		}
		out = append(out, c)
	}
	return out
}

// ruleCubes is the space a rule matches, as cubes in the order of its
// alternatives.
func (cx *context) ruleCubes(r *ruleLits) []cube {
	if r.never {
		return nil
	}
	acc := []cube{{}}
	for _, alts := range r.clauses {
		cs := cx.clauseCubes(alts)
		next := make([]cube, 0, len(acc)*len(cs))
		for _, x := range acc {
			for _, y := range cs {
				if c, ok := conjoin(x, y); ok {
					next = append(next, c)
				}
			}
		}
		acc = pruneSubsumed(next)
		if len(acc) == 0 {
			return nil
		}
	}
	return acc
}

// pruneSubsumed drops each cube contained in an earlier one; order is kept,
// so the first cube containing a request is still the first that matched.
func pruneSubsumed(cs []cube) []cube {
	out := cs[:0:0]
	for _, c := range cs {
		covered := false
		for _, e := range out {
			if implies(c, e) {
				covered = true
				break
			}
		}
		if !covered {
			out = append(out, c)
		}
	}
	return out
}
