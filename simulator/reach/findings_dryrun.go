package reach

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/ambient-egress/ambient-egress-operator/simulator"
)

// dryRunFindings say, for each dry-run ALLOW or DENY policy of the
// destination, what enforcing it would change there.
func (b *builder) dryRunFindings(d *destSpec, pols []policyRules, m *meter) []Finding {
	var out []Finding
	var actual []Entry
	for _, p := range pols {
		if !p.dryRun || (p.action != simulator.ActionAllow && p.action != simulator.ActionDeny) {
			continue
		}
		if actual == nil {
			actual, _ = b.destEntries(d, b.evalOptions(), m)
		}
		o := b.evalOptions()
		o.enforceDry = map[string]bool{p.key: true}
		enforced, _ := b.destEntries(d, o, m)
		changes := diffEntries(b.atoms, d.Key(), actual, enforced, m)
		out = append(out, dryRunFinding(d, p.key, changes))
	}
	return out
}

func dryRunFinding(d *destSpec, key string, changes []Change) Finding {
	f := Finding{Severity: SeverityInfo, Code: CodeDryRun, Object: "AuthorizationPolicy " + key,
		Field: "metadata.annotations[istio.io/dry-run]",
		Fix:   "remove the istio.io/dry-run annotation to enforce it once the changes are what you want"}
	if len(changes) == 0 {
		f.Message = fmt.Sprintf("dry-run, not enforced: enforcing it would change nothing on %s", d.Key())
		return f
	}
	// Changes with the same effect are told once, whoever they concern:
	// how sources split into entries depends on which policy's rule
	// decides, which depends on names, and the finding must not.
	who := map[string][]string{}
	var whats []string
	for _, c := range changes {
		w := changeWhat(c)
		if _, ok := who[w]; !ok {
			whats = append(whats, w)
		}
		who[w] = append(who[w], changeWho(c))
	}
	sort.Strings(whats)
	parts := make([]string, 0, len(whats))
	for _, w := range whats {
		ws := slices.Clone(who[w])
		sort.Strings(ws)
		parts = append(parts, strings.Join(ws, ", ")+" on "+w)
	}
	f.Message = "dry-run, not enforced: enforcing it would change access: " + strings.Join(parts, "; ")
	return f
}
