package main

import (
	"io"

	"github.com/spf13/cobra"

	"github.com/ambient-egress/ambient-egress-operator/simulator"
	"github.com/ambient-egress/ambient-egress-operator/simulator/reach"
)

// inputOptions are the flags every command that reads manifests shares.
type inputOptions struct {
	files         []string
	ignoreUnknown bool
	istio         istioOptions
}

func (o *inputOptions) bindFlags(cmd *cobra.Command, usage string) {
	f := cmd.Flags()
	f.StringArrayVarP(&o.files, "filename", "f", nil, usage)
	f.BoolVar(&o.ignoreUnknown, "ignore-unknown", false,
		"leave out documents of unknown kinds, groups or versions, and documents without apiVersion/kind, with a warning (by default they are errors)")
	o.istio.bindFlags(cmd)
}

// istioOptions describe the istiod the manifests are for, as the operator
// reads it from istiod's Deployment.
type istioOptions struct {
	version     string
	wildcardTLS bool
}

func (o *istioOptions) bindFlags(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringVar(&o.version, "istio-version", "",
		"istiod's version (1.29 or 1.29.1), which decides the wildcard destinations an EgressGateway can have; unset assumes the newest Istio")
	f.BoolVar(&o.wildcardTLS, "istio-wildcard-tls", false,
		"istiod runs with "+simulator.WildcardTLSFlag+"=true, which TLS ports of wildcard destinations need (off by default, as in istiod)")
}

func (o *istioOptions) parse() (simulator.Istio, error) {
	istio := simulator.Istio{WildcardTLS: o.wildcardTLS}
	if o.version != "" {
		v, err := simulator.ParseIstioVersion(o.version)
		if err != nil {
			return istio, badInput("--istio-version: %w", err)
		}
		istio.Version = v
	}
	return istio, nil
}

// manifests is what the commands read: the snapshot, the load issues and
// the sources' ServiceAccounts.
type manifests struct {
	snap     *simulator.Snapshot
	issues   simulator.Issues
	accounts []reach.Ref
}

// load reads the manifests once (stdin for "-") through the simulator's
// loader; a read error, malformed YAML or an input without objects is bad
// input.
func (o *inputOptions) load(stdin io.Reader) (*manifests, error) {
	if len(o.files) == 0 {
		return nil, badInput("-f: give at least one manifest file or directory, or - for standard input")
	}
	sources, err := simulator.ReadSources(stdin, o.files...)
	if err != nil {
		return nil, badInput("%w", err)
	}
	istio, err := o.istio.parse()
	if err != nil {
		return nil, err
	}
	snap, issues, err := simulator.LoadSources(simulator.LoadOptions{IgnoreUnknown: o.ignoreUnknown, Istio: istio}, sources)
	if err != nil {
		return nil, badInput("%w", err)
	}
	return &manifests{snap: snap, issues: issues, accounts: reach.ServiceAccountsOf(snap)}, nil
}
