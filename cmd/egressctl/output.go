package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/ambient-egress/ambient-egress-operator/simulator"
	"github.com/ambient-egress/ambient-egress-operator/simulator/render"
)

// checkResult is the JSON document check prints: the decision and the
// findings (warnings and notes) about the inputs.
type checkResult struct {
	simulator.Decision
	Findings simulator.Issues `json:"findings,omitempty"`
}

func (o *checkOptions) print(cmd *cobra.Command, d simulator.Decision, findings simulator.Issues) error {
	out := cmd.OutOrStdout()
	if o.output == "json" {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		if err := enc.Encode(checkResult{Decision: d, Findings: findings}); err != nil {
			return fmt.Errorf("write result: %w", err)
		}
		return nil
	}
	return printText(out, d, findings)
}

func printText(out io.Writer, d simulator.Decision, findings simulator.Issues) error {
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	rows := [][2]string{
		{"verdict:", string(d.Verdict)},
		{"enforced at:", strings.TrimSpace(string(d.EnforcedAt) + " " + d.Waypoint)},
		{"destination:", strings.TrimSpace(d.Service + " " + d.Protocol)},
		{"deciding policy:", decidingText(d)},
		{"reason:", d.Reason},
	}
	for _, r := range rows {
		if r[1] != "" {
			fmt.Fprintf(tw, "%s\t%s\n", r[0], r[1])
		}
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("write result: %w", err)
	}
	sections := []struct {
		title string
		lines []string
	}{{"dry-run:", d.DryRun}, {"audited:", d.Audited}}
	for _, s := range sections {
		writeList(out, s.title, s.lines)
	}
	if err := render.Trace(out, d.Steps); err != nil {
		return err
	}
	var notes []string
	for _, f := range findings {
		if f.Severity != simulator.SeverityInfo {
			notes = append(notes, f.String())
		}
	}
	writeList(out, "findings:", notes)
	return nil
}

func decidingText(d simulator.Decision) string {
	if d.DecidingPolicy == "" {
		return "-"
	}
	if d.Rule < 0 {
		return d.DecidingPolicy + " (no rule matched)"
	}
	return fmt.Sprintf("%s rule %d", d.DecidingPolicy, d.Rule)
}

func writeList(out io.Writer, title string, lines []string) {
	if len(lines) == 0 {
		return
	}
	fmt.Fprintln(out, title)
	for _, l := range lines {
		fmt.Fprintln(out, "  "+l)
	}
}

func renderIssues(is simulator.Issues) string {
	lines := make([]string, len(is))
	for i, issue := range is {
		lines[i] = "  " + issue.String()
	}
	return strings.Join(lines, "\n")
}
