package reportstatus

import (
	"reflect"
	"slices"
	"strings"
	"testing"

	egressv1alpha1 "github.com/ambient-egress/ambient-egress-operator/apis/egress/v1alpha1"
	"github.com/ambient-egress/ambient-egress-operator/simulator"
)

// TestCubeMatchesTheAttributeTable: the API's Cube has a list field for
// each policy field the simulator's attribute table names in reports, and
// no list field the table does not name, so a status can hold every cube
// a report holds.
func TestCubeMatchesTheAttributeTable(t *testing.T) {
	var want []string
	for _, f := range simulator.ReportFields() {
		want = append(want, f.Field, f.NotField)
	}
	var have []string
	typ := reflect.TypeFor[egressv1alpha1.Cube]()
	for sf := range typ.Fields() {
		name, _, _ := strings.Cut(sf.Tag.Get("json"), ",")
		if sf.Type == reflect.TypeFor[[]string]() {
			have = append(have, name)
		}
	}
	for _, name := range want {
		if !slices.Contains(have, name) {
			t.Errorf("the API's Cube has no %q list, which the attribute table names in reports", name)
		}
	}
	for _, name := range have {
		if !slices.Contains(want, name) {
			t.Errorf("the API's Cube has a %q list the attribute table does not name", name)
		}
	}
}
