package simulator

import (
	"fmt"
	"maps"
	"sort"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/ambient-egress/ambient-egress-operator/simulator/lockdown"
)

// LockdownPlan is what one EgressGateway's spec.lockdown writes (Enforce)
// or would write (Audit), read from the inputs as the operator reads the
// cluster, with the same lockdown.Policy.
type LockdownPlan struct {
	Gateway *EgressGateway
	// Namespaces are the source namespaces locked down, sorted.
	Namespaces []string
	// Policies are the policies in those namespaces: the inputs' own copy
	// when the operator already wrote it, else the one it would write.
	Policies []*NetworkPolicy
	// Conflicts are same-named policies the gateway did not write: the
	// operator leaves them alone, so their namespaces are not locked down.
	Conflicts []*NetworkPolicy
	// Invalid is set when spec.lockdown cannot be turned into policies.
	Invalid error
}

// PlanLockdowns plans the lockdown of every EgressGateway whose mode is
// Audit or Enforce. The policies it renders for namespaces the operator
// has not written yet leave out the DNS and API server rules, which need
// the cluster's DNS Service and API server endpoints: they open in-cluster
// addresses only, so no verdict about hosts outside the cluster depends on
// them.
func PlanLockdowns(s *Snapshot) []LockdownPlan {
	existing := map[string]*NetworkPolicy{}
	for _, np := range s.NetworkPolicies {
		existing[np.Namespace+"/"+np.Name] = np
	}
	var plans []LockdownPlan
	for _, egw := range s.EgressGateways {
		if egw.Lockdown.Mode != LockdownAudit && egw.Lockdown.Mode != LockdownEnforce {
			continue
		}
		plans = append(plans, planLockdown(s, egw, existing))
	}
	return plans
}

func planLockdown(s *Snapshot, egw *EgressGateway, existing map[string]*NetworkPolicy) LockdownPlan {
	plan := LockdownPlan{Gateway: egw}
	sel, err := metav1.LabelSelectorAsSelector(egw.Lockdown.Sources)
	if err != nil {
		plan.Invalid = fmt.Errorf("spec.lockdown.sources: %w", err)
		return plan
	}
	name := lockdown.PolicyName(egw.Namespace, egw.Name)
	in := lockdown.Input{
		Name:           name,
		Labels:         map[string]string{lockdown.LabelGateway: egw.Name, lockdown.LabelGatewayNamespace: egw.Namespace},
		Waypoint:       lockdown.Peer{Namespace: egw.Namespace, Pods: map[string]string{lockdown.WaypointPodLabel: egw.WaypointName}},
		AllowInCluster: egw.Lockdown.AllowInCluster,
		AllowCIDRs:     egw.Lockdown.AllowCIDRs,
	}
	for _, ns := range s.Namespaces {
		if ns.Name == egw.Namespace || !sel.Matches(namespaceLabelSet(ns)) {
			continue // the waypoint must reach the internet
		}
		plan.Namespaces = append(plan.Namespaces, ns.Name)
		if cur, ok := existing[ns.Name+"/"+name]; ok {
			if lockdown.Owned(cur.Labels, egw.Namespace, egw.Name) {
				plan.Policies = append(plan.Policies, cur)
			} else {
				plan.Conflicts = append(plan.Conflicts, cur)
			}
			continue
		}
		in.Namespace = ns.Name
		np, err := lockdown.Policy(in)
		if err != nil {
			plan.Invalid = fmt.Errorf("spec.lockdown.%w", err)
			return plan
		}
		// The DNS rule without a DNS peer would allow every pod on no
		// port; drop it rather than model a rule the operator never writes.
		np.Spec.Egress = np.Spec.Egress[1:]
		o := Origin{Kind: "NetworkPolicy", Namespace: ns.Name, Name: name}
		plan.Policies = append(plan.Policies, &NetworkPolicy{Meta: Meta{Origin: o, Labels: np.Labels}, Spec: np.Spec})
	}
	sort.Strings(plan.Namespaces)
	return plan
}

// namespaceLabelSet is a namespace's labels with the name label the API
// server sets on every namespace.
func namespaceLabelSet(ns *Namespace) labels.Set {
	out := labels.Set{"kubernetes.io/metadata.name": ns.Name}
	maps.Copy(out, ns.Labels)
	return out
}
