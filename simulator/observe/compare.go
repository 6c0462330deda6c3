package observe

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/ambient-egress/ambient-egress-operator/simulator/netpol"
	"github.com/ambient-egress/ambient-egress-operator/simulator/reach"
)

// MaxFindingsPerCode bounds each code's findings; the rest are counted in
// Comparison.Omitted.
const MaxFindingsPerCode = 25

// othersGroup is the group of sources the report lists nowhere, as the
// report names it; observed callers outside the inputs belong to it.
const othersGroup = "others"

// Hosts are the hosts of the report's destinations bound to a waypoint,
// sorted: the ones whose traffic a waypoint reports.
func Hosts(r *reach.Report) []string {
	var out []string
	for _, d := range r.Destinations {
		if d.Waypoint != nil {
			out = append(out, d.Host)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// DirectHosts are the hosts of the report's destinations bound to no
// waypoint, sorted: traffic to them leaves past every waypoint, and only
// ztunnel reports it.
func DirectHosts(r *reach.Report) []string {
	var out []string
	for _, d := range r.Destinations {
		if d.Waypoint == nil {
			out = append(out, d.Host)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// Paths traffic takes.
const (
	// ViaWaypoint is traffic a waypoint handled and reported.
	ViaWaypoint = "waypoint"
	// ViaDirect is traffic ztunnel sent straight out, past every
	// waypoint, to a ServiceEntry bound to none.
	ViaDirect = "direct"
)

// Row is the observed traffic of one source group to one host, beside what
// the report allows it.
type Row struct {
	// Via is ViaWaypoint or ViaDirect.
	Via string
	// Group is the report's source group ("default/admin", "default/x +3",
	// "others" for callers the report lists nowhere).
	Group string
	// Sources are the group's principals seen, at most five.
	Sources []string
	// Host is the destination host.
	Host string
	// Access is the most the report allows the group on any port of the
	// host (all, partial, none, unknown): at the waypoint, or for direct
	// traffic as the NetworkPolicies (and the lockdown) let it out.
	Access reach.Access
	// Requests, Denied (HTTP 403) and Connections are summed over the
	// group's sources.
	Requests, Denied, Connections int64
	// LastSeen is the latest of the sources'.
	LastSeen time.Time
}

// Comparison is the observed traffic beside the report.
type Comparison struct {
	Rows     []Row
	Findings []reach.Finding
	// Omitted counts the findings left out past MaxFindingsPerCode, by code.
	Omitted map[string]int
}

// Compare sets the traffic beside the report: one row per source group and
// host, and the findings: DeniedTraffic for a group the waypoint keeps
// denying, UnexpectedTraffic for traffic that got through where the report
// allows the group nothing (the model or its inputs are wrong), and
// UnusedGrant for access the report gives a set of sources to a host that
// none of them used in the window.
func Compare(r *reach.Report, t Traffic, window time.Duration) *Comparison {
	idx := newIndex(r)
	out := &Comparison{Omitted: map[string]int{}}
	rows := map[[3]string]*Row{}
	add := func(f Flow, via string) *Row {
		group := idx.group(f.Source)
		key := [3]string{group, f.Host, via}
		row := rows[key]
		if row == nil {
			access := idx.access(f.Source, f.Host)
			if via == ViaDirect {
				access = idx.directAccess(f.Source, f.Host)
			}
			row = &Row{Via: via, Group: group, Host: f.Host, Access: access}
			rows[key] = row
		}
		if len(row.Sources) < 5 {
			row.Sources = append(row.Sources, sourceName(f.Source))
		}
		if f.LastSeen.After(row.LastSeen) {
			row.LastSeen = f.LastSeen
		}
		return row
	}
	for _, f := range t.Flows {
		if f.Requests+f.Connections > 0 {
			row := add(f, ViaWaypoint)
			row.Requests += f.Requests
			row.Denied += f.Denied
			row.Connections += f.Connections
		}
		if f.Direct > 0 {
			add(f, ViaDirect).Connections += f.Direct
		}
	}
	for _, row := range rows {
		out.Rows = append(out.Rows, *row)
	}
	// By host, then group, "others" last as in the report's groups.
	slices.SortFunc(out.Rows, func(a, b Row) int {
		return cmp.Or(strings.Compare(a.Host, b.Host), cmpBool(a.Group == othersGroup, b.Group == othersGroup), strings.Compare(a.Group, b.Group), strings.Compare(a.Via, b.Via))
	})
	over := Window(window)
	for _, row := range out.Rows {
		passed := row.Requests - row.Denied + row.Connections
		if row.Denied > 0 {
			out.add(reach.Finding{Severity: reach.SeverityWarning, Code: CodeDeniedTraffic, Object: idx.serviceEntry(row.Host),
				Message: fmt.Sprintf("%s sent %d requests to %s in the last %s, and the waypoint denied %d (HTTP 403); the report gives it %s access",
					groupText(row), row.Requests, row.Host, over, row.Denied, row.Access),
				Fix: "if the workload needs it, grant the access (spec.destinations[].access, or an ALLOW policy); if not, find why it keeps calling"})
		}
		if row.Via == ViaDirect {
			if row.Access == reach.AccessNone {
				out.add(reach.Finding{Severity: reach.SeverityWarning, Code: CodeUnexpectedTraffic, Object: idx.serviceEntry(row.Host),
					Message: fmt.Sprintf("%s opened %d connections to %s in the last %s straight out, past every waypoint, where the report says its NetworkPolicies (and the lockdown) block that: the report, or the objects it was computed from, are not what the cluster enforces",
						groupText(row), row.Connections, row.Host, over),
					Fix: "check the NetworkPolicies of the source namespace and that the cluster's network plugin enforces them; a policy the operator does not watch, or a plugin that ignores egress policies, are the usual causes"})
			}
			continue
		}
		if passed > 0 && row.Access == reach.AccessNone {
			out.add(reach.Finding{Severity: reach.SeverityWarning, Code: CodeUnexpectedTraffic, Object: idx.serviceEntry(row.Host),
				Message: fmt.Sprintf("%s got %d requests and %d connections through to %s in the last %s, where the report allows it nothing: the report, or the objects it was computed from, are not what the waypoint enforces",
					groupText(row), row.Requests-row.Denied, row.Connections, row.Host, over),
				Fix: "compare the policies the waypoint enforces with the report's inputs (egressctl verify with the waypoint's config dump); a policy outside the inputs, a changed source identity or a stale report are the usual causes"})
		}
	}
	idx.unusedGrants(t, over, out)
	return out
}

func cmpBool(a, b bool) int {
	switch {
	case a == b:
		return 0
	case a:
		return 1
	}
	return -1
}

func (c *Comparison) add(f reach.Finding) {
	n := 0
	for _, g := range c.Findings {
		if g.Code == f.Code {
			n++
		}
	}
	if n >= MaxFindingsPerCode {
		c.Omitted[f.Code]++
		return
	}
	c.Findings = append(c.Findings, f)
}

// rank orders accesses from least to most: a row shows the most the
// report allows on any port.
var rank = map[reach.Access]int{reach.AccessNone: 0, reach.AccessUnknown: 1, reach.AccessPartial: 2, reach.AccessAll: 3}

// index answers, for a principal and a host, the report's group and access.
type index struct {
	r       *reach.Report
	groupOf map[string]string
	// byHost are the destinations (indexes into r.Destinations) bound to
	// a waypoint, by host; entries the entries of each destination.
	byHost  map[string][]int
	entries map[string][]*reach.Entry
}

func newIndex(r *reach.Report) *index {
	idx := &index{r: r, groupOf: map[string]string{}, byHost: map[string][]int{}, entries: map[string][]*reach.Entry{}}
	for _, g := range r.Groups {
		for _, p := range g.Principals {
			idx.groupOf[p] = g.Name
		}
	}
	for i, d := range r.Destinations {
		if d.Waypoint != nil {
			idx.byHost[d.Host] = append(idx.byHost[d.Host], i)
		}
	}
	for i := range r.Reachability {
		e := &r.Reachability[i]
		idx.entries[e.Destination] = append(idx.entries[e.Destination], e)
	}
	return idx
}

func (idx *index) group(principal string) string {
	if g, ok := idx.groupOf[principal]; ok {
		return g
	}
	return othersGroup
}

// destinations of a host as the metrics name it: the report's own, else
// those of a wildcard host it falls under.
func (idx *index) destinations(host string) []int {
	if ds, ok := idx.byHost[host]; ok {
		return ds
	}
	var out []int
	for h, ds := range idx.byHost {
		if rest, ok := strings.CutPrefix(h, "*."); ok && strings.HasSuffix(host, "."+rest) {
			out = append(out, ds...)
		}
	}
	slices.Sort(out)
	return out
}

// directAccess is the most the report's direct rows let principal send to
// any port of host, a ServiceEntry host bound to no waypoint: unknown when
// no row covers the principal's namespace or account.
func (idx *index) directAccess(principal, host string) reach.Access {
	ns, sa := "", ""
	if _, rest, ok := strings.Cut(principal, "/ns/"); ok {
		ns, sa, _ = strings.Cut(rest, "/sa/")
	}
	best, found := reach.AccessNone, false
	for _, d := range idx.r.Destinations {
		if d.Waypoint != nil || d.Host != host {
			continue
		}
		for _, e := range idx.r.Direct {
			covers := slices.Contains(e.Sources, ns+"/*") || slices.Contains(e.Sources, ns+"/"+sa)
			if e.Destination != d.Key() || ns == "" || !covers {
				continue
			}
			found = true
			a := map[netpol.Reach]reach.Access{netpol.Direct: reach.AccessAll, netpol.Partial: reach.AccessPartial, netpol.Blocked: reach.AccessNone}[e.Access]
			if a == "" {
				a = reach.AccessUnknown
			}
			if rank[a] > rank[best] {
				best = a
			}
		}
	}
	if !found {
		return reach.AccessUnknown
	}
	return best
}

func (idx *index) serviceEntry(host string) string {
	if ds := idx.destinations(host); len(ds) > 0 {
		return "ServiceEntry " + idx.r.Destinations[ds[0]].ServiceEntry
	}
	for _, d := range idx.r.Destinations {
		if d.Host == host {
			return "ServiceEntry " + d.ServiceEntry
		}
	}
	return "ServiceEntry " + host
}

// lists reports whether e names principal: a report's Sources are sorted
// (reach sorts every list), so a binary search, with no set to build.
func (idx *index) lists(e *reach.Entry, principal string) bool {
	_, found := slices.BinarySearch(e.Sources, principal)
	return found
}

// entryFor is the entry of destination key that covers principal: the one
// listing it, else the one for other sources.
func (idx *index) entryFor(key, principal string) *reach.Entry {
	var others *reach.Entry
	for _, e := range idx.entries[key] {
		if e.OtherSources {
			others = e
		} else if principal != "" && idx.lists(e, principal) {
			return e
		}
	}
	return others
}

// access is the most the report allows principal on any port of host.
func (idx *index) access(principal, host string) reach.Access {
	best := reach.AccessNone
	for _, di := range idx.destinations(host) {
		if e := idx.entryFor(idx.r.Destinations[di].Key(), principal); e != nil && rank[e.Access] > rank[best] {
			best = e.Access
		}
	}
	return best
}

// unusedGrants adds an UnusedGrant per host and set of sources the report
// gives access to on some port of it, when none of those sources got
// traffic through to the host in the window.
func (idx *index) unusedGrants(t Traffic, over string, out *Comparison) {
	used := map[string][]string{} // host pattern → sources with traffic that passed
	for _, f := range t.Flows {
		if f.Requests-f.Denied+f.Connections <= 0 {
			continue
		}
		for _, di := range idx.destinations(f.Host) {
			h := idx.r.Destinations[di].Host
			used[h] = append(used[h], f.Source)
		}
	}
	type grant struct {
		host, who string
		ports     []string
		policy    string
	}
	var grants []*grant
	seen := map[[2]string]*grant{}
	for _, d := range idx.r.Destinations {
		if d.Waypoint == nil {
			continue
		}
		// The entries the sources with traffic fall in: one pass over
		// them, not one per entry.
		usedEntries := map[*reach.Entry]bool{}
		for _, p := range used[d.Host] {
			usedEntries[idx.entryFor(d.Key(), p)] = true
		}
		for _, e := range idx.entries[d.Key()] {
			if e.Access == reach.AccessNone || e.Access == reach.AccessUnknown || usedEntries[e] {
				continue
			}
			who := entrySources(e)
			g := seen[[2]string{d.Host, who}]
			if g == nil {
				g = &grant{host: d.Host, who: who, policy: allowedBy(e)}
				seen[[2]string{d.Host, who}] = g
				grants = append(grants, g)
			}
			g.ports = append(g.ports, fmt.Sprintf("%d (%s)", d.Port, e.Access))
		}
	}
	for _, g := range grants {
		object := idx.serviceEntry(g.host)
		if g.policy != "" {
			object = "AuthorizationPolicy " + g.policy
		}
		out.add(reach.Finding{Severity: reach.SeverityInfo, Code: CodeUnusedGrant, Object: object,
			Message: fmt.Sprintf("%s may send to %s on port %s, but none of it was seen in the last %s", g.who, g.host, strings.Join(g.ports, ", "), over),
			Fix:     "if the access is not needed, narrow or remove the grant: least privilege, from evidence"})
	}
}

// allowedBy is the first policy whose ALLOW rule decides e's requests.
func allowedBy(e *reach.Entry) string {
	for _, d := range e.DecidedBy {
		if d.Effect == "allow" && d.Policy != "" {
			return d.Policy
		}
	}
	return ""
}

// entrySources describes who an entry covers.
func entrySources(e *reach.Entry) string {
	if e.OtherSources {
		return "every source the report lists nowhere else"
	}
	names := make([]string, 0, 3)
	for _, s := range e.Sources[:min(3, len(e.Sources))] {
		names = append(names, sourceName(s))
	}
	text := strings.Join(names, ", ")
	if len(e.Sources) > 3 {
		text += fmt.Sprintf(" and %d more", len(e.Sources)-3)
	}
	return text
}

// groupText names a row's group for a message.
func groupText(row Row) string {
	if row.Group == othersGroup {
		return "sources no policy names (" + strings.Join(row.Sources, ", ") + ")"
	}
	return "source group " + row.Group
}

// sourceName is "namespace/account" of a principal, or "no identity".
func sourceName(p string) string {
	if p == "" {
		return "no identity"
	}
	return reach.ShortPrincipal(p)
}

// Window prints a window as "24h", or as Go prints other durations.
func Window(d time.Duration) string {
	if d%time.Hour == 0 {
		return fmt.Sprintf("%dh", d/time.Hour)
	}
	return d.Round(time.Second).String()
}
