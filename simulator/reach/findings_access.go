package reach

import (
	"fmt"
	"slices"
	"strings"

	"github.com/ambient-egress/ambient-egress-operator/simulator"
)

// accessFindings compares what a destination's declared access says (the
// policies an EgressGateway's spec.destinations[].access and deny write,
// alone) with what every policy in force gives, and flags the sources
// whose access differs: a hand-written policy on the same ServiceEntry, or
// on the waypoint, changed what the single source of truth says.
func (b *builder) accessFindings(d *destSpec, entries []Entry, ids [][]int32, m *meter) []Finding {
	if d.Waypoint == nil || m.exhausted() {
		return nil
	}
	ns, _, _ := strings.Cut(d.ServiceEntry, "/")
	// The SNI guard of a wildcard TLS destination is the operator's too:
	// it only keeps the destination what it declares.
	declaredKeys := map[string]bool{ns + "/" + simulator.AccessPolicyName(d.Host): true, ns + "/" + simulator.DenyPolicyName(d.Host): true,
		ns + "/" + simulator.SNIPolicyName(d.Host): true}
	pols := b.policies(d)
	var declared []policyRules
	var others []string
	for _, p := range pols {
		if declaredKeys[p.key] {
			declared = append(declared, p)
		} else if !p.dryRun {
			others = append(others, p.key)
		}
	}
	if len(declared) == 0 || len(others) == 0 {
		return nil
	}
	want, wantIDs := b.entriesOf(d, b.evalOptions(), declared, m)
	if m.exhausted() {
		return nil
	}
	got, wantText := perSource(entries, ids), perSource(want, wantIDs)
	var diffs []string
	for _, id := range sortedIDs(got, wantText) {
		if got.of(id) == wantText.of(id) {
			continue
		}
		name := "other sources"
		if id >= 0 {
			name = ShortPrincipal(b.index.principals[id])
		}
		diffs = append(diffs, fmt.Sprintf("%s: access says %s, in force %s", name, wantText.of(id), got.of(id)))
	}
	if len(diffs) == 0 {
		return nil
	}
	more := ""
	if len(diffs) > 3 {
		more = fmt.Sprintf(" (and %d more)", len(diffs)-3)
		diffs = diffs[:3]
	}
	return []Finding{{Severity: SeverityWarning, Code: CodeAccessOverriddenByPolicy, Object: "ServiceEntry " + d.ServiceEntry, Field: "spec.destinations",
		Message: fmt.Sprintf("on %s the policies in force give other access than the EgressGateway's access and deny say, because of %s: %s%s",
			d.Key(), strings.Join(others, ", "), strings.Join(diffs, "; "), more),
		Fix: "move the rules of those policies into spec.destinations[].access or deny, or delete them, so the EgressGateway stays the one place that says who may call the destination"}}
}

// sourceAccess maps a source index (-1 for the sources no entry lists) to
// the text of its access.
type sourceAccess map[int32]string

func (s sourceAccess) of(id int32) string {
	if t, ok := s[id]; ok {
		return t
	}
	return s[-1]
}

func perSource(entries []Entry, ids [][]int32) sourceAccess {
	out := sourceAccess{}
	for i, e := range entries {
		text := string(e.Access)
		if e.Access == AccessPartial {
			var cubes []string
			for _, c := range e.Allowed {
				cubes = append(cubes, c.Text())
			}
			text += " (" + strings.Join(cubes, " | ") + ")"
		}
		if e.OtherSources {
			out[-1] = text
			continue
		}
		for _, id := range ids[i] {
			out[id] = text
		}
	}
	return out
}

// sortedIDs lists the source indexes either map names, other sources
// first.
func sortedIDs(a, b sourceAccess) []int32 {
	seen := map[int32]bool{-1: true}
	out := []int32{-1}
	for _, m := range []sourceAccess{a, b} {
		for id := range m {
			if !seen[id] {
				seen[id] = true
				out = append(out, id)
			}
		}
	}
	slices.Sort(out)
	return out
}
