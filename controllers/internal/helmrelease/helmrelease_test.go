package helmrelease

import (
	"bytes"
	"strings"
	"testing"
	"testing/fstest"

	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/release"
)

func TestDetermineState(t *testing.T) {
	rel := func(v int, s release.Status, chartVersion string) *release.Release {
		return &release.Release{Version: v, Info: &release.Info{Status: s}, Chart: &chart.Chart{Metadata: &chart.Metadata{Version: chartVersion}}}
	}
	observed := func(last *release.Release, digest string) Observed {
		o := Observed{Last: last, ValuesDigest: digest}
		if last != nil {
			o.ChartVersion = last.Chart.Metadata.Version
		}
		return o
	}
	for _, tc := range []struct {
		name    string
		obs     Observed
		drifted bool
		want    State
	}{
		{"no release", Observed{}, false, StateAbsent},
		{"uninstalled", observed(rel(1, release.StatusUninstalled, "1.0.0"), "d"), false, StateAbsent},
		{"pending-install", observed(rel(1, release.StatusPendingInstall, "1.0.0"), "d"), false, StateLocked},
		{"pending-upgrade", observed(rel(2, release.StatusPendingUpgrade, "1.0.0"), "d"), false, StateLocked},
		{"pending-rollback", observed(rel(3, release.StatusPendingRollback, "1.0.0"), "d"), false, StateLocked},
		{"failed", observed(rel(2, release.StatusFailed, "1.0.0"), "d"), false, StateFailed},
		{"other values", observed(rel(1, release.StatusDeployed, "1.0.0"), "other"), false, StateOutOfSync},
		{"other chart", observed(rel(1, release.StatusDeployed, "0.9.0"), "d"), false, StateOutOfSync},
		{"in sync", observed(rel(1, release.StatusDeployed, "1.0.0"), "d"), false, StateInSync},
		{"drifted", observed(rel(1, release.StatusDeployed, "1.0.0"), "d"), true, StateDrifted},
		{"out of sync wins over drift: the upgrade repairs it", observed(rel(1, release.StatusDeployed, "1.0.0"), "x"), true, StateOutOfSync},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := DetermineState(tc.obs, "1.0.0", "d", tc.drifted); got != tc.want {
				t.Errorf("DetermineState = %s, want %s", got, tc.want)
			}
		})
	}
}

func TestMatches(t *testing.T) {
	want := map[string]any{
		"apiVersion": "v1", "kind": "ConfigMap",
		"metadata": map[string]any{"name": "x", "labels": map[string]any{"a": "1"}},
		"spec":     map[string]any{"replicas": 2, "list": []any{map[string]any{"port": 15008}}},
	}
	live := func(mut func(map[string]any)) map[string]any {
		l := map[string]any{
			"metadata": map[string]any{"name": "x", "resourceVersion": "7", "labels": map[string]any{"a": "1", "extra": "ok"}},
			"spec":     map[string]any{"replicas": float64(2), "defaulted": true, "list": []any{map[string]any{"port": float64(15008), "allowedRoutes": "Same"}}},
			"status":   map[string]any{"anything": true},
		}
		if mut != nil {
			mut(l)
		}
		return l
	}
	if !matches(want, live(nil)) {
		t.Error("defaulted fields, extra labels and status must not count as drift")
	}
	for name, mut := range map[string]func(map[string]any){
		"changed field": func(l map[string]any) { l["spec"].(map[string]any)["replicas"] = float64(3) },
		"removed label": func(l map[string]any) { delete(l["metadata"].(map[string]any)["labels"].(map[string]any), "a") },
		"added list item": func(l map[string]any) {
			s := l["spec"].(map[string]any)
			s["list"] = append(s["list"].([]any), map[string]any{"port": float64(1)})
		},
		"changed list item": func(l map[string]any) {
			l["spec"].(map[string]any)["list"].([]any)[0].(map[string]any)["port"] = float64(15009)
		},
	} {
		if matches(want, live(mut)) {
			t.Errorf("%s: not detected as drift", name)
		}
	}
}

func TestOwnerRefPostRenderer(t *testing.T) {
	in := bytes.NewBufferString("---\n# Source: a.yaml\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n---\n\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: b\n")
	out, err := ownerRefPostRenderer{owner: OwnerRef{APIVersion: "egress.ambient.io/v1alpha1", Kind: "EgressGateway", Name: "w", UID: "u-1"}}.Run(in)
	if err != nil {
		t.Fatal(err)
	}
	objs, err := decodeManifest(out.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if len(objs) != 2 {
		t.Fatalf("got %d objects, want 2:\n%s", len(objs), out)
	}
	for _, o := range objs {
		refs := o.GetOwnerReferences()
		if len(refs) != 1 || refs[0].UID != "u-1" || refs[0].Controller == nil || !*refs[0].Controller {
			t.Errorf("%s: owner references = %+v", o.GetName(), refs)
		}
	}
}

func TestMessageTrims(t *testing.T) {
	msg := Message(errString(strings.Repeat("x ", 2000) + "\n\tend"))
	if len(msg) > maxMessage || strings.ContainsAny(msg, "\n\t") {
		t.Errorf("message not trimmed: %d chars", len(msg))
	}
}

type errString string

func (e errString) Error() string { return string(e) }

func TestLoadChartStampsTheOperatorVersion(t *testing.T) {
	fsys := fstest.MapFS{
		"Chart.yaml":             {Data: []byte("apiVersion: v2\nname: test\nversion: 0.0.1\n")},
		"templates/a.yaml":       {Data: []byte("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n")},
		"templates/_helpers.tpl": {Data: []byte("{{- define \"x\" -}}{{- end -}}")},
	}
	for version, want := range map[string]string{"v1.2.3": "1.2.3", "1.2.3-rc.1": "1.2.3-rc.1", "dev": "0.0.0-dev", "": "0.0.0-dev"} {
		c, err := LoadChart(fsys, version)
		if err != nil {
			t.Fatal(err)
		}
		if c.Metadata.Version != want || c.Metadata.AppVersion != want {
			t.Errorf("LoadChart(%q): version %s appVersion %s, want %s", version, c.Metadata.Version, c.Metadata.AppVersion, want)
		}
		if len(c.Templates) != 2 {
			t.Errorf("LoadChart(%q): %d templates, want 2 (helpers included)", version, len(c.Templates))
		}
	}
}
