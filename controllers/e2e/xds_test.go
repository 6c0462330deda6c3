//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	tcpproxyv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/tcp_proxy/v3"
	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/types/known/structpb"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ambient-egress/ambient-egress-operator/controllers/internal/testenv"
)

// istiodXDS is the plaintext xDS port hack/cluster gives istiod
// (--grpcAddr).
const istiodXDS = "127.0.0.1:15010"

const listenerType = "type.googleapis.com/envoy.config.listener.v3.Listener"

// waypointListeners asks the real istiod for the listeners it generates
// for the waypoint of Gateway gateway in ns, presenting itself as that
// waypoint's pod does: pilot-agent's node ID "waypoint~<pod IP>~<pod
// name>.<namespace>~<namespace>.svc.cluster.local" and the node metadata
// istiod reads to find the proxy's workload (pkg/model/proxy.go,
// NodeMetadata; pilot/pkg/model/context.go, ParseServiceNodeWithMetadata).
// The pod is the one istiod's Deployment for the Gateway runs on kwok.
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
	labels := map[string]any{}
	for k, v := range pod.Labels {
		labels[k] = v
	}
	meta, err := structpb.NewStruct(map[string]any{
		"NAMESPACE":       ns,
		"NAME":            pod.Name,
		"SERVICE_ACCOUNT": pod.Spec.ServiceAccountName,
		"LABELS":          labels,
		"CLUSTER_ID":      "Kubernetes",
		"INSTANCE_IPS":    pod.Status.PodIP,
		"WORKLOAD_NAME":   gateway,
		"ISTIO_VERSION":   "1.31.0",
	})
	if err != nil {
		t.Fatal(err)
	}
	node := &corev3.Node{
		Id:       fmt.Sprintf("waypoint~%s~%s.%s~%s.svc.cluster.local", pod.Status.PodIP, pod.Name, ns, ns),
		Cluster:  gateway + "." + ns,
		Metadata: meta,
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	conn, err := grpc.NewClient(istiodXDS, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	stream, err := discoveryv3.NewAggregatedDiscoveryServiceClient(conn).StreamAggregatedResources(ctx)
	if err != nil {
		t.Fatalf("opening an ADS stream to istiod at %s: %v", istiodXDS, err)
	}
	if err := stream.Send(&discoveryv3.DiscoveryRequest{Node: node, TypeUrl: listenerType}); err != nil {
		t.Fatal(err)
	}
	for {
		resp, err := stream.Recv()
		if err != nil {
			t.Fatalf("istiod's listeners for waypoint %s/%s: %v", ns, gateway, err)
		}
		if resp.GetTypeUrl() != listenerType {
			continue
		}
		var out []*listenerv3.Listener
		for _, r := range resp.GetResources() {
			l := &listenerv3.Listener{}
			if err := r.UnmarshalTo(l); err != nil {
				t.Fatal(err)
			}
			out = append(out, l)
		}
		return out
	}
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
