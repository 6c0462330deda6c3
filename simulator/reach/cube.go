package reach

import "slices"

// conjoin returns x AND y, simplified; ok is false when it is empty.
func conjoin(x, y cube) (cube, bool) {
	out := make(cube, 0, len(x)+len(y))
	i, j := 0, 0
	for i < len(x) || j < len(y) {
		switch {
		case j >= len(y) || (i < len(x) && litLess(x[i], y[j])):
			out = append(out, x[i])
			i++
		case i >= len(x) || litLess(y[j], x[i]):
			out = append(out, y[j])
			j++
		default: // the same literal in both
			out = append(out, x[i])
			i++
			j++
		}
	}
	return simplify(out)
}

// simplify drops redundant literals of a sorted cube and reports whether it
// is satisfiable as far as the pattern reasoning can tell. It works one
// attribute at a time, as literals on different attributes are independent.
func simplify(c cube) (cube, bool) {
	out := c[:0:0]
	for start := 0; start < len(c); {
		end := start
		for end < len(c) && c[end].a.key == c[start].a.key {
			end++
		}
		kept, ok := simplifyKey(c[start:end])
		if !ok {
			return nil, false
		}
		out = append(out, kept...)
		start = end
	}
	sortCube(out)
	return out, true
}

func simplifyKey(ls []lit) ([]lit, bool) {
	var pos, neg []*atomInfo
	for _, l := range ls {
		if l.neg {
			neg = appendAtom(neg, l.a)
		} else {
			pos = appendAtom(pos, l.a)
		}
	}
	for _, p := range pos {
		for _, n := range neg {
			if p == n || subset(p, n) {
				return nil, false
			}
		}
		if excludedExacts(p, neg) {
			return nil, false
		}
	}
	pos, ok := minimalPositives(pos)
	if !ok {
		return nil, false
	}
	out := make([]lit, 0, len(pos)+len(neg))
	for _, p := range pos {
		out = append(out, lit{a: p})
	}
	for _, n := range neg {
		if !disjointFromAny(n, pos) {
			out = append(out, lit{a: n, neg: true})
		}
	}
	return out, true
}

func appendAtom(list []*atomInfo, a *atomInfo) []*atomInfo {
	if slices.Contains(list, a) {
		return list
	}
	return append(list, a)
}

// minimalPositives drops a positive condition implied by another one and
// fails when two of them cannot hold together.
func minimalPositives(pos []*atomInfo) ([]*atomInfo, bool) {
	out := pos[:0:0]
	for i, p := range pos {
		redundant := false
		for j, q := range pos {
			if i == j {
				continue
			}
			if disjoint(p, q) {
				return nil, false
			}
			// Of two equivalent conditions keep the first.
			if subset(q, p) && (!subset(p, q) || j < i) {
				redundant = true
			}
		}
		if !redundant {
			out = append(out, p)
		}
	}
	return out, true
}

// disjointFromAny reports whether a negated condition is implied by a
// positive one that shares no value with it.
func disjointFromAny(n *atomInfo, pos []*atomInfo) bool {
	for _, p := range pos {
		if disjoint(p, n) {
			return true
		}
	}
	return false
}

// implies reports whether every request in x is in y (x is at least as
// constrained).
func implies(x, y cube) bool {
	for _, l := range y {
		if !anyImplies(x, l) {
			return false
		}
	}
	return true
}

func anyImplies(x cube, l lit) bool {
	for _, m := range x {
		if m.a.key == l.a.key && litImplies(m, l) {
			return true
		}
	}
	return false
}

func litImplies(m, l lit) bool {
	switch {
	case m.a == l.a:
		return m.neg == l.neg
	case !m.neg && !l.neg:
		return subset(m.a, l.a)
	case !m.neg && l.neg:
		return disjoint(m.a, l.a)
	case m.neg && l.neg:
		return subset(l.a, m.a)
	}
	return false
}

// subtract returns the cubes covering x AND NOT d.
func subtract(x, d cube) []cube {
	if _, overlap := conjoin(x, d); !overlap {
		return []cube{x}
	}
	if implies(x, d) {
		return nil
	}
	var out []cube
	for _, l := range d {
		if c, ok := conjoin(x, cube{{a: l.a, neg: !l.neg}}); ok {
			out = append(out, c)
		}
	}
	return out
}
