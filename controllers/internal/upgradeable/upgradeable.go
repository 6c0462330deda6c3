// Package upgradeable tells OLM, through the operator's OperatorCondition,
// not to upgrade the operator while a Helm action is in flight: an upgrade
// would kill the manager mid-action and leave a release pending.
package upgradeable

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/go-logr/logr"
	apiv2 "github.com/operator-framework/api/pkg/operators/v2"
	"github.com/operator-framework/operator-lib/conditions"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// ReasonHelmActionInProgress is the Upgradeable=False reason while Helm runs.
const ReasonHelmActionInProgress = "HelmActionInProgress"

// ReasonNoHelmAction is the Upgradeable=True reason when nothing runs.
const ReasonNoHelmAction = "NoHelmActionInProgress"

// Gate counts the Helm actions in flight and keeps OLM's Upgradeable
// condition False while there is at least one. It is safe for concurrent use.
// A Gate made outside OLM (no OPERATOR_CONDITION_NAME) does nothing.
type Gate struct {
	cond conditions.Condition // nil when not run by OLM
	log  logr.Logger

	mu       sync.Mutex
	inFlight map[string]int // release → actions running
}

// New returns a Gate writing through factory, or a no-op Gate when factory
// cannot name the OperatorCondition, which is the case when OLM did not
// install the operator.
func New(factory conditions.Factory, log logr.Logger) *Gate {
	g := &Gate{log: log, inFlight: map[string]int{}}
	cond, err := factory.NewCondition(apiv2.ConditionType(apiv2.Upgradeable))
	if err != nil {
		log.V(1).Info("not run by OLM; the Upgradeable condition is not reported", "reason", err.Error())
		return g
	}
	g.cond = cond
	return g
}

// Begin records that a Helm action on release started; the first action in
// flight turns Upgradeable False.
func (g *Gate) Begin(ctx context.Context, release string) {
	if g == nil || g.cond == nil {
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	g.inFlight[release]++
	g.write(ctx)
}

// End records that a Helm action on release finished; when none is left,
// Upgradeable turns True again.
func (g *Gate) End(ctx context.Context, release string) {
	if g == nil || g.cond == nil {
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.inFlight[release]--; g.inFlight[release] <= 0 {
		delete(g.inFlight, release)
	}
	g.write(ctx)
}

// write sets the condition from the releases in flight. A failure is logged,
// not returned: the Helm action matters more than the hint to OLM, and the
// next Begin or End writes the condition again.
func (g *Gate) write(ctx context.Context) {
	status, reason, message := metav1.ConditionTrue, ReasonNoHelmAction, "no Helm action is in flight"
	if len(g.inFlight) > 0 {
		releases := make([]string, 0, len(g.inFlight))
		for r := range g.inFlight {
			releases = append(releases, r)
		}
		sort.Strings(releases)
		status, reason = metav1.ConditionFalse, ReasonHelmActionInProgress
		message = "Helm actions in flight on " + strings.Join(releases, ", ") + "; upgrading now could leave them pending"
	}
	if err := g.cond.Set(ctx, status, conditions.WithReason(reason), conditions.WithMessage(message)); err != nil {
		g.log.Error(err, "setting the OperatorCondition Upgradeable", "status", status)
	}
}

// NewInCluster returns a Gate for the operator's own OperatorCondition, read
// and written with a client of its own: the manager's cached client would
// start a cluster-wide informer for a kind the operator may not list.
func NewInCluster(cfg *rest.Config, log logr.Logger) (*Gate, error) {
	scheme := runtime.NewScheme()
	if err := apiv2.AddToScheme(scheme); err != nil {
		return nil, err
	}
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		return nil, fmt.Errorf("client for the OperatorCondition: %w", err)
	}
	return New(conditions.InClusterFactory{Client: c}, log), nil
}
