package metrics

import (
	"encoding/json"
	"errors"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/promql/parser"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"

	"github.com/ambient-egress/ambient-egress-operator/simulator/reach"
)

const dashboardDir = "../../../config/grafana"

// istioStandardMetrics are Istio's standard metrics and their labels
// (https://istio.io/latest/docs/reference/config/metrics/: "Metrics" and
// "Labels"), which a waypoint reports with reporter="waypoint".
var istioStandardMetrics = map[string][]string{
	"istio_requests_total":                {},
	"istio_request_duration_milliseconds": {"le"},
	"istio_request_bytes":                 {"le"},
	"istio_response_bytes":                {"le"},
	"istio_tcp_sent_bytes_total":          {},
	"istio_tcp_received_bytes_total":      {},
	"istio_tcp_connections_opened_total":  {},
	"istio_tcp_connections_closed_total":  {},
}

var istioStandardLabels = []string{"reporter", "source_workload", "source_workload_namespace", "source_principal", "source_app",
	"source_version", "source_cluster", "destination_workload", "destination_workload_namespace", "destination_principal",
	"destination_app", "destination_version", "destination_service", "destination_service_name", "destination_service_namespace",
	"destination_cluster", "request_protocol", "response_code", "grpc_response_status", "response_flags", "connection_security_policy"}

// operatorMetrics gathers the operator's own metric families, each with
// its labels, from a registry holding only them, one series each.
func operatorMetrics(t *testing.T) map[string][]string {
	t.Helper()
	reg := prometheus.NewRegistry()
	for _, c := range []prometheus.Collector{HelmActions, SimulationsRunning, SimulationDuration, ReachabilityPairs, Findings, DirectEgress, WaypointReplicas} {
		reg.MustRegister(c)
	}
	RecordHelmAction("install", nil)
	RecordSimulation("ns", "gw", 0)
	RecordReport("ns", "gw", 1, 0, 0, 0, []reach.Finding{{Code: reach.CodeDirectEgressOpen, Severity: reach.SeverityWarning}})
	RecordReplicas("ns", "gw", 1, 1)
	t.Cleanup(func() { ForgetGateway("ns", "gw") })
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]string{}
	for _, f := range families {
		var names []string
		for _, l := range f.GetMetric()[0].GetLabel() {
			names = append(names, l.GetName())
		}
		if f.GetType().String() == "HISTOGRAM" {
			for _, suffix := range []string{"_bucket", "_sum", "_count"} {
				out[f.GetName()+suffix] = append(slices.Clone(names), "le")
			}
			continue
		}
		out[f.GetName()] = names
	}
	return out
}

// grafanaVariables are the dashboard's Grafana variables in PromQL
// positions, replaced by what Grafana would put there.
var grafanaVariables = strings.NewReplacer("$__rate_interval", "5m", "$__interval", "1m", "$__range", "1h")

// TestDashboard: every PromQL expression of the dashboard parses with
// Prometheus's own parser and reads only metrics, and labels, that the
// operator or Istio's standard metrics define; the variables' label_values
// queries name such metrics too; and config/grafana builds the ConfigMap
// Grafana's sidecar loads.
func TestDashboard(t *testing.T) {
	data, err := os.ReadFile(dashboardDir + "/egress-dashboard.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
		Templating struct {
			List []struct {
				Name  string `json:"name"`
				Query any    `json:"query"`
			} `json:"list"`
		} `json:"templating"`
	}
	if err := json.Unmarshal(data, &dash); err != nil {
		t.Fatal(err)
	}
	known := operatorMetrics(t)
	for name, extra := range istioStandardMetrics {
		known[name] = append(slices.Clone(istioStandardLabels), extra...)
	}
	exprs := 0
	for _, p := range dash.Panels {
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, target := range p.Targets {
			exprs++
			expr, err := parser.NewParser(parser.Options{}).ParseExpr(grafanaVariables.Replace(target.Expr))
			if err != nil {
				t.Errorf("panel %q: %q does not parse: %v", p.Title, target.Expr, err)
				continue
			}
			if err := checkExpr(expr, known); err != nil {
				t.Errorf("panel %q: %q: %v", p.Title, target.Expr, err)
			}
		}
	}
	labelValues := regexp.MustCompile(`^label_values\((\w+)(\{[^}]*\})?, (\w+)\)$`)
	for _, v := range dash.Templating.List {
		q, ok := v.Query.(map[string]any)
		if !ok {
			continue
		}
		m := labelValues.FindStringSubmatch(q["query"].(string))
		if m == nil {
			t.Errorf("variable %s: %q is not label_values(metric, label)", v.Name, q["query"])
			continue
		}
		if labels, ok := known[m[1]]; !ok || !slices.Contains(labels, m[3]) {
			t.Errorf("variable %s: %s has no label %s", v.Name, m[1], m[3])
		}
	}
	if exprs < 9 {
		t.Errorf("%d expressions, want every panel of the issue's list", exprs)
	}

	fs := filesys.MakeFsOnDisk()
	res, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(fs, dashboardDir)
	if err != nil {
		t.Fatal(err)
	}
	cms := res.Resources()
	if len(cms) != 1 || cms[0].GetKind() != "ConfigMap" || cms[0].GetLabels()["grafana_dashboard"] != "1" {
		t.Fatalf("config/grafana builds %d objects, want one ConfigMap labeled grafana_dashboard=1", len(cms))
	}
	if got := cms[0].GetDataMap()["egress-dashboard.json"]; got != string(data) {
		t.Error("the ConfigMap does not carry egress-dashboard.json as it is")
	}
}

// checkExpr requires every vector selector of expr to name a known metric
// and match only its labels, and every grouping label to be one of them.
func checkExpr(expr parser.Expr, known map[string][]string) error {
	var errs []error
	var metrics []string
	parser.Inspect(expr, func(node parser.Node, _ []parser.Node) error {
		if vs, ok := node.(*parser.VectorSelector); ok {
			labels, found := known[vs.Name]
			if !found {
				errs = append(errs, errors.New("metric "+vs.Name+" is neither the operator's nor an Istio standard metric"))
				return nil
			}
			metrics = append(metrics, vs.Name)
			for _, m := range vs.LabelMatchers {
				if m.Name != labelName && !slices.Contains(labels, m.Name) {
					errs = append(errs, errors.New(vs.Name+" has no label "+m.Name))
				}
			}
		}
		return nil
	})
	parser.Inspect(expr, func(node parser.Node, _ []parser.Node) error {
		if agg, ok := node.(*parser.AggregateExpr); ok {
			for _, g := range agg.Grouping {
				if !slices.ContainsFunc(metrics, func(name string) bool { return slices.Contains(known[name], g) }) {
					errs = append(errs, errors.New("grouping by "+g+", which no metric of the expression has"))
				}
			}
		}
		return nil
	})
	return errors.Join(errs...)
}

// labelName is the matcher of the metric name itself.
const labelName = model.MetricNameLabel
