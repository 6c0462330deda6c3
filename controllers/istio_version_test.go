package controllers_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	istionetworkingv1 "istio.io/client-go/pkg/apis/networking/v1"
	istiosecurityv1 "istio.io/client-go/pkg/apis/security/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	egressv1alpha1 "github.com/ambient-egress/ambient-egress-operator/apis/egress/v1alpha1"
	"github.com/ambient-egress/ambient-egress-operator/controllers"
	"github.com/ambient-egress/ambient-egress-operator/controllers/internal/testenv"
	"github.com/ambient-egress/ambient-egress-operator/simulator"
)

// TestIstioVersion: the operator reads istiod's version and wildcard TLS
// flag from its Deployment, shows them in status.istio, renders the
// wildcard destinations that istiod can serve and refuses the others with
// DestinationsReady=False; a change of istiod's Deployment reconciles the
// gateway again, and the flags override what the Deployment says.
func TestIstioVersion(t *testing.T) {
	ctx := context.Background()
	ns := env.CreateNamespace(t, "istio-version", nil).Name
	op := startOperatorIn(t, env.Config, []string{ns}, controllers.Options{})
	egw := newEgressGateway(ns, "waypoint", func(e *egressv1alpha1.EgressGateway) {
		e.Spec.Destinations = []egressv1alpha1.Destination{
			{Host: "*.googleapis.com", Ports: []egressv1alpha1.DestinationPort{{Number: 80, Protocol: "HTTP"}}},
			{Host: "*.tls.example", Ports: []egressv1alpha1.DestinationPort{{Number: 443, Protocol: "TLS"}}},
		}
	})
	if err := env.Client.Create(ctx, egw); err != nil {
		t.Fatal(err)
	}
	key := client.ObjectKeyFromObject(egw)
	httpSE := client.ObjectKey{Namespace: ns, Name: "wildcard.googleapis.com"}
	tlsSE := client.ObjectKey{Namespace: ns, Name: "wildcard.tls.example"}
	sniGuard := client.ObjectKey{Namespace: ns, Name: "wildcard.tls.example-sni"}
	exists := func(ctx context.Context, key client.ObjectKey, obj client.Object) (bool, error) {
		err := env.Client.Get(ctx, key, obj)
		if err != nil && !apierrors.IsNotFound(err) {
			return false, err
		}
		return err == nil, nil
	}
	// waitFor waits for status.istio and the destinations it allows.
	waitFor := func(t *testing.T, what string, version string, wildcardTLS bool, source string, httpRendered, tlsRendered bool) *egressv1alpha1.EgressGateway {
		t.Helper()
		var got *egressv1alpha1.EgressGateway
		testenv.Eventually(t, testenv.DefaultTimeout, what, func(ctx context.Context) (bool, error) {
			got = &egressv1alpha1.EgressGateway{}
			if err := env.Client.Get(ctx, key, got); err != nil {
				return false, err
			}
			st := got.Status.Istio
			if st == nil || st.Version != version || st.WildcardTLS != wildcardTLS || !strings.Contains(st.Source, source) {
				return false, fmt.Errorf("status.istio %+v; conditions %+v", st, got.Status.Conditions)
			}
			var rendered [3]bool
			for i, o := range []struct {
				key client.ObjectKey
				obj client.Object
			}{{httpSE, &istionetworkingv1.ServiceEntry{}}, {tlsSE, &istionetworkingv1.ServiceEntry{}}, {sniGuard, &istiosecurityv1.AuthorizationPolicy{}}} {
				var err error
				if rendered[i], err = exists(ctx, o.key, o.obj); err != nil {
					return false, err
				}
			}
			if rendered != [3]bool{httpRendered, tlsRendered, tlsRendered} {
				return false, fmt.Errorf("HTTP ServiceEntry, TLS ServiceEntry, SNI guard exist: %v", rendered)
			}
			return true, nil
		})
		return got
	}
	destinationsMessage := func(e *egressv1alpha1.EgressGateway) string {
		c := meta.FindStatusCondition(e.Status.Conditions, egressv1alpha1.ConditionDestinationsReady)
		if c == nil {
			return ""
		}
		return c.Reason + ": " + c.Message
	}

	t.Run("no istiod Deployment: version unknown, TLS wildcard refused", func(t *testing.T) {
		got := waitFor(t, "status.istio unknown", "unknown", false, "no istiod Deployment (app=istiod, istio.io/rev=default) in "+ns, true, false)
		if m := destinationsMessage(got); !strings.Contains(m, egressv1alpha1.ReasonInvalidDestination) ||
			!strings.Contains(m, "destination *.tls.example: port 443 of wildcard host *.tls.example is TLS") ||
			!strings.Contains(m, simulator.WildcardTLSFlag+"=true in its environment") {
			t.Errorf("DestinationsReady %q", m)
		}
	})

	istiod := istiodDeployment(ns, "registry.example:5000/istio/pilot:1.27.2-distroless")
	istiod.Labels["app.kubernetes.io/version"] = "1.27.2"
	t.Run("istiod 1.27: no wildcard destination at all", func(t *testing.T) {
		if err := env.Client.Create(ctx, istiod); err != nil {
			t.Fatal(err)
		}
		got := waitFor(t, "status.istio 1.27.2", "1.27.2", false, "Deployment "+ns+"/istiod", false, false)
		if m := destinationsMessage(got); !strings.Contains(m, "Istio 1.27.2 does not serve wildcard hosts such as *.googleapis.com") {
			t.Errorf("DestinationsReady %q", m)
		}
	})

	t.Run("istiod 1.30 from its image tag, with the flag: both rendered, TLS guarded", func(t *testing.T) {
		before := istiod.DeepCopy()
		delete(istiod.Labels, "app.kubernetes.io/version")
		istiod.Spec.Template.Spec.Containers[0].Image = "registry.example:5000/istio/pilot:1.30.1"
		istiod.Spec.Template.Spec.Containers[0].Env = []corev1.EnvVar{{Name: simulator.WildcardTLSFlag, Value: "true"}}
		if err := env.Client.Patch(ctx, istiod, client.MergeFrom(before)); err != nil {
			t.Fatal(err)
		}
		got := waitFor(t, "status.istio 1.30.1 with wildcard TLS", "1.30.1", true, "Deployment "+ns+"/istiod", true, true)
		if c := meta.FindStatusCondition(got.Status.Conditions, egressv1alpha1.ConditionDestinationsReady); c == nil || c.Status != metav1.ConditionTrue {
			t.Errorf("DestinationsReady %+v", c)
		}
		ap := &istiosecurityv1.AuthorizationPolicy{}
		if err := env.Client.Get(ctx, sniGuard, ap); err != nil {
			t.Fatal(err)
		}
		r := ap.Spec.GetRules()
		if ap.Spec.GetAction().String() != "DENY" || len(r) != 1 || !slices.Equal(r[0].GetWhen()[0].GetNotValues(), []string{"*.tls.example"}) {
			t.Errorf("SNI guard %v", &ap.Spec)
		}
	})

	t.Run("the flags override the Deployment", func(t *testing.T) {
		off := false
		v, err := simulator.ParseIstioVersion("1.29")
		if err != nil {
			t.Fatal(err)
		}
		// The first operator stops, idle (the work queue metrics the
		// tests read are the process's), and a second one starts with
		// its own Istio namespace, whose istiod says 1.30.1 with the
		// flag on.
		settle(t, op)
		op.stop(t)
		istio2 := env.CreateNamespace(t, "istio-version-istiod", nil).Name
		other := env.CreateNamespace(t, "istio-version-flags", nil).Name
		withFlag := istiodDeployment(istio2, "istio/pilot:1.30.1")
		withFlag.Spec.Template.Spec.Containers[0].Env = []corev1.EnvVar{{Name: simulator.WildcardTLSFlag, Value: "true"}}
		if err := env.Client.Create(ctx, withFlag); err != nil {
			t.Fatal(err)
		}
		op2 := startOperatorIn(t, env.Config, []string{istio2, other}, controllers.Options{Istio: controllers.IstioOverrides{Version: v, WildcardTLS: &off}})
		e := newEgressGateway(other, "waypoint", func(e *egressv1alpha1.EgressGateway) {
			e.Spec.Destinations = []egressv1alpha1.Destination{{Host: "*.tls.example", Ports: []egressv1alpha1.DestinationPort{{Number: 443, Protocol: "TLS"}}}}
		})
		if err := env.Client.Create(ctx, e); err != nil {
			t.Fatal(err)
		}
		testenv.Eventually(t, testenv.DefaultTimeout, "status.istio from the flags", func(ctx context.Context) (bool, error) {
			got := &egressv1alpha1.EgressGateway{}
			if err := env.Client.Get(ctx, client.ObjectKeyFromObject(e), got); err != nil {
				return false, err
			}
			st := got.Status.Istio
			return st != nil && st.Version == "1.29.0" && !st.WildcardTLS &&
				strings.HasSuffix(st.Source, "overridden by --istio-version, --istio-wildcard-tls") &&
				strings.Contains(destinationsMessage(got), "is TLS, which istiod serves at a waypoint only with"), nil
		})
		// Stopped idle, so the work queue gauges are back at rest for
		// the tests that follow.
		settle(t, op2)
	})
}

// istiodDeployment is an istiod Deployment as Istio's istio-discovery chart
// labels it, running image.
func istiodDeployment(namespace, image string) *appsv1.Deployment {
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "istiod", Namespace: namespace, Labels: map[string]string{"app": "istiod", "istio.io/rev": "default"}},
		Spec: appsv1.DeploymentSpec{
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "istiod"}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "istiod"}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "discovery", Image: image}}},
			},
		},
	}
}
