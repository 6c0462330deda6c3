package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"debug/elf"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// What the image is; the Dockerfile's last stage says the same, and
// dockerfile_test.go holds the two together.
const (
	// imageUser is the numeric user and group the manager runs as: not root,
	// and numeric so that runAsNonRoot can check it without an /etc/passwd.
	// OpenShift's restricted-v2 SCC replaces it with one from the namespace's
	// range.
	imageUser = "65532:65532"
	// binaryPath is where the manager is in the image, and the entrypoint.
	binaryPath = "/manager"
	// caBundlePath is where Go's crypto/x509 looks first on Linux (and
	// Debian, Alpine and distroless put their bundle).
	caBundlePath = "/etc/ssl/certs/ca-certificates.crt"

	imageTitle       = "ambient-egress-operator"
	imageDescription = "Runs Istio ambient-mode egress gateways and reports who can reach which external host, method and path."
	imageSource      = "https://github.com/ambient-egress/ambient-egress-operator"

	// managerPackage is what the image runs.
	managerPackage = "./cmd/manager"
)

// The OCI annotation keys used as image labels (and index annotations).
const (
	labelTitle       = "org.opencontainers.image.title"
	labelDescription = "org.opencontainers.image.description"
	labelSource      = "org.opencontainers.image.source"
	labelVersion     = "org.opencontainers.image.version"
	labelRevision    = "org.opencontainers.image.revision"
	labelCreated     = "org.opencontainers.image.created"
	labelRefName     = "org.opencontainers.image.ref.name"
	// containerdImageName names the image in an OCI layout for containerd,
	// Podman and Docker 25 or later when the layout is loaded as a tar.
	containerdImageName = "io.containerd.image.name"
)

// imageLabels is the image config's labels. Version and revision are the
// only ones that vary; the Dockerfile sets them from build arguments of the
// same names.
func imageLabels(version, revision string) map[string]string {
	return map[string]string{
		labelTitle:       imageTitle,
		labelDescription: imageDescription,
		labelSource:      imageSource,
		labelVersion:     version,
		labelRevision:    revision,
	}
}

// goBuildFlags is the flags of `go build` for the manager, here and in the
// Dockerfile: no paths of this machine, no VCS stamp (the revision is a
// label), no symbol table or DWARF, and the version as `make build` sets it.
// With CGO_ENABLED=0 the binary is static.
func goBuildFlags(version string) []string {
	return []string{"-trimpath", "-buildvcs=false", "-ldflags", "-s -w -X main.version=" + version}
}

// goBuildEnv is the environment of `go build` for the manager, here and in
// the Dockerfile: no cgo (a static binary), the target, and the baseline
// instruction sets whatever the caller's GOAMD64 or GOARM64.
func goBuildEnv(goos, goarch string) []string {
	return []string{"CGO_ENABLED=0", "GOOS=" + goos, "GOARCH=" + goarch, "GOAMD64=v1", "GOARM64=v8.0"}
}

// platform is an OS and architecture the image is built for.
type platform struct{ OS, Arch string }

func (p platform) String() string { return p.OS + "/" + p.Arch }

func parsePlatform(s string) (platform, error) {
	goos, arch, ok := strings.Cut(s, "/")
	if !ok || goos != "linux" || (arch != "amd64" && arch != "arm64") {
		return platform{}, fmt.Errorf("platform %q: want linux/amd64 or linux/arm64", s)
	}
	return platform{OS: goos, Arch: arch}, nil
}

// compileFunc builds the manager for p into the file out.
type compileFunc func(ctx context.Context, p platform, out string) error

// options is what one build needs.
type options struct {
	Version  string    // the manager's version: -X main.version and the version label
	Revision string    // the commit: the revision label
	Image    string    // the reference the layout and the tarball name (IMG)
	Created  time.Time // the image's creation time (SOURCE_DATE_EPOCH or the commit's)
	// Platforms, in the index's order.
	Platforms []platform
	// TarPlatform is the platform written to the docker-loadable tarball
	// (the docker save format holds images, not an index).
	TarPlatform platform
	// Out is the output directory: oci/, manager.tar and build/<os>_<arch>/.
	Out string
	// Compile builds the binary; nil builds ./cmd/manager with go build in
	// ModuleDir.
	Compile   compileFunc
	ModuleDir string
}

// result is one build's image index and its images.
type result struct {
	Index  v1.ImageIndex
	Images map[platform]v1.Image
}

// build compiles the manager for every platform and assembles the images and
// their index. Nothing in it depends on the time of day or the machine: the
// same sources, Go and options give the same digests.
func build(ctx context.Context, o options, logf func(string, ...any)) (*result, error) {
	if len(o.Platforms) == 0 {
		return nil, errors.New("no platforms")
	}
	compile := o.Compile
	if compile == nil {
		compile = goBuild(o.ModuleDir, managerPackage, o.Version)
	}
	ca, nroots, err := caBundle()
	if err != nil {
		return nil, err
	}
	logf("CA bundle: %d roots from golang.org/x/crypto/x509roots/fallback", nroots)

	res := &result{Images: map[platform]v1.Image{}}
	idx := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	for _, p := range o.Platforms {
		bin := filepath.Join(o.Out, "build", p.OS+"_"+p.Arch, "manager")
		if err := os.MkdirAll(filepath.Dir(bin), 0o755); err != nil {
			return nil, err
		}
		start := time.Now()
		if err := compile(ctx, p, bin); err != nil {
			return nil, fmt.Errorf("building the manager for %s: %w", p, err)
		}
		if err := checkStatic(bin, p); err != nil {
			return nil, err
		}
		binary, err := os.ReadFile(bin)
		if err != nil {
			return nil, err
		}
		img, err := platformImage(o, p, binary, ca)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
		d, err := img.Digest()
		if err != nil {
			return nil, err
		}
		logf("%s: manager %.1f MB, built in %s; image %s", p, float64(len(binary))/1e6, time.Since(start).Round(100*time.Millisecond), d)
		res.Images[p] = img
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{
			Add: plainImage{img},
			Descriptor: v1.Descriptor{
				Platform: &v1.Platform{OS: p.OS, Architecture: p.Arch},
			},
		})
	}
	anns := imageLabels(o.Version, o.Revision)
	delete(anns, labelTitle)
	anns[labelCreated] = o.Created.UTC().Format(time.RFC3339)
	withAnns, ok := mutate.Annotations(idx, anns).(v1.ImageIndex)
	if !ok {
		return nil, errors.New("annotating the index did not give an index")
	}
	res.Index = withAnns
	return res, nil
}

// platformImage is the image for one platform: one layer holding the binary
// and the CA bundle, and the config with the user, entrypoint and labels.
func platformImage(o options, p platform, binary, ca []byte) (v1.Image, error) {
	layer, err := layerOf([]file{
		{Path: caBundlePath, Mode: 0o644, Data: ca},
		{Path: binaryPath, Mode: 0o755, Data: binary},
	})
	if err != nil {
		return nil, err
	}
	created := v1.Time{Time: o.Created.UTC()}
	base := mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON)
	img, err := mutate.Append(base, mutate.Addendum{
		Layer:     layer,
		MediaType: types.OCILayer,
		History: v1.History{
			Created:   created,
			CreatedBy: fmt.Sprintf("hack/image: %s go build %s %s; %s from golang.org/x/crypto/x509roots/fallback", strings.Join(goBuildEnv(p.OS, p.Arch), " "), strings.Join(quoteArgs(goBuildFlags(o.Version)), " "), managerPackage, caBundlePath),
			Comment:   "the manager and the CA bundle",
		},
	})
	if err != nil {
		return nil, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.Architecture = p.Arch
	cf.OS = p.OS
	cf.Created = created
	cf.Config = v1.Config{
		User:       imageUser,
		Entrypoint: []string{binaryPath},
		Labels:     imageLabels(o.Version, o.Revision),
	}
	return mutate.ConfigFile(img, cf)
}

// plainImage is an image whose descriptor in an index has no artifactType:
// go-containerregistry sets it to the config's media type, as for an
// artifact; docker buildx and OCI's image index example leave it out for a
// container image.
type plainImage struct{ v1.Image }

// Descriptor is the image's descriptor without artifactType.
func (p plainImage) Descriptor() (*v1.Descriptor, error) {
	d, err := partial.Descriptor(p.Image)
	if err != nil {
		return nil, err
	}
	d.ArtifactType = ""
	return d, nil
}

func quoteArgs(args []string) []string {
	out := make([]string, len(args))
	for i, a := range args {
		if strings.ContainsAny(a, " \t\"'") {
			a = fmt.Sprintf("%q", a)
		}
		out[i] = a
	}
	return out
}

// file is a regular file of a layer, or a directory when Dir is set.
type file struct {
	Path string // absolute, in the image
	Mode int64
	Data []byte
	Dir  bool
}

// layerOf is the OCI layer (gzip, best compression) of files, as layerTar
// lays them out.
func layerOf(files []file) (v1.Layer, error) {
	rootfs, err := layerTar(files)
	if err != nil {
		return nil, err
	}
	return tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(rootfs)), nil
	}, tarball.WithMediaType(types.OCILayer), tarball.WithCompressionLevel(gzip.BestCompression), tarball.WithCompressedCaching)
}

// layerTar is an uncompressed layer holding files and their parent
// directories (0755 unless listed before them with a mode of their own),
// owned by root, every time the Unix epoch: the layer's digest depends on
// the files' contents and modes alone.
func layerTar(files []file) ([]byte, error) {
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	epoch := time.Unix(0, 0)
	dirs := map[string]bool{}
	for _, f := range files {
		rel := strings.TrimPrefix(f.Path, "/")
		var parents []string
		for d := filepath.Dir(rel); d != "."; d = filepath.Dir(d) {
			parents = append([]string{d}, parents...)
		}
		for _, d := range parents {
			if dirs[d] {
				continue
			}
			dirs[d] = true
			if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: d + "/", Mode: 0o755, ModTime: epoch, Format: tar.FormatUSTAR}); err != nil {
				return nil, err
			}
		}
		if f.Dir {
			if dirs[rel] {
				return nil, fmt.Errorf("%s: listed after its contents or twice", f.Path)
			}
			dirs[rel] = true
			if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: rel + "/", Mode: f.Mode, ModTime: epoch, Format: tar.FormatUSTAR}); err != nil {
				return nil, err
			}
			continue
		}
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: rel, Mode: f.Mode, Size: int64(len(f.Data)), ModTime: epoch, Format: tar.FormatUSTAR}); err != nil {
			return nil, err
		}
		if _, err := tw.Write(f.Data); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// goBuild compiles pkg in dir with the image's flags, statically.
func goBuild(dir, pkg, version string) compileFunc {
	return func(ctx context.Context, p platform, out string) error {
		args := append([]string{"build"}, goBuildFlags(version)...)
		args = append(args, "-o", out, pkg)
		cmd := exec.CommandContext(ctx, "go", args...)
		cmd.Dir = dir
		// No GOFLAGS from the caller: the flags are the image's alone.
		cmd.Env = append(os.Environ(), append(goBuildEnv(p.OS, p.Arch), "GOFLAGS=")...)
		cmd.Stdout = os.Stderr
		cmd.Stderr = os.Stderr
		return cmd.Run()
	}
}

// checkStatic fails unless bin is an ELF executable for p with no dynamic
// loader: the image has no libc.
func checkStatic(bin string, p platform) error {
	f, err := elf.Open(bin)
	if err != nil {
		return fmt.Errorf("%s: %w", bin, err)
	}
	defer func() { _ = f.Close() }()
	want := map[string]elf.Machine{"amd64": elf.EM_X86_64, "arm64": elf.EM_AARCH64}[p.Arch]
	if f.Machine != want {
		return fmt.Errorf("%s is for %s, want %s (%s)", bin, f.Machine, want, p)
	}
	for _, prog := range f.Progs {
		if prog.Type == elf.PT_INTERP {
			return fmt.Errorf("%s is dynamically linked (it has an interpreter): the image has no libc", bin)
		}
	}
	return nil
}

// write puts the build into out: oci/ as an OCI image layout whose index.json
// names the image index, and manager.tar as a docker-loadable tarball (the
// docker save format) of the image for o.TarPlatform, tagged o.Image.
// Both are written afresh.
func write(res *result, o options) error {
	ref, err := name.NewTag(o.Image)
	if err != nil {
		return fmt.Errorf("image %q: %w", o.Image, err)
	}
	if err := writeLayout(filepath.Join(o.Out, "oci"), res.Index, ref); err != nil {
		return err
	}
	img, ok := res.Images[o.TarPlatform]
	if !ok {
		return fmt.Errorf("the tarball's platform %s is not one built", o.TarPlatform)
	}
	tarPath := filepath.Join(o.Out, "manager.tar")
	tmp := tarPath + ".tmp"
	if err := tarball.WriteToFile(tmp, ref, img); err != nil {
		return err
	}
	return os.Rename(tmp, tarPath)
}

// writeLayout writes idx afresh as the one index of an OCI layout in dir,
// annotated with the reference it is for.
func writeLayout(dir string, idx v1.ImageIndex, ref name.Tag) error {
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	lp, err := layout.Write(dir, empty.Index)
	if err != nil {
		return err
	}
	return lp.AppendIndex(idx, layout.WithAnnotations(map[string]string{
		labelRefName:        ref.TagStr(),
		containerdImageName: ref.Name(),
	}))
}

// readLayout returns the one image index of an OCI layout written by write.
func readLayout(dir string) (v1.ImageIndex, error) {
	root, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		return nil, fmt.Errorf("reading the OCI layout %s (run make image first): %w", dir, err)
	}
	m, err := root.IndexManifest()
	if err != nil {
		return nil, err
	}
	if len(m.Manifests) != 1 || m.Manifests[0].MediaType != types.OCIImageIndex {
		return nil, fmt.Errorf("%s: want one image index in index.json, found %d entries", dir, len(m.Manifests))
	}
	return root.ImageIndex(m.Manifests[0].Digest)
}

// push uploads the layout's image index, its images and their blobs to ref,
// with the credentials of the default keychain (~/.docker/config.json,
// $DOCKER_CONFIG, credential helpers), and checks what the registry then
// serves under ref.
func push(ctx context.Context, dir, ref string, opts ...remote.Option) (v1.Hash, error) {
	idx, err := readLayout(dir)
	if err != nil {
		return v1.Hash{}, err
	}
	r, err := name.ParseReference(ref)
	if err != nil {
		return v1.Hash{}, fmt.Errorf("image %q: %w", ref, err)
	}
	want, err := idx.Digest()
	if err != nil {
		return v1.Hash{}, err
	}
	opts = append([]remote.Option{remote.WithContext(ctx), remote.WithAuthFromKeychain(authn.DefaultKeychain)}, opts...)
	if err := remote.WriteIndex(r, idx, opts...); err != nil {
		return v1.Hash{}, fmt.Errorf("pushing to %s: %w", r, err)
	}
	desc, err := remote.Head(r, opts...)
	if err != nil {
		return v1.Hash{}, fmt.Errorf("checking %s after the push: %w", r, err)
	}
	if desc.Digest != want {
		return v1.Hash{}, fmt.Errorf("%s is %s after the push, want %s", r, desc.Digest, want)
	}
	return want, nil
}
