package envoyrbac

import (
	"maps"
	"net/netip"
	"testing"

	rbacv3 "github.com/envoyproxy/go-control-plane/envoy/config/rbac/v3"
	"google.golang.org/protobuf/encoding/protojson"
)

// config reads an RBAC config written as Envoy's JSON.
func config(t testing.TB, js string) *rbacv3.RBAC {
	t.Helper()
	c := &rbacv3.RBAC{}
	if err := protojson.Unmarshal([]byte(js), c); err != nil {
		t.Fatalf("%s: %v", js, err)
	}
	return c
}

func httpRequest(principal, method, path string, headers map[string][]string) *Request {
	h := map[string][]string{":method": {method}, ":path": {path}, ":authority": {"api.example.com"}}
	maps.Copy(h, headers)
	ip := netip.MustParseAddr("10.1.1.1")
	r := &Request{HTTP: true, Headers: h, DirectRemoteIP: ip, RemoteIP: ip, DestinationPort: 80, FilterState: map[string]string{}}
	if principal != "" {
		r.FilterState["io.istio.peer_principal"] = principal
	}
	return r
}

const admin = "spiffe://cluster.local/ns/apps/sa/admin"

// The principal matcher istiod writes for serviceAccounts: [apps/admin].
const adminPolicy = `{"admin": {"permissions": [{"any": true}], "principals": [{"filterState": {"key": "io.istio.peer_principal",
  "stringMatch": {"safeRegex": {"regex": "spiffe://.+/ns/apps/(.+/|)sa/admin(/.+)?"}}}}]}}`

// TestActions: ALLOW lets through only what a policy matches, DENY stops
// what one matches, LOG stops nothing, and a filter without rules does
// nothing (rbac.proto, RBAC.action and the RBAC filter's rules field).
func TestActions(t *testing.T) {
	for _, tc := range []struct {
		name      string
		filters   []Filter
		principal string
		allowed   bool
		policy    string
	}{
		{"ALLOW, matched", []Filter{{Name: "allow", Rules: config(t, `{"policies": `+adminPolicy+`}`)}}, admin, true, "admin"},
		{"ALLOW, not matched", []Filter{{Name: "allow", Rules: config(t, `{"policies": `+adminPolicy+`}`)}}, "spiffe://cluster.local/ns/apps/sa/web", false, ""},
		{"ALLOW without policies denies all", []Filter{{Name: "allow", Rules: config(t, `{}`)}}, admin, false, ""},
		{"DENY, matched", []Filter{{Name: "deny", Rules: config(t, `{"action": "DENY", "policies": `+adminPolicy+`}`)}}, admin, false, "admin"},
		{"DENY, not matched", []Filter{{Name: "deny", Rules: config(t, `{"action": "DENY", "policies": `+adminPolicy+`}`)}}, "", true, ""},
		{"LOG never denies", []Filter{{Name: "log", Rules: config(t, `{"action": "LOG", "policies": `+adminPolicy+`}`)}}, "", true, ""},
		{"no rules, only shadow rules", []Filter{{Name: "dry", Shadow: config(t, `{"policies": `+adminPolicy+`}`)}}, "", true, ""},
		{"DENY before ALLOW", []Filter{{Name: "deny", Rules: config(t, `{"action": "DENY", "policies": `+adminPolicy+`}`)},
			{Name: "allow", Rules: config(t, `{"policies": `+adminPolicy+`}`)}}, admin, false, "admin"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, err := Evaluate(tc.filters, httpRequest(tc.principal, "GET", "/", nil))
			if err != nil {
				t.Fatal(err)
			}
			if d.Allowed != tc.allowed || d.Policy != tc.policy {
				t.Errorf("allowed %t policy %q, want %t %q", d.Allowed, d.Policy, tc.allowed, tc.policy)
			}
		})
	}
}

// TestShadow: shadow rules are reported and never enforced.
func TestShadow(t *testing.T) {
	d, err := Evaluate([]Filter{{Name: "dry", Shadow: config(t, `{"policies": `+adminPolicy+`}`)}}, httpRequest("", "GET", "/", nil))
	if err != nil || !d.Allowed || len(d.Shadow) != 1 || d.Shadow[0] != "dry: denied by " {
		t.Errorf("%+v %v", d, err)
	}
}

// TestMatchers covers each permission and principal the way istiod uses
// them: and/or/not, StringMatcher kinds with ignore_case, full-match
// regexes, headers joined with ",", missing headers, url_path without the
// query, uri_template, destination ports and ranges, SNI, CIDRs.
func TestMatchers(t *testing.T) {
	perm := func(p string) *rbacv3.RBAC {
		return config(t, `{"policies": {"p": {"permissions": [`+p+`], "principals": [{"any": true}]}}}`)
	}
	prin := func(p string) *rbacv3.RBAC {
		return config(t, `{"policies": {"p": {"permissions": [{"any": true}], "principals": [`+p+`]}}}`)
	}
	get := func(path string, h map[string][]string) *Request { return httpRequest(admin, "GET", path, h) }
	tls := &Request{SNI: "a.example.com", DestinationPort: 443, DirectRemoteIP: netip.MustParseAddr("10.1.2.3"), FilterState: map[string]string{}}
	for _, tc := range []struct {
		name string
		rbac *rbacv3.RBAC
		r    *Request
		want bool
	}{
		{"method exact", perm(`{"header": {"name": ":method", "stringMatch": {"exact": "GET"}}}`), get("/", nil), true},
		{"method exact is case-sensitive", perm(`{"header": {"name": ":method", "stringMatch": {"exact": "get"}}}`), get("/", nil), false},
		{"authority ignoring case", perm(`{"header": {"name": ":authority", "stringMatch": {"exact": "API.example.com", "ignoreCase": true}}}`), get("/", nil), true},
		{"header values joined with a comma", perm(`{"header": {"name": "x-team", "stringMatch": {"exact": "blue,red"}}}`), get("/", map[string][]string{"x-team": {"blue", "red"}}), true},
		{"a missing header does not match", perm(`{"header": {"name": "x-team", "stringMatch": {"prefix": ""}}}`), get("/", nil), false},
		{"a missing header, treated as empty", perm(`{"header": {"name": "x-team", "stringMatch": {"exact": ""}, "treatMissingHeaderAsEmpty": true}}`), get("/", nil), true},
		{"present_match false on a missing header", perm(`{"header": {"name": "x-team", "presentMatch": false}}`), get("/", nil), true},
		{"invert_match", perm(`{"header": {"name": ":method", "stringMatch": {"exact": "POST"}, "invertMatch": true}}`), get("/", nil), true},
		{"headers are not seen on a TCP chain", perm(`{"header": {"name": ":method", "presentMatch": true}}`), tls, false},
		{"url_path drops the query", perm(`{"urlPath": {"path": {"exact": "/get"}}}`), get("/get?x=1", nil), true},
		{"url_path prefix", perm(`{"urlPath": {"path": {"prefix": "/status/"}}}`), get("/status/200", nil), true},
		{"url_path suffix", perm(`{"urlPath": {"path": {"suffix": ".json"}}}`), get("/a/data.json?p=2", nil), true},
		{"regex must match the whole value", perm(`{"urlPath": {"path": {"safeRegex": {"regex": "/a"}}}}`), get("/ab", nil), false},
		{"and_rules", perm(`{"andRules": {"rules": [{"destinationPort": 80}, {"urlPath": {"path": {"exact": "/"}}}]}}`), get("/", nil), true},
		{"or_rules", perm(`{"orRules": {"rules": [{"destinationPort": 81}, {"urlPath": {"path": {"exact": "/x"}}}]}}`), get("/", nil), false},
		{"not_rule", perm(`{"notRule": {"destinationPort": 81}}`), get("/", nil), true},
		{"port range, end excluded", perm(`{"destinationPortRange": {"start": 70, "end": 80}}`), get("/", nil), false},
		{"requested_server_name", perm(`{"requestedServerName": {"suffix": ".example.com"}}`), tls, true},
		{"direct_remote_ip", prin(`{"directRemoteIp": {"addressPrefix": "10.1.0.0", "prefixLen": 16}}`), tls, true},
		{"remote_ip unset", prin(`{"remoteIp": {"addressPrefix": "10.1.0.0", "prefixLen": 16}}`), tls, false},
		{"a single address", prin(`{"directRemoteIp": {"addressPrefix": "10.1.2.3", "prefixLen": 32}}`), tls, true},
		{"filter state absent", prin(`{"filterState": {"key": "io.istio.peer_principal", "stringMatch": {"prefix": ""}}}`), tls, false},
		{"not_id of an absent identity", prin(`{"notId": {"filterState": {"key": "io.istio.peer_principal", "stringMatch": {"prefix": ""}}}}`), tls, true},
		{"and_ids", prin(`{"andIds": {"ids": [{"any": true}, {"directRemoteIp": {"addressPrefix": "192.0.2.0", "prefixLen": 24}}]}}`), tls, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, err := Evaluate([]Filter{{Name: "f", Rules: tc.rbac}}, tc.r)
			if err != nil {
				t.Fatal(err)
			}
			if d.Allowed != tc.want {
				t.Errorf("allowed %t, want %t", d.Allowed, tc.want)
			}
		})
	}
}

// TestURITemplate: "*" is one non-empty segment, "**" any number of them,
// the rest literal.
func TestURITemplate(t *testing.T) {
	for _, tc := range []struct {
		tpl, path string
		want      bool
	}{
		{"/api/{*}/items", "/api/v1/items", true},
		{"/api/{*}/items", "/api/v1/x/items", false},
		{"/api/{*}/items", "/api//items", false},
		{"/files/{**}", "/files/a/b", true},
		{"/files/{**}", "/files/", true},
		{"/files/{**}", "/filesx", false},
		{"/a.b/{*}", "/aXb/c", false},
	} {
		re, err := templateRegexp(tc.tpl)
		if err != nil {
			t.Fatal(err)
		}
		if got := re.MatchString(tc.path); got != tc.want {
			t.Errorf("%s ~ %s = %t, want %t", tc.tpl, tc.path, got, tc.want)
		}
	}
	if _, err := templateRegexp("/a{b}c"); err == nil {
		t.Error("a named variable is not evaluated and must say so")
	}
}

// TestUnsupportedIsAnError: a matcher the evaluator does not know is an
// error, never a silent verdict.
func TestUnsupportedIsAnError(t *testing.T) {
	c := config(t, `{"policies": {"p": {"permissions": [{"metadata": {"filter": "envoy.filters.http.jwt_authn", "path": [{"key": "payload"}], "value": {"presentMatch": true}}}], "principals": [{"any": true}]}}}`)
	if _, err := Evaluate([]Filter{{Name: "f", Rules: c}}, httpRequest(admin, "GET", "/", nil)); err == nil {
		t.Error("a metadata matcher was evaluated")
	}
}

// FuzzEvaluate: any path, header value and SNI against matchers of every
// kind istiod writes never panics and gives the same answer twice.
func FuzzEvaluate(f *testing.F) {
	f.Add("/get?x=1", "blue", "a.example.com", "GET")
	f.Add("/files/a/b", "", "", "POST")
	f.Add("/%2F..//x", "a,b", "*.example", "")
	rules := config(f, `{"policies": {
  "p1": {"permissions": [{"orRules": {"rules": [{"urlPath": {"path": {"prefix": "/status/"}}}, {"uriTemplate": {"name": "uri-template",
    "typedConfig": {"@type": "type.googleapis.com/envoy.extensions.path.match.uri_template.v3.UriTemplateMatchConfig", "pathTemplate": "/files/{**}"}}}]}}],
    "principals": [{"any": true}]},
  "p2": {"permissions": [{"andRules": {"rules": [{"header": {"name": "x-team", "stringMatch": {"safeRegex": {"regex": "b.*"}}}},
    {"notRule": {"header": {"name": ":method", "stringMatch": {"exact": "POST", "ignoreCase": true}}}}]}}],
    "principals": [{"notId": {"filterState": {"key": "io.istio.peer_principal", "stringMatch": {"suffix": "/sa/web"}}}}]},
  "p3": {"permissions": [{"requestedServerName": {"suffix": ".example.com"}}], "principals": [{"any": true}]}}}`)
	f.Fuzz(func(t *testing.T, path, team, sni, method string) {
		r := httpRequest(admin, method, path, map[string][]string{"x-team": {team}})
		r.SNI = sni
		a, errA := Evaluate([]Filter{{Name: "f", Rules: rules}}, r)
		b, errB := Evaluate([]Filter{{Name: "f", Rules: rules}}, r)
		if (errA == nil) != (errB == nil) || a.Allowed != b.Allowed || a.Policy != b.Policy {
			t.Fatalf("two evaluations differ: %+v %v / %+v %v", a, errA, b, errB)
		}
	})
}

// BenchmarkEvaluate: the seed's two filters as istiod writes them (a DENY
// filter over namespaces and the ALLOW filter of service accounts and
// methods and paths), on a request the ALLOW filter's second policy lets
// through after the first fails: the common case of egressctl verify.
func BenchmarkEvaluate(b *testing.B) {
	deny := config(b, `{"action": "DENY", "policies": {"deny": {"permissions": [{"any": true}], "principals": [{"filterState": {"key": "io.istio.peer_principal",
  "stringMatch": {"safeRegex": {"regex": ".*/ns/bad/.*"}}}}]}}}`)
	allow := config(b, `{"policies": `+adminPolicy[:len(adminPolicy)-1]+`, "get": {"permissions": [{"andRules": {"rules": [
  {"header": {"name": ":method", "stringMatch": {"exact": "GET"}}}, {"urlPath": {"path": {"exact": "/get"}}}]}}], "principals": [{"any": true}]}}}`)
	filters := []Filter{{Name: "deny", Rules: deny}, {Name: "allow", Rules: allow}}
	r := httpRequest("spiffe://cluster.local/ns/apps/sa/web", "GET", "/get", nil)
	b.ReportAllocs()
	for b.Loop() {
		if d, err := Evaluate(filters, r); err != nil || !d.Allowed {
			b.Fatal(d, err)
		}
	}
}
