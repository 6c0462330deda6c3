package main

import (
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite docs/demo-transcript.txt from the transcript")

// TestTranscript compares the transcript of the last `make demo` (plain
// mode), named by EGRESS_DEMO_TRANSCRIPT, with docs/demo-transcript.txt,
// the transcript the docs show: so the documented demo is the demo's own
// output and cannot go stale. `make demo-check` (part of `make test`) runs
// the demo and then this test; a plain `go test ./...` has no transcript
// and skips it.
func TestTranscript(t *testing.T) {
	path := os.Getenv("EGRESS_DEMO_TRANSCRIPT")
	if path == "" {
		t.Skip("EGRESS_DEMO_TRANSCRIPT is not set: run make demo-check")
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	root := repoRoot(t)
	got := maskTranscript(string(data), root)
	golden := filepath.Join(root, "docs", "demo-transcript.txt")
	if *update {
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	g, w := strings.Split(got, "\n"), strings.Split(string(want), "\n")
	for i := range max(len(g), len(w)) {
		gl, wl := "", ""
		if i < len(g) {
			gl = g[i]
		}
		if i < len(w) {
			wl = w[i]
		}
		if squeeze(gl) != squeeze(wl) {
			t.Fatalf("the demo's transcript differs from docs/demo-transcript.txt at line %d (volatile parts masked; "+
				"regenerate with: EGRESS_DEMO_TRANSCRIPT=%s go test ./hack/demo -run TestTranscript -update):\n got  %q\n want %q",
				i+1, path, gl, wl)
		}
	}
}

// squeeze collapses runs of spaces: kubectl and tabwriter pad columns to
// the widest value, and a masked value is wider or narrower than the one
// it hides.
func squeeze(s string) string { return strings.Join(strings.Fields(s), " ") }

var (
	// A progress line of a wait: how many there are depends on timing.
	progressLine = regexp.MustCompile(`^demo:\s+[0-9.]+s  `)
	duration     = regexp.MustCompile(`\b[0-9]+(\.[0-9]+)?(ms|s)\b`)
	localAddress = regexp.MustCompile(`127\.0\.0\.1:[0-9]+`)
	portLine     = regexp.MustCompile(`^(\s*- port: )([0-9]+)$`)
	age          = regexp.MustCompile(`\s[0-9]+[smh]\b`)
	objectMeta   = regexp.MustCompile(`^(\s*(creationTimestamp|resourceVersion|uid): ).*$`)
	// Released names the last Helm action (Installed, Upgraded) until a
	// later pass of the operator finds the release in sync (AsExpected);
	// whether that pass comes before the demo reads the status is timing.
	releasedRow = regexp.MustCompile(`^Released(\s+)True(\s+)(Installed|Upgraded|AsExpected)\s.*$`)
)

// maskTranscript keeps what the demo shows and masks what changes from run
// to run: durations, the local ports it picked, kubectl's AGE, object
// metadata the API server assigns, the repository's path, and the
// progress lines of its waits.
func maskTranscript(s, root string) string {
	var out []string
	for l := range strings.SplitSeq(s, "\n") {
		if progressLine.MatchString(l) || strings.HasPrefix(l, "controlplane: ") {
			continue
		}
		l = strings.ReplaceAll(l, root+"/", "")
		l = localAddress.ReplaceAllString(l, "127.0.0.1:PORT")
		if m := portLine.FindStringSubmatch(l); m != nil {
			// An ephemeral port (the API server's) in the lockdown policy.
			if p, _ := strconv.Atoi(m[2]); p >= 32768 {
				l = m[1] + "PORT"
			}
		}
		l = objectMeta.ReplaceAllString(l, "${1}MASKED")
		l = releasedRow.ReplaceAllString(l, "Released${1}True${2}RELEASED (the last Helm action, or AsExpected once in sync)")
		if strings.HasPrefix(l, "demo:") {
			l = duration.ReplaceAllString(l, "DURATION")
		} else {
			l = age.ReplaceAllString(l, " AGE")
		}
		out = append(out, l)
	}
	return strings.Join(out, "\n")
}

func TestMaskTranscript(t *testing.T) {
	in := strings.Join([]string{
		"demo: built in 31s",
		"controlplane: etcd present in bin/k8s/v1.37.2, not rebuilding",
		"demo: API server up on https://127.0.0.1:36697 in 7.2s",
		"demo:     1.0s  Released=True",
		"waypoint   False   waypoint   0          1              2           1        1          1s",
		"$ kubectl apply --server-side -f /repo/bin/demo/kube-dns.yaml",
		"  resourceVersion: \"332\"",
		"    - port: 36697",
		"    - port: 15008",
		"Released       True    Installed         installed Helm release egw-waypoint (chart 0.1.0)",
	}, "\n")
	want := strings.Join([]string{
		"demo: built in DURATION",
		"demo: API server up on https://127.0.0.1:PORT in DURATION",
		"waypoint   False   waypoint   0          1              2           1        1          AGE",
		"$ kubectl apply --server-side -f bin/demo/kube-dns.yaml",
		"  resourceVersion: MASKED",
		"    - port: PORT",
		"    - port: 15008",
		"Released       True    RELEASED (the last Helm action, or AsExpected once in sync)",
	}, "\n")
	if got := maskTranscript(in, "/repo"); got != want {
		t.Errorf("masked:\n%s\nwant:\n%s", got, want)
	}
}
