package simulator

import (
	"fmt"
	"strconv"
	"strings"

	securityv1beta1 "istio.io/api/security/v1beta1"
	typev1beta1 "istio.io/api/type/v1beta1"
)

// annotationDryRun is Istio's istio.io/dry-run annotation.
const annotationDryRun = "istio.io/dry-run"

// policyValidator applies the admission checks istiod's webhook runs on an
// AuthorizationPolicy (pkg/config/validation/validation.go,
// ValidateAuthorizationPolicy, and pkg/config/security/security.go). A
// policy with errors never reaches the cluster, so it takes no part in
// evaluation; warnings are accepted with a message, as kubectl shows them.
type policyValidator struct {
	p      *AuthorizationPolicy
	issues Issues
}

func validatePolicy(p *AuthorizationPolicy) Issues {
	v := &policyValidator{p: p}
	v.metadata()
	v.attachment()
	v.action()
	for i, r := range p.Spec.GetRules() {
		v.rule(fmt.Sprintf("spec.rules[%d]", i), r)
	}
	return v.issues
}

func (v *policyValidator) errorf(field, format string, args ...any) {
	v.issues.add(SeverityError, v.p.Origin, field, format, args...)
}

func (v *policyValidator) warnf(field, format string, args ...any) {
	v.issues.add(SeverityWarning, v.p.Origin, field, format, args...)
}

func (v *policyValidator) metadata() {
	val, ok := v.p.Annotations[annotationDryRun]
	if !ok {
		return
	}
	field := "metadata.annotations[" + annotationDryRun + "]"
	switch v.p.Spec.GetAction() {
	case securityv1beta1.AuthorizationPolicy_ALLOW, securityv1beta1.AuthorizationPolicy_DENY:
		if _, err := strconv.ParseBool(val); err != nil {
			v.errorf(field, "invalid value %q: must be true or false", val)
		}
	default:
		v.errorf(field, "the dry-run annotation only supports action ALLOW or DENY, found %s", v.p.Spec.GetAction())
	}
}

func (v *policyValidator) attachment() {
	spec := v.p.Spec
	set := 0
	if spec.GetSelector() != nil {
		set++
		v.selector(spec.GetSelector())
	}
	if spec.GetTargetRef() != nil {
		set++
		v.targetRef("spec.targetRef", spec.GetTargetRef())
	}
	if len(spec.GetTargetRefs()) > 0 {
		set++
		for i, r := range spec.GetTargetRefs() {
			v.targetRef(fmt.Sprintf("spec.targetRefs[%d]", i), r)
		}
	}
	if set > 1 {
		v.errorf("spec", "only one of targetRefs or selector can be set")
	}
}

func (v *policyValidator) selector(s *typev1beta1.WorkloadSelector) {
	for k, val := range s.GetMatchLabels() {
		if k == "" {
			v.errorf("spec.selector.matchLabels", "empty key is not supported in selector")
		}
		if strings.Contains(k, "*") || strings.Contains(val, "*") {
			v.errorf("spec.selector.matchLabels["+k+"]", "wildcard is not supported in selector")
		}
	}
	if len(s.GetMatchLabels()) == 0 {
		v.warnf("spec.selector", "workload selector specified without labels")
	}
}

// allowedTargetKinds are the group/kind pairs istiod accepts in targetRefs.
var allowedTargetKinds = map[string]bool{
	"core/Service":                           true,
	"networking.istio.io/ServiceEntry":       true,
	"gateway.networking.k8s.io/Gateway":      true,
	"gateway.networking.k8s.io/GatewayClass": true,
}

func canonicalGroup(g string) string {
	if g == "" {
		return "core"
	}
	return g
}

func (v *policyValidator) targetRef(field string, r *typev1beta1.PolicyTargetReference) {
	if r.GetName() == "" {
		v.errorf(field+".name", "targetRef name must be set")
	}
	if r.GetNamespace() != "" {
		v.errorf(field+".namespace", "targetRef namespace must not be set; cross namespace referencing is not supported")
	}
	if !allowedTargetKinds[canonicalGroup(r.GetGroup())+"/"+r.GetKind()] {
		v.errorf(field, "targetRef must be a Service, ServiceEntry, Gateway or GatewayClass, but was %s/%s", r.GetGroup(), r.GetKind())
	}
}

func (v *policyValidator) action() {
	spec := v.p.Spec
	switch spec.GetAction() {
	case securityv1beta1.AuthorizationPolicy_CUSTOM:
		v.custom()
	case securityv1beta1.AuthorizationPolicy_DENY:
		if spec.GetRules() == nil {
			v.errorf("spec.rules", "DENY action without rules is meaningless as it will never be triggered; add an empty rule {} to deny every request")
		}
	}
	if spec.GetProvider() != nil && spec.GetAction() != securityv1beta1.AuthorizationPolicy_CUSTOM {
		v.errorf("spec.provider", "provider must not be set with non CUSTOM action, found %s", spec.GetAction())
	}
}

func (v *policyValidator) custom() {
	spec := v.p.Spec
	if spec.GetRules() == nil {
		v.errorf("spec.rules", "CUSTOM action without rules is meaningless as it will never be triggered; add an empty rule {} to trigger it for every request")
	} else if spec.GetProvider().GetName() == "" {
		v.errorf("spec.provider.name", "provider.name must not be empty")
	}
	for i, r := range spec.GetRules() {
		for j, f := range r.GetFrom() {
			for _, fld := range sourceFields(f.GetSource()) {
				if fld.attr.identityBound() {
					v.errorf(fmt.Sprintf("spec.rules[%d].from[%d].source.%s", i, j, fld.name), "not supported with CUSTOM action")
				}
			}
		}
		for j, w := range r.GetWhen() {
			k := w.GetKey()
			// The webhook refuses every "request.auth." key here, known
			// or not (validation.go, ValidateAuthorizationPolicy).
			if a, ok := whenAttribute(k); (ok && a.identityBound()) || strings.HasPrefix(k, "request.auth.") {
				v.errorf(fmt.Sprintf("spec.rules[%d].when[%d].key", i, j), "%s is not supported with CUSTOM action", k)
			}
		}
	}
}
