// Package waypoint holds the embedded waypoint chart and the pure function
// that turns an EgressGateway into the chart's values.
package waypoint

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"maps"
	"regexp"

	egressv1alpha1 "github.com/ambient-egress/ambient-egress-operator/apis/egress/v1alpha1"
)

//go:embed all:chart
var embedded embed.FS

// Chart returns the embedded chart's files, rooted at the chart directory.
// Tests load their own charts from another fs.FS instead.
func Chart() fs.FS {
	sub, err := fs.Sub(embedded, "chart")
	if err != nil {
		panic(err) // the directory is embedded at build time
	}
	return sub
}

// maxReleaseName is Helm's limit: release Secrets are named
// sh.helm.release.v1.<name>.v<revision>.
const maxReleaseName = 53

var (
	releaseNameRE       = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)
	invalidReleaseChars = regexp.MustCompile(`[^-a-z0-9]`)
)

// ReleaseName is the Helm release of an EgressGateway: "egw-<name>", stored in
// the EgressGateway's namespace. Names that would pass Helm's 53-character
// limit, or contain dots, are cut and suffixed with a hash of the full name so
// they stay unique.
func ReleaseName(egw *egressv1alpha1.EgressGateway) string {
	name := "egw-" + egw.Name
	if len(name) <= maxReleaseName && releaseNameRE.MatchString(name) {
		return name
	}
	sum := sha256.Sum256([]byte(egw.Name))
	prefix := name
	if len(prefix) > maxReleaseName-9 {
		prefix = prefix[:maxReleaseName-9]
	}
	prefix = invalidReleaseChars.ReplaceAllString(prefix, "-")
	return fmt.Sprintf("%s-%s", prefix, hex.EncodeToString(sum[:])[:8])
}

// GatewayName is the waypoint Gateway's name: spec.waypoint.name, or the
// EgressGateway's own name when that is empty.
func GatewayName(egw *egressv1alpha1.EgressGateway) string {
	if egw.Spec.Waypoint.Name != "" {
		return egw.Spec.Waypoint.Name
	}
	return egw.Name
}

// Values computes the chart values for egw. It is pure: the same spec always
// gives the same values, which is what lets the controller skip Helm when the
// digest of these values has not changed. spec.waypoint.values is merged over
// the computed values, maps key by key.
func Values(egw *egressv1alpha1.EgressGateway) (map[string]any, error) {
	w := egw.Spec.Waypoint
	trafficType := string(w.TrafficType)
	if trafficType == "" {
		trafficType = string(egressv1alpha1.TrafficTypeService)
	}
	deployment := map[string]any{}
	if w.Replicas != nil && w.Autoscaling == nil {
		deployment["replicas"] = *w.Replicas
	}
	if w.Resources != nil && (len(w.Resources.Limits) > 0 || len(w.Resources.Requests) > 0) {
		deployment["resources"] = w.Resources
	}
	autoscaling := map[string]any{"enabled": false}
	if a := w.Autoscaling; a != nil {
		autoscaling = map[string]any{
			"enabled":                        true,
			"minReplicas":                    valueOr(a.MinReplicas, 1),
			"maxReplicas":                    a.MaxReplicas,
			"targetCPUUtilizationPercentage": valueOr(a.TargetCPUUtilizationPercentage, 80),
		}
	}
	pdb := map[string]any{"enabled": false}
	if p := w.PodDisruptionBudget; p != nil {
		pdb = map[string]any{"enabled": true}
		if p.MinAvailable != nil {
			pdb["minAvailable"] = p.MinAvailable
		}
		if p.MaxUnavailable != nil {
			pdb["maxUnavailable"] = p.MaxUnavailable
		}
	}
	gateway := map[string]any{
		"name":        GatewayName(egw),
		"trafficType": trafficType,
		"revision":    w.Revision,
	}
	// Only when it is not the default, so that the values, and the
	// digest that decides upgrades, of existing gateways stay the same.
	if r := w.AllowedRoutes; r != nil && r.From != "" && r.From != egressv1alpha1.AllowedRoutesSame {
		namespaces := map[string]any{"from": string(r.From)}
		if r.Selector != nil {
			namespaces["selector"] = r.Selector.AsMeta()
		}
		gateway["allowedRoutes"] = map[string]any{"namespaces": namespaces}
	}
	values := map[string]any{
		"egressGateway":       egw.Name,
		"gateway":             gateway,
		"deployment":          deployment,
		"autoscaling":         autoscaling,
		"podDisruptionBudget": pdb,
	}
	computed, err := normalize(values)
	if err != nil {
		return nil, err
	}
	if w.Values == nil || len(w.Values.Raw) == 0 {
		return computed, nil
	}
	var extra map[string]any
	if err := json.Unmarshal(w.Values.Raw, &extra); err != nil {
		return nil, fmt.Errorf("spec.waypoint.values must be a YAML object: %w", err)
	}
	return merge(computed, extra), nil
}

// Digest identifies values: the hex SHA-256 of their canonical JSON, in
// which map keys are sorted.
func Digest(values map[string]any) string {
	data, err := json.Marshal(values)
	if err != nil {
		panic(fmt.Sprintf("values are JSON by construction: %v", err))
	}
	sum := sha256.Sum256(data)
	return "sha256:" + hex.EncodeToString(sum[:])
}

func valueOr(p *int32, def int32) int32 {
	if p == nil {
		return def
	}
	return *p
}

// merge returns base with over merged into it: maps merge key by key, any
// other value in over replaces the one in base.
func merge(base, over map[string]any) map[string]any {
	out := make(map[string]any, len(base))
	maps.Copy(out, base)
	for k, v := range over {
		bm, bok := out[k].(map[string]any)
		om, ook := v.(map[string]any)
		if bok && ook {
			out[k] = merge(bm, om)
			continue
		}
		out[k] = v
	}
	return out
}

// normalize round-trips values through JSON, so they compare and digest
// exactly like the values Helm stores in, and reads back from, a release.
func normalize(values map[string]any) (map[string]any, error) {
	data, err := json.Marshal(values)
	if err != nil {
		return nil, fmt.Errorf("encoding waypoint values: %w", err)
	}
	var out map[string]any
	if err := json.Unmarshal(data, &out); err != nil {
		return nil, fmt.Errorf("decoding waypoint values: %w", err)
	}
	return out, nil
}
