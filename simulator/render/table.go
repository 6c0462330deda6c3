package render

import (
	"cmp"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/ambient-egress/ambient-egress-operator/simulator/netpol"
	"github.com/ambient-egress/ambient-egress-operator/simulator/reach"
)

// maxListed caps the principals the table lists per group; the JSON has
// them all.
const maxListed = 5

// Table writes the report for people: destinations, then access per
// destination and source group, then the groups, findings and probes.
func Table(w io.Writer, r *reach.Report) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	sections := []func(io.Writer, *reach.Report){destinationsTable, accessTable, directTable, groupsTable, findingsTable, probesTable}
	for i, s := range sections {
		if i > 0 {
			fmt.Fprintln(tw)
		}
		s(tw, r)
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("write table: %w", err)
	}
	return nil
}

func destinationsTable(w io.Writer, r *reach.Report) {
	fmt.Fprintln(w, "DESTINATION\tPROTOCOL\tSERVICEENTRY\tWAYPOINT\tTLS ORIGINATION\tPOLICIES")
	for _, d := range r.Destinations {
		wp := "none (bypass)"
		if d.Waypoint != nil {
			wp = *d.Waypoint
		}
		tls := "-"
		if d.TLSOrigination != nil {
			tls = d.TLSOrigination.Mode + " to " + strconv.Itoa(d.TLSOrigination.Port)
		}
		proto := d.Protocol
		if proto == "" {
			// No declared protocol: the waypoint sniffs, and the report
			// covers the HTTP requests.
			proto = "sniffed"
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\n", d.Key(), proto, d.ServiceEntry,
			wp, tls, cmp.Or(strings.Join(d.Policies, ","), "-"))
	}
}

func accessTable(w io.Writer, r *reach.Report) {
	labels := newSourceLabels(r)
	fmt.Fprintln(w, "DESTINATION\tSOURCES\tACCESS\tALLOWED")
	for _, e := range r.Reachability {
		allowed := []string{"-"}
		if len(e.Allowed) > 0 {
			allowed = allowed[:0]
			for _, c := range e.Allowed {
				allowed = append(allowed, cubeText(c))
			}
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", e.Destination, labels.sourcesLabel(e), e.Access, allowed[0])
		for _, a := range allowed[1:] {
			fmt.Fprintf(w, "\t\t\t%s\n", a)
		}
	}
}

// directTable shows what the sources reach without any waypoint: every
// host no ServiceEntry declares, and ServiceEntries bound to no waypoint.
func directTable(w io.Writer, r *reach.Report) {
	if len(r.Direct) == 0 {
		fmt.Fprintln(w, "DIRECT EGRESS\tnone (no sources)")
		return
	}
	fmt.Fprintln(w, "DIRECT EGRESS\tSOURCES\tACCESS\tWHY")
	for _, e := range r.Direct {
		why := []string{e.Reason}
		if e.Access == netpol.Partial || e.Access == netpol.Direct && len(e.BlockedBy) > 0 {
			why = append(why, e.Allowed...)
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", directDestination(e.Destination), directSources(e.Sources), e.Access, why[0])
		for _, a := range why[1:] {
			fmt.Fprintf(w, "\t\t\t%s\n", a)
		}
	}
}

// directDestination names AnyOtherHost for people.
func directDestination(d string) string {
	if d == reach.AnyOtherHost {
		return "any other host"
	}
	return d
}

// directSources lists up to maxListed sources.
func directSources(src []string) string {
	if len(src) <= maxListed {
		return strings.Join(src, ",")
	}
	return strings.Join(src[:maxListed], ",") + fmt.Sprintf(" (+%d more)", len(src)-maxListed)
}

func groupsTable(w io.Writer, r *reach.Report) {
	fmt.Fprintln(w, "GROUP\tCOUNT\tSOURCES")
	for _, g := range r.Groups {
		names := make([]string, 0, maxListed)
		for i, p := range g.Principals {
			if i == maxListed {
				names = append(names, fmt.Sprintf("... (%d more)", g.Count-maxListed))
				break
			}
			names = append(names, shortPrincipal(p))
		}
		fmt.Fprintf(w, "%s\t%d\t%s\n", g.Name, g.Count, strings.Join(names, ", "))
	}
}

func findingsTable(w io.Writer, r *reach.Report) {
	if len(r.Findings) == 0 {
		fmt.Fprintln(w, "FINDINGS\tnone")
		return
	}
	fmt.Fprintln(w, "SEVERITY\tCODE\tOBJECT\tMESSAGE")
	for _, f := range r.Findings {
		msg := f.Message
		if f.Fix != "" {
			msg += " Fix: " + f.Fix
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", f.Severity, f.Code, f.Object, msg)
	}
}

func probesTable(w io.Writer, r *reach.Report) {
	if len(r.Probes) == 0 {
		return
	}
	fmt.Fprintln(w, "PROBE\tVERDICT\tEXPECTED\tDECIDED BY\tRESULT")
	for _, p := range r.Probes {
		result := "ok"
		if !p.Match {
			result = "MISMATCH"
		}
		verdict := p.Verdict
		if p.Error != "" {
			verdict = "error: " + p.Error
		}
		decided := cmp.Or(p.Policy, "-")
		if p.Policy != "" && p.Rule >= 0 {
			decided += " rule " + strconv.Itoa(p.Rule)
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", p.Name, verdict, cmp.Or(p.Expected, "-"), decided, result)
	}
}

// shortPrincipal turns "td/ns/NS/sa/SA" into "NS/SA".
func shortPrincipal(p string) string {
	parts := strings.Split(p, "/")
	if len(parts) == 5 && parts[1] == "ns" && parts[3] == "sa" {
		return parts[2] + "/" + parts[4]
	}
	return p
}
