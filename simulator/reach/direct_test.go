package reach

import (
	"slices"
	"strings"
	"testing"

	"github.com/ambient-egress/ambient-egress-operator/simulator/netpol"
)

// directRows builds the report of manifests and returns its "any other
// host" rows.
func directRows(t *testing.T, manifests string) []DirectEntry {
	t.Helper()
	r, _ := Build(parseLenient(t, manifests))
	var out []DirectEntry
	for _, e := range r.Direct {
		if e.Destination == AnyOtherHost {
			out = append(out, e)
		}
	}
	return out
}

func TestDirectRows(t *testing.T) {
	adminAllow := "---\napiVersion: policy.networking.k8s.io/v1alpha1\nkind: AdminNetworkPolicy\nmetadata: {name: saas}\n" +
		"spec: {priority: 10, subject: {namespaces: {}}, egress: [{action: Allow, to: [{networks: [198.51.100.0/24]}]}]}\n"
	cases := []struct {
		name      string
		manifests string
		access    netpol.Reach
		allowed   []string
		reason    string
	}{
		{name: "no lockdown", manifests: findingsBase, access: netpol.Direct, reason: "no NetworkPolicy selects"},
		{name: "lockdown", manifests: findingsBase + lockdownEnforce(""), access: netpol.Blocked, reason: "blocked by default/egress-lockdown-waypoint"},
		{name: "allowCIDRs", manifests: findingsBase + lockdownEnforce(", allowCIDRs: [{cidr: 203.0.113.0/24, reason: partner}]"), access: netpol.Partial,
			allowed: []string{"203.0.113.0/24 any port (default/egress-lockdown-waypoint rule 2)"}},
		{name: "Audit writes nothing", manifests: findingsBase + strings.ReplaceAll(lockdownEnforce(""), "Enforce", "Audit"), access: netpol.Direct},
		{name: "an administrator's allow", manifests: findingsBase + lockdownEnforce("") + adminAllow, access: netpol.Partial,
			allowed: []string{"198.51.100.0/24 any port (AdminNetworkPolicy saas rule 0)"}},
		{name: "pod labels decide", manifests: findingsBase + "---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: web, namespace: default}\n" +
			"spec: {podSelector: {matchLabels: {app: web}}, policyTypes: [Egress]}\n", access: netpol.Unknown, reason: "pod labels decide"},
		{name: "the inputs' pods decide", manifests: findingsBase + "---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: web, namespace: default}\n" +
			"spec: {podSelector: {matchLabels: {app: web}}, policyTypes: [Egress]}\n" + pod("admin-1", "{app: web}"), access: netpol.Blocked},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rows := directRows(t, tc.manifests)
			if len(rows) == 0 {
				t.Fatal("no any-other-host row")
			}
			e := rows[0]
			if e.Access != tc.access || !slices.Equal(e.Allowed, tc.allowed) || !strings.Contains(e.Reason, tc.reason) {
				t.Errorf("got %+v, want access %s allowed %q reason ~%q", rows, tc.access, tc.allowed, tc.reason)
			}
		})
	}
}

// TestDiffShowsLockdown: turning the lockdown on closes direct egress
// (nothing opens); turning it off opens it.
func TestDiffShowsLockdown(t *testing.T) {
	off, _ := Build(parseLenient(t, findingsBase))
	on, _ := Build(parseLenient(t, findingsBase+lockdownEnforce("")))
	d := Diff(off, on)
	if d.Opens || len(d.Direct) != 1 || d.Direct[0].AccessBefore != "direct" || d.Direct[0].AccessAfter != "blocked" ||
		!slices.Equal(d.Direct[0].Sources, []string{"default/*"}) || len(d.Direct[0].Closed) != 1 {
		t.Errorf("lockdown on: %+v", d)
	}
	back := Diff(on, off)
	if !back.Opens || len(back.Direct) != 1 || back.Direct[0].AccessAfter != "direct" || len(back.Direct[0].Opened) != 1 {
		t.Errorf("lockdown off: %+v", back)
	}
	if same := Diff(on, on); same.Opens || len(same.Direct) != 0 {
		t.Errorf("no change: %+v", same)
	}
}
