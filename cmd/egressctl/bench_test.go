package main

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/ambient-egress/ambient-egress-operator/simulator/reach"
	"github.com/ambient-egress/ambient-egress-operator/simulator/reach/scalegen"
	"github.com/ambient-egress/ambient-egress-operator/simulator/render"
)

// BenchmarkSimulateFullSize runs egressctl simulate -o json end to end on
// the full size (10,000 service accounts, 1,000 ServiceEntries,
// 2,000 policies, as hack/reachgen writes them): read, decode, validate
// against the CRDs, simulate, encode. The phase sub-benchmarks split the
// same work into decoding (with validation), simulating and encoding.
// The first run of a process also builds the CRD validators and grows its
// heap, which the iterations here do once; time the binary for that.
func BenchmarkSimulateFullSize(b *testing.B) {
	path := filepath.Join(b.TempDir(), "full.yaml")
	if err := os.WriteFile(path, []byte(scalegen.Generate(scalegen.Scale(1))), 0o600); err != nil {
		b.Fatal(err)
	}
	b.Run("end-to-end", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if code := run([]string{"simulate", "-f", path, "-o", "json"}, io.Discard, io.Discard); code != 0 {
				b.Fatalf("exit code %d", code)
			}
		}
	})
	b.Run("phases", func(b *testing.B) {
		var load, sim, enc time.Duration
		m := &meshOptions{meshFlags: meshFlags{trustDomain: "cluster.local", rootNS: "istio-system", customVerd: "allow"}, budget: reach.DefaultBudget}
		for b.Loop() {
			t0 := time.Now()
			in, err := m.loadReachInput(inputOptions{files: []string{path}}, nil)
			if err != nil {
				b.Fatal(err)
			}
			t1 := time.Now()
			r, err := buildReport(context.Background(), in)
			if err != nil {
				b.Fatal(err)
			}
			t2 := time.Now()
			var out bytes.Buffer
			if err := render.JSON(&out, r); err != nil {
				b.Fatal(err)
			}
			load, sim, enc = load+t1.Sub(t0), sim+t2.Sub(t1), enc+time.Since(t2)
		}
		n := float64(b.N) * float64(time.Millisecond)
		b.ReportMetric(float64(load)/n, "decode-ms/op")
		b.ReportMetric(float64(sim)/n, "simulate-ms/op")
		b.ReportMetric(float64(enc)/n, "encode-ms/op")
	})
}
