// Package destinations turns an EgressGateway's spec.destinations into the
// Istio objects the operator owns for them: one ServiceEntry per host, one
// DestinationRule when a port originates TLS, and the ALLOW and DENY
// AuthorizationPolicies of its access and deny rules. The specs and names come
// from the simulator's DeriveDestinations, the one renderer both the
// operator and egressctl use, so the simulator's picture of what the
// operator creates cannot drift from what it applies. This package adds
// the Kubernetes metadata. It is pure: the controller applies what it
// returns.
package destinations

import (
	"encoding/json"

	"google.golang.org/protobuf/proto"
	istionetworkingv1 "istio.io/client-go/pkg/apis/networking/v1"
	istiosecurityv1 "istio.io/client-go/pkg/apis/security/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	egressv1alpha1 "github.com/ambient-egress/ambient-egress-operator/apis/egress/v1alpha1"
	"github.com/ambient-egress/ambient-egress-operator/simulator"
	"github.com/ambient-egress/ambient-egress-operator/simulator/lockdown"
)

// Host is what one spec.destinations entry renders to.
type Host struct {
	// Host is spec.destinations[].host.
	Host string
	// ServiceEntry declares the host; never nil.
	ServiceEntry *istionetworkingv1.ServiceEntry
	// DestinationRule originates TLS; nil when no port asks for it.
	DestinationRule *istionetworkingv1.DestinationRule
	// Policies are the AuthorizationPolicies of access (ALLOW) and deny
	// (DENY), those that are set.
	Policies []*istiosecurityv1.AuthorizationPolicy
}

// Problem is a destination the operator cannot render, and why.
type Problem struct {
	// Host is the destination's host.
	Host string
	// Message says what is wrong and what to change.
	Message string
}

// Rendered is the result of Render.
type Rendered struct {
	// Hosts are the renderable destinations, in spec order.
	Hosts []Host
	// Problems are the destinations left out, in spec order.
	Problems []Problem
}

// ServiceEntryName is the name of the ServiceEntry for host: the host
// itself, with a leading "*." spelled "wildcard.".
func ServiceEntryName(host string) string { return simulator.DestinationObjectName(host, "") }

// DestinationRuleName is the name of the DestinationRule for host:
// "<ServiceEntry name>-tls".
func DestinationRuleName(host string) string { return simulator.DestinationObjectName(host, "-tls") }

// Render returns the objects egw's spec.destinations ask for from the
// istiod istio describes, in egw's namespace and labeled with
// lockdown.LabelGateway. It sets no owner reference. Destinations that
// cannot be rendered are Problems, never errors.
func Render(egw *egressv1alpha1.EgressGateway, istio simulator.Istio) Rendered {
	var out Rendered
	data, err := json.Marshal(egw.Spec.Destinations)
	if err != nil { // the API types always encode; say so rather than panic
		out.Problems = append(out.Problems, Problem{Message: "cannot encode spec.destinations: " + err.Error()})
		return out
	}
	derived, problems, err := simulator.DeriveDestinations(data, istio)
	if err != nil {
		out.Problems = append(out.Problems, Problem{Message: err.Error()})
		return out
	}
	for _, p := range problems {
		out.Problems = append(out.Problems, Problem{Host: p.Host, Message: p.Message})
	}
	for _, d := range derived {
		h := Host{Host: d.Host, ServiceEntry: &istionetworkingv1.ServiceEntry{
			TypeMeta:   metav1.TypeMeta{APIVersion: istionetworkingv1.SchemeGroupVersion.String(), Kind: "ServiceEntry"},
			ObjectMeta: objectMeta(egw, d.ServiceEntryName),
		}}
		proto.Merge(&h.ServiceEntry.Spec, d.ServiceEntry)
		if d.DestinationRule != nil {
			h.DestinationRule = &istionetworkingv1.DestinationRule{
				TypeMeta:   metav1.TypeMeta{APIVersion: istionetworkingv1.SchemeGroupVersion.String(), Kind: "DestinationRule"},
				ObjectMeta: objectMeta(egw, d.DestinationRuleName),
			}
			proto.Merge(&h.DestinationRule.Spec, d.DestinationRule)
		}
		for _, p := range d.Policies() {
			ap := &istiosecurityv1.AuthorizationPolicy{
				TypeMeta:   metav1.TypeMeta{APIVersion: istiosecurityv1.SchemeGroupVersion.String(), Kind: "AuthorizationPolicy"},
				ObjectMeta: objectMeta(egw, p.Name),
			}
			proto.Merge(&ap.Spec, p.Spec)
			h.Policies = append(h.Policies, ap)
		}
		out.Hosts = append(out.Hosts, h)
	}
	return out
}

func objectMeta(egw *egressv1alpha1.EgressGateway, name string) metav1.ObjectMeta {
	return metav1.ObjectMeta{Name: name, Namespace: egw.Namespace, Labels: map[string]string{lockdown.LabelGateway: egw.Name}}
}
