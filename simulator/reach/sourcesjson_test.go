package reach

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/ambient-egress/ambient-egress-operator/simulator/reach/scalegen"
)

func TestCompactSources(t *testing.T) {
	var all []string
	for ns := range 20 {
		for sa := range 10 {
			all = append(all, fmt.Sprintf("cluster.local/ns/ns-%02d/sa/sa-%d", ns, sa))
		}
	}
	all = append(all, "odd/identity/sa/sa-1") // matches */sa/sa-1 but is no TD/ns/NS/sa/SA
	sort.Strings(all)
	u := newUniverse([]Group{{Name: "all", Principals: all, Count: len(all)}})
	pick := func(keep func(string) bool) []string {
		var out []string
		for _, p := range all {
			if keep(p) {
				out = append(out, p)
			}
		}
		return out
	}
	cases := []struct {
		name             string
		sources          []string
		wantItems        []string
		wantNot          []string
		wantPlainListing bool
	}{
		{name: "small lists stay plain", sources: all[:5], wantPlainListing: true},
		{name: "one account name everywhere but two namespaces",
			sources: pick(func(p string) bool {
				return strings.HasSuffix(p, "/sa/sa-3") && !strings.Contains(p, "ns-04") && !strings.Contains(p, "ns-11")
			}),
			wantItems: []string{"*/sa/sa-3"},
			wantNot:   []string{"cluster.local/ns/ns-04/sa/sa-3", "cluster.local/ns/ns-11/sa/sa-3"}},
		{name: "the irregular identity a pattern matches is an exception",
			sources:   pick(func(p string) bool { return strings.HasSuffix(p, "/sa/sa-1") && strings.HasPrefix(p, "cluster.local/") }),
			wantItems: []string{"*/sa/sa-1"}, wantNot: []string{"odd/identity/sa/sa-1"}},
		{name: "whole namespaces",
			sources:   pick(func(p string) bool { return strings.Contains(p, "/ns-07/") || strings.Contains(p, "/ns-09/") }),
			wantItems: []string{"cluster.local/ns/ns-07/sa/*", "cluster.local/ns/ns-09/sa/*"}},
		{name: "scattered principals stay plain",
			sources:          pick(func(p string) bool { return len(p)%7 == 0 }),
			wantPlainListing: true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			items, not := u.compact(c.sources)
			if c.wantPlainListing {
				if !slices.Equal(items, c.sources) || not != nil {
					t.Errorf("want the list as is, got %v except %v", items, not)
				}
			} else if !slices.Equal(items, c.wantItems) || !slices.Equal(not, c.wantNot) {
				t.Errorf("got %v except %v, want %v except %v", items, not, c.wantItems, c.wantNot)
			}
			if back := u.expand(items, not); !slices.Equal(back, c.sources) {
				t.Errorf("does not expand back:\n got  %v\n want %v", back, c.sources)
			}
		})
	}
}

// Any subset of the known sources reads back exactly, whatever the
// compaction chose.
func TestCompactSourcesRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for trial := range 300 {
		var all []string
		nsCount, saCount := 1+rng.IntN(30), 1+rng.IntN(30)
		for ns := range nsCount {
			for sa := range saCount {
				if rng.IntN(10) > 0 {
					all = append(all, fmt.Sprintf("td/ns/n%d/sa/s%d", ns, sa))
				}
			}
		}
		sort.Strings(all)
		// Sources are mostly one account name or namespace, with holes,
		// plus noise: the shapes policies with DENY rules make.
		name, ns := fmt.Sprintf("/sa/s%d", rng.IntN(saCount)), fmt.Sprintf("/ns/n%d/", rng.IntN(nsCount))
		var sources []string
		for _, p := range all {
			if ((strings.HasSuffix(p, name) || strings.Contains(p, ns)) && rng.IntN(8) > 0) || rng.IntN(20) == 0 {
				sources = append(sources, p)
			}
		}
		r := Report{Groups: []Group{{Name: "g", Principals: all, Count: len(all)}},
			Reachability: []Entry{{Destination: "h:80", Sources: sources, Access: AccessAll, Allowed: []Cube{}, DecidedBy: []Decider{}}}}
		data, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		var back Report
		if err := json.Unmarshal(data, &back); err != nil {
			t.Fatal(err)
		}
		if got := back.Reachability[0].Sources; !slices.Equal(got, sources) && (len(got) > 0 || len(sources) > 0) {
			t.Fatalf("trial %d: %s\n read back %v\n want      %v", trial, data, got, sources)
		}
	}
}

// FuzzCompactSources: whatever the known sources and the entry's subset,
// the compact JSON form reads back to exactly the subset.
func FuzzCompactSources(f *testing.F) {
	f.Add(uint8(20), uint8(10), uint64(1), uint8(3))
	f.Add(uint8(1), uint8(30), uint64(7), uint8(0))
	f.Fuzz(func(t *testing.T, nsCount, saCount uint8, seed uint64, odd uint8) {
		rng := rand.New(rand.NewPCG(seed, uint64(nsCount)<<8|uint64(saCount)))
		var all []string
		for ns := range int(nsCount%40) + 1 {
			for sa := range int(saCount%40) + 1 {
				all = append(all, fmt.Sprintf("td/ns/n%d/sa/s%d", ns, sa))
			}
		}
		for i := range int(odd % 4) {
			all = append(all, fmt.Sprintf("odd/%d/sa/s%d", i, i))
		}
		sort.Strings(all)
		var sources []string
		keep := rng.IntN(10)
		for _, p := range all {
			if rng.IntN(10) < keep {
				sources = append(sources, p)
			}
		}
		u := newUniverse([]Group{{Name: "g", Principals: all, Count: len(all)}})
		items, not := u.compact(sources)
		if got := u.expand(items, not); !slices.Equal(got, sources) && (len(got) > 0 || len(sources) > 0) {
			t.Fatalf("%v except %v reads back as %v, want %v", items, not, got, sources)
		}
	})
}

// FuzzCubeJSON: any JSON a cube accepts re-encodes to JSON that decodes to
// the same cube, and renders the same text: what egressctl report relies on
// when it reads a report back.
func FuzzCubeJSON(f *testing.F) {
	f.Add([]byte(`{"methods":["GET"],"paths":["/get"],"policy":"ns/p","rule":1}`))
	f.Add([]byte(`{"notPaths":["/admin/*"],"headers":{"x-a":{"values":["1"],"notValues":["2"]}},"rule":0}`))
	f.Add([]byte(`{"when":[{"key":"request.auth.claims[iss]","values":["a"]}],"and":[{"paths":["/x"]}],"rule":-1}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var c Cube
		if json.Unmarshal(data, &c) != nil {
			return
		}
		once, err := json.Marshal(c)
		if err != nil {
			t.Fatalf("%s decodes but does not encode: %v", data, err)
		}
		var again Cube
		if err := json.Unmarshal(once, &again); err != nil {
			t.Fatalf("%s re-encodes as %s, which does not decode: %v", data, once, err)
		}
		twice, err := json.Marshal(again)
		if err != nil || string(twice) != string(once) || again.Text() != c.Text() {
			t.Fatalf("not stable: %s -> %s -> %s (%q vs %q)", data, once, twice, c.Text(), again.Text())
		}
	})
}

// TestWireReportMirrorsReport keeps the encoded form's fields those of
// Report, in its order and with its tags: a field added to Report and not
// to wireReport would otherwise vanish from every JSON report.
func TestWireReportMirrorsReport(t *testing.T) {
	report, wire := reflect.TypeFor[Report](), reflect.TypeFor[wireReport]()
	if report.NumField() != wire.NumField() {
		t.Fatalf("Report has %d fields, wireReport %d", report.NumField(), wire.NumField())
	}
	for i := range report.NumField() {
		r, w := report.Field(i), wire.Field(i)
		if r.Name != w.Name || r.Tag != w.Tag {
			t.Errorf("field %d: Report has %s %q, wireReport %s %q", i, r.Name, r.Tag, w.Name, w.Tag)
		}
		if r.Name != "Reachability" && r.Type != w.Type {
			t.Errorf("field %s: Report has %s, wireReport %s", r.Name, r.Type, w.Type)
		}
	}
}

// TestIndentedJSONIsIndentOfCompact: WriteIndentedJSON writes exactly what
// json.Indent makes of MarshalJSON, on a generated report with thousands
// of entries, on an empty one, and with and without probes.
func TestIndentedJSONIsIndentOfCompact(t *testing.T) {
	full, _ := Build(parseInput(t, scalegen.Generate(scalegen.Scale(10)))) // its findings come back as an error too
	if full == nil || len(full.Reachability) < 100 {
		t.Fatal("no report to encode")
	}
	withProbes := *full
	withProbes.Probes = []ProbeResult{{Name: "p", Verdict: "ALLOW", Match: true}}
	for name, r := range map[string]Report{
		"generated":   *full,
		"with probes": withProbes,
		"empty":       {},
		"no entries":  {Destinations: full.Destinations, Groups: full.Groups, Findings: []Finding{}},
	} {
		compact, err := r.MarshalJSON()
		if err != nil {
			t.Fatal(err)
		}
		var want bytes.Buffer
		if err := json.Indent(&want, compact, "", "  "); err != nil {
			t.Fatal(err)
		}
		want.WriteByte('\n')
		var got bytes.Buffer
		if err := r.WriteIndentedJSON(&got); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got.Bytes(), want.Bytes()) {
			i := 0
			for i < min(got.Len(), want.Len()) && got.Bytes()[i] == want.Bytes()[i] {
				i++
			}
			t.Errorf("%s: WriteIndentedJSON differs from json.Indent(MarshalJSON) at byte %d of %d:\n got %q\nwant %q",
				name, i, want.Len(), got.Bytes()[max(0, i-40):min(got.Len(), i+40)], want.Bytes()[max(0, i-40):min(want.Len(), i+40)])
		}
	}
}
