package reach

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/ambient-egress/ambient-egress-operator/simulator"
)

// loadScenario reads testdata/<case>: manifests in input/ and, when
// present, probes.yaml.
func loadScenario(t testing.TB, dir string) Input {
	t.Helper()
	input := filepath.Join(dir, "input")
	snap, _, err := simulator.Load(input)
	if err != nil {
		t.Fatalf("load %s: %v", input, err)
	}
	accounts, err := LoadServiceAccounts(input)
	if err != nil {
		t.Fatal(err)
	}
	in := Input{Snapshot: snap, ServiceAccounts: accounts}
	if _, err := os.Stat(filepath.Join(dir, "probes.yaml")); err == nil {
		if in.Probes, err = LoadProbes(filepath.Join(dir, "probes.yaml")); err != nil {
			t.Fatal(err)
		}
	}
	return in
}

// parseInput reads valid manifests from a string.
func parseInput(t testing.TB, manifests string) Input {
	t.Helper()
	snap, issues, err := simulator.Parse("generated.yaml", []byte(manifests))
	if err != nil {
		t.Fatal(err)
	}
	if issues.HasErrors() {
		t.Fatalf("generated manifests are invalid: %v", issues.Err())
	}
	return withAccounts(t, snap, manifests)
}

// parseLenient reads manifests that may hold objects Istio would reject.
func parseLenient(t testing.TB, manifests string) Input {
	t.Helper()
	snap, _, err := simulator.Parse("manifests.yaml", []byte(manifests))
	if err != nil {
		t.Fatal(err)
	}
	return withAccounts(t, snap, manifests)
}

func withAccounts(t testing.TB, snap *simulator.Snapshot, manifests string) Input {
	t.Helper()
	accounts, err := ServiceAccountsIn([]byte(manifests))
	if err != nil {
		t.Fatal(err)
	}
	return Input{Snapshot: snap, ServiceAccounts: accounts}
}
