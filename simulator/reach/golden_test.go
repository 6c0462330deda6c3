package reach_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/ambient-egress/ambient-egress-operator/simulator"
	"github.com/ambient-egress/ambient-egress-operator/simulator/reach"
	"github.com/ambient-egress/ambient-egress-operator/simulator/render"
)

var update = flag.Bool("update", false, "rewrite the golden files of testdata/<scenario>/want.*")

// goldenFormats are the renderings checked against testdata/<case>/want.<format>.
var goldenFormats = []string{"table", "json", "yaml", "dot", "mermaid"}

// TestGolden renders the report of every scenario in every format and
// compares it byte for byte with the golden files; run with -update to
// rewrite them after an intended change.
func TestGolden(t *testing.T) {
	dirs, err := filepath.Glob("testdata/*/input")
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no scenarios: %v", err)
	}
	for _, input := range dirs {
		dir := filepath.Dir(input)
		t.Run(filepath.Base(dir), func(t *testing.T) {
			r := buildScenario(t, dir)
			for _, format := range goldenFormats {
				var out bytes.Buffer
				if err := render.Write(&out, r, format); err != nil {
					t.Fatal(err)
				}
				compareGolden(t, filepath.Join(dir, "want."+format), out.Bytes())
			}
		})
	}
}

// TestStableOutput builds each scenario twice from freshly loaded inputs
// and requires identical JSON: the report is sorted, not map-ordered.
func TestStableOutput(t *testing.T) {
	for _, dir := range []string{"testdata/seed", "testdata/mixed"} {
		var outs [2]bytes.Buffer
		for i := range outs {
			if err := render.JSON(&outs[i], buildScenario(t, dir)); err != nil {
				t.Fatal(err)
			}
		}
		if !bytes.Equal(outs[0].Bytes(), outs[1].Bytes()) {
			t.Errorf("%s: two builds differ", dir)
		}
	}
}

func buildScenario(t *testing.T, dir string) *reach.Report {
	t.Helper()
	input := filepath.Join(dir, "input")
	snap, _, err := simulator.Load(input)
	if err != nil {
		t.Fatal(err)
	}
	accounts, err := reach.LoadServiceAccounts(input)
	if err != nil {
		t.Fatal(err)
	}
	in := reach.Input{Snapshot: snap, ServiceAccounts: accounts}
	if probes := filepath.Join(dir, "probes.yaml"); fileExists(probes) {
		if in.Probes, err = reach.LoadProbes(probes); err != nil {
			t.Fatal(err)
		}
	}
	r, issues := reach.Build(in)
	if issues.HasErrors() {
		t.Fatalf("invalid scenario: %v", issues.Err())
	}
	return r
}

func compareGolden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, got, 0o600); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the output (run go test -update after an intended change):\n%s", path, got)
	}
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// TestDecodedReportRendersTheSame reads every golden JSON report back, as
// egressctl report does with an EgressGateway's status, and requires every
// rendering of the decoded report to equal the golden of the built one.
func TestDecodedReportRendersTheSame(t *testing.T) {
	files, err := filepath.Glob("testdata/*/want.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no golden reports: %v", err)
	}
	for _, file := range files {
		dir := filepath.Dir(file)
		t.Run(filepath.Base(dir), func(t *testing.T) {
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			var r reach.Report
			if err := json.Unmarshal(data, &r); err != nil {
				t.Fatal(err)
			}
			for _, format := range goldenFormats {
				var out bytes.Buffer
				if err := render.Write(&out, &r, format); err != nil {
					t.Fatal(err)
				}
				want, err := os.ReadFile(filepath.Join(dir, "want."+format))
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(out.Bytes(), want) {
					t.Errorf("%s of the decoded report differs from want.%s:\n%s", format, format, out.String())
				}
			}
		})
	}
}
