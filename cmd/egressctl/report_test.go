package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	egressv1alpha1 "github.com/ambient-egress/ambient-egress-operator/apis/egress/v1alpha1"
	"github.com/ambient-egress/ambient-egress-operator/simulator/reach"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// reportNS is the namespace of the test kubeconfig's context: report finds
// gateways there without -n.
const reportNS = "egress-report"

// reportEnv is a real kube-apiserver with our CRD, a client to arrange
// objects, and a kubeconfig for egressctl.
type reportEnv struct {
	c          client.Client
	kubeconfig string
}

// startReportEnv starts kube-apiserver and etcd from KUBEBUILDER_ASSETS
// (make test sets it) with only our CRD installed.
func startReportEnv(t *testing.T) *reportEnv {
	t.Helper()
	assets := os.Getenv("KUBEBUILDER_ASSETS")
	if assets == "" {
		t.Skip("KUBEBUILDER_ASSETS is unset: egressctl report needs a kube-apiserver; " +
			"run make test, or set KUBEBUILDER_ASSETS=$(hack/controlplane.sh | tail -1)")
	}
	scheme := runtime.NewScheme()
	utilruntime.Must(clientgoscheme.AddToScheme(scheme))
	utilruntime.Must(egressv1alpha1.AddToScheme(scheme))
	te := &envtest.Environment{
		BinaryAssetsDirectory: assets,
		Scheme:                scheme,
		CRDInstallOptions: envtest.CRDInstallOptions{
			Paths:              []string{filepath.Join("..", "..", "config", "crd", "bases")},
			ErrorIfPathMissing: true,
			Scheme:             scheme,
		},
	}
	cfg, err := te.Start()
	if err != nil {
		t.Fatalf("starting kube-apiserver and etcd from %s: %v", assets, err)
	}
	t.Cleanup(func() {
		if err := te.Stop(); err != nil {
			t.Errorf("stopping the control plane: %v", err)
		}
	})
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: reportNS}}); err != nil {
		t.Fatal(err)
	}
	return &reportEnv{c: c, kubeconfig: writeKubeconfig(t, cfg, reportNS)}
}

// writeKubeconfig writes a kubeconfig for cfg whose context's namespace is
// namespace.
func writeKubeconfig(t *testing.T, cfg *rest.Config, namespace string) string {
	t.Helper()
	kc := clientcmdapi.NewConfig()
	kc.Clusters["envtest"] = &clientcmdapi.Cluster{Server: cfg.Host, CertificateAuthorityData: cfg.CAData}
	kc.AuthInfos["admin"] = &clientcmdapi.AuthInfo{ClientCertificateData: cfg.CertData, ClientKeyData: cfg.KeyData, Token: cfg.BearerToken}
	kc.Contexts["envtest"] = &clientcmdapi.Context{Cluster: "envtest", AuthInfo: "admin", Namespace: namespace}
	kc.CurrentContext = "envtest"
	p := filepath.Join(t.TempDir(), "kubeconfig")
	if err := clientcmd.WriteToFile(*kc, p); err != nil {
		t.Fatal(err)
	}
	return p
}

// createGateway creates an EgressGateway and writes its status through the
// status subresource, as the operator does.
func (e *reportEnv) createGateway(t *testing.T, namespace, name string, st egressv1alpha1.EgressGatewayStatus) {
	t.Helper()
	ctx := context.Background()
	egw := &egressv1alpha1.EgressGateway{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name}}
	if err := e.c.Create(ctx, egw); err != nil {
		t.Fatalf("creating EgressGateway %s/%s: %v", namespace, name, err)
	}
	egw.Status = st
	if err := e.c.Status().Update(ctx, egw); err != nil {
		t.Fatalf("writing the status of EgressGateway %s/%s: %v", namespace, name, err)
	}
}

func (e *reportEnv) createConfigMap(t *testing.T, cm *corev1.ConfigMap) {
	t.Helper()
	if err := e.c.Create(context.Background(), cm); err != nil {
		t.Fatalf("creating ConfigMap %s: %v", cm.Name, err)
	}
}

var lastRun = metav1.NewTime(time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC))

func condition(typ string, status metav1.ConditionStatus, reason, message string) metav1.Condition {
	return metav1.Condition{Type: typ, Status: status, Reason: reason, Message: message, LastTransitionTime: lastRun}
}

// simulatedTrue are the conditions of a gateway whose report is current.
func simulatedTrue() []metav1.Condition {
	return []metav1.Condition{
		condition("Ready", metav1.ConditionFalse, "NotReady", "the waypoint has 0 of 1 ready replicas"),
		condition(egressv1alpha1.ConditionSimulated, metav1.ConditionTrue, "AsExpected", "1 destination, 2 groups, 1 finding"),
	}
}

// smallStatus is a hand-written status: one destination that one service
// account may use entirely and every other source not at all.
const smallStatus = `{
  "destinations": [{"host": "api.example.com", "serviceEntry": "egress-report/api", "waypoint": "egress-report/waypoint",
    "boundToThisGateway": true, "policies": ["egress-report/api"], "ports": [{"number": 443, "protocol": "TLS"}]}],
  "simulation": {
    "inputsDigest": "sha256:small",
    "summary": {"sources": 2, "groups": 2, "destinations": 1, "policies": 1, "pairs": {"all": 1, "partial": 0, "none": 1},
      "reachable": 1, "findings": {"total": 1, "errors": 0, "warnings": 1, "info": 0}},
    "reachability": [
      {"destination": "api.example.com:443", "otherSources": true, "access": "none",
       "decidedBy": [{"effect": "deny", "policy": "egress-report/api", "rule": -1, "reason": "no ALLOW rule matches"}]},
      {"destination": "api.example.com:443", "sources": ["cluster.local/ns/app/sa/client"], "access": "all",
       "allowed": [{"policy": "egress-report/api", "rule": 0}],
       "decidedBy": [{"effect": "allow", "policy": "egress-report/api", "rule": 0, "reason": "ALLOW rule matches"}]}
    ],
    "groups": [
      {"name": "app/client", "principals": ["cluster.local/ns/app/sa/client"], "count": 1},
      {"name": "others", "principals": ["cluster.local/ns/app/sa/default"], "count": 1}
    ],
    "findings": [{"severity": "warning", "code": "DryRunPolicy", "object": "AuthorizationPolicy egress-report/audit",
      "message": "the policy is in dry-run and enforces nothing", "fix": "remove the dry-run annotation to enforce it"}],
    "probes": [
      {"name": "GET https://api.example.com/ from cluster.local/ns/app/sa/client", "verdict": "ALLOW",
       "policy": "egress-report/api", "rule": 0, "reason": "ALLOW rule matches"},
      {"name": "GET https://api.example.com:8443/ from cluster.local/ns/app/sa/client", "rule": -1,
       "error": "no destination api.example.com:8443"}
    ]
  }
}`

func parseStatus(t *testing.T, doc string) egressv1alpha1.EgressGatewayStatus {
	t.Helper()
	var st egressv1alpha1.EgressGatewayStatus
	dec := json.NewDecoder(strings.NewReader(doc))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&st); err != nil {
		t.Fatalf("test status: %v", err)
	}
	return st
}

// seedReport is the report egressctl simulate computes for the seed.
func seedReport(t *testing.T) (*reach.Report, []byte) {
	t.Helper()
	code, out, errOut := runCLI(t, "simulate", "-f", reachSeed, "-o", "json")
	if code != exitOK {
		t.Fatalf("simulate the seed: exit %d: %s", code, errOut)
	}
	in, err := (&meshOptions{trustDomain: "cluster.local", rootNS: "istio-system", customVerd: "allow"}).loadReachInput(inputOptions{files: []string{reachSeed}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	r, err := buildReport(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	return r, []byte(out)
}

// seedStatus puts the seed report in a status the way the operator does:
// reachability, groups and findings share the report's JSON shape, and
// status.destinations has one entry per ServiceEntry host.
func seedStatus(t *testing.T, r *reach.Report) egressv1alpha1.EgressGatewayStatus {
	t.Helper()
	data, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	st := egressv1alpha1.EgressGatewayStatus{Conditions: simulatedTrue(), Simulation: &egressv1alpha1.SimulationStatus{
		InputsDigest: "sha256:seed", LastRunTime: &lastRun}}
	if err := json.Unmarshal(data, st.Simulation); err != nil {
		t.Fatal(err)
	}
	for _, d := range r.Destinations {
		ds := egressv1alpha1.DestinationStatus{Host: d.Host, ServiceEntry: d.ServiceEntry, Policies: d.Policies,
			Ports: []egressv1alpha1.DestinationPortStatus{{Number: int32(d.Port), Protocol: d.Protocol, TargetPort: int32(d.TargetPort)}}}
		if d.Waypoint != nil {
			ds.Waypoint = *d.Waypoint
		}
		if d.TLSOrigination != nil {
			ds.Ports[0].TLSOrigination = d.TLSOrigination.Mode
		}
		st.Destinations = append(st.Destinations, ds)
	}
	return st
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	p := filepath.Join("testdata", "report", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(got), 0o600); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("%v (run go test -update to write it)", err)
	}
	if got != string(want) {
		t.Errorf("output differs from %s:\n--- got\n%s\n--- want\n%s", p, got, want)
	}
}

func TestReport(t *testing.T) {
	e := startReportEnv(t)
	kc := []string{"--kubeconfig", e.kubeconfig}

	small := parseStatus(t, smallStatus)
	small.Conditions = simulatedTrue()
	small.Simulation.LastRunTime = &lastRun
	e.createGateway(t, reportNS, "small", small)

	t.Run("status table and json", func(t *testing.T) {
		// No -n: the namespace of the kubeconfig's context.
		code, out, errOut := runCLI(t, append([]string{"report", "small"}, kc...)...)
		if code != exitOK || errOut != "" {
			t.Fatalf("exit %d, stderr %s", code, errOut)
		}
		golden(t, "small.table", out)
		code, out, errOut = runCLI(t, append([]string{"report", "-n", reportNS, "small", "-o", "json"}, kc...)...)
		if code != exitOK || errOut != "" {
			t.Fatalf("-o json: exit %d, stderr %s", code, errOut)
		}
		golden(t, "small.json", out)
	})

	t.Run("KUBECONFIG and graph formats", func(t *testing.T) {
		t.Setenv("KUBECONFIG", e.kubeconfig)
		for _, f := range []string{"yaml", "dot", "mermaid"} {
			code, out, errOut := runCLI(t, "report", "small", "-o", f)
			if code != exitOK || !strings.Contains(out, "api.example.com") {
				t.Errorf("-o %s: exit %d, stderr %s\n%s", f, code, errOut, out)
			}
			if strings.Contains(out, "CONDITION") {
				t.Errorf("-o %s prints the conditions table:\n%s", f, out)
			}
		}
	})

	seed, seedJSON := seedReport(t)

	// The seed's reachability, groups and findings survive the trip through
	// the API server's status and back into the report's JSON.
	t.Run("seed from status", func(t *testing.T) {
		e.createGateway(t, reportNS, "seed-status", seedStatus(t, seed))
		code, out, errOut := runCLI(t, append([]string{"report", "seed-status", "-o", "json"}, kc...)...)
		if code != exitOK || errOut != "" {
			t.Fatalf("exit %d, stderr %s", code, errOut)
		}
		var got, want map[string]json.RawMessage
		if err := json.Unmarshal([]byte(out), &got); err != nil {
			t.Fatalf("output is not JSON: %v\n%s", err, out)
		}
		if err := json.Unmarshal(seedJSON, &want); err != nil {
			t.Fatal(err)
		}
		for _, k := range []string{"reachability", "groups", "findings"} {
			if !bytes.Equal(compact(t, got[k]), compact(t, want[k])) {
				t.Errorf("%s differs from egressctl simulate's:\n got  %s\n want %s", k, got[k], want[k])
			}
		}
		var dests []reach.Destination
		if err := json.Unmarshal(got["destinations"], &dests); err != nil || len(dests) != 1 {
			t.Fatalf("destinations %s: %v", got["destinations"], err)
		}
		d, w := dests[0], seed.Destinations[0]
		if d.Key() != w.Key() || d.Protocol != w.Protocol || d.ServiceEntry != w.ServiceEntry || d.Waypoint == nil ||
			*d.Waypoint != *w.Waypoint || strings.Join(d.Policies, ",") != strings.Join(w.Policies, ",") {
			t.Errorf("destination %+v, want %+v", d, w)
		}
	})

	// The status says what it left out and names the ConfigMap with the
	// whole report, plain or compressed: report prints it as simulate does.
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	if _, err := zw.Write(seedJSON); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		cm   corev1.ConfigMap
	}{
		{"seed-cm", corev1.ConfigMap{Data: map[string]string{egressv1alpha1.ReportKey: string(seedJSON)}}},
		{"seed-gz", corev1.ConfigMap{BinaryData: map[string][]byte{egressv1alpha1.CompressedReportKey: gz.Bytes()}}},
	} {
		t.Run("ConfigMap "+c.name, func(t *testing.T) {
			st := seedStatus(t, seed)
			st.Simulation.Reachability = st.Simulation.Reachability[:1]
			st.Simulation.ReportConfigMap = c.name + "-report"
			st.Simulation.Truncated = "left out 1 of 2 reachability entries; ConfigMap " + c.name + "-report holds the full report"
			e.createGateway(t, reportNS, c.name, st)
			cm := c.cm
			cm.ObjectMeta = metav1.ObjectMeta{Namespace: reportNS, Name: c.name + "-report",
				Annotations: map[string]string{egressv1alpha1.InputsDigestAnnotation: "sha256:seed"}}
			e.createConfigMap(t, &cm)
			code, out, errOut := runCLI(t, append([]string{"report", c.name, "-o", "json"}, kc...)...)
			if code != exitOK || errOut != "" {
				t.Fatalf("exit %d, stderr %s", code, errOut)
			}
			if out != string(seedJSON) {
				t.Errorf("report -o json differs from simulate -o json:\n got  %s\n want %s", out, seedJSON)
			}
			_, wantYAML, _ := runCLI(t, "simulate", "-f", reachSeed, "-o", "yaml")
			if code, out, errOut := runCLI(t, append([]string{"report", c.name, "-o", "yaml"}, kc...)...); code != exitOK || out != wantYAML {
				t.Errorf("report -o yaml: exit %d, stderr %s; differs from simulate -o yaml:\n got  %s\n want %s", code, errOut, out, wantYAML)
			}
			code, out, errOut = runCLI(t, append([]string{"report", c.name}, kc...)...)
			_, table, _ := runCLI(t, "simulate", "-f", reachSeed)
			if code != exitOK || !strings.HasPrefix(out, strings.TrimRight(table, "\n")+"\n\nCONDITION") {
				t.Errorf("table: exit %d, stderr %s\n got  %s\n want %s", code, errOut, out, table)
			}
		})
	}

	t.Run("stale ConfigMap", func(t *testing.T) {
		st := parseStatus(t, smallStatus)
		st.Conditions = simulatedTrue()
		st.Simulation.ReportConfigMap = "stale-report"
		st.Simulation.Truncated = "left out 3 group principals; ConfigMap stale-report holds the full report"
		e.createGateway(t, reportNS, "stale", st)
		e.createConfigMap(t, &corev1.ConfigMap{
			ObjectMeta: metav1.ObjectMeta{Namespace: reportNS, Name: "stale-report", Annotations: map[string]string{egressv1alpha1.InputsDigestAnnotation: "sha256:older"}},
			Data:       map[string]string{egressv1alpha1.ReportKey: string(seedJSON)}})
		code, out, errOut := runCLI(t, append([]string{"report", "stale", "-o", "json"}, kc...)...)
		if code != exitOK || !strings.Contains(errOut, "recomputing") || !strings.Contains(errOut, "left out 3 group principals") {
			t.Fatalf("exit %d, stderr %s", code, errOut)
		}
		golden(t, "small.json", out) // the status's report, not the ConfigMap's
	})

	t.Run("not found", func(t *testing.T) {
		code, _, errOut := runCLI(t, append([]string{"report", "-n", "elsewhere", "nope"}, kc...)...)
		if code != exitBadInput || !strings.Contains(errOut, "EgressGateway elsewhere/nope not found") {
			t.Errorf("exit %d, stderr %s", code, errOut)
		}
	})

	t.Run("no simulation yet", func(t *testing.T) {
		e.createGateway(t, reportNS, "pending", egressv1alpha1.EgressGatewayStatus{Conditions: []metav1.Condition{
			condition(egressv1alpha1.ConditionSimulated, metav1.ConditionFalse, "SimulationFailed", "listing ServiceAccounts in app: forbidden"),
		}})
		code, out, errOut := runCLI(t, append([]string{"report", "pending"}, kc...)...)
		if code != exitBadInput || out != "" || !strings.Contains(errOut, "EgressGateway "+reportNS+"/pending") ||
			!strings.Contains(errOut, "SimulationFailed") || !strings.Contains(errOut, "listing ServiceAccounts in app: forbidden") {
			t.Errorf("exit %d\nstdout %s\nstderr %s", code, out, errOut)
		}
		e.createGateway(t, reportNS, "fresh", egressv1alpha1.EgressGatewayStatus{})
		code, _, errOut = runCLI(t, append([]string{"report", "fresh"}, kc...)...)
		if code != exitBadInput || !strings.Contains(errOut, "no Simulated condition") {
			t.Errorf("fresh gateway: exit %d, stderr %s", code, errOut)
		}
	})

	t.Run("bad input", func(t *testing.T) {
		for _, args := range [][]string{{"report"}, {"report", "small", "-o", "xml"}, {"report", "small", "--bogus"}} {
			if code, _, _ := runCLI(t, append(args, kc...)...); code != exitBadInput {
				t.Errorf("%v: exit %d, want %d", args, code, exitBadInput)
			}
		}
	})
}

func compact(t *testing.T, data []byte) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := json.Compact(&b, data); err != nil {
		t.Fatalf("%v: %s", err, data)
	}
	return b.Bytes()
}
