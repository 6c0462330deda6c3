package render

import (
	"bytes"
	"strings"
	"testing"

	"github.com/ambient-egress/ambient-egress-operator/simulator/reach"
)

func TestEscaping(t *testing.T) {
	if got := dotQuote(`a "b" \c`); got != `"a \"b\" \\c"` {
		t.Errorf("dotQuote: %s", got)
	}
	if got := mermaidEscape(`GET|POST "x"`); got != "GET#124;POST #quot;x#quot;" {
		t.Errorf("mermaidEscape: %s", got)
	}
}

func TestWriteRejectsUnknownFormat(t *testing.T) {
	err := Write(&bytes.Buffer{}, &reach.Report{}, "xml")
	if err == nil || !strings.Contains(err.Error(), "table, json, yaml, dot, mermaid") {
		t.Fatalf("got %v", err)
	}
}

// An empty report still renders in every format, with empty sections.
func TestEmptyReport(t *testing.T) {
	for _, f := range Formats {
		var out bytes.Buffer
		if err := Write(&out, &reach.Report{}, f); err != nil || out.Len() == 0 {
			t.Errorf("%s: %v, %d bytes", f, err, out.Len())
		}
	}
}

func TestDiffText(t *testing.T) {
	var out bytes.Buffer
	d := &reach.DiffResult{Changes: []reach.Change{{Destination: "a.io:80", Sources: []string{"cluster.local/ns/x/sa/y"},
		AccessBefore: reach.AccessNone, AccessAfter: reach.AccessAll, Opened: []reach.Cube{{Rule: -1}}}}}
	if err := DiffText(&out, d); err != nil {
		t.Fatal(err)
	}
	if want := "a.io:80  x/y  none -> all\n  + any request\n"; out.String() != want {
		t.Errorf("got %q, want %q", out.String(), want)
	}
}
