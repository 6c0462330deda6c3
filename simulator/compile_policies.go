package simulator

import (
	"slices"

	securityv1beta1 "istio.io/api/security/v1beta1"
	typev1beta1 "istio.io/api/type/v1beta1"
)

// targetRefs returns spec.targetRefs, or the deprecated spec.targetRef
// (model.GetTargetRefs in istiod).
func targetRefs(spec *securityv1beta1.AuthorizationPolicy) []*typev1beta1.PolicyTargetReference {
	if refs := spec.GetTargetRefs(); len(refs) > 0 {
		return refs
	}
	if r := spec.GetTargetRef(); r != nil {
		return []*typev1beta1.PolicyTargetReference{r}
	}
	return nil
}

// compilePolicies validates, compiles and files every policy. Policies with
// targetRefs are for waypoints only; istiod does not send them to ztunnel
// (pilot/pkg/serviceregistry/ambient/authorization.go). Policies without are
// for ztunnel only; waypoints ignore them (pilot/pkg/model/policyattachment.go,
// "waypoints never use selector").
func (c *compiler) compilePolicies() {
	pols := append([]*AuthorizationPolicy(nil), c.snap.AuthorizationPolicies...)
	sortByOrigin(pols, func(p *AuthorizationPolicy) Origin { return p.Origin })
	trust := newTrustBundle(c.prog.opts.TrustDomain, c.prog.opts.TrustDomainAliases)
	// Validating and compiling a policy reads nothing but the policy, so
	// it runs on every core; filing them into the index stays in order.
	type result struct {
		found    Issues
		compiled *compiledPolicy
		refs     []*typev1beta1.PolicyTargetReference
	}
	results := make([]result, len(pols))
	parallel(len(pols), func(i int) {
		p, r := pols[i], &results[i]
		if r.found = validatePolicy(p); r.found.HasErrors() {
			return
		}
		if r.refs = targetRefs(p.Spec); len(r.refs) > 0 {
			r.compiled = compileWaypointPolicy(p, trust, c.prog.opts)
		} else {
			r.compiled = compileZtunnelPolicy(p)
		}
	})
	for i, p := range pols {
		r := results[i]
		c.issues = append(c.issues, r.found...)
		switch {
		case r.compiled == nil:
		case len(r.refs) > 0:
			c.policies = append(c.policies, &acceptedPolicy{src: p, compiled: r.compiled, waypoint: true})
			c.attachWaypointPolicy(p, r.compiled, r.refs)
		default:
			c.policies = append(c.policies, &acceptedPolicy{src: p, compiled: r.compiled})
			c.attachZtunnelPolicy(p, r.compiled)
		}
	}
}

func (c *compiler) attachWaypointPolicy(p *AuthorizationPolicy, cp *compiledPolicy, refs []*typev1beta1.PolicyTargetReference) {
	for _, t := range c.waypointTargets(p.Namespace, refs) {
		c.prog.index.file(t, cp)
	}
}

// targetIndex files what attaches to waypoints (policies,
// RequestAuthentications) by target.
type targetIndex[T comparable] struct {
	// waypointClass holds what root-namespace objects attach to the
	// istio-waypoint GatewayClass: every waypoint applies it.
	waypointClass []T
	// byGateway holds what targets a waypoint Gateway, by "ns/name".
	byGateway map[string][]T
	// byDestination holds what targets a Service or ServiceEntry, by
	// destination key.
	byDestination map[string][]T
}

func newTargetIndex[T comparable]() targetIndex[T] {
	return targetIndex[T]{byGateway: map[string][]T{}, byDestination: map[string][]T{}}
}

// file adds v under one target, once.
func (x *targetIndex[T]) file(t waypointTarget, v T) {
	add := func(list []T) []T {
		if slices.Contains(list, v) {
			return list
		}
		return append(list, v)
	}
	switch {
	case t.class:
		x.waypointClass = add(x.waypointClass)
	case t.gateway != "":
		x.byGateway[t.gateway] = add(x.byGateway[t.gateway])
	default:
		x.byDestination[t.destination] = add(x.byDestination[t.destination])
	}
}

// waypointTarget is what one targetRef of a policy in a namespace attaches
// the policy to at waypoints: every waypoint (class), one waypoint Gateway
// ("ns/name"), or one destination ("Kind/ns/name").
type waypointTarget struct {
	class                bool
	gateway, destination string
}

// waypointTargets resolves targetRefs as istiod's ShouldAttachPolicy does
// for waypoints; refs to anything else attach nothing.
func (c *compiler) waypointTargets(ns string, refs []*typev1beta1.PolicyTargetReference) []waypointTarget {
	var out []waypointTarget
	for _, r := range refs {
		switch canonicalGroup(r.GetGroup()) + "/" + r.GetKind() {
		case "gateway.networking.k8s.io/GatewayClass":
			if ns == c.prog.opts.RootNamespace && r.GetName() == waypointClassName {
				out = append(out, waypointTarget{class: true})
			}
		case "gateway.networking.k8s.io/Gateway":
			out = append(out, waypointTarget{gateway: ns + "/" + r.GetName()})
		case "core/Service":
			out = append(out, waypointTarget{destination: "Service/" + ns + "/" + r.GetName()})
		case "networking.istio.io/ServiceEntry":
			out = append(out, waypointTarget{destination: "ServiceEntry/" + ns + "/" + r.GetName()})
		}
	}
	return out
}

// attachZtunnelPolicy files a policy by the scope istiod gives it: global in
// the root namespace, namespace-wide without selector, else by selector.
// CUSTOM and AUDIT are not converted for ztunnel at all.
func (c *compiler) attachZtunnelPolicy(p *AuthorizationPolicy, cp *compiledPolicy) {
	switch cp.action {
	case securityv1beta1.AuthorizationPolicy_ALLOW, securityv1beta1.AuthorizationPolicy_DENY:
	default:
		return
	}
	idx := &c.prog.index
	switch {
	case p.Spec.GetSelector() != nil:
		idx.ztSelector[p.Namespace] = append(idx.ztSelector[p.Namespace], cp)
	case p.Namespace == c.prog.opts.RootNamespace:
		idx.ztGlobal = append(idx.ztGlobal, cp)
	default:
		idx.ztNamespace[p.Namespace] = append(idx.ztNamespace[p.Namespace], cp)
	}
}
