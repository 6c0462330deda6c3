package reach

import (
	"bytes"
	"encoding/json"
	"fmt"
	"github.com/ambient-egress/ambient-egress-operator/simulator/reach/scalegen"
	"testing"

	"github.com/ambient-egress/ambient-egress-operator/simulator"
)

// TestUpdatePolicyMatchesBuild changes, adds and deletes policies one at a
// time and requires the incremental report to equal a report built from
// scratch on the same snapshot.
func TestUpdatePolicyMatchesBuild(t *testing.T) {
	cfg := scalegen.Config{Namespaces: 8, AccountsPerNS: 4, ServiceEntries: 10, Policies: 30, Seed: 3}
	in := parseInput(t, scalegen.Generate(cfg))
	var bl Builder
	bl.Build(in)
	edits := []string{
		policyDoc("pol-4", "", "svc-4", "ALLOW", `[{from: [{source: {namespaces: [ns-1]}}], to: [{operation: {methods: [GET]}}]}]`),
		policyDoc("pol-5", `, annotations: {istio.io/dry-run: "true"}`, "svc-5", "DENY", `[{to: [{operation: {paths: ["/admin/*"]}}]}]`),
		policyDoc("pol-new", "", "svc-2", "DENY", `[{from: [{source: {principals: ["cluster.local/ns/ns-2/sa/sa-1"]}}]}]`),
		policyDoc("pol-4", "", "svc-4", "ALLOW", `[{from: [{source: {ipBlocks: ["10.0.0.0/33"]}}]}]`),
	}
	for i, doc := range edits {
		ap := parsePolicy(t, doc)
		in.Snapshot = replacePolicy(in.Snapshot, ap)
		got, _ := bl.UpdatePolicy(in, ap)
		want, _ := Build(in)
		compareReports(t, fmt.Sprintf("edit %d", i), got, want)
	}
	in.Snapshot = deletePolicy(in.Snapshot, "pol-6")
	got, _ := bl.DeletePolicy(in, "istio-egress", "pol-6")
	want, _ := Build(in)
	compareReports(t, "delete", got, want)
}

func policyDoc(name, meta, se, action, rules string) string {
	return "apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: " + name + ", namespace: istio-egress" + meta + "}\n" +
		"spec: {targetRefs: [{kind: ServiceEntry, group: networking.istio.io, name: " + se + "}], action: " + action + ", rules: " + rules + "}\n"
}

func parsePolicy(t testing.TB, doc string) *simulator.AuthorizationPolicy {
	t.Helper()
	snap, _, err := simulator.Parse("edit.yaml", []byte(doc))
	if err != nil || len(snap.AuthorizationPolicies) != 1 {
		t.Fatalf("parse policy: %v", err)
	}
	return snap.AuthorizationPolicies[0]
}

// replacePolicy returns a copy of snap with ap in place of the policy of
// the same name, or added; the other objects are shared.
func replacePolicy(snap *simulator.Snapshot, ap *simulator.AuthorizationPolicy) *simulator.Snapshot {
	next := *snap
	next.AuthorizationPolicies = nil
	replaced := false
	for _, p := range snap.AuthorizationPolicies {
		if p.Namespace == ap.Namespace && p.Name == ap.Name {
			p, replaced = ap, true
		}
		next.AuthorizationPolicies = append(next.AuthorizationPolicies, p)
	}
	if !replaced {
		next.AuthorizationPolicies = append(next.AuthorizationPolicies, ap)
	}
	return &next
}

func deletePolicy(snap *simulator.Snapshot, name string) *simulator.Snapshot {
	next := *snap
	next.AuthorizationPolicies = nil
	for _, p := range snap.AuthorizationPolicies {
		if p.Name != name {
			next.AuthorizationPolicies = append(next.AuthorizationPolicies, p)
		}
	}
	return &next
}

// compareReports compares two reports, leaving out the simulator's
// whole-program warnings, which only a full build recomputes.
func compareReports(t *testing.T, what string, got, want *Report) {
	t.Helper()
	a, b := reportJSON(t, got), reportJSON(t, want)
	if !bytes.Equal(a, b) {
		t.Errorf("%s: incremental report differs from a full build\n--- incremental\n%s\n--- full\n%s", what, a, b)
	}
}

func reportJSON(t *testing.T, r *Report) []byte {
	t.Helper()
	c := *r
	c.Findings = nil
	for _, f := range r.Findings {
		if f.Code != CodeSimulatorWarning {
			c.Findings = append(c.Findings, f)
		}
	}
	data, err := json.MarshalIndent(c, "", " ")
	if err != nil {
		t.Fatal(err)
	}
	return data
}
