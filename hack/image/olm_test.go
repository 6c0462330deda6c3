package main

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/yaml"
)

// TestBundleImage builds the committed bundle/ and checks it against what
// bundle.Dockerfile and annotations.yaml say: every label, every file of the
// copied directories at its path, one image per platform, the same digest
// twice.
func TestBundleImage(t *testing.T) {
	created := time.Unix(1700000000, 0)
	idx, err := bundleImage("../../bundle", created, []platform{amd64, arm64})
	if err != nil {
		t.Fatal(err)
	}
	again, err := bundleImage("../../bundle", created, []platform{amd64, arm64})
	if err != nil {
		t.Fatal(err)
	}
	if digestOf(t, idx) != digestOf(t, again) {
		t.Error("two builds of the same bundle differ")
	}

	ann := struct {
		Annotations map[string]string `json:"annotations"`
	}{}
	data, err := os.ReadFile("../../bundle/metadata/annotations.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(data, &ann); err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, dir := range []string{"manifests", "metadata", "tests/scorecard"} {
		err := filepath.WalkDir(filepath.Join("../../bundle", dir), func(p string, d os.DirEntry, err error) error {
			if err == nil && !d.IsDir() {
				rel, _ := filepath.Rel("../../bundle", p)
				want = append(want, filepath.ToSlash(rel))
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}

	m, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Manifests) != 2 {
		t.Fatalf("%d images, want one per platform", len(m.Manifests))
	}
	for _, d := range m.Manifests {
		img, err := idx.Image(d.Digest)
		if err != nil {
			t.Fatal(err)
		}
		cf, err := img.ConfigFile()
		if err != nil {
			t.Fatal(err)
		}
		if d.Platform == nil || cf.Architecture != d.Platform.Architecture || cf.OS != "linux" {
			t.Errorf("descriptor platform %v, config %s/%s", d.Platform, cf.OS, cf.Architecture)
		}
		if !mapsEqual(cf.Config.Labels, ann.Annotations) {
			t.Errorf("labels %v, want annotations.yaml's %v", cf.Config.Labels, ann.Annotations)
		}
		layers, err := img.Layers()
		if err != nil || len(layers) != 1 {
			t.Fatalf("layers: %d, %v", len(layers), err)
		}
		var got []string
		for _, f := range layerFiles(t, layers[0]) {
			if f.Typeflag == '0' {
				got = append(got, f.Name)
				if f.Mode != 0o644 || f.ModTime.Unix() != 0 || f.Uid != 0 {
					t.Errorf("%s: mode %o, time %s, uid %d", f.Name, f.Mode, f.ModTime, f.Uid)
				}
			}
		}
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("files %v, want %v", got, want)
		}
	}
}

func TestReadBundleDockerfile(t *testing.T) {
	for _, tc := range []struct {
		name, dockerfile, err string
	}{
		{"ours", "FROM scratch\nLABEL a=b\nLABEL c=\"d\"\nCOPY manifests /manifests/\n", ""},
		{"a base image", "FROM busybox\nCOPY manifests /manifests/\n", "FROM scratch"},
		{"a RUN", "FROM scratch\nRUN rm -rf /\nCOPY manifests /manifests/\n", "only FROM scratch"},
		{"nothing copied", "FROM scratch\nLABEL a=b\n", "no COPY"},
		{"a label without a value", "FROM scratch\nLABEL a\nCOPY m /m/\n", "key=value"},
		{"a COPY flag", "FROM scratch\nCOPY --chown=1:1 m /m/\n", "one source"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "bundle.Dockerfile")
			if err := os.WriteFile(p, []byte(tc.dockerfile), 0o644); err != nil {
				t.Fatal(err)
			}
			labels, copies, err := readBundleDockerfile(p)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want one saying %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if labels["a"] != "b" || labels["c"] != "d" || len(copies) != 1 || copies[0] != (copyStep{"manifests", "/manifests"}) {
				t.Errorf("labels %v, copies %v", labels, copies)
			}
		})
	}
}

// TestCatalogImage builds a catalog image around a stand-in opm and unpacks
// it as a runtime would: opm at /bin/opm, run as `opm serve /configs` by a
// non-root user, the FBC read-only, /tmp sticky and world-writable, the cache
// writable by any user (OpenShift runs it with a UID from a range).
func TestCatalogImage(t *testing.T) {
	o := testOptions(t)
	host := amd64
	opm := filepath.Join(o.Out, "opm")
	if err := o.Compile(context.Background(), host, opm); err != nil {
		t.Fatal(err)
	}
	configs, cache := t.TempDir(), t.TempDir()
	writeFile(t, filepath.Join(configs, "pkg", "catalog.yaml"), "schema: olm.package\nname: pkg\n")
	writeFile(t, filepath.Join(cache, "pogreb.v1", "db", "00000.psg"), "cache")
	idx, err := catalogImage(configs, opm, cache, time.Unix(0, 0), host)
	if err != nil {
		t.Fatal(err)
	}
	root := filepath.Join(t.TempDir(), "rootfs")
	cfg, err := unpack(idx, host, root)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.User != "1001" || !slices.Equal(cfg.Entrypoint, []string{"/bin/opm"}) ||
		!slices.Equal(cfg.Cmd, []string{"serve", "/configs", "--cache-dir=/tmp/cache"}) ||
		cfg.Labels[catalogConfigsLabel] != "/configs" {
		t.Errorf("config %+v", cfg)
	}
	modes := map[string]os.FileMode{
		"bin/opm":                          0o755,
		"configs/pkg/catalog.yaml":         0o644,
		"tmp":                              os.ModeDir | os.ModeSticky | 0o777,
		"tmp/cache/pogreb.v1/db":           os.ModeDir | 0o777,
		"tmp/cache/pogreb.v1/db/00000.psg": 0o666,
	}
	for p, want := range modes {
		fi, err := os.Stat(filepath.Join(root, p))
		if err != nil {
			t.Error(err)
			continue
		}
		if fi.Mode() != want {
			t.Errorf("%s: mode %s, want %s", p, fi.Mode(), want)
		}
	}
	if _, err := unpack(idx, arm64, filepath.Join(t.TempDir(), "arm")); err == nil {
		t.Error("unpacked a platform the catalog image does not have")
	}
	if _, err := catalogImage(configs, opm, cache, time.Unix(0, 0), arm64); err == nil {
		t.Error("an amd64 opm went into an arm64 catalog image")
	}
}

func writeFile(t *testing.T, p, data string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}
