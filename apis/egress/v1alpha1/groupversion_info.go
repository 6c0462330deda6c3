// Package v1alpha1 holds the EgressGateway API: one namespaced resource that
// declares an Istio ambient egress waypoint, what it enrolls, optional
// destinations, and how its reachability report is simulated.
//
// +kubebuilder:object:generate=true
// +groupName=egress.ambient.io
package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

var (
	// GroupVersion is the API group and version of every type in this package.
	GroupVersion = schema.GroupVersion{Group: "egress.ambient.io", Version: "v1alpha1"}

	// SchemeBuilder registers the types of this package with a runtime.Scheme.
	SchemeBuilder = runtime.NewSchemeBuilder(addKnownTypes)

	// AddToScheme adds the types of this package to a runtime.Scheme.
	AddToScheme = SchemeBuilder.AddToScheme
)

// addKnownTypes registers the EgressGateway kinds under GroupVersion. The API
// package depends only on apimachinery, so anything can import it cheaply.
func addKnownTypes(s *runtime.Scheme) error {
	s.AddKnownTypes(GroupVersion, &EgressGateway{}, &EgressGatewayList{})
	metav1.AddToGroupVersion(s, GroupVersion)
	return nil
}
