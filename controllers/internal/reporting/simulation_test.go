package reporting

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	networkingv1alpha3 "istio.io/api/networking/v1alpha3"
	securityv1beta1 "istio.io/api/security/v1beta1"
	typev1beta1 "istio.io/api/type/v1beta1"
	istionetworkingv1 "istio.io/client-go/pkg/apis/networking/v1"
	istiosecurityv1 "istio.io/client-go/pkg/apis/security/v1"

	egressv1alpha1 "github.com/ambient-egress/ambient-egress-operator/apis/egress/v1alpha1"
	"github.com/ambient-egress/ambient-egress-operator/simulator"
	"github.com/ambient-egress/ambient-egress-operator/simulator/reach"
)

// seed is the seed scenario as the controller reads it from the cluster.
func seed() *Inputs {
	ns := func(name string, labels map[string]string) corev1.Namespace {
		return corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}}
	}
	return &Inputs{
		EgressGateway: &egressv1alpha1.EgressGateway{ObjectMeta: metav1.ObjectMeta{Name: "waypoint", Namespace: "istio-egress", ResourceVersion: "7"}},
		Namespaces: []corev1.Namespace{
			ns("default", map[string]string{"istio.io/dataplane-mode": "ambient"}),
			ns("istio-egress", map[string]string{"istio.io/use-waypoint": "waypoint"}),
		},
		ServiceEntries: []*istionetworkingv1.ServiceEntry{{
			ObjectMeta: metav1.ObjectMeta{Name: "httpbin.org", Namespace: "istio-egress"},
			Spec: networkingv1alpha3.ServiceEntry{Hosts: []string{"httpbin.org"}, Resolution: networkingv1alpha3.ServiceEntry_DNS,
				Ports: []*networkingv1alpha3.ServicePort{{Number: 80, Name: "http", Protocol: "HTTP"}}},
		}},
		AuthorizationPolicies: []*istiosecurityv1.AuthorizationPolicy{{
			ObjectMeta: metav1.ObjectMeta{Name: "httpbin", Namespace: "istio-egress"},
			Spec: securityv1beta1.AuthorizationPolicy{
				TargetRefs: []*typev1beta1.PolicyTargetReference{{Kind: "ServiceEntry", Group: "networking.istio.io", Name: "httpbin.org"}},
				Rules: []*securityv1beta1.Rule{
					{From: []*securityv1beta1.Rule_From{{Source: &securityv1beta1.Source{Principals: []string{"cluster.local/ns/default/sa/admin"}}}}},
					{To: []*securityv1beta1.Rule_To{{Operation: &securityv1beta1.Operation{Methods: []string{"GET"}, Paths: []string{"/get"}}}}},
				},
			},
		}},
		ServiceAccounts: []reach.Ref{{Namespace: "default", Name: "admin"}, {Namespace: "default", Name: "default"}},
	}
}

func TestPrepareSeed(t *testing.T) {
	p, err := Prepare(seed(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Issues) != 0 {
		t.Errorf("issues: %v", p.Issues)
	}
	report, _ := reach.Build(p.Input)
	got := Summarize(report, 1)
	want := egressv1alpha1.SimulationSummary{Sources: 2, Groups: 2, Destinations: 1, Policies: 1, Reachable: 2,
		Pairs: egressv1alpha1.AccessCounts{All: 1, Partial: 1},
		// Nothing stops default from reaching other hosts directly.
		DirectEgress: 1, Findings: egressv1alpha1.FindingCounts{Total: 1, Warnings: 1}}
	if got != want {
		t.Errorf("summary %+v, want %+v", got, want)
	}
	st, dests, full, err := Status(Run{Digest: p.Digest, Started: time.Now(), Report: report, Policies: 1}, DefaultBudget, "waypoint-report", "istio-egress/waypoint")
	if err != nil || !full || st.Truncated != "" || st.ReportConfigMap != "" {
		t.Fatalf("the seed must fit the status: full=%v truncated=%q err=%v", full, st.Truncated, err)
	}
	wantDests := []egressv1alpha1.DestinationStatus{{
		Host: "httpbin.org", ServiceEntry: "istio-egress/httpbin.org",
		Ports:    []egressv1alpha1.DestinationPortStatus{{Number: 80, Protocol: "HTTP"}},
		Waypoint: "istio-egress/waypoint", BoundToThisGateway: true, Policies: []string{"istio-egress/httpbin"},
	}}
	if !reflect.DeepEqual(dests, wantDests) {
		t.Errorf("destinations:\n got  %+v\n want %+v", dests, wantDests)
	}
	// The status has the JSON of egressctl simulate, save empty lists.
	want1, _ := json.Marshal(report.Reachability)
	got1, _ := json.Marshal(st.Reachability)
	if string(want1) != string(got1) {
		t.Errorf("reachability differs from the report:\n want %s\n got  %s", want1, got1)
	}
}

func TestDigest(t *testing.T) {
	digest := func(mutate func(*Inputs)) string {
		in := seed()
		mutate(in)
		p, err := Prepare(in, nil)
		if err != nil {
			t.Fatal(err)
		}
		return p.Digest
	}
	base := digest(func(*Inputs) {})
	same := map[string]func(*Inputs){
		"resourceVersion": func(in *Inputs) { in.AuthorizationPolicies[0].ResourceVersion = "42" },
		"namespace annotation": func(in *Inputs) {
			in.Namespaces[0].Annotations = map[string]string{"test/touch": "1"}
		},
		"status": func(in *Inputs) { in.EgressGateway.Status.ObservedGeneration = 9 },
		"last-applied": func(in *Inputs) {
			in.ServiceEntries[0].Annotations = map[string]string{lastApplied: "{}"}
		},
		"order": func(in *Inputs) {
			in.ServiceAccounts[0], in.ServiceAccounts[1] = in.ServiceAccounts[1], in.ServiceAccounts[0]
		},
	}
	for name, m := range same {
		if d := digest(m); d != base {
			t.Errorf("%s changed the digest", name)
		}
	}
	differ := map[string]func(*Inputs){
		"policy rule":     func(in *Inputs) { in.AuthorizationPolicies[0].Spec.Rules = in.AuthorizationPolicies[0].Spec.Rules[:1] },
		"namespace label": func(in *Inputs) { in.Namespaces[0].Labels["x"] = "y" },
		"service account": func(in *Inputs) { in.ServiceAccounts = in.ServiceAccounts[:1] },
		"root namespace":  func(in *Inputs) { in.RootNamespace = "mesh-root" },
		"trust domain":    func(in *Inputs) { in.TrustDomain = "example.org" },
		"aliases":         func(in *Inputs) { in.TrustDomainAliases = []string{"old.example"} },
		"spec":            func(in *Inputs) { in.EgressGateway.Spec.Simulation.Disabled = true },
	}
	for name, m := range differ {
		if d := digest(m); d == base {
			t.Errorf("%s did not change the digest", name)
		}
	}
}

// TestEncodingsFollowResourceVersions: a Prepare that reuses the previous
// one's encodings gives the digest a fresh Prepare gives, and an object
// with a new resourceVersion is encoded again.
func TestEncodingsFollowResourceVersions(t *testing.T) {
	enc := &Encodings{}
	prepare := func(in *Inputs, enc *Encodings) string {
		t.Helper()
		p, err := Prepare(in, enc)
		if err != nil {
			t.Fatal(err)
		}
		return p.Digest
	}
	in := seed()
	for i, ap := range in.AuthorizationPolicies {
		ap.ResourceVersion = fmt.Sprint(10 + i)
	}
	first := prepare(in, enc)
	if again := prepare(in, enc); again != first {
		t.Errorf("the same inputs through the kept encodings: digest %s, want %s", again, first)
	}
	in.AuthorizationPolicies[0].Spec.Rules = in.AuthorizationPolicies[0].Spec.Rules[:1]
	in.AuthorizationPolicies[0].ResourceVersion = "99"
	if edited, fresh := prepare(in, enc), prepare(in, nil); edited == first || edited != fresh {
		t.Errorf("an edited policy: digest %s through the kept encodings, %s fresh, %s before", edited, fresh, first)
	}
	if n := len(enc.last); n != len(in.documents()) {
		t.Errorf("the encodings keep %d objects, want the %d last read", n, len(in.documents()))
	}
}

func TestInvalidPolicyIsAFinding(t *testing.T) {
	in := seed()
	in.AuthorizationPolicies[0].Spec.Rules[1].To[0].Operation.Methods = []string{""}
	in.AuthorizationPolicies[0].Spec.Rules[0].From[0].Source.IpBlocks = []string{"not-an-ip"}
	p, err := Prepare(in, nil)
	if err != nil {
		t.Fatalf("an invalid policy must not be an error: %v", err)
	}
	report, _ := reach.Build(p.Input)
	if s := Summarize(report, 1); s.Findings.Errors == 0 {
		t.Errorf("want an error finding, got %+v", report.Findings)
	}
}

func TestStatusBudget(t *testing.T) {
	r := &reach.Report{}
	for i := range 300 {
		host := fmt.Sprintf("h%03d.example.com", i)
		r.Destinations = append(r.Destinations, reach.Destination{Host: host, Port: 443})
		r.Reachability = append(r.Reachability, reach.Entry{Destination: host + ":443", OtherSources: true, Access: reach.AccessAll,
			Allowed:   []reach.Cube{{Policy: "ns/p" + fmt.Sprint(i), Rule: 0}},
			DecidedBy: []reach.Decider{{Effect: "allow", Policy: "ns/p" + fmt.Sprint(i), Reason: "ALLOW rule matches"}}})
		r.Findings = append(r.Findings, reach.Finding{Severity: reach.SeverityWarning, Code: reach.CodeBypassesWaypoint,
			Object: "ServiceEntry ns/" + host, Message: strings.Repeat("long message ", 10)})
	}
	g := reach.Group{Name: "others"}
	for i := range 2000 {
		g.Principals = append(g.Principals, fmt.Sprintf("cluster.local/ns/team-%04d/sa/app", i))
	}
	g.Count = len(g.Principals)
	r.Groups = []reach.Group{g}
	st, dests, full, err := Status(Run{Digest: "d", Started: time.Now(), Report: r, Policies: 500}, DefaultBudget, "gw-report", "ns/waypoint")
	if err != nil {
		t.Fatal(err)
	}
	data, _ := json.Marshal(st)
	if full || len(data) > DefaultBudget {
		t.Fatalf("full=%v, %d bytes for a budget of %d", full, len(data), DefaultBudget)
	}
	if data, _ := json.Marshal(dests); len(data) > DestinationsBudget || len(dests) == 0 || len(dests) == 300 {
		t.Errorf("%d destinations in %d bytes: want some, cut to the budget of %d", len(dests), len(data), DestinationsBudget)
	}
	if !strings.Contains(st.Truncated, fmt.Sprintf("%d of 300 destinations", 300-len(dests))) {
		t.Errorf("truncated must say how many destinations were left out: %q", st.Truncated)
	}
	if st.ReportConfigMap != "gw-report" || !strings.Contains(st.Truncated, "group principals") {
		t.Errorf("reportConfigMap %q, truncated %q", st.ReportConfigMap, st.Truncated)
	}
	if st.Summary.Sources != 2000 || st.Summary.Destinations != 300 || st.Groups[0].Count != 2000 {
		t.Errorf("the summary must stay exact: %+v, group count %d", st.Summary, st.Groups[0].Count)
	}
	t.Logf("%d bytes; %s", len(data), st.Truncated)
}

func TestReportConfigMap(t *testing.T) {
	small := &reach.Report{Findings: []reach.Finding{{Severity: reach.SeverityInfo, Code: "X", Message: "m"}}}
	cm, err := ReportConfigMap("ns", ReportName("gw"), "d1", nil, small)
	if err != nil {
		t.Fatal(err)
	}
	var back reach.Report
	if err := json.Unmarshal([]byte(cm.Data[egressv1alpha1.ReportKey]), &back); err != nil || len(back.Findings) != 1 {
		t.Fatalf("plain report: %v %+v", err, back)
	}
	if cm.Name != "gw-report" || cm.Annotations[egressv1alpha1.InputsDigestAnnotation] != "d1" || cm.BinaryData != nil {
		t.Errorf("ConfigMap %+v", cm.ObjectMeta)
	}
	big := &reach.Report{}
	for i := range 20000 {
		big.Findings = append(big.Findings, reach.Finding{Severity: reach.SeverityWarning, Code: reach.CodeRuleNeverMatches,
			Object: fmt.Sprintf("AuthorizationPolicy ns/p%05d", i), Message: "this rule can never match on any destination"})
	}
	cm, err = ReportConfigMap("ns", "gw-report", "d2", nil, big)
	if err != nil {
		t.Fatal(err)
	}
	gz := cm.BinaryData[egressv1alpha1.CompressedReportKey]
	if cm.Data != nil || len(gz) == 0 || len(gz) > maxReportBytes {
		t.Fatalf("want a compressed report under %d bytes, got data=%d binary=%d", maxReportBytes, len(cm.Data), len(gz))
	}
	zr, err := gzip.NewReader(bytes.NewReader(gz))
	if err != nil {
		t.Fatal(err)
	}
	back = reach.Report{}
	if err := json.NewDecoder(zr).Decode(&back); err != nil || len(back.Findings) != 20000 {
		t.Fatalf("compressed report: %v, %d findings", err, len(back.Findings))
	}
}

// TestInputIssuesAsInEgressctl: an object the simulator cannot read (here
// a policy without a name) becomes the same finding in the operator's
// report as in egressctl's, in the same place: Prepare hands the issues
// to reach.Build as egressctl's loader does, rather than the operator
// appending findings of its own after the report was sorted.
func TestInputIssuesAsInEgressctl(t *testing.T) {
	in := seed()
	in.AuthorizationPolicies = append(in.AuthorizationPolicies, &istiosecurityv1.AuthorizationPolicy{
		TypeMeta:   metav1.TypeMeta{APIVersion: "security.istio.io/v1", Kind: "AuthorizationPolicy"},
		ObjectMeta: metav1.ObjectMeta{Namespace: "istio-egress"},
	})
	p, err := Prepare(in, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Issues) == 0 {
		t.Fatal("a policy without a name gave no issue")
	}
	report, _ := reach.Build(p.Input)
	// egressctl builds its report from the same documents and the
	// loader's issues.
	snap := simulator.NewSnapshot(simulator.LoadOptions{Admitted: true})
	var issues simulator.Issues
	for _, d := range in.documents() {
		data, err := json.Marshal(d)
		if err != nil {
			t.Fatal(err)
		}
		issues = append(issues, snap.AddJSON(d.Kind+" "+d.Metadata.Namespace+"/"+d.Metadata.Name, data)...)
	}
	cli := p.Input
	cli.Snapshot, cli.LoadIssues = snap, issues
	want, _ := reach.Build(cli)
	if !reflect.DeepEqual(report.Findings, want.Findings) {
		t.Errorf("findings differ from egressctl's:\n got  %+v\n want %+v", report.Findings, want.Findings)
	}
	found := false
	for _, f := range report.Findings {
		found = found || (f.Code == reach.CodeInvalidInput && strings.Contains(f.Message, "metadata.name"))
	}
	if !found {
		t.Errorf("no InvalidInput finding names metadata.name: %+v", report.Findings)
	}
}

// TestAllocatedAddressesReachTheSimulator: the addresses istiod allocated
// to a ServiceEntry (its status) are in the operator's inputs, as they are
// in a dump egressctl reads, since they choose the destination of a
// connection sent to an address.
func TestAllocatedAddressesReachTheSimulator(t *testing.T) {
	in := seed()
	in.ServiceEntries[0].Status.Addresses = []*networkingv1alpha3.ServiceEntryAddress{{Value: "240.240.0.9", Host: "httpbin.org"}}
	p, err := Prepare(in, nil)
	if err != nil {
		t.Fatal(err)
	}
	ses := p.Input.Snapshot.ServiceEntries
	if len(ses) != 1 || len(ses[0].Allocated) != 1 || ses[0].Allocated[0].Value != "240.240.0.9" {
		t.Fatalf("allocated addresses in the snapshot: %+v", ses)
	}
}

// TestRequestAuthenticationsReachTheSimulator: the RequestAuthentications
// the operator reads decide whether the waypoint validates JWTs, as they
// do for egressctl: a requestPrincipals rule without one is flagged.
func TestRequestAuthenticationsReachTheSimulator(t *testing.T) {
	in := seed()
	in.AuthorizationPolicies[0].Spec.Rules = append(in.AuthorizationPolicies[0].Spec.Rules,
		&securityv1beta1.Rule{From: []*securityv1beta1.Rule_From{{Source: &securityv1beta1.Source{RequestPrincipals: []string{"https://idp.example/*"}}}}})
	jwtFinding := func(in *Inputs) bool {
		p, err := Prepare(in, nil)
		if err != nil {
			t.Fatal(err)
		}
		report, _ := reach.Build(p.Input)
		return slices.ContainsFunc(report.Findings, func(f reach.Finding) bool { return f.Code == reach.CodeJWTNotValidated })
	}
	if !jwtFinding(in) {
		t.Error("no JWTNotValidated finding without a RequestAuthentication")
	}
	in.RequestAuthentications = []*istiosecurityv1.RequestAuthentication{{
		ObjectMeta: metav1.ObjectMeta{Name: "idp", Namespace: "istio-egress"},
		Spec: securityv1beta1.RequestAuthentication{
			TargetRefs: []*typev1beta1.PolicyTargetReference{{Kind: "ServiceEntry", Group: "networking.istio.io", Name: "httpbin.org"}},
			JwtRules:   []*securityv1beta1.JWTRule{{Issuer: "https://idp.example"}},
		},
	}}
	if jwtFinding(in) {
		t.Error("JWTNotValidated with a RequestAuthentication targeting the ServiceEntry")
	}
}
