package main

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"io"
	"log"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"golang.org/x/crypto/x509roots/fallback/bundle"
)

// The tests build ./testdata/standin, a tiny program, in place of the
// manager: cross-compiling it takes seconds (once; the build cache keeps
// it), the manager minutes. Everything else is what `make image` does.

var (
	amd64 = platform{OS: "linux", Arch: "amd64"}
	arm64 = platform{OS: "linux", Arch: "arm64"}
)

func testOptions(t *testing.T) options {
	t.Helper()
	return options{
		Version:     "1.2.3",
		Revision:    "0123456789abcdef0123456789abcdef01234567",
		Image:       "example.test/ambient-egress-operator:v1.2.3",
		Created:     time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
		Platforms:   []platform{amd64, arm64},
		TarPlatform: amd64,
		Out:         t.TempDir(),
		Compile:     goBuild(".", "./testdata/standin", "1.2.3"),
	}
}

// buildAndWrite is build then write, failing the test on an error.
func buildAndWrite(t *testing.T, o options) *result {
	t.Helper()
	res, err := build(context.Background(), o, t.Logf)
	if err != nil {
		t.Fatal(err)
	}
	if err := write(res, o); err != nil {
		t.Fatal(err)
	}
	return res
}

func digestOf(t *testing.T, d interface{ Digest() (v1.Hash, error) }) v1.Hash {
	t.Helper()
	h, err := d.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// Two builds of the same tree at different times and into different
// directories give the same bytes: digests, layout and tarball.
func TestBuildIsReproducible(t *testing.T) {
	o1, o2 := testOptions(t), testOptions(t)
	r1 := buildAndWrite(t, o1)
	// The second build starts in a later wall-clock second, so a clock
	// leaking into the image (file times are whole seconds) would show.
	waitForNextSecond(t)
	r2 := buildAndWrite(t, o2)
	if d1, d2 := digestOf(t, r1.Index), digestOf(t, r2.Index); d1 != d2 {
		t.Errorf("two builds gave indexes %s and %s", d1, d2)
	}
	for _, rel := range []string{"manager.tar", "oci/index.json", "oci/oci-layout"} {
		b1, err1 := os.ReadFile(filepath.Join(o1.Out, rel))
		b2, err2 := os.ReadFile(filepath.Join(o2.Out, rel))
		if err := errors.Join(err1, err2); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(b1, b2) {
			t.Errorf("%s differs between two builds", rel)
		}
	}
	if b1, b2 := blobNames(t, o1.Out), blobNames(t, o2.Out); !slices.Equal(b1, b2) {
		t.Errorf("the layouts' blobs differ:\n%v\n%v", b1, b2)
	}

	// What should change the digest does; a new creation time leaves the
	// layers alone, so a registry keeps one copy of them.
	o3 := testOptions(t)
	o3.Created = o3.Created.Add(time.Hour)
	r3 := buildAndWrite(t, o3)
	if digestOf(t, r3.Index) == digestOf(t, r1.Index) {
		t.Error("another creation time gave the same index")
	}
	for _, p := range []platform{amd64, arm64} {
		if l1, l3 := layerDigests(t, r1.Images[p]), layerDigests(t, r3.Images[p]); !slices.Equal(l1, l3) {
			t.Errorf("%s: another creation time changed the layers %v to %v", p, l1, l3)
		}
	}
	o4 := testOptions(t)
	o4.Version = "1.2.4"
	o4.Compile = goBuild(".", "./testdata/standin", "1.2.4")
	r4 := buildAndWrite(t, o4)
	if l1, l4 := layerDigests(t, r1.Images[amd64]), layerDigests(t, r4.Images[amd64]); slices.Equal(l1, l4) {
		t.Error("another version (-X main.version) left the layer unchanged")
	}
}

func blobNames(t *testing.T, out string) []string {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(out, "oci", "blobs", "sha256"))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

func layerDigests(t *testing.T, img v1.Image) []v1.Hash {
	t.Helper()
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	var out []v1.Hash
	for _, l := range layers {
		out = append(out, digestOf(t, l))
	}
	return out
}

// push sends the layout to an in-process registry on 127.0.0.1; what comes
// back is the index that was built, for both platforms, each image as the
// manager's Deployment expects it.
func TestPushAndPull(t *testing.T) {
	t.Setenv("DOCKER_CONFIG", t.TempDir()) // no credentials of this machine's
	o := testOptions(t)
	res := buildAndWrite(t, o)
	want := digestOf(t, res.Index)

	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	defer srv.Close()
	ref := strings.TrimPrefix(srv.URL, "http://") + "/ambient-egress/ambient-egress-operator:v1.2.3"
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	got, err := push(ctx, filepath.Join(o.Out, "oci"), ref)
	if err != nil {
		t.Fatal(err)
	}
	if got != want {
		t.Errorf("push returned %s, want %s", got, want)
	}

	r, err := name.ParseReference(ref)
	if err != nil {
		t.Fatal(err)
	}
	idx, err := remote.Index(r, remote.WithContext(ctx))
	if err != nil {
		t.Fatal(err)
	}
	if d := digestOf(t, idx); d != want {
		t.Errorf("pulled index %s, want %s", d, want)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if im.MediaType != types.OCIImageIndex {
		t.Errorf("index media type %s, want %s", im.MediaType, types.OCIImageIndex)
	}
	if im.Annotations[labelSource] != imageSource || im.Annotations[labelRevision] != o.Revision || im.Annotations[labelCreated] != "2026-01-02T03:04:05Z" {
		t.Errorf("index annotations %v", im.Annotations)
	}
	var platforms []string
	for _, desc := range im.Manifests {
		if desc.Platform == nil {
			t.Fatalf("manifest %s has no platform", desc.Digest)
		}
		p := platform{OS: desc.Platform.OS, Arch: desc.Platform.Architecture}
		platforms = append(platforms, p.String())
		if desc.MediaType != types.OCIManifestSchema1 || desc.ArtifactType != "" {
			t.Errorf("%s: media type %s, artifactType %q; want an image manifest, no artifactType", p, desc.MediaType, desc.ArtifactType)
		}
		img, err := idx.Image(desc.Digest)
		if err != nil {
			t.Fatal(err)
		}
		checkImage(t, p, img, o)
	}
	if want := []string{"linux/amd64", "linux/arm64"}; !slices.Equal(platforms, want) {
		t.Errorf("index platforms %v, want %v", platforms, want)
	}
}

// checkImage checks a pulled image's config and its one layer.
func checkImage(t *testing.T, p platform, img v1.Image, o options) {
	t.Helper()
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if cf.OS != p.OS || cf.Architecture != p.Arch {
		t.Errorf("%s: config is for %s/%s", p, cf.OS, cf.Architecture)
	}
	if cf.Config.User != "65532:65532" {
		t.Errorf("%s: user %q, want 65532:65532", p, cf.Config.User)
	}
	if !slices.Equal(cf.Config.Entrypoint, []string{"/manager"}) || len(cf.Config.Cmd) != 0 {
		t.Errorf("%s: entrypoint %q, cmd %q; want [/manager] and none", p, cf.Config.Entrypoint, cf.Config.Cmd)
	}
	wantLabels := map[string]string{
		"org.opencontainers.image.title":       "ambient-egress-operator",
		"org.opencontainers.image.description": imageDescription,
		"org.opencontainers.image.source":      "https://github.com/ambient-egress/ambient-egress-operator",
		"org.opencontainers.image.version":     "1.2.3",
		"org.opencontainers.image.revision":    o.Revision,
	}
	if !mapsEqual(cf.Config.Labels, wantLabels) {
		t.Errorf("%s: labels %v, want %v", p, cf.Config.Labels, wantLabels)
	}
	if !cf.Created.Equal(o.Created) {
		t.Errorf("%s: created %s, want %s", p, cf.Created, o.Created)
	}
	mt, err := img.MediaType()
	if err != nil || mt != types.OCIManifestSchema1 {
		t.Errorf("%s: manifest media type %s (%v)", p, mt, err)
	}
	m, err := img.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	if m.Config.MediaType != types.OCIConfigJSON {
		t.Errorf("%s: config media type %s", p, m.Config.MediaType)
	}
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	if len(layers) != 1 || len(cf.RootFS.DiffIDs) != 1 || len(cf.History) != 1 {
		t.Fatalf("%s: %d layers, %d diff IDs, %d history entries; want one each", p, len(layers), len(cf.RootFS.DiffIDs), len(cf.History))
	}
	if lmt, err := layers[0].MediaType(); err != nil || lmt != types.OCILayer {
		t.Errorf("%s: layer media type %s (%v)", p, lmt, err)
	}
	files := layerFiles(t, layers[0])
	var names []string
	for _, h := range files {
		names = append(names, h.Name)
	}
	wantNames := []string{"etc/", "etc/ssl/", "etc/ssl/certs/", "etc/ssl/certs/ca-certificates.crt", "manager"}
	if !slices.Equal(names, wantNames) {
		t.Errorf("%s: layer holds %v, want %v (and no shell)", p, names, wantNames)
	}
	for _, h := range files {
		if h.Uid != 0 || h.Gid != 0 || !h.ModTime.Equal(time.Unix(0, 0)) {
			t.Errorf("%s: %s: owner %d:%d, mtime %s; want root and the epoch", p, h.Name, h.Uid, h.Gid, h.ModTime)
		}
		if strings.Contains(h.Name, "sh") && strings.Contains(h.Name, "bin") {
			t.Errorf("%s: a shell in the layer: %s", p, h.Name)
		}
		switch h.Name {
		case "manager":
			if h.Typeflag != tar.TypeReg || h.Mode != 0o755 {
				t.Errorf("%s: /manager type %c mode %o, want a regular file 0755", p, h.Typeflag, h.Mode)
			}
			if !bytes.HasPrefix(h.data, []byte("\x7fELF")) {
				t.Errorf("%s: /manager is not an ELF binary", p)
			}
		case "etc/ssl/certs/ca-certificates.crt":
			if h.Mode != 0o644 {
				t.Errorf("%s: CA bundle mode %o, want 0644", p, h.Mode)
			}
			if n := len(parsePEM(t, h.data)); n < 100 {
				t.Errorf("%s: CA bundle holds %d certificates", p, n)
			}
		}
	}
}

type tarFile struct {
	*tar.Header
	data []byte
}

func layerFiles(t *testing.T, l v1.Layer) []tarFile {
	t.Helper()
	rc, err := l.Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = rc.Close() }()
	var out []tarFile
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, tarFile{h, data})
	}
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// manager.tar is what `docker load` reads: the tarball package's format,
// one image tagged with the reference given, for the platform asked.
func TestTarball(t *testing.T) {
	o := testOptions(t)
	o.TarPlatform = arm64
	res := buildAndWrite(t, o)
	tag, err := name.NewTag(o.Image)
	if err != nil {
		t.Fatal(err)
	}
	img, err := tarball.ImageFromPath(filepath.Join(o.Out, "manager.tar"), &tag)
	if err != nil {
		t.Fatal(err)
	}
	// The docker save format keeps the config and the layers, not the
	// manifest: compare those.
	gotCfg, err1 := img.ConfigName()
	wantCfg, err2 := res.Images[arm64].ConfigName()
	if err := errors.Join(err1, err2); err != nil {
		t.Fatal(err)
	}
	if gotCfg != wantCfg {
		t.Errorf("manager.tar holds the config %s, want the linux/arm64 image's %s", gotCfg, wantCfg)
	}
	if got, want := layerDigests(t, img), layerDigests(t, res.Images[arm64]); !slices.Equal(got, want) {
		t.Errorf("manager.tar holds the layers %v, want the linux/arm64 image's %v", got, want)
	}
	m, err := tarball.LoadManifest(func() (io.ReadCloser, error) { return os.Open(filepath.Join(o.Out, "manager.tar")) })
	if err != nil {
		t.Fatal(err)
	}
	if len(m) != 1 || !slices.Equal(m[0].RepoTags, []string{o.Image}) {
		t.Errorf("manager.tar's manifest.json: %+v, want one image tagged %s", m, o.Image)
	}
}

// The build refuses a binary that is not a static ELF executable of the
// platform: the image has no libc and the index would lie.
func TestCheckStatic(t *testing.T) {
	o := testOptions(t)
	bin := filepath.Join(o.Out, "standin")
	if err := o.Compile(context.Background(), arm64, bin); err != nil {
		t.Fatal(err)
	}
	if err := checkStatic(bin, arm64); err != nil {
		t.Errorf("the arm64 stand-in: %v", err)
	}
	if err := checkStatic(bin, amd64); err == nil || !strings.Contains(err.Error(), "want") {
		t.Errorf("an arm64 binary passed as amd64: %v", err)
	}
	if err := checkStatic(filepath.Join(o.Out, "missing"), amd64); err == nil {
		t.Error("a missing binary passed")
	}
	// A dynamically linked program of this machine, if it has one.
	if host, err := parsePlatform("linux/" + runtime.GOARCH); err == nil && runtime.GOOS == "linux" {
		if _, err := os.Stat("/bin/ls"); err == nil {
			if err := checkStatic("/bin/ls", host); err == nil || !strings.Contains(err.Error(), "dynamically linked") {
				t.Errorf("/bin/ls: %v, want it refused as dynamically linked", err)
			}
		}
	}
	notELF := filepath.Join(o.Out, "script")
	if err := os.WriteFile(notELF, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := checkStatic(notELF, amd64); err == nil {
		t.Error("a shell script passed as a binary")
	}
}

var caOnce = sync.OnceValues(func() ([]byte, error) {
	b, _, err := caBundle()
	return b, err
})

func parsePEM(t *testing.T, b []byte) []*x509.Certificate {
	t.Helper()
	var certs []*x509.Certificate
	for {
		var block *pem.Block
		block, b = pem.Decode(b)
		if block == nil {
			break
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		certs = append(certs, c)
	}
	if len(bytes.TrimSpace(b)) != 0 {
		t.Errorf("trailing bytes after the last PEM block: %q", b)
	}
	return certs
}

// The CA bundle is every unconstrained root of the module, each a CA, and
// nothing else.
func TestCABundle(t *testing.T) {
	b, err := caOnce()
	if err != nil {
		t.Fatal(err)
	}
	certs := parsePEM(t, b)
	unconstrained := 0
	for r := range bundle.Roots() {
		if r.Constraint == nil {
			unconstrained++
		}
	}
	if len(certs) != unconstrained || len(certs) < 100 {
		t.Errorf("CA bundle: %d certificates, want the module's %d unconstrained roots", len(certs), unconstrained)
	}
	for _, c := range certs {
		if !c.IsCA {
			t.Errorf("%s is not a CA", c.Subject)
		}
	}
	again, _, err := caBundle()
	if err != nil || !bytes.Equal(again, b) {
		t.Error("the CA bundle differs between two calls")
	}
}

// `image rootfs DIR`, which the Dockerfile runs, writes the CA bundle the
// Go builder puts in the layer, at the same path and mode.
func TestRootfs(t *testing.T) {
	dir := t.TempDir()
	if err := run([]string{"rootfs", dir}); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "etc", "ssl", "certs", "ca-certificates.crt")
	got, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	want, err := caOnce()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Error("rootfs's CA bundle differs from the image's")
	}
	if fi, err := os.Stat(p); err != nil || fi.Mode().Perm() != 0o644 {
		t.Errorf("rootfs's CA bundle: %v, %v; want mode 0644", fi.Mode(), err)
	}
}

func TestSourceDate(t *testing.T) {
	t.Setenv("SOURCE_DATE_EPOCH", "1700000000")
	got, from, err := sourceDate()
	if err != nil || !got.Equal(time.Unix(1700000000, 0)) || from != "SOURCE_DATE_EPOCH" {
		t.Errorf("sourceDate() = %s, %q, %v", got, from, err)
	}
	t.Setenv("SOURCE_DATE_EPOCH", "yesterday")
	if _, _, err := sourceDate(); err == nil {
		t.Error("SOURCE_DATE_EPOCH=yesterday accepted")
	}
}

func TestParsePlatform(t *testing.T) {
	for _, s := range []string{"linux/amd64", "linux/arm64"} {
		if p, err := parsePlatform(s); err != nil || p.String() != s {
			t.Errorf("parsePlatform(%q) = %v, %v", s, p, err)
		}
	}
	for _, s := range []string{"", "linux", "darwin/arm64", "linux/s390x", "linux/arm64/v8"} {
		if _, err := parsePlatform(s); err == nil {
			t.Errorf("parsePlatform(%q) accepted", s)
		}
	}
}

// waitForNextSecond returns once the wall clock has entered a new second.
func waitForNextSecond(t *testing.T) {
	t.Helper()
	start := time.Now().Truncate(time.Second)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for time.Now().Truncate(time.Second).Equal(start) {
		<-tick.C
	}
}
