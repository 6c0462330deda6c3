package reach

import (
	"encoding/json"
	"slices"
	"testing"

	"github.com/ambient-egress/ambient-egress-operator/simulator"
)

// Sources are the service accounts of ambient namespaces (their "default"
// account always exists) and the principals given explicitly.
func TestSourcePrincipals(t *testing.T) {
	snap := &simulator.Snapshot{Namespaces: []*simulator.Namespace{
		{Meta: simulator.Meta{Origin: simulator.Origin{Name: "shop"}, Labels: map[string]string{labelDataplaneMode: dataplaneAmbient}}},
		{Meta: simulator.Meta{Origin: simulator.Origin{Name: "legacy"}, Labels: map[string]string{labelDataplaneMode: "none"}}},
	}}
	accounts := []Ref{{Namespace: "shop", Name: "cart"}, {Namespace: "legacy", Name: "batch"}, {Namespace: "unknown", Name: "x"}}
	got := sourcePrincipals(snap, accounts, []string{"spiffe://example.org/ns/ext/sa/bot"}, "td.example")
	want := []string{"example.org/ns/ext/sa/bot", "td.example/ns/shop/sa/cart", "td.example/ns/shop/sa/default"}
	if !slices.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

func TestServiceAccountsIn(t *testing.T) {
	data := []byte(`apiVersion: v1
kind: ServiceAccount
metadata: {name: a}
---
apiVersion: v1
kind: List
items:
- {apiVersion: v1, kind: ServiceAccount, metadata: {name: b, namespace: shop}}
- {apiVersion: v1, kind: ConfigMap, metadata: {name: ServiceAccount, namespace: shop}}
---
probes: []
`)
	got, err := ServiceAccountsIn(data)
	if err != nil {
		t.Fatal(err)
	}
	want := []Ref{{Namespace: "default", Name: "a"}, {Namespace: "shop", Name: "b"}}
	if !slices.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

// A configuration without sources or destinations still has every list of
// the JSON contract, empty rather than null.
func TestEmptyReportLists(t *testing.T) {
	r, _ := Build(Input{Snapshot: &simulator.Snapshot{}})
	data, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"destinations":[],"reachability":[],"direct":[],"groups":[],"findings":[]}`
	if string(data) != want {
		t.Errorf("got %s, want %s", data, want)
	}
}
