package simulator

import (
	"encoding/json"
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// egressGatewaySpec mirrors the fields of the operator's EgressGateway spec
// the simulator needs. It is decoded here, not imported from apis/, so the
// simulator stays free of the operator's packages; other fields are ignored.
type egressGatewaySpec struct {
	Waypoint *struct {
		Name        string `json:"name"`
		TrafficType string `json:"trafficType"`
	} `json:"waypoint"`
	EnrollNamespace      *bool                 `json:"enrollNamespace"`
	ServiceEntrySelector *metav1.LabelSelector `json:"serviceEntrySelector"`
}

// Traffic types a waypoint accepts (label istio.io/waypoint-for).
const (
	TrafficService  = "service"
	TrafficAll      = "all"
	TrafficWorkload = "workload"
	TrafficNone     = "none"
)

func decodeEgressGateway(s *Snapshot, m Meta, spec json.RawMessage) error {
	var es egressGatewaySpec
	if len(spec) > 0 {
		if err := json.Unmarshal(spec, &es); err != nil {
			return fmt.Errorf("cannot decode: %w", err)
		}
	}
	egw := &EgressGateway{Meta: m, WaypointName: m.Name, TrafficType: TrafficService, EnrollNamespace: true,
		ServiceEntrySelector: es.ServiceEntrySelector}
	if es.Waypoint != nil {
		if es.Waypoint.Name != "" {
			egw.WaypointName = es.Waypoint.Name
		}
		if es.Waypoint.TrafficType != "" {
			egw.TrafficType = es.Waypoint.TrafficType
		}
	}
	if es.EnrollNamespace != nil {
		egw.EnrollNamespace = *es.EnrollNamespace
	}
	if egw.TrafficType != TrafficService && egw.TrafficType != TrafficAll {
		return fmt.Errorf("spec.waypoint.trafficType: must be %q or %q, got %q", TrafficService, TrafficAll, egw.TrafficType)
	}
	put(s, &s.EgressGateways, m.Origin, egw)
	return nil
}
