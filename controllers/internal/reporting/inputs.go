// Package reporting turns the cluster objects an EgressGateway's report
// depends on into the simulator's input, and the simulator's report into
// the EgressGateway's status within its size budget (each part converted
// by apis/egress/v1alpha1/reportstatus) and the report ConfigMap.
// Everything here is pure: the controller reads the objects and writes the
// results.
package reporting

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	istionetworkingv1 "istio.io/client-go/pkg/apis/networking/v1"
	istiosecurityv1 "istio.io/client-go/pkg/apis/security/v1"

	egressv1alpha1 "github.com/ambient-egress/ambient-egress-operator/apis/egress/v1alpha1"
	"github.com/ambient-egress/ambient-egress-operator/simulator"
	"github.com/ambient-egress/ambient-egress-operator/simulator/reach"
)

// lastApplied is kubectl's copy of the applied object; the simulator never
// reads it and it would double the size of every input. (The operator's
// cache already drops it; inputs from elsewhere may still carry it.)
const lastApplied = corev1.LastAppliedConfigAnnotation

// Inputs are the cluster objects one EgressGateway's report is computed
// from, as read by the controller.
type Inputs struct {
	// EgressGateway is the gateway being reported on; it stands for the
	// waypoint and the enrollment labels the operator creates.
	EgressGateway *egressv1alpha1.EgressGateway
	// Gateway is the live waypoint Gateway, nil when it does not exist yet.
	Gateway *gatewayv1.Gateway
	// Namespaces are the gateway's namespace, the root namespace and the
	// source namespaces, with their labels.
	Namespaces []corev1.Namespace
	// ServiceEntries, DestinationRules and AuthorizationPolicies are those
	// of the gateway's namespace and of the root namespace.
	ServiceEntries        []*istionetworkingv1.ServiceEntry
	DestinationRules      []*istionetworkingv1.DestinationRule
	AuthorizationPolicies []*istiosecurityv1.AuthorizationPolicy
	// RequestAuthentications say which JWTs the waypoint validates.
	RequestAuthentications []*istiosecurityv1.RequestAuthentication
	// ServiceAccounts are the service accounts of the source namespaces.
	ServiceAccounts []reach.Ref
	// NetworkPolicies are those of the source namespaces: they decide
	// what the sources reach directly, without the waypoint.
	NetworkPolicies []*networkingv1.NetworkPolicy
	// Pods are the source namespaces' pods, of which only the namespace,
	// labels, service account and hostNetwork are read: the simulator
	// sees one document per distinct shape, so pods coming and going with
	// the same labels leave the digest alone.
	Pods []*corev1.Pod
	// RootNamespace is the mesh root namespace, whose policies apply
	// mesh-wide.
	RootNamespace string
	// TrustDomain and TrustDomainAliases are the mesh's (meshConfig):
	// the sources' principals are in TrustDomain, and istiod rewrites
	// policies' principals across the aliases. Empty means cluster.local.
	TrustDomain        string
	TrustDomainAliases []string
	// ExtensionProviders are the names of the mesh config's
	// extensionProviders: a CUSTOM policy naming another is enforced as
	// DENY rules, as istiod does.
	ExtensionProviders []string
	// Istio is the istiod the gateway runs under: which destinations the
	// operator renders and what the waypoint does with wildcard ones.
	Istio simulator.Istio
}

// Prepared is the simulator's input and the digest that identifies it.
type Prepared struct {
	// Input is what reach.Build takes.
	Input reach.Input
	// Digest changes exactly when Input does.
	Digest string
	// Issues are the simulator's findings about objects it could not read;
	// Input.LoadIssues holds them too, so the report repeats them as
	// egressctl's report does.
	Issues simulator.Issues
}

// document is the part of an object the simulator reads: never its status,
// resourceVersion or managed fields, so that their changes leave the digest
// alone.
type document struct {
	APIVersion string       `json:"apiVersion"`
	Kind       string       `json:"kind"`
	Metadata   documentMeta `json:"metadata"`
	Spec       any          `json:"spec,omitempty"`
	// Status carries what the simulator reads of an object's status: the
	// addresses istiod allocated to a ServiceEntry.
	Status any `json:"status,omitempty"`
	// version changes whenever the object does (its resourceVersion), so
	// an unchanged object's encoding can be reused; empty never reuses.
	version string
}

type documentMeta struct {
	Name        string            `json:"name"`
	Namespace   string            `json:"namespace,omitempty"`
	Labels      map[string]string `json:"labels,omitempty"`
	Annotations map[string]string `json:"annotations,omitempty"`
}

func newDocument(apiVersion, kind string, om *metav1.ObjectMeta, spec any) document {
	annotations := om.Annotations
	if _, ok := annotations[lastApplied]; ok {
		annotations = make(map[string]string, len(om.Annotations))
		for k, v := range om.Annotations {
			if k != lastApplied {
				annotations[k] = v
			}
		}
	}
	return document{APIVersion: apiVersion, Kind: kind, Spec: spec, version: om.ResourceVersion,
		Metadata: documentMeta{Name: om.Name, Namespace: om.Namespace, Labels: om.Labels, Annotations: annotations}}
}

// documents lists the inputs as the manifests a user would apply, in a
// stable order.
func (in *Inputs) documents() []document {
	var docs []document
	for i := range in.Namespaces {
		// Only a namespace's labels matter; its annotations change often.
		om := metav1.ObjectMeta{Name: in.Namespaces[i].Name, Labels: in.Namespaces[i].Labels, ResourceVersion: in.Namespaces[i].ResourceVersion}
		docs = append(docs, newDocument("v1", "Namespace", &om, nil))
	}
	for _, se := range in.ServiceEntries {
		doc := newDocument("networking.istio.io/v1", "ServiceEntry", &se.ObjectMeta, &se.Spec)
		// Only the allocated addresses: they choose the destination of a
		// probe sent to an address, and, unlike the conditions istiod
		// writes, they do not change once allocated.
		if addrs := se.Status.GetAddresses(); len(addrs) > 0 {
			doc.Status = map[string]any{"addresses": addrs}
		}
		docs = append(docs, doc)
	}
	for _, dr := range in.DestinationRules {
		docs = append(docs, newDocument("networking.istio.io/v1", "DestinationRule", &dr.ObjectMeta, &dr.Spec))
	}
	for _, ap := range in.AuthorizationPolicies {
		docs = append(docs, newDocument("security.istio.io/v1", "AuthorizationPolicy", &ap.ObjectMeta, &ap.Spec))
	}
	for _, ra := range in.RequestAuthentications {
		docs = append(docs, newDocument("security.istio.io/v1", "RequestAuthentication", &ra.ObjectMeta, &ra.Spec))
	}
	docs = append(docs, podShapes(in.Pods)...)
	for _, np := range in.NetworkPolicies {
		docs = append(docs, newDocument("networking.k8s.io/v1", "NetworkPolicy", &np.ObjectMeta, &np.Spec))
	}
	if gw := in.Gateway; gw != nil {
		docs = append(docs, newDocument("gateway.networking.k8s.io/v1", "Gateway", &gw.ObjectMeta, &gw.Spec))
	}
	if egw := in.EgressGateway; egw != nil {
		om := metav1.ObjectMeta{Name: egw.Name, Namespace: egw.Namespace, ResourceVersion: egw.ResourceVersion}
		// The simulation never reads spec.observability: turning access
		// logs on or pointing at another Prometheus must not simulate
		// again.
		spec := egw.Spec
		spec.Observability = egressv1alpha1.ObservabilitySpec{}
		docs = append(docs, newDocument(egressv1alpha1.GroupVersion.String(), "EgressGateway", &om, &spec))
	}
	sort.SliceStable(docs, func(i, j int) bool {
		a, b := docs[i], docs[j]
		if a.Kind != b.Kind {
			return a.Kind < b.Kind
		}
		if a.Metadata.Namespace != b.Metadata.Namespace {
			return a.Metadata.Namespace < b.Metadata.Namespace
		}
		return a.Metadata.Name < b.Metadata.Name
	})
	return docs
}

// Encodings remembers the JSON of one gateway's input objects from one
// Prepare to the next, by resourceVersion: after a policy edit only that
// policy is encoded again. Each Prepare keeps only the objects it read, so
// deleted ones do not accumulate. Safe for concurrent use.
type Encodings struct {
	mu   sync.Mutex
	last map[string]encoding
}

type encoding struct {
	version string
	data    []byte
}

// encode returns the JSON of every document, reusing the remembered
// encodings of unchanged objects and encoding the others on every core.
func (e *Encodings) encode(docs []document) ([][]byte, error) {
	out := make([][]byte, len(docs))
	keys := make([]string, len(docs))
	var todo []int
	e.mu.Lock()
	for i, d := range docs {
		keys[i] = d.Kind + "/" + d.Metadata.Namespace + "/" + d.Metadata.Name
		if c, ok := e.last[keys[i]]; ok && d.version != "" && c.version == d.version {
			out[i] = c.data
		} else {
			todo = append(todo, i)
		}
	}
	e.mu.Unlock()
	errs := make([]error, len(docs))
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), len(todo)) {
		wg.Go(func() {
			for j := int(next.Add(1)) - 1; j < len(todo); j = int(next.Add(1)) - 1 {
				i := todo[j]
				out[i], errs[i] = json.Marshal(docs[i])
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	last := make(map[string]encoding, len(docs))
	for i, d := range docs {
		last[keys[i]] = encoding{version: d.version, data: out[i]}
	}
	e.mu.Lock()
	e.last = last
	e.mu.Unlock()
	return out, nil
}

// Prepare builds the simulator's input and its digest. Objects the simulator
// rejects are Issues, never errors; the error is set only when an object
// cannot be encoded at all. enc, when not nil, carries encodings over from
// the gateway's previous Prepare.
func Prepare(in *Inputs, enc *Encodings) (*Prepared, error) {
	if enc == nil {
		enc = &Encodings{}
	}
	// The API server validated these objects against their CRDs.
	snap := simulator.NewSnapshot(simulator.LoadOptions{Admitted: true, Istio: in.Istio})
	h := sha256.New()
	var issues simulator.Issues
	docs := in.documents()
	encoded, err := enc.encode(docs)
	if err != nil {
		return nil, fmt.Errorf("encoding the inputs: %w", err)
	}
	for i, d := range docs {
		data := encoded[i]
		h.Write(data)
		h.Write([]byte{'\n'})
		issues = append(issues, snap.AddJSON(d.Kind+" "+d.Metadata.Namespace+"/"+d.Metadata.Name, data)...)
	}
	accounts := append([]reach.Ref(nil), in.ServiceAccounts...)
	sort.Slice(accounts, func(i, j int) bool {
		if accounts[i].Namespace != accounts[j].Namespace {
			return accounts[i].Namespace < accounts[j].Namespace
		}
		return accounts[i].Name < accounts[j].Name
	})
	td := in.TrustDomain
	if td == "" {
		td = simulator.DefaultTrustDomain
	}
	sources := make([]string, 0, len(accounts))
	for _, a := range accounts {
		sources = append(sources, td+"/ns/"+a.Namespace+"/sa/"+a.Name)
	}
	h.Write([]byte(strings.Join(sources, "\n")))
	root := in.RootNamespace
	if root == "" {
		root = simulator.DefaultRootNamespace
	}
	// The mesh settings change verdicts without changing any object.
	h.Write([]byte("\nroot=" + root + "\ntrustDomain=" + td + "\naliases=" + strings.Join(in.TrustDomainAliases, ",") +
		"\nextensionProviders=" + strings.Join(in.ExtensionProviders, ",") +
		fmt.Sprintf("\nistio=%s wildcardTLS=%t", in.Istio.Version, in.Istio.WildcardTLS)))
	return &Prepared{
		Input: reach.Input{
			Snapshot: snap,
			Sources:  sources,
			// The operator reads the mesh config istiod reads, so the
			// providers are known (none when it defines none).
			Options: simulator.Options{RootNamespace: root, TrustDomain: td, TrustDomainAliases: in.TrustDomainAliases,
				ExtensionProviders: in.ExtensionProviders, ExtensionProvidersKnown: true},
			Probes: probes(in.EgressGateway),
			// The issues of objects the simulator could not read become
			// findings as egressctl's do: the report cannot know them.
			LoadIssues: issues,
		},
		Digest: "sha256:" + hex.EncodeToString(h.Sum(nil)),
		Issues: issues,
	}, nil
}

// probes turns spec.simulation.probes into the simulator's probes. They are
// part of the EgressGateway's spec, so the digest already covers them.
func probes(egw *egressv1alpha1.EgressGateway) []reach.Probe {
	if egw == nil {
		return nil
	}
	var out []reach.Probe
	for _, p := range egw.Spec.Simulation.Probes {
		out = append(out, reach.Probe{RequestSpec: simulator.RequestSpec{
			From: p.From, Method: p.Method, Host: p.Host, Path: p.Path, Port: int(p.Port),
		}})
	}
	return out
}

// podShapes turns pods into one Pod document per distinct (namespace,
// service account, labels, hostNetwork), named by a digest of that shape.
func podShapes(pods []*corev1.Pod) []document {
	seen := map[string]bool{}
	var docs []document
	for _, p := range pods {
		sa := p.Spec.ServiceAccountName
		if sa == "" {
			sa = "default"
		}
		labels, err := json.Marshal(p.Labels) // map keys are sorted
		if err != nil {
			continue
		}
		key := fmt.Sprintf("%s\x00%s\x00%s\x00%t", p.Namespace, sa, labels, p.Spec.HostNetwork)
		if seen[key] {
			continue
		}
		seen[key] = true
		sum := sha256.Sum256([]byte(key))
		om := metav1.ObjectMeta{Name: "shape-" + hex.EncodeToString(sum[:])[:16], Namespace: p.Namespace, Labels: p.Labels}
		docs = append(docs, newDocument("v1", "Pod", &om, &corev1.PodSpec{ServiceAccountName: sa, HostNetwork: p.Spec.HostNetwork}))
	}
	return docs
}
