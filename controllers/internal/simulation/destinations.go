package simulation

import (
	"sort"

	istionetworkingv1 "istio.io/client-go/pkg/apis/networking/v1"
	istiosecurityv1 "istio.io/client-go/pkg/apis/security/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	egressv1alpha1 "github.com/ambient-egress/ambient-egress-operator/apis/egress/v1alpha1"
	"github.com/ambient-egress/ambient-egress-operator/simulator/reach"
)

// DestinationsBudget is how many bytes status.destinations may take in
// JSON before istiod's conditions are added; with DefaultBudget and the
// conditions it keeps the whole status under 64 KiB.
const DestinationsBudget = 6 << 10

// WaypointBoundCondition is the condition istiod writes on a ServiceEntry
// when ambient is on, saying whether a waypoint serves it.
const WaypointBoundCondition = "istio.io/WaypointBound"

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
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Host != out[j].Host {
			return out[i].Host < out[j].Host
		}
		return out[i].ServiceEntry < out[j].ServiceEntry
	})
	for i := range out {
		sort.Slice(out[i].Ports, func(a, b int) bool { return out[i].Ports[a].Number < out[i].Ports[b].Number })
	}
	return out
}

// IstioWaypointBound returns istiod's WaypointBound condition of each
// ServiceEntry that has one, by "namespace/name". The message is kept only
// when the status is not True: that is when it says something.
func IstioWaypointBound(ses []*istionetworkingv1.ServiceEntry) map[string]*egressv1alpha1.IstioCondition {
	out := map[string]*egressv1alpha1.IstioCondition{}
	for _, se := range ses {
		for _, c := range se.Status.GetConditions() {
			if c.GetType() != WaypointBoundCondition {
				continue
			}
			ic := &egressv1alpha1.IstioCondition{Status: metav1.ConditionStatus(c.GetStatus()), Reason: c.GetReason()}
			if ic.Status != metav1.ConditionTrue {
				ic.Message = c.GetMessage()
			}
			out[se.Namespace+"/"+se.Name] = ic
		}
	}
	return out
}

// WithIstioConditions returns a copy of ds with istiod's conditions set
// (or cleared) from bound, keyed by ServiceEntry "namespace/name".
func WithIstioConditions(ds []egressv1alpha1.DestinationStatus, bound map[string]*egressv1alpha1.IstioCondition) []egressv1alpha1.DestinationStatus {
	if ds == nil {
		return nil
	}
	out := make([]egressv1alpha1.DestinationStatus, len(ds))
	for i := range ds {
		out[i] = *ds[i].DeepCopy()
		out[i].IstioWaypointBound = bound[ds[i].ServiceEntry]
	}
	return out
}

// WaypointAcceptedCondition is the condition istiod writes on a policy
// with targetRefs, saying whether a waypoint enforces it.
const WaypointAcceptedCondition = "WaypointAccepted"

// IstioPolicyAccepted returns istiod's WaypointAccepted condition of each
// AuthorizationPolicy that has one, by "namespace/name".
func IstioPolicyAccepted(aps []*istiosecurityv1.AuthorizationPolicy) map[string]*egressv1alpha1.IstioCondition {
	out := map[string]*egressv1alpha1.IstioCondition{}
	for _, ap := range aps {
		for _, c := range ap.Status.GetConditions() {
			if c.GetType() == WaypointAcceptedCondition {
				out[ap.Namespace+"/"+ap.Name] = &egressv1alpha1.IstioCondition{
					Status: metav1.ConditionStatus(c.GetStatus()), Reason: c.GetReason(), Message: c.GetMessage(),
				}
			}
		}
	}
	return out
}
