package simulator

import (
	"slices"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/ambient-egress/ambient-egress-operator/simulator/lockdown"
)

const egwWithDestinations = `
apiVersion: egress.ambient.io/v1alpha1
kind: EgressGateway
metadata: {name: waypoint, namespace: egress}
spec:
  destinations:
  - host: httpbin.org
    ports: [{number: 80, tlsOrigination: {mode: SIMPLE}}]
  - host: "*.example.com"
    ports: [{number: 80, protocol: HTTP}]
`

const liveServiceEntry = `
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: httpbin.org, namespace: egress}
spec:
  hosts: [live.example.org]
  ports: [{number: 80, name: http, protocol: HTTP}]
  resolution: DNS
`

func parseDocs(t *testing.T, docs ...string) *Snapshot {
	t.Helper()
	s := &Snapshot{}
	for i, d := range docs {
		issues, err := s.AddYAML("doc"+string(rune('0'+i)), []byte(d))
		if err != nil || len(issues.Filter(SeverityError)) > 0 {
			t.Fatalf("doc %d: %v %v", i, err, issues)
		}
	}
	return s
}

func entryNames(s *Snapshot) (ses, drs []string) {
	for _, se := range s.ServiceEntries {
		ses = append(ses, se.Name+"="+strings.Join(se.Spec.GetHosts(), ","))
	}
	for _, dr := range s.DestinationRules {
		drs = append(drs, dr.Name+"="+dr.Spec.GetHost()+":"+dr.Spec.GetTrafficPolicy().GetTls().GetMode().String())
	}
	return ses, drs
}

func TestEgressGatewayDestinations(t *testing.T) {
	derivedSEs := "httpbin.org=httpbin.org wildcard.example.com=*.example.com"
	for _, tc := range []struct {
		name     string
		docs     []string
		ses, drs string
	}{
		{"derived", []string{egwWithDestinations}, derivedSEs, "httpbin.org-tls=httpbin.org:SIMPLE"},
		{"a live object read before wins", []string{liveServiceEntry, egwWithDestinations},
			"httpbin.org=live.example.org wildcard.example.com=*.example.com", "httpbin.org-tls=httpbin.org:SIMPLE"},
		{"a live object read after replaces the derived one", []string{egwWithDestinations, liveServiceEntry},
			"httpbin.org=live.example.org wildcard.example.com=*.example.com", "httpbin.org-tls=httpbin.org:SIMPLE"},
		{"a later version of the gateway drops what the earlier one derived", []string{egwWithDestinations, `
apiVersion: egress.ambient.io/v1alpha1
kind: EgressGateway
metadata: {name: waypoint, namespace: egress}
spec:
  destinations: [{host: other.org, ports: [{number: 80}]}]
`}, "other.org=other.org", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := parseDocs(t, tc.docs...)
			ses, drs := entryNames(s)
			if got := strings.Join(ses, " "); got != tc.ses {
				t.Errorf("ServiceEntries %q, want %q", got, tc.ses)
			}
			if got := strings.Join(drs, " "); got != tc.drs {
				t.Errorf("DestinationRules %q, want %q", got, tc.drs)
			}
			// The index still finds every object, so a later document
			// replaces it in place.
			for i, se := range s.ServiceEntries {
				if s.index[objectKey(se.Origin)] != i {
					t.Errorf("index of %s is %d, want %d", se.Name, s.index[objectKey(se.Origin)], i)
				}
			}
		})
	}
}

func TestEgressGatewayDestinationDefaults(t *testing.T) {
	s := parseDocs(t, egwWithDestinations)
	se := s.ServiceEntries[0].Spec
	p := se.GetPorts()[0]
	if p.GetName() != "http-80" || p.GetProtocol() != "HTTP" || p.GetTargetPort() != 443 || se.GetResolution().String() != "DNS" {
		t.Errorf("httpbin.org: %v", se)
	}
	if r := s.ServiceEntries[1].Spec.GetResolution().String(); r != "DYNAMIC_DNS" {
		t.Errorf("wildcard resolution %s, want DYNAMIC_DNS", r)
	}
	if l := s.ServiceEntries[0].Labels[lockdown.LabelGateway]; l != "waypoint" {
		t.Errorf("label %q", l)
	}
}

func TestEgressGatewayDestinationProblems(t *testing.T) {
	s := parseDocs(t, `
apiVersion: egress.ambient.io/v1alpha1
kind: EgressGateway
metadata: {name: waypoint, namespace: egress}
spec:
  destinations:
  - {host: "*.example.com", ports: [{number: 80, protocol: HTTP}]}
  - {host: wildcard.example.com, ports: [{number: 80}]}
  - {host: "*.db.example", ports: [{number: 5432, protocol: TLS}]}
`)
	if len(s.ServiceEntries) != 1 || s.ServiceEntries[0].Name != "wildcard.example.com" || s.ServiceEntries[0].Spec.GetHosts()[0] != "*.example.com" {
		t.Fatalf("want only the first wildcard's ServiceEntry, got %v", s.ServiceEntries)
	}
	_, issues := Compile(s, Options{})
	for _, want := range []string{"spec.destinations[1]: hosts *.example.com and wildcard.example.com both need ServiceEntry wildcard.example.com",
		"spec.destinations[2]: port 5432 of wildcard host *.db.example is TLS, which istiod serves at a waypoint only with"} {
		field, msg, _ := strings.Cut(want, ": ")
		if !anyIssue(issues, wantIssue{Severity: SeverityWarning, Object: "EgressGateway egress/waypoint", Field: field, Contains: msg}) {
			t.Errorf("no warning %q in\n%s", want, renderIssues(issues))
		}
	}
}

// TestAccessProblems: access rules the operator does not write, each with
// the reason the condition gives: a path template Istio refuses, a port
// the destination does not declare, methods or paths narrowed to a TCP
// port, where the waypoint sees neither.
func TestAccessProblems(t *testing.T) {
	for _, tc := range []struct{ access, want string }{
		{`[{to: {paths: ["/a/{**}/b/{*}"]}}]`, "access[0].to.paths"},
		{`[{to: {ports: [8080]}}]`, "access[0].to.ports: 8080 is not one of the destination's ports"},
		{`[{}, {to: {ports: [5432], methods: [GET]}}]`, "access[1].to: methods and paths need an HTTP port"},
		{`[{to: {ports: [80], methods: [GET]}}]`, ""},
		{`[{to: {paths: [/x]}}]`, ""},
	} {
		derived, problems, err := DeriveDestinations([]byte(`[{"host": "db.example", "ports": [{"number": 80, "protocol": "HTTP"}, {"number": 5432, "protocol": "TCP"}], "access": `+
			yamlToJSON(t, tc.access)+`}]`), Istio{})
		if err != nil {
			t.Fatal(err)
		}
		switch {
		case tc.want == "" && (len(problems) != 0 || len(derived) != 1 || derived[0].AccessPolicy == nil):
			t.Errorf("%s: problems %v", tc.access, problems)
		case tc.want != "" && (len(problems) != 1 || !strings.Contains(problems[0].Message, tc.want)):
			t.Errorf("%s: problems %v, want %q", tc.access, problems, tc.want)
		}
	}
}

// TestWildcardDestinationsByIstio: which wildcard destinations the operator
// renders for which istiod (HTTP from 1.28; TLS from 1.29 with the flag;
// nothing else), and the SNI guard each TLS one gets.
func TestWildcardDestinationsByIstio(t *testing.T) {
	v := func(s string) IstioVersion {
		if s == "" {
			return IstioVersion{}
		}
		parsed, err := ParseIstioVersion(s)
		if err != nil {
			t.Fatal(err)
		}
		return parsed
	}
	for _, tc := range []struct {
		name, version string
		wildcardTLS   bool
		ports, want   string
		sniPorts      []string
	}{
		{"HTTP, unknown version", "", false, `[{number: 80, protocol: HTTP}]`, "", nil},
		{"HTTP on 1.28", "1.28.0", false, `[{number: 80, protocol: HTTP}]`, "", nil},
		{"HTTP on 1.27", "1.27.3", false, `[{number: 80, protocol: HTTP}]`, "Istio 1.27.3 does not serve wildcard hosts", nil},
		{"TLS without the flag", "1.30", false, `[{number: 443, protocol: TLS}]`, "ENABLE_WILDCARD_HOST_SERVICE_ENTRIES_FOR_TLS=true in its environment", nil},
		{"TLS with the flag on 1.28", "1.28.1", true, `[{number: 443, protocol: TLS}]`, "which Istio 1.28.1 does not serve", nil},
		{"TLS with the flag on 1.29", "1.29.0", true, `[{number: 443, protocol: TLS}]`, "", []string{"443"}},
		{"TLS with the flag, unknown version", "", true, `[{number: 443, protocol: TLS}, {number: 80, protocol: HTTP}, {number: 8443, protocol: TLS}]`, "", []string{"443", "8443"}},
		{"HTTP2", "", true, `[{number: 80, protocol: HTTP2}]`, "has protocol HTTP2", nil},
		{"GRPC", "", true, `[{number: 80, protocol: GRPC}]`, "has protocol GRPC", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			derived, problems, err := DeriveDestinations([]byte(`[{"host": "*.example.com", "ports": `+yamlToJSON(t, tc.ports)+`}]`),
				Istio{Version: v(tc.version), WildcardTLS: tc.wildcardTLS})
			if err != nil {
				t.Fatal(err)
			}
			if tc.want != "" {
				if len(problems) != 1 || !strings.Contains(problems[0].Message, tc.want) {
					t.Fatalf("problems %v, want %q", problems, tc.want)
				}
				return
			}
			if len(problems) != 0 || len(derived) != 1 {
				t.Fatalf("problems %v, derived %d", problems, len(derived))
			}
			d := derived[0]
			if d.ServiceEntry.GetResolution().String() != "DYNAMIC_DNS" {
				t.Errorf("resolution %s", d.ServiceEntry.GetResolution())
			}
			switch {
			case tc.sniPorts == nil && d.SNIPolicy != nil:
				t.Errorf("an SNI guard without TLS ports: %v", d.SNIPolicy)
			case tc.sniPorts != nil:
				r := d.SNIPolicy.GetRules()
				if d.SNIPolicyName != "wildcard.example.com-sni" || len(r) != 1 || !slices.Equal(r[0].GetTo()[0].GetOperation().GetPorts(), tc.sniPorts) ||
					r[0].GetWhen()[0].GetKey() != "connection.sni" || !slices.Equal(r[0].GetWhen()[0].GetNotValues(), []string{"*.example.com"}) {
					t.Errorf("SNI guard %s %v", d.SNIPolicyName, d.SNIPolicy)
				}
			}
		})
	}
}

func yamlToJSON(t *testing.T, y string) string {
	t.Helper()
	js, err := yaml.YAMLToJSON([]byte(y))
	if err != nil {
		t.Fatal(err)
	}
	return string(js)
}
