package controllers

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	egressv1alpha1 "github.com/ambient-egress/ambient-egress-operator/apis/egress/v1alpha1"
	"github.com/ambient-egress/ambient-egress-operator/simulator"
)

// IstioOverrides fix what the operator would otherwise read from istiod's
// Deployment (flags), for an istiod it cannot see: one outside the cluster,
// or installed without the labels and image tag Istio's charts give it.
type IstioOverrides struct {
	// Version, when set, is istiod's version.
	Version simulator.IstioVersion
	// WildcardTLS, when not nil, says whether istiod runs with
	// ENABLE_WILDCARD_HOST_SERVICE_ENTRIES_FOR_TLS=true.
	WildcardTLS *bool
}

// Labels and names by which Istio's istio-discovery chart marks istiod's
// Deployment (manifests/charts/istio-control/istio-discovery/templates/
// deployment.yaml and zzz_profile.yaml, istio.labels).
const (
	istiodAppLabel       = "app"
	istiodAppValue       = "istiod"
	istioRevisionLabel   = "istio.io/rev"
	defaultRevision      = "default"
	appVersionLabel      = "app.kubernetes.io/version"
	istiodContainer      = "discovery"
	operatorVersionLabel = "operator.istio.io/version"
)

// istioOf works out the istiod egw runs under: its Deployment in the Istio
// namespace (app=istiod, istio.io/rev the gateway's revision or "default"),
// whose version is its app.kubernetes.io/version label (set from the
// chart's appVersion), else the older operator.istio.io/version label,
// else the tag of the discovery container's image; and whether that
// container sets the wildcard TLS flag. The flags override both. A
// Deployment that is absent or says nothing leaves the version unknown and
// the flag at istiod's default (off); only a failed read is an error.
func (r *EgressGatewayReconciler) istioOf(ctx context.Context, egw *egressv1alpha1.EgressGateway) (simulator.Istio, *egressv1alpha1.IstioStatus, error) {
	var istio simulator.Istio
	st := &egressv1alpha1.IstioStatus{}
	revision := egw.Spec.Waypoint.Revision
	if revision == "" {
		revision = defaultRevision
	}
	var deps appsv1.DeploymentList
	if err := r.List(ctx, &deps, client.InNamespace(r.istioNamespace()), client.MatchingLabels{istiodAppLabel: istiodAppValue}); err != nil {
		return istio, nil, fmt.Errorf("listing istiod Deployments in %s: %w", r.istioNamespace(), err)
	}
	var found *appsv1.Deployment
	for i := range deps.Items {
		d := &deps.Items[i]
		rev := d.Labels[istioRevisionLabel]
		if rev == "" {
			rev = defaultRevision
		}
		// Sorted by name so that two candidates always give the same one.
		if rev == revision && (found == nil || d.Name < found.Name) {
			found = d
		}
	}
	var notes []string
	if found == nil {
		st.Source = fmt.Sprintf("no istiod Deployment (%s=%s, %s=%s) in %s", istiodAppLabel, istiodAppValue, istioRevisionLabel, revision, r.istioNamespace())
	} else {
		st.Source = "Deployment " + found.Namespace + "/" + found.Name
		var note string
		istio.Version, note = deploymentVersion(found)
		if note != "" {
			notes = append(notes, note)
		}
		istio.WildcardTLS, note = deploymentWildcardTLS(found)
		if note != "" {
			notes = append(notes, note)
		}
	}
	var flags []string
	if v := r.Istio.Version; v.Known() {
		istio.Version, flags = v, append(flags, "--istio-version")
	}
	if w := r.Istio.WildcardTLS; w != nil {
		istio.WildcardTLS, flags = *w, append(flags, "--istio-wildcard-tls")
	}
	if len(notes) > 0 {
		st.Source += " (" + strings.Join(notes, "; ") + ")"
	}
	if len(flags) > 0 {
		st.Source += ", overridden by " + strings.Join(flags, ", ")
	}
	st.Version, st.WildcardTLS = istio.Version.String(), istio.WildcardTLS
	return istio, st, nil
}

// deploymentVersion reads istiod's version from its Deployment, saying why
// when it cannot.
func deploymentVersion(d *appsv1.Deployment) (simulator.IstioVersion, string) {
	for _, l := range []string{appVersionLabel, operatorVersionLabel} {
		if v, err := simulator.ParseIstioVersion(d.Labels[l]); err == nil {
			return v, ""
		}
	}
	c := istiodDiscovery(d)
	if c == nil {
		return simulator.IstioVersion{}, "version unknown: no " + istiodContainer + " container"
	}
	// The tag follows the last ":" after the last "/" (a registry may
	// have a port); a digest-only reference has none.
	ref, _, _ := strings.Cut(c.Image, "@")
	tag := ""
	if i := strings.LastIndexByte(ref, ':'); i > strings.LastIndexByte(ref, '/') {
		tag = ref[i+1:]
	}
	v, err := simulator.ParseIstioVersion(tag)
	if err != nil {
		return simulator.IstioVersion{}, fmt.Sprintf("version unknown: no %s label and image %s has no version tag", appVersionLabel, c.Image)
	}
	return v, ""
}

// deploymentWildcardTLS reads the wildcard TLS flag from the discovery
// container's environment; a value from a ConfigMap or Secret cannot be
// read here, so the flag counts as off and the note says so.
func deploymentWildcardTLS(d *appsv1.Deployment) (bool, string) {
	c := istiodDiscovery(d)
	if c == nil {
		return false, ""
	}
	i := slices.IndexFunc(c.Env, func(e corev1.EnvVar) bool { return e.Name == simulator.WildcardTLSFlag })
	if i < 0 {
		return false, ""
	}
	if c.Env[i].ValueFrom != nil {
		return false, simulator.WildcardTLSFlag + " is set from a reference the operator does not read: taken as off, set --istio-wildcard-tls"
	}
	on, err := strconv.ParseBool(c.Env[i].Value)
	if err != nil {
		return false, fmt.Sprintf("%s=%q is not a boolean: taken as off, as istiod does", simulator.WildcardTLSFlag, c.Env[i].Value)
	}
	return on, ""
}

func istiodDiscovery(d *appsv1.Deployment) *corev1.Container {
	cs := d.Spec.Template.Spec.Containers
	if i := slices.IndexFunc(cs, func(c corev1.Container) bool { return c.Name == istiodContainer }); i >= 0 {
		return &cs[i]
	}
	if len(cs) == 1 {
		return &cs[0]
	}
	return nil
}

// isIstiodDeployment tells whether a Deployment may be an istiod the
// gateways render for.
func (r *EgressGatewayReconciler) isIstiodDeployment(obj client.Object) bool {
	return obj.GetNamespace() == r.istioNamespace() && obj.GetLabels()[istiodAppLabel] == istiodAppValue
}
