//go:build scorecard

package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	scapiv1alpha3 "github.com/operator-framework/api/pkg/apis/scorecard/v1alpha3"
	"sigs.k8s.io/yaml"
)

// TestScorecard runs every test of bundle/tests/scorecard/config.yaml with
// the scorecard-test binary hack/scorecard.sh built, as its image would run
// it: the entrypoint's arguments, the bundle at /bundle. Every test must
// pass with no errors.
func TestScorecard(t *testing.T) {
	bin, version := os.Getenv("SCORECARD_TEST"), os.Getenv("SCORECARD_VERSION")
	if bin == "" || version == "" {
		t.Fatal("SCORECARD_TEST and SCORECARD_VERSION are unset: run hack/scorecard.sh (make scorecard)")
	}
	data, err := os.ReadFile("../../bundle/tests/scorecard/config.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cfg := scapiv1alpha3.Configuration{}
	if err := yaml.UnmarshalStrict(data, &cfg); err != nil {
		t.Fatalf("bundle/tests/scorecard/config.yaml: %v", err)
	}
	chroot := t.TempDir()
	if out, err := exec.Command("cp", "-r", "../../bundle", filepath.Join(chroot, "bundle")).CombinedOutput(); err != nil {
		t.Fatalf("copying the bundle: %v: %s", err, out)
	}
	if out, err := exec.Command("cp", bin, filepath.Join(chroot, "scorecard-test")).CombinedOutput(); err != nil {
		t.Fatalf("copying scorecard-test: %v: %s", err, out)
	}
	ran := 0
	for _, stage := range cfg.Stages {
		for _, test := range stage.Tests {
			name := test.Labels["test"]
			t.Run(name, func(t *testing.T) {
				if !strings.HasSuffix(test.Image, ":"+version) {
					t.Errorf("image %s: the config should name the scorecard-test release that is run here, %s", test.Image, version)
				}
				if len(test.Entrypoint) < 2 || test.Entrypoint[0] != "scorecard-test" {
					t.Fatalf("entrypoint %v: not a scorecard-test test", test.Entrypoint)
				}
				cmd := exec.Command("chroot", append([]string{chroot, "/scorecard-test"}, test.Entrypoint[1:]...)...)
				cmd.Env = []string{} // nothing from the host leaks into the "image"
				out, err := cmd.Output()
				if err != nil {
					t.Fatalf("%v: %v\n%s", test.Entrypoint, err, out)
				}
				status := scapiv1alpha3.TestStatus{}
				if err := json.Unmarshal(out, &status); err != nil {
					t.Fatalf("%v printed no TestStatus: %v\n%s", test.Entrypoint, err, out)
				}
				if len(status.Results) == 0 {
					t.Fatalf("%v: no results", test.Entrypoint)
				}
				for _, r := range status.Results {
					t.Logf("%s: %s %v", r.Name, r.State, r.Suggestions)
					if r.State != scapiv1alpha3.PassState || len(r.Errors) > 0 {
						t.Errorf("%s: %s, errors %v, log %s", r.Name, r.State, r.Errors, r.Log)
					}
				}
			})
			ran++
		}
	}
	if ran != 6 {
		t.Errorf("ran %d scorecard tests, want the basic suite's one and the OLM suite's five", ran)
	}
}
