package reach

import (
	"bytes"
	"encoding/json"
	"fmt"
	"github.com/ambient-egress/ambient-egress-operator/simulator/reach/scalegen"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/ambient-egress/ambient-egress-operator/simulator"
)

// benchSizes are the full size (10,000 service accounts in 500
// namespaces, 1,000 ServiceEntries, 2,000 policies) and 10 and 100 times
// smaller.
var benchSizes = []struct {
	name string
	div  int
}{{"100x-smaller", 100}, {"10x-smaller", 10}, {"full", 1}}

// BenchmarkReport builds the whole report from a parsed snapshot: compile,
// topology, symbolic evaluation, grouping and findings. It reports the size
// of the JSON report too.
func BenchmarkReport(b *testing.B) {
	for _, s := range benchSizes {
		b.Run(s.name, func(b *testing.B) {
			in := parseInput(b, scalegen.Generate(scalegen.Scale(s.div)))
			b.ReportAllocs()
			b.ResetTimer()
			cpu := processCPU()
			var r *Report
			for i := 0; i < b.N; i++ {
				r, _ = Build(in)
			}
			reportCPU(b, cpu)
			b.StopTimer()
			data, err := json.Marshal(r)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(len(data)), "json-bytes")
			b.ReportMetric(float64(len(r.Reachability)), "entries")
		})
	}
}

// BenchmarkReportLockdown is BenchmarkReport at full size with the
// lockdown on and 500 namespace owners' NetworkPolicies: the direct rows
// and their findings on top of the waypoint report.
func BenchmarkReportLockdown(b *testing.B) {
	cfg := scalegen.Scale(1)
	cfg.Lockdown, cfg.NetworkPolicies = true, 500
	in := parseInput(b, scalegen.Generate(cfg))
	b.ReportAllocs()
	b.ResetTimer()
	cpu := processCPU()
	var r *Report
	for i := 0; i < b.N; i++ {
		r, _ = Build(in)
	}
	reportCPU(b, cpu)
	b.StopTimer()
	b.ReportMetric(float64(len(r.Direct)), "direct-rows")
}

// BenchmarkReportJSON encodes the built report as egressctl simulate -o
// json and the operator's report ConfigMap do, source lists compacted.
func BenchmarkReportJSON(b *testing.B) {
	for _, s := range benchSizes {
		b.Run(s.name, func(b *testing.B) {
			r, _ := Build(parseInput(b, scalegen.Generate(scalegen.Scale(s.div))))
			b.ReportAllocs()
			b.ResetTimer()
			var data []byte
			for i := 0; i < b.N; i++ {
				var err error
				if data, err = json.Marshal(r); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(len(data)), "json-bytes")
		})
	}
}

// BenchmarkUpdatePolicy re-simulates after one policy changes, alternating
// between two versions of it, at each size.
func BenchmarkUpdatePolicy(b *testing.B) {
	for _, s := range benchSizes {
		b.Run(s.name, func(b *testing.B) {
			in := parseInput(b, scalegen.Generate(scalegen.Scale(s.div)))
			versions := [2]*simulator.AuthorizationPolicy{
				parsePolicy(b, policyDoc("pol-0", "", "svc-0", "ALLOW", `[{from: [{source: {namespaces: [ns-1]}}]}]`)),
				parsePolicy(b, policyDoc("pol-0", "", "svc-0", "ALLOW", `[{to: [{operation: {methods: [GET]}}]}]`)),
			}
			snaps := [2]*simulator.Snapshot{replacePolicy(in.Snapshot, versions[0]), replacePolicy(in.Snapshot, versions[1])}
			var bl Builder
			bl.Build(in)
			b.ReportAllocs()
			b.ResetTimer()
			cpu := processCPU()
			for i := 0; i < b.N; i++ {
				in.Snapshot = snaps[i%2]
				bl.UpdatePolicy(in, versions[i%2])
			}
			reportCPU(b, cpu)
		})
	}
}

// processCPU is the CPU time the process used so far (user and system,
// garbage collection included). On a shared machine wall time depends on
// the neighbors; CPU time per operation does not.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func reportCPU(b *testing.B, since time.Duration) {
	b.ReportMetric(float64(processCPU()-since)/float64(b.N), "cpu-ns/op")
}

// TestReportScaleJSONStable checks at 10 times below full size that the
// JSON is stable across builds and that the report grows with the policies:
// far fewer entries than sources times destinations.
func TestReportScaleJSONStable(t *testing.T) {
	in := parseInput(t, scalegen.Generate(scalegen.Scale(10)))
	r1, _ := Build(in)
	r2, _ := Build(in)
	a, _ := json.Marshal(r1)
	c, _ := json.Marshal(r2)
	if !bytes.Equal(a, c) {
		t.Fatal("two builds of the same input differ")
	}
	sources, dests := 0, len(r1.Destinations)
	for _, g := range r1.Groups {
		sources += g.Count
	}
	if len(r1.Reachability) > 3*dests+len(in.Snapshot.AuthorizationPolicies)*3 {
		t.Errorf("%d entries for %d sources x %d destinations: grouping does not work", len(r1.Reachability), sources, dests)
	}
	var back Report
	if err := json.Unmarshal(a, &back); err != nil {
		t.Fatal(err)
	}
	compacted := 0
	for i, e := range r1.Reachability {
		if !slices.Equal(back.Reachability[i].Sources, e.Sources) {
			t.Fatalf("entry %d of %s: sources do not read back: got %d principals, want %d", i, e.Destination, len(back.Reachability[i].Sources), len(e.Sources))
		}
	}
	if bytes.Contains(a, []byte(`"notSources"`)) || bytes.Contains(a, []byte(`"*/sa/`)) {
		compacted++
	}
	if compacted == 0 {
		t.Errorf("no entry was written compactly at this size: the JSON lists every principal")
	}
	t.Logf("%d sources, %d destinations, %d entries, %d bytes", sources, dests, len(r1.Reachability), len(a))
}

// BenchmarkAdversarial builds the report of each adversarial shape at 5, 7,
// 20 and 100 policies of five rules under DefaultBudget, and reports how
// many entries came out inexact (past the budget).
func BenchmarkAdversarial(b *testing.B) {
	for _, shape := range adversarialShapes {
		for _, n := range []int{5, 7, 20, 100} {
			b.Run(fmt.Sprintf("%s/%d", shape, n), func(b *testing.B) {
				in := parseInput(b, adversarialManifests(shape, n, uint64(n)))
				b.ReportAllocs()
				b.ResetTimer()
				var r *Report
				for i := 0; i < b.N; i++ {
					r, _ = Build(in)
				}
				b.StopTimer()
				inexact := 0
				for _, e := range r.Reachability {
					if e.Inexact {
						inexact++
					}
				}
				b.ReportMetric(float64(inexact), "inexact-entries")
			})
		}
	}
}
