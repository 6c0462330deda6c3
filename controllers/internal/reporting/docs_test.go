package reporting

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"regexp"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/util/jsonpath"

	"github.com/ambient-egress/ambient-egress-operator/simulator/reach"
)

// docReportCommand is a "kubectl get cm ... -o jsonpath" line of
// docs/report.md, with or without "| base64 -d | gunzip".
var docReportCommand = regexp.MustCompile(`kubectl get cm (\S+) -n (\S+) -o jsonpath='([^']+)'( \| base64 -d \| gunzip)?`)

// TestDocReportCommands runs the commands docs/report.md gives for reading
// the report ConfigMap, as kubectl would (its JSONPath library over the
// object's JSON), on the ConfigMaps the operator writes for a small and a
// large report: each must print a report.
func TestDocReportCommands(t *testing.T) {
	data, err := os.ReadFile("../../../docs/report.md")
	if err != nil {
		t.Fatal(err)
	}
	cmds := docReportCommand.FindAllStringSubmatch(string(data), -1)
	if len(cmds) != 2 {
		t.Fatalf("found %d kubectl get cm commands in docs/report.md, want 2 (plain and compressed)", len(cmds))
	}
	small := &reach.Report{Findings: []reach.Finding{{Severity: reach.SeverityInfo, Code: "X", Message: "m"}}}
	big := &reach.Report{}
	for i := range 20000 {
		big.Findings = append(big.Findings, reach.Finding{Severity: reach.SeverityWarning, Code: reach.CodeRuleNeverMatches,
			Object: fmt.Sprintf("AuthorizationPolicy ns/p%05d", i), Message: "this rule can never match on any destination"})
	}
	for _, cmd := range cmds {
		name, namespace, template, gunzip := cmd[1], cmd[2], cmd[3], cmd[4] != ""
		if name != ReportName("waypoint") || namespace != "istio-egress" {
			t.Errorf("%s: the seed's report ConfigMap is %s in istio-egress", cmd[0], ReportName("waypoint"))
		}
		report := small
		if gunzip {
			report = big
		}
		cm, err := ReportConfigMap(namespace, name, "d", nil, report)
		if err != nil {
			t.Fatal(err)
		}
		out := kubectlJSONPath(t, cm, template)
		if gunzip {
			out = gunzipBase64(t, out)
		}
		var back reach.Report
		if err := json.Unmarshal(out, &back); err != nil || len(back.Findings) != len(report.Findings) {
			t.Errorf("%s: prints no report (%v, %d findings)", cmd[0], err, len(back.Findings))
		}
	}
}

// kubectlJSONPath evaluates a template as kubectl get -o jsonpath does: on
// the object's JSON form (where binaryData is base64).
func kubectlJSONPath(t *testing.T, cm *corev1.ConfigMap, template string) []byte {
	t.Helper()
	raw, err := json.Marshal(cm)
	if err != nil {
		t.Fatal(err)
	}
	var obj map[string]any
	if err := json.Unmarshal(raw, &obj); err != nil {
		t.Fatal(err)
	}
	jp := jsonpath.New("out").AllowMissingKeys(true)
	if err := jp.Parse(template); err != nil {
		t.Fatalf("%s: %v", template, err)
	}
	var out bytes.Buffer
	if err := jp.Execute(&out, obj); err != nil {
		t.Fatalf("%s: %v", template, err)
	}
	return out.Bytes()
}

func gunzipBase64(t *testing.T, in []byte) []byte {
	t.Helper()
	gz, err := base64.StdEncoding.DecodeString(string(in))
	if err != nil {
		t.Fatalf("base64 -d: %v", err)
	}
	zr, err := gzip.NewReader(bytes.NewReader(gz))
	if err != nil {
		t.Fatalf("gunzip: %v", err)
	}
	out, err := io.ReadAll(zr)
	if err != nil {
		t.Fatalf("gunzip: %v", err)
	}
	return out
}
