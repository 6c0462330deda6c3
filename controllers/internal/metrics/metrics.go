// Package metrics defines the operator's Prometheus collectors, registered
// in controller-runtime's registry so the manager's metrics endpoint serves
// them.
package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
	crmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
)

// Result label values of HelmActions.
const (
	ResultSuccess = "success"
	ResultFailure = "failure"
)

// HelmActions counts the Helm actions the operator ran, by action (install,
// upgrade, rollback, unlock, uninstall, repair) and result (success,
// failure). In steady state it does not move.
var HelmActions = prometheus.NewCounterVec(prometheus.CounterOpts{
	Name: "egressgateway_helm_actions_total",
	Help: "Helm actions run on EgressGateway waypoint releases, by action and result.",
}, []string{"action", "result"})

func init() {
	crmetrics.Registry.MustRegister(HelmActions)
}

// RecordHelmAction counts one action with its outcome.
func RecordHelmAction(action string, err error) {
	result := ResultSuccess
	if err != nil {
		result = ResultFailure
	}
	HelmActions.WithLabelValues(action, result).Inc()
}

// SimulationDuration observes how long each simulation took, per gateway.
// Steady state does not simulate: it moves only when the inputs change.
var SimulationDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
	Name:    "egressgateway_simulation_duration_seconds",
	Help:    "Time the reachability simulation of an EgressGateway took.",
	Buckets: prometheus.ExponentialBuckets(0.0001, 4, 10), // 100µs to 26s
}, []string{"namespace", "name"})

// ReachabilityPairs is the number of source group × destination pairs of the
// last simulation, per gateway and access (all, partial, none). Sources are
// grouped, so there is no per-workload label.
var ReachabilityPairs = prometheus.NewGaugeVec(prometheus.GaugeOpts{
	Name: "egressgateway_reachability_pairs",
	Help: "Source group × destination pairs of an EgressGateway's last simulation, by access.",
}, []string{"namespace", "name", "access"})

func init() {
	crmetrics.Registry.MustRegister(SimulationDuration, ReachabilityPairs)
}

// RecordSimulation observes one simulation's duration.
func RecordSimulation(namespace, name string, took time.Duration) {
	SimulationDuration.WithLabelValues(namespace, name).Observe(took.Seconds())
}

// RecordPairs sets the pairs of a gateway's last simulation.
func RecordPairs(namespace, name string, all, partial, none int32) {
	ReachabilityPairs.WithLabelValues(namespace, name, "all").Set(float64(all))
	ReachabilityPairs.WithLabelValues(namespace, name, "partial").Set(float64(partial))
	ReachabilityPairs.WithLabelValues(namespace, name, "none").Set(float64(none))
}

// ForgetGateway drops the series of a deleted gateway, so they do not linger.
func ForgetGateway(namespace, name string) {
	SimulationDuration.DeleteLabelValues(namespace, name)
	for _, access := range []string{"all", "partial", "none"} {
		ReachabilityPairs.DeleteLabelValues(namespace, name, access)
	}
}
