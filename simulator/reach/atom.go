package reach

import (
	"sort"
	"sync"

	"github.com/ambient-egress/ambient-egress-operator/simulator"
	"github.com/ambient-egress/ambient-egress-operator/simulator/match"
)

// atomInfo is one compiled condition, interned by its ID so that equal
// conditions of different policies are one pointer: literal identity is then
// a pointer comparison.
type atomInfo struct {
	atom simulator.Atom
	id   string
	key  string
	// source is set for conditions on the caller's identity.
	source bool
	// jwt is set for conditions on the request's validated JWT.
	jwt bool
	// ms, tpls and fold are the patterns of string conditions; patterned
	// says the pattern reasoning of patterns.go applies.
	ms        []match.String
	tpls      []*match.Template
	fold      bool
	patterned bool
	// anon is the value for a caller no policy names; diff lists the sources
	// whose value differs from it. Both are filled lazily by the index.
	anon    bool
	diff    []int32
	resolve sync.Once
}

// atomTable interns atoms for one report build. Destinations are evaluated
// concurrently, so lookups and inserts are locked.
type atomTable struct {
	mu   sync.RWMutex
	byID map[string]*atomInfo
}

func newAtomTable() *atomTable { return &atomTable{byID: map[string]*atomInfo{}} }

func (t *atomTable) intern(a simulator.Atom) *atomInfo {
	id := a.ID()
	t.mu.RLock()
	ai, ok := t.byID[id]
	t.mu.RUnlock()
	if ok {
		return ai
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if ai, ok := t.byID[id]; ok {
		return ai
	}
	ai = &atomInfo{atom: a, id: id, key: a.Key(), source: a.OnSource(), jwt: a.ReadsJWT()}
	ai.ms, ai.tpls, ai.fold = a.Patterns()
	ai.patterned = len(ai.ms)+len(ai.tpls) > 0
	t.byID[id] = ai
	return ai
}

// lit is an atom or its negation.
type lit struct {
	a   *atomInfo
	neg bool
}

// cube is a conjunction of literals, sorted by key then atom ID then
// polarity; the empty cube is every request.
type cube []lit

func litLess(x, y lit) bool {
	if x.a.key != y.a.key {
		return x.a.key < y.a.key
	}
	if x.a.id != y.a.id {
		return x.a.id < y.a.id
	}
	return !x.neg && y.neg
}

func sortCube(c cube) {
	sort.Slice(c, func(i, j int) bool { return litLess(c[i], c[j]) })
}

// matches evaluates the cube on a request with the simulator's own matchers.
func (c cube) matches(r *simulator.Request) bool {
	for _, l := range c {
		if l.a.atom.Matches(r) == l.neg {
			return false
		}
	}
	return true
}
