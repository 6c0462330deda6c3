package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericclioptions"

	"github.com/ambient-egress/ambient-egress-operator/simulator/observe"
	"github.com/ambient-egress/ambient-egress-operator/simulator/reach"
)

// exitUnavailable means observe could not read Prometheus.
const exitUnavailable = 1

// observeOptions are the flags of egressctl observe.
type observeOptions struct {
	input      inputOptions
	mesh       meshOptions
	kube       *genericclioptions.ConfigFlags
	prometheus string
	tokenFile  string
	caFile     string
	lookback   time.Duration
	at         string
}

func newObserveCommand() *cobra.Command {
	o := &observeOptions{kube: genericclioptions.NewConfigFlags(true)}
	cmd := &cobra.Command{
		Use:   "observe (-f PATH ... | [-n NAMESPACE] NAME) --prometheus URL [flags]",
		Short: "Set the traffic Prometheus saw at the waypoint beside the report",
		Long: "observe reads, from Prometheus, the traffic waypoints reported for the destinations of a report\n" +
			"(Istio's istio_requests_total and istio_tcp_connections_opened_total, reporter=\"waypoint\") and\n" +
			"prints it per source group and host beside the access the report allows, then the findings:\n" +
			"DeniedTraffic, UnexpectedTraffic and UnusedGrant, as the operator writes them with\n" +
			"spec.observability.prometheus. The report is simulated from manifests (-f), or read from the\n" +
			"EgressGateway NAME of your kubeconfig's cluster, as egressctl report reads it.\n" +
			"Exit codes: 0 done, 1 Prometheus could not be read, 2 bad input.",
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error { return o.run(cmd, args) },
	}
	o.input.bindFlags(cmd, "manifest file or directory, - for standard input (repeatable); or give an EgressGateway NAME")
	o.mesh.bindFlags(cmd)
	f := cmd.Flags()
	f.StringVar(&o.prometheus, "prometheus", "", "base URL of the Prometheus HTTP API")
	f.StringVar(&o.tokenFile, "token-file", "", "file whose content is sent as the bearer token")
	f.StringVar(&o.caFile, "ca-file", "", "PEM certificates to trust for an https URL")
	f.DurationVar(&o.lookback, "lookback", 24*time.Hour, "window of traffic to read")
	f.StringVar(&o.at, "at", "", "read the window ending at this time (RFC 3339) instead of now")
	o.kube.AddFlags(f)
	return cmd
}

func (o *observeOptions) run(cmd *cobra.Command, args []string) error {
	endpoint, at, err := o.endpoint()
	if err != nil {
		return err
	}
	var report *reach.Report
	switch {
	case len(args) == 1 && len(o.input.files) > 0:
		return badInput("give manifests (-f) or an EgressGateway NAME, not both")
	case len(args) == 1:
		ro := &reportOptions{kube: o.kube}
		if _, report, err = ro.readLive(cmd, args[0]); err != nil {
			return err
		}
	default:
		in, err := o.mesh.loadReachInput(o.input, cmd.InOrStdin())
		if err != nil {
			return err
		}
		if report, err = buildReport(cmd.Context(), in); err != nil {
			return err
		}
	}
	api, err := observe.NewAPI(endpoint)
	if err != nil {
		return badInput("--prometheus: %w", err)
	}
	hosts, direct := observe.Hosts(report), observe.DirectHosts(report)
	traffic, err := observe.Observe(cmd.Context(), api, hosts, direct, o.lookback, at)
	if err != nil {
		return &exitError{code: exitUnavailable, err: fmt.Errorf("reading Prometheus at %s: %w", o.prometheus, err)}
	}
	return printObserved(cmd.OutOrStdout(), observe.Compare(report, traffic, o.lookback), traffic, len(hosts)+len(direct), o.lookback, at)
}

// endpoint reads the Prometheus flags.
func (o *observeOptions) endpoint() (observe.Endpoint, time.Time, error) {
	e := observe.Endpoint{URL: o.prometheus}
	if o.prometheus == "" {
		return e, time.Time{}, badInput("--prometheus: give the base URL of the Prometheus HTTP API")
	}
	if o.lookback < 5*time.Minute {
		return e, time.Time{}, badInput("--lookback: %s is shorter than 5m", o.lookback)
	}
	if o.tokenFile != "" {
		token, err := os.ReadFile(o.tokenFile)
		if err != nil {
			return e, time.Time{}, badInput("--token-file: %w", err)
		}
		e.BearerToken = strings.TrimSpace(string(token))
	}
	if o.caFile != "" {
		ca, err := os.ReadFile(o.caFile)
		if err != nil {
			return e, time.Time{}, badInput("--ca-file: %w", err)
		}
		e.CAPEM = ca
	}
	at := time.Now()
	if o.at != "" {
		t, err := time.Parse(time.RFC3339, o.at)
		if err != nil {
			return e, time.Time{}, badInput("--at: %w", err)
		}
		at = t
	}
	return e, at, nil
}

// printObserved prints the rows, then the findings.
func printObserved(w io.Writer, c *observe.Comparison, t observe.Traffic, hosts int, lookback time.Duration, at time.Time) error {
	fmt.Fprintf(w, "traffic to %d hosts in the %s to %s\n\n", hosts, observe.Window(lookback), at.UTC().Format(time.RFC3339))
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "DESTINATION\tSOURCES\tVIA\tREPORT ALLOWS\tREQUESTS\tDENIED\tCONNECTIONS\tLAST SEEN")
	for _, r := range c.Rows {
		seen := "-"
		if !r.LastSeen.IsZero() {
			seen = r.LastSeen.UTC().Format(time.RFC3339)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%d\t%d\t%s\n", r.Host, r.Group, r.Via, r.Access, r.Requests, r.Denied, r.Connections, seen)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(c.Rows) == 0 {
		fmt.Fprintln(w, "(no traffic)")
	}
	if t.Dropped > 0 {
		fmt.Fprintf(w, "\n%d series with labels not shaped as Istio writes them were left out\n", t.Dropped)
	}
	if t.Truncated {
		fmt.Fprintf(w, "\na query answered its limit of %d series: the busiest are shown\n", observe.MaxSeries)
	}
	if len(c.Findings) > 0 {
		fmt.Fprintln(w, "\nFINDINGS")
	}
	for _, f := range c.Findings {
		fmt.Fprintf(w, "%s %s %s: %s\n  fix: %s\n", f.Severity, f.Code, f.Object, f.Message, f.Fix)
	}
	for _, code := range observe.Codes {
		if n := c.Omitted[code]; n > 0 {
			fmt.Fprintf(w, "... and %d more %s findings\n", n, code)
		}
	}
	return nil
}
