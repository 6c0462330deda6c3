package render

import (
	"fmt"
	"io"

	"github.com/ambient-egress/ambient-egress-operator/simulator"
)

// Trace writes an evaluation's steps as the text of egressctl check: a
// "trace:" heading, then one indented line per step. Nothing when there
// are no steps.
func Trace(w io.Writer, steps []simulator.TraceStep) error {
	if len(steps) == 0 {
		return nil
	}
	if _, err := fmt.Fprintln(w, "trace:"); err != nil {
		return fmt.Errorf("write trace: %w", err)
	}
	for _, s := range steps {
		if _, err := fmt.Fprintln(w, "  "+s.Text); err != nil {
			return fmt.Errorf("write trace: %w", err)
		}
	}
	return nil
}
