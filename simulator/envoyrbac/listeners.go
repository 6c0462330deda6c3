package envoyrbac

import (
	"fmt"

	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	rbachttpv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/rbac/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	rbacnetv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/rbac/v3"
)

// ChainsFromListeners returns the RBAC filters of every filter chain of
// listeners as istiod sends them over xDS, as ParseConfigDump does for a
// dump. Only the RBAC filters and the HTTP connection manager that holds
// them are decoded: istiod's own extensions need not be known.
func ChainsFromListeners(listeners []*listenerv3.Listener) (Chains, error) {
	chains := Chains{}
	for _, l := range listeners {
		for ci, fc := range l.GetFilterChains() {
			var filters []Filter
			for _, f := range fc.GetFilters() {
				tc := f.GetTypedConfig()
				switch {
				case tc.MessageIs(&rbacnetv3.RBAC{}):
					m := &rbacnetv3.RBAC{}
					if err := tc.UnmarshalTo(m); err != nil {
						return nil, fmt.Errorf("listener %s, filter chain %d (%s), %s: %w", l.GetName(), ci, fc.GetName(), f.GetName(), err)
					}
					filters = append(filters, Filter{Name: f.GetName(), Rules: m.GetRules(), Shadow: m.GetShadowRules()})
				case tc.MessageIs(&hcmv3.HttpConnectionManager{}):
					h := &hcmv3.HttpConnectionManager{}
					if err := tc.UnmarshalTo(h); err != nil {
						return nil, fmt.Errorf("listener %s, filter chain %d (%s), %s: %w", l.GetName(), ci, fc.GetName(), f.GetName(), err)
					}
					for _, hf := range h.GetHttpFilters() {
						if !hf.GetTypedConfig().MessageIs(&rbachttpv3.RBAC{}) {
							continue
						}
						m := &rbachttpv3.RBAC{}
						if err := hf.GetTypedConfig().UnmarshalTo(m); err != nil {
							return nil, fmt.Errorf("listener %s, filter chain %d (%s), %s: %w", l.GetName(), ci, fc.GetName(), hf.GetName(), err)
						}
						filters = append(filters, Filter{Name: hf.GetName(), Rules: m.GetRules(), Shadow: m.GetShadowRules()})
					}
				}
			}
			chains[fc.GetName()] = filters
		}
	}
	return chains, nil
}
