package simulator

import (
	"slices"
	"sort"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/ambient-egress/ambient-egress-operator/simulator/lockdown"
)

// annotationFromEgressGateway marks a Gateway the simulator derived from an
// EgressGateway, so findings can say where it came from.
const annotationFromEgressGateway = "simulator.egress.ambient.io/from-egressgateway"

// waypointHBONEPort is the listener port of every waypoint Gateway.
const waypointHBONEPort = 15008

// expandEgressGateways adds what the operator would create for each
// EgressGateway: its waypoint Gateway and its enrollment labels. Labels a
// user already set are kept, since the operator only removes what it added.
// The ServiceEntries and DestinationRules of spec.destinations are already
// in the snapshot (addEgressDestinations); the destinations the operator
// would refuse are reported here.
func (c *compiler) expandEgressGateways() {
	for _, egw := range byAge(c.snap.EgressGateways) {
		c.addEgressWaypoint(egw)
		if problems := egw.Annotations[annotationDestinationProblems]; problems != "" {
			for p := range strings.SplitSeq(problems, "\n") {
				field, msg, _ := strings.Cut(p, ": ")
				c.issues.add(SeverityWarning, egw.Origin, field, "%s (the operator does not create this destination)", msg)
			}
		}
		c.declaredConflicts(egw)
		if egw.EnrollNamespace {
			c.enrollNamespace(egw)
		}
		if egw.ServiceEntrySelector != nil {
			c.enrollServiceEntries(egw)
		}
		if !egw.EnrollNamespace && egw.ServiceEntrySelector == nil {
			c.issues.add(SeverityWarning, egw.Origin, "spec.enrollNamespace",
				"enrollNamespace is false and no serviceEntrySelector is set: nothing is bound to waypoint %s", egw.WaypointName)
		}
	}
}

// declaredConflicts warns about each object spec.destinations asks for
// whose name an object the gateway does not own already takes: the
// operator never overwrites it (DestinationsReady=False/Conflict), so that
// object, not the declared one, is what takes effect.
func (c *compiler) declaredConflicts(egw *EgressGateway) {
	for _, o := range egw.declared {
		labels := c.objectLabels(o)
		if labels == nil || labels[lockdown.LabelGateway] == egw.Name {
			continue
		}
		c.issues.add(SeverityWarning, egw.Origin, "spec.destinations",
			"%s %s/%s exists and is not this EgressGateway's: the operator leaves it and reports DestinationsReady=False/Conflict, so it, not the declared destination, takes effect",
			o.Kind, o.Namespace, o.Name)
	}
}

// objectLabels returns the labels of the ServiceEntry, DestinationRule or
// AuthorizationPolicy o names, or nil when there is none.
func (c *compiler) objectLabels(o Origin) map[string]string {
	switch o.Kind {
	case "ServiceEntry":
		for _, se := range c.snap.ServiceEntries {
			if se.Namespace == o.Namespace && se.Name == o.Name {
				return nonNil(se.Labels)
			}
		}
	case "DestinationRule":
		for _, dr := range c.snap.DestinationRules {
			if dr.Namespace == o.Namespace && dr.Name == o.Name {
				return nonNil(dr.Labels)
			}
		}
	case "AuthorizationPolicy":
		for _, ap := range c.snap.AuthorizationPolicies {
			if ap.Namespace == o.Namespace && ap.Name == o.Name {
				return nonNil(ap.Labels)
			}
		}
	}
	return nil
}

func nonNil(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}

// byAge orders EgressGateways as the operator settles a namespace both
// enroll: the older one first (it keeps the label), names breaking ties, so
// the result never depends on file order. Hand-written manifests have no
// creation time, and then the name decides, as the operator's tie-break.
func byAge(gws []*EgressGateway) []*EgressGateway {
	out := slices.Clone(gws)
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if !a.Created.Equal(b.Created) {
			return a.Created.Before(b.Created)
		}
		return a.Name < b.Name
	})
	return out
}

func (c *compiler) addEgressWaypoint(egw *EgressGateway) {
	origin := Origin{File: egw.File, Kind: "Gateway", Namespace: egw.Namespace, Name: egw.WaypointName}
	gw := &Gateway{
		Meta: Meta{
			Origin:      origin,
			Labels:      map[string]string{labelWaypointFor: egw.TrafficType},
			Annotations: map[string]string{annotationFromEgressGateway: egw.Namespace + "/" + egw.Name},
		},
		ClassName: waypointClassName,
		Listeners: []Listener{{Name: "mesh", Protocol: waypointListenerProtocol, Port: waypointHBONEPort,
			AllowedFrom: egw.AllowedFrom, AllowedSelector: egw.AllowedSelector}},
	}
	for i, existing := range c.gateways {
		if existing.Namespace == gw.Namespace && existing.Name == gw.Name {
			c.issues.add(SeverityInfo, existing.Origin, "",
				"replaced by the waypoint EgressGateway %s/%s creates", egw.Namespace, egw.Name)
			c.gateways[i] = gw
			return
		}
	}
	c.gateways = append(c.gateways, gw)
}

func (c *compiler) enrollNamespace(egw *EgressGateway) {
	l, ok := c.nsLabels[egw.Namespace]
	if !ok {
		l = map[string]string{}
		c.nsLabels[egw.Namespace] = l
	}
	if cur, set := l[labelUseWaypoint]; set && cur != egw.WaypointName {
		c.issues.add(SeverityWarning, egw.Origin, "spec.enrollNamespace",
			"namespace %s already has %s=%s; the operator leaves it, so the namespace is not enrolled to %s",
			egw.Namespace, labelUseWaypoint, cur, egw.WaypointName)
		return
	}
	l[labelUseWaypoint] = egw.WaypointName
}

func (c *compiler) enrollServiceEntries(egw *EgressGateway) {
	sel, err := metav1.LabelSelectorAsSelector(egw.ServiceEntrySelector)
	if err != nil {
		c.issues.add(SeverityError, egw.Origin, "spec.serviceEntrySelector", "invalid label selector: %v", err)
		return
	}
	for _, se := range c.snap.ServiceEntries {
		if se.Namespace != egw.Namespace || !sel.Matches(labels.Set(se.Labels)) {
			continue
		}
		l := c.seLabels[se.Namespace+"/"+se.Name]
		if _, set := l[labelUseWaypoint]; set {
			continue
		}
		l[labelUseWaypoint] = egw.WaypointName
	}
}
