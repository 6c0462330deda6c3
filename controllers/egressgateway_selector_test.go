package controllers

import (
	"errors"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	egressv1alpha1 "github.com/ambient-egress/ambient-egress-operator/apis/egress/v1alpha1"
)

// An EgressGateway stored under an earlier CRD, which did not check label
// key syntax, can carry a selector the operator cannot parse after an
// upgrade (the API server does not validate stored objects again, and
// envtest can no longer create one). Enrollment and lockdown say which
// field it is; a gateway being deleted never parses its selector, so its
// finalizer is never stranded by it.
func TestSelectorStoredBeforeValidation(t *testing.T) {
	bad := &egressv1alpha1.LabelSelector{MatchLabels: map[string]egressv1alpha1.LabelValue{"bad key": "x"}}
	egw := &egressv1alpha1.EgressGateway{ObjectMeta: metav1.ObjectMeta{Name: "waypoint", Namespace: "ns"}}
	egw.Spec.EnrollNamespace = new(false)
	egw.Spec.ServiceEntrySelector = bad
	egw.Spec.Lockdown.Sources = bad

	_, err := enrollmentGateway(egw)
	invalid, ok := errors.AsType[*invalidSelectorError](err)
	if !ok || !strings.Contains(invalid.Error(), "spec.serviceEntrySelector") {
		t.Errorf("enrollment: %v, want an invalidSelectorError naming spec.serviceEntrySelector", err)
	}
	_, err = lockdownSelector(egw)
	if invalid, ok := errors.AsType[*invalidSelectorError](err); !ok || !strings.Contains(invalid.Error(), "spec.lockdown.sources") {
		t.Errorf("lockdown: %v, want an invalidSelectorError naming spec.lockdown.sources", err)
	}

	deleting := egw.DeepCopy()
	deleting.DeletionTimestamp = new(metav1.Now())
	if g, err := enrollmentGateway(deleting); err != nil || g.Selector != nil {
		t.Errorf("a gateway being deleted parsed its selector: %v, %v", g.Selector, err)
	}
}
