package reach

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"os"
	"sort"
	"strings"

	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"

	"github.com/ambient-egress/ambient-egress-operator/simulator"
)

// Labels that make a namespace's workloads ambient sources.
const (
	labelDataplaneMode = "istio.io/dataplane-mode"
	dataplaneAmbient   = "ambient"
)

// LoadServiceAccounts reads the ServiceAccounts of the manifests at paths
// (files or directories, read as simulator.Load reads them). The simulator
// core ignores ServiceAccounts; the report needs them as sources.
func LoadServiceAccounts(paths ...string) ([]Ref, error) {
	var out []Ref
	for _, p := range paths {
		files, err := simulator.ManifestFiles(p)
		if err != nil {
			return nil, fmt.Errorf("list manifests: %w", err)
		}
		for _, f := range files {
			data, err := os.ReadFile(f)
			if err != nil {
				return nil, fmt.Errorf("read %s: %w", f, err)
			}
			refs, err := ServiceAccountsIn(data)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", f, err)
			}
			out = append(out, refs...)
		}
	}
	return out, nil
}

// saEnvelope is the part of an object the source loader reads.
type saEnvelope struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Metadata   struct {
		Name      string `json:"name"`
		Namespace string `json:"namespace"`
	} `json:"metadata"`
	Items []saEnvelope `json:"items"`
}

// ServiceAccountsIn returns the ServiceAccounts of one multi-document YAML
// stream, including those inside List kinds. Documents that are not objects
// are skipped: simulator.Load reports them.
func ServiceAccountsIn(data []byte) ([]Ref, error) {
	var out []Ref
	reader := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	for {
		chunk, err := reader.Read()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("read YAML: %w", err)
		}
		// Most documents are not ServiceAccounts; skip decoding them.
		if !bytes.Contains(chunk, []byte("ServiceAccount")) {
			continue
		}
		var env saEnvelope
		if yaml.Unmarshal(chunk, &env) != nil {
			continue
		}
		out = appendAccounts(out, env)
	}
}

func appendAccounts(out []Ref, env saEnvelope) []Ref {
	for _, item := range env.Items {
		out = appendAccounts(out, item)
	}
	if env.Kind == "ServiceAccount" && env.APIVersion == "v1" && env.Metadata.Name != "" {
		ns := env.Metadata.Namespace
		if ns == "" {
			ns = "default"
		}
		out = append(out, Ref{Namespace: ns, Name: env.Metadata.Name})
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
