package controllers

import (
	"time"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	egressv1alpha1 "github.com/ambient-egress/ambient-egress-operator/apis/egress/v1alpha1"
	"github.com/ambient-egress/ambient-egress-operator/controllers/internal/enrollment"
	"github.com/ambient-egress/ambient-egress-operator/controllers/internal/reporting"
	"github.com/ambient-egress/ambient-egress-operator/simulator"
)

// scope is one reconcile's EgressGateway and what the phases observed,
// from which the status is computed once at the end.
type scope struct {
	// egw is the object being reconciled; its status is rewritten at the end.
	egw *egressv1alpha1.EgressGateway
	// original is egw as read, to compare the new status with.
	original *egressv1alpha1.EgressGateway

	// released is the Released condition the waypoint phase decided, nil to
	// keep the current one.
	released *metav1.Condition
	// attempted is true when an install or upgrade ran; failedAttempt is
	// then its "<chartVersion>/<valuesDigest>" if it failed.
	attempted     bool
	failedAttempt string
	// release is the release as observed after the phase's action.
	release *egressv1alpha1.HelmReleaseStatus
	// gatewayName is the waypoint Gateway's name.
	gatewayName string
	// gateway and deployment are the live waypoint objects, nil when absent;
	// they mean something only once waypointObserved is set. waypointErr
	// is a read that failed before that: the waypoint's state is unknown,
	// so its status stays as it was.
	gateway          *gatewayv1.Gateway
	deployment       *appsv1.Deployment
	waypointObserved bool
	waypointErr      error
	// enrollment is the label plan, nil when the phase did not run;
	// enrollmentErr is set when the spec's selector does not parse.
	enrollment    *enrollment.Plan
	enrollmentErr error
	// enrollmentFailed is a read or write of the enrollment that failed; it
	// is retried.
	enrollmentFailed error

	// istio is the istiod the destinations phase found, and istioStatus
	// how it is shown; nil when the phase did not get that far.
	istio       simulator.Istio
	istioStatus *egressv1alpha1.IstioStatus

	// mesh is the mesh config the simulation phase read, nil when it did
	// not get that far.
	mesh *egressv1alpha1.MeshStatus
	// simulation is the report to write: a new one, or the current one when
	// the inputs did not change; nil when the phase did not get that far.
	simulation *egressv1alpha1.SimulationStatus
	// simulationDisabled is set when spec.simulation.disabled asks to clear
	// the report; simulationErr when the inputs could not be read.
	simulationDisabled bool
	simulationErr      error
	// simulationSince is when the simulation of the current inputs
	// started, when it is still running in the background.
	simulationSince time.Time
	// declared is what the destinations phase did with spec.destinations,
	// nil when it did not run.
	declared *destinationsOutcome
	// destinations is status.destinations as the report has it, without
	// istiod's conditions.
	destinations []egressv1alpha1.DestinationStatus
	// istioWaypointBound and istioPolicyAccepted are the conditions istiod
	// wrote on the ServiceEntries and policies the simulation read.
	istioWaypointBound  map[string]*egressv1alpha1.IstioCondition
	istioPolicyAccepted map[string]*egressv1alpha1.IstioCondition

	// prepared is the simulation's input, nil when the phase did not get
	// that far.
	prepared *reporting.Prepared
	// verification is what the verification phase did, nil when it did
	// not run.
	verification *verificationOutcome
	// observed is what the observed-traffic phase did, nil when it did
	// not run.
	observed *observedOutcome
	// lockdown is what the lockdown phase did, nil when it did not run.
	lockdown *lockdownOutcome
	// observability is what the observability phase did, nil when it did
	// not run.
	observability *observabilityOutcome

	// complete is set when every phase ran to its end for this
	// generation; only then does status.observedGeneration move.
	complete bool
}

func newScope(egw *egressv1alpha1.EgressGateway) *scope {
	return &scope{egw: egw, original: egw.DeepCopy()}
}
