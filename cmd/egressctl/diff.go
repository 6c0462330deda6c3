package main

import (
	"errors"

	"github.com/spf13/cobra"

	"github.com/ambient-egress/ambient-egress-operator/simulator/reach"
	"github.com/ambient-egress/ambient-egress-operator/simulator/render"
)

// exitOpens is diff's exit code when the change opens access, so a CI step
// fails and asks for review.
const exitOpens = 1

// diffOptions are the flags of egressctl diff.
type diffOptions struct {
	mesh          meshOptions
	output        string
	ignoreUnknown bool
	istio         istioOptions
}

func newDiffCommand() *cobra.Command {
	o := &diffOptions{}
	cmd := &cobra.Command{
		Use:   "diff OLD NEW",
		Short: "Show what a configuration change opens and closes",
		Long: "diff builds the reachability report of OLD and of NEW (each a manifest file or directory) and\n" +
			"prints, per destination and group of sources, the requests the change opens (+) and closes (-).\n" +
			"Exit codes: 0 nothing opens, 1 something opens, 2 bad input.",
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error { return o.run(cmd, args[0], args[1]) },
	}
	cmd.Flags().StringVarP(&o.output, "output", "o", "text", "output format: text or json")
	cmd.Flags().BoolVar(&o.ignoreUnknown, "ignore-unknown", false,
		"leave out documents of unknown kinds, groups or versions, and documents without apiVersion/kind, with a warning (by default they are errors)")
	o.mesh.bindFlags(cmd)
	o.istio.bindFlags(cmd)
	return cmd
}

func (o *diffOptions) run(cmd *cobra.Command, oldPath, newPath string) error {
	if o.output != "text" && o.output != "json" {
		return badInput("-o: %q is not text or json", o.output)
	}
	var reports [2]*reach.Report
	for i, p := range []string{oldPath, newPath} {
		in, err := o.mesh.loadReachInput(inputOptions{files: []string{p}, ignoreUnknown: o.ignoreUnknown, istio: o.istio}, cmd.InOrStdin())
		if err != nil {
			return err
		}
		if reports[i], err = buildReport(cmd.Context(), in); err != nil {
			return err
		}
	}
	d := reach.Diff(reports[0], reports[1])
	var err error
	if o.output == "json" {
		err = render.JSON(cmd.OutOrStdout(), d)
	} else {
		err = render.DiffText(cmd.OutOrStdout(), d)
	}
	if err != nil {
		return err
	}
	if d.Opens {
		return &exitError{code: exitOpens, err: errors.New("the change opens access (see + lines)")}
	}
	return nil
}
