package controllers_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"
	istionetworkingv1 "istio.io/client-go/pkg/apis/networking/v1"
	istiosecurityv1 "istio.io/client-go/pkg/apis/security/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	egressv1alpha1 "github.com/ambient-egress/ambient-egress-operator/apis/egress/v1alpha1"
	"github.com/ambient-egress/ambient-egress-operator/controllers"
)

// TestDestinationAccess: spec.destinations[].access and deny become the
// ALLOW and DENY AuthorizationPolicies of the destination's ServiceEntry,
// owned, labeled, kept as rendered and pruned; a policy of the name a
// person wrote is left alone, with a condition and an Event.
func TestDestinationAccess(t *testing.T) {
	ctx := context.Background()
	ns := env.CreateNamespace(t, "access", nil).Name
	// A policy a person wrote, whose name a destination will want.
	createYAML(t, fmt.Sprintf(`
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: api.example.com-access, namespace: %s}
spec:
  targetRefs: [{kind: ServiceEntry, group: networking.istio.io, name: api.example.com}]
  rules: [{}]
`, ns))
	startOperatorIn(t, env.Config, []string{ns}, controllers.Options{})
	access := func(methods ...string) []egressv1alpha1.AccessRule {
		return []egressv1alpha1.AccessRule{
			{From: &egressv1alpha1.AccessSource{ServiceAccounts: []string{"default/admin"}}},
			{To: &egressv1alpha1.AccessOperation{Methods: methods, Paths: []string{"/get"}}},
		}
	}
	dest := func(host string) egressv1alpha1.Destination {
		return egressv1alpha1.Destination{Host: host, Ports: []egressv1alpha1.DestinationPort{{Number: 80, Name: "http", Protocol: "HTTP"}},
			Access: access("GET"), Deny: []egressv1alpha1.AccessRule{{To: &egressv1alpha1.AccessOperation{Paths: []string{"/admin/*"}}}}}
	}
	egw := newEgressGateway(ns, "waypoint", func(e *egressv1alpha1.EgressGateway) {
		e.Spec.Destinations = []egressv1alpha1.Destination{dest("httpbin.org")}
	})
	if err := env.Client.Create(ctx, egw); err != nil {
		t.Fatal(err)
	}
	key := client.ObjectKeyFromObject(egw)
	seKey := client.ObjectKey{Namespace: ns, Name: "httpbin.org"}
	allowKey := client.ObjectKey{Namespace: ns, Name: "httpbin.org-access"}
	denyKey := client.ObjectKey{Namespace: ns, Name: "httpbin.org-deny"}

	t.Run("the ALLOW and DENY policies, owned and labeled", func(t *testing.T) {
		wantAllow, wantDeny := &istiosecurityv1.AuthorizationPolicy{}, &istiosecurityv1.AuthorizationPolicy{}
		specOf(t, `{targetRefs: [{group: networking.istio.io, kind: ServiceEntry, name: httpbin.org}],
  rules: [{from: [{source: {serviceAccounts: [default/admin]}}]}, {to: [{operation: {methods: [GET], paths: [/get]}}]}]}`, wantAllow)
		specOf(t, `{targetRefs: [{group: networking.istio.io, kind: ServiceEntry, name: httpbin.org}], action: DENY,
  rules: [{to: [{operation: {paths: [/admin/*]}}]}]}`, wantDeny)
		got := getEGW(t, key)
		for _, c := range []struct {
			key  client.ObjectKey
			want *istiosecurityv1.AuthorizationPolicy
		}{{allowKey, wantAllow}, {denyKey, wantDeny}} {
			ap := &istiosecurityv1.AuthorizationPolicy{}
			waitForObject(t, c.key, ap, "AuthorizationPolicy "+c.key.Name, func() bool { return true })
			if !proto.Equal(&ap.Spec, &c.want.Spec) {
				t.Errorf("%s spec\n got  %v\n want %v", c.key.Name, &ap.Spec, &c.want.Spec)
			}
			if !metav1.IsControlledBy(ap, got) || ap.Labels["egress.ambient.io/egressgateway"] != "waypoint" {
				t.Errorf("%s owner %+v labels %v", c.key.Name, ap.OwnerReferences, ap.Labels)
			}
		}
		_, c := waitForDestinationsReady(t, key, egressv1alpha1.ReasonApplied)
		if !strings.Contains(c.Message, "1 host, 1 ServiceEntry or DestinationRule and 2 AuthorizationPolicies") {
			t.Errorf("DestinationsReady %+v", c)
		}
	})

	t.Run("editing access changes only the policy", func(t *testing.T) {
		se := &istionetworkingv1.ServiceEntry{}
		if err := env.Client.Get(ctx, seKey, se); err != nil {
			t.Fatal(err)
		}
		updateEGW(t, key, func(e *egressv1alpha1.EgressGateway) { e.Spec.Destinations[0].Access = access("GET", "HEAD") })
		ap := &istiosecurityv1.AuthorizationPolicy{}
		waitForObject(t, allowKey, ap, "HEAD in the ALLOW policy", func() bool {
			return len(ap.Spec.Rules) == 2 && len(ap.Spec.Rules[1].To[0].Operation.Methods) == 2
		})
		waitForDestinationsReady(t, key, egressv1alpha1.ReasonApplied)
		after := &istionetworkingv1.ServiceEntry{}
		if err := env.Client.Get(ctx, seKey, after); err != nil || after.ResourceVersion != se.ResourceVersion {
			t.Errorf("the ServiceEntry was written: resourceVersion %s -> %s (%v)", se.ResourceVersion, after.ResourceVersion, err)
		}
	})

	t.Run("an edited policy the gateway owns is put back", func(t *testing.T) {
		mergePatch(t, "security.istio.io/v1", "AuthorizationPolicy", denyKey, `{"spec":{"rules":[{}]}}`)
		ap := &istiosecurityv1.AuthorizationPolicy{}
		waitForObject(t, denyKey, ap, "the DENY policy restored", func() bool {
			return len(ap.Spec.Rules) == 1 && len(ap.Spec.Rules[0].To) == 1
		})
	})

	t.Run("a policy the gateway does not own is left alone", func(t *testing.T) {
		userKey := client.ObjectKey{Namespace: ns, Name: "api.example.com-access"}
		before := &istiosecurityv1.AuthorizationPolicy{}
		if err := env.Client.Get(ctx, userKey, before); err != nil {
			t.Fatal(err)
		}
		updateEGW(t, key, func(e *egressv1alpha1.EgressGateway) {
			e.Spec.Destinations = append(e.Spec.Destinations, dest("api.example.com"))
		})
		_, c := waitForDestinationsReady(t, key, egressv1alpha1.ReasonConflict)
		if !strings.Contains(c.Message, "AuthorizationPolicy "+ns+"/api.example.com-access") {
			t.Errorf("DestinationsReady %+v", c)
		}
		waitForEvent(t, ns, "waypoint", egressv1alpha1.ReasonConflict)
		after := &istiosecurityv1.AuthorizationPolicy{}
		if err := env.Client.Get(ctx, userKey, after); err != nil || after.ResourceVersion != before.ResourceVersion || len(after.OwnerReferences) != 0 {
			t.Errorf("the user's policy changed: %+v (%v)", after.ObjectMeta, err)
		}
	})

	t.Run("removing deny, then the destination, prunes their objects", func(t *testing.T) {
		updateEGW(t, key, func(e *egressv1alpha1.EgressGateway) {
			e.Spec.Destinations = e.Spec.Destinations[:1]
			e.Spec.Destinations[0].Deny = nil
		})
		waitForGone(t, denyKey, &istiosecurityv1.AuthorizationPolicy{}, "DENY policy deleted")
		updateEGW(t, key, func(e *egressv1alpha1.EgressGateway) { e.Spec.Destinations = nil })
		waitForGone(t, allowKey, &istiosecurityv1.AuthorizationPolicy{}, "ALLOW policy deleted")
		waitForGone(t, seKey, &istionetworkingv1.ServiceEntry{}, "ServiceEntry deleted")
		if err := env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "api.example.com-access"}, &istiosecurityv1.AuthorizationPolicy{}); err != nil {
			t.Errorf("the user's policy: %v", err)
		}
	})
}
