// Command istiodconfig renders the ConfigMaps an out-of-cluster istiod needs
// (mesh config "istio" and the injection templates "istio-sidecar-injector",
// which hold the waypoint template) from the istio-discovery chart of the
// istio.io/istio Go module, with the ambient profile, and prints them as YAML.
//
// istiod reads the injector ConfigMap once at start; without it a waypoint
// Gateway stays Programmed=False. Only ConfigMaps are printed: the chart's
// webhooks and Deployment point at an in-cluster istiod we do not run.
//
// Usage: go run ./hack/istiodconfig -chart <istio module>/manifests/charts/istio-control/istio-discovery
package main

import (
	"flag"
	"fmt"
	"os"
	"sort"
	"strings"

	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/engine"
	"sigs.k8s.io/yaml"
)

func main() {
	chartDir := flag.String("chart", "", "Path of the istio-discovery chart (required).")
	namespace := flag.String("namespace", "istio-system", "Namespace istiod runs in.")
	flag.Parse()
	if *chartDir == "" {
		fmt.Fprintln(os.Stderr, "istiodconfig: -chart is required")
		os.Exit(2)
	}
	out, err := render(*chartDir, *namespace)
	if err != nil {
		fmt.Fprintf(os.Stderr, "istiodconfig: %v\n", err)
		os.Exit(1)
	}
	fmt.Print(out)
}

// render returns the chart's ConfigMaps, in a stable order.
func render(chartDir, namespace string) (string, error) {
	chrt, err := loader.Load(chartDir)
	if err != nil {
		return "", fmt.Errorf("loading chart: %w", err)
	}
	values := map[string]any{
		"profile": "ambient",
		"global":  map[string]any{"istioNamespace": namespace},
	}
	opts := chartutil.ReleaseOptions{Name: "istiod", Namespace: namespace, IsInstall: true}
	vals, err := chartutil.ToRenderValues(chrt, values, opts, chartutil.DefaultCapabilities)
	if err != nil {
		return "", fmt.Errorf("values: %w", err)
	}
	files, err := engine.Render(chrt, vals)
	if err != nil {
		return "", fmt.Errorf("rendering: %w", err)
	}
	names := make([]string, 0, len(files))
	for name := range files {
		names = append(names, name)
	}
	sort.Strings(names)
	var b strings.Builder
	for _, name := range names {
		for doc := range strings.SplitSeq(files[name], "\n---") {
			var head struct {
				Kind string `json:"kind"`
			}
			if err := yaml.Unmarshal([]byte(doc), &head); err != nil || head.Kind != "ConfigMap" {
				continue
			}
			fmt.Fprintf(&b, "---\n# Source: %s\n%s\n", name, strings.TrimSpace(doc))
		}
	}
	return b.String(), nil
}
