package render

import (
	"fmt"
	"io"
	"strings"

	"github.com/ambient-egress/ambient-egress-operator/simulator/reach"
)

// DiffText writes a diff for reviewers: per destination and sources, what
// opens (+) and what closes (-).
func DiffText(w io.Writer, d *reach.DiffResult) error {
	var b strings.Builder
	if len(d.Changes) == 0 && len(d.Direct) == 0 {
		b.WriteString("no change in reachability\n")
	}
	for _, c := range d.Changes {
		who := "other sources"
		if !c.OtherSources {
			short := make([]string, len(c.Sources))
			for i, p := range c.Sources {
				short[i] = shortPrincipal(p)
			}
			who = strings.Join(short, ", ")
		}
		fmt.Fprintf(&b, "%s  %s  %s -> %s\n", c.Destination, who, c.AccessBefore, c.AccessAfter)
		for _, cube := range c.Opened {
			fmt.Fprintf(&b, "  + %s\n", cubeText(cube))
		}
		for _, cube := range c.Closed {
			fmt.Fprintf(&b, "  - %s\n", cubeText(cube))
		}
	}
	for _, c := range d.Direct {
		fmt.Fprintf(&b, "%s (direct)  %s  %s -> %s\n", directDestination(c.Destination), directSources(c.Sources), c.AccessBefore, c.AccessAfter)
		for _, o := range c.Opened {
			fmt.Fprintf(&b, "  + %s\n", o)
		}
		for _, o := range c.Closed {
			fmt.Fprintf(&b, "  - %s\n", o)
		}
	}
	if _, err := io.WriteString(w, b.String()); err != nil {
		return fmt.Errorf("write diff: %w", err)
	}
	return nil
}
