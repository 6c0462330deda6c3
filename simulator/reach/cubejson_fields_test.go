package reach

import (
	"encoding/json"
	"testing"

	"github.com/ambient-egress/ambient-egress-operator/simulator"
)

// TestCubeJSONCoversTheAttributeTable: every attribute the simulator's
// table says a report names by its fields is read back from, and written
// to, a cube's JSON under those field names.
func TestCubeJSONCoversTheAttributeTable(t *testing.T) {
	fields := simulator.ReportFields()
	if len(fields) == 0 {
		t.Fatal("the attribute table names no report fields")
	}
	for _, f := range fields {
		for _, name := range []string{f.Field, f.NotField} {
			in := `{"` + name + `":["v"],"rule":0}`
			var c Cube
			if err := json.Unmarshal([]byte(in), &c); err != nil {
				t.Errorf("%s (%s): %v", name, f.Key, err)
				continue
			}
			out, err := json.Marshal(c)
			if err != nil {
				t.Errorf("%s (%s): %v", name, f.Key, err)
				continue
			}
			if string(out) != in {
				t.Errorf("%s (%s): encodes back as %s", name, f.Key, out)
			}
			if got := c.decoded; len(got) != 1 || got[0].key != f.Key {
				t.Errorf("%s: decodes as %+v, want the attribute %s", name, got, f.Key)
			}
		}
	}
}
