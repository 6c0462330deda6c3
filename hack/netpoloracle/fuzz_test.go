package netpoloracle

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	npav1alpha1 "sigs.k8s.io/network-policy-api/apis/v1alpha1"
	"sigs.k8s.io/yaml"

	"github.com/ambient-egress/ambient-egress-operator/simulator/netpol"
)

// tally counts connections by outcome.
type tally struct {
	worlds, conns, agree int
	agreeDenied          int
	skipped              map[string]int
}

func (t *tally) skip(reason string) {
	if t.skipped == nil {
		t.skipped = map[string]int{}
	}
	t.skipped[reason]++
}

func (t *tally) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d worlds, %d connections: %d agree (%d allowed, %d denied)", t.worlds, t.conns, t.agree, t.agree-t.agreeDenied, t.agreeDenied)
	keys := make([]string, 0, len(t.skipped))
	for k := range t.skipped {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(&b, "\n  skipped %5d: %s", t.skipped[k], k)
	}
	return b.String()
}

// check evaluates every connection of w with the simulator and with
// kube-network-policies. A disagreement that no documented divergence
// explains is an error holding the whole world.
func check(w *world, t *tally) error {
	t.worlds++
	for _, p := range w.Policies {
		if err := netpol.Validate(p); err != nil {
			return fmt.Errorf("generator made a NetworkPolicy the API server refuses: %w\n%s", err, dump(w, nil, nil, ""))
		}
	}
	c, err := netpol.NewCluster(w.Policies, w.nsLabels())
	if err != nil {
		return fmt.Errorf("NewCluster: %w\n%s", err, dump(w, nil, nil, ""))
	}
	if err := c.SetAdmin(w.Admin, w.Baseline); err != nil {
		return fmt.Errorf("SetAdmin: %w\n%s", err, dump(w, nil, nil, ""))
	}
	o, err := getOracle()
	if err != nil {
		return fmt.Errorf("building the kube-network-policies controller: %w", err)
	}
	ow := w.apiDefaults()
	for i := range w.Conns {
		cn := &w.Conns[i]
		t.conns++
		r := c.Evaluate(netpol.Source{Namespace: cn.Src.Namespace, Pod: cn.Src},
			netpol.Destination{IP: cn.DstIP, Pod: cn.Dst, Port: cn.Port, Protocol: cn.Protocol})
		if r.Verdict == netpol.Depends {
			t.skip("simulator says depends: " + dependsCategory(r.Why))
			continue
		}
		allowed, err := o.allowed(ow, ip(cn.Src.IP), ip(cn.DstIP), cn.Port, cn.Protocol)
		if err != nil {
			return fmt.Errorf("%w\n%s", err, dump(w, cn, &r, "panicked"))
		}
		if (r.Verdict == netpol.Allowed) == allowed {
			t.agree++
			if !allowed {
				t.agreeDenied++
			}
			continue
		}
		if reason := divergence(w, ow, cn); reason != "" {
			t.skip(reason)
			continue
		}
		return fmt.Errorf("the simulator says %s, kube-network-policies says %s\n%s", r.Verdict, verdictWord(allowed), dump(w, cn, &r, verdictWord(allowed)))
	}
	return nil
}

func verdictWord(allowed bool) string {
	if allowed {
		return "allowed"
	}
	return "denied"
}

// dependsCategory groups the simulator's Depends reasons. With every pod's
// labels known, only the points the APIs leave to the implementation or to
// data the simulator does not have remain.
func dependsCategory(why string) string {
	switch {
	case strings.Contains(why, "hostNetwork"):
		return "hostNetwork source (NetworkPolicy behavior for hostNetwork pods is undefined)"
	case strings.Contains(why, "ipBlock holds the destination pod"):
		return "ipBlock on a pod address (left to the implementation)"
	case strings.Contains(why, "may match"):
		return "admin nodes/domainNames peer on an outside address"
	}
	return why
}

// Documented divergences: where kube-network-policies v0.8.0 departs from
// the API's documentation, checked only when the two disagree. Each is
// shown on a minimal world in quirks_test.go.
const (
	divAdminNamedPort = "oracle divergence: admin namedPort matched by name only"
	divBaselineMasked = "oracle divergence: an ingress-only NetworkPolicy hides the Baseline from egress"
)

func divergence(w *world, ow *oracleWorld, cn *conn) string {
	if adminNamedPortByNameOnly(w, cn) {
		// kube-network-policies' evaluateAdminNetworkPolicyPort matches a
		// namedPort when any container port has that name, whatever the
		// connection's port and protocol. The reference: "NamedPort
		// selects a port on a pod(s) based on name" (AdminNetworkPolicyPort)
		// -- the named port is that container port, its number and
		// protocol, as for NetworkPolicy ("port ... can either be a
		// numerical or named port on a pod").
		return divAdminNamedPort
	}
	if baselineMaskedByIngressOnly(w, ow, cn) {
		// kube-network-policies skips the Baseline's egress rules when any
		// NetworkPolicy selects the source, whatever its policyTypes.
		// Isolation is per direction ("A pod is isolated for egress if
		// there is any NetworkPolicy that both selects the pod and has
		// "Egress" in its policyTypes", Kubernetes NetworkPolicy concepts),
		// and the network-policy-api's guide: "If a pod is selected by a
		// NetworkPolicy with egress rules, any egress traffic from the pod
		// ... will not be evaluated further against
		// BaselineAdminNetworkPolicy rules. The same applies for ingress
		// direction traffic." (site-src/blog/posts/Getting Started with ANP.md)
		return divBaselineMasked
	}
	return ""
}

// adminNamedPortByNameOnly: some admin rule names a port that the
// destination pod has under that name, but not as the connection's port
// and protocol.
func adminNamedPortByNameOnly(w *world, cn *conn) bool {
	if cn.Dst == nil {
		return false
	}
	names := map[string]bool{}
	add := func(ps *[]npav1alpha1.AdminNetworkPolicyPort) {
		if ps == nil {
			return
		}
		for _, p := range *ps {
			if p.NamedPort != nil {
				names[*p.NamedPort] = true
			}
		}
	}
	for _, a := range w.Admin {
		for _, r := range a.Spec.Egress {
			add(r.Ports)
		}
	}
	if w.Baseline != nil {
		for _, r := range w.Baseline.Spec.Egress {
			add(r.Ports)
		}
	}
	for n := range names {
		byName, exact := false, false
		for _, cp := range cn.Dst.Ports {
			if cp.Name == n {
				byName = true
				exact = exact || (int(cp.ContainerPort) == cn.Port && defaultProto(cp.Protocol) == cn.Protocol)
			}
		}
		if byName && !exact {
			return true
		}
	}
	return false
}

// baselineMaskedByIngressOnly: there is a Baseline, and the NetworkPolicies
// that select the source (after API defaulting) are all ingress-only.
func baselineMaskedByIngressOnly(w *world, ow *oracleWorld, cn *conn) bool {
	if w.Baseline == nil {
		return false
	}
	selected := false
	for _, np := range ow.NetworkPolicies {
		if np.Namespace != cn.Src.Namespace {
			continue
		}
		sel, err := metav1.LabelSelectorAsSelector(&np.Spec.PodSelector)
		if err != nil || !sel.Matches(labels.Set(cn.Src.Labels)) {
			continue
		}
		if slices.Contains(np.Spec.PolicyTypes, networkingv1.PolicyTypeEgress) {
			return false
		}
		selected = true
	}
	return selected
}

// dump renders a world (and a connection and both answers) as YAML, the
// policies as written.
func dump(w *world, cn *conn, r *netpol.Result, oracle string) string {
	type policy struct {
		Namespace string                         `json:"namespace,omitempty"`
		Name      string                         `json:"name"`
		Spec      networkingv1.NetworkPolicySpec `json:"spec"`
	}
	doc := map[string]any{"shape": w.Shape, "namespaces": w.Namespaces}
	var pods []map[string]any
	for _, p := range w.Pods {
		pods = append(pods, map[string]any{"namespace": p.Namespace, "name": p.Name, "labels": p.Labels, "ip": p.IP.String(), "ports": p.Ports, "hostNetwork": p.HostNetwork})
	}
	doc["pods"] = pods
	var nps []policy
	for _, p := range w.Policies {
		nps = append(nps, policy{p.Namespace, p.Name, p.Spec})
	}
	doc["networkPolicies"] = nps
	doc["adminNetworkPolicies"] = w.Admin
	if w.Baseline != nil {
		doc["baselineAdminNetworkPolicy"] = w.Baseline
	}
	if cn != nil {
		c := map[string]any{"from": cn.Src.Namespace + "/" + cn.Src.Name, "address": cn.DstIP.String(), "port": cn.Port, "protocol": cn.Protocol}
		if cn.Dst != nil {
			c["to"] = cn.Dst.Namespace + "/" + cn.Dst.Name
		}
		doc["connection"] = c
	}
	if r != nil {
		doc["simulator"] = r
		doc["kubeNetworkPolicies"] = oracle
	}
	out, err := yaml.Marshal(doc)
	if err != nil {
		return fmt.Sprintf("(cannot render the world: %v)", err)
	}
	return string(out)
}

// seedTail is deterministic filler for a seed: the choices after the shape.
func seedTail(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, 0x6e6574706f6c))
	out := make([]byte, n)
	for i := range out {
		out[i] = byte(r.Uint32())
	}
	return out
}

// FuzzEgressAgainstKubeNetworkPolicies generates a small valid world from
// the input and compares the simulator's egress verdicts with
// kube-network-policies'. The seeds are every hand-picked shape (the
// input's first byte) with no further input (the smallest world of that
// shape) and with two fixed tails.
func FuzzEgressAgainstKubeNetworkPolicies(f *testing.F) {
	for i := range shapes {
		f.Add([]byte{byte(i)})
		f.Add(append([]byte{byte(i)}, seedTail(uint64(i), 200)...))
		f.Add(append([]byte{byte(i)}, seedTail(uint64(i)+1000, 400)...))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var tl tally
		if err := check(generate(data), &tl); err != nil {
			t.Fatal(err)
		}
	})
}

// TestOracleAgreesOnRandomWorlds runs 2,000 random worlds from a fixed
// seed, so plain go test covers more than the seed corpus.
func TestOracleAgreesOnRandomWorlds(t *testing.T) {
	n := 2000
	if testing.Short() {
		n = 200
	}
	if v, err := strconv.Atoi(os.Getenv("NETPOLORACLE_WORLDS")); err == nil && v > 0 {
		n = v // a longer run: NETPOLORACLE_WORLDS=100000 go test -run RandomWorlds ./hack/netpoloracle/
	}
	r := rand.New(rand.NewPCG(20260801, 1))
	var tl tally
	var errs []error
	for range n {
		data := make([]byte, 64+r.IntN(448))
		for i := range data {
			data[i] = byte(r.Uint32())
		}
		if err := check(generate(data), &tl); err != nil {
			errs = append(errs, err)
			if len(errs) == 3 {
				break
			}
		}
	}
	t.Log(tl.String())
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	if tl.agree < tl.conns/2 {
		t.Fatalf("too few connections compared: %s", tl.String())
	}
}
