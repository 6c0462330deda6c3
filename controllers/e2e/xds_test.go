//go:build e2e

package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	tcpproxyv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/tcp_proxy/v3"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ambient-egress/ambient-egress-operator/controllers/internal/testenv"
	"github.com/ambient-egress/ambient-egress-operator/controllers/internal/xds"
)

// istiodXDS is the plaintext xDS port hack/cluster gives istiod
// (--grpcAddr).
const istiodXDS = "127.0.0.1:15010"

// waypointListeners asks the real istiod for the listeners it generates
// for the waypoint of Gateway gateway in ns, presenting itself as that
// waypoint's pod does (xds.Waypoint.Node), as the operator's verification
// does. The pod is the one istiod's Deployment for the Gateway runs on kwok.
func waypointListeners(t *testing.T, ns, gateway string) []*listenerv3.Listener {
	t.Helper()
	var pod corev1.Pod
	testenv.Eventually(t, timeout, "a running waypoint pod with an IP", func(ctx context.Context) (bool, error) {
		var pods corev1.PodList
		if err := c.List(ctx, &pods, client.InNamespace(ns), client.MatchingLabels{"gateway.networking.k8s.io/gateway-name": gateway}); err != nil {
			return false, err
		}
		for _, p := range pods.Items {
			if p.Status.PodIP != "" && p.DeletionTimestamp == nil {
				pod = p
				return true, nil
			}
		}
		return false, nil
	})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	listeners, err := xds.Listeners(ctx, istiodXDS, xds.Waypoint{Pod: &pod, Gateway: gateway, IstioVersion: "1.31.0"})
	if err != nil {
		t.Fatal(err)
	}
	return listeners
}

// accessLogs lists, per listener, the access loggers istiod configured on
// its HTTP connection managers and TCP proxies, and on the listener itself,
// as "<listener>: <logger type>".
func accessLogs(t *testing.T, listeners []*listenerv3.Listener) []string {
	t.Helper()
	var out []string
	add := func(l *listenerv3.Listener, where string, typeURL string) {
		out = append(out, l.GetName()+" "+where+": "+typeURL[strings.LastIndexByte(typeURL, '/')+1:])
	}
	for _, l := range listeners {
		for _, al := range l.GetAccessLog() {
			add(l, "listener", al.GetTypedConfig().GetTypeUrl())
		}
		for _, fc := range l.GetFilterChains() {
			for _, f := range fc.GetFilters() {
				switch tc := f.GetTypedConfig(); {
				case tc.MessageIs(&hcmv3.HttpConnectionManager{}):
					hcm := &hcmv3.HttpConnectionManager{}
					if err := tc.UnmarshalTo(hcm); err != nil {
						t.Fatal(err)
					}
					for _, al := range hcm.GetAccessLog() {
						add(l, "http", al.GetTypedConfig().GetTypeUrl())
					}
				case tc.MessageIs(&tcpproxyv3.TcpProxy{}):
					tp := &tcpproxyv3.TcpProxy{}
					if err := tc.UnmarshalTo(tp); err != nil {
						t.Fatal(err)
					}
					for _, al := range tp.GetAccessLog() {
						add(l, "tcp", al.GetTypedConfig().GetTypeUrl())
					}
				}
			}
		}
	}
	return out
}
