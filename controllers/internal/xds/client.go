// Package xds asks istiod, over its plaintext xDS port, for the listeners it
// generates for a waypoint: the configuration the waypoint's Envoy runs,
// including the RBAC filters the report is checked against. It presents
// itself as the waypoint's pod does, so istiod generates exactly that
// pod's configuration; it reads, never acknowledges or applies anything.
package xds

import (
	"context"
	"errors"
	"fmt"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/types/known/structpb"
	corev1 "k8s.io/api/core/v1"
)

// ListenerType is the xDS type URL of listeners.
const ListenerType = "type.googleapis.com/envoy.config.listener.v3.Listener"

// DefaultClusterID is istiod's cluster ID unless its CLUSTER_ID says
// otherwise (pilot/pkg/features, ClusterName).
const DefaultClusterID = "Kubernetes"

// MaxResponseBytes bounds one xDS response: a waypoint with thousands of
// ServiceEntries has large listeners, but never this large.
const MaxResponseBytes = 64 << 20

// Waypoint is the waypoint proxy to present as.
type Waypoint struct {
	// Pod is one of the waypoint's running pods (name, namespace, IP,
	// labels and service account are read).
	Pod *corev1.Pod
	// Gateway is the waypoint's Gateway name.
	Gateway string
	// ClusterID is istiod's cluster ID; DefaultClusterID when empty.
	ClusterID string
	// IstioVersion is the proxy version to claim ("1.29.0"); empty
	// claims none, which istiod reads as the newest.
	IstioVersion string
}

// Node is the node a waypoint pod's pilot-agent sends: the ID
// "waypoint~<pod IP>~<pod name>.<namespace>~<namespace>.svc.cluster.local"
// and the metadata istiod reads to find the proxy's workload and identity
// (pilot/pkg/model/context.go, ParseServiceNodeWithMetadata; NodeMetadata's
// NAMESPACE, NAME, SERVICE_ACCOUNT, LABELS, CLUSTER_ID, INSTANCE_IPS).
func (w Waypoint) Node() (*corev3.Node, error) {
	p := w.Pod
	if p == nil || p.Status.PodIP == "" {
		return nil, errors.New("the waypoint pod has no IP yet")
	}
	labels := map[string]any{}
	for k, v := range p.Labels {
		labels[k] = v
	}
	fields := map[string]any{
		"NAMESPACE":       p.Namespace,
		"NAME":            p.Name,
		"SERVICE_ACCOUNT": p.Spec.ServiceAccountName,
		"LABELS":          labels,
		"CLUSTER_ID":      DefaultClusterID,
		"INSTANCE_IPS":    p.Status.PodIP,
		"WORKLOAD_NAME":   w.Gateway,
	}
	if w.ClusterID != "" {
		fields["CLUSTER_ID"] = w.ClusterID
	}
	if w.IstioVersion != "" {
		fields["ISTIO_VERSION"] = w.IstioVersion
	}
	meta, err := structpb.NewStruct(fields)
	if err != nil {
		return nil, err
	}
	return &corev3.Node{
		Id:       fmt.Sprintf("waypoint~%s~%s.%s~%s.svc.cluster.local", p.Status.PodIP, p.Name, p.Namespace, p.Namespace),
		Cluster:  w.Gateway + "." + p.Namespace,
		Metadata: meta,
	}, nil
}

// Listeners opens one ADS stream to istiod at address (plaintext, the
// port istiod serves on 15010), asks for w's listeners and returns the
// first answer. ctx bounds the whole exchange.
func Listeners(ctx context.Context, address string, w Waypoint) ([]*listenerv3.Listener, error) {
	node, err := w.Node()
	if err != nil {
		return nil, err
	}
	conn, err := grpc.NewClient(address, grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(MaxResponseBytes)))
	if err != nil {
		return nil, fmt.Errorf("istiod xDS at %s: %w", address, err)
	}
	defer conn.Close()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel() // ends the stream
	stream, err := discoveryv3.NewAggregatedDiscoveryServiceClient(conn).StreamAggregatedResources(ctx)
	if err != nil {
		return nil, fmt.Errorf("opening an ADS stream to istiod at %s: %w", address, err)
	}
	if err := stream.Send(&discoveryv3.DiscoveryRequest{Node: node, TypeUrl: ListenerType}); err != nil {
		return nil, fmt.Errorf("asking istiod at %s for listeners: %w", address, err)
	}
	for {
		resp, err := stream.Recv()
		if err != nil {
			return nil, fmt.Errorf("istiod's listeners for waypoint %s/%s (%s): %w", node.GetId(), w.Gateway, address, err)
		}
		if resp.GetTypeUrl() != ListenerType {
			continue
		}
		out := make([]*listenerv3.Listener, 0, len(resp.GetResources()))
		for _, r := range resp.GetResources() {
			l := &listenerv3.Listener{}
			if err := r.UnmarshalTo(l); err != nil {
				return nil, fmt.Errorf("istiod's listener: %w", err)
			}
			out = append(out, l)
		}
		return out, nil
	}
}
