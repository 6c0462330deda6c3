// Package observetest runs a real Prometheus server over series shaped
// exactly like Istio's standard metrics, for tests of the observed-traffic
// comparison: the series are written as OpenMetrics, turned into TSDB
// blocks by promtool (tsdb create-blocks-from openmetrics) and served by
// Debian's prometheus on 127.0.0.1. hack/prometheus.sh installs both.
package observetest

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

// Flow is the traffic of one source to one host, spread evenly over
// [From, To] with one sample a minute, as a waypoint reports it.
type Flow struct {
	// Principal is the source's SPIFFE identity, "unknown" for none.
	Principal string
	// Host is the destination service.
	Host string
	// Code is the HTTP response code; 0 makes the flow TCP connections.
	Code int
	// Count is how many requests (or connections) over the span.
	Count    int
	From, To time.Time
	// Reporter is the proxy reporting it; "waypoint" when empty
	// (ztunnel's series say "source" or "destination").
	Reporter string
}

// OpenMetrics writes the flows as Istio's istio_requests_total and
// istio_tcp_connections_opened_total counters, with the labels Istio's
// proxies report.
func OpenMetrics(flows []Flow) string {
	families := map[string][]string{}
	for _, f := range flows {
		reporter := f.Reporter
		if reporter == "" {
			reporter = "waypoint"
		}
		name := "istio_requests_total"
		labels := fmt.Sprintf(`reporter=%q,source_principal=%q,source_workload_namespace=%q,destination_service=%q,destination_service_name=%q,request_protocol="http",response_code="%d",response_flags="-",connection_security_policy="mutual_tls"`,
			reporter, f.Principal, namespaceOf(f.Principal), f.Host, f.Host, f.Code)
		if f.Code == 0 {
			name = "istio_tcp_connections_opened_total"
			labels = fmt.Sprintf(`reporter=%q,source_principal=%q,source_workload_namespace=%q,destination_service=%q,destination_service_name=%q,request_protocol="tcp",response_flags="-",connection_security_policy="mutual_tls"`,
				reporter, f.Principal, namespaceOf(f.Principal), f.Host, f.Host)
		}
		families[name] = append(families[name], series(name, labels, f))
	}
	var b strings.Builder
	names := make([]string, 0, len(families))
	for n := range families {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(&b, "# TYPE %s counter\n", strings.TrimSuffix(n, "_total"))
		for _, s := range families[n] {
			b.WriteString(s)
		}
	}
	b.WriteString("# EOF\n")
	return b.String()
}

func namespaceOf(principal string) string {
	if _, rest, ok := strings.Cut(principal, "/ns/"); ok {
		ns, _, _ := strings.Cut(rest, "/")
		return ns
	}
	return "unknown"
}

// series is one counter growing linearly from 0 to f.Count, a sample a
// minute.
func series(name, labels string, f Flow) string {
	var b strings.Builder
	span := f.To.Sub(f.From)
	steps := max(int(span/time.Minute), 1)
	for i := 0; i <= steps; i++ {
		at := f.From.Add(time.Duration(i) * span / time.Duration(steps))
		fmt.Fprintf(&b, "%s{%s} %d %d\n", name, labels, f.Count*i/steps, at.Unix())
	}
	return b.String()
}

// Server is a running Prometheus over a fixed TSDB.
type Server struct {
	// URL is its HTTP API's base URL.
	URL  string
	dir  string
	addr string
	mu   sync.Mutex
	cmd  *exec.Cmd
	t    testing.TB
}

// Binary finds a program hack/prometheus.sh installs, failing the test
// with how to get it when missing.
func Binary(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Fatalf("%s not found: run hack/prometheus.sh (make test does), which installs Debian's prometheus package", name)
	}
	return p
}

// Start writes the series, builds their blocks with promtool and starts
// Prometheus over them on a free 127.0.0.1 port; it is stopped when the
// test ends.
func Start(t testing.TB, openMetrics string) *Server {
	t.Helper()
	dir := t.TempDir()
	in := filepath.Join(dir, "series.om")
	if err := os.WriteFile(in, []byte(openMetrics), 0o600); err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(dir, "data")
	out, err := exec.Command(Binary(t, "promtool"), "tsdb", "create-blocks-from", "openmetrics", in, data).CombinedOutput()
	if err != nil {
		t.Fatalf("promtool tsdb create-blocks-from openmetrics: %v\n%s", err, out)
	}
	if err := os.WriteFile(filepath.Join(dir, "prometheus.yml"), []byte("global: {}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	s := &Server{URL: "http://" + addr, dir: dir, addr: addr, t: t}
	s.Restart()
	t.Cleanup(s.Stop)
	return s
}

// Stop ends Prometheus and waits for it.
func (s *Server) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Kill()
	_ = s.cmd.Wait()
	s.cmd = nil
}

// Restart starts Prometheus again on the same address and data, and waits
// until it answers ready.
func (s *Server) Restart() {
	t := s.t
	t.Helper()
	s.mu.Lock()
	cmd := exec.Command(Binary(t, "prometheus"),
		"--config.file="+filepath.Join(s.dir, "prometheus.yml"),
		"--storage.tsdb.path="+filepath.Join(s.dir, "data"),
		// The blocks' times are fixed: keep them whatever their age.
		"--storage.tsdb.retention.time=100y",
		"--web.listen-address="+s.addr,
		"--log.level=warn")
	logFile, err := os.OpenFile(filepath.Join(s.dir, "prometheus.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		s.mu.Unlock()
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		s.mu.Unlock()
		t.Fatalf("starting prometheus: %v", err)
	}
	s.cmd = cmd
	s.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.URL+"/-/ready", nil)
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		select {
		case <-ctx.Done():
			log, _ := os.ReadFile(filepath.Join(s.dir, "prometheus.log"))
			t.Fatalf("prometheus on %s never became ready: %v\n%s", s.addr, err, log)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// SeedFlows is the seed's day of traffic, ending at end, for sources in
// namespace src (the seed's default/default and default/admin): admin
// POSTing to httpbin.org, default GETting /get there and being denied
// when it POSTs, default reaching api.example.com where only admin may
// (an impossible flow), admin never using its grant there; and two series
// the comparison must leave out: ztunnel's own report of a flow, and a
// principal not shaped as Istio writes one. Beside the seed, the
// destination api.example.com is simulator/observe/testdata/api.yaml.
func SeedFlows(end time.Time, src string) []Flow {
	admin := "spiffe://cluster.local/ns/" + src + "/sa/admin"
	dflt := "spiffe://cluster.local/ns/" + src + "/sa/default"
	const httpbin, api = "httpbin.org", "api.example.com"
	from := end.Add(-20 * time.Hour)
	return []Flow{
		{Principal: admin, Host: httpbin, Code: 200, Count: 120, From: from, To: end.Add(-30 * time.Minute)},
		{Principal: dflt, Host: httpbin, Code: 200, Count: 300, From: from, To: end.Add(-10 * time.Minute)},
		{Principal: dflt, Host: httpbin, Code: 403, Count: 40, From: from.Add(2 * time.Hour), To: end.Add(-2 * time.Hour)},
		{Principal: dflt, Host: api, Code: 200, Count: 15, From: end.Add(-6 * time.Hour), To: end.Add(-5 * time.Hour)},
		{Principal: dflt, Host: api, Code: 200, Count: 999, From: from, To: end, Reporter: "source"},
		{Principal: "spiffe://cluster.local/ns/Not_A_Namespace/sa/x", Host: httpbin, Code: 200, Count: 7, From: from, To: end},
	}
}
