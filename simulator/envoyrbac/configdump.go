package envoyrbac

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	rbachttpv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/rbac/v3"
	rbacnetv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/rbac/v3"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

// Type URLs of what ParseConfigDump reads.
const (
	typeListenersDump = "type.googleapis.com/envoy.admin.v3.ListenersConfigDump"
	typeHCM           = "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager"
	typeHTTPRBAC      = "type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBAC"
	typeNetworkRBAC   = "type.googleapis.com/envoy.extensions.filters.network.rbac.v3.RBAC"
)

// Chains maps a filter chain name ("inbound-vip|80|http|httpbin.org", as
// istiod names a waypoint's chains) to its RBAC filters in order.
type Chains map[string][]Filter

// Find returns the chain istiod builds for host on port of a waypoint,
// whatever protocol word it carries: "inbound-vip|<port>|<protocol>|<host>".
func (c Chains) Find(port int, host string) (string, []Filter, bool) {
	prefix, suffix := fmt.Sprintf("inbound-vip|%d|", port), "|"+host
	names := make([]string, 0, len(c))
	for name := range c {
		if strings.HasPrefix(name, prefix) && strings.HasSuffix(name, suffix) && strings.Count(name, "|") == 3 {
			names = append(names, name)
		}
	}
	if len(names) == 0 {
		return "", nil, false
	}
	slices.Sort(names)
	return names[0], c[names[0]], true
}

// ParseConfigDump reads the waypoint's listeners from an Envoy
// configuration dump, as the admin endpoint's /config_dump or
// `istioctl proxy-config all -o json` print it, and returns the RBAC
// filters of every filter chain of every listener (active state). Only the
// RBAC filters are decoded: the dump's other extensions (Istio's stats and
// metadata exchange filters, for one) need not be known, so the JSON is
// walked rather than decoded whole.
func ParseConfigDump(data []byte) (Chains, error) {
	var dump struct {
		Configs []map[string]json.RawMessage `json:"configs"`
	}
	if err := json.Unmarshal(data, &dump); err != nil {
		return nil, fmt.Errorf("not an Envoy config dump: %w", err)
	}
	chains := Chains{}
	found := false
	for i, c := range dump.Configs {
		var typ string
		_ = json.Unmarshal(c["@type"], &typ)
		if typ != typeListenersDump {
			continue
		}
		found = true
		var ld struct {
			Dynamic []struct {
				Active *struct {
					Listener listenerJSON `json:"listener"`
				} `json:"active_state"`
			} `json:"dynamic_listeners"`
			Static []struct {
				Listener listenerJSON `json:"listener"`
			} `json:"static_listeners"`
		}
		raw, _ := json.Marshal(c)
		if err := json.Unmarshal(raw, &ld); err != nil {
			return nil, fmt.Errorf("configs[%d]: %w", i, err)
		}
		var listeners []listenerJSON
		for _, d := range ld.Dynamic {
			if d.Active != nil {
				listeners = append(listeners, d.Active.Listener)
			}
		}
		for _, s := range ld.Static {
			listeners = append(listeners, s.Listener)
		}
		for _, l := range listeners {
			for ci, fc := range l.FilterChains {
				filters, err := fc.rbacFilters()
				if err != nil {
					return nil, fmt.Errorf("listener %s, filter chain %d (%s): %w", l.Name, ci, fc.Name, err)
				}
				chains[fc.Name] = filters
			}
		}
	}
	if !found {
		return nil, fmt.Errorf("the config dump has no %s: dump the waypoint's configuration (istioctl proxy-config all <waypoint pod> -o json)", typeListenersDump)
	}
	return chains, nil
}

type listenerJSON struct {
	Name         string      `json:"name"`
	FilterChains []chainJSON `json:"filter_chains"`
}

type chainJSON struct {
	Name    string       `json:"name"`
	Filters []filterJSON `json:"filters"`
}

type filterJSON struct {
	Name        string                     `json:"name"`
	TypedConfig map[string]json.RawMessage `json:"typed_config"`
	HTTPFilters []filterJSON               `json:"http_filters"`
}

func (f filterJSON) typeURL() string {
	var typ string
	_ = json.Unmarshal(f.TypedConfig["@type"], &typ)
	return typ
}

func (fc chainJSON) rbacFilters() ([]Filter, error) {
	var out []Filter
	for _, f := range fc.Filters {
		switch f.typeURL() {
		case typeNetworkRBAC:
			m := &rbacnetv3.RBAC{}
			if err := decodeTyped(f.TypedConfig, m); err != nil {
				return nil, fmt.Errorf("%s: %w", f.Name, err)
			}
			out = append(out, Filter{Name: f.Name, Rules: m.GetRules(), Shadow: m.GetShadowRules()})
		case typeHCM:
			var hcm struct {
				HTTPFilters []filterJSON `json:"http_filters"`
			}
			raw, _ := json.Marshal(f.TypedConfig)
			if err := json.Unmarshal(raw, &hcm); err != nil {
				return nil, fmt.Errorf("%s: %w", f.Name, err)
			}
			for _, hf := range hcm.HTTPFilters {
				if hf.typeURL() != typeHTTPRBAC {
					continue
				}
				m := &rbachttpv3.RBAC{}
				if err := decodeTyped(hf.TypedConfig, m); err != nil {
					return nil, fmt.Errorf("%s: %w", hf.Name, err)
				}
				out = append(out, Filter{Name: hf.Name, Rules: m.GetRules(), Shadow: m.GetShadowRules()})
			}
		}
	}
	return out, nil
}

// decodeTyped decodes a typed_config object, without its "@type", into m.
func decodeTyped(obj map[string]json.RawMessage, m proto.Message) error {
	rest := make(map[string]json.RawMessage, len(obj))
	for k, v := range obj {
		if k != "@type" {
			rest[k] = v
		}
	}
	raw, err := json.Marshal(rest)
	if err != nil {
		return err
	}
	return protojson.Unmarshal(raw, m)
}
