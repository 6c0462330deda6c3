package reach

import (
	"testing"

	"github.com/ambient-egress/ambient-egress-operator/simulator/reach/scalegen"
)

// FuzzReportAgreesWithEval explores generated configurations: every seed
// gives other namespaces, principals, methods, paths, hosts, headers and
// DENY rules, and random requests must get the same verdict from the report
// as from Program.Eval. Without -fuzz it runs the seed corpus.
func FuzzReportAgreesWithEval(f *testing.F) {
	for seed := uint64(100); seed < 104; seed++ {
		f.Add(seed, uint8(8))
	}
	f.Fuzz(func(t *testing.T, seed uint64, policies uint8) {
		cfg := scalegen.Config{Namespaces: 3, AccountsPerNS: 2, ServiceEntries: 2, Policies: 1 + int(policies%16), Seed: seed}
		checkAgreementN(t, parseInput(t, scalegen.Generate(cfg)), false, 300)
	})
}

// FuzzBudgetedReportIsSound explores adversarial shapes, sizes and budgets:
// the build always ends (the budget bounds it), and the report is sound on
// sampled requests: exact entries agree with Program.Eval (what egressctl
// check runs), inexact ones never leave out a request Eval allows.
func FuzzBudgetedReportIsSound(f *testing.F) {
	for i := range len(adversarialShapes) {
		f.Add(uint8(i), uint8(6), uint64(i), uint32(20_000))
	}
	f.Fuzz(func(t *testing.T, shape, policies uint8, seed uint64, work uint32) {
		in := parseInput(t, adversarialManifests(adversarialShapes[int(shape)%len(adversarialShapes)], 1+int(policies%24), seed))
		// A work budget only, so the result does not depend on the clock.
		in.Budget = Budget{Work: 1 + int64(work%200_000), PerDestination: -1}
		r, _ := Build(in)
		checkSound(t, in, r, 200)
	})
}
