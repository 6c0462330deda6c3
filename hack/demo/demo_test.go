package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestFullClusterBinariesFollowHackCluster keeps the demo's view of the
// cluster binaries in step with hack/cluster: if the demo could not read
// hack/cluster's versions, it would quietly fall back to the plain API
// server on a machine where the full cluster is built.
func TestFullClusterBinariesFollowHackCluster(t *testing.T) {
	t.Setenv("KWOK_VERSION", "")
	t.Setenv("ISTIO_VERSION", "")
	d := &demo{root: repoRoot(t)}
	bins, err := d.fullClusterBinaries()
	if err != nil {
		t.Fatal(err)
	}
	want := []*regexp.Regexp{
		regexp.MustCompile(`^bin/e2e/kwok-v[0-9][^/]*/kwok$`),
		regexp.MustCompile(`^bin/e2e/kwok-v[0-9][^/]*/kwokctl$`),
		regexp.MustCompile(`^bin/e2e/istio-v[0-9][^/]*/pilot-discovery$`),
		regexp.MustCompile(`^bin/k8s/v1\.[0-9]+\.[0-9]+/etcd$`),
		regexp.MustCompile(`^bin/k8s/v1\.[0-9]+\.[0-9]+/kube-apiserver$`),
		regexp.MustCompile(`^bin/k8s/v1\.[0-9]+\.[0-9]+/kubectl$`),
		regexp.MustCompile(`^bin/k8s/v1\.[0-9]+\.[0-9]+/kube-controller-manager$`),
		regexp.MustCompile(`^bin/k8s/v1\.[0-9]+\.[0-9]+/kube-scheduler$`),
	}
	if len(bins) != len(want) {
		t.Fatalf("binaries = %v, want %d of them", bins, len(want))
	}
	for i, re := range want {
		if !re.MatchString(filepath.ToSlash(bins[i])) {
			t.Errorf("binary %d = %s, want it to match %s", i, bins[i], re)
		}
	}

	// The same overrides hack/cluster reads.
	t.Setenv("KWOK_VERSION", "v9.9.9")
	bins, err = d.fullClusterBinaries()
	if err != nil {
		t.Fatal(err)
	}
	if got := filepath.ToSlash(bins[0]); got != "bin/e2e/kwok-v9.9.9/kwok" {
		t.Errorf("with KWOK_VERSION=v9.9.9: %s, want bin/e2e/kwok-v9.9.9/kwok", got)
	}
}

func TestGatewayStateSummary(t *testing.T) {
	cases := []struct {
		name        string
		st          gatewayState
		wantSummary string
		wantTrue    map[string]bool
	}{
		{
			name:        "nothing yet",
			wantSummary: "no conditions yet",
			wantTrue:    map[string]bool{"Simulated": false},
		},
		{
			name: "current",
			st: gatewayState{conditions: []condition{
				{Type: "Simulated", Status: "True", Reason: "AsExpected", Current: true},
				{Type: "WaypointReady", Status: "False", Reason: "WaitingForIstiod", Current: true},
			}},
			wantSummary: "Simulated=True  WaypointReady=False (WaitingForIstiod)",
			wantTrue:    map[string]bool{"Simulated": true, "WaypointReady": false, "Ready": false},
		},
		{
			name: "partly for an older spec",
			st: gatewayState{conditions: []condition{
				{Type: "Released", Status: "True", Current: true},
				{Type: "Simulated", Status: "True", Current: false},
			}},
			wantSummary: "Released=True  Simulated=True [older spec]",
			wantTrue:    map[string]bool{"Released": true, "Simulated": false},
		},
		{
			name: "all for an older spec",
			st: gatewayState{conditions: []condition{
				{Type: "Simulated", Status: "True", Current: false},
			}},
			wantSummary: "the operator has not seen the new spec yet",
			wantTrue:    map[string]bool{"Simulated": false},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.st.summary(); got != tc.wantSummary {
				t.Errorf("summary = %q, want %q", got, tc.wantSummary)
			}
			for typ, want := range tc.wantTrue {
				if got := tc.st.isTrue(typ); got != want {
					t.Errorf("isTrue(%s) = %v, want %v", typ, got, want)
				}
			}
		})
	}
}

// repoRoot is two directories above this package.
func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil || !strings.HasPrefix(string(data), "module github.com/ambient-egress/ambient-egress-operator\n") {
		t.Fatalf("%s is not the repository root: %v", root, err)
	}
	return root
}
