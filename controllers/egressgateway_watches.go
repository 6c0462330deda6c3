package controllers

import (
	"context"
	"reflect"
	"slices"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/selection"
	"k8s.io/client-go/util/workqueue"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	oplhandler "github.com/operator-framework/operator-lib/handler"
	istiometav1alpha1 "istio.io/api/meta/v1alpha1"
	istionetworkingv1 "istio.io/client-go/pkg/apis/networking/v1"
	istiosecurityv1 "istio.io/client-go/pkg/apis/security/v1"
	istiotelemetryv1 "istio.io/client-go/pkg/apis/telemetry/v1"

	egressv1alpha1 "github.com/ambient-egress/ambient-egress-operator/apis/egress/v1alpha1"
	"github.com/ambient-egress/ambient-egress-operator/controllers/internal/reporting"
	"github.com/ambient-egress/ambient-egress-operator/controllers/internal/waypoint"
	"github.com/ambient-egress/ambient-egress-operator/simulator"
	"github.com/ambient-egress/ambient-egress-operator/simulator/lockdown"
)

const (
	// gatewayNameLabel is on the Deployment istiod makes for a Gateway.
	gatewayNameLabel = "gateway.networking.k8s.io/gateway-name"
)

// CacheOptions limits what the manager caches to what the reconciler reads:
// only the ConfigMaps, HorizontalPodAutoscalers and PodDisruptionBudgets the
// waypoint chart renders (and the report ConfigMaps, labeled alike), and
// only the Deployments istiod makes for Gateways, rather than every one in
// the cluster; ServiceAccounts are cached as metadata only (see
// SetupWithManager). Every cached object drops its managedFields and
// kubectl's last-applied copy, which the reconciler never reads and which
// are often the larger part of an Istio object.
//
// In istioNamespace every ConfigMap is cached, as istiod's mesh config is
// one of them (istio or istio-<revision>), but of those the operator did not
// render only the mesh config's "mesh" key is kept (trimIstioConfigMap).
//
// namespaces, when given, further limits every namespaced kind the
// reconciler reads to those namespaces (the EgressGateways' namespaces and
// Istio's root namespace, which the caller includes), except the
// ServiceAccounts, which are sources wherever spec.simulation.sources
// finds them, and the mesh config; Namespaces are cluster-scoped.
func CacheOptions(istioNamespace string, namespaces ...string) cache.Options {
	has := func(key string) labels.Selector {
		req, err := labels.NewRequirement(key, selection.Exists, nil)
		if err != nil {
			panic(err)
		}
		return labels.NewSelector().Add(*req)
	}
	opts := cache.Options{DefaultTransform: stripUnread, ByObject: map[client.Object]cache.ByObject{
		&autoscalingv2.HorizontalPodAutoscaler{}: {Label: has(lockdown.LabelGateway)},
		&policyv1.PodDisruptionBudget{}:          {Label: has(lockdown.LabelGateway)},
		&egressv1alpha1.EgressGateway{}:          {Transform: withKind(egressv1alpha1.GroupVersion.WithKind("EgressGateway"))},
	}}
	if len(namespaces) > 0 {
		opts.DefaultNamespaces = map[string]cache.Config{}
		for _, ns := range namespaces {
			opts.DefaultNamespaces[ns] = cache.Config{}
		}
		accounts := &metav1.PartialObjectMetadata{}
		accounts.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("ServiceAccount"))
		opts.ByObject[accounts] = cache.ByObject{Namespaces: map[string]cache.Config{cache.AllNamespaces: {}}}
	}
	// NetworkPolicies: every one of the source namespaces decides what
	// the sources reach directly (the report's direct rows), and the
	// lockdown policies are in the source namespaces, wherever they are.
	// They are small, and a namespace rarely has more than a few.
	netpols := cache.ByObject{}
	if len(namespaces) > 0 {
		netpols.Namespaces = map[string]cache.Config{cache.AllNamespaces: {}}
	}
	opts.ByObject[&networkingv1.NetworkPolicy{}] = netpols
	// Pods: only what NetworkPolicies select by (labels) and what ties a
	// pod to a source (its service account, hostNetwork) is kept; spec and
	// status are dropped, so a pod costs a few hundred bytes.
	pods := cache.ByObject{Transform: podShape}
	if len(namespaces) > 0 {
		pods.Namespaces = map[string]cache.Config{cache.AllNamespaces: {}}
	}
	opts.ByObject[&corev1.Pod{}] = pods
	// What a lockdown policy is rendered from: the cluster DNS Service
	// (each candidate, by name in its namespace) and the API server's
	// EndpointSlices. Watched so that a moved API server or DNS port
	// updates the policies before it cuts pods off.
	dns := map[string]cache.Config{}
	for _, ref := range lockdown.DNSCandidates {
		dns[ref.Namespace] = cache.Config{FieldSelector: fields.OneTermEqualSelector("metadata.name", ref.Name)}
	}
	opts.ByObject[&corev1.Service{}] = cache.ByObject{Namespaces: dns}
	opts.ByObject[&discoveryv1.EndpointSlice{}] = cache.ByObject{Namespaces: map[string]cache.Config{
		metav1.NamespaceDefault: {LabelSelector: labels.SelectorFromSet(labels.Set{discoveryv1.LabelServiceName: "kubernetes"})},
	}}
	// ConfigMaps: the rendered ones wherever the other kinds are cached,
	// and every one in the Istio namespace (a namespace listed beside
	// cache.AllNamespaces is left out of the latter's informer).
	rendered := cache.Config{LabelSelector: has(lockdown.LabelGateway)}
	configMaps := map[string]cache.Config{}
	if len(namespaces) == 0 {
		configMaps[cache.AllNamespaces] = rendered
	}
	for _, ns := range namespaces {
		configMaps[ns] = rendered
	}
	if istioNamespace == "" {
		istioNamespace = DefaultIstioNamespace
	}
	// Deployments: the ones istiod makes for Gateways (the waypoints),
	// and in the Istio namespace every one, as istiod's own is among them
	// (istioOf reads its labels, image and environment).
	waypoints := cache.Config{LabelSelector: has(gatewayNameLabel)}
	deployments := map[string]cache.Config{}
	if len(namespaces) == 0 {
		deployments[cache.AllNamespaces] = waypoints
	}
	for _, ns := range namespaces {
		deployments[ns] = waypoints
	}
	deployments[istioNamespace] = cache.Config{LabelSelector: labels.Everything()}
	opts.ByObject[&appsv1.Deployment{}] = cache.ByObject{Namespaces: deployments, Transform: stripLastApplied}
	configMaps[istioNamespace] = cache.Config{LabelSelector: labels.Everything(), Transform: trimIstioConfigMap(istioNamespace)}
	opts.ByObject[&corev1.ConfigMap{}] = cache.ByObject{Namespaces: configMaps}
	return opts
}

// trimIstioConfigMap is stripUnread that also drops the data of the Istio
// namespace's ConfigMaps the reconciler never reads (the sidecar injector's
// template, the CA root certificate, ...), and of the mesh config keeps only
// the "mesh" key.
func trimIstioConfigMap(istioNamespace string) func(any) (any, error) {
	return func(in any) (any, error) {
		out, err := stripUnread(in)
		cm, ok := out.(*corev1.ConfigMap)
		if !ok || err != nil || hasLabel(cm, lockdown.LabelGateway) {
			return out, err
		}
		mesh, isMesh := cm.Data[simulator.MeshConfigKey]
		cm.Data, cm.BinaryData = nil, nil
		if isMesh && isMeshConfigMap(istioNamespace, cm) {
			cm.Data = map[string]string{simulator.MeshConfigKey: mesh}
		}
		return cm, nil
	}
}

// stripUnread drops, from every object entering the cache, the metadata
// the reconciler never reads.
func stripUnread(in any) (any, error) {
	obj, ok := in.(metav1.Object)
	if !ok {
		return in, nil // a DeletedFinalStateUnknown tombstone
	}
	obj.SetManagedFields(nil)
	// The object is the informer's own, fresh from decoding: trim in place.
	if a := obj.GetAnnotations(); a != nil {
		if _, ok := a[corev1.LastAppliedConfigAnnotation]; ok {
			delete(a, corev1.LastAppliedConfigAnnotation)
			obj.SetAnnotations(a)
		}
	}
	return obj, nil
}

// podShape keeps of a Pod its identity, labels, service account and
// hostNetwork: what decides which NetworkPolicies select it.
func podShape(in any) (any, error) {
	pod, ok := in.(*corev1.Pod)
	if !ok {
		return in, nil
	}
	return &corev1.Pod{
		TypeMeta: pod.TypeMeta,
		ObjectMeta: metav1.ObjectMeta{Name: pod.Name, Namespace: pod.Namespace, UID: pod.UID, ResourceVersion: pod.ResourceVersion,
			Labels: pod.Labels, DeletionTimestamp: pod.DeletionTimestamp},
		Spec: corev1.PodSpec{ServiceAccountName: pod.Spec.ServiceAccountName, HostNetwork: pod.Spec.HostNetwork},
	}, nil
}

// stripLastApplied is stripUnread for the waypoint Deployments, whose
// managedFields tell whether the operator holds their replicas (see
// egressgateway_replicas.go).
func stripLastApplied(in any) (any, error) {
	obj, ok := in.(metav1.Object)
	if !ok {
		return in, nil
	}
	managed := obj.GetManagedFields()
	out, err := stripUnread(in)
	obj.SetManagedFields(managed)
	return out, err
}

// withKind is stripUnread that also sets the object's kind, which the API
// server's typed decoding leaves empty: operator-lib's instrumented handler
// labels resource_created_at_seconds with it.
func withKind(gvk schema.GroupVersionKind) func(any) (any, error) {
	return func(in any) (any, error) {
		out, err := stripUnread(in)
		if obj, ok := out.(runtime.Object); ok && err == nil {
			obj.GetObjectKind().SetGroupVersionKind(gvk)
		}
		return out, err
	}
}

// SetupWithManager registers the reconciler and its watches with mgr. Status
// updates, of the EgressGateway and of the objects it owns, do not trigger a
// reconcile, except those that change the waypoint's readiness.
func (r *EgressGatewayReconciler) SetupWithManager(mgr ctrl.Manager) error {
	// The EgressGateway watch uses operator-lib's instrumented handler,
	// which also exports each CR's creation time as
	// resource_created_at_seconds; builder.For cannot take a handler, so
	// the owned objects are watched through their controller reference, as
	// builder.Owns would.
	owner := handler.EnqueueRequestForOwner(mgr.GetScheme(), mgr.GetRESTMapper(), &egressv1alpha1.EgressGateway{}, handler.OnlyControllerOwner())
	r.sims = newSimJobs()
	if err := mgr.Add(r.sims); err != nil {
		return err
	}
	return ctrl.NewControllerManagedBy(mgr).
		// A simulation that outlived its reconcile's grace reconciles its
		// gateway again when it ends.
		WatchesRawSource(source.Channel(r.sims.done, &handler.EnqueueRequestForObject{})).
		Watches(&egressv1alpha1.EgressGateway{}, &oplhandler.InstrumentedEnqueueRequestForObject[client.Object]{},
			builder.WithPredicates(specOrLifecycleChanged)).
		Watches(&gatewayv1.Gateway{}, owner, builder.WithPredicates(predicate.Or(contentChanged, gatewayReadinessChanged))).
		Watches(&corev1.ConfigMap{}, owner, builder.WithPredicates(contentChanged)).
		Watches(&corev1.ConfigMap{}, handler.EnqueueRequestsFromMapFunc(r.gatewaysOfMeshConfig), builder.WithPredicates(contentChanged)).
		Watches(&autoscalingv2.HorizontalPodAutoscaler{}, owner, builder.WithPredicates(contentChanged)).
		Watches(&istiotelemetryv1.Telemetry{}, owner, builder.WithPredicates(predicate.Or(labelsOrAnnotationsChanged, predicate.GenerationChangedPredicate{}))).
		Watches(&policyv1.PodDisruptionBudget{}, owner, builder.WithPredicates(contentChanged)).
		Watches(&appsv1.Deployment{}, handler.EnqueueRequestsFromMapFunc(r.gatewaysOfDeployment),
			builder.WithPredicates(deploymentReadinessChanged)).
		Watches(&appsv1.Deployment{}, handler.EnqueueRequestsFromMapFunc(r.gatewaysOfIstiod),
			builder.WithPredicates(predicate.NewPredicateFuncs(r.isIstiodDeployment), istiodChanged)).
		Watches(&corev1.Namespace{}, r.namespaceEvents(),
			builder.WithPredicates(labelsOrAnnotationsChanged)).
		Watches(&istionetworkingv1.ServiceEntry{}, handler.EnqueueRequestsFromMapFunc(r.gatewaysOfConfig),
			builder.WithPredicates(predicate.Or(labelsOrAnnotationsChanged, predicate.GenerationChangedPredicate{},
				istioConditionChanged(reporting.WaypointBoundCondition)))).
		Watches(&istionetworkingv1.DestinationRule{}, handler.EnqueueRequestsFromMapFunc(r.gatewaysOfConfig),
			builder.WithPredicates(predicate.Or(labelsOrAnnotationsChanged, predicate.GenerationChangedPredicate{}))).
		Watches(&istiosecurityv1.AuthorizationPolicy{}, handler.EnqueueRequestsFromMapFunc(r.gatewaysOfConfig),
			builder.WithPredicates(predicate.Or(labelsOrAnnotationsChanged, predicate.GenerationChangedPredicate{},
				istioConditionChanged(reporting.WaypointAcceptedCondition)))).
		Watches(&istiosecurityv1.RequestAuthentication{}, handler.EnqueueRequestsFromMapFunc(r.gatewaysOfConfig),
			builder.WithPredicates(predicate.Or(labelsOrAnnotationsChanged, predicate.GenerationChangedPredicate{}))).
		Watches(&networkingv1.NetworkPolicy{}, handler.EnqueueRequestsFromMapFunc(r.gatewaysOfLockdownPolicy),
			builder.WithPredicates(contentChanged)).
		Watches(&corev1.Service{}, handler.EnqueueRequestsFromMapFunc(r.gatewaysLockingDown), builder.WithPredicates(lockdownInputChanged)).
		Watches(&discoveryv1.EndpointSlice{}, handler.EnqueueRequestsFromMapFunc(r.gatewaysLockingDown), builder.WithPredicates(lockdownInputChanged)).
		Watches(&corev1.Pod{}, handler.EnqueueRequestsFromMapFunc(r.gatewaysOfPod), builder.WithPredicates(podLabelsChanged)).
		Watches(&corev1.ServiceAccount{}, handler.EnqueueRequestsFromMapFunc(r.gatewaysSourcing),
			builder.OnlyMetadata, builder.WithPredicates(createOrDelete)).
		Named("egressgateway").
		WithOptions(controller.Options{MaxConcurrentReconciles: r.maxConcurrentReconciles()}).
		Complete(r)
}

// namespaceEvents enqueues, for a namespace event, the EgressGateways its
// labels matter to: the ones in it (its labels decide their enrollment),
// every one when it is the root namespace, and the ones whose
// spec.simulation.sources select it before or after the change (its service
// accounts join or leave their sources). Other gateways are not disturbed.
func (r *EgressGatewayReconciler) namespaceEvents() handler.Funcs {
	enqueue := func(ctx context.Context, q workqueue.TypedRateLimitingInterface[reconcile.Request], name string, labelSets ...map[string]string) {
		for _, req := range r.gatewaysOfNamespace(ctx, name, labelSets...) {
			q.Add(req)
		}
	}
	return handler.Funcs{
		CreateFunc: func(ctx context.Context, e event.CreateEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
			enqueue(ctx, q, e.Object.GetName(), e.Object.GetLabels())
		},
		UpdateFunc: func(ctx context.Context, e event.UpdateEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
			enqueue(ctx, q, e.ObjectNew.GetName(), e.ObjectOld.GetLabels(), e.ObjectNew.GetLabels())
		},
		DeleteFunc: func(ctx context.Context, e event.DeleteEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
			enqueue(ctx, q, e.Object.GetName(), e.Object.GetLabels())
		},
	}
}

// gatewaysOfNamespace lists the EgressGateways a namespace with any of the
// label sets matters to (see namespaceEvents).
func (r *EgressGatewayReconciler) gatewaysOfNamespace(ctx context.Context, name string, labelSets ...map[string]string) []reconcile.Request {
	return r.gatewaysIn(ctx, "", func(egw *egressv1alpha1.EgressGateway) bool {
		if egw.Namespace == name || r.rootNamespaceOf(ctx, egw) == name {
			return true
		}
		// Its service accounts are sources, or it is locked down.
		for _, selectorOf := range []func(*egressv1alpha1.EgressGateway) (labels.Selector, error){sourceSelector, lockdownSelector} {
			sel, err := selectorOf(egw)
			if err == nil && slices.ContainsFunc(labelSets, func(l map[string]string) bool { return sel.Matches(labels.Set(l)) }) {
				return true
			}
		}
		return false
	})
}

// gatewaysOfConfig maps a ServiceEntry, DestinationRule or
// AuthorizationPolicy to the EgressGateways beside it, and to those whose
// mesh has its namespace as root namespace, where it applies mesh-wide.
func (r *EgressGatewayReconciler) gatewaysOfConfig(ctx context.Context, obj client.Object) []reconcile.Request {
	ns := obj.GetNamespace()
	return r.gatewaysIn(ctx, "", func(egw *egressv1alpha1.EgressGateway) bool {
		return egw.Namespace == ns || r.rootNamespaceOf(ctx, egw) == ns
	})
}

// gatewaysOfMeshConfig maps an istiod mesh config ConfigMap to the
// EgressGateways of its revision.
func (r *EgressGatewayReconciler) gatewaysOfMeshConfig(ctx context.Context, cm client.Object) []reconcile.Request {
	if !isMeshConfigMap(r.istioNamespace(), cm) {
		return nil
	}
	return r.gatewaysIn(ctx, "", func(egw *egressv1alpha1.EgressGateway) bool {
		return simulator.MeshConfigMapName(egw.Spec.Waypoint.Revision) == cm.GetName()
	})
}

// gatewaysSourcing maps a ServiceAccount to the EgressGateways whose
// spec.simulation.sources select its namespace.
func (r *EgressGatewayReconciler) gatewaysSourcing(ctx context.Context, sa client.Object) []reconcile.Request {
	ns := &corev1.Namespace{}
	if err := r.Get(ctx, client.ObjectKey{Name: sa.GetNamespace()}, ns); err != nil {
		return nil // a deleted namespace is seen through its Namespace event
	}
	return r.gatewaysIn(ctx, "", func(egw *egressv1alpha1.EgressGateway) bool {
		sel, err := sourceSelector(egw)
		return err == nil && sel.Matches(labels.Set(ns.Labels))
	})
}

// gatewaysOfDeployment maps a waypoint Deployment to the EgressGateways
// whose Gateway it runs.
func (r *EgressGatewayReconciler) gatewaysOfDeployment(ctx context.Context, dep client.Object) []reconcile.Request {
	name := dep.GetLabels()[gatewayNameLabel]
	return r.gatewaysIn(ctx, dep.GetNamespace(), func(egw *egressv1alpha1.EgressGateway) bool {
		return waypoint.GatewayName(egw) == name
	})
}

// gatewaysOfIstiod maps an istiod Deployment to the EgressGateways of its
// revision: its version and flags decide which destinations they render.
func (r *EgressGatewayReconciler) gatewaysOfIstiod(ctx context.Context, dep client.Object) []reconcile.Request {
	rev := dep.GetLabels()[istioRevisionLabel]
	return r.gatewaysIn(ctx, "", func(egw *egressv1alpha1.EgressGateway) bool {
		want := egw.Spec.Waypoint.Revision
		return want == rev || (want == "" || want == defaultRevision) && (rev == "" || rev == defaultRevision)
	})
}

// gatewaysOfPod maps a Pod to the gateways sourcing its namespace, but
// only when its labels can change a report: a NetworkPolicy of the
// namespace selects pods by label, or the pod is out of the mesh. Pods
// come and go all the time; the others would start reconciles whose
// inputs did not change.
func (r *EgressGatewayReconciler) gatewaysOfPod(ctx context.Context, pod client.Object) []reconcile.Request {
	if pod.GetLabels()[simulator.LabelDataplaneMode] == "" {
		var nps networkingv1.NetworkPolicyList
		if err := r.List(ctx, &nps, client.InNamespace(pod.GetNamespace())); err != nil {
			return nil
		}
		if !slices.ContainsFunc(nps.Items, func(np networkingv1.NetworkPolicy) bool {
			sel := np.Spec.PodSelector
			return len(sel.MatchLabels) > 0 || len(sel.MatchExpressions) > 0
		}) {
			return nil
		}
	}
	return r.gatewaysSourcing(ctx, pod)
}

// gatewaysLockingDown maps a change of the cluster DNS Service or of the
// API server's endpoints to every EgressGateway whose lockdown renders
// them.
func (r *EgressGatewayReconciler) gatewaysLockingDown(ctx context.Context, _ client.Object) []reconcile.Request {
	return r.gatewaysIn(ctx, "", func(egw *egressv1alpha1.EgressGateway) bool {
		m := egw.Spec.Lockdown.Mode
		return m == egressv1alpha1.LockdownEnforce || m == egressv1alpha1.LockdownAudit
	})
}

func (r *EgressGatewayReconciler) gatewaysIn(ctx context.Context, namespace string, keep func(*egressv1alpha1.EgressGateway) bool) []reconcile.Request {
	var list egressv1alpha1.EgressGatewayList
	if err := r.List(ctx, &list, client.InNamespace(namespace)); err != nil {
		ctrl.LoggerFrom(ctx).Error(err, "listing EgressGateways to enqueue", "namespace", namespace)
		return nil
	}
	var reqs []reconcile.Request
	for i := range list.Items {
		if keep(&list.Items[i]) {
			reqs = append(reqs, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&list.Items[i])})
		}
	}
	return reqs
}

// specOrLifecycleChanged passes an EgressGateway update when its spec
// (generation), deletion or finalizers changed, not its status.
var specOrLifecycleChanged = predicate.Funcs{UpdateFunc: func(e event.UpdateEvent) bool {
	o, n := e.ObjectOld, e.ObjectNew
	return o.GetGeneration() != n.GetGeneration() ||
		!o.GetDeletionTimestamp().Equal(n.GetDeletionTimestamp()) ||
		!reflect.DeepEqual(o.GetFinalizers(), n.GetFinalizers())
}}

// contentChanged passes an update of a rendered object when anything but its
// status changed: spec (generation), data, labels, annotations or owners.
var contentChanged = predicate.Funcs{UpdateFunc: func(e event.UpdateEvent) bool {
	o, n := e.ObjectOld, e.ObjectNew
	if o.GetGeneration() != n.GetGeneration() || !sameMetadata(o, n) {
		return true
	}
	oc, ook := o.(*corev1.ConfigMap)
	nc, nok := n.(*corev1.ConfigMap)
	return ook && nok && (!reflect.DeepEqual(oc.Data, nc.Data) || !reflect.DeepEqual(oc.BinaryData, nc.BinaryData))
}}

// lockdownInputChanged passes updates of what a lockdown policy is rendered
// from: the DNS Service's selector and ports, the API server's endpoints
// and ports. Neither kind has a generation, so contentChanged would miss a
// moved port.
var lockdownInputChanged = predicate.Funcs{UpdateFunc: func(e event.UpdateEvent) bool {
	switch o := e.ObjectOld.(type) {
	case *corev1.Service:
		n, ok := e.ObjectNew.(*corev1.Service)
		return !ok || !reflect.DeepEqual(o.Spec.Selector, n.Spec.Selector) || !reflect.DeepEqual(o.Spec.Ports, n.Spec.Ports)
	case *discoveryv1.EndpointSlice:
		n, ok := e.ObjectNew.(*discoveryv1.EndpointSlice)
		return !ok || !reflect.DeepEqual(o.Endpoints, n.Endpoints) || !reflect.DeepEqual(o.Ports, n.Ports)
	}
	return true
}}

// createOrDelete passes only creations and deletions: a ServiceAccount is a
// source by its name alone.
var createOrDelete = predicate.Funcs{UpdateFunc: func(event.UpdateEvent) bool { return false }}

// labelsOrAnnotationsChanged passes updates that may change enrollment.
var labelsOrAnnotationsChanged = predicate.Funcs{UpdateFunc: func(e event.UpdateEvent) bool {
	return !reflect.DeepEqual(e.ObjectOld.GetLabels(), e.ObjectNew.GetLabels()) ||
		!reflect.DeepEqual(e.ObjectOld.GetAnnotations(), e.ObjectNew.GetAnnotations())
}}

// podLabelsChanged passes a Pod's creation, deletion
// and label changes: its service account and hostNetwork cannot change.
var podLabelsChanged = predicate.Funcs{UpdateFunc: func(e event.UpdateEvent) bool {
	return !reflect.DeepEqual(e.ObjectOld.GetLabels(), e.ObjectNew.GetLabels())
}}

// gatewayReadinessChanged passes Gateway status updates that change what
// WaypointReady reads: the Programmed condition and the addresses.
var gatewayReadinessChanged = predicate.Funcs{UpdateFunc: func(e event.UpdateEvent) bool {
	o, ook := e.ObjectOld.(*gatewayv1.Gateway)
	n, nok := e.ObjectNew.(*gatewayv1.Gateway)
	if !ook || !nok {
		return false
	}
	programmed := func(gw *gatewayv1.Gateway) string {
		if c := meta.FindStatusCondition(gw.Status.Conditions, string(gatewayv1.GatewayConditionProgrammed)); c != nil {
			return string(c.Status) + c.Reason + c.Message
		}
		return ""
	}
	return programmed(o) != programmed(n) || !reflect.DeepEqual(o.Status.Addresses, n.Status.Addresses)
}}

// deploymentReadinessChanged passes Deployment updates that change the
// waypoint's replicas or availability.
var deploymentReadinessChanged = predicate.Funcs{UpdateFunc: func(e event.UpdateEvent) bool {
	o, ook := e.ObjectOld.(*appsv1.Deployment)
	n, nok := e.ObjectNew.(*appsv1.Deployment)
	if !ook || !nok {
		return false
	}
	return !reflect.DeepEqual(o.Spec.Replicas, n.Spec.Replicas) ||
		o.Status.ReadyReplicas != n.Status.ReadyReplicas ||
		deploymentAvailable(o) != deploymentAvailable(n)
}}

// istiodChanged passes updates of an istiod Deployment that can change
// what istioOf reads: its labels, or its discovery container's image or
// environment.
var istiodChanged = predicate.Funcs{UpdateFunc: func(e event.UpdateEvent) bool {
	o, ook := e.ObjectOld.(*appsv1.Deployment)
	n, nok := e.ObjectNew.(*appsv1.Deployment)
	if !ook || !nok {
		return false
	}
	oc, nc := istiodDiscovery(o), istiodDiscovery(n)
	return !reflect.DeepEqual(o.Labels, n.Labels) || (oc == nil) != (nc == nil) ||
		oc != nil && (oc.Image != nc.Image || !reflect.DeepEqual(oc.Env, nc.Env))
}}

// istioConditionChanged passes status updates of an Istio object that
// change the condition of type t istiod wrote, which status.destinations
// and PoliciesValid quote.
func istioConditionChanged(t string) predicate.Funcs {
	find := func(obj client.Object) string {
		var conds []*istiometav1alpha1.IstioCondition
		switch o := obj.(type) {
		case *istionetworkingv1.ServiceEntry:
			conds = o.Status.GetConditions()
		case *istiosecurityv1.AuthorizationPolicy:
			conds = o.Status.GetConditions()
		}
		for _, c := range conds {
			if c.GetType() == t {
				return c.GetStatus() + "/" + c.GetReason() + "/" + c.GetMessage()
			}
		}
		return ""
	}
	return predicate.Funcs{UpdateFunc: func(e event.UpdateEvent) bool { return find(e.ObjectOld) != find(e.ObjectNew) }}
}

func sameMetadata(a, b client.Object) bool {
	return reflect.DeepEqual(a.GetLabels(), b.GetLabels()) &&
		reflect.DeepEqual(a.GetAnnotations(), b.GetAnnotations()) &&
		reflect.DeepEqual(a.GetOwnerReferences(), b.GetOwnerReferences())
}

func (r *EgressGatewayReconciler) maxConcurrentReconciles() int {
	if r.MaxConcurrentReconciles > 0 {
		return r.MaxConcurrentReconciles
	}
	return DefaultMaxConcurrentReconciles
}

func hasLabel(obj metav1.Object, key string) bool {
	_, ok := obj.GetLabels()[key]
	return ok
}
