package destinations

import (
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"
	istionetworkingv1 "istio.io/client-go/pkg/apis/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	egressv1alpha1 "github.com/ambient-egress/ambient-egress-operator/apis/egress/v1alpha1"
	"github.com/ambient-egress/ambient-egress-operator/simulator"
	"github.com/ambient-egress/ambient-egress-operator/simulator/lockdown"
)

func gateway(dests ...egressv1alpha1.Destination) *egressv1alpha1.EgressGateway {
	return &egressv1alpha1.EgressGateway{
		ObjectMeta: metav1.ObjectMeta{Name: "waypoint", Namespace: "istio-egress"},
		Spec:       egressv1alpha1.EgressGatewaySpec{Destinations: dests},
	}
}

func port(n int32, proto egressv1alpha1.Protocol, tls *egressv1alpha1.TLSOrigination) egressv1alpha1.DestinationPort {
	return egressv1alpha1.DestinationPort{Number: n, Protocol: proto, TLSOrigination: tls}
}

func simple() *egressv1alpha1.TLSOrigination {
	return &egressv1alpha1.TLSOrigination{Mode: egressv1alpha1.TLSModeSimple}
}

func TestRender(t *testing.T) {
	for _, tc := range []struct {
		name string
		dest egressv1alpha1.Destination
		// seName and drName are the object names, drName empty for none;
		// se and dr are their specs in YAML.
		seName, se, drName, dr string
	}{{
		name:   "plain HTTP, default protocol and port name",
		dest:   egressv1alpha1.Destination{Host: "api.example.com", Ports: []egressv1alpha1.DestinationPort{{Number: 8080}}},
		seName: "api.example.com",
		se:     `{hosts: [api.example.com], ports: [{number: 8080, name: http-8080, protocol: HTTP}], resolution: DNS}`,
	}, {
		name:   "TLS origination, default target port",
		dest:   egressv1alpha1.Destination{Host: "httpbin.org", Ports: []egressv1alpha1.DestinationPort{port(80, "HTTP", simple())}},
		seName: "httpbin.org", drName: "httpbin.org-tls",
		se: `{hosts: [httpbin.org], ports: [{number: 80, name: http-80, protocol: HTTP, targetPort: 443}], resolution: DNS}`,
		dr: `{host: httpbin.org, trafficPolicy: {tls: {mode: SIMPLE}}}`,
	}, {
		name: "MUTUAL with SNI, credential and target port",
		dest: egressv1alpha1.Destination{Host: "bank.example.com", Ports: []egressv1alpha1.DestinationPort{
			port(80, "HTTP", &egressv1alpha1.TLSOrigination{Mode: egressv1alpha1.TLSModeMutual, TargetPort: 8443, SNI: "api.bank.example.com", CredentialName: "bank-client"}),
		}},
		seName: "bank.example.com", drName: "bank.example.com-tls",
		se: `{hosts: [bank.example.com], ports: [{number: 80, name: http-80, protocol: HTTP, targetPort: 8443}], resolution: DNS}`,
		dr: `{host: bank.example.com, trafficPolicy: {tls: {mode: MUTUAL, sni: api.bank.example.com, credentialName: bank-client}}}`,
	}, {
		name: "one originating port beside a TLS port: port-level settings, ports sorted",
		dest: egressv1alpha1.Destination{Host: "mixed.example.com", Ports: []egressv1alpha1.DestinationPort{
			{Number: 443, Protocol: "TLS", Name: "tls"}, port(80, "HTTP", simple()),
		}},
		seName: "mixed.example.com", drName: "mixed.example.com-tls",
		se: `{hosts: [mixed.example.com], ports: [{number: 80, name: http-80, protocol: HTTP, targetPort: 443}, {number: 443, name: tls, protocol: TLS}], resolution: DNS}`,
		dr: `{host: mixed.example.com, trafficPolicy: {portLevelSettings: [{port: {number: 80}, tls: {mode: SIMPLE}}]}}`,
	}, {
		name: "two ports originating the same way: one trafficPolicy.tls",
		dest: egressv1alpha1.Destination{Host: "two.example.com", Ports: []egressv1alpha1.DestinationPort{
			port(80, "HTTP", simple()), port(8080, "HTTP", &egressv1alpha1.TLSOrigination{Mode: egressv1alpha1.TLSModeSimple, TargetPort: 8443}),
		}},
		seName: "two.example.com", drName: "two.example.com-tls",
		se: `{hosts: [two.example.com], ports: [{number: 80, name: http-80, protocol: HTTP, targetPort: 443}, {number: 8080, name: http-8080, protocol: HTTP, targetPort: 8443}], resolution: DNS}`,
		dr: `{host: two.example.com, trafficPolicy: {tls: {mode: SIMPLE}}}`,
	}, {
		name: "two ports with different SNIs: port-level settings",
		dest: egressv1alpha1.Destination{Host: "sni.example.com", Ports: []egressv1alpha1.DestinationPort{
			port(80, "HTTP", &egressv1alpha1.TLSOrigination{Mode: egressv1alpha1.TLSModeSimple, SNI: "a.example.com"}),
			port(81, "HTTP", &egressv1alpha1.TLSOrigination{Mode: egressv1alpha1.TLSModeSimple, SNI: "b.example.com"}),
		}},
		seName: "sni.example.com", drName: "sni.example.com-tls",
		se: `{hosts: [sni.example.com], ports: [{number: 80, name: http-80, protocol: HTTP, targetPort: 443}, {number: 81, name: http-81, protocol: HTTP, targetPort: 443}], resolution: DNS}`,
		dr: `{host: sni.example.com, trafficPolicy: {portLevelSettings: [{port: {number: 80}, tls: {mode: SIMPLE, sni: a.example.com}}, {port: {number: 81}, tls: {mode: SIMPLE, sni: b.example.com}}]}}`,
	}, {
		name:   "wildcard host: a valid name and DYNAMIC_DNS",
		dest:   egressv1alpha1.Destination{Host: "*.example.com", Ports: []egressv1alpha1.DestinationPort{port(80, "HTTP", simple()), {Number: 443, Protocol: "TLS"}}},
		seName: "wildcard.example.com", drName: "wildcard.example.com-tls",
		se: `{hosts: ["*.example.com"], ports: [{number: 80, name: http-80, protocol: HTTP, targetPort: 443}, {number: 443, name: tls-443, protocol: TLS}], resolution: DYNAMIC_DNS}`,
		dr: `{host: "*.example.com", trafficPolicy: {portLevelSettings: [{port: {number: 80}, tls: {mode: SIMPLE}}]}}`,
	}} {
		t.Run(tc.name, func(t *testing.T) {
			r := Render(gateway(tc.dest), simulator.Istio{WildcardTLS: true})
			if len(r.Problems) != 0 || len(r.Hosts) != 1 {
				t.Fatalf("problems %v, hosts %d", r.Problems, len(r.Hosts))
			}
			h := r.Hosts[0]
			checkMeta(t, &h.ServiceEntry.ObjectMeta, tc.seName)
			want := &istionetworkingv1.ServiceEntry{}
			if err := yaml.Unmarshal([]byte(`{spec: `+tc.se+`}`), want); err != nil {
				t.Fatal(err)
			}
			if !proto.Equal(&h.ServiceEntry.Spec, &want.Spec) {
				t.Errorf("ServiceEntry spec\n got  %v\n want %v", &h.ServiceEntry.Spec, &want.Spec)
			}
			if tc.drName == "" {
				if h.DestinationRule != nil {
					t.Errorf("unexpected DestinationRule %v", h.DestinationRule)
				}
				return
			}
			if h.DestinationRule == nil {
				t.Fatal("no DestinationRule")
			}
			checkMeta(t, &h.DestinationRule.ObjectMeta, tc.drName)
			wantDR := &istionetworkingv1.DestinationRule{}
			if err := yaml.Unmarshal([]byte(`{spec: `+tc.dr+`}`), wantDR); err != nil {
				t.Fatal(err)
			}
			if !proto.Equal(&h.DestinationRule.Spec, &wantDR.Spec) {
				t.Errorf("DestinationRule spec\n got  %v\n want %v", &h.DestinationRule.Spec, &wantDR.Spec)
			}
		})
	}
}

func checkMeta(t *testing.T, m *metav1.ObjectMeta, name string) {
	t.Helper()
	if m.Name != name || m.Namespace != "istio-egress" || len(m.Labels) != 1 || m.Labels[lockdown.LabelGateway] != "waypoint" || len(m.OwnerReferences) != 0 {
		t.Errorf("metadata %+v, want name %s in istio-egress labeled %s=waypoint", m, name, lockdown.LabelGateway)
	}
}

func TestRenderProblems(t *testing.T) {
	r := Render(gateway(
		egressv1alpha1.Destination{Host: "*.example.com", Ports: []egressv1alpha1.DestinationPort{{Number: 443, Protocol: "TLS"}}},
		egressv1alpha1.Destination{Host: "wildcard.example.com", Ports: []egressv1alpha1.DestinationPort{{Number: 80}}},
		egressv1alpha1.Destination{Host: "*.db.example", Ports: []egressv1alpha1.DestinationPort{{Number: 5432, Protocol: "TCP"}}},
		egressv1alpha1.Destination{Host: "ok.example", Ports: []egressv1alpha1.DestinationPort{{Number: 80}}},
	), simulator.Istio{WildcardTLS: true})
	var hosts []string
	for _, h := range r.Hosts {
		hosts = append(hosts, h.Host)
	}
	if strings.Join(hosts, " ") != "*.example.com ok.example" {
		t.Errorf("rendered %v, want *.example.com and ok.example", hosts)
	}
	if len(r.Problems) != 2 ||
		r.Problems[0].Host != "wildcard.example.com" || !strings.Contains(r.Problems[0].Message, "both need ServiceEntry wildcard.example.com") ||
		r.Problems[1].Host != "*.db.example" || !strings.Contains(r.Problems[1].Message, "protocol TCP") {
		t.Errorf("problems %+v", r.Problems)
	}
}

func TestNames(t *testing.T) {
	long := strings.Repeat("a", 60) + "." + strings.Repeat("b", 60) + "." + strings.Repeat("c", 60) + "." + strings.Repeat("d", 59) + ".e"
	if len(long) != 244 {
		t.Fatalf("test host is %d long", len(long))
	}
	longer := "x" + long[1:len(long)-2] + ".f"
	for _, tc := range []struct{ host, se, dr string }{
		{"httpbin.org", "httpbin.org", "httpbin.org-tls"},
		{"*.example.com", "wildcard.example.com", "wildcard.example.com-tls"},
		{long, long, long + "-tls"},
	} {
		if se, dr := ServiceEntryName(tc.host), DestinationRuleName(tc.host); se != tc.se || dr != tc.dr {
			t.Errorf("%s: %s, %s; want %s, %s", tc.host, se, dr, tc.se, tc.dr)
		}
	}
	// Too long for "-tls": cut, kept unique by a digest, still a name (a
	// DNS subdomain: at most 253 characters).
	const maxNameLength = 253
	a, b := DestinationRuleName(long+"-xyzw.io"), DestinationRuleName(longer+"-xyzw.io")
	for _, n := range []string{a, b} {
		if len(n) > maxNameLength || !strings.HasSuffix(n, "-tls") || strings.Contains(n, ".-") {
			t.Errorf("name %q (%d) is not a valid DestinationRule name", n, len(n))
		}
	}
	if a == b {
		t.Errorf("two long hosts share the name %s", a)
	}
}
