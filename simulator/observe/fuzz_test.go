package observe_test

import (
	"math"
	"strings"
	"testing"

	"github.com/prometheus/common/model"

	"github.com/ambient-egress/ambient-egress-operator/simulator/observe"
)

// FuzzDecode: whatever label values and counts Prometheus answers, Decode
// keeps only SPIFFE principals (or none), hosts asked for, and finite,
// non-negative counts, and never panics.
func FuzzDecode(f *testing.F) {
	f.Add("spiffe://cluster.local/ns/default/sa/admin", "httpbin.org", 3.0)
	f.Add("unknown", "a.wild.example", 1.0)
	f.Add("spiffe://td/ns/a/sa/b/../c", "httpbin.org", 1.0)
	f.Add("spiffe://cluster.local/ns/a/sa/b", "evil.example", math.Inf(1))
	hosts := []string{"httpbin.org", "*.wild.example", "a+b.example"}
	f.Fuzz(func(t *testing.T, principal, host string, v float64) {
		s := &model.Sample{Metric: model.Metric{"source_principal": model.LabelValue(principal), "destination_service": model.LabelValue(host)}, Value: model.SampleValue(v)}
		tr := observe.Decode(map[string]model.Vector{observe.QueryRequests: {s}, observe.QueryDenied: {s}, observe.QueryDirect: {s}}, hosts[:2], hosts[2:])
		for _, fl := range tr.Flows {
			if fl.Requests < 0 || fl.Denied < 0 || fl.Denied > fl.Requests {
				t.Errorf("counts %+v", fl)
			}
			if fl.Source != "" && (!strings.HasPrefix(principal, "spiffe://") || strings.ContainsAny(fl.Source, " <>\"\\") || strings.Contains(fl.Source, "..")) {
				t.Errorf("kept principal %q", principal)
			}
			if fl.Host != "httpbin.org" && fl.Host != "a+b.example" && !strings.HasSuffix(fl.Host, ".wild.example") {
				t.Errorf("kept host %q", fl.Host)
			}
			if strings.ContainsAny(fl.Host, "/\n") {
				t.Errorf("kept host %q", fl.Host)
			}
		}
	})
}
