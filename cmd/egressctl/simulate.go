package main

import (
	"fmt"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/ambient-egress/ambient-egress-operator/simulator/reach"
	"github.com/ambient-egress/ambient-egress-operator/simulator/render"
)

// simulateOptions are the flags of egressctl simulate.
type simulateOptions struct {
	mesh   meshOptions
	input  inputOptions
	probes string
	output string
}

func newSimulateCommand() *cobra.Command {
	o := &simulateOptions{}
	cmd := &cobra.Command{
		Use:   "simulate -f PATH [-f PATH ...] [--probes FILE] [-o table|json|yaml|dot|mermaid]",
		Short: "Report which sources can reach which egress destinations, with which methods and paths",
		Long: "simulate compiles the manifests and computes, for every ambient service account and every\n" +
			"ServiceEntry host and port, exactly which requests are allowed, as cubes over method, path and\n" +
			"the other request attributes the policies mention. Sources with the same access are grouped.\n" +
			"With --probes, each probe is answered as egressctl check would; expected verdicts make it a test.\n" +
			"Exit codes: 0 done, 2 bad input, 3 a probe's expectation does not hold.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return o.run(cmd) },
	}
	f := cmd.Flags()
	o.input.bindFlags(cmd, "manifest file or directory, - for standard input (repeatable; later files win)")
	f.StringVar(&o.probes, "probes", "", "probes file (probes: [{from, method, url, verdict, policy}, ...])")
	f.StringVarP(&o.output, "output", "o", "table", "output format: "+strings.Join(render.Formats, ", "))
	o.mesh.bindFlags(cmd)
	return cmd
}

func (o *simulateOptions) run(cmd *cobra.Command) error {
	if !validFormat(o.output) {
		return badInput("-o: %q is not one of %s", o.output, strings.Join(render.Formats, ", "))
	}
	in, err := o.mesh.loadReachInput(o.input, cmd.InOrStdin())
	if err != nil {
		return err
	}
	if o.probes != "" {
		if in.Probes, err = reach.LoadProbes(o.probes); err != nil {
			return badInput("--probes: %w", err)
		}
	}
	r, err := buildReport(cmd.Context(), in)
	if err != nil {
		return err
	}
	if err := render.Write(cmd.OutOrStdout(), r, o.output); err != nil {
		return err
	}
	return probeMismatches(r)
}

func validFormat(f string) bool {
	return slices.Contains(render.Formats, f)
}

// probeMismatches fails with exit code 3 when a probe's expectation does
// not hold.
func probeMismatches(r *reach.Report) error {
	var bad []string
	for _, p := range r.Probes {
		if !p.Match {
			bad = append(bad, fmt.Sprintf("%s: got %s %s, expected %s %s%s", p.Name, p.Verdict, p.Policy, p.Expected, p.ExpectedPolicy, p.Error))
		}
	}
	if len(bad) == 0 {
		return nil
	}
	return &exitError{code: exitMismatch, err: fmt.Errorf("%d probe(s) do not match:\n  %s", len(bad), strings.Join(bad, "\n  "))}
}
