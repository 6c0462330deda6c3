package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"slices"
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
	"github.com/ambient-egress/ambient-egress-operator/apis/egress/v1alpha1/reportstatus"
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
		condition(egressv1alpha1.ConditionSimulated, metav1.ConditionTrue, "AsExpected", "the report describes the current inputs"),
	}
}

// goldenStatus is the status the operator writes for the report of the
// simulator's seed-lockdown golden (probes, direct egress rows and all),
// converted as the operator converts it.
func goldenStatus(t *testing.T) egressv1alpha1.EgressGatewayStatus {
	t.Helper()
	data, err := os.ReadFile("../../simulator/reach/testdata/seed-lockdown/want.json")
	if err != nil {
		t.Fatal(err)
	}
	r := &reach.Report{}
	if err := json.Unmarshal(data, r); err != nil {
		t.Fatal(err)
	}
	st := statusOf(t, r)
	st.Simulation.InputsDigest = "sha256:small"
	return st
}

// seedReport is the report egressctl simulate computes for the seed.
func seedReport(t *testing.T) (*reach.Report, []byte) {
	t.Helper()
	code, out, errOut := runCLI(t, "simulate", "-f", reachSeed, "-o", "json")
	if code != exitOK {
		t.Fatalf("simulate the seed: exit %d: %s", code, errOut)
	}
	in, err := (&meshOptions{meshFlags: meshFlags{trustDomain: "cluster.local", rootNS: "istio-system", customVerd: "allow"}}).loadReachInput(inputOptions{files: []string{reachSeed}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	r, err := buildReport(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	return r, []byte(out)
}

// statusOf puts a report in a status the way the operator does when the
// whole report fits.
func statusOf(t *testing.T, r *reach.Report) egressv1alpha1.EgressGatewayStatus {
	t.Helper()
	sim, err := reportstatus.Simulation(r)
	if err != nil {
		t.Fatal(err)
	}
	sim.InputsDigest, sim.LastRunTime = "sha256:seed", &lastRun
	return egressv1alpha1.EgressGatewayStatus{Conditions: simulatedTrue(), Simulation: sim,
		Destinations: reportstatus.Destinations(r, reportNS+"/waypoint")}
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

	e.createGateway(t, reportNS, "small", goldenStatus(t))

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
			if code != exitOK || !strings.Contains(out, "httpbin.org") {
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
		e.createGateway(t, reportNS, "seed-status", statusOf(t, seed))
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
			st := statusOf(t, seed)
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
		st := goldenStatus(t)
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

// TestConditionsTableOrder: the table lists conditions in one order,
// whatever order the status holds them in (the order each was first set,
// which depends on timing): two reports of the same state print the same.
func TestConditionsTableOrder(t *testing.T) {
	conds := []metav1.Condition{
		condition("Custom", metav1.ConditionTrue, "X", "x"),
		condition(egressv1alpha1.ConditionSimulated, metav1.ConditionTrue, "AsExpected", "s"),
		condition(egressv1alpha1.ConditionWaypointReady, metav1.ConditionFalse, "WaitingForIstiod", "w"),
		condition(egressv1alpha1.ConditionReady, metav1.ConditionFalse, "NotReady", "r"),
		condition(egressv1alpha1.ConditionReleased, metav1.ConditionTrue, "AsExpected", "h"),
	}
	var first bytes.Buffer
	if err := conditionsTable(&first, conds); err != nil {
		t.Fatal(err)
	}
	var types []string
	for _, l := range strings.Split(strings.TrimSpace(first.String()), "\n")[1:] {
		types = append(types, strings.Fields(l)[0])
	}
	if got, want := strings.Join(types, " "), "Ready Released WaypointReady Simulated Custom"; got != want {
		t.Errorf("order %s, want %s", got, want)
	}
	slices.Reverse(conds)
	var second bytes.Buffer
	if err := conditionsTable(&second, conds); err != nil {
		t.Fatal(err)
	}
	if first.String() != second.String() {
		t.Errorf("the order of the status changes the table:\n%s\n%s", first.String(), second.String())
	}
}
