//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	egressv1alpha1 "github.com/ambient-egress/ambient-egress-operator/apis/egress/v1alpha1"
	"github.com/ambient-egress/ambient-egress-operator/controllers/internal/testenv"
	"github.com/ambient-egress/ambient-egress-operator/simulator"
)

// fidelityManifests mixes every way a policy can attach, or fail to: a
// ServiceEntry bound through the namespace, one opted out, a missing one,
// the waypoint Gateway itself, and a policy with no targetRefs (ztunnel's).
const fidelityManifests = `
apiVersion: egress.ambient.io/v1alpha1
kind: EgressGateway
metadata: {name: waypoint}
spec: {enrollNamespace: true}
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: bound}
spec: {hosts: [bound.example.com], ports: [{number: 80, name: http, protocol: HTTP}], resolution: DNS}
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: optout, labels: {istio.io/use-waypoint: none}}
spec: {hosts: [optout.example.com], ports: [{number: 443, name: tls, protocol: TLS}], resolution: DNS}
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: to-bound}
spec:
  targetRefs: [{kind: ServiceEntry, group: networking.istio.io, name: bound}]
  rules: [{to: [{operation: {methods: [GET]}}]}]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: to-optout}
spec:
  targetRefs: [{kind: ServiceEntry, group: networking.istio.io, name: optout}]
  rules: [{from: [{source: {namespaces: [default]}}]}]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: to-missing}
spec:
  targetRefs: [{kind: ServiceEntry, group: networking.istio.io, name: missing}]
  rules: [{}]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: to-gateway}
spec:
  targetRefs: [{kind: Gateway, group: gateway.networking.k8s.io, name: waypoint}]
  action: DENY
  rules: [{to: [{operation: {paths: [/admin]}}]}]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: namespace-wide}
spec:
  rules: [{from: [{source: {namespaces: [default]}}]}]
`

// TestAttachmentMatchesIstiod compares, policy by policy, the simulator's
// attachment decision (which waypoint enforces it, or ztunnel, or nothing)
// with the WaypointAccepted and ZtunnelAccepted conditions istiod writes.
// Any disagreement is a simulator bug.
func TestAttachmentMatchesIstiod(t *testing.T) {
	ns := newNamespace(t, "fidelity", nil)
	apply(t, ns, fidelityManifests)
	waitForCondition(t, ns, "waypoint", egressv1alpha1.ConditionWaypointReady, metav1.ConditionTrue)

	want := simulatedAttachment(t, ns)
	for policy, w := range want {
		testenv.Eventually(t, timeout, fmt.Sprintf("istiod to agree on %s: %s", policy, w), func(ctx context.Context) (bool, error) {
			cond, err := istioCondition(ctx, policyGVK, ns, policy, w.condition)
			if err != nil || cond == nil {
				return false, err
			}
			if cond.Status != w.status {
				return false, fmt.Errorf("istiod wrote %s=%s (%s: %s), the simulator says %s", w.condition, cond.Status, cond.Reason, cond.Message, w.status)
			}
			return true, nil
		})
	}
	// The verdicts too: the policy on the waypoint Gateway and the one on
	// the bound ServiceEntry, as istiod's RBAC for the waypoint has them.
	waitForVerifiedAgrees(t, ns, "waypoint")
}

// attachment is one expected policy condition.
type attachment struct {
	condition string
	status    metav1.ConditionStatus
}

func (a attachment) String() string { return a.condition + "=" + string(a.status) }

// simulatedAttachment compiles the same manifests with the simulator and
// derives, for each policy, the condition istiod should write.
func simulatedAttachment(t *testing.T, ns string) map[string]attachment {
	t.Helper()
	input := fmt.Sprintf("apiVersion: v1\nkind: Namespace\nmetadata: {name: %s}\n---\n", ns) +
		strings.ReplaceAll(fidelityManifests, "metadata: {name:", "metadata: {namespace: "+ns+", name:")
	snap, _, err := simulator.Parse("fidelity.yaml", []byte(input))
	if err != nil {
		t.Fatal(err)
	}
	prog, _ := simulator.Compile(snap, simulator.Options{})
	bound := func(seName string) bool {
		for _, d := range prog.Destinations() {
			if d.Origin.Kind == "ServiceEntry" && d.Origin.Namespace == ns && d.Origin.Name == seName {
				return d.Waypoint != ""
			}
		}
		return false // a ServiceEntry that does not exist binds nothing
	}
	gateway := func(name string) bool {
		for _, w := range prog.Waypoints() {
			if w.Namespace == ns && w.Name == name {
				return true
			}
		}
		return false
	}
	ztunnel := func(name string) bool {
		for _, p := range prog.ZtunnelPolicies() {
			if p.Key == ns+"/"+name {
				return true
			}
		}
		return false
	}
	status := func(ok bool) metav1.ConditionStatus {
		if ok {
			return metav1.ConditionTrue
		}
		return metav1.ConditionFalse
	}
	return map[string]attachment{
		"to-bound":       {"WaypointAccepted", status(bound("bound"))},
		"to-optout":      {"WaypointAccepted", status(bound("optout"))},
		"to-missing":     {"WaypointAccepted", status(bound("missing"))},
		"to-gateway":     {"WaypointAccepted", status(gateway("waypoint"))},
		"namespace-wide": {"ZtunnelAccepted", status(ztunnel("namespace-wide"))},
	}
}

// TestSharedWaypointMatchesIstiod: a waypoint shared with ServiceEntries of
// other namespaces through spec.waypoint.allowedRoutes. istiod binds the
// ServiceEntry of a namespace the selector matches (WaypointBound=True)
// and refuses the other's (WaypointBound=False), as the simulator says
// from the same objects.
func TestSharedWaypointMatchesIstiod(t *testing.T) {
	egress := newNamespace(t, "shared", nil)
	selected := map[string]string{"egress.example.com/shared-waypoint": egress}
	teamA := newNamespace(t, "team-a", selected)
	teamB := newNamespace(t, "team-b", nil)
	gateway := fmt.Sprintf(`apiVersion: egress.ambient.io/v1alpha1
kind: EgressGateway
metadata: {name: shared}
spec:
  enrollNamespace: false
  waypoint:
    allowedRoutes:
      from: Selector
      selector: {matchLabels: {egress.example.com/shared-waypoint: %s}}
`, egress)
	entry := fmt.Sprintf(`apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: api, labels: {istio.io/use-waypoint: shared, istio.io/use-waypoint-namespace: %s}}
spec: {hosts: [api.example.com], ports: [{number: 80, name: http, protocol: HTTP}], resolution: DNS}
`, egress)
	apply(t, egress, gateway)
	apply(t, teamA, entry)
	apply(t, teamB, entry)
	waitForCondition(t, egress, "shared", egressv1alpha1.ConditionWaypointReady, metav1.ConditionTrue)

	input := fmt.Sprintf("apiVersion: v1\nkind: Namespace\nmetadata: {name: %s}\n---\n", egress) +
		fmt.Sprintf("apiVersion: v1\nkind: Namespace\nmetadata: {name: %s, labels: {egress.example.com/shared-waypoint: %s}}\n---\n", teamA, egress) +
		fmt.Sprintf("apiVersion: v1\nkind: Namespace\nmetadata: {name: %s}\n---\n", teamB) +
		strings.Replace(gateway, "metadata: {name:", "metadata: {namespace: "+egress+", name:", 1) + "---\n" +
		strings.Replace(entry, "metadata: {name:", "metadata: {namespace: "+teamA+", name:", 1) + "---\n" +
		strings.Replace(entry, "metadata: {name:", "metadata: {namespace: "+teamB+", name:", 1)
	snap, _, err := simulator.Parse("shared.yaml", []byte(input))
	if err != nil {
		t.Fatal(err)
	}
	prog, _ := simulator.Compile(snap, simulator.Options{})
	for _, d := range prog.Destinations() {
		want := metav1.ConditionFalse
		if d.Waypoint != "" {
			want = metav1.ConditionTrue
		}
		if (d.Origin.Namespace == teamA) != (want == metav1.ConditionTrue) {
			t.Errorf("the simulator binds %s/%s: %s", d.Origin.Namespace, d.Origin.Name, d.Binding)
		}
		waitForIstioCondition(t, serviceEntryGVK, d.Origin.Namespace, d.Origin.Name, "istio.io/WaypointBound", want)
	}
}
