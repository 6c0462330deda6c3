package observe_test

import (
	"context"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/model"

	"github.com/ambient-egress/ambient-egress-operator/simulator"
	"github.com/ambient-egress/ambient-egress-operator/simulator/observe"
	"github.com/ambient-egress/ambient-egress-operator/simulator/observe/observetest"
	"github.com/ambient-egress/ambient-egress-operator/simulator/reach"
)

// At is when the seed's series end: the tests query Prometheus at this
// time, so their answers do not depend on the clock.
var At = time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)

const (
	httpbin = "httpbin.org"
	admin   = "spiffe://cluster.local/ns/default/sa/admin"
)

func seedReport(t *testing.T) *reach.Report {
	t.Helper()
	snap, _, err := simulator.Load("../../config/samples/seed", "testdata/api.yaml")
	if err != nil {
		t.Fatal(err)
	}
	r, _ := reach.Build(reach.Input{Snapshot: snap, ServiceAccounts: reach.ServiceAccountsOf(snap)})
	return r
}

// TestObserveSeed: a real Prometheus over the seed's series; the
// comparison gives the rows and the three findings.
func TestObserveSeed(t *testing.T) {
	prom := observetest.Start(t, observetest.OpenMetrics(observetest.SeedFlows(At, "default")))
	p, err := observe.NewAPI(observe.Endpoint{URL: prom.URL})
	if err != nil {
		t.Fatal(err)
	}
	report := seedReport(t)
	hosts := observe.Hosts(report)
	if strings.Join(hosts, ",") != "api.example.com,httpbin.org" {
		t.Fatalf("hosts %v", hosts)
	}
	traffic, err := observe.Observe(context.Background(), p, hosts, observe.DirectHosts(report), 24*time.Hour, At)
	if err != nil {
		t.Fatal(err)
	}
	if traffic.Dropped != 2 {
		t.Errorf("dropped %d series, want 2 (the malformed principal's requests and last seen)", traffic.Dropped)
	}
	c := observe.Compare(report, traffic, 24*time.Hour)
	var rows []string
	for _, r := range c.Rows {
		rows = append(rows, fmt.Sprintf("%s %s %s requests=%d denied=%d connections=%d last=%s",
			r.Host, r.Group, r.Access, r.Requests, r.Denied, r.Connections, r.LastSeen.Format(time.RFC3339)))
	}
	want := []string{
		// default/default is in no policy: the report's group "others".
		"api.example.com others none requests=15 denied=0 connections=0 last=2026-11-30T07:00:00Z",
		"httpbin.org default/admin all requests=120 denied=0 connections=0 last=2026-11-30T11:30:00Z",
		"httpbin.org others partial requests=340 denied=40 connections=0 last=2026-11-30T11:50:00Z",
	}
	if strings.Join(rows, "\n") != strings.Join(want, "\n") {
		t.Errorf("rows:\n%s\nwant:\n%s", strings.Join(rows, "\n"), strings.Join(want, "\n"))
	}
	codes := map[string][]string{}
	for _, f := range c.Findings {
		codes[f.Code] = append(codes[f.Code], f.Object+": "+f.Message)
	}
	for code, n := range map[string]int{observe.CodeDeniedTraffic: 1, observe.CodeUnexpectedTraffic: 1, observe.CodeUnusedGrant: 1} {
		if len(codes[code]) != n {
			t.Errorf("%s: %d findings, want %d: %q", code, len(codes[code]), n, codes[code])
		}
	}
	t.Logf("findings: %q", codes)
}

// TestDecode: label values are checked before they are kept.
func TestDecode(t *testing.T) {
	sample := func(principal, host string, v float64) *model.Sample {
		return &model.Sample{Metric: model.Metric{"source_principal": model.LabelValue(principal), "destination_service": model.LabelValue(host)}, Value: model.SampleValue(v)}
	}
	for _, tc := range []struct {
		name string
		s    *model.Sample
		keep bool
	}{
		{"istio principal", sample(admin, httpbin, 3), true},
		{"unknown principal", sample("unknown", httpbin, 3), true},
		{"wildcard host", sample(admin, "a.b.wild.example", 3), true},
		{"principal with a path", sample("spiffe://cluster.local/ns/a/sa/b/../c", httpbin, 3), false},
		{"principal with markup", sample("spiffe://cluster.local/ns/a/sa/<b>", httpbin, 3), false},
		{"not spiffe", sample("cluster.local/ns/a/sa/b", httpbin, 3), false},
		{"host not asked", sample(admin, "evil.example", 3), false},
		{"host like a wildcard", sample(admin, "wild.example", 3), false},
		{"wildcard with a newline", sample(admin, "a\nb.wild.example", 3), false},
		{"wildcard with a slash", sample(admin, "a/b.wild.example", 3), false},
		{"negative", sample(admin, httpbin, -1), false},
		{"NaN", sample(admin, httpbin, math.NaN()), false},
		{"infinite", sample(admin, httpbin, math.Inf(1)), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr := observe.Decode(map[string]model.Vector{observe.QueryRequests: {tc.s}}, []string{httpbin, "*.wild.example"}, nil)
			if kept := len(tr.Flows) == 1; kept != tc.keep || (tr.Dropped == 1) == tc.keep {
				t.Errorf("kept %v (dropped %d), want kept %v", kept, tr.Dropped, tc.keep)
			}
		})
	}
}

// TestObserveDirect: connections ztunnel reports (reporter="source") to a
// ServiceEntry bound to no waypoint are direct traffic; where the report
// says the source namespace's NetworkPolicies block it, they are
// UnexpectedTraffic. ztunnel's reports for a host at a waypoint are not
// counted again.
func TestObserveDirect(t *testing.T) {
	src := "spiffe://cluster.local/ns/default/sa/default"
	from := At.Add(-3 * time.Hour)
	prom := observetest.Start(t, observetest.OpenMetrics([]observetest.Flow{
		{Principal: src, Host: "legacy.example.com", Count: 12, From: from, To: At.Add(-time.Hour), Reporter: "source"},
		{Principal: src, Host: httpbin, Count: 30, From: from, To: At.Add(-time.Hour), Reporter: "source"},
	}))
	p, err := observe.NewAPI(observe.Endpoint{URL: prom.URL})
	if err != nil {
		t.Fatal(err)
	}
	snap, _, err := simulator.Load("../../config/samples/seed", "testdata/direct.yaml")
	if err != nil {
		t.Fatal(err)
	}
	report, _ := reach.Build(reach.Input{Snapshot: snap, ServiceAccounts: reach.ServiceAccountsOf(snap)})
	if d := observe.DirectHosts(report); strings.Join(d, ",") != "legacy.example.com" {
		t.Fatalf("direct hosts %v", d)
	}
	traffic, err := observe.Observe(context.Background(), p, observe.Hosts(report), observe.DirectHosts(report), 24*time.Hour, At)
	if err != nil {
		t.Fatal(err)
	}
	c := observe.Compare(report, traffic, 24*time.Hour)
	if len(c.Rows) != 1 || c.Rows[0].Via != observe.ViaDirect || c.Rows[0].Access != reach.AccessNone || c.Rows[0].Connections != 12 || c.Rows[0].Host != "legacy.example.com" {
		t.Fatalf("rows %+v", c.Rows)
	}
	var unexpected []string
	for _, f := range c.Findings {
		if f.Code == observe.CodeUnexpectedTraffic {
			unexpected = append(unexpected, f.Object+": "+f.Message)
		}
	}
	if len(unexpected) != 1 || !strings.Contains(unexpected[0], "ServiceEntry default/legacy.example.com: ") || !strings.Contains(unexpected[0], "past every waypoint") {
		t.Errorf("UnexpectedTraffic %q", unexpected)
	}
}
