package controllers

import (
	"context"
	"fmt"
	"sync"

	"github.com/google/cel-go/cel"
	istioapitelemetryv1 "istio.io/api/telemetry/v1"
	istiotypev1beta1 "istio.io/api/type/v1beta1"
	istiotelemetryv1 "istio.io/client-go/pkg/apis/telemetry/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	egressv1alpha1 "github.com/ambient-egress/ambient-egress-operator/apis/egress/v1alpha1"
	"github.com/ambient-egress/ambient-egress-operator/controllers/internal/waypoint"
	"github.com/ambient-egress/ambient-egress-operator/simulator/lockdown"
)

// +kubebuilder:rbac:groups=telemetry.istio.io,resources=telemetries,verbs=get;list;watch;create;update;patch;delete

// accessLogProvider is the extension provider the Telemetry names: Istio's
// built-in envoy provider, a file access log on the proxy's standard
// output, which every mesh config has unless it redefines that name
// (pkg/config/mesh/mesh.go, DefaultMeshConfig; user providers are merged
// with the defaults by name).
const accessLogProvider = "envoy"

// observabilityOutcome is what the observability phase did, for the status.
type observabilityOutcome struct {
	// enabled says access logging is asked for.
	enabled bool
	// name is the Telemetry's name.
	name string
	// res is what applying the Telemetry did; invalidFilter is set when the
	// filter does not parse, and then nothing is applied.
	res           applied
	invalidFilter string
	err           error
}

// accessLogTelemetryName is the name of the gateway's access logging
// Telemetry, after its waypoint Gateway.
func accessLogTelemetryName(egw *egressv1alpha1.EgressGateway) string {
	return waypoint.GatewayName(egw) + "-access-logging"
}

// reconcileObservability writes the Telemetry that turns on the
// waypoint's access logs when spec.observability.accessLogging asks, and
// deletes the one the gateway owns otherwise. It runs last: what it writes
// never holds up the report or the lockdown.
func (r *EgressGatewayReconciler) reconcileObservability(ctx context.Context, s *scope) (ctrl.Result, error) {
	out := &observabilityOutcome{name: accessLogTelemetryName(s.egw)}
	s.observability = out
	al := s.egw.Spec.Observability.AccessLogging
	out.enabled = al != nil && al.Enabled
	if out.enabled && al.Filter != "" {
		if msg := accessLogFilterProblem(al.Filter); msg != "" {
			out.invalidFilter = msg
		}
	}
	switch {
	case out.invalidFilter != "":
		// The Telemetry stays as it was: a typo in the filter must not
		// turn off the logs that are on.
		r.warnObservability(s, out)
		return ctrl.Result{}, nil
	case !out.enabled:
		out.err = r.pruneTelemetries(ctx, s, "")
		return ctrl.Result{}, out.err
	}
	res, err := r.applyOwnedObject(ctx, s, accessLogTelemetry(s.egw, out.name), "spec.observability.accessLogging")
	if err == nil {
		err = r.pruneTelemetries(ctx, s, out.name)
	}
	out.res, out.err = res, err
	r.warnObservability(s, out)
	return res.result, err
}

// accessLogFilterProblem parses a filter as istiod's validation does
// (pkg/config/validation/validation_istiod.go, validateTelemetryFilter:
// a CEL parse, no type check, as Envoy's attributes are not declared).
func accessLogFilterProblem(filter string) string {
	env, err := celParser()
	if err != nil {
		return err.Error()
	}
	if _, issues := env.Parse(filter); issues.Err() != nil {
		return fmt.Sprintf("spec.observability.accessLogging.filter is not a CEL expression istiod accepts: %v", issues.Err())
	}
	return ""
}

// celParser is built once: a CEL environment costs far more than a parse,
// and every reconcile of a gateway with a filter parses it.
var celParser = sync.OnceValues(func() (*cel.Env, error) { return cel.NewEnv() })

// accessLogTelemetry is the Telemetry that turns on the envoy provider's
// access logs for the gateway's waypoint. It names the waypoint Gateway in
// targetRefs, the documented way to configure one waypoint: a namespace-wide
// Telemetry would also change every other proxy of the namespace. istiod
// applies a Telemetry attached this way only to the services in the
// waypoint's own namespace (istio/istio#61538: a waypoint serving a
// ServiceEntry of another namespace, which spec.waypoint.allowedRoutes
// allows, logs nothing for it), which is where spec.destinations puts its
// ServiceEntries.
func accessLogTelemetry(egw *egressv1alpha1.EgressGateway, name string) *istiotelemetryv1.Telemetry {
	t := &istiotelemetryv1.Telemetry{
		TypeMeta:   metav1.TypeMeta{APIVersion: istiotelemetryv1.SchemeGroupVersion.String(), Kind: "Telemetry"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: egw.Namespace, Labels: map[string]string{lockdown.LabelGateway: egw.Name}},
	}
	t.Spec.TargetRefs = []*istiotypev1beta1.PolicyTargetReference{{Group: "gateway.networking.k8s.io", Kind: "Gateway", Name: waypoint.GatewayName(egw)}}
	logging := &istioapitelemetryv1.AccessLogging{Providers: []*istioapitelemetryv1.ProviderRef{{Name: accessLogProvider}}}
	if f := egw.Spec.Observability.AccessLogging.Filter; f != "" {
		logging.Filter = &istioapitelemetryv1.AccessLogging_Filter{Expression: f}
	}
	t.Spec.AccessLogging = []*istioapitelemetryv1.AccessLogging{logging}
	return t
}

// pruneTelemetries deletes the Telemetries the gateway controls other than
// keep, found by owner reference.
func (r *EgressGatewayReconciler) pruneTelemetries(ctx context.Context, s *scope, keep string) error {
	var list istiotelemetryv1.TelemetryList
	if err := r.List(ctx, &list, client.InNamespace(s.egw.Namespace)); err != nil {
		return fmt.Errorf("listing Telemetries in %s: %w", s.egw.Namespace, err)
	}
	for _, t := range staleOf(list.Items, map[string]bool{keep: true}, s.egw) {
		// Delete only the object we saw: a same-named one someone created
		// since is not ours.
		if err := r.Delete(ctx, t, client.Preconditions{UID: new(t.GetUID())}); client.IgnoreNotFound(err) != nil {
			return fmt.Errorf("deleting Telemetry %s: %w", t.GetName(), err)
		}
		r.Recorder.Eventf(s.egw, t, corev1.EventTypeNormal, "Deleted", "DeleteTelemetry",
			"deleted Telemetry %s: access logging is off", t.GetName())
	}
	return nil
}

// accessLoggingCondition is nil when access logging is off (the condition
// goes), else what the phase did.
func accessLoggingCondition(out *observabilityOutcome) *metav1.Condition {
	const t = egressv1alpha1.ConditionAccessLogging
	switch {
	case out == nil || !out.enabled:
		return nil
	case out.invalidFilter != "":
		return condition(t, metav1.ConditionFalse, egressv1alpha1.ReasonInvalidFilter, out.invalidFilter)
	case out.err != nil:
		return condition(t, metav1.ConditionFalse, egressv1alpha1.ReasonApplyFailed,
			"applying the access logging Telemetry failed, the operator retries: "+out.err.Error())
	case out.res.conflict != "":
		return condition(t, metav1.ConditionFalse, egressv1alpha1.ReasonConflict, out.res.conflict+
			" already exists and is not owned by this EgressGateway, so the operator leaves it as it is: delete it to let the operator create its own")
	case out.res.invalid != "":
		return condition(t, metav1.ConditionFalse, egressv1alpha1.ReasonInvalidFilter, out.res.invalid)
	case !out.res.applied:
		return condition(t, metav1.ConditionFalse, egressv1alpha1.ReasonReconciling, "creating Telemetry "+out.name)
	}
	return condition(t, metav1.ConditionTrue, egressv1alpha1.ReasonApplied, fmt.Sprintf(
		"Telemetry %s turns on the waypoint's access logs (provider %s, its standard output); istiod applies it to the ServiceEntries in this namespace",
		out.name, accessLogProvider))
}

// warnObservability sends a Warning Event when the AccessLogging condition
// is about to say something new that needs a person.
func (r *EgressGatewayReconciler) warnObservability(s *scope, out *observabilityOutcome) {
	c := accessLoggingCondition(out)
	if c == nil || c.Status == metav1.ConditionTrue || c.Reason == egressv1alpha1.ReasonReconciling {
		return
	}
	if old := meta.FindStatusCondition(s.original.Status.Conditions, c.Type); old != nil && old.Reason == c.Reason && old.Message == c.Message {
		return
	}
	r.Recorder.Eventf(s.egw, nil, corev1.EventTypeWarning, c.Reason, "ApplyAccessLogging", "%s", c.Message)
}
