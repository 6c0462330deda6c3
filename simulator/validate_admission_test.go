package simulator

import (
	"encoding/json"
	"net/netip"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// The operator parses an EgressGateway's label selectors with
// metav1.LabelSelectorAsSelector and its lockdown's allowCIDRs with
// netip.ParsePrefix. A value the API server admits but the operator then
// refuses leaves a gateway that cannot do its work (issue 13 point 1), so
// the CRD's rules must refuse at least what the operator refuses. These
// targets check that with the CRD's own schema and CEL rules, evaluated
// in-process by the apiextensions libraries, as the API server evaluates
// them.

// admitted reports whether the CRD admits an EgressGateway with this spec.
func admitted(t *testing.T, spec map[string]any) (bool, []schemaError) {
	t.Helper()
	js, err := json.Marshal(map[string]any{
		"apiVersion": "egress.ambient.io/v1alpha1", "kind": "EgressGateway",
		"metadata": map[string]any{"name": "g", "namespace": "ns"},
		"spec":     spec,
	})
	if err != nil {
		t.Fatal(err)
	}
	errs := schemaErrorsOf("egress.ambient.io/v1alpha1", "EgressGateway", js)
	return len(errs) == 0, errs
}

// selectorCase is one selector drawn by the fuzzer: a matchLabels pair,
// or one requirement.
type selectorCase struct {
	key, value, operator string
	expression           bool
	values               int // values of the requirement: 0, 1 or 2 copies of value
}

func (c selectorCase) selector() map[string]any {
	if !c.expression {
		return map[string]any{"matchLabels": map[string]any{c.key: c.value}}
	}
	e := map[string]any{"key": c.key, "operator": c.operator}
	if c.values > 0 {
		vs := []any{}
		for range c.values {
			vs = append(vs, c.value)
		}
		e["values"] = vs
	}
	return map[string]any{"matchExpressions": []any{e}}
}

// checkSelector asserts that the CRD admits the selector exactly when the
// operator can parse it, on each of the three selector fields.
func checkSelector(t *testing.T, c selectorCase) {
	t.Helper()
	sel := c.selector()
	// The operator parses what the API server stored: the JSON form.
	js, err := json.Marshal(sel)
	if err != nil {
		t.Fatal(err)
	}
	var ls metav1.LabelSelector
	if err := json.Unmarshal(js, &ls); err != nil {
		t.Fatal(err)
	}
	_, parseErr := metav1.LabelSelectorAsSelector(&ls)
	specs := map[string]map[string]any{
		"spec.simulation.sources":   {"simulation": map[string]any{"sources": sel}},
		"spec.lockdown.sources":     {"lockdown": map[string]any{"sources": sel}},
		"spec.serviceEntrySelector": {"enrollNamespace": false, "serviceEntrySelector": sel},
	}
	for field, spec := range specs {
		ok, errs := admitted(t, spec)
		if ok != (parseErr == nil) {
			t.Errorf("%s %s: API server admits: %v (%v); operator parses: %v (%v)", field, js, ok, errs, parseErr == nil, parseErr)
		}
		for _, e := range errs {
			if !strings.HasPrefix(e.field, field) {
				t.Errorf("%s %s: the refusal names %q, not the selector: %s", field, js, e.field, e.message)
			}
		}
	}
}

func TestSelectorAdmissionMatchesOperator(t *testing.T) {
	long := strings.Repeat("a", 63)
	prefix := strings.Repeat("b", 61) + "." + strings.Repeat("c", 61) + "." + strings.Repeat("d", 61) + "." + strings.Repeat("e", 61) + ".f" // 253
	for _, c := range []selectorCase{
		{key: "team", value: "a"},
		{key: "istio.io/dataplane-mode", value: "ambient"},
		{key: "team", value: ""},
		{key: "bad key", value: "x"},
		{key: "team", value: "bad value!"},
		{key: "a/b/c", value: "x"},
		{key: "/x", value: "x"},
		{key: "x/", value: "x"},
		{key: "Upper.Case/x", value: "x"},
		{key: "-x", value: "x"},
		{key: "x_", value: "x"},
		{key: long, value: long},
		{key: long + "a", value: "x"},
		{key: "x", value: long + "a"},
		{key: prefix + "/" + long, value: "x"},
		{key: prefix + "g/x", value: "x"},
		{key: "", value: "x"},
		{key: "x", value: "-a"},
		{key: "x", value: "a.b_c-d"},
		{key: "é", value: "x"},
		{expression: true, key: "team", operator: "In", values: 1, value: "a"},
		{expression: true, key: "team", operator: "NotIn", values: 2, value: "a"},
		{expression: true, key: "team", operator: "In"},
		{expression: true, key: "team", operator: "Exists"},
		{expression: true, key: "team", operator: "Exists", values: 1, value: "a"},
		{expression: true, key: "team", operator: "DoesNotExist"},
		{expression: true, key: "team", operator: "Foo", values: 1, value: "a"},
		{expression: true, key: "team", operator: "Gt", values: 1, value: "1"},
		{expression: true, key: "bad key", operator: "Exists"},
		{expression: true, key: "team", operator: "In", values: 1, value: "bad value!"},
		{expression: true, key: "team", operator: "In", values: 1, value: ""},
		{expression: true, key: "", operator: "Exists"},
	} {
		checkSelector(t, c)
	}
}

func FuzzSelectorAdmission(f *testing.F) {
	f.Add("team", "a", "In", true, 1)
	f.Add("bad key", "x", "", false, 0)
	f.Add("a.b/c", "", "Exists", true, 0)
	f.Add("x", "bad value!", "NotIn", true, 2)
	f.Fuzz(func(t *testing.T, key, value, operator string, expression bool, values int) {
		if values < 0 || values > 2 {
			return
		}
		checkSelector(t, selectorCase{key: key, value: value, operator: operator, expression: expression, values: values})
	})
}

// checkCIDR asserts that every allowCIDRs entry the CRD admits is one the
// operator can parse. The CRD may refuse more (isCIDR refuses IPv4-mapped
// IPv6 ranges, which netip accepts): refusing is always safe.
func checkCIDR(t *testing.T, cidr string) {
	t.Helper()
	ok, errs := admitted(t, map[string]any{"lockdown": map[string]any{"mode": "Enforce",
		"allowCIDRs": []any{map[string]any{"cidr": cidr, "reason": "test"}}}})
	js, _ := json.Marshal(cidr)
	var stored string
	if err := json.Unmarshal(js, &stored); err != nil {
		t.Fatal(err)
	}
	if _, err := netip.ParsePrefix(stored); ok && err != nil {
		t.Errorf("allowCIDRs %q: the API server admits it, the operator refuses it: %v", stored, err)
	}
	for _, e := range errs {
		if !strings.HasPrefix(e.field, "spec.lockdown.allowCIDRs[0].cidr") {
			t.Errorf("allowCIDRs %q: the refusal names %q: %s", stored, e.field, e.message)
		}
	}
}

func TestCIDRAdmissionMatchesOperator(t *testing.T) {
	for _, c := range []struct {
		cidr  string
		admit bool
	}{
		{"192.0.2.0/24", true},
		{"10.0.0.1/8", true}, // the operator masks it
		{"2001:db8::/32", true},
		{"::/0", true},
		{"1:2:3:4:5:6:1.2.3.4/96", true},
		{"1:2:3/64", false},
		{"2001:db8:::/32", false},
		{"::ffff:192.0.2.0/120", false},
		{"fe80::1%eth0/64", false},
		{"192.0.2.0", false},
		{"192.0.2.0/33", false},
		{"010.0.0.0/8", false},
		{"", false},
	} {
		ok, errs := admitted(t, map[string]any{"lockdown": map[string]any{"mode": "Enforce",
			"allowCIDRs": []any{map[string]any{"cidr": c.cidr, "reason": "test"}}}})
		if ok != c.admit {
			t.Errorf("allowCIDRs %q: admitted %v, want %v (%v)", c.cidr, ok, c.admit, errs)
		}
		checkCIDR(t, c.cidr)
	}
}

func FuzzCIDRAdmission(f *testing.F) {
	for _, s := range []string{"192.0.2.0/24", "2001:db8::/32", "1:2:3/64", "::ffff:1.2.3.4/128"} {
		f.Add(s)
	}
	f.Fuzz(checkCIDR)
}
