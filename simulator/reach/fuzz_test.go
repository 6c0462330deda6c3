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
