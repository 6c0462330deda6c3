package controllers_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"
	istiotelemetryv1 "istio.io/client-go/pkg/apis/telemetry/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	egressv1alpha1 "github.com/ambient-egress/ambient-egress-operator/apis/egress/v1alpha1"
	"github.com/ambient-egress/ambient-egress-operator/controllers"
	"github.com/ambient-egress/ambient-egress-operator/controllers/internal/testenv"
)

// TestAccessLogging: spec.observability.accessLogging becomes a Telemetry
// targeting the waypoint Gateway with Istio's envoy provider, owned,
// labeled, kept as rendered and deleted when turned off; a filter that
// does not parse leaves the Telemetry as it was with a condition and an
// Event; a Telemetry of the name a person wrote is left alone; a no-op
// reconcile writes nothing.
func TestAccessLogging(t *testing.T) {
	ctx := context.Background()
	ns := env.CreateNamespace(t, "access-logging", nil).Name
	op := startOperatorIn(t, env.Config, []string{ns}, controllers.Options{})
	egw := newEgressGateway(ns, "egress", func(e *egressv1alpha1.EgressGateway) {
		e.Spec.Observability.AccessLogging = &egressv1alpha1.AccessLoggingSpec{Enabled: true}
	})
	if err := env.Client.Create(ctx, egw); err != nil {
		t.Fatal(err)
	}
	key := client.ObjectKeyFromObject(egw)
	telKey := client.ObjectKey{Namespace: ns, Name: "egress-access-logging"}
	waitForAccessLogging := func(t *testing.T, reason, contains string) *egressv1alpha1.EgressGateway {
		t.Helper()
		return waitForConditionReason(t, key, egressv1alpha1.ConditionAccessLogging, reason, contains)
	}
	wantSpec := func(filter string) *istiotelemetryv1.Telemetry {
		w := &istiotelemetryv1.Telemetry{}
		f := ""
		if filter != "" {
			f = ", filter: {expression: " + quote(filter) + "}"
		}
		specOf(t, `{targetRefs: [{group: gateway.networking.k8s.io, kind: Gateway, name: egress}], accessLogging: [{providers: [{name: envoy}]`+f+`}]}`, w)
		return w
	}
	waitForTelemetry := func(t *testing.T, filter string) {
		t.Helper()
		want := wantSpec(filter)
		tel := &istiotelemetryv1.Telemetry{}
		waitForObject(t, telKey, tel, "Telemetry with filter "+quote(filter), func() bool { return proto.Equal(&tel.Spec, &want.Spec) })
		if !metav1.IsControlledBy(tel, getEGW(t, key)) || tel.Labels["egress.ambient.io/egressgateway"] != "egress" {
			t.Errorf("Telemetry owner %+v labels %v", tel.OwnerReferences, tel.Labels)
		}
	}
	setAccessLogging := func(t *testing.T, al *egressv1alpha1.AccessLoggingSpec) {
		t.Helper()
		e := getEGW(t, key)
		before := e.DeepCopy()
		e.Spec.Observability.AccessLogging = al
		if err := env.Client.Patch(ctx, e, client.MergeFrom(before)); err != nil {
			t.Fatal(err)
		}
	}

	t.Run("the Telemetry, owned and labeled, and the condition", func(t *testing.T) {
		waitForTelemetry(t, "")
		waitForAccessLogging(t, egressv1alpha1.ReasonApplied, "Telemetry egress-access-logging turns on the waypoint's access logs")
	})

	t.Run("a reconcile with nothing changed writes nothing", func(t *testing.T) {
		assertNoOpReconcileWritesNothing(t, op, ns)
	})

	t.Run("a filter changes the Telemetry", func(t *testing.T) {
		setAccessLogging(t, &egressv1alpha1.AccessLoggingSpec{Enabled: true, Filter: "response.code >= 400"})
		waitForTelemetry(t, "response.code >= 400")
		waitForAccessLogging(t, egressv1alpha1.ReasonApplied, "")
	})

	t.Run("a filter that does not parse leaves the Telemetry as it was", func(t *testing.T) {
		setAccessLogging(t, &egressv1alpha1.AccessLoggingSpec{Enabled: true, Filter: "response.code >="})
		waitForAccessLogging(t, egressv1alpha1.ReasonInvalidFilter, "spec.observability.accessLogging.filter is not a CEL expression istiod accepts")
		waitForTelemetry(t, "response.code >= 400")
		waitForEvent(t, ns, "egress", egressv1alpha1.ReasonInvalidFilter)
	})

	t.Run("turned off, the Telemetry goes and so does the condition", func(t *testing.T) {
		setAccessLogging(t, nil)
		testenv.Eventually(t, testenv.DefaultTimeout, "the Telemetry deleted and AccessLogging removed", func(ctx context.Context) (bool, error) {
			err := env.Client.Get(ctx, telKey, &istiotelemetryv1.Telemetry{})
			if !apierrors.IsNotFound(err) {
				return false, client.IgnoreNotFound(err)
			}
			e := &egressv1alpha1.EgressGateway{}
			if err := env.Client.Get(ctx, key, e); err != nil {
				return false, err
			}
			return meta.FindStatusCondition(e.Status.Conditions, egressv1alpha1.ConditionAccessLogging) == nil, nil
		})
	})

	t.Run("a Telemetry a person wrote is left alone", func(t *testing.T) {
		createYAML(t, fmt.Sprintf(`
apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata: {name: egress-access-logging, namespace: %s}
spec:
  accessLogging: [{disabled: true}]
`, ns))
		setAccessLogging(t, &egressv1alpha1.AccessLoggingSpec{Enabled: true})
		got := waitForAccessLogging(t, egressv1alpha1.ReasonConflict, "Telemetry "+ns+"/egress-access-logging already exists and is not owned by this EgressGateway")
		if c := meta.FindStatusCondition(got.Status.Conditions, egressv1alpha1.ConditionReady); c == nil || c.Status != metav1.ConditionFalse ||
			!strings.Contains(c.Message, egressv1alpha1.ConditionAccessLogging) {
			t.Errorf("Ready %+v, want False naming AccessLogging", c)
		}
		tel := &istiotelemetryv1.Telemetry{}
		if err := env.Client.Get(ctx, telKey, tel); err != nil {
			t.Fatal(err)
		}
		if len(tel.OwnerReferences) != 0 || !tel.Spec.GetAccessLogging()[0].GetDisabled().GetValue() {
			t.Errorf("the person's Telemetry was changed: %+v %v", tel.OwnerReferences, &tel.Spec)
		}
		waitForEvent(t, ns, "egress", egressv1alpha1.ReasonConflict)
	})
	// Stopped idle, so the work queue gauges are back at rest.
	settle(t, op)
}

func quote(s string) string { return `"` + strings.ReplaceAll(s, `"`, `\"`) + `"` }
