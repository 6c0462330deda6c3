package reach

import (
	"sort"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/ambient-egress/ambient-egress-operator/simulator"
)

// Labels that make a namespace's workloads ambient sources.
const (
	labelDataplaneMode = "istio.io/dataplane-mode"
	dataplaneAmbient   = "ambient"
)

// LoadServiceAccounts reads the ServiceAccounts of the manifests at paths
// with the simulator's loader (simulator.Load). The simulator core ignores
// ServiceAccounts; the report needs them as sources.
func LoadServiceAccounts(paths ...string) ([]Ref, error) {
	snap, _, err := simulator.Load(paths...)
	if err != nil {
		return nil, err
	}
	return ServiceAccountsOf(snap), nil
}

// ServiceAccountsIn returns the ServiceAccounts of one multi-document YAML
// stream, including those inside List kinds, read by the simulator's
// loader. Documents it refuses are skipped: simulator.Load reports them.
func ServiceAccountsIn(data []byte) ([]Ref, error) {
	snap, _, err := simulator.Parse("manifests", data)
	if err != nil {
		return nil, err
	}
	return ServiceAccountsOf(snap), nil
}

// ServiceAccountsOf lists the ServiceAccounts a snapshot holds.
func ServiceAccountsOf(snap *simulator.Snapshot) []Ref {
	out := make([]Ref, 0, len(snap.ServiceAccounts))
	for _, sa := range snap.ServiceAccounts {
		out = append(out, Ref{Namespace: sa.Namespace, Name: sa.Name})
	}
	return out
}

// sourcePrincipals lists the report's sources, sorted and unique: every
// service account of a namespace labeled istio.io/dataplane-mode=ambient
// (its "default" account always exists), plus the extra principals.
func sourcePrincipals(snap *simulator.Snapshot, accounts []Ref, extra []string, trustDomain string) []string {
	selectors := sourceSelectors(snap)
	ambient := map[string]bool{}
	for _, ns := range snap.Namespaces {
		for _, sel := range selectors {
			if sel.Matches(labels.Set(ns.Labels)) {
				ambient[ns.Name] = true
				break
			}
		}
	}
	set := map[string]bool{}
	for ns := range ambient {
		set[principal(trustDomain, ns, "default")] = true
	}
	for _, a := range accounts {
		if ambient[a.Namespace] {
			set[principal(trustDomain, a.Namespace, a.Name)] = true
		}
	}
	for _, p := range extra {
		set[strings.TrimPrefix(p, "spiffe://")] = true
	}
	out := make([]string, 0, len(set))
	for p := range set {
		out = append(out, p)
	}
	sort.Strings(out)
	return out
}

func principal(td, ns, sa string) string {
	return td + "/ns/" + ns + "/sa/" + sa
}

// sourceSelectors are the namespaces whose service accounts are sources, as
// the operator picks them: each EgressGateway's spec.simulation.sources
// (ambient namespaces by default); without an EgressGateway that simulates,
// the ambient namespaces. A selector that does not parse selects nothing
// (the loader refused it already).
func sourceSelectors(snap *simulator.Snapshot) []labels.Selector {
	var out []labels.Selector
	for _, egw := range snap.EgressGateways {
		if egw.SimulationDisabled || egw.Sources == nil {
			continue
		}
		if sel, err := metav1.LabelSelectorAsSelector(egw.Sources); err == nil {
			out = append(out, sel)
		}
	}
	if len(out) == 0 {
		out = append(out, labels.SelectorFromSet(labels.Set{labelDataplaneMode: dataplaneAmbient}))
	}
	return out
}
