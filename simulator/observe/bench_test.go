package observe_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/ambient-egress/ambient-egress-operator/simulator/observe"
	"github.com/ambient-egress/ambient-egress-operator/simulator/reach"
)

// BenchmarkCompareWide is Compare at its bounds' adversarial shape: every
// query at MaxSeries (2,000 flows to waypoint hosts, 2,000 direct),
// a report of 300 destinations and 5,000 sources in ten groups, each group
// with its own entry on every destination.
func BenchmarkCompareWide(b *testing.B) {
	r := &reach.Report{}
	var principals []string
	for g := range 10 {
		grp := reach.Group{Name: fmt.Sprintf("ns%d/sa0 +499", g)}
		for i := range 500 {
			p := fmt.Sprintf("cluster.local/ns/ns%d/sa/sa%d", g, i)
			grp.Principals = append(grp.Principals, p)
			principals = append(principals, p)
		}
		slices.Sort(grp.Principals) // as the report sorts every list
		grp.Count = len(grp.Principals)
		r.Groups = append(r.Groups, grp)
	}
	wp := "istio-egress/waypoint"
	for d := range 300 {
		dest := reach.Destination{Host: fmt.Sprintf("h%d.example", d), Port: 80, ServiceEntry: fmt.Sprintf("istio-egress/h%d", d), Waypoint: &wp}
		r.Destinations = append(r.Destinations, dest)
		for _, g := range r.Groups {
			r.Reachability = append(r.Reachability, reach.Entry{Destination: dest.Key(), Sources: g.Principals, Access: reach.AccessAll,
				DecidedBy: []reach.Decider{{Effect: "allow", Policy: "istio-egress/p", Rule: 0}}})
		}
		r.Reachability = append(r.Reachability, reach.Entry{Destination: dest.Key(), OtherSources: true, Access: reach.AccessNone})
	}
	var t observe.Traffic
	for i := range observe.MaxSeries {
		t.Flows = append(t.Flows, observe.Flow{Source: principals[(i*7919)%len(principals)], Host: fmt.Sprintf("h%d.example", i%300),
			Requests: 10, Denied: int64(i % 3), Direct: 1, LastSeen: time.Unix(int64(i), 0)})
	}
	b.ReportAllocs()
	for b.Loop() {
		c := observe.Compare(r, t, 24*time.Hour)
		if len(c.Rows) == 0 {
			b.Fatal("no rows")
		}
	}
}
