package reach

import (
	"context"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ambient-egress/ambient-egress-operator/simulator"
)

// Input is what a report is built from.
type Input struct {
	// Snapshot holds the manifests (simulator.Load).
	Snapshot *simulator.Snapshot
	// ServiceAccounts are the service accounts in the inputs
	// (LoadServiceAccounts); those in ambient namespaces are sources.
	ServiceAccounts []Ref
	// Sources are extra source principals ("td/ns/NS/sa/SA").
	Sources []string
	// Options are the mesh settings to compile with.
	Options simulator.Options
	// Probes are requests to answer beside the report.
	Probes []Probe
	// Budget bounds the symbolic work; the zero value is DefaultBudget.
	Budget Budget
	// LoadIssues are the loader's issues about the manifests (documents
	// left out by --ignore-unknown, say); the report shows its warnings as
	// findings, as it does the compiler's.
	LoadIssues simulator.Issues
}

// Build compiles the snapshot and computes its report. The issues are the
// simulator's findings about the inputs; error ones are also in the report.
func Build(in Input) (*Report, simulator.Issues) {
	var b Builder
	return b.Build(in)
}

// BuildContext is Build that stops when ctx is done, returning ctx's error
// within a few milliseconds.
func BuildContext(ctx context.Context, in Input) (*Report, simulator.Issues, error) {
	var b Builder
	return b.BuildContext(ctx, in)
}

// builder holds the state of one report computation.
type builder struct {
	prog  *simulator.Program
	atoms *atomTable
	index *sourceIndex
	// forms caches interned policies by key and chain.
	forms        *formCache
	customDenies bool
	// scratch is the working memory of one worker: each worker
	// evaluating destinations has its own copy of the builder.
	scratch *scratch
	// ctx, budget and deadline bound the work (see Budget); deadline is
	// the report's, zero when it has none.
	ctx      context.Context
	budget   Budget
	deadline time.Time
}

// meter starts the meter of one destination's work.
func (b *builder) meter() *meter {
	deadline := b.deadline
	if b.budget.PerDestination > 0 {
		d := time.Now().Add(b.budget.PerDestination)
		if deadline.IsZero() || d.Before(deadline) {
			deadline = d
		}
	}
	return newMeter(b.ctx, b.budget.Work, deadline)
}

func (b *builder) policies(d *destSpec) []policyRules {
	forms := formsOf(b.prog, d)
	out := make([]policyRules, len(forms))
	for i, f := range forms {
		k := f.Key
		if d.http {
			k += "\x00http"
		}
		out[i] = b.forms.get(k, func() policyRules {
			pr := internForms(b.atoms, forms[i:i+1])[0]
			// Evaluating a caller reads what each source condition says
			// about it, so they are resolved before any evaluation.
			for _, a := range sourceAtoms([]policyRules{pr}) {
				b.index.resolve(a)
			}
			return pr
		})
	}
	return out
}

// formCache holds the interned policies of one build, shared by the
// workers evaluating destinations.
type formCache struct {
	mu sync.Mutex
	m  map[string]policyRules
}

func newFormCache() *formCache { return &formCache{m: map[string]policyRules{}} }

func (c *formCache) get(k string, intern func() policyRules) policyRules {
	c.mu.Lock()
	defer c.mu.Unlock()
	pr, ok := c.m[k]
	if !ok {
		pr = intern()
		c.m[k] = pr
	}
	return pr
}

func (b *builder) evalOptions() evalOptions {
	return evalOptions{customDenies: b.customDenies}
}

// each calls f for every index of todo on GOMAXPROCS workers, each with its
// own copy of the builder (its own scratch space), and stops handing out
// work once the context is done.
func (b *builder) each(todo []int, f func(w *builder, i int)) {
	workers := min(runtime.GOMAXPROCS(0), len(todo))
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		w := *b
		w.scratch = nil
		wg.Go(func() {
			for n := int(next.Add(1)) - 1; n < len(todo) && w.ctx.Err() == nil; n = int(next.Add(1)) - 1 {
				f(&w, todo[n])
			}
		})
	}
	wg.Wait()
}
