package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// LabelSelector selects objects by their labels. It is written exactly as
// metav1.LabelSelector (matchLabels, matchExpressions), with bounds and
// rules that let the API server refuse every selector the operator could
// not parse: label keys and values are checked as
// k8s.io/apimachinery/pkg/util/validation's IsQualifiedName and
// IsValidLabelValue check them, operators and values as
// metav1.LabelSelectorAsSelector does. metav1.LabelSelector's own schema
// has no bounds, so CEL's cost budget would refuse any rule over its
// strings.
type LabelSelector struct {
	// MatchLabels are label key: value pairs an object must all carry.
	// +kubebuilder:validation:MaxProperties=64
	// +kubebuilder:validation:XValidation:rule="self.all(k, size(k) <= 317 && k.matches('^([a-z0-9]([-a-z0-9]*[a-z0-9])?([.][a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?([A-Za-z0-9][-A-Za-z0-9_.]{0,61})?[A-Za-z0-9]$') && (!k.contains('/') || k.matches('^[^/]{1,253}/')))",message="every key must be a label key: an optional DNS subdomain prefix of up to 253 characters and a '/', then a name of 1 to 63 alphanumerics, '-', '_' or '.' that starts and ends with an alphanumeric"
	// +optional
	MatchLabels map[string]LabelValue `json:"matchLabels,omitempty"`

	// MatchExpressions are requirements an object's labels must all meet.
	// +kubebuilder:validation:MaxItems=32
	// +listType=atomic
	// +optional
	MatchExpressions []LabelSelectorRequirement `json:"matchExpressions,omitempty"`
}

// LabelSelectorRequirement is one requirement of a LabelSelector, as
// metav1.LabelSelectorRequirement.
// +kubebuilder:validation:XValidation:rule="!(self.operator in ['In', 'NotIn', 'Exists', 'DoesNotExist']) || (self.operator in ['In', 'NotIn']) == (has(self.values) && size(self.values) > 0)",message="In and NotIn need values, Exists and DoesNotExist take none"
type LabelSelectorRequirement struct {
	// Key is the label key the requirement applies to.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=317
	// +kubebuilder:validation:XValidation:rule="self.matches('^([a-z0-9]([-a-z0-9]*[a-z0-9])?([.][a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?([A-Za-z0-9][-A-Za-z0-9_.]{0,61})?[A-Za-z0-9]$') && (!self.contains('/') || self.matches('^[^/]{1,253}/'))",message="must be a label key: an optional DNS subdomain prefix of up to 253 characters and a '/', then a name of 1 to 63 alphanumerics, '-', '_' or '.' that starts and ends with an alphanumeric"
	Key string `json:"key"`

	// Operator is In, NotIn, Exists or DoesNotExist.
	// +kubebuilder:validation:Enum=In;NotIn;Exists;DoesNotExist
	Operator metav1.LabelSelectorOperator `json:"operator"`

	// Values are the label values of In and NotIn; Exists and
	// DoesNotExist take none.
	// +kubebuilder:validation:MaxItems=64
	// +listType=atomic
	// +optional
	Values []LabelValue `json:"values,omitempty"`
}

// LabelValue is a label's value: empty, or up to 63 characters.
// +kubebuilder:validation:MaxLength=63
// +kubebuilder:validation:XValidation:rule="self.matches('^(([A-Za-z0-9][-A-Za-z0-9_.]{0,61})?[A-Za-z0-9])?$')",message="must be a label value: empty, or 1 to 63 alphanumerics, '-', '_' or '.' that starts and ends with an alphanumeric"
type LabelValue string

// AsMeta returns the selector as a metav1.LabelSelector, for
// metav1.LabelSelectorAsSelector; nil stays nil.
func (s *LabelSelector) AsMeta() *metav1.LabelSelector {
	if s == nil {
		return nil
	}
	out := &metav1.LabelSelector{}
	if s.MatchLabels != nil {
		out.MatchLabels = make(map[string]string, len(s.MatchLabels))
		for k, v := range s.MatchLabels {
			out.MatchLabels[k] = string(v)
		}
	}
	for _, e := range s.MatchExpressions {
		r := metav1.LabelSelectorRequirement{Key: e.Key, Operator: e.Operator}
		for _, v := range e.Values {
			r.Values = append(r.Values, string(v))
		}
		out.MatchExpressions = append(out.MatchExpressions, r)
	}
	return out
}
