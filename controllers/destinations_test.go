package controllers_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"
	istionetworkingv1 "istio.io/client-go/pkg/apis/networking/v1"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	egressv1alpha1 "github.com/ambient-egress/ambient-egress-operator/apis/egress/v1alpha1"
	"github.com/ambient-egress/ambient-egress-operator/controllers"
	"github.com/ambient-egress/ambient-egress-operator/controllers/internal/testenv"
)

// tlsDestination is the seed's TLS variant as a spec.destinations entry.
func tlsDestination(host string) egressv1alpha1.Destination {
	return egressv1alpha1.Destination{Host: host, Ports: []egressv1alpha1.DestinationPort{{
		Number: 80, Name: "http", Protocol: "HTTP",
		TLSOrigination: &egressv1alpha1.TLSOrigination{Mode: egressv1alpha1.TLSModeSimple},
	}}}
}

// waitForObject waits until the object of key exists and ok accepts it.
func waitForObject(t *testing.T, key client.ObjectKey, obj client.Object, what string, ok func() bool) {
	t.Helper()
	testenv.Eventually(t, testenv.DefaultTimeout, what, func(ctx context.Context) (bool, error) {
		if err := env.Client.Get(ctx, key, obj); err != nil {
			return false, client.IgnoreNotFound(err)
		}
		return ok(), nil
	})
}

// waitForGone waits until the object of key does not exist.
func waitForGone(t *testing.T, key client.ObjectKey, obj client.Object, what string) {
	t.Helper()
	testenv.Eventually(t, testenv.DefaultTimeout, what, func(ctx context.Context) (bool, error) {
		err := env.Client.Get(ctx, key, obj)
		return apierrors.IsNotFound(err), client.IgnoreNotFound(err)
	})
}

// waitForDestinationsReady waits until DestinationsReady has reason for the
// current generation.
func waitForDestinationsReady(t *testing.T, key client.ObjectKey, reason string) (*egressv1alpha1.EgressGateway, *metav1.Condition) {
	t.Helper()
	var egw *egressv1alpha1.EgressGateway
	var cond *metav1.Condition
	testenv.Eventually(t, testenv.DefaultTimeout, "DestinationsReady "+reason, func(ctx context.Context) (bool, error) {
		e := &egressv1alpha1.EgressGateway{}
		if err := env.Client.Get(ctx, key, e); err != nil {
			return false, err
		}
		c := meta.FindStatusCondition(e.Status.Conditions, egressv1alpha1.ConditionDestinationsReady)
		if c == nil || c.Reason != reason || c.ObservedGeneration != e.Generation {
			return false, nil
		}
		egw, cond = e, c
		return true, nil
	})
	return egw, cond
}

func specOf(t *testing.T, yamlSpec string, obj any) {
	t.Helper()
	if err := yaml.Unmarshal([]byte(`{spec: `+yamlSpec+`}`), obj); err != nil {
		t.Fatal(err)
	}
}

func TestDestinations(t *testing.T) {
	ctx := context.Background()
	ns := env.CreateNamespace(t, "dest-egress", nil).Name
	src := env.CreateNamespace(t, "dest-src", map[string]string{sourcesLabel: ns, "istio.io/dataplane-mode": "ambient"}).Name
	t.Cleanup(func() { // leave no ambient namespace for other tests' gateways
		mergePatch(t, "v1", "Namespace", client.ObjectKey{Name: src}, `{"metadata":{"labels":{"istio.io/dataplane-mode":null}}}`)
	})
	for _, sa := range []string{"default", "admin"} {
		if err := env.Client.Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: src, Name: sa}}); err != nil {
			t.Fatal(err)
		}
	}
	admin := "cluster.local/ns/" + src + "/sa/admin"
	// The seed's policy, without the seed's ServiceEntry: the EgressGateway
	// declares it.
	createSeedPolicy(t, ns, admin)
	// A ServiceEntry a person wrote, whose name a destination will want.
	createYAML(t, fmt.Sprintf(`
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: api.example.com, namespace: %s, labels: {team: payments}}
spec:
  hosts: [api.example.com]
  ports: [{number: 443, name: tls, protocol: TLS}]
  resolution: DNS
`, ns))
	op := startOperatorIn(t, env.Config, []string{ns, src}, controllers.Options{})
	egw := newEgressGateway(ns, "waypoint", func(e *egressv1alpha1.EgressGateway) {
		e.Spec.Simulation.Sources = &egressv1alpha1.LabelSelector{MatchLabels: map[string]egressv1alpha1.LabelValue{sourcesLabel: egressv1alpha1.LabelValue(ns), "istio.io/dataplane-mode": "ambient"}}
		e.Spec.Destinations = []egressv1alpha1.Destination{tlsDestination("httpbin.org")}
	})
	if err := env.Client.Create(ctx, egw); err != nil {
		t.Fatal(err)
	}
	key := client.ObjectKeyFromObject(egw)
	seKey := client.ObjectKey{Namespace: ns, Name: "httpbin.org"}
	drKey := client.ObjectKey{Namespace: ns, Name: "httpbin.org-tls"}

	t.Run("the seed's TLS ServiceEntry and DestinationRule, owned and labeled", func(t *testing.T) {
		wantSE := &istionetworkingv1.ServiceEntry{}
		specOf(t, `{hosts: [httpbin.org], ports: [{number: 80, name: http, protocol: HTTP, targetPort: 443}], resolution: DNS}`, wantSE)
		wantDR := &istionetworkingv1.DestinationRule{}
		specOf(t, `{host: httpbin.org, trafficPolicy: {tls: {mode: SIMPLE}}}`, wantDR)
		se := &istionetworkingv1.ServiceEntry{}
		waitForObject(t, seKey, se, "ServiceEntry httpbin.org", func() bool { return true })
		dr := &istionetworkingv1.DestinationRule{}
		waitForObject(t, drKey, dr, "DestinationRule httpbin.org-tls", func() bool { return true })
		got := getEGW(t, key)
		for _, c := range []struct {
			obj        client.Object
			spec, want proto.Message
		}{{se, &se.Spec, &wantSE.Spec}, {dr, &dr.Spec, &wantDR.Spec}} {
			if !proto.Equal(c.spec, c.want) {
				t.Errorf("%s spec\n got  %v\n want %v", c.obj.GetName(), c.spec, c.want)
			}
			if !metav1.IsControlledBy(c.obj, got) {
				t.Errorf("%s is not controlled by the EgressGateway: %+v", c.obj.GetName(), c.obj.GetOwnerReferences())
			}
			// envtest runs no garbage collector: the owner reference is
			// what deletes the object with the EgressGateway.
			if refs := c.obj.GetOwnerReferences(); len(refs) != 1 || refs[0].BlockOwnerDeletion == nil || !*refs[0].BlockOwnerDeletion {
				t.Errorf("%s owner references %+v", c.obj.GetName(), refs)
			}
			if l := c.obj.GetLabels()["egress.ambient.io/egressgateway"]; l != "waypoint" {
				t.Errorf("%s labels %v", c.obj.GetName(), c.obj.GetLabels())
			}
		}
		_, c := waitForDestinationsReady(t, key, egressv1alpha1.ReasonApplied)
		if c.Status != metav1.ConditionTrue || !strings.Contains(c.Message, "1 host, 2 ServiceEntries and DestinationRules") {
			t.Errorf("DestinationsReady %+v", c)
		}
	})

	t.Run("the report shows the destination with TLS origination", func(t *testing.T) {
		got := waitForSimulation(t, key, "httpbin.org:80 in the report", func(sim *egressv1alpha1.SimulationStatus) bool {
			return entryFor(sim, "httpbin.org:80", admin) != nil
		})
		sim := got.Status.Simulation
		if a := entryFor(sim, "httpbin.org:80", admin); a.Access != egressv1alpha1.AccessAll {
			t.Errorf("admin: access %s, want all", a.Access)
		}
		if o := entryFor(sim, "httpbin.org:80", ""); o == nil || o.Access != egressv1alpha1.AccessPartial {
			t.Errorf("other sources: %+v, want partial (GET /get)", o)
		}
		for _, f := range sim.Findings {
			if f.Code == "TLSWithoutTargetPort" || f.Code == "TargetPortWithoutTLS" || f.Code == "TargetNotFound" {
				t.Errorf("finding %+v", f)
			}
		}
		i := slices.IndexFunc(got.Status.Destinations, func(d egressv1alpha1.DestinationStatus) bool { return d.Host == "httpbin.org" })
		if i < 0 {
			t.Fatalf("status.destinations %+v has no httpbin.org", got.Status.Destinations)
		}
		d := got.Status.Destinations[i]
		want := []egressv1alpha1.DestinationPortStatus{{Number: 80, Protocol: "HTTP", TargetPort: 443, TLSOrigination: "SIMPLE"}}
		if d.ServiceEntry != ns+"/httpbin.org" || !d.BoundToThisGateway || !slices.Equal(d.Ports, want) {
			t.Errorf("status.destinations[httpbin.org] = %+v, want ports %+v bound to this gateway", d, want)
		}
	})

	t.Run("a no-op reconcile writes nothing", func(t *testing.T) {
		// A label on the ServiceEntry, as enrollment or a person may add,
		// is not the operator's to remove.
		mergePatch(t, "networking.istio.io/v1", "ServiceEntry", seKey, `{"metadata":{"labels":{"unrelated":"yes"}}}`)
		settle(t, op)
		n, reconciles := op.requests.count(), metricSum(t, "controller_runtime_reconcile_total")
		// An annotation on the gateway's namespace reconciles it and
		// changes none of its inputs.
		mergePatch(t, "v1", "Namespace", client.ObjectKey{Name: ns}, `{"metadata":{"annotations":{"unrelated":"yes"}}}`)
		testenv.Eventually(t, testenv.DefaultTimeout, "a reconcile", func(context.Context) (bool, error) {
			return metricSum(t, "controller_runtime_reconcile_total") > reconciles, nil
		})
		settle(t, op)
		if w := writes(op.requests.since(n)); len(w) != 0 {
			t.Errorf("a reconcile with unchanged destinations wrote: %v", w)
		}
		se := &istionetworkingv1.ServiceEntry{}
		if err := env.Client.Get(ctx, seKey, se); err != nil || se.Labels["unrelated"] != "yes" {
			t.Errorf("ServiceEntry labels %v (%v)", se.Labels, err)
		}
	})

	t.Run("an edited ServiceEntry the gateway owns is put back", func(t *testing.T) {
		mergePatch(t, "networking.istio.io/v1", "ServiceEntry", seKey, `{"spec":{"ports":[{"number":80,"name":"http","protocol":"HTTP"}]}}`)
		se := &istionetworkingv1.ServiceEntry{}
		waitForObject(t, seKey, se, "targetPort 443 restored", func() bool {
			return len(se.Spec.Ports) == 1 && se.Spec.Ports[0].TargetPort == 443
		})
		if se.Labels["unrelated"] != "yes" {
			t.Errorf("the repair dropped a label: %v", se.Labels)
		}
	})

	t.Run("a ServiceEntry the gateway does not own is left alone", func(t *testing.T) {
		userKey := client.ObjectKey{Namespace: ns, Name: "api.example.com"}
		before := &istionetworkingv1.ServiceEntry{}
		if err := env.Client.Get(ctx, userKey, before); err != nil {
			t.Fatal(err)
		}
		updateEGW(t, key, func(e *egressv1alpha1.EgressGateway) {
			e.Spec.Destinations = append(e.Spec.Destinations, tlsDestination("api.example.com"))
		})
		got, c := waitForDestinationsReady(t, key, egressv1alpha1.ReasonConflict)
		if c.Status != metav1.ConditionFalse || !strings.Contains(c.Message, "ServiceEntry "+ns+"/api.example.com") ||
			!strings.Contains(c.Message, "not owned by this EgressGateway") || !strings.Contains(c.Message, "delete it") {
			t.Errorf("DestinationsReady %+v", c)
		}
		if r := meta.FindStatusCondition(got.Status.Conditions, egressv1alpha1.ConditionReady); r == nil || r.Status != metav1.ConditionFalse ||
			!strings.Contains(r.Message, egressv1alpha1.ConditionDestinationsReady) {
			t.Errorf("Ready %+v, want False naming DestinationsReady", r)
		}
		testenv.Eventually(t, testenv.DefaultTimeout, "a Warning Event Conflict", func(ctx context.Context) (bool, error) {
			var list eventsv1.EventList
			if err := env.Client.List(ctx, &list, client.InNamespace(ns)); err != nil {
				return false, err
			}
			return slices.ContainsFunc(list.Items, func(e eventsv1.Event) bool {
				return e.Type == corev1.EventTypeWarning && e.Reason == egressv1alpha1.ReasonConflict &&
					e.Regarding.Kind == "EgressGateway" && e.Regarding.Name == "waypoint" && strings.Contains(e.Note, "api.example.com")
			}), nil
		})
		settle(t, op)
		after := &istionetworkingv1.ServiceEntry{}
		if err := env.Client.Get(ctx, userKey, after); err != nil {
			t.Fatal(err)
		}
		if after.ResourceVersion != before.ResourceVersion || len(after.OwnerReferences) != 0 || !proto.Equal(&after.Spec, &before.Spec) {
			t.Errorf("the user's ServiceEntry changed:\n before %v %+v\n after  %v %+v", &before.Spec, before.ObjectMeta, &after.Spec, after.ObjectMeta)
		}
		// Over a ServiceEntry it does not own the gateway adds no
		// DestinationRule either.
		err := env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "api.example.com-tls"}, &istionetworkingv1.DestinationRule{})
		if !apierrors.IsNotFound(err) {
			t.Errorf("DestinationRule api.example.com-tls: %v, want not found", err)
		}
		// The owned destination is still there.
		if err := env.Client.Get(ctx, seKey, &istionetworkingv1.ServiceEntry{}); err != nil {
			t.Errorf("ServiceEntry httpbin.org: %v", err)
		}
	})

	t.Run("dropping TLS origination deletes the DestinationRule", func(t *testing.T) {
		updateEGW(t, key, func(e *egressv1alpha1.EgressGateway) {
			e.Spec.Destinations = []egressv1alpha1.Destination{{Host: "httpbin.org", Ports: []egressv1alpha1.DestinationPort{{Number: 80, Name: "http", Protocol: "HTTP"}}}}
		})
		waitForGone(t, drKey, &istionetworkingv1.DestinationRule{}, "DestinationRule httpbin.org-tls deleted")
		se := &istionetworkingv1.ServiceEntry{}
		waitForObject(t, seKey, se, "ServiceEntry httpbin.org without targetPort", func() bool {
			return len(se.Spec.Ports) == 1 && se.Spec.Ports[0].TargetPort == 0
		})
		waitForDestinationsReady(t, key, egressv1alpha1.ReasonApplied)
	})

	t.Run("removing the destinations deletes the objects the gateway owns, only those", func(t *testing.T) {
		updateEGW(t, key, func(e *egressv1alpha1.EgressGateway) { e.Spec.Destinations = nil })
		waitForGone(t, seKey, &istionetworkingv1.ServiceEntry{}, "ServiceEntry httpbin.org deleted")
		testenv.Eventually(t, testenv.DefaultTimeout, "DestinationsReady removed", func(ctx context.Context) (bool, error) {
			e := &egressv1alpha1.EgressGateway{}
			if err := env.Client.Get(ctx, key, e); err != nil {
				return false, err
			}
			return e.Status.ObservedGeneration == e.Generation &&
				meta.FindStatusCondition(e.Status.Conditions, egressv1alpha1.ConditionDestinationsReady) == nil, nil
		})
		if err := env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "api.example.com"}, &istionetworkingv1.ServiceEntry{}); err != nil {
			t.Errorf("the user's ServiceEntry: %v", err)
		}
	})
}

// TestDestinationsUnderManagerRBAC creates, repairs and prunes the objects
// of spec.destinations with only the permissions config/rbac/role.yaml
// grants: a missing verb would be a Forbidden error and a condition that
// never turns Applied.
func TestDestinationsUnderManagerRBAC(t *testing.T) {
	ctx := context.Background()
	ns := env.CreateNamespace(t, "dest-rbac", nil).Name
	asManager := asManagerServiceAccount(t, ns)
	startOperatorWith(t, asManager, ns, controllers.Options{})

	egw := newEgressGateway(ns, "waypoint", func(e *egressv1alpha1.EgressGateway) {
		e.Spec.Destinations = []egressv1alpha1.Destination{tlsDestination("httpbin.org")}
	})
	if err := env.Client.Create(ctx, egw); err != nil {
		t.Fatal(err)
	}
	key := client.ObjectKeyFromObject(egw)
	waitForDestinationsReady(t, key, egressv1alpha1.ReasonApplied)
	seKey := client.ObjectKey{Namespace: ns, Name: "httpbin.org"}
	mergePatch(t, "networking.istio.io/v1", "ServiceEntry", seKey, `{"spec":{"resolution":"STATIC"}}`)
	se := &istionetworkingv1.ServiceEntry{}
	waitForObject(t, seKey, se, "resolution DNS restored", func() bool { return se.Spec.Resolution.String() == "DNS" })
	updateEGW(t, key, func(e *egressv1alpha1.EgressGateway) { e.Spec.Destinations = nil })
	waitForGone(t, seKey, &istionetworkingv1.ServiceEntry{}, "ServiceEntry httpbin.org deleted")
	waitForGone(t, client.ObjectKey{Namespace: ns, Name: "httpbin.org-tls"}, &istionetworkingv1.DestinationRule{}, "DestinationRule httpbin.org-tls deleted")
}

// TestDestinationsEnrolledBySelector binds only the declared destinations to
// the waypoint: serviceEntrySelector on the managed label. Enrollment's
// label and the destinations phase's writes must not undo each other.
func TestDestinationsEnrolledBySelector(t *testing.T) {
	ctx := context.Background()
	ns := env.CreateNamespace(t, "dest-selector", nil).Name
	op := startOperator(t, ns, controllers.Options{})
	egw := newEgressGateway(ns, "waypoint", func(e *egressv1alpha1.EgressGateway) {
		e.Spec.EnrollNamespace = new(false)
		e.Spec.ServiceEntrySelector = &egressv1alpha1.LabelSelector{MatchLabels: map[string]egressv1alpha1.LabelValue{"egress.ambient.io/egressgateway": "waypoint"}}
		e.Spec.Destinations = []egressv1alpha1.Destination{tlsDestination("httpbin.org")}
	})
	if err := env.Client.Create(ctx, egw); err != nil {
		t.Fatal(err)
	}
	key := client.ObjectKeyFromObject(egw)
	seKey := client.ObjectKey{Namespace: ns, Name: "httpbin.org"}
	se := &istionetworkingv1.ServiceEntry{}
	waitForObject(t, seKey, se, "ServiceEntry httpbin.org enrolled", func() bool {
		return se.Labels["istio.io/use-waypoint"] == "waypoint"
	})
	waitForDestinationsReady(t, key, egressv1alpha1.ReasonApplied)
	env.WaitForCondition(t, key, egressv1alpha1.ConditionEnrolled, metav1.ConditionTrue)
	testenv.Eventually(t, testenv.DefaultTimeout, "status.destinations: httpbin.org bound to this gateway", func(ctx context.Context) (bool, error) {
		got := &egressv1alpha1.EgressGateway{}
		if err := env.Client.Get(ctx, key, got); err != nil {
			return false, err
		}
		return slices.ContainsFunc(got.Status.Destinations, func(d egressv1alpha1.DestinationStatus) bool {
			return d.Host == "httpbin.org" && d.BoundToThisGateway
		}), nil
	})
	settle(t, op)
	n := op.requests.count()
	settle(t, op)
	if w := writes(op.requests.since(n)); len(w) != 0 {
		t.Errorf("enrollment and destinations keep writing: %v", w)
	}
}
