package simulator

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// Labels and names Istio uses to bind traffic to waypoints
// (istio.io/api label package; pilot/pkg/serviceregistry/ambient/waypoints.go).
const (
	labelUseWaypoint          = "istio.io/use-waypoint"
	labelUseWaypointNamespace = "istio.io/use-waypoint-namespace"
	labelWaypointFor          = "istio.io/waypoint-for"
	waypointClassName         = "istio-waypoint"
	waypointListenerProtocol  = "HBONE"
)

// waypoint is a Gateway of class istio-waypoint.
type waypoint struct {
	origin      Origin
	namespace   string
	name        string
	trafficType string
	// allowedFrom and allowedSelector come from the HBONE listener's
	// allowedRoutes and decide which namespaces may use the waypoint.
	allowedFrom     string
	allowedSelector *metav1.LabelSelector
	// egressGateway names the EgressGateway this waypoint stands for.
	egressGateway string
	// id is "namespace/name".
	id string
}

func (w *waypoint) key() string { return w.id }

// newWaypoint reads a Gateway as istiod's gatewayToWaypointTransform does:
// the traffic type comes from the Gateway's istio.io/waypoint-for label, else
// its GatewayClass's, else "service".
func newWaypoint(gw *Gateway, classes map[string]*GatewayClass) *waypoint {
	w := &waypoint{origin: gw.Origin, namespace: gw.Namespace, name: gw.Name, trafficType: TrafficService, allowedFrom: "Same",
		id: gw.Namespace + "/" + gw.Name}
	if gc, ok := classes[gw.ClassName]; ok {
		if tt, ok := gc.Labels[labelWaypointFor]; ok {
			w.trafficType = tt
		}
	}
	if tt, ok := gw.Labels[labelWaypointFor]; ok {
		w.trafficType = tt
	}
	for _, l := range gw.Listeners {
		if l.Protocol == waypointListenerProtocol {
			w.allowedFrom, w.allowedSelector = l.AllowedFrom, l.AllowedSelector
			break
		}
	}
	return w
}

// allowsNamespace applies the listener's allowedRoutes to the namespace of
// the object that wants to use the waypoint (Waypoint.AllowsAttachmentFromNamespace).
func (w *waypoint) allowsNamespace(ns string, nsLabels map[string]string) bool {
	switch w.allowedFrom {
	case "All":
		return true
	case "Selector":
		sel, err := metav1.LabelSelectorAsSelector(w.allowedSelector)
		return err == nil && sel.Matches(labels.Set(nsLabels))
	default:
		return ns == w.namespace
	}
}

// servesServices reports whether the waypoint accepts service traffic,
// the check istiod makes before binding a ServiceEntry or Service.
func (w *waypoint) servesServices() bool {
	return w.trafficType == TrafficService || w.trafficType == TrafficAll
}
