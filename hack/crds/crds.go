// Package crds locates the CustomResourceDefinitions a local API server
// needs for this operator: ours, generated into config/crd/bases, and the
// upstream Istio and Gateway API CRDs, read from the module cache at the
// versions go.mod pins, so the tests and make demo install exactly what
// those projects ship.
package crds

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"

	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"
)

// Paths lists the CRD files and directories, for envtest's
// CRDInstallOptions.Paths; root is the repository's root. Modules missing
// from the cache are downloaded from the Go module proxy.
func Paths(ctx context.Context, root string) ([]string, error) {
	istio, err := moduleDir(ctx, root, "istio.io/api")
	if err != nil {
		return nil, err
	}
	gateway, err := moduleDir(ctx, root, "sigs.k8s.io/gateway-api")
	if err != nil {
		return nil, err
	}
	return []string{
		filepath.Join(root, "config", "crd", "bases"),
		filepath.Join(istio, "kubernetes", "customresourcedefinitions.gen.yaml"),
		filepath.Join(gateway, "config", "crd", "standard"),
	}, nil
}

// IstioFile is the path of the CRDs istio.io/api ships, at the pinned version.
func IstioFile(ctx context.Context, root string) (string, error) {
	istio, err := moduleDir(ctx, root, "istio.io/api")
	if err != nil {
		return "", err
	}
	return filepath.Join(istio, "kubernetes", "customresourcedefinitions.gen.yaml"), nil
}

// SimulatorKinds are the Istio kinds the simulator reads, whose CRDs
// egressctl validates against (config/crd/istio).
var SimulatorKinds = []string{"AuthorizationPolicy", "DestinationRule", "RequestAuthentication", "ServiceEntry"}

// Extract returns the CRDs of the given kinds from a multi-document CRD
// file, verbatim and in file order, separated by "---".
func Extract(data []byte, kinds ...string) ([]byte, error) {
	var out bytes.Buffer
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	for {
		chunk, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		var head struct {
			Kind string `json:"kind"`
			Spec struct {
				Names struct {
					Kind string `json:"kind"`
				} `json:"names"`
			} `json:"spec"`
		}
		if err := yaml.Unmarshal(chunk, &head); err != nil {
			return nil, err
		}
		if head.Kind != "CustomResourceDefinition" || !slices.Contains(kinds, head.Spec.Names.Kind) {
			continue
		}
		out.WriteString("---\n")
		out.Write(bytes.TrimLeft(chunk, "-\n"))
	}
	return out.Bytes(), nil
}

// moduleDir downloads module (at the version go.mod pins) if needed and
// returns its directory in the module cache.
func moduleDir(ctx context.Context, root, module string) (string, error) {
	dl := exec.CommandContext(ctx, "go", "mod", "download", module)
	dl.Dir = root
	if out, err := dl.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go mod download %s: %w: %s", module, err, out)
	}
	list := exec.CommandContext(ctx, "go", "list", "-m", "-f", "{{.Dir}}", module)
	list.Dir = root
	out, err := list.Output()
	if err != nil {
		return "", fmt.Errorf("locating module %s: %w", module, err)
	}
	dir := strings.TrimSpace(string(out))
	if dir == "" {
		return "", fmt.Errorf("module %s is not in the module cache", module)
	}
	return dir, nil
}
