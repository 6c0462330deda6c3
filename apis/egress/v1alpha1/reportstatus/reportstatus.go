// Package reportstatus converts between the simulator's report
// (reach.Report, what egressctl simulate prints) and the parts of an
// EgressGateway's status that show it (status.simulation and
// status.destinations). The operator writes the status with it and
// egressctl report reads the status back with it, so both directions live
// here, field by field; TestRoundTrip runs every golden report through
// both and names any field that does not come back.
//
// It sits beside the API package rather than in it: the API package is
// imported by everything and imports nothing of ours, while this one needs
// the report's types.
package reportstatus

import (
	"cmp"
	"encoding/json"
	"fmt"
	"slices"

	egressv1alpha1 "github.com/ambient-egress/ambient-egress-operator/apis/egress/v1alpha1"
	"github.com/ambient-egress/ambient-egress-operator/simulator/netpol"
	"github.com/ambient-egress/ambient-egress-operator/simulator/reach"
)

// Entry converts a reachability entry to the status's form. Cubes go
// through their JSON, which is the form reach documents for them and
// egressv1alpha1.Cube spells out.
func Entry(e reach.Entry) (egressv1alpha1.ReachabilityEntry, error) {
	out := egressv1alpha1.ReachabilityEntry{Destination: e.Destination, Sources: e.Sources, OtherSources: e.OtherSources,
		Access: egressv1alpha1.Access(e.Access), Inexact: e.Inexact}
	var err error
	if out.Allowed, err = convertCubes[egressv1alpha1.Cube](e.Allowed); err != nil {
		return out, fmt.Errorf("reachability entry of %s: allowed: %w", e.Destination, err)
	}
	if out.Denied, err = convertCubes[egressv1alpha1.Cube](e.Denied); err != nil {
		return out, fmt.Errorf("reachability entry of %s: denied: %w", e.Destination, err)
	}
	for _, d := range e.DecidedBy {
		out.DecidedBy = append(out.DecidedBy, egressv1alpha1.Decider{Effect: d.Effect, Policy: d.Policy, Rule: int32(d.Rule), Reason: d.Reason})
	}
	return out, nil
}

// ReportEntry converts a status reachability entry back to the report's.
func ReportEntry(e egressv1alpha1.ReachabilityEntry) (reach.Entry, error) {
	out := reach.Entry{Destination: e.Destination, Sources: e.Sources, OtherSources: e.OtherSources,
		Access: reach.Access(e.Access), Inexact: e.Inexact, DecidedBy: []reach.Decider{}}
	var err error
	if out.Allowed, err = convertCubes[reach.Cube](e.Allowed); err != nil {
		return out, fmt.Errorf("reachability entry of %s: allowed: %w", e.Destination, err)
	}
	if out.Allowed == nil {
		out.Allowed = []reach.Cube{}
	}
	if out.Denied, err = convertCubes[reach.Cube](e.Denied); err != nil {
		return out, fmt.Errorf("reachability entry of %s: denied: %w", e.Destination, err)
	}
	for _, d := range e.DecidedBy {
		out.DecidedBy = append(out.DecidedBy, reach.Decider{Effect: d.Effect, Policy: d.Policy, Rule: int(d.Rule), Reason: d.Reason})
	}
	return out, nil
}

// convertCubes converts cubes through their JSON; none stays nil.
func convertCubes[To, From any](cubes []From) ([]To, error) {
	if len(cubes) == 0 {
		return nil, nil
	}
	out := make([]To, len(cubes))
	for i := range cubes {
		data, err := json.Marshal(cubes[i])
		if err != nil {
			return nil, fmt.Errorf("cube %d: %w", i, err)
		}
		if err := json.Unmarshal(data, &out[i]); err != nil {
			return nil, fmt.Errorf("cube %d: %w", i, err)
		}
	}
	return out, nil
}

// Group converts a source group.
func Group(g reach.Group) egressv1alpha1.SourceGroup {
	return egressv1alpha1.SourceGroup{Name: g.Name, Principals: g.Principals, Count: int32(g.Count)}
}

// ReportGroup converts a status source group back.
func ReportGroup(g egressv1alpha1.SourceGroup) reach.Group {
	return reach.Group{Name: g.Name, Principals: nonNil(g.Principals), Count: int(g.Count)}
}

// Finding converts a finding.
func Finding(f reach.Finding) egressv1alpha1.Finding {
	return egressv1alpha1.Finding{Severity: egressv1alpha1.Severity(f.Severity), Code: f.Code, Object: f.Object,
		Field: f.Field, Message: f.Message, Fix: f.Fix}
}

// ReportFinding converts a status finding back.
func ReportFinding(f egressv1alpha1.Finding) reach.Finding {
	return reach.Finding{Severity: reach.Severity(f.Severity), Code: f.Code, Object: f.Object,
		Field: f.Field, Message: f.Message, Fix: f.Fix}
}

// Direct converts a direct egress row.
func Direct(d reach.DirectEntry) egressv1alpha1.DirectEgressEntry {
	return egressv1alpha1.DirectEgressEntry{Destination: d.Destination, Sources: d.Sources, Access: string(d.Access),
		Allowed: d.Allowed, BlockedBy: d.BlockedBy, Reason: d.Reason}
}

// ReportDirect converts a status direct egress row back.
func ReportDirect(d egressv1alpha1.DirectEgressEntry) reach.DirectEntry {
	return reach.DirectEntry{Destination: d.Destination, Sources: d.Sources, Access: netpol.Reach(d.Access),
		Allowed: d.Allowed, BlockedBy: d.BlockedBy, Reason: d.Reason}
}

// Probe converts a probe answer. The status has no expectation: probes of
// spec.simulation.probes are questions, not assertions.
func Probe(p reach.ProbeResult) egressv1alpha1.ProbeResult {
	return egressv1alpha1.ProbeResult{Name: p.Name, Verdict: p.Verdict, Policy: p.Policy, Rule: int32(p.Rule),
		Reason: p.Reason, Error: p.Error}
}

// ReportProbe converts a status probe answer back: without an expectation
// it matches unless it could not be asked.
func ReportProbe(p egressv1alpha1.ProbeResult) reach.ProbeResult {
	return reach.ProbeResult{Name: p.Name, Verdict: p.Verdict, Policy: p.Policy, Rule: int(p.Rule),
		Reason: p.Reason, Error: p.Error, Match: p.Error == ""}
}

// Destinations folds the report's host:port destinations into one status
// entry per ServiceEntry host, sorted by host then ServiceEntry. waypoint is
// "namespace/name" of this gateway's waypoint, which BoundToThisGateway
// compares with.
func Destinations(r *reach.Report, waypoint string) []egressv1alpha1.DestinationStatus {
	type key struct{ host, se string }
	index := map[key]int{}
	var out []egressv1alpha1.DestinationStatus
	for _, d := range r.Destinations {
		k := key{d.Host, d.ServiceEntry}
		i, ok := index[k]
		if !ok {
			ds := egressv1alpha1.DestinationStatus{Host: d.Host, ServiceEntry: d.ServiceEntry, Policies: d.Policies}
			if d.Waypoint != nil {
				ds.Waypoint = *d.Waypoint
				ds.BoundToThisGateway = *d.Waypoint == waypoint
			}
			i = len(out)
			index[k] = i
			out = append(out, ds)
		}
		p := egressv1alpha1.DestinationPortStatus{Number: int32(d.Port), Protocol: d.Protocol}
		if d.TargetPort != 0 && d.TargetPort != d.Port {
			p.TargetPort = int32(d.TargetPort)
		}
		if d.TLSOrigination != nil {
			p.TLSOrigination = d.TLSOrigination.Mode
			if p.TargetPort == 0 && d.TLSOrigination.Port != d.Port {
				p.TargetPort = int32(d.TLSOrigination.Port)
			}
		}
		out[i].Ports = append(out[i].Ports, p)
	}
	slices.SortStableFunc(out, func(a, b egressv1alpha1.DestinationStatus) int {
		return cmp.Or(cmp.Compare(a.Host, b.Host), cmp.Compare(a.ServiceEntry, b.ServiceEntry))
	})
	for i := range out {
		slices.SortStableFunc(out[i].Ports, func(a, b egressv1alpha1.DestinationPortStatus) int { return cmp.Compare(a.Number, b.Number) })
	}
	return out
}

// ReportDestinations unfolds status.destinations into one destination per
// host and port, as the report lists them.
func ReportDestinations(dests []egressv1alpha1.DestinationStatus) []reach.Destination {
	out := []reach.Destination{}
	for _, ds := range dests {
		var wp *string
		if ds.Waypoint != "" {
			wp = new(ds.Waypoint)
		}
		for _, p := range ds.Ports {
			d := reach.Destination{Host: ds.Host, Port: int(p.Number), Protocol: p.Protocol, TargetPort: int(p.TargetPort),
				ServiceEntry: ds.ServiceEntry, Waypoint: wp, Policies: nonNil(ds.Policies)}
			if p.TLSOrigination != "" {
				d.TLSOrigination = &reach.TLSOrigination{Mode: p.TLSOrigination, Port: cmp.Or(int(p.TargetPort), d.Port)}
			}
			out = append(out, d)
		}
	}
	return out
}

// Simulation converts every list of the report to status.simulation's,
// whole: the operator converts list by list and cuts them to its status
// budget; this is the form of a report that fits.
func Simulation(r *reach.Report) (*egressv1alpha1.SimulationStatus, error) {
	sim := &egressv1alpha1.SimulationStatus{}
	for _, e := range r.Reachability {
		se, err := Entry(e)
		if err != nil {
			return nil, err
		}
		sim.Reachability = append(sim.Reachability, se)
	}
	for _, g := range r.Groups {
		sim.Groups = append(sim.Groups, Group(g))
	}
	for _, f := range r.Findings {
		sim.Findings = append(sim.Findings, Finding(f))
	}
	for _, d := range r.Direct {
		sim.Direct = append(sim.Direct, Direct(d))
	}
	for _, p := range r.Probes {
		sim.Probes = append(sim.Probes, Probe(p))
	}
	return sim, nil
}

// Report rebuilds the report from the status: status.destinations and
// status.simulation, as egressctl report shows them.
func Report(dests []egressv1alpha1.DestinationStatus, sim *egressv1alpha1.SimulationStatus) (*reach.Report, error) {
	r := &reach.Report{Destinations: ReportDestinations(dests), Reachability: []reach.Entry{}, Direct: []reach.DirectEntry{},
		Groups: []reach.Group{}, Findings: []reach.Finding{}}
	for _, e := range sim.Reachability {
		re, err := ReportEntry(e)
		if err != nil {
			return nil, fmt.Errorf("status.simulation.reachability: %w", err)
		}
		r.Reachability = append(r.Reachability, re)
	}
	for _, d := range sim.Direct {
		r.Direct = append(r.Direct, ReportDirect(d))
	}
	for _, g := range sim.Groups {
		r.Groups = append(r.Groups, ReportGroup(g))
	}
	for _, f := range sim.Findings {
		r.Findings = append(r.Findings, ReportFinding(f))
	}
	for _, p := range sim.Probes {
		r.Probes = append(r.Probes, ReportProbe(p))
	}
	return r, nil
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
