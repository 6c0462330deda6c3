package main

import (
	"bytes"
	"cmp"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"

	egressv1alpha1 "github.com/ambient-egress/ambient-egress-operator/apis/egress/v1alpha1"
	"github.com/ambient-egress/ambient-egress-operator/apis/egress/v1alpha1/reportstatus"
	"github.com/ambient-egress/ambient-egress-operator/simulator/reach"
	"github.com/ambient-egress/ambient-egress-operator/simulator/render"
)

// reportOptions are the flags of egressctl report.
type reportOptions struct {
	kube   *genericclioptions.ConfigFlags
	output string
}

func newReportCommand() *cobra.Command {
	o := &reportOptions{kube: genericclioptions.NewConfigFlags(true)}
	cmd := &cobra.Command{
		Use:   "report [-n NAMESPACE] NAME [-o table|json|yaml|dot|mermaid]",
		Short: "Print the reachability report the operator keeps in an EgressGateway's status",
		Long: "report reads the EgressGateway NAME from the cluster of your kubeconfig (--kubeconfig, KUBECONFIG,\n" +
			"--context and -n as kubectl reads them) and prints its reachability report as egressctl simulate\n" +
			"does. When the status holds only part of the report, the full report is read from the ConfigMap\n" +
			"status.simulation.reportConfigMap names. The table ends with the EgressGateway's conditions.\n" +
			"Exit codes: 0 done, 2 bad input (unknown flag, no such EgressGateway, no report yet).",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error { return o.run(cmd, args[0]) },
	}
	cmd.Flags().StringVarP(&o.output, "output", "o", "table", "output format: "+strings.Join(render.Formats, ", "))
	o.kube.AddFlags(cmd.Flags())
	return cmd
}

func (o *reportOptions) run(cmd *cobra.Command, name string) error {
	if !validFormat(o.output) {
		return badInput("-o: %q is not one of %s", o.output, strings.Join(render.Formats, ", "))
	}
	egw, r, err := o.readLive(cmd, name)
	if err != nil {
		return err
	}
	out := cmd.OutOrStdout()
	if o.output != "table" {
		return render.Write(out, r, o.output)
	}
	// The table, then one blank line and the conditions.
	var table bytes.Buffer
	if err := render.Table(&table, r); err != nil {
		return err
	}
	if _, err := out.Write(append(bytes.TrimRight(table.Bytes(), "\n"), "\n\n"...)); err != nil {
		return fmt.Errorf("write table: %w", err)
	}
	return conditionsTable(out, egw.Status.Conditions)
}

// readLive reads the EgressGateway name from the kubeconfig's cluster and
// its full report.
func (o *reportOptions) readLive(cmd *cobra.Command, name string) (*egressv1alpha1.EgressGateway, *reach.Report, error) {
	namespace, _, err := o.kube.ToRawKubeConfigLoader().Namespace()
	if err != nil {
		return nil, nil, badInput("kubeconfig: %w", err)
	}
	cfg, err := o.kube.ToRESTConfig()
	if err != nil {
		return nil, nil, badInput("kubeconfig: %w", err)
	}
	scheme := runtime.NewScheme()
	utilruntime.Must(clientgoscheme.AddToScheme(scheme))
	utilruntime.Must(egressv1alpha1.AddToScheme(scheme))
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		return nil, nil, fmt.Errorf("connecting to the cluster: %w", err)
	}
	ctx := cmd.Context()
	if ctx == nil {
		ctx = context.Background()
	}
	ref := namespace + "/" + name
	egw := &egressv1alpha1.EgressGateway{}
	if err := c.Get(ctx, client.ObjectKey{Namespace: namespace, Name: name}, egw); err != nil {
		switch {
		case apierrors.IsNotFound(err):
			return nil, nil, badInput("EgressGateway %s not found", ref)
		case meta.IsNoMatchError(err):
			return nil, nil, badInput("EgressGateway %s: the cluster does not serve the EgressGateway API (is the operator's CRD installed?)", ref)
		}
		return nil, nil, fmt.Errorf("reading EgressGateway %s: %w", ref, err)
	}
	sim := egw.Status.Simulation
	if err := simulated(ref, egw.Status.Conditions, sim); err != nil {
		return nil, nil, err
	}
	r, err := o.readReport(ctx, c, egw, cmd.ErrOrStderr())
	if err != nil {
		return nil, nil, err
	}
	return egw, r, nil
}

// simulated fails, naming the Simulated condition, when the status holds no
// report of the current inputs yet.
func simulated(ref string, conds []metav1.Condition, sim *egressv1alpha1.SimulationStatus) error {
	c := meta.FindStatusCondition(conds, egressv1alpha1.ConditionSimulated)
	switch {
	case c == nil && sim == nil:
		return badInput("EgressGateway %s has no report yet: no %s condition (has the operator reconciled it?)",
			ref, egressv1alpha1.ConditionSimulated)
	case c == nil:
		return nil // a report without the condition: an older operator; show it
	case c.Status != metav1.ConditionTrue:
		return badInput("EgressGateway %s has no current report: condition %s is %s, reason %s: %s",
			ref, c.Type, c.Status, c.Reason, c.Message)
	case sim == nil:
		return badInput("EgressGateway %s has no status.simulation although %s is True (reason %s: %s)",
			ref, c.Type, c.Reason, c.Message)
	}
	return nil
}

// readReport returns the full report from the ConfigMap the status names,
// when it is current, and otherwise the report the status holds, with a
// warning when that is only part of it.
func (o *reportOptions) readReport(ctx context.Context, c client.Client, egw *egressv1alpha1.EgressGateway, stderr io.Writer) (*reach.Report, error) {
	sim := egw.Status.Simulation
	if name := sim.ReportConfigMap; name != "" {
		ref := egw.Namespace + "/" + name
		cm := &corev1.ConfigMap{}
		err := c.Get(ctx, client.ObjectKey{Namespace: egw.Namespace, Name: name}, cm)
		switch {
		case apierrors.IsNotFound(err):
			fmt.Fprintf(stderr, "warning: ConfigMap %s with the full report does not exist (yet): the operator is recomputing the report\n", ref)
		case err != nil:
			return nil, fmt.Errorf("reading ConfigMap %s: %w", ref, err)
		case cm.Annotations[egressv1alpha1.InputsDigestAnnotation] != sim.InputsDigest:
			fmt.Fprintf(stderr, "warning: ConfigMap %s holds the report of other inputs (digest %q, status has %q): the operator is recomputing the report\n",
				ref, cm.Annotations[egressv1alpha1.InputsDigestAnnotation], sim.InputsDigest)
		default:
			w, err := configMapReport(cm)
			if err != nil {
				return nil, fmt.Errorf("ConfigMap %s: %w", ref, err)
			}
			return w, nil
		}
	}
	if sim.Truncated != "" {
		fmt.Fprintf(stderr, "warning: showing status.simulation, which is not the full report: %s\n", sim.Truncated)
	}
	return reportstatus.Report(egw.Status.Destinations, sim)
}

// configMapReport reads the report JSON the operator stored in cm, plain or
// gzip-compressed.
func configMapReport(cm *corev1.ConfigMap) (*reach.Report, error) {
	data := []byte(cm.Data[egressv1alpha1.ReportKey])
	if gz, ok := cm.BinaryData[egressv1alpha1.CompressedReportKey]; ok {
		zr, err := gzip.NewReader(bytes.NewReader(gz))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", egressv1alpha1.CompressedReportKey, err)
		}
		if data, err = io.ReadAll(zr); err != nil {
			return nil, fmt.Errorf("%s: %w", egressv1alpha1.CompressedReportKey, err)
		}
	} else if _, ok := cm.Data[egressv1alpha1.ReportKey]; !ok {
		return nil, fmt.Errorf("neither data.%s nor binaryData.%s is set", egressv1alpha1.ReportKey, egressv1alpha1.CompressedReportKey)
	}
	r := &reach.Report{}
	if err := json.Unmarshal(data, r); err != nil {
		return nil, fmt.Errorf("the report is not JSON: %w", err)
	}
	normalize(r)
	return r, nil
}

// normalize gives every list the report always has an empty value instead
// of none, as the simulator writes it, in a report read from a ConfigMap.
func normalize(w *reach.Report) {
	w.Destinations = nonNil(w.Destinations)
	w.Reachability = nonNil(w.Reachability)
	w.Groups = nonNil(w.Groups)
	w.Findings = nonNil(w.Findings)
	w.Direct = nonNil(w.Direct)
	for i := range w.Destinations {
		w.Destinations[i].Policies = nonNil(w.Destinations[i].Policies)
	}
	for i := range w.Reachability {
		w.Reachability[i].Allowed = nonNil(w.Reachability[i].Allowed)
		w.Reachability[i].DecidedBy = nonNil(w.Reachability[i].DecidedBy)
	}
	for i := range w.Groups {
		w.Groups[i].Principals = nonNil(w.Groups[i].Principals)
	}
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// conditionsTable ends the table output with the EgressGateway's
// conditions, in egressv1alpha1.ConditionOrder; types it does not know come
// last, by name.
func conditionsTable(out io.Writer, conds []metav1.Condition) error {
	rank := func(t string) int {
		if i := slices.Index(egressv1alpha1.ConditionOrder, t); i >= 0 {
			return i
		}
		return len(egressv1alpha1.ConditionOrder)
	}
	sorted := slices.Clone(conds)
	slices.SortStableFunc(sorted, func(a, b metav1.Condition) int {
		return cmp.Or(cmp.Compare(rank(a.Type), rank(b.Type)), cmp.Compare(a.Type, b.Type))
	})
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "CONDITION\tSTATUS\tREASON\tMESSAGE")
	for _, c := range sorted {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", c.Type, c.Status, cmp.Or(c.Reason, "-"), cmp.Or(c.Message, "-"))
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("write table: %w", err)
	}
	return nil
}
