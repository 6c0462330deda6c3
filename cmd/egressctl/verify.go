package main

import (
	"fmt"
	"os"
	"slices"

	"github.com/spf13/cobra"

	"github.com/ambient-egress/ambient-egress-operator/simulator"
	"github.com/ambient-egress/ambient-egress-operator/simulator/envoyrbac"
	"github.com/ambient-egress/ambient-egress-operator/simulator/verify"
)

// exitDisagree means verify found requests on which the simulator and the
// waypoint's configuration disagree, or that it could not compare.
const exitDisagree = 1

// verifyOptions are the flags of egressctl verify.
type verifyOptions struct {
	input      inputOptions
	configDump string
	maxSources int
	// maxRequests bounds the requests compared (verify.DefaultMaxRequests).
	maxRequests int
	meshFlags
}

func newVerifyCommand() *cobra.Command {
	o := &verifyOptions{}
	cmd := &cobra.Command{
		Use:   "verify -f PATH --config-dump FILE [flags]",
		Short: "Check the simulator against a waypoint's own configuration",
		Long: "verify evaluates a set of requests to every destination bound to a waypoint in the manifests twice:\n" +
			"with the simulator, and with the RBAC filters of the waypoint's configuration dump (Envoy's\n" +
			"/config_dump, or istioctl proxy-config all <waypoint pod> -o json), as Envoy evaluates them. The\n" +
			"requests come from every source in the inputs, one caller they do not list and a plaintext one,\n" +
			"with the methods, paths, header values and server names the policies name. It prints each\n" +
			"disagreement. Exit codes: 0 they agree, 1 disagreements (or requests it could not compare), 2 bad input.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return o.run(cmd) },
	}
	o.input.bindFlags(cmd, "manifest file or directory, - for standard input (repeatable)")
	cmd.Flags().StringVar(&o.configDump, "config-dump", "", "the waypoint's Envoy configuration dump (JSON)")
	cmd.Flags().IntVar(&o.maxSources, "max-sources", verify.DefaultMaxSources, "at most this many of the inputs' sources send requests, spread evenly over them in order (0: all)")
	cmd.Flags().IntVar(&o.maxRequests, "max-requests", verify.DefaultMaxRequests, "stop after comparing this many requests, and say so")
	o.bind(cmd.Flags())
	return cmd
}

func (o *verifyOptions) run(cmd *cobra.Command) error {
	if o.configDump == "" {
		return badInput("--config-dump: give the waypoint's configuration dump (istioctl proxy-config all <waypoint pod> -o json)")
	}
	data, err := os.ReadFile(o.configDump)
	if err != nil {
		return badInput("--config-dump: %w", err)
	}
	chains, err := envoyrbac.ParseConfigDump(data)
	if err != nil {
		return badInput("--config-dump %s: %w", o.configDump, err)
	}
	opts, err := o.options()
	if err != nil {
		return err
	}
	m, err := o.input.load(cmd.InOrStdin())
	if err != nil {
		return err
	}
	prog, found := simulator.Compile(m.snap, opts)
	if issues := slices.Concat(m.issues, found); issues.HasErrors() {
		return badInput("invalid input:\n%s", renderIssues(issues.Filter(simulator.SeverityError)))
	}
	if o.maxSources < 0 {
		return badInput("--max-sources: %d is negative", o.maxSources)
	}
	if o.maxRequests < 1 {
		return badInput("--max-requests: %d is not positive", o.maxRequests)
	}
	callers := verify.Callers(m.accounts, nil, opts.TrustDomain, o.maxSources)
	res, err := verify.Run(cmd.Context(), prog, m.snap, chains, callers, verify.Options{MaxSources: o.maxSources, MaxRequests: o.maxRequests})
	if err != nil {
		return err
	}
	out := cmd.OutOrStdout()
	if res.Sources < res.TotalSources {
		fmt.Fprintf(out, "requests from %d of the %d sources in the inputs (--max-sources), an unlisted one and a plaintext one\n", res.Sources, res.TotalSources)
	}
	for _, d := range res.Disagreements {
		fmt.Fprintln(out, "DISAGREE  "+d)
	}
	for _, u := range res.NotCompared {
		fmt.Fprintln(out, "NOT COMPARED  "+u)
	}
	fmt.Fprintln(out, res.Summary())
	if !res.Agrees() {
		return &exitError{code: exitDisagree, err: fmt.Errorf("%d disagreements, %d requests not compared",
			res.DisagreementCount, res.NotComparedCount)}
	}
	return nil
}
