package simulator

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	networkingv1alpha3 "istio.io/api/networking/v1alpha3"
	securityv1beta1 "istio.io/api/security/v1beta1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

type groupKind struct{ group, kind string }

type decoder struct {
	namespaced bool
	decode     func(s *Snapshot, m Meta, spec json.RawMessage) error
	// withStatus, when set, is used instead of decode for kinds whose
	// status the simulator reads (a Pod's address).
	withStatus func(s *Snapshot, m Meta, spec, status json.RawMessage) error
}

const (
	groupSecurity   = "security.istio.io"
	groupNetworking = "networking.istio.io"
	groupGateway    = "gateway.networking.k8s.io"
	groupEgress     = "egress.ambient.io"
	groupK8sNet     = "networking.k8s.io"
	groupPolicyNet  = "policy.networking.k8s.io"
)

// decoders lists the kinds the simulator reads, by API group and kind; the
// version is not checked, as every served version has the same schema.
var decoders = map[groupKind]decoder{
	{groupSecurity, "AuthorizationPolicy"}:         {true, decodeAuthorizationPolicy, nil},
	{groupSecurity, "RequestAuthentication"}:       {true, decodeRequestAuthentication, nil},
	{groupNetworking, "ServiceEntry"}:              {namespaced: true, withStatus: decodeServiceEntry},
	{groupNetworking, "DestinationRule"}:           {true, decodeDestinationRule, nil},
	{groupGateway, "Gateway"}:                      {true, decodeGateway, nil},
	{groupGateway, "GatewayClass"}:                 {false, decodeGatewayClass, nil},
	{"", "Namespace"}:                              {false, decodeNamespace, nil},
	{"", "ServiceAccount"}:                         {true, decodeServiceAccount, nil},
	{"", "Service"}:                                {true, decodeService, nil},
	{groupEgress, "EgressGateway"}:                 {true, decodeEgressGateway, nil},
	{groupK8sNet, "NetworkPolicy"}:                 {true, decodeNetworkPolicy, nil},
	{"", "Pod"}:                                    {namespaced: true, withStatus: decodePod},
	{groupPolicyNet, "AdminNetworkPolicy"}:         {false, decodeAdminNetworkPolicy, nil},
	{groupPolicyNet, "BaselineAdminNetworkPolicy"}: {false, decodeBaselineAdminNetworkPolicy, nil},
}

// unmarshalSpec decodes an Istio spec strictly: like kubectl's default
// server-side field validation, an unknown field is an error naming it.
func unmarshalSpec(spec json.RawMessage, msg proto.Message) error {
	if len(bytes.TrimSpace(spec)) == 0 || bytes.Equal(bytes.TrimSpace(spec), []byte("null")) {
		return nil
	}
	if err := protojson.Unmarshal(spec, msg); err != nil {
		return fmt.Errorf("cannot decode: %s", strings.TrimPrefix(err.Error(), "proto: "))
	}
	return nil
}

func decodeAuthorizationPolicy(s *Snapshot, m Meta, spec json.RawMessage) error {
	p := &AuthorizationPolicy{Meta: m, Spec: &securityv1beta1.AuthorizationPolicy{}}
	if err := unmarshalSpec(spec, p.Spec); err != nil {
		return err
	}
	put(s, &s.AuthorizationPolicies, m.Origin, p)
	return nil
}

// serviceEntryStatus is the part of a ServiceEntry's status the simulator
// reads: the addresses istiod allocated. The rest (conditions istiod
// writes) is left alone, as kubectl get -o yaml output carries it.
type serviceEntryStatus struct {
	Addresses []AllocatedAddress `json:"addresses"`
}

func decodeRequestAuthentication(s *Snapshot, m Meta, spec json.RawMessage) error {
	ra := &RequestAuthentication{Meta: m, Spec: &securityv1beta1.RequestAuthentication{}}
	if err := unmarshalSpec(spec, ra.Spec); err != nil {
		return err
	}
	put(s, &s.RequestAuthentications, m.Origin, ra)
	return nil
}

func decodeServiceEntry(s *Snapshot, m Meta, spec, status json.RawMessage) error {
	se := &ServiceEntry{Meta: m, Spec: &networkingv1alpha3.ServiceEntry{}}
	if err := unmarshalSpec(spec, se.Spec); err != nil {
		return err
	}
	if len(bytes.TrimSpace(status)) > 0 && !bytes.Equal(bytes.TrimSpace(status), []byte("null")) {
		var st serviceEntryStatus
		if err := json.Unmarshal(status, &st); err != nil {
			return fmt.Errorf("status: cannot decode: %w", err)
		}
		se.Allocated = st.Addresses
	}
	// istiod's validation (pkg/config/validation, ValidateServiceEntry):
	// with resolution DNS and no endpoints every host must be a fully
	// qualified name, which a wildcard is not. The CRD does not check it.
	if se.Spec.GetResolution() == networkingv1alpha3.ServiceEntry_DNS && len(se.Spec.GetEndpoints()) == 0 {
		for i, h := range se.Spec.GetHosts() {
			if strings.Contains(h, "*") {
				return fmt.Errorf("hosts[%d] %q: hosts must be FQDN if no endpoints are provided for resolution mode DNS "+
					"(Istio refuses it): use resolution DYNAMIC_DNS or NONE for a wildcard host", i, h)
			}
		}
	}
	put(s, &s.ServiceEntries, m.Origin, se)
	return nil
}

func decodeDestinationRule(s *Snapshot, m Meta, spec json.RawMessage) error {
	dr := &DestinationRule{Meta: m, Spec: &networkingv1alpha3.DestinationRule{}}
	if err := unmarshalSpec(spec, dr.Spec); err != nil {
		return err
	}
	put(s, &s.DestinationRules, m.Origin, dr)
	return nil
}

func decodeNamespace(s *Snapshot, m Meta, _ json.RawMessage) error {
	put(s, &s.Namespaces, m.Origin, &Namespace{Meta: m})
	return nil
}

func decodeServiceAccount(s *Snapshot, m Meta, _ json.RawMessage) error {
	put(s, &s.ServiceAccounts, m.Origin, &m)
	return nil
}

func decodeGatewayClass(s *Snapshot, m Meta, _ json.RawMessage) error {
	put(s, &s.GatewayClasses, m.Origin, &GatewayClass{Meta: m})
	return nil
}

// gatewaySpec is the part of a Gateway API Gateway spec the simulator reads.
type gatewaySpec struct {
	GatewayClassName string `json:"gatewayClassName"`
	Listeners        []struct {
		Name          string `json:"name"`
		Protocol      string `json:"protocol"`
		Port          int    `json:"port"`
		AllowedRoutes *struct {
			Namespaces *struct {
				From     string                `json:"from"`
				Selector *metav1.LabelSelector `json:"selector"`
			} `json:"namespaces"`
		} `json:"allowedRoutes"`
	} `json:"listeners"`
}

func decodeGateway(s *Snapshot, m Meta, spec json.RawMessage) error {
	var gs gatewaySpec
	if len(spec) > 0 {
		if err := json.Unmarshal(spec, &gs); err != nil {
			return fmt.Errorf("cannot decode: %w", err)
		}
	}
	gw := &Gateway{Meta: m, ClassName: gs.GatewayClassName}
	for _, l := range gs.Listeners {
		ln := Listener{Name: l.Name, Protocol: l.Protocol, Port: l.Port, AllowedFrom: "Same"}
		if l.AllowedRoutes != nil && l.AllowedRoutes.Namespaces != nil {
			if l.AllowedRoutes.Namespaces.From != "" {
				ln.AllowedFrom = l.AllowedRoutes.Namespaces.From
			}
			ln.AllowedSelector = l.AllowedRoutes.Namespaces.Selector
		}
		gw.Listeners = append(gw.Listeners, ln)
	}
	put(s, &s.Gateways, m.Origin, gw)
	return nil
}

type serviceSpec struct {
	ClusterIP  string   `json:"clusterIP"`
	ClusterIPs []string `json:"clusterIPs"`
	Ports      []struct {
		Name        string `json:"name"`
		Port        int    `json:"port"`
		AppProtocol string `json:"appProtocol"`
	} `json:"ports"`
}

func decodeService(s *Snapshot, m Meta, spec json.RawMessage) error {
	var ss serviceSpec
	if len(spec) > 0 {
		if err := json.Unmarshal(spec, &ss); err != nil {
			return fmt.Errorf("cannot decode: %w", err)
		}
	}
	svc := &Service{Meta: m, ClusterIPs: ss.ClusterIPs, Headless: ss.ClusterIP == corev1.ClusterIPNone}
	if len(svc.ClusterIPs) == 0 && ss.ClusterIP != "" && !svc.Headless {
		svc.ClusterIPs = []string{ss.ClusterIP}
	}
	for _, p := range ss.Ports {
		svc.Ports = append(svc.Ports, ServicePort{Name: p.Name, Port: p.Port, AppProtocol: p.AppProtocol})
	}
	put(s, &s.Services, m.Origin, svc)
	return nil
}
