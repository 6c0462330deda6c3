package destinations_test

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"
	"sigs.k8s.io/yaml"

	egressv1alpha1 "github.com/ambient-egress/ambient-egress-operator/apis/egress/v1alpha1"
	"github.com/ambient-egress/ambient-egress-operator/controllers/internal/destinations"
	"github.com/ambient-egress/ambient-egress-operator/simulator"
	"github.com/ambient-egress/ambient-egress-operator/simulator/reach"
)

// seedDir is the simulator's copy of the seed scenario; seed-tls adds the
// TLS variant's ServiceEntry and DestinationRule.
var seedDir = filepath.Join("..", "..", "..", "simulator", "testdata")

// crYAML is egw as kubectl would apply it.
func crYAML(t *testing.T, egw *egressv1alpha1.EgressGateway) []byte {
	t.Helper()
	data, err := yaml.Marshal(egw)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// TestSimulatorAgrees checks that the simulator, reading an EgressGateway
// as kubectl would apply it (it cannot import the API types), derives
// exactly the objects Render gives the operator: same names, labels and
// specs. Both use DeriveDestinations; this holds the JSON decoding and the
// metadata to the same account.
func TestSimulatorAgrees(t *testing.T) {
	mutual := &egressv1alpha1.TLSOrigination{Mode: egressv1alpha1.TLSModeMutual, TargetPort: 8443, SNI: "sni.example", CredentialName: "client"}
	egw := seedTLSGateway()
	egw.Spec.Destinations = append(egw.Spec.Destinations,
		egressv1alpha1.Destination{Host: "plain.example.com", Ports: []egressv1alpha1.DestinationPort{{Number: 8080}, {Number: 9090, Protocol: "GRPC", Name: "grpc"}}},
		egressv1alpha1.Destination{Host: "bank.example.com", Ports: []egressv1alpha1.DestinationPort{{Number: 80, Protocol: "HTTP", TLSOrigination: mutual}}},
		egressv1alpha1.Destination{Host: "mixed.example.com", Ports: []egressv1alpha1.DestinationPort{
			{Number: 443, Protocol: "TLS"}, {Number: 80, Protocol: "HTTP", TLSOrigination: &egressv1alpha1.TLSOrigination{Mode: egressv1alpha1.TLSModeSimple}},
			{Number: 81, Protocol: "HTTP", TLSOrigination: mutual},
		}},
		egressv1alpha1.Destination{Host: "*.example.com", Ports: []egressv1alpha1.DestinationPort{
			{Number: 80, Protocol: "HTTP", TLSOrigination: &egressv1alpha1.TLSOrigination{Mode: egressv1alpha1.TLSModeSimple}},
			{Number: 81, Protocol: "HTTP", TLSOrigination: &egressv1alpha1.TLSOrigination{Mode: egressv1alpha1.TLSModeSimple, TargetPort: 8443}},
		}},
		egressv1alpha1.Destination{Host: "wildcard.example.com", Ports: []egressv1alpha1.DestinationPort{{Number: 80}}},
		egressv1alpha1.Destination{Host: "*.db.example", Ports: []egressv1alpha1.DestinationPort{{Number: 5432, Protocol: "TLS"}}},
	)
	rendered := destinations.Render(egw, simulator.Istio{})
	snap, issues, err := simulator.Parse("cr.yaml", crYAML(t, egw))
	if err != nil || issues.HasErrors() {
		t.Fatalf("simulator: %v %v", err, issues)
	}
	ses := map[string]*simulator.ServiceEntry{}
	for _, se := range snap.ServiceEntries {
		ses[se.Name] = se
	}
	drs := map[string]*simulator.DestinationRule{}
	for _, dr := range snap.DestinationRules {
		drs[dr.Name] = dr
	}
	wantDRs := 0
	for _, h := range rendered.Hosts {
		se := ses[h.ServiceEntry.Name]
		if se == nil {
			t.Errorf("the simulator has no ServiceEntry %s", h.ServiceEntry.Name)
			continue
		}
		if !proto.Equal(se.Spec, &h.ServiceEntry.Spec) || se.Namespace != h.ServiceEntry.Namespace || !sameLabels(se.Labels, h.ServiceEntry.Labels) {
			t.Errorf("ServiceEntry %s:\n simulator %v %v\n operator  %v %v", se.Name, se.Labels, se.Spec, h.ServiceEntry.Labels, &h.ServiceEntry.Spec)
		}
		if h.DestinationRule == nil {
			continue
		}
		wantDRs++
		dr := drs[h.DestinationRule.Name]
		if dr == nil {
			t.Errorf("the simulator has no DestinationRule %s", h.DestinationRule.Name)
			continue
		}
		if !proto.Equal(dr.Spec, &h.DestinationRule.Spec) || !sameLabels(dr.Labels, h.DestinationRule.Labels) {
			t.Errorf("DestinationRule %s:\n simulator %v\n operator  %v", dr.Name, dr.Spec, &h.DestinationRule.Spec)
		}
	}
	if len(ses) != len(rendered.Hosts) || len(drs) != wantDRs {
		t.Errorf("the simulator derived %d ServiceEntries and %d DestinationRules, the operator %d and %d",
			len(ses), len(drs), len(rendered.Hosts), wantDRs)
	}
	if len(rendered.Problems) != 2 {
		t.Errorf("problems %+v, want the wildcard name clash and the TCP wildcard", rendered.Problems)
	}
	_, found := simulator.Compile(snap, simulator.Options{})
	var messages []string
	for _, i := range found {
		messages = append(messages, i.String())
	}
	all := strings.Join(messages, "\n")
	for _, p := range rendered.Problems {
		if !strings.Contains(all, p.Message) {
			t.Errorf("the simulator does not report %q:\n%s", p.Message, all)
		}
	}
}

func sameLabels(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// TestReportOfDestinationsIsTheSeedTLSReport: the seed without its
// ServiceEntry, plus an EgressGateway declaring the TLS destination, gives
// the same report as the seed's TLS variant with its hand-written
// ServiceEntry and DestinationRule, and the report shows TLS origination.
func TestReportOfDestinationsIsTheSeedTLSReport(t *testing.T) {
	build := func(files []string, extra []byte) *reach.Report {
		t.Helper()
		snap, issues, err := simulator.Load(files...)
		if err != nil {
			t.Fatal(err)
		}
		if extra != nil {
			more, err := snap.AddYAML("cr.yaml", extra)
			if err != nil {
				t.Fatal(err)
			}
			issues = append(issues, more...)
		}
		if issues.HasErrors() {
			t.Fatalf("invalid input: %v", issues)
		}
		accounts, err := reach.LoadServiceAccounts(files...)
		if err != nil {
			t.Fatal(err)
		}
		report, _ := reach.Build(reach.Input{Snapshot: snap, ServiceAccounts: accounts})
		return report
	}
	seed := filepath.Join(seedDir, "seed", "input")
	fromCR := build([]string{
		filepath.Join(seed, "00-namespaces.yaml"),
		filepath.Join(seed, "10-egressgateway.yaml"),
		filepath.Join(seed, "30-authorizationpolicy.yaml"),
	}, crYAML(t, seedTLSGateway()))
	fromFiles := build([]string{filepath.Join(seedDir, "seed-tls", "input")}, nil)

	a, err := json.MarshalIndent(fromCR, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.MarshalIndent(fromFiles, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if string(a) != string(b) {
		t.Errorf("reports differ\nfrom spec.destinations:\n%s\nfrom the seed-tls files:\n%s", a, b)
	}
	if len(fromCR.Destinations) != 1 || len(fromCR.Reachability) == 0 {
		t.Fatalf("destinations %+v, %d reachability entries", fromCR.Destinations, len(fromCR.Reachability))
	}
	d := fromCR.Destinations[0]
	if d.Key() != "httpbin.org:80" || d.TargetPort != 443 || d.ServiceEntry != "istio-egress/httpbin.org" || d.Waypoint == nil ||
		d.TLSOrigination == nil || d.TLSOrigination.Mode != "SIMPLE" || d.TLSOrigination.Port != 443 ||
		d.TLSOrigination.DestinationRule != "istio-egress/httpbin.org-tls" {
		t.Errorf("destination %+v, TLS %+v: want httpbin.org:80 bound to the waypoint, targetPort 443, SIMPLE by istio-egress/httpbin.org-tls", d, d.TLSOrigination)
	}
}
