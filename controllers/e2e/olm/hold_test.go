//go:build olm

package olm

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	admissionv1 "k8s.io/api/admission/v1"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// helmHold keeps a Helm action of the operator in flight for as long as the
// test needs: a validating admission webhook, served by the test, that holds
// the creation of the waypoint Gateway in one namespace until released. The
// Helm install waits on the API server, which waits on the webhook, so the
// operator's Upgradeable=False is not a race the test has to win.
type helmHold struct {
	held     chan struct{} // closed when a real (not dry-run) create is held
	release  chan struct{} // closed by Release
	dryRuns  chan struct{} // one per dry-run request seen
	once     sync.Once
	heldOnce sync.Once
	server   *http.Server
}

// maxHold stays under the API server's 30 s ceiling for webhook calls, so a
// test that fails to release never makes the Helm action fail as well.
const maxHold = 25 * time.Second

// startHelmHold serves the webhook on 127.0.0.1 and registers it for
// Gateway creates in namespace ns. It returns once the API server calls it.
func startHelmHold(t *testing.T, ns string) *helmHold {
	t.Helper()
	h := &helmHold{held: make(chan struct{}), release: make(chan struct{}), dryRuns: make(chan struct{}, 16)}
	caPEM, cert := selfSigned(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	h.server = &http.Server{Handler: http.HandlerFunc(h.serve), TLSConfig: &tls.Config{Certificates: []tls.Certificate{cert}}, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = h.server.ServeTLS(ln, "", "") }()
	t.Cleanup(func() { h.Release(); _ = h.server.Close() })

	url := "https://" + ln.Addr().String() + "/hold"
	vwc := &admissionregistrationv1.ValidatingWebhookConfiguration{
		ObjectMeta: metav1.ObjectMeta{Name: "olm-e2e-helm-hold"},
		Webhooks: []admissionregistrationv1.ValidatingWebhook{{
			Name:                    "hold.olm-e2e.egress.ambient.io",
			ClientConfig:            admissionregistrationv1.WebhookClientConfig{URL: &url, CABundle: caPEM},
			Rules:                   []admissionregistrationv1.RuleWithOperations{{Operations: []admissionregistrationv1.OperationType{admissionregistrationv1.Create}, Rule: admissionregistrationv1.Rule{APIGroups: []string{"gateway.networking.k8s.io"}, APIVersions: []string{"*"}, Resources: []string{"gateways"}}}},
			NamespaceSelector:       &metav1.LabelSelector{MatchLabels: map[string]string{"kubernetes.io/metadata.name": ns}},
			SideEffects:             ptr.To(admissionregistrationv1.SideEffectClassNone),
			AdmissionReviewVersions: []string{"v1"},
			TimeoutSeconds:          ptr.To[int32](30),
			FailurePolicy:           ptr.To(admissionregistrationv1.Fail),
		}},
	}
	if err := c.Create(ctx(), vwc); err != nil {
		t.Fatalf("registering the hold webhook: %v", err)
	}
	t.Cleanup(func() { _ = c.Delete(ctx(), vwc) })
	h.waitActive(t, ns)
	return h
}

// waitActive dry-runs Gateway creates in ns until the webhook sees one: the
// API server loads webhook configurations asynchronously.
func (h *helmHold) waitActive(t *testing.T, ns string) {
	t.Helper()
	probe := gatewayProbe(ns)
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		_ = c.Create(ctx(), probe.DeepCopy(), client.DryRunAll)
		select {
		case <-h.dryRuns:
			return
		case <-time.After(200 * time.Millisecond):
		}
	}
	t.Fatal("the API server never called the hold webhook")
}

func (h *helmHold) serve(w http.ResponseWriter, r *http.Request) {
	review := &admissionv1.AdmissionReview{}
	if err := json.NewDecoder(r.Body).Decode(review); err != nil || review.Request == nil {
		http.Error(w, "not an AdmissionReview", http.StatusBadRequest)
		return
	}
	if ptr.Deref(review.Request.DryRun, false) {
		select {
		case h.dryRuns <- struct{}{}:
		default:
		}
	} else {
		h.heldOnce.Do(func() { close(h.held) })
		select {
		case <-h.release:
		case <-time.After(maxHold):
		}
	}
	review.Response = &admissionv1.AdmissionResponse{UID: review.Request.UID, Allowed: true}
	review.Request = nil
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(review)
}

// Held is closed once a Gateway create is being held.
func (h *helmHold) Held() <-chan struct{} { return h.held }

// Release lets every held and future request through.
func (h *helmHold) Release() { h.once.Do(func() { close(h.release) }) }

// selfSigned returns a CA-less self-signed certificate for 127.0.0.1, as PEM
// for the webhook's caBundle and as the server's key pair.
func selfSigned(t *testing.T) ([]byte, tls.Certificate) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "olm-e2e hold webhook"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// gatewayProbe is a waypoint-like Gateway, only ever created as a dry run.
func gatewayProbe(ns string) *gatewayv1.Gateway {
	return &gatewayv1.Gateway{
		ObjectMeta: metav1.ObjectMeta{Name: "hold-probe", Namespace: ns},
		Spec: gatewayv1.GatewaySpec{
			GatewayClassName: "istio-waypoint",
			Listeners:        []gatewayv1.Listener{{Name: "mesh", Port: 15008, Protocol: "HBONE"}},
		},
	}
}
