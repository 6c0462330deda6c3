// Package metrics defines the operator's Prometheus collectors, registered
// in controller-runtime's registry so the manager's metrics endpoint serves
// them.
package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
	crmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/ambient-egress/ambient-egress-operator/simulator/reach"
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

// SimulationsRunning is the number of simulations running in the
// background, from their start until their gateway is queued again. In
// steady state it is zero.
var SimulationsRunning = prometheus.NewGauge(prometheus.GaugeOpts{
	Name: "egressgateway_simulations_running",
	Help: "Reachability simulations running in the background, not yet handed back to their EgressGateway's reconcile.",
})

func init() {
	crmetrics.Registry.MustRegister(HelmActions, SimulationsRunning)
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

// Findings is the number of findings of a gateway's last simulation, by
// code and severity. Codes are a fixed, documented set, so the cardinality
// is bounded by gateways × codes.
var Findings = prometheus.NewGaugeVec(prometheus.GaugeOpts{
	Name: "egressgateway_findings",
	Help: "Findings of an EgressGateway's last simulation, by code and severity.",
}, []string{"namespace", "name", "code", "severity"})

// DirectEgress is the number of sources of a gateway's last simulation
// that reach hosts outside the mesh directly, bypassing the waypoint.
var DirectEgress = prometheus.NewGaugeVec(prometheus.GaugeOpts{
	Name: "egressgateway_direct_egress_sources",
	Help: "Sources of an EgressGateway's last simulation that reach hosts outside the mesh directly, bypassing the waypoint.",
}, []string{"namespace", "name"})

// WaypointReplicas is the waypoint Deployment's desired and ready replicas,
// per gateway.
var WaypointReplicas = prometheus.NewGaugeVec(prometheus.GaugeOpts{
	Name: "egressgateway_waypoint_replicas",
	Help: "Replicas of an EgressGateway's waypoint Deployment, by state (desired, ready).",
}, []string{"namespace", "name", "state"})

func init() {
	crmetrics.Registry.MustRegister(SimulationDuration, ReachabilityPairs, Findings, DirectEgress, WaypointReplicas)
}

// RecordSimulation observes one simulation's duration.
func RecordSimulation(namespace, name string, took time.Duration) {
	SimulationDuration.WithLabelValues(namespace, name).Observe(took.Seconds())
}

// RecordReport sets the pairs and the findings of a gateway's last
// simulation; codes the new report no longer has go away.
func RecordReport(namespace, name string, all, partial, none, direct int32, findings []reach.Finding) {
	DirectEgress.WithLabelValues(namespace, name).Set(float64(direct))
	ReachabilityPairs.WithLabelValues(namespace, name, "all").Set(float64(all))
	ReachabilityPairs.WithLabelValues(namespace, name, "partial").Set(float64(partial))
	ReachabilityPairs.WithLabelValues(namespace, name, "none").Set(float64(none))
	Findings.DeletePartialMatch(prometheus.Labels{"namespace": namespace, "name": name})
	type key struct{ code, severity string }
	counts := map[key]int{}
	for _, f := range findings {
		counts[key{f.Code, string(f.Severity)}]++
	}
	for k, n := range counts {
		Findings.WithLabelValues(namespace, name, k.code, k.severity).Set(float64(n))
	}
}

// RecordReplicas sets the waypoint's desired and ready replicas.
func RecordReplicas(namespace, name string, desired, ready int32) {
	WaypointReplicas.WithLabelValues(namespace, name, "desired").Set(float64(desired))
	WaypointReplicas.WithLabelValues(namespace, name, "ready").Set(float64(ready))
}

// ForgetGateway drops the series of a deleted gateway, so they do not linger.
func ForgetGateway(namespace, name string) {
	gw := prometheus.Labels{"namespace": namespace, "name": name}
	SimulationDuration.DeletePartialMatch(gw)
	ReachabilityPairs.DeletePartialMatch(gw)
	Findings.DeletePartialMatch(gw)
	DirectEgress.DeletePartialMatch(gw)
	WaypointReplicas.DeletePartialMatch(gw)
}

// ForgetReport drops the report's series of a gateway whose simulation is
// turned off.
func ForgetReport(namespace, name string) {
	gw := prometheus.Labels{"namespace": namespace, "name": name}
	ReachabilityPairs.DeletePartialMatch(gw)
	Findings.DeletePartialMatch(gw)
	DirectEgress.DeletePartialMatch(gw)
}
