package main

import (
	"path/filepath"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
)

// TestServiceMonitorScrapesTheMetricsService builds config/prometheus and
// config/default as kustomize would and checks that the ServiceMonitor
// selects the manager's metrics Service, in its namespace, on its HTTPS port.
func TestServiceMonitorScrapesTheMetricsService(t *testing.T) {
	monitors, err := kustomize(filepath.Join("..", "..", "config", "prometheus"))
	if err != nil {
		t.Fatal(err)
	}
	deployed, err := kustomize(filepath.Join("..", "..", "config", "default"))
	if err != nil {
		t.Fatal(err)
	}
	if len(monitors) != 1 || monitors[0].GetKind() != "ServiceMonitor" {
		t.Fatalf("config/prometheus: want one ServiceMonitor, got %d objects", len(monitors))
	}
	m := monitors[0]
	sel, _, _ := unstructured.NestedStringMap(m.Object, "spec", "selector", "matchLabels")
	endpoints, _, _ := unstructured.NestedSlice(m.Object, "spec", "endpoints")
	if len(sel) == 0 || len(endpoints) != 1 {
		t.Fatalf("ServiceMonitor: selector %v, %d endpoints; want a selector and one endpoint", sel, len(endpoints))
	}
	ep, _ := endpoints[0].(map[string]any)
	var matched []string
	for _, svc := range deployed {
		if svc.GetKind() != "Service" || svc.GetNamespace() != m.GetNamespace() ||
			!labels.SelectorFromSet(sel).Matches(labels.Set(svc.GetLabels())) {
			continue
		}
		matched = append(matched, svc.GetName())
		raw, _, _ := unstructured.NestedFieldNoCopy(svc.Object, "spec", "ports")
		ports, _ := raw.([]any)
		found := false
		for _, p := range ports {
			if pm, _ := p.(map[string]any); pm["name"] == ep["port"] {
				found = true
			}
		}
		if !found {
			t.Errorf("Service %s has no port named %v", svc.GetName(), ep["port"])
		}
	}
	if len(matched) != 1 {
		t.Errorf("the ServiceMonitor in %s selects Services %v, want exactly the metrics Service", m.GetNamespace(), matched)
	}
	if ep["scheme"] != "https" || ep["path"] != "/metrics" {
		t.Errorf("endpoint %v: want https and /metrics, as the manager serves them", ep)
	}
}
