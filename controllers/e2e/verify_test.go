//go:build e2e

package e2e

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	rbachttpv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/rbac/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	rbacnetv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/rbac/v3"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	egressv1alpha1 "github.com/ambient-egress/ambient-egress-operator/apis/egress/v1alpha1"
)

// seedConfigDump is egressctl verify's golden input: the seed's waypoint
// configuration as the real istiod generates it.
const seedConfigDump = "cmd/egressctl/testdata/verify/seed-config-dump.json"

// TestVerifySeed applies config/samples/seed as it is, asks the real istiod
// for the waypoint's listeners, and checks that egressctl verify finds no
// disagreement on them, and that the dump its golden test reads still is
// what istiod generates for the seed (E2E_UPDATE_CONFIG_DUMP=1 rewrites it).
func TestVerifySeed(t *testing.T) {
	// A namespace left terminating by an earlier run on this cluster goes
	// first (the seed's names are fixed).
	var egressNS corev1.Namespace
	if err := c.Get(ctx(), client.ObjectKey{Name: "istio-egress"}, &egressNS); err == nil && egressNS.DeletionTimestamp != nil {
		waitGone(t, &egressNS)
	}
	for _, f := range []string{"00-namespaces.yaml", "10-egressgateway.yaml", "20-serviceentry.yaml", "30-authorizationpolicy.yaml"} {
		serverSideApply(t, filepath.Join(root, "config", "samples", "seed", f))
	}
	t.Cleanup(func() {
		_ = c.Delete(ctx(), &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": "istio-egress"}}})
	})
	waitForCondition(t, "istio-egress", "waypoint", egressv1alpha1.ConditionWaypointReady, metav1.ConditionTrue)
	waitForIstioCondition(t, policyGVK, "istio-egress", "httpbin", "WaypointAccepted", metav1.ConditionTrue)
	dump := configDump(t, waypointListeners(t, "istio-egress", "waypoint"))

	// The operator runs the same check (--verify-xds-address).
	got := waitForConditionReason(t, "istio-egress", "waypoint", egressv1alpha1.ConditionVerified, egressv1alpha1.ReasonAgrees)
	if v := got.Status.Verification; v == nil || v.Compared == 0 || v.Disagreements != 0 || !strings.HasPrefix(v.Pod, "istio-egress/waypoint-") {
		t.Errorf("status.verification %+v", v)
	} else {
		t.Logf("the operator's check: %d requests on %d destination ports agree with istiod's RBAC for %s", v.Compared, v.DestinationPorts, v.Pod)
	}

	live := filepath.Join(t.TempDir(), "config-dump.json")
	if err := os.WriteFile(live, dump, 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("go", "run", "./cmd/egressctl", "verify", "-f", "config/samples/seed", "--config-dump", live)
	cmd.Dir = root
	out, err := cmd.CombinedOutput()
	t.Logf("egressctl verify on istiod's configuration for the seed:\n%s", out)
	if err != nil {
		t.Fatalf("egressctl verify: %v", err)
	}

	golden := filepath.Join(root, seedConfigDump)
	if os.Getenv("E2E_UPDATE_CONFIG_DUMP") != "" {
		if err := os.WriteFile(golden, dump, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(want, dump) {
		t.Errorf("istiod generates another configuration for the seed than %s holds; if that is Istio's change, rerun with E2E_UPDATE_CONFIG_DUMP=1 and review the diff", seedConfigDump)
	}
}

func serverSideApply(t *testing.T, path string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for doc := range strings.SplitSeq(string(data), "\n---\n") {
		u := &unstructured.Unstructured{}
		if err := yaml.Unmarshal([]byte(doc), &u.Object); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if len(u.Object) == 0 {
			continue
		}
		if err := c.Apply(ctx(), client.ApplyConfigurationFromUnstructured(u), client.FieldOwner("e2e"), client.ForceOwnership); err != nil {
			t.Fatalf("%s: applying %s %s: %v", path, u.GetKind(), u.GetName(), err)
		}
	}
}

// configDump writes listeners as Envoy's /config_dump shapes them (a
// ListenersConfigDump of dynamic listeners' active state, proto field
// names), with the RBAC filters in full and every other filter reduced to
// its name and type: only RBAC is read from it, and the dump stays small
// and stable across the parts of istiod's output that do not matter here.
func configDump(t *testing.T, listeners []*listenerv3.Listener) []byte {
	t.Helper()
	typed := func(m proto.Message) map[string]any {
		a, err := anypb.New(m)
		if err != nil {
			t.Fatal(err)
		}
		js, err := protojson.MarshalOptions{UseProtoNames: true}.Marshal(a)
		if err != nil {
			t.Fatal(err)
		}
		var out map[string]any
		if err := json.Unmarshal(js, &out); err != nil {
			t.Fatal(err)
		}
		return out
	}
	elided := func(name, typeURL string) map[string]any {
		return map[string]any{"name": name, "typed_config": map[string]any{"@type": typeURL}}
	}
	sort.Slice(listeners, func(i, j int) bool { return listeners[i].GetName() < listeners[j].GetName() })
	var dynamic []any
	for _, l := range listeners {
		var chains []any
		for _, fc := range l.GetFilterChains() {
			var filters []any
			for _, f := range fc.GetFilters() {
				tc := f.GetTypedConfig()
				switch {
				case tc.MessageIs(&rbacnetv3.RBAC{}):
					m := &rbacnetv3.RBAC{}
					if err := tc.UnmarshalTo(m); err != nil {
						t.Fatal(err)
					}
					filters = append(filters, map[string]any{"name": f.GetName(), "typed_config": typed(m)})
				case tc.MessageIs(&hcmv3.HttpConnectionManager{}):
					h := &hcmv3.HttpConnectionManager{}
					if err := tc.UnmarshalTo(h); err != nil {
						t.Fatal(err)
					}
					var httpFilters []any
					for _, hf := range h.GetHttpFilters() {
						if hf.GetTypedConfig().MessageIs(&rbachttpv3.RBAC{}) {
							m := &rbachttpv3.RBAC{}
							if err := hf.GetTypedConfig().UnmarshalTo(m); err != nil {
								t.Fatal(err)
							}
							httpFilters = append(httpFilters, map[string]any{"name": hf.GetName(), "typed_config": typed(m)})
							continue
						}
						httpFilters = append(httpFilters, elided(hf.GetName(), hf.GetTypedConfig().GetTypeUrl()))
					}
					filters = append(filters, map[string]any{"name": f.GetName(), "typed_config": map[string]any{
						"@type": tc.GetTypeUrl(), "stat_prefix": h.GetStatPrefix(), "http_filters": httpFilters}})
				default:
					filters = append(filters, elided(f.GetName(), tc.GetTypeUrl()))
				}
			}
			chains = append(chains, map[string]any{"name": fc.GetName(), "filters": filters})
		}
		dynamic = append(dynamic, map[string]any{"name": l.GetName(), "active_state": map[string]any{
			"listener": map[string]any{"@type": "type.googleapis.com/envoy.config.listener.v3.Listener", "name": l.GetName(), "filter_chains": chains}}})
	}
	out, err := json.MarshalIndent(map[string]any{"configs": []any{map[string]any{
		"@type": "type.googleapis.com/envoy.admin.v3.ListenersConfigDump", "dynamic_listeners": dynamic}}}, "", " ")
	if err != nil {
		t.Fatal(err)
	}
	return append(out, '\n')
}
