package render

import (
	"fmt"
	"io"
	"strings"

	"github.com/ambient-egress/ambient-egress-operator/simulator/netpol"
	"github.com/ambient-egress/ambient-egress-operator/simulator/reach"
)

// graph is the reachability graph: one node per distinct set of sources
// (named by its groups), one per destination, and one edge per entry that
// allows something, so the graph grows with the entries, not the sources.
type graph struct {
	sources []string
	dests   []string
	edges   []edge
}

type edge struct {
	from, to int
	label    string
	partial  bool
}

func newGraph(r *reach.Report) graph {
	var g graph
	srcIndex, destIndex := map[string]int{}, map[string]int{}
	for _, d := range r.Destinations {
		destIndex[d.Key()] = len(g.dests)
		g.dests = append(g.dests, d.Key())
	}
	labels := newSourceLabels(r)
	for _, e := range r.Reachability {
		if e.Access == reach.AccessNone {
			continue
		}
		name := labels.sourcesLabel(e)
		i, ok := srcIndex[name]
		if !ok {
			i = len(g.sources)
			srcIndex[name] = i
			g.sources = append(g.sources, name)
		}
		g.edges = append(g.edges, edge{from: i, to: destIndex[e.Destination], label: edgeLabel(e), partial: e.Access == reach.AccessPartial})
	}
	g.addDirect(r, srcIndex, destIndex)
	return g
}

// addDirect draws what the sources reach without a waypoint: a solid edge
// for direct access, a dashed one for partial or label-dependent access,
// none when blocked.
func (g *graph) addDirect(r *reach.Report, srcIndex, destIndex map[string]int) {
	for _, e := range r.Direct {
		if e.Access == netpol.Blocked {
			continue
		}
		dest := directDestination(e.Destination) + " (direct)"
		d, ok := destIndex[dest]
		if !ok {
			d = len(g.dests)
			destIndex[dest] = d
			g.dests = append(g.dests, dest)
		}
		name := directSources(e.Sources)
		i, ok := srcIndex[name]
		if !ok {
			i = len(g.sources)
			srcIndex[name] = i
			g.sources = append(g.sources, name)
		}
		g.edges = append(g.edges, edge{from: i, to: d, label: string(e.Access), partial: e.Access != netpol.Direct})
	}
}

// edgeLabel is "all", or the allowed cubes without their rules.
func edgeLabel(e reach.Entry) string {
	if e.Access == reach.AccessAll {
		return "all"
	}
	parts := make([]string, len(e.Allowed))
	for i, c := range e.Allowed {
		parts[i] = c.Text()
	}
	return strings.Join(parts, "; ")
}

// DOT writes the reachability graph in Graphviz DOT: solid edges for full
// access, dashed ones labeled with the allowed requests for partial access.
func DOT(w io.Writer, r *reach.Report) error {
	g := newGraph(r)
	var b strings.Builder
	b.WriteString("digraph reachability {\n")
	writeFindingComments(&b, r, "  // ")
	b.WriteString("  rankdir=LR;\n  node [shape=box];\n")
	for i, s := range g.sources {
		fmt.Fprintf(&b, "  s%d [label=%s];\n", i, dotQuote(s))
	}
	for i, d := range g.dests {
		fmt.Fprintf(&b, "  d%d [label=%s, shape=ellipse];\n", i, dotQuote(d))
	}
	for _, e := range g.edges {
		style := ""
		if e.partial {
			style = ", style=dashed"
		}
		fmt.Fprintf(&b, "  s%d -> d%d [label=%s%s];\n", e.from, e.to, dotQuote(e.label), style)
	}
	b.WriteString("}\n")
	return writeString(w, b.String())
}

// Mermaid writes the reachability graph as a Mermaid flowchart.
func Mermaid(w io.Writer, r *reach.Report) error {
	g := newGraph(r)
	var b strings.Builder
	b.WriteString("flowchart LR\n")
	writeFindingComments(&b, r, "  %% ")
	for i, s := range g.sources {
		fmt.Fprintf(&b, "  s%d[\"%s\"]\n", i, mermaidEscape(s))
	}
	for i, d := range g.dests {
		fmt.Fprintf(&b, "  d%d([\"%s\"])\n", i, mermaidEscape(d))
	}
	for _, e := range g.edges {
		arrow := "-->"
		if e.partial {
			arrow = "-.->"
		}
		fmt.Fprintf(&b, "  s%d %s|\"%s\"| d%d\n", e.from, arrow, mermaidEscape(e.label), e.to)
	}
	return writeString(w, b.String())
}

// writeFindingComments lists the error and warning findings as comments,
// so that a graph never looks cleaner than the report it draws (a document
// left out by --ignore-unknown, say).
func writeFindingComments(b *strings.Builder, r *reach.Report, prefix string) {
	for _, f := range r.Findings {
		if f.Severity == reach.SeverityInfo {
			continue
		}
		line := fmt.Sprintf("%s %s %s: %s", f.Severity, f.Code, f.Object, f.Message)
		b.WriteString(prefix + strings.ReplaceAll(line, "\n", " ") + "\n")
	}
}

func dotQuote(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(s) + `"`
}

// mermaidEscape replaces the characters that end a Mermaid label with
// entity codes.
func mermaidEscape(s string) string {
	return strings.NewReplacer(`"`, "#quot;", "|", "#124;", "\n", " ").Replace(s)
}

func writeString(w io.Writer, s string) error {
	if _, err := io.WriteString(w, s); err != nil {
		return fmt.Errorf("write graph: %w", err)
	}
	return nil
}
