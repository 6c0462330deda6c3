// Command image builds the manager's container image without Docker: a
// reproducible multi-arch OCI image (linux/amd64 and linux/arm64) assembled
// with go-containerregistry, and pushes it.
//
//	go run ./hack/image build -version 0.1.0 -image ghcr.io/ambient-egress/ambient-egress-operator:v0.1.0
//	go run ./hack/image push -image registry.example/ambient-egress-operator:v0.1.0
//	go run ./hack/image rootfs DIR   # the files the Dockerfile's last stage copies, less the binary
//	go run ./hack/image bundle -dir bundle -image ghcr.io/ambient-egress/ambient-egress-operator-bundle:v0.1.0
//	go run ./hack/image catalog -configs DIR -opm OPM -image ghcr.io/ambient-egress/ambient-egress-operator-catalog:v0.1.0
//	go run ./hack/image digest -layout DIR   # the digest of the index a layout holds
//	go run ./hack/image unpack -layout DIR -out ROOTFS   # the image's files, as a runtime would lay them out
//
// build cross-compiles ./cmd/manager statically for each platform and makes
// one image per platform: one layer holding /manager (0755) and the CA bundle
// /etc/ssl/certs/ca-certificates.crt, user 65532:65532, entrypoint
// ["/manager"], no shell, OCI labels; then an OCI image index of them. Every
// time in it is fixed (the config's from SOURCE_DATE_EPOCH, else the commit's
// time; the layer's files all at the Unix epoch), so the same tree gives the
// same digest. It writes bin/image/oci/ (an OCI image layout holding the
// index) and bin/image/manager.tar (docker load; one platform, the docker
// save format holding no index), and prints the index's digest on stdout.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "image:", err)
		os.Exit(1)
	}
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "image: "+format+"\n", args...)
}

func run(args []string) error {
	if len(args) == 0 {
		return errors.New("usage: image build|push|rootfs|bundle|catalog|digest|unpack [flags]")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	switch args[0] {
	case "build":
		return runBuild(ctx, args[1:])
	case "push":
		return runPush(ctx, args[1:])
	case "rootfs":
		return runRootfs(args[1:])
	case "bundle":
		return runBundle(args[1:])
	case "catalog":
		return runCatalog(ctx, args[1:])
	case "digest":
		return runDigest(args[1:])
	case "unpack":
		return runUnpack(args[1:])
	default:
		return fmt.Errorf("unknown command %q: want build, push, rootfs, bundle, catalog, digest or unpack", args[0])
	}
}

func runBuild(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("build", flag.ContinueOnError)
	version := fs.String("version", "0.1.0", "The manager's version (-X main.version and the version label).")
	image := fs.String("image", "ghcr.io/ambient-egress/ambient-egress-operator:v0.1.0", "The image reference (IMG) that the layout and the tarball name.")
	revision := fs.String("revision", "", "The revision label; empty takes git's HEAD.")
	platforms := fs.String("platforms", "linux/amd64,linux/arm64", "Comma-separated platforms of the index.")
	tarPlatform := fs.String("tar-platform", "", "The platform written to manager.tar; empty takes this machine's when built, else the first.")
	out := fs.String("out", filepath.Join("bin", "image"), "The output directory.")
	if err := fs.Parse(args); err != nil {
		return err
	}
	start := time.Now()
	o := options{Version: *version, Image: *image, Revision: *revision, Out: *out, ModuleDir: "."}
	ps, err := parsePlatforms(*platforms)
	if err != nil {
		return err
	}
	o.Platforms = ps
	o.TarPlatform = o.Platforms[0]
	for _, p := range o.Platforms {
		if p.Arch == runtime.GOARCH {
			o.TarPlatform = p
		}
	}
	if *tarPlatform != "" {
		p, err := parsePlatform(*tarPlatform)
		if err != nil {
			return err
		}
		o.TarPlatform = p
	}
	if o.Revision == "" {
		o.Revision = gitOutput("rev-parse", "HEAD")
		if o.Revision == "" {
			o.Revision = "unknown"
		} else if gitOutput("status", "--porcelain", "--untracked-files=no") != "" {
			logf("warning: the tree has uncommitted changes; the revision label %s names HEAD", o.Revision)
		}
	}
	created, from, err := sourceDate()
	if err != nil {
		return err
	}
	o.Created = created
	logf("building %s: version %s, revision %s, created %s (%s)", o.Image, o.Version, o.Revision, created.UTC().Format(time.RFC3339), from)

	res, err := build(ctx, o, logf)
	if err != nil {
		return err
	}
	if err := write(res, o); err != nil {
		return err
	}
	digest, err := res.Index.Digest()
	if err != nil {
		return err
	}
	size, err := dirSize(filepath.Join(o.Out, "oci", "blobs"))
	if err != nil {
		return err
	}
	logf("wrote %s (OCI image layout, the index of %s; %.1f MB of blobs) and %s (docker load: %s only)",
		filepath.Join(o.Out, "oci"), *platforms, float64(size)/1e6, filepath.Join(o.Out, "manager.tar"), o.TarPlatform)
	logf("index %s in %s", digest, time.Since(start).Round(100*time.Millisecond))
	fmt.Println(digest)
	return nil
}

func runPush(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("push", flag.ContinueOnError)
	image := fs.String("image", "", "Where to push (IMG), e.g. registry.example/ambient-egress-operator:v0.1.0.")
	dir := fs.String("layout", filepath.Join("bin", "image", "oci"), "The OCI layout `make image` wrote.")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *image == "" {
		return errors.New("push: -image is required")
	}
	digest, err := push(ctx, *dir, *image)
	if err != nil {
		return err
	}
	logf("pushed %s@%s", *image, digest)
	fmt.Println(digest)
	return nil
}

// runRootfs writes the files of the image other than the binary into a
// directory, for the Dockerfile's build stage.
func runRootfs(args []string) error {
	if len(args) != 1 {
		return errors.New("usage: image rootfs DIR")
	}
	ca, _, err := caBundle()
	if err != nil {
		return err
	}
	p := filepath.Join(args[0], filepath.FromSlash(caBundlePath))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	return os.WriteFile(p, ca, 0o644)
}

// runBundle builds the bundle image from a bundle directory (its
// bundle.Dockerfile) into an OCI layout and prints its digest.
func runBundle(args []string) error {
	fs := flag.NewFlagSet("bundle", flag.ContinueOnError)
	dir := fs.String("dir", "bundle", "The bundle directory, holding bundle.Dockerfile.")
	image := fs.String("image", "", "The bundle image reference the layout names (required).")
	platforms := fs.String("platforms", "linux/amd64,linux/arm64", "Comma-separated platforms of the index.")
	out := fs.String("out", filepath.Join("bin", "bundle-image"), "The OCI layout to write.")
	if err := fs.Parse(args); err != nil {
		return err
	}
	ps, err := parsePlatforms(*platforms)
	if err != nil {
		return err
	}
	created, _, err := sourceDate()
	if err != nil {
		return err
	}
	idx, err := bundleImage(*dir, created, ps)
	if err != nil {
		return err
	}
	return writeDataLayout(*out, idx, *image)
}

// runCatalog builds the catalog image from an FBC directory and opm, with
// the cache `opm serve --cache-only` computes, into an OCI layout.
func runCatalog(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("catalog", flag.ContinueOnError)
	configs := fs.String("configs", "", "The file-based catalog directory (required).")
	opm := fs.String("opm", "", "A static opm for -platform, e.g. from hack/olm.sh tools (required).")
	image := fs.String("image", "", "The catalog image reference the layout names (required).")
	plat := fs.String("platform", "linux/"+runtime.GOARCH, "The platform opm is built for.")
	out := fs.String("out", filepath.Join("bin", "catalog-image"), "The OCI layout to write.")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *configs == "" || *opm == "" {
		return errors.New("catalog: -configs and -opm are required")
	}
	p, err := parsePlatform(*plat)
	if err != nil {
		return err
	}
	cache, err := os.MkdirTemp("", "catalog-cache-")
	if err != nil {
		return err
	}
	defer func() { _ = os.RemoveAll(cache) }()
	// The image serves from a cache computed now, as opm's own generated
	// Dockerfile does, so the registry Pod starts without rebuilding it.
	cmd := exec.CommandContext(ctx, *opm, "serve", *configs, "--cache-dir", cache, "--cache-only")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("opm serve --cache-only: %w", err)
	}
	created, _, err := sourceDate()
	if err != nil {
		return err
	}
	idx, err := catalogImage(*configs, *opm, cache, created, p)
	if err != nil {
		return err
	}
	return writeDataLayout(*out, idx, *image)
}

func writeDataLayout(out string, idx v1.ImageIndex, image string) error {
	ref, err := name.NewTag(image)
	if err != nil {
		return fmt.Errorf("-image %q: %w", image, err)
	}
	if err := writeLayout(out, idx, ref); err != nil {
		return err
	}
	digest, err := idx.Digest()
	if err != nil {
		return err
	}
	logf("wrote %s (OCI image layout of %s) %s", out, ref, digest)
	fmt.Println(digest)
	return nil
}

// runDigest prints the digest of the index an OCI layout holds: what a push
// of it gives, known before the push, so a release can pin it.
func runDigest(args []string) error {
	fs := flag.NewFlagSet("digest", flag.ContinueOnError)
	dir := fs.String("layout", filepath.Join("bin", "image", "oci"), "The OCI layout.")
	if err := fs.Parse(args); err != nil {
		return err
	}
	idx, err := readLayout(*dir)
	if err != nil {
		return err
	}
	digest, err := idx.Digest()
	if err != nil {
		return err
	}
	fmt.Println(digest)
	return nil
}

// runUnpack writes the filesystem of the layout's image for one platform
// into a new directory and prints its config's entrypoint, command and user,
// so a test can run the image as a container runtime would (in a chroot).
func runUnpack(args []string) error {
	fs := flag.NewFlagSet("unpack", flag.ContinueOnError)
	dir := fs.String("layout", "", "The OCI layout (required).")
	out := fs.String("out", "", "The directory to create (required; must not exist).")
	plat := fs.String("platform", "linux/"+runtime.GOARCH, "The platform to unpack.")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *dir == "" || *out == "" {
		return errors.New("unpack: -layout and -out are required")
	}
	p, err := parsePlatform(*plat)
	if err != nil {
		return err
	}
	idx, err := readLayout(*dir)
	if err != nil {
		return err
	}
	cfg, err := unpack(idx, p, *out)
	if err != nil {
		return err
	}
	fmt.Printf("user=%s\nentrypoint=%s\ncmd=%s\n", cfg.User, strings.Join(cfg.Entrypoint, " "), strings.Join(cfg.Cmd, " "))
	return nil
}

// sourceDate is the image's creation time: $SOURCE_DATE_EPOCH
// (reproducible-builds.org), else the time of the HEAD commit, else the
// Unix epoch.
func sourceDate() (time.Time, string, error) {
	if s := os.Getenv("SOURCE_DATE_EPOCH"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return time.Time{}, "", fmt.Errorf("SOURCE_DATE_EPOCH=%q: %w", s, err)
		}
		return time.Unix(n, 0), "SOURCE_DATE_EPOCH", nil
	}
	if s := gitOutput("log", "-1", "--format=%ct"); s != "" {
		if n, err := strconv.ParseInt(s, 10, 64); err == nil {
			return time.Unix(n, 0), "the HEAD commit's time", nil
		}
	}
	return time.Unix(0, 0), "no SOURCE_DATE_EPOCH and no git: the Unix epoch", nil
}

func parsePlatforms(s string) ([]platform, error) {
	var ps []platform
	for f := range strings.SplitSeq(s, ",") {
		p, err := parsePlatform(strings.TrimSpace(f))
		if err != nil {
			return nil, err
		}
		ps = append(ps, p)
	}
	return ps, nil
}

// gitOutput is git's trimmed output, or "" when git fails.
func gitOutput(args ...string) string {
	out, err := exec.Command("git", args...).Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(out))
}

func dirSize(dir string) (int64, error) {
	var n int64
	err := filepath.WalkDir(dir, func(_ string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		n += info.Size()
		return nil
	})
	return n, err
}
