// Package observe compares the traffic a waypoint actually handled, as
// Istio's standard metrics in Prometheus count it, with the reachability
// report: per source group and destination host, what the report allows,
// what was sent, what the waypoint denied and when it was last seen; and
// the findings DeniedTraffic, UnusedGrant and UnexpectedTraffic. It builds
// the PromQL queries and reads their results, but never runs them: the
// operator and egressctl observe each query Prometheus and hand the
// results here, so the same series give the same table.
package observe

import (
	"cmp"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/common/model"
)

// Finding codes.
const (
	CodeDeniedTraffic     = "DeniedTraffic"
	CodeUnusedGrant       = "UnusedGrant"
	CodeUnexpectedTraffic = "UnexpectedTraffic"
)

// Codes are the finding codes Compare produces.
var Codes = []string{CodeDeniedTraffic, CodeUnusedGrant, CodeUnexpectedTraffic}

// MaxSeries bounds each query's answer (topk on the server); past it the
// busiest series are kept and the result says so.
const MaxSeries = 2000

// step is the resolution of the last-seen subquery: a flow is seen in a
// step when its counters grew in the step's range.
const step = 5 * time.Minute

// Query names, the keys of the results Decode takes.
const (
	QueryRequests    = "requests"
	QueryDenied      = "denied"
	QueryConnections = "connections"
	QueryDirect      = "direct"
	QueryLastSeen    = "lastSeen"
)

// Query is one PromQL instant query.
type Query struct {
	Name, PromQL string
}

// Queries are the instant queries for the traffic of hosts (the report's
// destination hosts bound to a waypoint; "*.example.com" wildcards match
// any name under them) over window: Istio's istio_requests_total and
// istio_tcp_connections_opened_total as waypoints report them
// (reporter="waypoint"), summed per source principal and destination
// service, the HTTP 403 answers among them, and when each flow last grew.
// For direct (the hosts of ServiceEntries bound to no waypoint) it asks
// for the connections ztunnel reports on the source's side
// (reporter="source"): traffic that leaves without passing any waypoint.
// Nil when both are empty.
func Queries(hosts, direct []string, window time.Duration) []Query {
	if len(hosts)+len(direct) == 0 {
		return nil
	}
	by := "sum by (source_principal, destination_service) "
	w := model.Duration(window).String()
	s := model.Duration(step).String()
	top := func(q string) string { return fmt.Sprintf("topk(%d, %s)", MaxSeries, q) }
	var out []Query
	var grew []string
	if len(hosts) > 0 {
		sel := fmt.Sprintf(`reporter="waypoint",destination_service=~%s`, strconv.Quote(hostsRegex(hosts)))
		out = append(out,
			Query{QueryRequests, top(by + fmt.Sprintf("(increase(istio_requests_total{%s}[%s]))", sel, w))},
			Query{QueryDenied, top(by + fmt.Sprintf(`(increase(istio_requests_total{%s,response_code="403"}[%s]))`, sel, w))},
			Query{QueryConnections, top(by + fmt.Sprintf("(increase(istio_tcp_connections_opened_total{%s}[%s]))", sel, w))})
		grew = append(grew,
			fmt.Sprintf("(%s(increase(istio_requests_total{%s}[%s])) > 0)", by, sel, s),
			fmt.Sprintf("(%s(increase(istio_tcp_connections_opened_total{%s}[%s])) > 0)", by, sel, s))
	}
	if len(direct) > 0 {
		sel := fmt.Sprintf(`reporter="source",destination_service=~%s`, strconv.Quote(hostsRegex(direct)))
		out = append(out, Query{QueryDirect, top(by + fmt.Sprintf("(increase(istio_tcp_connections_opened_total{%s}[%s]))", sel, w))})
		grew = append(grew, fmt.Sprintf("(%s(increase(istio_tcp_connections_opened_total{%s}[%s])) > 0)", by, sel, s))
	}
	return append(out, Query{QueryLastSeen, top(fmt.Sprintf("max by (source_principal, destination_service) (max_over_time(timestamp(%s)[%s:%s]))",
		strings.Join(grew, " or "), w, s))})
}

// hostsRegex matches the hosts, a wildcard "*.x" any name ending in ".x".
func hostsRegex(hosts []string) string {
	parts := make([]string, 0, len(hosts))
	for _, h := range hosts {
		if rest, ok := strings.CutPrefix(h, "*."); ok {
			parts = append(parts, `[a-zA-Z0-9_-][a-zA-Z0-9._-]*\.`+regexp.QuoteMeta(rest))
			continue
		}
		parts = append(parts, regexp.QuoteMeta(h))
	}
	slices.Sort(parts)
	return strings.Join(slices.Compact(parts), "|")
}

// Flow is the traffic of one source principal to one destination host.
type Flow struct {
	// Source is the caller's principal ("td/ns/NS/sa/SA"), "" when the
	// metrics name none (source_principal="unknown").
	Source string
	// Host is the destination host (destination_service).
	Host string
	// Requests counts HTTP requests, Denied those answered 403,
	// Connections TCP connections (TLS and TCP ports), all at a
	// waypoint; Direct the connections ztunnel sent past every waypoint.
	Requests, Denied, Connections, Direct int64
	// LastSeen is the end of the last step its counters grew in.
	LastSeen time.Time
}

// Traffic is what the queries found.
type Traffic struct {
	// Flows by source and host, sorted.
	Flows []Flow
	// Dropped counts series whose labels are not shaped as Istio writes
	// them, or name a host not asked for: left out, never shown.
	Dropped int
	// Truncated is set when a query answered MaxSeries series, so more
	// may exist.
	Truncated bool
}

// principalPattern is a SPIFFE identity as Istio writes source_principal.
var principalPattern = regexp.MustCompile(`^spiffe://([a-zA-Z0-9._-]{1,253})/ns/([a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?)/sa/([a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?)$`)

// Decode reads the results of Queries, by query name, into flows. Label
// values are checked before anything of them is kept: a principal must be
// a SPIFFE identity (or "unknown"), a host one of those asked for; a count
// must be finite and not negative.
func Decode(results map[string]model.Vector, hosts, direct []string) Traffic {
	re := regexp.MustCompile("^(?:" + hostsRegex(slices.Concat(hosts, direct)) + ")$")
	flows := map[[2]string]*Flow{}
	var t Traffic
	for _, q := range []string{QueryRequests, QueryDenied, QueryConnections, QueryDirect, QueryLastSeen} {
		vec := results[q]
		if len(vec) >= MaxSeries {
			t.Truncated = true
		}
		for _, s := range vec {
			src, ok := principal(string(s.Metric["source_principal"]))
			host := string(s.Metric["destination_service"])
			v := float64(s.Value)
			if !ok || len(host) > 253 || !re.MatchString(host) || math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
				t.Dropped++
				continue
			}
			f := flows[[2]string{src, host}]
			if f == nil {
				f = &Flow{Source: src, Host: host}
				flows[[2]string{src, host}] = f
			}
			n := int64(math.Round(v))
			switch q {
			case QueryRequests:
				f.Requests = n
			case QueryDenied:
				f.Denied = n
			case QueryConnections:
				f.Connections = n
			case QueryDirect:
				f.Direct = n
			case QueryLastSeen:
				f.LastSeen = time.Unix(int64(v), 0).UTC()
			}
		}
	}
	for _, f := range flows {
		if f.Requests+f.Denied+f.Connections+f.Direct > 0 {
			f.Denied = min(f.Denied, f.Requests)
			t.Flows = append(t.Flows, *f)
		}
	}
	slices.SortFunc(t.Flows, func(a, b Flow) int {
		return cmp.Or(strings.Compare(a.Host, b.Host), strings.Compare(a.Source, b.Source))
	})
	return t
}

// principal turns a source_principal label into a report principal.
func principal(label string) (string, bool) {
	if label == "unknown" || label == "" {
		return "", true
	}
	if !principalPattern.MatchString(label) {
		return "", false
	}
	return strings.TrimPrefix(label, "spiffe://"), true
}
