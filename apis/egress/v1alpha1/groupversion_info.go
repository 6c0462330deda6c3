// Package v1alpha1 holds the EgressGateway API: one namespaced resource that
// declares an Istio ambient egress waypoint, what it enrolls, optional
// destinations, and how its reachability report is simulated.
//
// +kubebuilder:object:generate=true
// +groupName=egress.ambient.io
package v1alpha1

import (
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/scheme"
)

var (
	// GroupVersion is the API group and version of every type in this package.
	GroupVersion = schema.GroupVersion{Group: "egress.ambient.io", Version: "v1alpha1"}

	// SchemeBuilder registers the types of this package with a runtime.Scheme.
	SchemeBuilder = &scheme.Builder{GroupVersion: GroupVersion}

	// AddToScheme adds the types of this package to a runtime.Scheme.
	AddToScheme = SchemeBuilder.AddToScheme
)
