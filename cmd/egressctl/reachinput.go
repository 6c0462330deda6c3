package main

import (
	"context"
	"io"

	"github.com/spf13/cobra"

	"github.com/ambient-egress/ambient-egress-operator/simulator"
	"github.com/ambient-egress/ambient-egress-operator/simulator/reach"
)

// meshOptions are the flags simulate and diff share: the mesh settings and
// extra sources a report is built with.
type meshOptions struct {
	meshFlags
	sources []string
	budget  reach.Budget
}

func (m *meshOptions) bindFlags(cmd *cobra.Command) {
	f := cmd.Flags()
	m.bind(f)
	f.StringArrayVar(&m.sources, "source", nil, "extra source principal td/ns/NS/sa/SA (repeatable); "+
		"service accounts of namespaces labeled istio.io/dataplane-mode=ambient are sources already")
	f.Int64Var(&m.budget.Work, "max-work", reach.DefaultBudget.Work,
		"simulation budget: cube operations per destination; past it the destination's entries are inexact (ReportTooComplex)")
	f.DurationVar(&m.budget.PerDestination, "destination-timeout", reach.DefaultBudget.PerDestination,
		"simulation budget: time per destination (negative: none)")
	f.DurationVar(&m.budget.Total, "timeout", 0,
		"simulation budget: time for the whole report; past it the destinations left are evaluated without subtracting DENY rules (0: none)")
}

// loadReachInput reads manifests and their service accounts into a report
// input. Unreadable files and objects Istio would reject are bad input, as
// for check.
func (m *meshOptions) loadReachInput(input inputOptions, stdin io.Reader) (reach.Input, error) {
	opts, err := m.options()
	if err != nil {
		return reach.Input{}, err
	}
	if m.budget.Work < 0 {
		return reach.Input{}, badInput("--max-work: %d is not a number of operations", m.budget.Work)
	}
	man, err := input.load(stdin)
	if err != nil {
		return reach.Input{}, err
	}
	if man.issues.HasErrors() {
		return reach.Input{}, badInput("invalid input:\n%s", renderIssues(man.issues.Filter(simulator.SeverityError)))
	}
	in := reach.Input{Snapshot: man.snap, ServiceAccounts: man.accounts, Sources: m.sources, Options: opts, Budget: m.budget,
		LoadIssues: man.issues}
	// An EgressGateway's spec.simulation.probes are answered as the
	// operator answers them in its status.
	for _, egw := range man.snap.EgressGateways {
		if egw.SimulationDisabled {
			continue
		}
		for _, p := range egw.Probes {
			in.Probes = append(in.Probes, reach.Probe{RequestSpec: p})
		}
	}
	return in, nil
}

// buildReport builds the report and fails on the simulator's error findings
// (objects Istio would reject), which are bad input.
func buildReport(ctx context.Context, in reach.Input) (*reach.Report, error) {
	r, issues, err := reach.BuildContext(ctx, in)
	if err != nil {
		return nil, err
	}
	if issues.HasErrors() {
		return nil, badInput("invalid input:\n%s", renderIssues(issues.Filter(simulator.SeverityError)))
	}
	return r, nil
}
