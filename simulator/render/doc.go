// Package render writes reachability reports and diffs for people and
// machines: a table, JSON and YAML (the machine contract), and the
// reachability graph in Graphviz DOT and Mermaid. Every writer is
// deterministic: the same report gives the same bytes.
package render
