package simulator

import (
	"fmt"
	"net/netip"
	"strings"

	securityv1beta1 "istio.io/api/security/v1beta1"
)

func (v *policyValidator) rule(field string, r *securityv1beta1.Rule) {
	if r == nil {
		v.errorf(field, "rule must not be nil")
		return
	}
	fromL4, toL4 := false, false
	for i, f := range r.GetFrom() {
		if v.source(fmt.Sprintf("%s.from[%d].source", field, i), f.GetSource()) {
			fromL4 = true
		}
	}
	for i, t := range r.GetTo() {
		if v.operation(fmt.Sprintf("%s.to[%d].operation", field, i), t.GetOperation()) {
			toL4 = true
		}
	}
	for i, w := range r.GetWhen() {
		v.condition(fmt.Sprintf("%s.when[%d]", field, i), w)
	}
	hasFrom, hasTo := len(r.GetFrom()) > 0, len(r.GetTo()) > 0
	if v.p.Spec.GetAction() == securityv1beta1.AuthorizationPolicy_DENY &&
		((hasFrom && !hasTo && !fromL4) || (hasTo && !toL4)) {
		v.warnf(field, "this DENY rule uses only HTTP attributes, so it denies all traffic to TCP ports under its scope; specify the port explicitly")
	}
}

// source validates one from.source and reports whether it has a field a
// TCP chain can see (the webhook's tcpRulesInFrom).
func (v *policyValidator) source(field string, s *securityv1beta1.Source) bool {
	if s == nil {
		v.errorf(field, "from.source must not be nil")
		return false
	}
	fields := sourceFields(s)
	if len(fields) == 0 {
		v.errorf(field, "from.source must not be empty")
	}
	if len(s.GetPrincipals())+len(s.GetNotPrincipals())+len(s.GetNamespaces())+len(s.GetNotNamespaces()) > 0 &&
		len(s.GetServiceAccounts())+len(s.GetNotServiceAccounts()) > 0 {
		v.errorf(field, "cannot set serviceAccounts with namespaces or principals")
	}
	l4 := false
	for _, f := range fields {
		v.fieldValues(field, f.attr.field, f.attr, f.values)
		v.fieldValues(field, f.attr.notField, f.attr, f.notValues)
		l4 = l4 || f.attr.webhookL4
	}
	return l4
}

// fieldValues validates the values of one source or operation field with
// its row's check.
func (v *policyValidator) fieldValues(field, name string, a *attribute, values []string) {
	for i, val := range values {
		path := fmt.Sprintf("%s.%s[%d]", field, name, i)
		if val == "" {
			v.errorf(path, "empty value not allowed")
			continue
		}
		if a.check == nil {
			continue
		}
		if err := a.check(val, len(values)); err != nil {
			v.errorf(path, "%v", err)
		}
	}
}

// operation validates one to.operation and reports whether it has ports.
func (v *policyValidator) operation(field string, o *securityv1beta1.Operation) bool {
	if o == nil {
		v.errorf(field, "to.operation must not be nil")
		return false
	}
	fields := operationFields(o)
	if len(fields) == 0 {
		v.errorf(field, "to.operation must not be empty")
	}
	l4 := false
	for _, f := range fields {
		v.fieldValues(field, f.attr.field, f.attr, f.values)
		v.fieldValues(field, f.attr.notField, f.attr, f.notValues)
		l4 = l4 || f.attr.webhookL4
	}
	return l4
}

func (v *policyValidator) condition(field string, w *securityv1beta1.Condition) {
	if w == nil {
		v.errorf(field, "condition must not be nil")
		return
	}
	key := w.GetKey()
	if key == "" {
		v.errorf(field+".key", "key must not be empty")
		return
	}
	if len(w.GetValues()) == 0 && len(w.GetNotValues()) == 0 {
		v.errorf(field, "at least one of values or notValues must be set for key %s", key)
		return
	}
	// istiod checks the key once per list; checking only non-empty lists
	// reports an unknown key once instead of twice.
	if len(w.GetValues()) > 0 {
		if err := validateAttribute(key, w.GetValues()); err != nil {
			v.errorf(field+".values", "invalid value for key %s: %v", key, err)
		}
	}
	if len(w.GetNotValues()) > 0 {
		if err := validateAttribute(key, w.GetNotValues()); err != nil {
			v.errorf(field+".notValues", "invalid notValue for key %s: %v", key, err)
		}
	}
}

func validateMapKey(key string) error {
	open := strings.Index(key, "[")
	if strings.HasSuffix(key, "]") && open > 0 && open < len(key)-2 {
		return nil
	}
	return fmt.Errorf("bad key (%s): should have format a[b]", key)
}

func validateIP(s string) error {
	if strings.Contains(s, "/") {
		if _, err := netip.ParsePrefix(s); err != nil {
			return fmt.Errorf("bad CIDR range (%s): %w", s, err)
		}
		return nil
	}
	if _, err := netip.ParseAddr(s); err != nil {
		return fmt.Errorf("bad IP address (%s)", s)
	}
	return nil
}

func validateServiceAccount(s string, count int) error {
	if count > 16 {
		return fmt.Errorf("may not have more than 16 values")
	}
	if strings.Contains(s, "*") {
		return fmt.Errorf("wildcard not allowed in service account %q", s)
	}
	if strings.Count(s, "/") > 1 || len(s) > 320 {
		return fmt.Errorf("expected format 'serviceAccount' or 'namespace/serviceAccount', found %q", s)
	}
	if ns, sa, ok := strings.Cut(s, "/"); ok && (ns == "" || sa == "") {
		return fmt.Errorf("expected format 'serviceAccount' or 'namespace/serviceAccount', found %q", s)
	}
	return nil
}

func validateTrustDomain(s string) error {
	n := strings.Count(s, "*")
	if n > 1 {
		return fmt.Errorf("at most one wildcard is allowed, found %q", s)
	}
	if n == 1 && s != "*" && !strings.HasPrefix(s, "*") && !strings.HasSuffix(s, "*") {
		return fmt.Errorf("wildcard is only allowed at the start or end, found %q", s)
	}
	if strings.Contains(s, "/") {
		return fmt.Errorf("trust domain must not contain '/', found %q", s)
	}
	return nil
}
