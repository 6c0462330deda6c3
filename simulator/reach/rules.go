package reach

import (
	"github.com/ambient-egress/ambient-egress-operator/simulator"
)

// policyRules is one policy's compiled rules with interned atoms.
type policyRules struct {
	key      string
	action   string
	dryRun   bool
	provider string
	// unknownProvider: a CUSTOM policy istiod enforces as DENY rules.
	unknownProvider bool
	rules           []ruleLits
}

// ruleLits is one compiled rule: clauses ANDed, alternatives ORed, the
// literals of an alternative ANDed.
type ruleLits struct {
	index   int
	never   bool
	clauses [][][]lit
	skipped string
	dropped []string
}

func internForms(t *atomTable, forms []simulator.PolicyForm) []policyRules {
	out := make([]policyRules, len(forms))
	for i, f := range forms {
		pr := policyRules{key: f.Key, action: f.Action, dryRun: f.DryRun, provider: f.Provider, unknownProvider: f.UnknownProvider}
		for _, r := range f.Rules {
			rl := ruleLits{index: r.Index, never: r.Never, skipped: r.Skipped, dropped: r.Dropped,
				clauses: make([][][]lit, len(r.Clauses))}
			for ci, c := range r.Clauses {
				alts := make([][]lit, len(c))
				for ai, alt := range c {
					ls := make([]lit, len(alt))
					for li, l := range alt {
						ls[li] = lit{a: t.intern(l.Atom), neg: l.Neg}
					}
					alts[ai] = ls
				}
				rl.clauses[ci] = alts
			}
			pr.rules = append(pr.rules, rl)
		}
		out[i] = pr
	}
	return out
}

// sourceAtoms lists the distinct source conditions of the given policies.
func sourceAtoms(pols []policyRules) []*atomInfo {
	seen := map[*atomInfo]bool{}
	var out []*atomInfo
	for _, p := range pols {
		for _, r := range p.rules {
			for _, c := range r.clauses {
				for _, alt := range c {
					for _, l := range alt {
						if l.a.source && !seen[l.a] {
							seen[l.a] = true
							out = append(out, l.a)
						}
					}
				}
			}
		}
	}
	return out
}
