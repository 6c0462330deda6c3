package simulator

import (
	"fmt"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
)

// RequestSpec describes a request the way a person writes it: a URL or a
// host, a caller identity, headers. The egressctl flags and the scenario
// files both fill one, and Build turns it into a Request, so the CLI and the
// tests read requests identically.
type RequestSpec struct {
	// From is the caller's principal ("cluster.local/ns/default/sa/admin"),
	// or a bare service account name combined with SourceNamespace.
	From string `json:"from,omitempty"`
	// Plaintext means the caller has no mTLS identity.
	Plaintext bool `json:"plaintext,omitempty"`
	// SourceNamespace is the caller's namespace.
	SourceNamespace string `json:"sourceNamespace,omitempty"`
	// SourceIP and RemoteIP are addresses ("10.0.0.1").
	SourceIP string `json:"sourceIP,omitempty"`
	RemoteIP string `json:"remoteIP,omitempty"`
	// RequestPrincipal is the validated JWT's "iss/sub".
	RequestPrincipal string `json:"requestPrincipal,omitempty"`
	// Claims is the validated JWT payload.
	Claims map[string]any `json:"claims,omitempty"`
	// URL is an http:// or https:// URL; https means the mesh sees TLS.
	URL string `json:"url,omitempty"`
	// Host is the Host header (or TLS/TCP destination) when URL is not set.
	Host string `json:"host,omitempty"`
	// Path is the raw request path when Host is used.
	Path string `json:"path,omitempty"`
	// Method is the HTTP method.
	Method string `json:"method,omitempty"`
	// Headers are "Name: value" lines.
	Headers []string `json:"headers,omitempty"`
	// Port is the destination service port; 0 derives it.
	Port int `json:"port,omitempty"`
	// SNI and DestIP are connection attributes.
	SNI    string `json:"sni,omitempty"`
	DestIP string `json:"destIP,omitempty"`
	// At, DestNamespace, DestLabels and DestProtocol choose and describe the
	// enforcement point.
	At            string            `json:"at,omitempty"`
	DestNamespace string            `json:"destNamespace,omitempty"`
	DestLabels    map[string]string `json:"destLabels,omitempty"`
	DestProtocol  string            `json:"destProtocol,omitempty"`
	// Explain asks for a trace.
	Explain bool `json:"explain,omitempty"`
}

// Build validates the spec and makes a Request; trustDomain completes a
// bare service account name in From. Errors name the offending field.
func (s RequestSpec) Build(trustDomain string) (*Request, error) {
	r := &Request{DestNamespace: s.DestNamespace, DestLabels: s.DestLabels, SNI: s.SNI, Explain: s.Explain}
	steps := []func(*Request) error{
		func(r *Request) error { return s.identity(r, trustDomain) },
		s.addresses,
		s.jwt,
		s.target,
		s.headers,
		s.enforcement,
	}
	for _, step := range steps {
		if err := step(r); err != nil {
			return nil, err
		}
	}
	return r, nil
}

func (s RequestSpec) identity(r *Request, td string) error {
	switch {
	case s.From == "" && !s.Plaintext:
		return fmt.Errorf("from: give the caller's principal, or plaintext for a caller without mTLS identity")
	case s.From != "" && s.Plaintext:
		return fmt.Errorf("from: a plaintext caller has no principal; give one of from or plaintext")
	case s.Plaintext:
		return nil
	}
	principal := strings.TrimPrefix(s.From, "spiffe://")
	if !strings.Contains(principal, "/") {
		if s.SourceNamespace == "" {
			return fmt.Errorf("from: %q is not a principal (td/ns/NS/sa/SA); give the source namespace too", s.From)
		}
		principal = td + "/ns/" + s.SourceNamespace + "/sa/" + principal
	}
	if ns, _ := splitIdentity(principal); s.SourceNamespace != "" && ns != s.SourceNamespace {
		return fmt.Errorf("source-namespace: %q does not match the namespace of principal %q", s.SourceNamespace, principal)
	}
	r.Principal = principal
	return nil
}

func (s RequestSpec) addresses(r *Request) error {
	for _, a := range []struct {
		name, value string
		dst         *netip.Addr
	}{{"source-ip", s.SourceIP, &r.SourceIP}, {"remote-ip", s.RemoteIP, &r.RemoteIP}, {"dest-ip", s.DestIP, &r.DestIP}} {
		if a.value == "" {
			continue
		}
		ip, err := netip.ParseAddr(a.value)
		if err != nil {
			return fmt.Errorf("%s: %w", a.name, err)
		}
		*a.dst = ip
	}
	return nil
}

func (s RequestSpec) jwt(r *Request) error {
	r.RequestPrincipal, r.Claims = s.RequestPrincipal, s.Claims
	iss, _ := r.Claims["iss"].(string)
	sub, _ := r.Claims["sub"].(string)
	switch {
	case r.RequestPrincipal == "" && iss != "" && sub != "":
		r.RequestPrincipal = iss + "/" + sub
	case r.RequestPrincipal != "" && r.Claims == nil:
		i, sb := splitRequestPrincipal(r.RequestPrincipal)
		r.Claims = map[string]any{"iss": i, "sub": sb}
	case r.Claims != nil && r.RequestPrincipal == "":
		return fmt.Errorf("claims: a validated JWT needs iss and sub claims, or a request principal")
	}
	return nil
}

func (s RequestSpec) target(r *Request) error {
	switch {
	case s.URL != "" && s.Host != "":
		return fmt.Errorf("url: give one of url or host")
	case s.URL != "":
		return s.fromURL(r)
	case s.Host == "":
		return fmt.Errorf("host: give the destination as url or host")
	}
	r.Host, r.DestHost = s.Host, s.Host
	r.HTTP = s.Method != "" || s.Path != ""
	if r.HTTP {
		r.Method, r.Path = defaultString(s.Method, "GET"), defaultString(s.Path, "/")
	}
	r.Port = s.Port
	if r.Port == 0 {
		r.Port = portFromHost(s.Host, 80)
	}
	return checkPort(r.Port)
}

// fromURL reads an http or https URL. An https URL is TLS to the mesh: the
// waypoint sees the SNI, not the method or path.
func (s RequestSpec) fromURL(r *Request) error {
	u, err := url.Parse(s.URL)
	if err != nil {
		return fmt.Errorf("url: %w", err)
	}
	if u.Host == "" {
		return fmt.Errorf("url: %q has no host", s.URL)
	}
	defPort := 80
	switch u.Scheme {
	case "http":
		r.HTTP, r.Host = true, u.Host
		r.Method = defaultString(s.Method, "GET")
		r.Path = defaultString(u.EscapedPath(), "/")
		if u.RawQuery != "" {
			r.Path += "?" + u.RawQuery
		}
	case "https":
		defPort = 443
		r.SNI = defaultString(r.SNI, u.Hostname())
	default:
		return fmt.Errorf("url: scheme %q is not http or https", u.Scheme)
	}
	r.DestHost = u.Host
	r.Port = s.Port
	if r.Port == 0 {
		r.Port = portFromHost(u.Host, defPort)
	}
	return checkPort(r.Port)
}

func portFromHost(host string, def int) int {
	if i := strings.LastIndex(host, ":"); i >= 0 && !strings.HasSuffix(host, "]") {
		if p, err := strconv.Atoi(host[i+1:]); err == nil {
			return p
		}
	}
	return def
}

func checkPort(p int) error {
	if p < 1 || p > 65535 {
		return fmt.Errorf("port: %d is not between 1 and 65535", p)
	}
	return nil
}

func (s RequestSpec) headers(r *Request) error {
	for _, h := range s.Headers {
		name, value, ok := strings.Cut(h, ":")
		if !ok || strings.TrimSpace(name) == "" {
			return fmt.Errorf("header: %q is not 'Name: value'", h)
		}
		if r.Headers == nil {
			r.Headers = map[string]string{}
		}
		key := strings.ToLower(strings.TrimSpace(name))
		value = strings.TrimSpace(value)
		if prev, ok := r.Headers[key]; ok {
			value = prev + "," + value
		}
		r.Headers[key] = value
	}
	return nil
}

func (s RequestSpec) enforcement(r *Request) error {
	switch EnforcementPoint(s.At) {
	case EnforceAuto, EnforceWaypoint, EnforceZtunnel:
		r.At = EnforcementPoint(s.At)
	default:
		return fmt.Errorf("at: %q is not waypoint or ztunnel", s.At)
	}
	switch strings.ToUpper(s.DestProtocol) {
	case "", "HTTP", "TCP":
		r.DestProtocol = strings.ToUpper(s.DestProtocol)
	default:
		return fmt.Errorf("dest-protocol: %q is not HTTP or TCP", s.DestProtocol)
	}
	if r.At == EnforceZtunnel && r.DestNamespace == "" {
		return fmt.Errorf("dest-namespace: evaluating at ztunnel needs the destination workload's namespace")
	}
	return nil
}

func defaultString(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
