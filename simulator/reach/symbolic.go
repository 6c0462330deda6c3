package reach

import (
	"strings"

	"github.com/ambient-egress/ambient-egress-operator/simulator"
	"github.com/ambient-egress/ambient-egress-operator/simulator/match"
)

// evalContext is what is known while partially evaluating rules: the
// destination (port and host) and, for each source condition, whether the
// caller satisfies it. keepSources leaves source conditions symbolic, for
// findings about rules themselves.
type evalContext struct {
	port int
	// host is the destination host; "" or a wildcard host leaves host
	// conditions symbolic.
	host string
	// flipped marks the source conditions whose value differs from the
	// value for an anonymous caller.
	flipped     map[*atomInfo]bool
	keepSources bool
	// noJWT says no RequestAuthentication applies at the destination: the
	// waypoint validates no token, so JWT conditions read empty values.
	noJWT bool
	// m meters the work; nil is unlimited.
	m *meter
}

// constant is the value of a literal known from the context.
type constant uint8

const (
	unknown constant = iota
	isTrue
	isFalse
)

func (cx *evalContext) value(l lit) constant {
	a := l.a
	var v bool
	switch {
	case a.source && cx.keepSources:
		return unknown
	case a.source:
		v = a.anon != cx.flipped[a]
	case a.atom.NeverMatches():
		v = false
	case a.jwt && cx.noJWT:
		// Every JWT condition needs a validated token to match.
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
func (cx *evalContext) hostNeverMatches(a *atomInfo) bool {
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
func (cx *evalContext) altCube(alt []lit) (cube, bool) {
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
func (cx *evalContext) clauseCubes(alts [][]lit) []cube {
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

// maxRuleCubes caps the cubes of one rule. Multiplying a rule's clauses
// out (from x to x when, each an OR) is the only step of a rule that can
// grow, and a real rule stays far below this; past it the rule is
// over-approximated.
const maxRuleCubes = 1024

// ruleCubes is the space a rule matches, as cubes in the order of its
// alternatives. exact is false when multiplying the clauses out would pass
// maxRuleCubes; the cubes then over-approximate the rule's space (the
// clauses with one alternative only, which every matching request meets).
// Rules are cheap next to subtraction, so the meter is charged but does not
// stop them: a destination out of budget still lists its DENY rules.
func (cx *evalContext) ruleCubes(r *ruleLits) (cs []cube, exact bool) {
	if r.never {
		return nil, true
	}
	acc := []cube{{}}
	for _, alts := range r.clauses {
		cs := cx.clauseCubes(alts)
		if len(acc)*len(cs) > maxRuleCubes {
			return cx.overApprox(r), false
		}
		cx.m.spend(len(acc) * len(cs))
		next := make([]cube, 0, len(acc)*len(cs))
		for _, x := range acc {
			for _, y := range cs {
				if c, ok := conjoin(x, y); ok {
					next = append(next, c)
				}
			}
		}
		acc = pruneSubsumed(nil, next)
		if len(acc) == 0 {
			return nil, true
		}
	}
	return acc, true
}

// overApprox is a cube containing every request a rule matches: the
// conjunction of its clauses that have a single alternative. It is empty
// (nil) when those clauses cannot hold together.
func (cx *evalContext) overApprox(r *ruleLits) []cube {
	acc := cube{}
	for _, alts := range r.clauses {
		if len(alts) != 1 {
			continue
		}
		c, ok := cx.altCube(alts[0])
		if !ok {
			return nil
		}
		if acc, ok = conjoin(acc, c); !ok {
			return nil
		}
	}
	return []cube{acc}
}

// pruneSubsumed drops each cube contained in an earlier one; order is kept,
// so the first cube containing a request is still the first that matched.
// When the meter runs out the rest is kept unpruned, which changes no space.
func pruneSubsumed(m *meter, cs []cube) []cube {
	out := cs[:0:0]
	for i, c := range cs {
		if !m.spend(len(out) + 1) {
			return append(out, cs[i:]...)
		}
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
