package reportstatus

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/google/go-cmp/cmp"

	egressv1alpha1 "github.com/ambient-egress/ambient-egress-operator/apis/egress/v1alpha1"
	"github.com/ambient-egress/ambient-egress-operator/simulator/reach"
)

// notCarried lists, by type and field, what the status leaves out of the
// report on purpose; the round trips clear them before comparing. A field
// added to the report and to neither the conversions nor this list fails
// both tests, named.
var notCarried = map[reflect.Type][]string{
	// How the destination is bound, and the DestinationRule's name: the
	// status says which waypoint serves the host, not why.
	reflect.TypeFor[reach.Destination]():    {"Binding"},
	reflect.TypeFor[reach.TLSOrigination](): {"DestinationRule"},
	// spec.simulation.probes are questions without expectations; Match is
	// recomputed (an answered probe matches).
	reflect.TypeFor[reach.ProbeResult](): {"Expected", "ExpectedPolicy"},
}

// clearNotCarried zeroes the notCarried fields of every value v holds.
func clearNotCarried(v reflect.Value) {
	switch v.Kind() {
	case reflect.Pointer:
		if !v.IsNil() {
			clearNotCarried(v.Elem())
		}
	case reflect.Slice:
		for i := range v.Len() {
			clearNotCarried(v.Index(i))
		}
	case reflect.Struct:
		for _, name := range notCarried[v.Type()] {
			f := v.FieldByName(name)
			f.Set(reflect.Zero(f.Type()))
		}
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				clearNotCarried(v.Field(i))
			}
		}
	}
}

// toStatus converts a whole report as the operator does when it fits.
func toStatus(t *testing.T, r *reach.Report) ([]egressv1alpha1.DestinationStatus, *egressv1alpha1.SimulationStatus) {
	t.Helper()
	sim, err := Simulation(r)
	if err != nil {
		t.Fatal(err)
	}
	return Destinations(r, ""), sim
}

// roundTrip converts r to the status and back, and compares with r less
// what the status does not carry; the diff names the fields that differ.
func roundTrip(t *testing.T, r *reach.Report) {
	t.Helper()
	back, err := Report(toStatus(t, r))
	if err != nil {
		t.Fatal(err)
	}
	want := *r
	clearNotCarried(reflect.ValueOf(&want))
	for i := range want.Probes {
		want.Probes[i].Match = want.Probes[i].Error == ""
	}
	// The status keeps the API server's JSON (through which it is
	// stored); compare in the report's own JSON, which is its contract.
	if d := cmp.Diff(asJSON(t, &want), asJSON(t, back)); d != "" {
		t.Errorf("the report does not come back from the status (-want +got):\n%s", d)
	}
}

func asJSON(t *testing.T, r *reach.Report) any {
	t.Helper()
	data, err := r.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	var out any
	if err := json.Unmarshal(data, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestRoundTrip: every golden report survives report -> status -> report,
// through the API server's JSON too, as egressctl report reads it.
func TestRoundTrip(t *testing.T) {
	files, err := filepath.Glob("../../../../simulator/reach/testdata/*/want.json")
	if err != nil || len(files) < 5 {
		t.Fatalf("golden reports: %v, %v", files, err)
	}
	for _, file := range files {
		t.Run(filepath.Base(filepath.Dir(file)), func(t *testing.T) {
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			r := &reach.Report{}
			if err := json.Unmarshal(data, r); err != nil {
				t.Fatal(err)
			}
			roundTrip(t, r)
			// Through the API server: the status as stored and read.
			dests, sim := toStatus(t, r)
			stored, err := json.Marshal(egressv1alpha1.EgressGatewayStatus{Destinations: dests, Simulation: sim})
			if err != nil {
				t.Fatal(err)
			}
			var read egressv1alpha1.EgressGatewayStatus
			if err := json.Unmarshal(stored, &read); err != nil {
				t.Fatal(err)
			}
			back, err := Report(read.Destinations, read.Simulation)
			if err != nil {
				t.Fatal(err)
			}
			direct, err := Report(dests, sim)
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(asJSON(t, direct), asJSON(t, back)); d != "" {
				t.Errorf("the status changes through its JSON (-before +after):\n%s", d)
			}
		})
	}
}

// TestEveryFieldConverts fills every field of each report type the status
// carries (all but the cubes, whose JSON is their contract) and requires it
// back: a field added to the report and forgotten here fails by name.
func TestEveryFieldConverts(t *testing.T) {
	var r reach.Report
	for _, p := range []any{&r.Destinations, &r.Groups, &r.Findings, &r.Direct, &r.Probes} {
		v := reflect.ValueOf(p).Elem()
		v.Set(reflect.MakeSlice(v.Type(), 1, 1))
		fill(v.Index(0))
	}
	// Fields of an entry other than its cubes; one cube each way from the
	// seed's golden report.
	var e reach.Entry
	fill(reflect.ValueOf(&e).Elem())
	e.Destination = reach.Destination{Host: r.Destinations[0].Host, Port: r.Destinations[0].Port}.Key()
	e.Access, e.NotSources = reach.AccessPartial, nil // NotSources exists only in compact JSON
	var seed reach.Report
	data, err := os.ReadFile("../../../../simulator/reach/testdata/seed/want.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &seed); err != nil {
		t.Fatal(err)
	}
	e.Allowed, e.Denied = seed.Reachability[0].Allowed[:1], seed.Reachability[0].Allowed[:1]
	r.Reachability = []reach.Entry{e}
	r.Groups[0].Principals = e.Sources
	r.Groups[0].Count = len(e.Sources)
	r.Destinations[0].TargetPort = r.Destinations[0].Port + 1
	r.Destinations[0].TLSOrigination.Port = r.Destinations[0].TargetPort
	roundTrip(t, &r)
}

// fill sets every exported field v holds to a non-zero value.
func fill(v reflect.Value) {
	switch v.Kind() {
	case reflect.String:
		v.SetString("x-" + v.Type().Name())
	case reflect.Int, reflect.Int32, reflect.Int64:
		v.SetInt(7)
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Pointer:
		v.Set(reflect.New(v.Type().Elem()))
		fill(v.Elem())
	case reflect.Slice:
		if v.Type().Elem() == reflect.TypeFor[reach.Cube]() {
			return
		}
		v.Set(reflect.MakeSlice(v.Type(), 1, 1))
		fill(v.Index(0))
	case reflect.Struct:
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				fill(v.Field(i))
			}
		}
	}
}
