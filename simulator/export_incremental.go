package simulator

// WithPolicy returns a program equal to what Compile would build if ap
// replaced the policy of the same namespace and name (or was added), without
// compiling the other policies again: the reachability report uses it to
// re-simulate one policy change quickly. The receiver is not modified. The
// issues are ap's admission findings; when they hold errors the policy is
// left out, as Compile does. Findings Compile makes over the whole program
// (targets, TCP ports, ztunnel conversion) are not recomputed.
func (p *Program) WithPolicy(ap *AuthorizationPolicy) (*Program, Issues) {
	np := p.withoutPolicy(ap.Namespace + "/" + ap.Name)
	issues := validatePolicy(ap)
	if issues.HasErrors() {
		return np, issues
	}
	c := &compiler{prog: np}
	trust := newTrustBundle(np.opts.TrustDomain, np.opts.TrustDomainAliases)
	if refs := targetRefs(ap.Spec); len(refs) > 0 {
		c.attachWaypointPolicy(ap, compileWaypointPolicy(ap, trust, np.opts), refs)
	} else {
		c.attachZtunnelPolicy(ap, compileZtunnelPolicy(ap))
	}
	np.index.sortLists()
	return np, issues
}

// WithoutPolicy returns a program without the policy namespace/name, as if
// it were deleted.
func (p *Program) WithoutPolicy(namespace, name string) *Program {
	return p.withoutPolicy(namespace + "/" + name)
}

// withoutPolicy copies the program with fresh index lists that leave out
// the policy with the given key; the lists are new slices, so appending to
// them does not touch the receiver's.
func (p *Program) withoutPolicy(key string) *Program {
	np := *p
	idx := &np.index
	idx.waypointClass = without(p.index.waypointClass, key)
	idx.ztGlobal = without(p.index.ztGlobal, key)
	idx.byGateway = withoutInMap(p.index.byGateway, key)
	idx.byDestination = withoutInMap(p.index.byDestination, key)
	idx.ztNamespace = withoutInMap(p.index.ztNamespace, key)
	idx.ztSelector = withoutInMap(p.index.ztSelector, key)
	return &np
}

func without(list []*compiledPolicy, key string) []*compiledPolicy {
	out := make([]*compiledPolicy, 0, len(list)+1)
	for _, cp := range list {
		if cp.key != key {
			out = append(out, cp)
		}
	}
	return out
}

func withoutInMap(m map[string][]*compiledPolicy, key string) map[string][]*compiledPolicy {
	out := make(map[string][]*compiledPolicy, len(m))
	for k, list := range m {
		out[k] = without(list, key)
	}
	return out
}

// sortLists restores the order Compile files policies in (by namespace,
// then name), which decides which ALLOW rule is reported as deciding.
func (x *attachIndex) sortLists() {
	origin := func(cp *compiledPolicy) Origin { return cp.origin }
	sortByOrigin(x.waypointClass, origin)
	sortByOrigin(x.ztGlobal, origin)
	for _, m := range []map[string][]*compiledPolicy{x.byGateway, x.byDestination, x.ztNamespace, x.ztSelector} {
		for _, list := range m {
			sortByOrigin(list, origin)
		}
	}
}
