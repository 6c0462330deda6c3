// Command bundle writes the OLM bundle in bundle/ from config/: it builds
// config/default with kustomize (as a library, so no binary is downloaded),
// turns its Deployment and RBAC into the ClusterServiceVersion's install
// strategy, adds the CRD, samples (alm-examples) and the standalone objects,
// and writes the bundle metadata. The output is deterministic, so
// `make verify` can tell when the committed bundle is stale.
//
// Usage (from the repository root): go run ./hack/bundle -version 0.1.0 -image IMG
package main

import (
	"flag"
	"fmt"
	"os"
)

func main() {
	var opts options
	flag.StringVar(&opts.version, "version", "", "Bundle version, semver without a leading v (required).")
	flag.StringVar(&opts.image, "image", "", "Manager image (required).")
	flag.StringVar(&opts.root, "root", ".", "Repository root.")
	flag.StringVar(&opts.out, "out", "", "Directory to write the bundle to (default: <root>/bundle).")
	flag.StringVar(&opts.channel, "channel", defaultChannel, "OLM channel of the bundle, also its default channel.")
	flag.Parse()
	if opts.version == "" || opts.image == "" {
		fmt.Fprintln(os.Stderr, "bundle: -version and -image are required")
		os.Exit(2)
	}
	if opts.out == "" {
		opts.out = opts.root + "/bundle"
	}
	if err := generate(opts); err != nil {
		fmt.Fprintf(os.Stderr, "bundle: %v\n", err)
		os.Exit(1)
	}
}

// options are the inputs of one bundle generation.
type options struct {
	version, image, root, out, channel string
}

// packageName is the OLM package, and the CSV name prefix.
const packageName = "ambient-egress-operator"

// defaultChannel follows OLM's channel naming convention (candidate, fast,
// stable); candidate while the API is v1alpha1.
const defaultChannel = "candidate-v0"

// generate reads config/ and rewrites bundle/.
func generate(o options) error {
	objs, err := kustomize(o.root + "/config/default")
	if err != nil {
		return err
	}
	samples, err := kustomize(o.root + "/config/samples")
	if err != nil {
		return err
	}
	parts, err := split(objs)
	if err != nil {
		return err
	}
	csv, err := buildCSV(o, parts, samples)
	if err != nil {
		return err
	}
	return write(o, csv, parts)
}
