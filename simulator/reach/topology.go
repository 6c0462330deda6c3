package reach

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"

	networkingv1alpha3 "istio.io/api/networking/v1alpha3"

	"github.com/ambient-egress/ambient-egress-operator/simulator"
)

// destSpec is one destination with what computing its entries needs.
type destSpec struct {
	Destination
	// view is the compiled ServiceEntry it comes from.
	view simulator.DestinationView
	// http says the waypoint evaluates the port with HTTP rules.
	http bool
	// noJWT says no RequestAuthentication applies at the destination.
	noJWT bool
	// notRedirected says the destination is bound to a waypoint but ztunnel
	// does not redirect traffic to its host (it has no address).
	notRedirected bool
	// unserved says why the waypoint carries no connection to the port
	// (a DYNAMIC_DNS ServiceEntry's port istiod builds no cluster for),
	// or is empty.
	unserved string
	// forms are the policies its waypoint enforces, in evaluation order;
	// converted on first use (formsOf), since a re-simulation only needs
	// them for the destinations that changed.
	forms  []simulator.PolicyForm
	loaded bool
}

// formsOf returns the destination's policy forms, converting them once.
func formsOf(prog *simulator.Program, d *destSpec) []simulator.PolicyForm {
	if !d.loaded {
		d.forms, _ = prog.WaypointPolicies(d.view.Kind, d.view.Origin.Namespace, d.view.Origin.Name, d.http)
		d.loaded = true
	}
	return d.forms
}

// topology lists the ServiceEntry host and port pairs, sorted by host and
// port, with binding, TLS origination and policies.
func topology(prog *simulator.Program, snap *simulator.Snapshot) []*destSpec {
	entries := map[string]*simulator.ServiceEntry{}
	for _, se := range snap.ServiceEntries {
		entries[se.Namespace+"/"+se.Name] = se
	}
	var out []*destSpec
	// A host declared twice resolves to the first destination declaring it,
	// as Program.Eval resolves it; the later one is unreachable by that host
	// (the simulator warns about it).
	seen := map[string]bool{}
	for _, v := range prog.Destinations() {
		if v.Kind != "ServiceEntry" {
			continue
		}
		se := entries[v.Origin.Namespace+"/"+v.Origin.Name]
		for _, port := range v.Ports {
			proto := v.Protocols[port]
			http := simulator.ChainIsHTTP(proto, true)
			keys, _ := prog.WaypointPolicyKeys(v.Kind, v.Origin.Namespace, v.Origin.Name)
			if keys == nil {
				keys = []string{}
			}
			for _, host := range v.Hosts {
				if seen[host] {
					continue
				}
				d := &destSpec{view: v, http: http, noJWT: !v.ValidatesJWT}
				d.Destination = Destination{Host: host, Port: port, Protocol: proto, TargetPort: targetPort(se, port),
					ServiceEntry: v.Origin.Namespace + "/" + v.Origin.Name,
					Binding:      v.Binding, Policies: keys}
				why, notRedirected := v.NotRedirected[host]
				switch {
				case v.Waypoint != "" && notRedirected:
					// Bound, but ztunnel never sends the traffic there.
					d.Binding = fmt.Sprintf("bound to waypoint %s, but ztunnel does not redirect traffic to %s: %s", v.Waypoint, host, why)
					d.notRedirected = true
				case v.Waypoint != "":
					w := v.Waypoint
					d.Waypoint = &w
				}
				d.unserved = v.Unserved[port]
				d.TLSOrigination = tlsOrigination(snap.DestinationRules, d.Destination)
				out = append(out, d)
			}
		}
		for _, host := range v.Hosts {
			seen[host] = true
		}
	}
	sortDestinations(out)
	return out
}

// sortDestinations sorts stably, so equal destinations keep the order of
// the inputs and the report stays byte-for-byte stable.
func sortDestinations(ds []*destSpec) {
	slices.SortStableFunc(ds, func(a, b *destSpec) int {
		return cmp.Or(cmp.Compare(a.Host, b.Host), cmp.Compare(a.Port, b.Port), cmp.Compare(a.ServiceEntry, b.ServiceEntry))
	})
}

func targetPort(se *simulator.ServiceEntry, port int) int {
	if se == nil {
		return 0
	}
	for _, p := range se.Spec.GetPorts() {
		if int(p.GetNumber()) == port {
			return int(p.GetTargetPort())
		}
	}
	return 0
}

// tlsOrigination finds the DestinationRule for the host whose TLS mode
// (port-level first) is SIMPLE or MUTUAL: the waypoint then originates TLS
// to the port's targetPort, else its number.
func tlsOrigination(rules []*simulator.DestinationRule, d Destination) *TLSOrigination {
	var best *simulator.DestinationRule
	for _, dr := range rules {
		if !drHostMatches(dr.Spec.GetHost(), d.Host) {
			continue
		}
		seNS, _, _ := strings.Cut(d.ServiceEntry, "/")
		if best == nil || (dr.Namespace == seNS && best.Namespace != seNS) {
			best = dr
		}
	}
	if best == nil {
		return nil
	}
	mode := drTLSMode(best.Spec, d.Port)
	if mode != networkingv1alpha3.ClientTLSSettings_SIMPLE && mode != networkingv1alpha3.ClientTLSSettings_MUTUAL {
		return nil
	}
	upstream := d.Port
	if d.TargetPort != 0 {
		upstream = d.TargetPort
	}
	return &TLSOrigination{Mode: mode.String(), Port: upstream, DestinationRule: best.Namespace + "/" + best.Name}
}

func drHostMatches(drHost, host string) bool {
	drHost = strings.ToLower(drHost)
	if strings.HasPrefix(drHost, "*") {
		return strings.HasSuffix(host, drHost[1:])
	}
	return drHost == host
}

func drTLSMode(dr *networkingv1alpha3.DestinationRule, port int) networkingv1alpha3.ClientTLSSettings_TLSmode {
	tp := dr.GetTrafficPolicy()
	for _, pl := range tp.GetPortLevelSettings() {
		if int(pl.GetPort().GetNumber()) == port && pl.GetTls() != nil {
			return pl.GetTls().GetMode()
		}
	}
	return tp.GetTls().GetMode()
}

func hostPort(host string, port int) string {
	return host + ":" + strconv.Itoa(port)
}
