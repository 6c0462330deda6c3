package reach

import (
	"slices"
	"strings"
	"testing"

	"github.com/ambient-egress/ambient-egress-operator/simulator"
)

// findingsBase is the seed scenario in one stream: an EgressGateway
// enrolling istio-egress, the httpbin.org ServiceEntry and two sources.
const findingsBase = `apiVersion: v1
kind: Namespace
metadata: {name: default, labels: {istio.io/dataplane-mode: ambient}}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: admin, namespace: default}
---
apiVersion: egress.ambient.io/v1alpha1
kind: EgressGateway
metadata: {name: waypoint, namespace: istio-egress}
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: httpbin.org, namespace: istio-egress}
spec: {hosts: [httpbin.org], ports: [{number: 80, name: http, protocol: HTTP}], resolution: DNS}
`

// declaredPartner replaces the base's EgressGateway with one declaring
// api.partner.example and who may call it.
const declaredPartner = "---\napiVersion: egress.ambient.io/v1alpha1\nkind: EgressGateway\nmetadata: {name: waypoint, namespace: istio-egress}\n" +
	"spec:\n  destinations:\n  - host: api.partner.example\n    ports: [{number: 80, name: http, protocol: HTTP}]\n" +
	"    access: [{from: {serviceAccounts: [default/admin]}}]\n"

// policy returns an AuthorizationPolicy document in istio-egress.
func policy(name, meta, spec string) string {
	return "---\napiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: " + name +
		", namespace: istio-egress" + meta + "}\nspec:\n" + spec + "\n"
}

const targetHTTPBin = "  targetRefs: [{kind: ServiceEntry, group: networking.istio.io, name: httpbin.org}]\n"

// findingCases give, for every finding code, a configuration that triggers
// it and a corrected one that does not.
var findingCases = []struct {
	code            string
	triggers, clean string
	objectContains  string
}{
	{CodeBypassesWaypoint,
		"---\napiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {name: ext, namespace: elsewhere}\nspec: {hosts: [ext.example.com], ports: [{number: 80, name: http, protocol: HTTP}], resolution: DNS}\n",
		"---\napiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {name: ext, namespace: istio-egress}\nspec: {hosts: [ext.example.com], ports: [{number: 80, name: http, protocol: HTTP}], resolution: DNS}\n",
		"ServiceEntry elsewhere/ext"},
	{CodeJWTNotValidated,
		policy("p", "", targetHTTPBin+"  rules: [{from: [{source: {requestPrincipals: [\"https://idp.example/*\"]}}]}]"),
		policy("p", "", targetHTTPBin+"  rules: [{from: [{source: {requestPrincipals: [\"https://idp.example/*\"]}}]}]") +
			"---\napiVersion: security.istio.io/v1\nkind: RequestAuthentication\nmetadata: {name: jwt, namespace: istio-egress}\n" +
			"spec:\n  targetRefs: [{kind: Gateway, group: gateway.networking.k8s.io, name: waypoint}]\n  jwtRules: [{issuer: \"https://idp.example\"}]\n",
		"istio-egress/p"},
	{CodeRemoteIPFromHeader,
		policy("p", "", targetHTTPBin+"  action: DENY\n  rules: [{from: [{source: {remoteIpBlocks: [203.0.113.0/24]}}]}]"),
		policy("p", "", targetHTTPBin+"  action: DENY\n  rules: [{from: [{source: {ipBlocks: [203.0.113.0/24]}}]}]"),
		"istio-egress/p"},
	{CodeUnknownServiceAccount,
		policy("p", "", targetHTTPBin+"  rules: [{from: [{source: {serviceAccounts: [default/admn]}}]}]"),
		policy("p", "", targetHTTPBin+"  rules: [{from: [{source: {serviceAccounts: [default/admin, elsewhere/anyone]}}]}]"),
		"istio-egress/p"},
	{CodeAccessOverriddenByPolicy,
		declaredPartner + policy("p", "", "  targetRefs: [{kind: ServiceEntry, group: networking.istio.io, name: api.partner.example}]\n"+
			"  action: DENY\n  rules: [{from: [{source: {principals: [cluster.local/ns/default/sa/admin]}}]}]"),
		declaredPartner + policy("p", "", targetHTTPBin+"  action: DENY\n  rules: [{from: [{source: {principals: [cluster.local/ns/default/sa/admin]}}]}]"),
		"ServiceEntry istio-egress/api.partner.example"},
	{CodeHostHeaderNotEnforced,
		"---\napiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {name: range, namespace: istio-egress}\nspec: {hosts: [range.example], addresses: [203.0.113.0/24], ports: [{number: 80, name: http, protocol: HTTP}]}\n" +
			policy("p", "", "  targetRefs: [{kind: ServiceEntry, group: networking.istio.io, name: range}]\n  rules: [{to: [{operation: {hosts: [api.partner.example]}}]}]"),
		"---\napiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {name: range, namespace: istio-egress}\nspec: {hosts: [range.example], addresses: [203.0.113.0/24], ports: [{number: 80, name: http, protocol: HTTP}]}\n" +
			policy("p", "", "  targetRefs: [{kind: ServiceEntry, group: networking.istio.io, name: range}]\n  rules: [{to: [{operation: {paths: [/api/*]}}]}]"),
		"istio-egress/p"},
	{CodeUnservedPort,
		"---\napiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {name: wild, namespace: istio-egress}\nspec: {hosts: [\"*.db.example\"], ports: [{number: 5432, name: tcp, protocol: TCP}], resolution: DYNAMIC_DNS}\n",
		"---\napiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {name: wild, namespace: istio-egress}\nspec: {hosts: [\"*.db.example\"], ports: [{number: 80, name: http, protocol: HTTP}], resolution: DYNAMIC_DNS}\n",
		"ServiceEntry istio-egress/wild"},
	{CodeNotRedirected,
		"---\napiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {name: ext, namespace: istio-egress}\nspec: {hosts: [ext.example.com], ports: [{number: 80, name: http, protocol: HTTP}], resolution: NONE}\n",
		"---\napiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {name: ext, namespace: istio-egress}\nspec: {hosts: [ext.example.com], ports: [{number: 80, name: http, protocol: HTTP}], resolution: DNS}\n",
		"ServiceEntry istio-egress/ext"},
	{CodeTargetNotFound,
		policy("p", "", "  targetRefs: [{kind: ServiceEntry, group: networking.istio.io, name: httpbin}]\n  rules: [{}]"),
		policy("p", "", targetHTTPBin+"  rules: [{}]"), "istio-egress/p"},
	{CodeIgnoredByWaypoint,
		policy("p", "", "  action: DENY\n  rules: [{from: [{source: {namespaces: [dev]}}]}]"),
		policy("p", "", targetHTTPBin+"  action: DENY\n  rules: [{from: [{source: {namespaces: [dev]}}]}]"), "istio-egress/p"},
	{CodeL7AtZtunnel,
		"---\napiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: z, namespace: default}\nspec:\n  rules: [{to: [{operation: {methods: [GET]}}]}]\n",
		"---\napiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: z, namespace: default}\nspec:\n  rules: [{to: [{operation: {ports: [\"8080\"]}}]}]\n",
		"default/z"},
	{CodeL7OnTCPPort,
		tcpEntry + policy("p", "", "  targetRefs: [{kind: ServiceEntry, group: networking.istio.io, name: db}]\n  rules: [{to: [{operation: {methods: [GET]}}]}]"),
		tcpEntry + policy("p", "", "  targetRefs: [{kind: ServiceEntry, group: networking.istio.io, name: db}]\n  rules: [{from: [{source: {namespaces: [default]}}]}]"),
		"istio-egress/p"},
	{CodeRuleNeverMatches,
		policy("p", "", targetHTTPBin+"  rules: [{to: [{operation: {methods: [GET], notMethods: [GET]}}]}]"),
		policy("p", "", targetHTTPBin+"  rules: [{to: [{operation: {methods: [GET], notMethods: [POST]}}]}]"), "istio-egress/p"},
	{CodeShadowedByDeny,
		policy("d", "", targetHTTPBin+"  action: DENY\n  rules: [{from: [{source: {principals: [cluster.local/ns/default/sa/admin]}}]}]") +
			policy("p", "", targetHTTPBin+"  rules: [{from: [{source: {principals: [cluster.local/ns/default/sa/admin]}}], to: [{operation: {paths: [/x]}}]}]"),
		policy("d", "", targetHTTPBin+"  action: DENY\n  rules: [{from: [{source: {principals: [cluster.local/ns/default/sa/admin]}}], to: [{operation: {paths: [/admin/*]}}]}]") +
			policy("p", "", targetHTTPBin+"  rules: [{from: [{source: {principals: [cluster.local/ns/default/sa/admin]}}], to: [{operation: {paths: [/x]}}]}]"),
		"istio-egress/p"},
	{CodeTLSWithoutTargetPort, tlsRule, tlsRule + targetPortEntry, "DestinationRule istio-egress/tls"},
	{CodeTargetPortWithoutTLS, targetPortEntry, targetPortEntry + tlsRule, "ServiceEntry istio-egress/httpbin.org"},
	{CodeDryRun,
		policy("p", ", annotations: {istio.io/dry-run: \"true\"}", targetHTTPBin+"  action: DENY\n  rules: [{to: [{operation: {methods: [POST]}}]}]"),
		policy("p", "", targetHTTPBin+"  action: DENY\n  rules: [{to: [{operation: {methods: [POST]}}]}]"), "istio-egress/p"},
	{CodeInvalidInput,
		policy("p", "", targetHTTPBin+"  rules: [{from: [{source: {ipBlocks: [10.0.0.0/33]}}]}]"),
		policy("p", "", targetHTTPBin+"  rules: [{from: [{source: {ipBlocks: [10.0.0.0/8]}}]}]"), "istio-egress/p"},
	{CodeSimulatorWarning,
		"---\napiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {name: twin, namespace: istio-egress}\nspec: {hosts: [httpbin.org], ports: [{number: 80, name: http, protocol: HTTP}], resolution: DNS}\n",
		"---\napiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {name: twin, namespace: istio-egress}\nspec: {hosts: [other.org], ports: [{number: 80, name: http, protocol: HTTP}], resolution: DNS}\n",
		"ServiceEntry istio-egress/twin"},
	{CodeDirectEgressOpen, "", lockdownEnforce(""), "EgressGateway istio-egress/waypoint"},
	{CodeLockdownDefeated,
		lockdownEnforce("") + netPolicy("open", "[{to: [{ipBlock: {cidr: 0.0.0.0/0}}]}]"),
		lockdownEnforce("") + netPolicy("open", "[{to: [{ipBlock: {cidr: 203.0.113.0/24}}], ports: [{port: 443}]}]"),
		"NetworkPolicy default/open"},
	{CodeLockdownDefeated,
		lockdownEnforce("") + netPolicy("open", "[{}]"),
		lockdownEnforce(", allowCIDRs: [{cidr: 0.0.0.0/0, reason: test}, {cidr: '::/0', reason: test}]") + netPolicy("open", "[{}]"),
		"NetworkPolicy default/open"},
	{CodeLockdownConflict,
		lockdownEnforce("") + netPolicy("egress-lockdown-waypoint", "[{}]"),
		lockdownEnforce("") + netPolicy("mine", "[{}]"),
		"NetworkPolicy default/egress-lockdown-waypoint"},
	{CodeUnboundServiceEntryBlocked,
		lockdownEnforce("") + "---\napiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {name: ext, namespace: elsewhere}\nspec: {hosts: [ext.example.com], ports: [{number: 443, name: tls, protocol: TLS}], resolution: DNS}\n",
		lockdownEnforce("") + "---\napiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {name: ext, namespace: istio-egress}\nspec: {hosts: [ext.example.com], ports: [{number: 443, name: tls, protocol: TLS}], resolution: DNS}\n",
		"ServiceEntry elsewhere/ext"},
	{CodeOptedOutPods,
		lockdownEnforce("") + pod("batch", "{istio.io/dataplane-mode: none}"),
		lockdownEnforce("") + pod("batch", "{app: batch}"),
		"ServiceAccount default/admin"},
	{CodeWaypointMisleadingAllow,
		"---\napiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: only-waypoint, namespace: default}\nspec:\n  rules: [{from: [{source: {principals: [cluster.local/ns/istio-egress/sa/waypoint]}}]}]\n",
		lockdownEnforce("") + "---\napiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: only-waypoint, namespace: default}\nspec:\n  rules: [{from: [{source: {principals: [cluster.local/ns/istio-egress/sa/waypoint]}}]}]\n",
		"default/only-waypoint"},
}

// TestFindingCodes checks that each code is reported on its triggering
// configuration and not on the corrected one.
func TestFindingCodes(t *testing.T) {
	for _, c := range findingCases {
		t.Run(c.code, func(t *testing.T) {
			if fs := findingsOf(t, findingsBase+c.triggers, c.code); !anyObject(fs, c.objectContains) {
				t.Errorf("not triggered on %s; got %+v", c.objectContains, fs)
			}
			if fs := findingsOf(t, findingsBase+c.clean, c.code); len(fs) > 0 {
				t.Errorf("triggered on the corrected configuration: %+v", fs)
			}
		})
	}
}

// TestSNIGuardIsDeclaredAccess: the DENY policy the operator adds to a
// wildcard TLS destination is part of what the EgressGateway declares, so
// it is not reported as a policy overriding access.
func TestSNIGuardIsDeclaredAccess(t *testing.T) {
	manifests := findingsBase + "---\napiVersion: egress.ambient.io/v1alpha1\nkind: EgressGateway\nmetadata: {name: waypoint, namespace: istio-egress}\n" +
		"spec:\n  destinations:\n  - host: \"*.tls.example\"\n    ports: [{number: 443, protocol: TLS}]\n" +
		"    access: [{from: {serviceAccounts: [default/admin]}}]\n"
	snap, _, err := simulator.LoadSources(simulator.LoadOptions{Istio: simulator.Istio{WildcardTLS: true}},
		[]simulator.Source{{Name: "manifests.yaml", Data: []byte(manifests)}})
	if err != nil {
		t.Fatal(err)
	}
	r, _ := Build(withAccounts(t, snap, manifests))
	found := false
	for _, d := range r.Destinations {
		found = found || slices.Contains(d.Policies, "istio-egress/wildcard.tls.example-sni")
	}
	if !found {
		t.Fatalf("the SNI guard is not among the destinations' policies: %+v", r.Destinations)
	}
	for _, f := range r.Findings {
		if f.Code == CodeAccessOverriddenByPolicy {
			t.Errorf("the SNI guard is reported as overriding access: %+v", f)
		}
	}
}

// TestSNINotEnforced: a wildcard TLS ServiceEntry served at a waypoint
// (istiod with the wildcard TLS flag) whose policies never read
// connection.sni is flagged; a DENY policy on the server name, or the
// EgressGateway's own SNI guard, clears it.
func TestSNINotEnforced(t *testing.T) {
	const se = "---\napiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {name: wild, namespace: istio-egress}\n" +
		"spec: {hosts: [\"*.partner.example\"], ports: [{number: 443, name: tls, protocol: TLS}], resolution: DYNAMIC_DNS}\n"
	guard := policy("sni", "", "  targetRefs: [{kind: ServiceEntry, group: networking.istio.io, name: wild}]\n  action: DENY\n"+
		"  rules: [{to: [{operation: {ports: [\"443\"]}}], when: [{key: connection.sni, notValues: [\"*.partner.example\"]}]}]")
	declared := "---\napiVersion: egress.ambient.io/v1alpha1\nkind: EgressGateway\nmetadata: {name: waypoint, namespace: istio-egress}\n" +
		"spec:\n  destinations:\n  - host: \"*.tls.example\"\n    ports: [{number: 443, protocol: TLS}]\n"
	for _, tc := range []struct {
		name, manifests string
		want            bool
	}{
		{"no policy reads the server name", findingsBase + se, true},
		{"a DENY policy on the server name", findingsBase + se + guard, false},
		{"the EgressGateway's SNI guard", findingsBase + declared, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			snap, _, err := simulator.LoadSources(simulator.LoadOptions{Istio: simulator.Istio{WildcardTLS: true}},
				[]simulator.Source{{Name: "manifests.yaml", Data: []byte(tc.manifests)}})
			if err != nil {
				t.Fatal(err)
			}
			r, _ := Build(withAccounts(t, snap, tc.manifests))
			if !slices.ContainsFunc(r.Destinations, func(d Destination) bool { return d.Port == 443 && d.Waypoint != nil }) {
				t.Fatalf("no TLS destination bound to a waypoint: %+v", r.Destinations)
			}
			found := slices.ContainsFunc(r.Findings, func(f Finding) bool { return f.Code == CodeSNINotEnforced })
			if found != tc.want {
				t.Errorf("SNINotEnforced reported %t, want %t: %+v", found, tc.want, r.Findings)
			}
		})
	}
}

// TestSeedHasNoFindings: the seed scenario is a correct configuration,
// except that nothing stops direct egress: its one finding says so.
func TestSeedHasNoFindings(t *testing.T) {
	r, _ := Build(loadScenario(t, "testdata/seed"))
	if len(r.Findings) != 1 || r.Findings[0].Code != CodeDirectEgressOpen {
		t.Errorf("findings on the seed scenario: %+v", r.Findings)
	}
}

// lockdownEnforce replaces the base's EgressGateway with one whose
// lockdown is Enforce; more is added to spec.lockdown.
func lockdownEnforce(more string) string {
	return "---\napiVersion: egress.ambient.io/v1alpha1\nkind: EgressGateway\nmetadata: {name: waypoint, namespace: istio-egress}\n" +
		"spec: {lockdown: {mode: Enforce" + more + "}}\n"
}

// netPolicy is an egress NetworkPolicy in default selecting every pod.
func netPolicy(name, egress string) string {
	return "---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: " + name + ", namespace: default}\n" +
		"spec: {podSelector: {}, policyTypes: [Egress], egress: " + egress + "}\n"
}

// pod is a Pod in default with the given labels.
func pod(name, labels string) string {
	return "---\napiVersion: v1\nkind: Pod\nmetadata: {name: " + name + ", namespace: default, labels: " + labels + "}\nspec: {serviceAccountName: admin}\n"
}

const (
	tcpEntry = "---\napiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {name: db, namespace: istio-egress}\n" +
		"spec: {hosts: [db.example.com], ports: [{number: 5432, name: tcp, protocol: TCP}], resolution: DNS}\n"
	tlsRule = "---\napiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: tls, namespace: istio-egress}\n" +
		"spec: {host: httpbin.org, trafficPolicy: {tls: {mode: SIMPLE}}}\n"
	targetPortEntry = "---\napiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {name: httpbin.org, namespace: istio-egress}\n" +
		"spec: {hosts: [httpbin.org], ports: [{number: 80, name: http, protocol: HTTP, targetPort: 443}], resolution: DNS}\n"
)

// findingsOf builds the report of manifests (invalid ones included) and
// returns its findings with the code.
func findingsOf(t *testing.T, manifests, code string) []Finding {
	t.Helper()
	in := parseLenient(t, manifests)
	r, _ := Build(in)
	var out []Finding
	for _, f := range r.Findings {
		if f.Code == code {
			out = append(out, f)
		}
	}
	return out
}

func anyObject(fs []Finding, s string) bool {
	for _, f := range fs {
		if strings.Contains(f.Object, s) && f.Message != "" {
			return true
		}
	}
	return false
}

// TestNamespaceNotAllowedFix: a ServiceEntry of another namespace that
// names the waypoint has the labels already; the fix is the waypoint's
// allowedRoutes, on the EgressGateway that writes it.
func TestNamespaceNotAllowedFix(t *testing.T) {
	team := "---\napiVersion: v1\nkind: Namespace\nmetadata: {name: team}\n" +
		"---\napiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {name: ext, namespace: team, labels: " +
		"{istio.io/use-waypoint: waypoint, istio.io/use-waypoint-namespace: istio-egress}}\n" +
		"spec: {hosts: [ext.example.com], ports: [{number: 80, name: http, protocol: HTTP}], resolution: DNS}\n"
	fs := findingsOf(t, findingsBase+team, CodeBypassesWaypoint)
	if len(fs) != 1 || !strings.Contains(fs[0].Fix, "spec.waypoint.allowedRoutes on EgressGateway istio-egress/waypoint") ||
		strings.Contains(fs[0].Fix, "label") {
		t.Fatalf("findings: %+v", fs)
	}
	shared := "---\napiVersion: egress.ambient.io/v1alpha1\nkind: EgressGateway\nmetadata: {name: waypoint, namespace: istio-egress}\n" +
		"spec: {waypoint: {allowedRoutes: {from: All}}}\n"
	if fs := findingsOf(t, findingsBase+team+shared, CodeBypassesWaypoint); len(fs) != 0 {
		t.Errorf("with allowedRoutes from: All: %+v", fs)
	}
}
