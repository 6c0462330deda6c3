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
}

func (o *inputOptions) bindFlags(cmd *cobra.Command, usage string) {
	f := cmd.Flags()
	f.StringArrayVarP(&o.files, "filename", "f", nil, usage)
	f.BoolVar(&o.ignoreUnknown, "ignore-unknown", false,
		"leave out documents of unknown kinds, groups or versions, and documents without apiVersion/kind, with a warning (by default they are errors)")
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
	snap, issues, err := simulator.LoadSources(simulator.LoadOptions{IgnoreUnknown: o.ignoreUnknown}, sources)
	if err != nil {
		return nil, badInput("%w", err)
	}
	return &manifests{snap: snap, issues: issues, accounts: reach.ServiceAccountsOf(snap)}, nil
}
