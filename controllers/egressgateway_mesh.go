package controllers

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	egressv1alpha1 "github.com/ambient-egress/ambient-egress-operator/apis/egress/v1alpha1"
	"github.com/ambient-egress/ambient-egress-operator/simulator"
)

// DefaultIstioNamespace is where istiod and its mesh config ConfigMap live
// unless --istio-namespace says otherwise.
const DefaultIstioNamespace = "istio-system"

// MeshOverrides are mesh settings the operator's flags fix, whatever Istio's
// mesh config says; an empty field leaves Istio's value.
type MeshOverrides struct {
	RootNamespace      string
	TrustDomain        string
	TrustDomainAliases []string
}

// meshSettings is the mesh config the gateway's istiod runs with, as far as
// the report depends on it: its ConfigMap (istio, or istio-<revision>) in
// the Istio namespace over Istio's defaults, then the flags. A ConfigMap
// that does not decode is ignored, as istiod ignores it, and the source
// says so and undecodable carries the decoding error; only a failed read
// (or a root namespace outside the cache) is an error.
func (r *EgressGatewayReconciler) meshSettings(ctx context.Context, egw *egressv1alpha1.EgressGateway) (st *egressv1alpha1.MeshStatus, undecodable, err error) {
	key := client.ObjectKey{Namespace: r.istioNamespace(), Name: simulator.MeshConfigMapName(egw.Spec.Waypoint.Revision)}
	cm := &corev1.ConfigMap{}
	// Istio's defaults (no extension provider either).
	opts := simulator.Options{RootNamespace: simulator.DefaultRootNamespace, TrustDomain: simulator.DefaultTrustDomain}
	var source string
	switch gerr := r.Get(ctx, key, cm); {
	case apierrors.IsNotFound(gerr):
		source = fmt.Sprintf("Istio's defaults (no ConfigMap %s)", key)
	case gerr != nil:
		return nil, nil, fmt.Errorf("reading the mesh config ConfigMap %s: %w", key, gerr)
	default:
		parsed, perr := r.meshParses.parse(key, cm)
		if perr != nil {
			undecodable = perr
			source = fmt.Sprintf("Istio's defaults: ConfigMap %s does not decode and istiod ignores it (%v)", key, perr)
		} else {
			opts, source = parsed, "ConfigMap "+key.String()
		}
	}
	st = &egressv1alpha1.MeshStatus{RootNamespace: opts.RootNamespace, TrustDomain: opts.TrustDomain,
		TrustDomainAliases: opts.TrustDomainAliases, ExtensionProviders: opts.ExtensionProviders}
	var flags []string
	if o := r.Mesh.RootNamespace; o != "" {
		st.RootNamespace, flags = o, append(flags, "--root-namespace")
	}
	if o := r.Mesh.TrustDomain; o != "" {
		st.TrustDomain, flags = o, append(flags, "--trust-domain")
	}
	if o := r.Mesh.TrustDomainAliases; o != nil {
		st.TrustDomainAliases, flags = slices.Clone(o), append(flags, "--trust-domain-alias")
	}
	st.Source = source
	if len(flags) > 0 {
		st.Source += ", overridden by " + strings.Join(flags, ", ")
	}
	if len(r.WatchNamespaces) > 0 && !slices.Contains(r.WatchNamespaces, st.RootNamespace) {
		return st, undecodable, fmt.Errorf("the root namespace %s (from %s) is not among the watched namespaces %s: add it to --watch-namespaces, or set --root-namespace",
			st.RootNamespace, st.Source, strings.Join(r.WatchNamespaces, ","))
	}
	return st, undecodable, nil
}

// isMeshConfigMap tells whether a ConfigMap may be an istiod's mesh config:
// istio or istio-<revision> in the Istio namespace.
func isMeshConfigMap(istioNamespace string, obj client.Object) bool {
	name := obj.GetName()
	return obj.GetNamespace() == istioNamespace && (name == "istio" || strings.HasPrefix(name, "istio-"))
}

func (r *EgressGatewayReconciler) istioNamespace() string {
	if r.IstioNamespace != "" {
		return r.IstioNamespace
	}
	return DefaultIstioNamespace
}

// rootNamespaceOf is the root namespace of egw's mesh, for the watches: an
// Istio object there applies to egw. A mesh config that cannot be read
// leaves the flag or Istio's default; the reconcile reports the read error.
func (r *EgressGatewayReconciler) rootNamespaceOf(ctx context.Context, egw *egressv1alpha1.EgressGateway) string {
	if st, _, err := r.meshSettings(ctx, egw); st != nil && err == nil {
		return st.RootNamespace
	}
	if r.Mesh.RootNamespace != "" {
		return r.Mesh.RootNamespace
	}
	return simulator.DefaultRootNamespace
}

// meshParses remembers the last decoding of each mesh config ConfigMap: the
// watches ask for the root namespace on every Istio object event.
type meshParses struct {
	mu   sync.Mutex
	last map[client.ObjectKey]meshParse
}

type meshParse struct {
	resourceVersion string
	opts            simulator.Options
	err             error
}

func (m *meshParses) parse(key client.ObjectKey, cm *corev1.ConfigMap) (simulator.Options, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if p, ok := m.last[key]; ok && p.resourceVersion == cm.ResourceVersion && cm.ResourceVersion != "" {
		p.opts.TrustDomainAliases = slices.Clone(p.opts.TrustDomainAliases)
		p.opts.ExtensionProviders = slices.Clone(p.opts.ExtensionProviders)
		return p.opts, p.err
	}
	opts, err := simulator.ParseMeshConfig(cm.Data[simulator.MeshConfigKey])
	if m.last == nil {
		m.last = map[client.ObjectKey]meshParse{}
	}
	m.last[key] = meshParse{resourceVersion: cm.ResourceVersion, opts: opts, err: err}
	opts.TrustDomainAliases = slices.Clone(opts.TrustDomainAliases)
	opts.ExtensionProviders = slices.Clone(opts.ExtensionProviders)
	return opts, err
}
