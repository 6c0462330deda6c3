package main

import (
	"net"
	"strings"
	"testing"
	"time"

	"github.com/ambient-egress/ambient-egress-operator/simulator/observe/observetest"
)

// observeAt is when the seed's series end; the golden output reads the
// window ending then, so it does not depend on the clock.
var observeAt = time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)

// observeAPI is the second destination the observed-traffic tests add to
// the seed (only admin may call it).
const observeAPI = "../../simulator/observe/testdata/api.yaml"

// TestObserveSeedGolden: a real Prometheus over the seed's series (the
// same the operator's envtest reads): the rows, and the DeniedTraffic,
// UnexpectedTraffic and UnusedGrant findings.
func TestObserveSeedGolden(t *testing.T) {
	prom := observetest.Start(t, observetest.OpenMetrics(observetest.SeedFlows(observeAt, "default")))
	code, out, errOut := runCLI(t, "observe", "-f", seedSamples, "-f", observeAPI, "--prometheus", prom.URL, "--at", observeAt.Format(time.RFC3339))
	if code != exitOK {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	golden(t, "observe-seed.txt", out)
}

// TestObserveErrors: bad flags are bad input (2); a Prometheus that does
// not answer is exit 1, naming it.
func TestObserveErrors(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + l.Addr().String()
	l.Close()
	for _, tc := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"no prometheus", []string{"observe", "-f", seedSamples}, exitBadInput, "--prometheus: give the base URL"},
		{"not a URL", []string{"observe", "-f", seedSamples, "--prometheus", "prometheus:9090"}, exitBadInput, "is not an http or https URL"},
		{"bad time", []string{"observe", "-f", seedSamples, "--prometheus", closed, "--at", "yesterday"}, exitBadInput, "--at"},
		{"short window", []string{"observe", "-f", seedSamples, "--prometheus", closed, "--lookback", "1m"}, exitBadInput, "--lookback: 1m0s is shorter than 5m"},
		{"both inputs", []string{"observe", "waypoint", "-f", seedSamples, "--prometheus", closed}, exitBadInput, "not both"},
		{"missing token file", []string{"observe", "-f", seedSamples, "--prometheus", closed, "--token-file", "/nonexistent/token"}, exitBadInput, "--token-file"},
		{"prometheus down", []string{"observe", "-f", seedSamples, "--prometheus", closed}, exitUnavailable, "reading Prometheus at " + closed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := runCLI(t, tc.args...)
			if code != tc.code || !strings.Contains(errOut, tc.want) {
				t.Errorf("exit %d, want %d; stderr %q, want %q\n%s", code, tc.code, errOut, tc.want, out)
			}
		})
	}
}
