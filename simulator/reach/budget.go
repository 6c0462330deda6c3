package reach

import (
	"context"
	"strconv"
	"time"
)

// Budget bounds the symbolic work of a report. Subtracting DENY rules from
// ALLOW rules is where the cost can grow exponentially: removing a DENY rule
// of k conditions from a cube leaves up to k cubes, so m independent DENY
// rules can leave k^m, and no list of cubes describes that space in fewer
// (the negation of a union is a product). The budget caps that work per
// destination; past it the destination's entries are still sound but marked
// inexact (see Entry.Inexact), a ReportTooComplex finding names the policies,
// and every other destination stays exact.
type Budget struct {
	// Work caps the cube operations (one conjunction, subtraction piece
	// or containment test) spent on one destination. Zero means
	// DefaultBudget's.
	Work int64
	// PerDestination caps the time spent on one destination. Zero means
	// DefaultBudget's; negative means no limit.
	PerDestination time.Duration
	// Total caps the time spent on the symbolic evaluation of the whole
	// report: past it, the remaining destinations are evaluated without
	// subtracting DENY rules (inexact where they have any). Zero means no
	// limit.
	Total time.Duration
}

// DefaultBudget is the budget egressctl and the operator use unless told
// otherwise. A realistic destination (tens of rules) needs a few thousand
// operations; the adversarial benchmarks run out of 2,000,000 after about
// 0.15 s on one core of this project's 2-core machines, and the time limit
// catches operations dearer than those.
var DefaultBudget = Budget{Work: 2_000_000, PerDestination: 500 * time.Millisecond}

func (b Budget) withDefaults() Budget {
	if b.Work <= 0 {
		b.Work = DefaultBudget.Work
	}
	if b.PerDestination == 0 {
		b.PerDestination = DefaultBudget.PerDestination
	}
	return b
}

// describe says what the budget of one destination is, for findings.
func (b Budget) describe() string {
	s := strconv.FormatInt(b.Work, 10) + " operations"
	if b.PerDestination > 0 {
		s += ", " + b.PerDestination.String()
	}
	return s
}

// fingerprint distinguishes budgets in the Builder's cache: a result cut
// short by one work budget is not the result under another.
func (b Budget) fingerprint() uint64 { return uint64(b.Work) * 0x9e3779b97f4a7c15 }

// checkEvery is how many work units pass between two looks at the clock and
// the context; small enough that a cancellation is seen within a
// millisecond or so, large enough that the look costs nothing.
const checkEvery = 512

// meter counts one destination's work against its budget. Once it runs out
// it stays out: the destination's remaining evaluations take the cheap path.
// A nil meter never runs out.
type meter struct {
	ctx      context.Context
	left     int64
	deadline time.Time
	tick     int
	// out is set when the budget is spent, the deadline passed or the
	// context was canceled; timedOut for the last two.
	out      bool
	timedOut bool
}

// newMeter starts a meter for one destination; deadline is the earlier of
// the destination's and the report's.
func newMeter(ctx context.Context, work int64, deadline time.Time) *meter {
	m := &meter{ctx: ctx, left: work, deadline: deadline}
	if (!deadline.IsZero() && !time.Now().Before(deadline)) || (ctx != nil && ctx.Err() != nil) {
		m.out, m.timedOut = true, true
	}
	return m
}

// spend charges n units and reports whether the budget still holds.
func (m *meter) spend(n int) bool {
	if m == nil {
		return true
	}
	if m.out {
		return false
	}
	m.left -= int64(n)
	if m.left <= 0 {
		m.out = true
		return false
	}
	m.tick += n
	if m.tick >= checkEvery {
		m.tick = 0
		if (!m.deadline.IsZero() && !time.Now().Before(m.deadline)) || (m.ctx != nil && m.ctx.Err() != nil) {
			m.out, m.timedOut = true, true
			return false
		}
	}
	return true
}

// exhausted reports whether the budget ran out.
func (m *meter) exhausted() bool { return m != nil && m.out }
