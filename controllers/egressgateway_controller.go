// Package controllers holds the EgressGatewayReconciler, which turns an
// EgressGateway into a running waypoint, its enrollment and its report.
package controllers

import (
	"context"
	"errors"
	"fmt"
	"github.com/ambient-egress/ambient-egress-operator/simulator/reach"
	"io/fs"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	egressv1alpha1 "github.com/ambient-egress/ambient-egress-operator/apis/egress/v1alpha1"
	"github.com/ambient-egress/ambient-egress-operator/controllers/internal/helmrelease"
	"github.com/ambient-egress/ambient-egress-operator/controllers/internal/upgradeable"
	"github.com/ambient-egress/ambient-egress-operator/controllers/internal/waypoint"
)

// DefaultRetryFailedAfter is how long the reconciler waits before it tries
// the same failed chart and values again, when nothing else changed.
const DefaultRetryFailedAfter = 5 * time.Minute

// afterAction is how soon the reconciler looks again after a Helm action,
// to see the release's new state and take the next step.
const afterAction = 200 * time.Millisecond

// EgressGatewayReconciler reconciles EgressGateway objects.
type EgressGatewayReconciler struct {
	client.Client
	// APIReader reads around the cache, for writes that need the current
	// resourceVersion.
	APIReader client.Reader
	// Scheme decodes the release's objects into typed, cached reads.
	Scheme *runtime.Scheme
	// Recorder sends one Event per Helm action.
	Recorder events.EventRecorder
	// Helm runs the waypoint release's actions.
	Helm *helmrelease.Runner
	// RetryFailedAfter overrides DefaultRetryFailedAfter when set.
	RetryFailedAfter time.Duration
	// Upgradeable keeps OLM from upgrading the operator mid-action; nil or a
	// no-op gate outside OLM.
	Upgradeable *upgradeable.Gate
	// Mesh are mesh settings fixed by flags over Istio's mesh config.
	Mesh MeshOverrides
	// Istio fixes istiod's version and flags over what its Deployment says.
	Istio IstioOverrides
	// IstioNamespace is where istiod's mesh config ConfigMap lives;
	// empty means istio-system.
	IstioNamespace string
	// WatchNamespaces are the namespaces the cache holds, nil for all; the
	// root namespace must be one of them.
	WatchNamespaces []string
	// StatusBudget overrides the bytes status.simulation may take before
	// the full report moves to a ConfigMap, for tests.
	StatusBudget int
	// SimulationBudget bounds each simulation: work and time per
	// destination, and SimulationBudget.Total for the whole report
	// (DefaultSimulationTimeout when zero). Past it destinations are
	// reported inexactly (Simulated=False/TooComplex), never late.
	SimulationBudget reach.Budget
	// MaxConcurrentReconciles is how many EgressGateways are reconciled at
	// once (never the same one twice); DefaultMaxConcurrentReconciles when
	// zero.
	MaxConcurrentReconciles int
	// Verify turns on the check of each report against istiod's
	// configuration for the waypoint; off when its XDSAddress is empty.
	Verify VerifyOptions

	// sims runs the simulations in the background (SetupWithManager).
	sims *simJobs
	// meshParses caches the decoded mesh config.
	meshParses meshParses
	// encodings holds each gateway's *reporting.Encodings.
	encodings sync.Map
	// verifyAttempts holds each gateway's pending verifyAttempt.
	verifyAttempts sync.Map
	// istiodOutage is set while istiod's xDS port does not answer.
	istiodOutage outage
	// observations holds what each gateway last read from Prometheus.
	observations observations
}

// DefaultSimulationTimeout bounds the symbolic work of one simulation.
const DefaultSimulationTimeout = 20 * time.Second

// Options configure NewEgressGatewayReconciler.
type Options struct {
	// Version is the operator's version; the embedded chart carries it, so
	// a new operator upgrades each release once.
	Version string
	// Chart replaces the embedded waypoint chart's files, for tests.
	Chart fs.FS
	// RetryFailedAfter overrides DefaultRetryFailedAfter when set.
	RetryFailedAfter time.Duration
	// Mesh are mesh settings that override Istio's mesh config (flags);
	// empty fields take Istio's values.
	Mesh MeshOverrides
	// Istio fixes istiod's version and flags over what its Deployment
	// says (flags).
	Istio IstioOverrides
	// IstioNamespace is where istiod and its mesh config ConfigMap run;
	// empty means istio-system. The cache must hold its ConfigMaps
	// (CacheOptions).
	IstioNamespace string
	// WatchNamespaces are the namespaces the manager's cache holds, nil for
	// every one (as given to CacheOptions).
	WatchNamespaces []string
	// StatusBudget overrides reporting.DefaultBudget, the bytes
	// status.simulation may take, when set; for tests.
	StatusBudget int
	// SimulationBudget bounds each simulation (see the reconciler's field).
	SimulationBudget reach.Budget
	// MaxConcurrentReconciles is how many EgressGateways are reconciled at
	// once; DefaultMaxConcurrentReconciles when zero.
	MaxConcurrentReconciles int
	// Verify turns on the check of each report against istiod's
	// configuration for the waypoint (flags).
	Verify VerifyOptions
}

// DefaultMaxConcurrentReconciles lets a slow gateway (a Helm action, a
// simulation at its budget) hold one worker while the others go on.
const DefaultMaxConcurrentReconciles = 4

// NewEgressGatewayReconciler wires a reconciler to mgr's client, cache,
// Event recorder and rest.Config, with the waypoint chart loaded.
func NewEgressGatewayReconciler(mgr ctrl.Manager, opts Options) (*EgressGatewayReconciler, error) {
	files := opts.Chart
	if files == nil {
		files = waypoint.Chart()
	}
	chart, err := helmrelease.LoadChart(files, opts.Version)
	if err != nil {
		return nil, fmt.Errorf("loading the waypoint chart: %w", err)
	}
	runner, err := helmrelease.NewRunner(mgr.GetConfig(), chart, mgr.GetLogger().WithName("helm"))
	if err != nil {
		return nil, fmt.Errorf("setting up Helm: %w", err)
	}
	gate, err := upgradeable.NewInCluster(mgr.GetConfig(), mgr.GetLogger().WithName("olm"))
	if err != nil {
		return nil, fmt.Errorf("setting up the OLM Upgradeable condition: %w", err)
	}
	return &EgressGatewayReconciler{
		Client:                  mgr.GetClient(),
		APIReader:               mgr.GetAPIReader(),
		Scheme:                  mgr.GetScheme(),
		Recorder:                mgr.GetEventRecorder("egressgateway-controller"),
		Helm:                    runner,
		RetryFailedAfter:        opts.RetryFailedAfter,
		Upgradeable:             gate,
		Mesh:                    opts.Mesh,
		Istio:                   opts.Istio,
		IstioNamespace:          opts.IstioNamespace,
		WatchNamespaces:         opts.WatchNamespaces,
		StatusBudget:            opts.StatusBudget,
		SimulationBudget:        opts.SimulationBudget,
		MaxConcurrentReconciles: opts.MaxConcurrentReconciles,
		Verify:                  opts.Verify,
	}, nil
}

// +kubebuilder:rbac:groups=egress.ambient.io,resources=egressgateways,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=egress.ambient.io,resources=egressgateways/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=egress.ambient.io,resources=egressgateways/finalizers,verbs=update
// +kubebuilder:rbac:groups=core,resources=events,verbs=create;patch
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch
// +kubebuilder:rbac:groups=core,resources=secrets,verbs=get;list;create;update;delete
// +kubebuilder:rbac:groups=core,resources=configmaps,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups=gateway.networking.k8s.io,resources=gateways,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups=autoscaling,resources=horizontalpodautoscalers,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups=policy,resources=poddisruptionbudgets,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups=apps,resources=deployments,verbs=get;list;watch;patch
// +kubebuilder:rbac:groups=core,resources=namespaces,verbs=get;list;watch;patch
// +kubebuilder:rbac:groups=networking.istio.io,resources=serviceentries,verbs=get;list;watch;patch

// Reconcile brings one EgressGateway closer to its spec: fetch, finalizer,
// then the phases in order, then one status patch computed from what they
// observed (none when nothing changed).
func (r *EgressGatewayReconciler) Reconcile(ctx context.Context, req ctrl.Request) (result ctrl.Result, retErr error) {
	egw := &egressv1alpha1.EgressGateway{}
	if err := r.Get(ctx, req.NamespacedName, egw); err != nil {
		if apierrors.IsNotFound(err) {
			return ctrl.Result{}, nil // deleted: the finalizer already cleaned up
		}
		return ctrl.Result{}, fmt.Errorf("reading EgressGateway %s: %w", req.NamespacedName, err)
	}
	s := newScope(egw)
	if !egw.DeletionTimestamp.IsZero() {
		return r.reconcileDelete(ctx, s)
	}
	if err := r.ensureFinalizer(ctx, s); err != nil {
		return ctrl.Result{}, err
	}
	defer func() {
		switch err := r.patchStatus(ctx, s); {
		case apierrors.IsConflict(err):
			// Read from a copy older than the stored one: computed
			// again on a fresh read, soon (a status-only change
			// triggers no watch event).
			result = soonest(result, ctrl.Result{RequeueAfter: statusConflictRetry})
		case err != nil:
			retErr = errors.Join(retErr, err)
		}
	}()
	for _, phase := range []func(context.Context, *scope) (ctrl.Result, error){
		r.reconcileWaypoint,
		r.reconcileEnrollment,
		r.reconcileDestinations,
		r.reconcileSimulation,
		// Right after the report it checks; it never fails the pass.
		r.reconcileVerification,
		// Observed traffic never fails the pass either.
		r.reconcileObserved,
		// Last: a lockdown that cannot be applied (no cluster DNS found)
		// does not hold up the report.
		r.reconcileLockdown,
		// After it: access logs are an aid, never a reason to hold up
		// the report or the lockdown.
		r.reconcileObservability,
	} {
		res, err := phase(ctx, s)
		result = soonest(result, res)
		if err != nil {
			return result, err
		}
	}
	s.complete = true
	return result, nil
}

// ensureFinalizer adds the finalizer before anything is installed, so the
// release can always be uninstalled.
func (r *EgressGatewayReconciler) ensureFinalizer(ctx context.Context, s *scope) error {
	if controllerutil.ContainsFinalizer(s.egw, egressv1alpha1.Finalizer) {
		return nil
	}
	before := s.egw.DeepCopy()
	controllerutil.AddFinalizer(s.egw, egressv1alpha1.Finalizer)
	if err := r.Patch(ctx, s.egw, client.MergeFromWithOptions(before, client.MergeFromWithOptimisticLock{})); err != nil {
		return fmt.Errorf("adding finalizer: %w", err)
	}
	return nil
}

// statusConflictRetry is how soon a reconcile whose status write met a
// newer object runs again.
const statusConflictRetry = 100 * time.Millisecond

// soonest combines two results, keeping the earlier requeue.
func soonest(a, b ctrl.Result) ctrl.Result {
	if a.RequeueAfter == 0 || (b.RequeueAfter != 0 && b.RequeueAfter < a.RequeueAfter) {
		return b
	}
	return a
}

func (r *EgressGatewayReconciler) retryFailedAfter() time.Duration {
	if r.RetryFailedAfter > 0 {
		return r.RetryFailedAfter
	}
	return DefaultRetryFailedAfter
}
