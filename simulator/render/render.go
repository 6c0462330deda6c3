package render

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"

	"sigs.k8s.io/yaml"

	"github.com/ambient-egress/ambient-egress-operator/simulator/reach"
)

// Formats lists the report formats Write accepts.
var Formats = []string{"table", "json", "yaml", "dot", "mermaid"}

// Write renders the report in one of Formats.
func Write(w io.Writer, r *reach.Report, format string) error {
	switch format {
	case "table":
		return Table(w, r)
	case "json":
		return JSON(w, r)
	case "yaml":
		return YAML(w, r)
	case "dot":
		return DOT(w, r)
	case "mermaid":
		return Mermaid(w, r)
	}
	return fmt.Errorf("unknown format %q: use one of %s", format, strings.Join(Formats, ", "))
}

// JSON writes v as indented JSON with a trailing newline; map keys are
// sorted by encoding/json, so the output is stable.
func JSON(w io.Writer, v any) error {
	// A report writes itself indented, on every core and without a
	// compact form first (the bulk of a large report's encoding).
	if iw, ok := v.(interface{ WriteIndentedJSON(io.Writer) error }); ok {
		return iw.WriteIndentedJSON(w)
	}
	// A value that encodes itself is indented straight from its own
	// bytes: going through an Encoder would scan them once more to
	// compact them first. Indent still refuses malformed JSON.
	var data []byte
	var err error
	if m, ok := v.(json.Marshaler); ok {
		data, err = m.MarshalJSON()
	} else {
		data, err = json.Marshal(v)
	}
	if err != nil {
		return fmt.Errorf("write JSON: %w", err)
	}
	var out bytes.Buffer
	out.Grow(len(data) * 2)
	if err := json.Indent(&out, data, "", "  "); err != nil {
		return fmt.Errorf("write JSON: %w", err)
	}
	out.WriteByte('\n')
	if _, err := out.WriteTo(w); err != nil {
		return fmt.Errorf("write JSON: %w", err)
	}
	return nil
}

// YAML writes v as YAML converted from its JSON form, so field names are
// the JSON contract's.
func YAML(w io.Writer, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("write YAML: %w", err)
	}
	out, err := yaml.JSONToYAML(data)
	if err != nil {
		return fmt.Errorf("write YAML: %w", err)
	}
	if _, err := w.Write(out); err != nil {
		return fmt.Errorf("write YAML: %w", err)
	}
	return nil
}

// sourceLabels names an entry's sources for people: "other sources", or
// the groups its principals belong to.
type sourceLabels map[string]string

func newSourceLabels(r *reach.Report) sourceLabels {
	m := sourceLabels{}
	for _, g := range r.Groups {
		for _, p := range g.Principals {
			m[p] = g.Name
		}
	}
	return m
}

// groupsOf lists the distinct group names of an entry, sorted.
func (l sourceLabels) groupsOf(e reach.Entry) []string {
	if e.OtherSources {
		return []string{"other sources"}
	}
	set := map[string]bool{}
	for _, p := range e.Sources {
		name, ok := l[p]
		if !ok {
			name = p
		}
		set[name] = true
	}
	out := make([]string, 0, len(set))
	for n := range set {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// maxGroupNames caps the group names a table cell or graph node lists.
const maxGroupNames = 3

// sourcesLabel names an entry's sources in a few words: up to
// maxGroupNames groups, then how many more.
func (l sourceLabels) sourcesLabel(e reach.Entry) string {
	names := l.groupsOf(e)
	if len(names) <= maxGroupNames {
		return strings.Join(names, ", ")
	}
	return fmt.Sprintf("%s and %d more groups (%d sources)", strings.Join(names[:maxGroupNames], ", "),
		len(names)-maxGroupNames, len(e.Sources))
}

// cubeText renders an allowed cube with the rule that allows it.
func cubeText(c reach.Cube) string {
	switch {
	case c.Policy == "" && c.Rule < 0:
		return c.Text()
	default:
		return fmt.Sprintf("%s (%s rule %d)", c.Text(), c.Policy, c.Rule)
	}
}
