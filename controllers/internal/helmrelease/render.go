package helmrelease

import (
	"fmt"
	"sort"
	"strings"

	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/engine"
)

// Render renders chrt with values for a release name in namespace, with no
// cluster: the templates only, in file order. Tests use it for golden files.
func Render(chrt *chart.Chart, values map[string]any, name, namespace string) (string, error) {
	opts := chartutil.ReleaseOptions{Name: name, Namespace: namespace, Revision: 1, IsInstall: true}
	vals, err := chartutil.ToRenderValues(chrt, values, opts, chartutil.DefaultCapabilities)
	if err != nil {
		return "", fmt.Errorf("computing render values: %w", err)
	}
	files, err := engine.Render(chrt, vals)
	if err != nil {
		return "", fmt.Errorf("rendering chart: %w", err)
	}
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	var b strings.Builder
	for _, n := range names {
		body := strings.TrimSpace(files[n])
		if body == "" || strings.HasSuffix(n, ".tpl") || strings.HasSuffix(n, "NOTES.txt") {
			continue
		}
		fmt.Fprintf(&b, "---\n# Source: %s\n%s\n", n, body)
	}
	return b.String(), nil
}
