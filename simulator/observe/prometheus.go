package observe

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/prometheus/client_golang/api"
	promv1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"
)

// MaxResponseBytes bounds one query's answer: MaxSeries series of a few
// hundred bytes each, with room to spare.
const MaxResponseBytes = 8 << 20

// DefaultQueryTimeout bounds the queries of one look at Prometheus.
const DefaultQueryTimeout = 20 * time.Second

// Endpoint is how to reach Prometheus.
type Endpoint struct {
	// URL is the base URL of its HTTP API (http or https).
	URL string
	// BearerToken is sent as "Authorization: Bearer" when set.
	BearerToken string
	// CAPEM are the certificates to trust for https, instead of the
	// system's, when set.
	CAPEM []byte
}

// NewAPI is a Prometheus API client for e, whose answers are cut at
// MaxResponseBytes.
func NewAPI(e Endpoint) (promv1.API, error) {
	u, err := url.Parse(e.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("%q is not an http or https URL", e.URL)
	}
	transport := http.DefaultTransport.(*http.Transport).Clone()
	if len(e.CAPEM) > 0 {
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(e.CAPEM) {
			return nil, errors.New("the CA bundle holds no PEM certificate")
		}
		transport.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	c, err := api.NewClient(api.Config{Address: e.URL, RoundTripper: &limited{next: transport, token: e.BearerToken}})
	if err != nil {
		return nil, err
	}
	return promv1.NewAPI(c), nil
}

// limited adds the bearer token and cuts answers at MaxResponseBytes.
type limited struct {
	next  http.RoundTripper
	token string
}

func (l *limited) RoundTrip(r *http.Request) (*http.Response, error) {
	if l.token != "" {
		r = r.Clone(r.Context())
		r.Header.Set("Authorization", "Bearer "+l.token)
	}
	resp, err := l.next.RoundTrip(r)
	if err != nil {
		return nil, err
	}
	resp.Body = &capped{ReadCloser: resp.Body, left: MaxResponseBytes}
	return resp, nil
}

type capped struct {
	io.ReadCloser
	left int64
}

func (c *capped) Read(p []byte) (int, error) {
	if c.left <= 0 {
		return 0, fmt.Errorf("the answer is larger than %d bytes", MaxResponseBytes)
	}
	if int64(len(p)) > c.left {
		p = p[:c.left+1] // one byte more tells a full answer from a cut one
	}
	n, err := c.ReadCloser.Read(p)
	c.left -= int64(n)
	if c.left < 0 {
		return 0, fmt.Errorf("the answer is larger than %d bytes", MaxResponseBytes)
	}
	return n, err
}

// Observe runs Queries(hosts, direct, window) at time at and decodes
// their answers. Each query must answer a vector; a warning from
// Prometheus is not an error.
func Observe(ctx context.Context, p promv1.API, hosts, direct []string, window time.Duration, at time.Time) (Traffic, error) {
	results := map[string]model.Vector{}
	for _, q := range Queries(hosts, direct, window) {
		v, _, _, err := p.Query(ctx, q.PromQL, at)
		if err != nil {
			return Traffic{}, fmt.Errorf("query %s: %w", q.Name, err)
		}
		vec, ok := v.(model.Vector)
		if !ok {
			return Traffic{}, fmt.Errorf("query %s answered a %s, not a vector", q.Name, v.Type())
		}
		results[q.Name] = vec
	}
	return Decode(results, hosts, direct), nil
}
