package main

import (
	"archive/tar"
	"bufio"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// The two OLM images are data, not programs: the bundle image is the bundle
// directory as its bundle.Dockerfile copies it (FROM scratch, its labels),
// and the catalog image is the file-based catalog under /configs with opm
// to serve it, as operator-registry's `opm generate dockerfile` lays it out.

// catalogConfigsLabel tells OLM and opm where an image keeps its FBC.
const catalogConfigsLabel = "operators.operatorframework.io.index.configs.v1"

// bundleImage builds the image bundle.Dockerfile in dir describes: its
// LABELs, and each COPY of a directory of dir to a path of the image. The
// Dockerfile is read, not assumed, so a label or a directory hack/bundle
// adds is in the image too. The layer is the same for every platform; each
// platform gets a config of its own, so clusters of either architecture
// pull it.
func bundleImage(dir string, created time.Time, platforms []platform) (v1.ImageIndex, error) {
	labels, copies, err := readBundleDockerfile(filepath.Join(dir, "bundle.Dockerfile"))
	if err != nil {
		return nil, err
	}
	var files []file
	for _, cp := range copies {
		fs, err := treeFiles(filepath.Join(dir, cp.src), cp.dst, false)
		if err != nil {
			return nil, err
		}
		files = append(files, fs...)
	}
	return dataImage(files, v1.Config{Labels: labels}, created, platforms, "the bundle: "+describeCopies(copies))
}

// catalogImage builds the catalog image: opm (a static binary for the one
// platform it was built for) at /bin/opm, the FBC at /configs and the
// serving cache opm precomputed at /tmp/cache, run as `opm serve /configs`.
func catalogImage(configs, opm, cache string, created time.Time, p platform) (v1.ImageIndex, error) {
	if err := checkStatic(opm, p); err != nil {
		return nil, err
	}
	bin, err := os.ReadFile(opm)
	if err != nil {
		return nil, err
	}
	files := []file{{Path: "/bin/opm", Mode: 0o755, Data: bin}}
	fbc, err := treeFiles(configs, "/configs", false)
	if err != nil {
		return nil, err
	}
	files = append(files, fbc...)
	// opm locks and may refresh its cache at start: the cache is writable
	// by whatever user runs it (OpenShift picks one from a range), and /tmp
	// is the usual sticky, world-writable directory.
	cached, err := treeFiles(cache, "/tmp/cache", true)
	if err != nil {
		return nil, err
	}
	files = append(files, file{Path: "/tmp", Mode: 0o1777, Dir: true})
	files = append(files, cached...)
	cfg := v1.Config{
		User:       "1001",
		Entrypoint: []string{"/bin/opm"},
		Cmd:        []string{"serve", "/configs", "--cache-dir=/tmp/cache"},
		Labels:     map[string]string{catalogConfigsLabel: "/configs"},
	}
	return dataImage(files, cfg, created, []platform{p}, "opm, the file-based catalog and its cache")
}

// dataImage is an index of one image per platform sharing one layer of files.
func dataImage(files []file, cfg v1.Config, created time.Time, platforms []platform, what string) (v1.ImageIndex, error) {
	layer, err := layerOf(files)
	if err != nil {
		return nil, err
	}
	when := v1.Time{Time: created.UTC()}
	base := mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON)
	img, err := mutate.Append(base, mutate.Addendum{Layer: layer, MediaType: types.OCILayer,
		History: v1.History{Created: when, CreatedBy: "hack/image", Comment: what}})
	if err != nil {
		return nil, err
	}
	var adds []mutate.IndexAddendum
	for _, p := range platforms {
		cf, err := img.ConfigFile()
		if err != nil {
			return nil, err
		}
		cf = cf.DeepCopy()
		cf.OS, cf.Architecture, cf.Created, cf.Config = p.OS, p.Arch, when, cfg
		pimg, err := mutate.ConfigFile(img, cf)
		if err != nil {
			return nil, err
		}
		adds = append(adds, mutate.IndexAddendum{Add: plainImage{pimg}, Descriptor: v1.Descriptor{
			MediaType: types.OCIManifestSchema1, Platform: &v1.Platform{OS: p.OS, Architecture: p.Arch}}})
	}
	return mutate.AppendManifests(mutate.IndexMediaType(empty.Index, types.OCIImageIndex), adds...), nil
}

// copyStep is one `COPY src dst` of a bundle.Dockerfile.
type copyStep struct{ src, dst string }

// readBundleDockerfile reads the LABELs and COPYs of a bundle.Dockerfile as
// hack/bundle writes it: FROM scratch, `LABEL k=v` lines and `COPY dir
// /dir/`. Anything else is an error rather than an image that differs from
// what docker would build.
func readBundleDockerfile(path string) (map[string]string, []copyStep, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer func() { _ = f.Close() }()
	labels := map[string]string{}
	var copies []copyStep
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		instr, rest, _ := strings.Cut(line, " ")
		fields := strings.Fields(rest)
		switch strings.ToUpper(instr) {
		case "FROM":
			if rest != "scratch" {
				return nil, nil, fmt.Errorf("%s:%d: FROM %s: a bundle image is FROM scratch", path, n, rest)
			}
		case "LABEL":
			for _, kv := range fields {
				k, v, ok := strings.Cut(kv, "=")
				if !ok {
					return nil, nil, fmt.Errorf("%s:%d: LABEL %s: want key=value", path, n, kv)
				}
				labels[k] = strings.Trim(v, `"`)
			}
		case "COPY":
			if len(fields) != 2 || strings.HasPrefix(fields[0], "--") {
				return nil, nil, fmt.Errorf("%s:%d: COPY %s: want one source directory and one destination", path, n, rest)
			}
			copies = append(copies, copyStep{src: fields[0], dst: strings.TrimSuffix(fields[1], "/")})
		default:
			return nil, nil, fmt.Errorf("%s:%d: %s: only FROM scratch, LABEL and COPY belong in a bundle image", path, n, instr)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, nil, err
	}
	if len(copies) == 0 {
		return nil, nil, fmt.Errorf("%s: no COPY: the image would be empty", path)
	}
	return labels, copies, nil
}

func describeCopies(copies []copyStep) string {
	var s []string
	for _, c := range copies {
		s = append(s, c.dst)
	}
	return strings.Join(s, ", ")
}

// treeFiles lists the regular files under dir, in lexical order, at their
// paths under dst in the image, 0644 (0755 when executable). writable lists
// the directories too, and makes everything writable by any user.
func treeFiles(dir, dst string, writable bool) ([]file, error) {
	var files []file
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if rel, err := filepath.Rel(dir, path); err == nil && writable {
				files = append(files, file{Path: strings.TrimSuffix(dst+"/"+filepath.ToSlash(rel), "/."), Mode: 0o777, Dir: true})
			}
			return nil
		}
		if !d.Type().IsRegular() {
			return fmt.Errorf("%s: not a regular file", path)
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, path)
		if err != nil {
			return err
		}
		mode := int64(0o644)
		if info.Mode()&0o111 != 0 {
			mode = 0o755
		}
		if writable {
			mode |= 0o666
		}
		files = append(files, file{Path: dst + "/" + filepath.ToSlash(rel), Mode: mode, Data: data})
		return nil
	})
	if err != nil {
		return nil, err
	}
	if !slices.ContainsFunc(files, func(f file) bool { return !f.Dir }) {
		return nil, fmt.Errorf("%s: no files", dir)
	}
	slices.SortFunc(files, func(a, b file) int { return strings.Compare(a.Path, b.Path) })
	return files, nil
}

// unpack extracts the image of idx for p into the new directory out and
// returns its config. Only the regular files and directories this tool's
// images hold are accepted.
func unpack(idx v1.ImageIndex, p platform, out string) (*v1.Config, error) {
	m, err := idx.IndexManifest()
	if err != nil {
		return nil, err
	}
	for _, d := range m.Manifests {
		if d.Platform == nil || d.Platform.OS != p.OS || d.Platform.Architecture != p.Arch {
			continue
		}
		img, err := idx.Image(d.Digest)
		if err != nil {
			return nil, err
		}
		if err := os.Mkdir(out, 0o755); err != nil {
			return nil, err
		}
		rc := mutate.Extract(img)
		defer func() { _ = rc.Close() }()
		if err := untar(rc, out); err != nil {
			return nil, err
		}
		cf, err := img.ConfigFile()
		if err != nil {
			return nil, err
		}
		return &cf.Config, nil
	}
	return nil, fmt.Errorf("the index has no image for %s", p)
}

func untar(r io.Reader, out string) error {
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		path := filepath.Join(out, filepath.FromSlash(h.Name))
		if !strings.HasPrefix(path, filepath.Clean(out)+string(filepath.Separator)) {
			return fmt.Errorf("%s: outside the image's root", h.Name)
		}
		switch h.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(path, 0o755); err != nil {
				return err
			}
			// Chmod, unlike Mkdir, is not filtered by the umask; the sticky
			// bit is a mode bit of its own in Go.
			mode := os.FileMode(h.Mode) & os.ModePerm
			if h.Mode&0o1000 != 0 {
				mode |= os.ModeSticky
			}
			if err := os.Chmod(path, mode); err != nil {
				return err
			}
		case tar.TypeReg:
			if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
				return err
			}
			f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, os.FileMode(h.Mode)&0o777)
			if err != nil {
				return err
			}
			if _, err := io.Copy(f, tr); err != nil {
				_ = f.Close()
				return err
			}
			if err := f.Close(); err != nil {
				return err
			}
			if err := os.Chmod(path, os.FileMode(h.Mode)&os.ModePerm); err != nil {
				return err
			}
		default:
			return fmt.Errorf("%s: type %c is not in the images this tool builds", h.Name, h.Typeflag)
		}
	}
}
