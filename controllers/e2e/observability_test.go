//go:build e2e

package e2e

import (
	"context"
	"slices"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	egressv1alpha1 "github.com/ambient-egress/ambient-egress-operator/apis/egress/v1alpha1"
	"github.com/ambient-egress/ambient-egress-operator/controllers/internal/testenv"
)

// fileAccessLog is the logger Istio's envoy provider configures.
const fileAccessLog = "envoy.extensions.access_loggers.file.v3.FileAccessLog"

// TestAccessLoggingAtTheWaypoint turns on spec.observability.accessLogging
// and asks the real istiod, as the waypoint, for the waypoint's listeners:
// before, no chain logs to a file (the mesh config sets no accessLogFile);
// after, the HTTP chain of the declared destination does, through the
// operator's Telemetry — istiod accepted it and applies it to this waypoint.
func TestAccessLoggingAtTheWaypoint(t *testing.T) {
	ns := newNamespace(t, "logs", nil)
	apply(t, ns, `{apiVersion: egress.ambient.io/v1alpha1, kind: EgressGateway, metadata: {name: waypoint},
  spec: {destinations: [{host: httpbin.org, ports: [{number: 80, name: http, protocol: HTTP}]}]}}`)
	waitForCondition(t, ns, "waypoint", egressv1alpha1.ConditionWaypointReady, metav1.ConditionTrue)
	waitForIstioCondition(t, serviceEntryGVK, ns, "httpbin.org", "istio.io/WaypointBound", metav1.ConditionTrue)
	fileLogs := func() []string {
		var out []string
		for _, l := range accessLogs(t, waypointListeners(t, ns, "waypoint")) {
			if strings.HasSuffix(l, fileAccessLog) {
				out = append(out, l)
			}
		}
		return out
	}
	if before := fileLogs(); len(before) != 0 {
		t.Fatalf("the waypoint logs to a file before the Telemetry: %v", before)
	}

	egw := egressGateway(t, ns, "waypoint")
	before := egw.DeepCopy()
	egw.Spec.Observability.AccessLogging = &egressv1alpha1.AccessLoggingSpec{Enabled: true}
	if err := c.Patch(ctx(), egw, client.MergeFrom(before)); err != nil {
		t.Fatal(err)
	}
	waitForCondition(t, ns, "waypoint", egressv1alpha1.ConditionAccessLogging, metav1.ConditionTrue)
	var after []string
	testenv.Eventually(t, timeout, "istiod to give the waypoint's HTTP chain a file access log", func(context.Context) (bool, error) {
		after = fileLogs()
		return slices.ContainsFunc(after, func(l string) bool { return strings.Contains(l, " http: ") }), nil
	})
	t.Logf("file access logs istiod configured on the waypoint: %v", after)
}
