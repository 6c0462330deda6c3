package reach

import "github.com/ambient-egress/ambient-egress-operator/simulator/match"

// The functions here reason about the value sets of two string conditions on
// the same attribute. They answer "yes" only when it is certain, so a
// simplification they allow never changes which requests a cube contains.

// subset reports whether every value x accepts is accepted by y.
func subset(x, y *atomInfo) bool {
	if !x.patterned || !y.patterned {
		return false
	}
	for _, p := range x.ms {
		if !stringInSet(p, y) {
			return false
		}
	}
	for _, tp := range x.tpls {
		if !templateInSet(tp, y) {
			return false
		}
	}
	return true
}

func stringInSet(p match.String, y *atomInfo) bool {
	for _, q := range y.ms {
		if patternSubset(p, q) {
			return true
		}
	}
	if p.Kind == match.Exact {
		for _, t := range y.tpls {
			if t.Match(p.Value) {
				return true
			}
		}
	}
	return false
}

func templateInSet(tp *match.Template, y *atomInfo) bool {
	for _, q := range y.ms {
		if q.Kind == match.Present {
			return true
		}
	}
	for _, t := range y.tpls {
		if t.String() == tp.String() {
			return true
		}
	}
	return false
}

// patternSubset reports whether pattern p accepts only values q accepts.
func patternSubset(p, q match.String) bool {
	switch {
	case q.Kind == match.Present:
		return true
	case p.Kind == match.Exact:
		return q.Match(p.Value, true)
	case p.Kind == q.Kind && (q.Kind == match.Prefix || q.Kind == match.Suffix):
		return q.Match(p.Value, true)
	}
	return false
}

// disjoint reports whether no value is accepted by both x and y.
func disjoint(x, y *atomInfo) bool {
	if !x.patterned || !y.patterned {
		return false
	}
	for _, p := range x.ms {
		for _, q := range y.ms {
			if !patternDisjoint(p, q) {
				return false
			}
		}
		for _, t := range y.tpls {
			if p.Kind != match.Exact || t.Match(p.Value) {
				return false
			}
		}
	}
	for _, t := range x.tpls {
		for _, q := range y.ms {
			if q.Kind != match.Exact || t.Match(q.Value) {
				return false
			}
		}
		if len(y.tpls) > 0 {
			return false
		}
	}
	return true
}

func patternDisjoint(p, q match.String) bool {
	switch {
	case p.Kind == match.Present || q.Kind == match.Present:
		return false
	case p.Kind == match.Exact:
		return !q.Match(p.Value, true)
	case q.Kind == match.Exact:
		return !p.Match(q.Value, true)
	case p.Kind == q.Kind:
		return !p.Match(q.Value, true) && !q.Match(p.Value, true)
	}
	return false
}

// excludedExacts reports whether x accepts only exact values and every one
// of them is accepted by one of the negated conditions, leaving nothing.
func excludedExacts(x *atomInfo, negs []*atomInfo) bool {
	if !x.patterned || len(x.tpls) > 0 {
		return false
	}
	for _, p := range x.ms {
		if p.Kind != match.Exact || !anyAccepts(negs, p.Value) {
			return false
		}
	}
	return true
}

func anyAccepts(negs []*atomInfo, v string) bool {
	for _, n := range negs {
		if !n.patterned {
			continue
		}
		if match.AnyString(n.ms, v, true) {
			return true
		}
		for _, t := range n.tpls {
			if t.Match(v) {
				return true
			}
		}
	}
	return false
}
