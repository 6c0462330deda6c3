package simulator

import (
	"fmt"
	"slices"
	"sort"
	"strings"
)

// knownAPI is the kinds of one API group that manifests given to the
// simulator may hold, each with its served versions.
type knownAPI map[string][]string

// knownAPIs are the groups, kinds and versions the simulator recognizes: the
// ones it reads (decoders) and the others of their APIs, which it ignores. The Istio,
// Gateway API and EgressGateway entries are exactly what their CRDs serve,
// at the versions go.mod pins (TestKnownAPIsMatchTheCRDs checks it). Any
// other group, version or kind is an error unless unknown documents are
// ignored on purpose: a typo in a kind (AuthorisationPolicy) or a version
// (security.istio.io/v2) would otherwise read as "no policy at all", which
// opens the report.
var knownAPIs = map[string]knownAPI{
	"": {
		"Namespace": {"v1"}, "ServiceAccount": {"v1"}, "Service": {"v1"}, "ConfigMap": {"v1"}, "Secret": {"v1"},
		"Pod": {"v1"}, "Endpoints": {"v1"}, "List": {"v1"},
	},
	"apps": {"Deployment": {"v1"}, "StatefulSet": {"v1"}, "DaemonSet": {"v1"}, "ReplicaSet": {"v1"}},
	groupSecurity: {
		"AuthorizationPolicy": {"v1", "v1beta1"}, "PeerAuthentication": {"v1", "v1beta1"},
		"RequestAuthentication": {"v1", "v1beta1"},
	},
	groupNetworking: {
		"DestinationRule": {"v1", "v1alpha3", "v1beta1"}, "EnvoyFilter": {"v1alpha3"},
		"Gateway": {"v1", "v1alpha3", "v1beta1"}, "ProxyConfig": {"v1beta1"},
		"ServiceEntry": {"v1", "v1alpha3", "v1beta1"}, "Sidecar": {"v1", "v1alpha3", "v1beta1"},
		"VirtualService": {"v1", "v1alpha3", "v1beta1"}, "WorkloadEntry": {"v1", "v1alpha3", "v1beta1"},
		"WorkloadGroup": {"v1", "v1alpha3", "v1beta1"},
	},
	"telemetry.istio.io":  {"Telemetry": {"v1", "v1alpha1"}},
	"extensions.istio.io": {"TrafficExtension": {"v1alpha1"}, "WasmPlugin": {"v1alpha1"}},
	groupGateway: {
		"BackendTLSPolicy": {"v1"}, "GRPCRoute": {"v1"}, "Gateway": {"v1", "v1beta1"},
		"GatewayClass": {"v1", "v1beta1"}, "HTTPRoute": {"v1", "v1beta1"}, "ListenerSet": {"v1"},
		"ReferenceGrant": {"v1", "v1beta1"}, "TCPRoute": {"v1"}, "TLSRoute": {"v1"},
		"UDPRoute": {"v1"},
	},
	groupEgress:        {"EgressGateway": {"v1alpha1"}},
	groupK8sNet:        {"NetworkPolicy": {"v1"}, "Ingress": {"v1"}, "IngressClass": {"v1"}},
	"discovery.k8s.io": {"EndpointSlice": {"v1"}},
	groupPolicyNet:     {"AdminNetworkPolicy": {"v1alpha1"}, "BaselineAdminNetworkPolicy": {"v1alpha1"}},
}

// checkKnown returns "" when apiVersion and kind are known, else why not, with
// the nearest known kind of the group when one is close.
func checkKnown(apiVersion, kind string) string {
	group, version, found := strings.Cut(apiVersion, "/")
	if !found {
		group, version = "", apiVersion
	}
	api, ok := knownAPIs[group]
	if !ok {
		return fmt.Sprintf("API group %q is not one the simulator knows (%s)", group, knownGroups())
	}
	versions, ok := api[kind]
	if !ok {
		msg := fmt.Sprintf("kind %s is not a kind of %s", kind, groupName(group))
		if near := nearestKind(api, kind); near != "" {
			msg += fmt.Sprintf(" (did you mean %s?)", near)
		}
		return msg
	}
	if !slices.Contains(versions, version) {
		return fmt.Sprintf("%s %s is not served at version %q (served: %s)", groupName(group), kind, version, strings.Join(versions, ", "))
	}
	return ""
}

func groupName(g string) string {
	if g == "" {
		return "the core API group"
	}
	return g
}

func knownGroups() string {
	var out []string
	for g := range knownAPIs {
		if g != "" {
			out = append(out, g)
		}
	}
	sort.Strings(out)
	return "known: core, " + strings.Join(out, ", ")
}

// nearestKind is the kind of api closest to kind by edit distance, case
// ignored, when it is at most two edits away.
func nearestKind(api knownAPI, kind string) string {
	best, bestD := "", 3
	for k := range api {
		if d := editDistance(strings.ToLower(k), strings.ToLower(kind)); d < bestD || (d == bestD && k < best) {
			best, bestD = k, d
		}
	}
	return best
}

// editDistance is Levenshtein's distance between two short strings.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}
