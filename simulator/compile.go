package simulator

import (
	"maps"
	"sort"
	"strings"
)

// Program is a compiled snapshot, ready to evaluate requests. It is
// immutable and safe for concurrent use.
type Program struct {
	opts Options
	// istio is the istiod the snapshot was loaded for.
	istio Istio
	// hosts maps a lower-case exact host to its destination; wildcard
	// hosts ("*.example.com") are kept in wildcards.
	hosts     map[string]*destination
	wildcards []*destination
	// destinations are all ServiceEntries and Services, sorted.
	destinations []*destination
	waypoints    map[string]*waypoint
	index        attachIndex
	// jwt files the RequestAuthentications waypoints apply.
	jwt targetIndex[*jwtPolicy]
}

// attachIndex files each policy under what it attaches to, so evaluating a
// request only looks at the policies that can apply to it.
type attachIndex struct {
	// The waypoint policies, by target.
	targetIndex[*compiledPolicy]
	// ztGlobal holds root-namespace policies without selector; ztNamespace
	// namespace-wide ones; ztSelector selector ones by policy namespace.
	ztGlobal    []*compiledPolicy
	ztNamespace map[string][]*compiledPolicy
	ztSelector  map[string][]*compiledPolicy
}

// Compile builds a Program from a snapshot. Findings about the inputs
// (rejected policies, policies that target nothing, ServiceEntries bypassing
// every waypoint, HTTP rules where only L4 is seen) come back as Issues; a
// policy Istio would reject at admission is left out of the Program.
func Compile(s *Snapshot, opts Options) (*Program, Issues) {
	c := newCompiler(s, opts.withDefaults())
	c.expandEgressGateways()
	c.collectWaypoints()
	c.collectDestinations()
	c.compilePolicies()
	c.compileRequestAuthentications()
	c.reportFindings()
	return c.prog, c.issues
}

// compiler holds the state of one Compile call.
type compiler struct {
	snap     *Snapshot
	prog     *Program
	issues   Issues
	nsLabels map[string]map[string]string
	// seLabels are ServiceEntry labels after EgressGateway enrollment.
	seLabels map[string]map[string]string
	gateways []*Gateway
	classes  map[string]*GatewayClass
	// policies are the accepted policies with their compiled forms.
	policies []*acceptedPolicy
}

type acceptedPolicy struct {
	src      *AuthorizationPolicy
	compiled *compiledPolicy
	waypoint bool
}

func newCompiler(s *Snapshot, opts Options) *compiler {
	c := &compiler{
		snap:     s,
		nsLabels: map[string]map[string]string{},
		seLabels: map[string]map[string]string{},
		classes:  map[string]*GatewayClass{},
		prog: &Program{
			opts:      opts,
			istio:     s.opts.Istio,
			hosts:     map[string]*destination{},
			waypoints: map[string]*waypoint{},
			index: attachIndex{
				targetIndex: newTargetIndex[*compiledPolicy](),
				ztNamespace: map[string][]*compiledPolicy{},
				ztSelector:  map[string][]*compiledPolicy{},
			},
		},
	}
	for _, ns := range s.Namespaces {
		c.nsLabels[ns.Name] = copyLabels(ns.Labels)
	}
	for _, se := range s.ServiceEntries {
		c.seLabels[se.Namespace+"/"+se.Name] = copyLabels(se.Labels)
	}
	for _, gc := range s.GatewayClasses {
		c.classes[gc.Name] = gc
	}
	c.gateways = append(c.gateways, s.Gateways...)
	return c
}

func copyLabels(l map[string]string) map[string]string {
	out := make(map[string]string, len(l))
	maps.Copy(out, l)
	return out
}

func (c *compiler) collectWaypoints() {
	for _, gw := range c.gateways {
		if gw.ClassName != waypointClassName {
			continue
		}
		w := newWaypoint(gw, c.classes)
		if egw, ok := gw.Annotations[annotationFromEgressGateway]; ok {
			w.egressGateway = egw
		}
		c.prog.waypoints[w.key()] = w
	}
}

func (c *compiler) collectDestinations() {
	var dests []*destination
	for _, se := range c.snap.ServiceEntries {
		dests = append(dests, newServiceEntryDestination(se, c.seLabels[se.Namespace+"/"+se.Name]))
	}
	for _, svc := range c.snap.Services {
		dests = append(dests, newServiceDestination(svc, "cluster.local"))
	}
	for _, d := range dests {
		d.key()
	}
	sort.SliceStable(dests, func(i, j int) bool { return dests[i].key() < dests[j].key() })
	for _, d := range dests {
		bindDestination(d, c.nsLabels, c.prog.waypoints)
		c.indexHosts(d)
	}
	c.prog.destinations = dests
}

func (c *compiler) indexHosts(d *destination) {
	for _, h := range d.hosts {
		if strings.HasPrefix(h, "*") {
			c.prog.wildcards = append(c.prog.wildcards, d)
			continue
		}
		if prev, ok := c.prog.hosts[h]; ok {
			c.issues.add(SeverityWarning, d.origin, "spec.hosts",
				"host %s is also declared by %s; the simulator resolves it to %s", h, prev.display(), prev.display())
			continue
		}
		c.prog.hosts[h] = d
	}
}
