package reach

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"reflect"
	"runtime"
	"slices"
	"sort"
	"strings"

	"golang.org/x/sync/errgroup"
)

// A report lists, in each entry, the principals it covers. At scale that is
// most of the JSON: a policy naming "*/sa/sa-3" singles out that account in
// every namespace, and a DENY rule then carves a few of them out, so one
// entry lists hundreds of principals, in many entries. The JSON form writes
// such lists compactly, and exactly: Sources may hold Istio-style principal
// patterns — "*/sa/NAME" (that account name in every namespace) and
// "TD/ns/NS/sa/*" (every account of a namespace) — and NotSources the known
// principals the patterns match but the entry does not cover. The entry
// covers exactly the known sources (the principals of Groups) that match an
// item of Sources and no item of NotSources. Decoding expands them back, so
// Go code always sees full lists.

// Compaction thresholds: a pattern replaces at least minPatternMembers
// principals of the entry, with at most one exception for every
// maxExceptionRatio of them, so small reports stay plain lists and every
// pattern pays for itself.
const (
	minPatternMembers = 8
	maxExceptionRatio = 4
)

// plainReport is Report without its methods, to encode and decode the
// fields with encoding/json's defaults.
type plainReport Report

// MarshalJSON writes the report with each entry's sources compacted
// against the known sources of Groups. At scale the entries are most of the
// bytes, so they are encoded on every core, each chunk of entries by one
// goroutine; the compaction before it shares scratch space and stays serial.
func (r Report) MarshalJSON() ([]byte, error) {
	chunks, err := encodeEntries(r.compactedEntries(), "", "")
	if err != nil {
		return nil, err
	}
	out := wireReport{Destinations: r.Destinations, Reachability: make([]json.RawMessage, 0, len(r.Reachability)),
		Direct: r.Direct, Groups: r.Groups, Findings: r.Findings, Probes: r.Probes}
	for _, c := range chunks {
		out.Reachability = append(out.Reachability, c...)
	}
	data, err := json.Marshal(out)
	if err != nil {
		return nil, fmt.Errorf("encode report: %w", err)
	}
	return data, nil
}

// WriteIndentedJSON writes what json.Indent makes of MarshalJSON's output
// with a two-space indent, and a newline. It never builds the compact form:
// the entries (most of a large report) are indented on every core and
// streamed, where indenting the whole report afterwards scanned megabytes
// twice more on one core.
func (r Report) WriteIndentedJSON(w io.Writer) error {
	const indent = "  "
	chunks, err := encodeEntries(r.compactedEntries(), indent+indent, indent)
	if err != nil {
		return err
	}
	// A bufio.Writer keeps its first error and Flush returns it, so the
	// writes below need no check of their own.
	bw := bufio.NewWriterSize(w, 64<<10)
	_, _ = bw.WriteString("{")
	// The fields of wireReport, in its order and with its tags (which
	// mirror Report's), so the two encodings cannot drift apart.
	v := reflect.ValueOf(wireReport{Destinations: r.Destinations, Direct: r.Direct, Groups: r.Groups, Findings: r.Findings, Probes: r.Probes})
	written := 0
	for i, f := range reflect.VisibleFields(v.Type()) {
		name, opts, _ := strings.Cut(f.Tag.Get("json"), ",")
		if f.Name != "Reachability" && opts == "omitempty" && v.Field(i).Len() == 0 {
			continue
		}
		if written++; written > 1 {
			_, _ = bw.WriteString(",")
		}
		key, err := json.Marshal(name)
		if err != nil {
			return fmt.Errorf("encode report: %w", err)
		}
		_, _ = bw.WriteString("\n" + indent)
		_, _ = bw.Write(key)
		_, _ = bw.WriteString(": ")
		if f.Name == "Reachability" {
			writeEntries(bw, chunks, indent)
			continue
		}
		data, err := json.MarshalIndent(v.Field(i).Interface(), indent, indent)
		if err != nil {
			return fmt.Errorf("encode report: %w", err)
		}
		_, _ = bw.Write(data)
	}
	_, _ = bw.WriteString("\n}\n")
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write JSON: %w", err)
	}
	return nil
}

// writeEntries writes the encoded entries as the elements of a JSON array
// whose brackets sit at indent, as json.Indent places them.
func writeEntries(bw *bufio.Writer, chunks [][]json.RawMessage, indent string) {
	n := 0
	for _, c := range chunks {
		n += len(c)
	}
	if n == 0 {
		_, _ = bw.WriteString("[]")
		return
	}
	_, _ = bw.WriteString("[")
	for _, c := range chunks {
		for _, e := range c {
			_, _ = bw.WriteString("\n" + indent + indent)
			_, _ = bw.Write(e)
			if n--; n > 0 {
				_, _ = bw.WriteString(",")
			}
		}
	}
	_, _ = bw.WriteString("\n" + indent + "]")
}

// compactedEntries is the entries with their sources written compactly.
func (r Report) compactedEntries() []Entry {
	u := newUniverse(r.Groups)
	entries := make([]Entry, len(r.Reachability))
	for i, e := range r.Reachability {
		entries[i] = e
		entries[i].Sources, entries[i].NotSources = u.compact(e.Sources)
	}
	return entries
}

// encodeEntries encodes the entries on every core, in chunks kept in
// order; with a prefix or an indent, each entry is indented as
// json.MarshalIndent does.
func encodeEntries(entries []Entry, prefix, indent string) ([][]json.RawMessage, error) {
	workers := runtime.GOMAXPROCS(0)
	size := max(1, (len(entries)+workers-1)/workers)
	var chunks [][]json.RawMessage
	for start := 0; start < len(entries); start += size {
		chunks = append(chunks, make([]json.RawMessage, min(start+size, len(entries))-start))
	}
	var g errgroup.Group
	for c, chunk := range chunks {
		g.Go(func() error {
			for i := range chunk {
				var data []byte
				var err error
				if prefix == "" && indent == "" {
					data, err = json.Marshal(entries[c*size+i])
				} else {
					data, err = json.MarshalIndent(entries[c*size+i], prefix, indent)
				}
				if err != nil {
					return fmt.Errorf("encode report: %w", err)
				}
				chunk[i] = data
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return chunks, nil
}

// wireReport is Report with its entries already encoded. Its fields are
// Report's, in Report's order (TestWireReportMirrorsReport keeps them so).
type wireReport struct {
	Destinations []Destination     `json:"destinations"`
	Reachability []json.RawMessage `json:"reachability"`
	Direct       []DirectEntry     `json:"direct"`
	Groups       []Group           `json:"groups"`
	Findings     []Finding         `json:"findings"`
	Probes       []ProbeResult     `json:"probes,omitempty"`
}

// UnmarshalJSON reads a report and expands each entry's sources to the
// full list of the principals it covers.
func (r *Report) UnmarshalJSON(data []byte) error {
	var in plainReport
	if err := json.Unmarshal(data, &in); err != nil {
		return err
	}
	u := newUniverse(in.Groups)
	for i := range in.Reachability {
		e := &in.Reachability[i]
		e.Sources, e.NotSources = u.expand(e.Sources, e.NotSources), nil
	}
	*r = Report(in)
	return nil
}

// universe is the known sources, indexed by account name and namespace,
// with scratch space compact reuses from entry to entry.
type universe struct {
	all   []string
	index map[string]int32
	// name and ns are each principal's account name and "TD/ns/NS" key
	// ids, -1 for irregular principals (not TD/ns/NS/sa/SA); a pattern may
	// still match those, so they count as its members.
	name, ns   []int32
	irregular  []int32
	names, nss []string  // by id
	byName     [][]int32 // name id → principals
	byNS       [][]int32 // ns id → principals
	in, left   []bool
	nameCount  []int
	nsCount    []int
}

func newUniverse(groups []Group) *universe {
	u := &universe{index: map[string]int32{}}
	nameIDs, nsIDs := map[string]int32{}, map[string]int32{}
	id := func(ids map[string]int32, list *[]string, by *[][]int32, key string) int32 {
		i, ok := ids[key]
		if !ok {
			i = int32(len(*list))
			ids[key] = i
			*list = append(*list, key)
			*by = append(*by, nil)
		}
		return i
	}
	for _, g := range groups {
		for _, p := range g.Principals {
			if _, dup := u.index[p]; dup {
				continue
			}
			i := int32(len(u.all))
			u.index[p] = i
			u.all = append(u.all, p)
			td, ns, sa, ok := splitPrincipal(p)
			if !ok {
				u.name, u.ns = append(u.name, -1), append(u.ns, -1)
				u.irregular = append(u.irregular, i)
				continue
			}
			n := id(nameIDs, &u.names, &u.byName, sa)
			s := id(nsIDs, &u.nss, &u.byNS, td+"/ns/"+ns)
			u.name, u.ns = append(u.name, n), append(u.ns, s)
			u.byName[n] = append(u.byName[n], i)
			u.byNS[s] = append(u.byNS[s], i)
		}
	}
	u.in, u.left = make([]bool, len(u.all)), make([]bool, len(u.all))
	u.nameCount, u.nsCount = make([]int, len(u.names)), make([]int, len(u.nss))
	return u
}

// splitPrincipal splits "TD/ns/NS/sa/SA"; ok is false for other forms.
func splitPrincipal(p string) (td, ns, sa string, ok bool) {
	parts := strings.Split(p, "/")
	if len(parts) != 5 || parts[1] != "ns" || parts[3] != "sa" {
		return "", "", "", false
	}
	return parts[0], parts[2], parts[4], true
}

// compact returns sources as patterns, exceptions and the principals no
// pattern covers, all sorted; small or irregular lists come back as they
// are.
func (u *universe) compact(sources []string) (items, except []string) {
	if len(sources) < minPatternMembers {
		return sources, nil
	}
	ids := make([]int32, 0, len(sources))
	for _, p := range sources {
		i, ok := u.index[p]
		if !ok {
			return sources, nil // a principal no group lists: keep the list
		}
		ids = append(ids, i)
	}
	for _, i := range ids {
		u.in[i], u.left[i] = true, true
		if n := u.name[i]; n >= 0 {
			u.nameCount[n]++
			u.nsCount[u.ns[i]]++
		}
	}
	defer func() {
		for _, i := range ids {
			u.in[i], u.left[i] = false, false
			if n := u.name[i]; n >= 0 {
				u.nameCount[n], u.nsCount[u.ns[i]] = 0, 0
			}
		}
	}()
	var patterns []string
	exceptions := map[int32]bool{}
	// try covers the members of one candidate pattern when enough of them
	// are left to cover, most of them are in the entry and few are not.
	try := func(pattern string, members []int32) {
		for _, i := range u.irregular {
			if principalMatches(pattern, u.all[i]) {
				members = append(slices.Clip(members), i)
			}
		}
		covered, inside := 0, 0
		for _, m := range members {
			if u.left[m] {
				covered++
			}
			if u.in[m] {
				inside++
			}
		}
		if covered < minPatternMembers || (len(members)-inside)*maxExceptionRatio > inside {
			return
		}
		patterns = append(patterns, pattern)
		for _, m := range members {
			if u.in[m] {
				u.left[m] = false
			} else {
				exceptions[m] = true
			}
		}
	}
	for _, n := range candidates(ids, u.name, u.nameCount, u.names) {
		try("*/sa/"+u.names[n], u.byName[n])
	}
	for _, s := range candidates(ids, u.ns, u.nsCount, u.nss) {
		try(u.nss[s]+"/sa/*", u.byNS[s])
	}
	if len(patterns) == 0 {
		return sources, nil
	}
	items = patterns
	for _, i := range ids {
		if u.left[i] {
			items = append(items, u.all[i])
		}
	}
	sort.Strings(items)
	for i := range exceptions {
		except = append(except, u.all[i])
	}
	sort.Strings(except)
	return items, except
}

// candidates lists the distinct keys (name or namespace ids) of the
// principals ids that count at least minPatternMembers, most frequent
// first, then by key, so the largest patterns are tried first.
func candidates(ids, keyOf []int32, count []int, keys []string) []int32 {
	var out []int32
	seen := map[int32]bool{}
	for _, i := range ids {
		k := keyOf[i]
		if k >= 0 && count[k] >= minPatternMembers && !seen[k] {
			seen[k] = true
			out = append(out, k)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if count[out[i]] != count[out[j]] {
			return count[out[i]] > count[out[j]]
		}
		return keys[out[i]] < keys[out[j]]
	})
	return out
}

// expand returns the known sources items cover, less except, sorted;
// plain principals are kept even when they are not known sources.
func (u *universe) expand(items, except []string) []string {
	patterned := len(except) > 0
	for _, it := range items {
		if strings.Contains(it, "*") {
			patterned = true
		}
	}
	if !patterned {
		return items
	}
	excluded := make(map[string]bool, len(except))
	for _, p := range except {
		excluded[p] = true
	}
	set := map[string]bool{}
	for _, it := range items {
		if !strings.Contains(it, "*") {
			if !excluded[it] {
				set[it] = true
			}
			continue
		}
		for _, p := range u.all {
			if !excluded[p] && principalMatches(it, p) {
				set[p] = true
			}
		}
	}
	out := make([]string, 0, len(set))
	for p := range set {
		out = append(out, p)
	}
	sort.Strings(out)
	return out
}

// principalMatches is Istio's principal matching: exact, "*", a prefix
// ("x*") or a suffix ("*x").
func principalMatches(pattern, p string) bool {
	switch {
	case pattern == "*":
		return true
	case strings.HasPrefix(pattern, "*"):
		return strings.HasSuffix(p, pattern[1:])
	case strings.HasSuffix(pattern, "*"):
		return strings.HasPrefix(p, pattern[:len(pattern)-1])
	}
	return p == pattern
}
