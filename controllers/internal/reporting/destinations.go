package reporting

import (
	istionetworkingv1 "istio.io/client-go/pkg/apis/networking/v1"
	istiosecurityv1 "istio.io/client-go/pkg/apis/security/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	egressv1alpha1 "github.com/ambient-egress/ambient-egress-operator/apis/egress/v1alpha1"
)

// DestinationsBudget is how many bytes status.destinations may take in
// JSON before istiod's conditions are added; with DefaultBudget and the
// conditions it keeps the whole status under 64 KiB.
const DestinationsBudget = 6 << 10

// WaypointBoundCondition is the condition istiod writes on a ServiceEntry
// when ambient is on, saying whether a waypoint serves it.
const WaypointBoundCondition = "istio.io/WaypointBound"

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
