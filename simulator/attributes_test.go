package simulator

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	securityv1beta1 "istio.io/api/security/v1beta1"
)

// TestAttributeTable checks that every row of the attribute table has all
// its parts and that they agree: the key compiles to a term reading that
// key with the example's value, the HTTP-only flag is what the generator
// does on a TCP chain, the policy fields exist in Istio's messages and are
// the ones the row reads, and ztunnel's support has a compiler. A row
// added without one of them fails here, naming what is missing.
func TestAttributeTable(t *testing.T) {
	seen := map[string]bool{}
	for i := range attributes {
		a := &attributes[i]
		name := a.key
		if name == "" {
			t.Errorf("row %d: no key", i)
			continue
		}
		if seen[name] {
			t.Errorf("%s: two rows", name)
		}
		seen[name] = true
		checkAttributeParts(t, name, a)
		if a.envoy == nil || a.example == "" || a.side == 0 {
			continue
		}
		key, values := a.key, []string{a.example}
		if a.family {
			key, values = a.example, []string{"v"}
		}
		if got, ok := attributeFor(key); !ok || got != a {
			t.Errorf("%s: attributeFor(%q) does not find the row", name, key)
		}
		checkEnvoy(t, name, a, key, values)
		checkValidation(t, name, a, key, values)
		checkPolicyFields(t, name, a)
		checkZtunnel(t, name, a, key, values)
	}
}

func checkAttributeParts(t *testing.T, name string, a *attribute) {
	t.Helper()
	if a.side == 0 {
		t.Errorf("%s: no side (which part of the request it reads)", name)
	}
	if a.envoy == nil {
		t.Errorf("%s: no Envoy generator (envoy)", name)
	}
	if a.example == "" {
		t.Errorf("%s: no example value", name)
	}
	if !a.whenKey && a.field == "" {
		t.Errorf("%s: neither a when key nor a policy field: nothing can set it", name)
	}
	if a.inReport && a.field == "" {
		t.Errorf("%s: named in reports by its fields, but has none", name)
	}
	if a.family && (!a.whenKey || a.field != "") {
		t.Errorf("%s: a family is a when key with no field", name)
	}
}

func checkEnvoy(t *testing.T, name string, a *attribute, key string, values []string) {
	t.Helper()
	m := envoyMode{trust: newTrustBundle("cluster.local", nil), policyNamespace: "apps"}
	term, err := m.build(key, values)
	if err != nil {
		t.Errorf("%s: the Envoy generator refuses the example: %v", name, err)
		return
	}
	if term.key() != key {
		t.Errorf("%s: compiles to a term reading %q", name, term.key())
	}
	if _, unknown := term.(unknownTerm); !unknown && !slices.Equal(term.values(), values) {
		t.Errorf("%s: the term's values are %q, want %q", name, term.values(), values)
	}
	m.forTCP = true
	_, err = m.build(key, values)
	if httpOnly := errors.Is(err, errHTTPOnly); httpOnly != a.httpOnly {
		t.Errorf("%s: httpOnly is %t but on a TCP chain the generator returns %v", name, a.httpOnly, err)
	}
}

func checkValidation(t *testing.T, name string, a *attribute, key string, values []string) {
	t.Helper()
	err := validateAttribute(key, values)
	switch {
	case a.whenKey && err != nil:
		t.Errorf("%s: the example is refused as a when value: %v", name, err)
	case !a.whenKey && err == nil:
		t.Errorf("%s: accepted as a when key, but the row says it is not one", name)
	}
	if a.check != nil && !a.family {
		if err := a.check(a.example, 1); err != nil {
			t.Errorf("%s: the example fails the row's check: %v", name, err)
		}
	}
}

// checkPolicyFields sets the row's fields in Istio's own Source or
// Operation message by name and expects the row's reader to return them.
func checkPolicyFields(t *testing.T, name string, a *attribute) {
	t.Helper()
	if (a.field == "") != (a.notField == "") || (a.field == "") != (a.source == nil && a.operation == nil) ||
		(a.source != nil && a.operation != nil) {
		t.Errorf("%s: field, notField and exactly one reader (source or operation) go together", name)
		return
	}
	if a.field == "" {
		return
	}
	var msg proto.Message = &securityv1beta1.Source{}
	if a.operation != nil {
		msg = &securityv1beta1.Operation{}
	}
	for _, f := range []string{a.field, a.notField} {
		fd := msg.ProtoReflect().Descriptor().Fields().ByJSONName(f)
		if fd == nil || !fd.IsList() || fd.Kind() != protoreflect.StringKind {
			t.Errorf("%s: %s is not a list of strings in Istio's %s", name, f, msg.ProtoReflect().Descriptor().Name())
			return
		}
		msg.ProtoReflect().Mutable(fd).List().Append(protoreflect.ValueOfString(f + "-value"))
	}
	var vals, nots []string
	if a.source != nil {
		vals, nots = a.source(msg.(*securityv1beta1.Source))
	} else {
		vals, nots = a.operation(msg.(*securityv1beta1.Operation))
	}
	if !slices.Equal(vals, []string{a.field + "-value"}) || !slices.Equal(nots, []string{a.notField + "-value"}) {
		t.Errorf("%s: the reader returns %q and %q, not the values of %s and %s", name, vals, nots, a.field, a.notField)
	}
}

func checkZtunnel(t *testing.T, name string, a *attribute, key string, values []string) {
	t.Helper()
	enforced := a.ztunnelField == ztunnelEnforced || a.ztunnelWhen
	if a.ztunnelField != ztunnelHTTP && a.field == "" {
		t.Errorf("%s: ztunnelField describes a policy field, and the row has none", name)
	}
	if a.ztunnelWhen && !a.whenKey {
		t.Errorf("%s: ztunnel converts it as a when key, but it is not one", name)
	}
	if enforced != (a.ztunnel != nil) {
		t.Errorf("%s: ztunnel enforces it (%t) exactly when the row has a ztunnel compiler (%t)", name, enforced, a.ztunnel != nil)
		return
	}
	if a.ztunnel == nil {
		return
	}
	term, ok := a.ztunnel(values, "apps")
	if !ok || term.key() != key {
		t.Errorf("%s: the ztunnel compiler gives %v (%t) for the example", name, term, ok)
	}
}

// TestRetiredKeys: keys istiod refuses with a message of their own.
func TestRetiredKeys(t *testing.T) {
	for key, want := range map[string]string{
		"destination.namespace":   "replaced by the metadata.namespace",
		"destination.labels[app]": "replaced by the workload selector",
		"destination.user":        "only supported in v1alpha1",
		"request.colour":          "unknown attribute: request.colour",
	} {
		err := validateAttribute(key, []string{"x"})
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: got %v, want %q", key, err, want)
		}
	}
}
