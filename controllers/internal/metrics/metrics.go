// Package metrics defines the operator's Prometheus collectors, registered
// in controller-runtime's registry so the manager's metrics endpoint serves
// them.
package metrics

import (
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
