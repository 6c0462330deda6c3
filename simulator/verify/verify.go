// Package verify checks the simulator against a waypoint's own
// configuration: it evaluates a set of requests to every destination bound
// to a waypoint twice, with the simulator and with the RBAC filters istiod
// generated for that waypoint (envoyrbac), and lists where they disagree.
// egressctl verify and the operator's opt-in verification both run it, so
// the same objects and the same configuration give the same answer.
package verify

import (
	"cmp"
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/ambient-egress/ambient-egress-operator/simulator"
	"github.com/ambient-egress/ambient-egress-operator/simulator/envoyrbac"
	"github.com/ambient-egress/ambient-egress-operator/simulator/reach"
)

// DefaultMaxSources bounds the sources requests come from: the work is
// sources × destination ports × requests, and every source beyond a few
// dozen rarely tells apart what the others do not.
const DefaultMaxSources = 64

// DefaultMaxRequests bounds the requests one check compares (each costs a
// few microseconds both ways); past it the check stops and says so.
const DefaultMaxRequests = 200_000

// maxHTTPCombinations bounds the method × path requests per caller and
// destination; policies naming more values are sampled in order.
const maxHTTPCombinations = 256

// Options bound a check.
type Options struct {
	// MaxSources is how many of the inputs' sources send requests,
	// spread evenly over them in order; 0 is all.
	MaxSources int
	// MaxRequests stops the check after this many requests;
	// DefaultMaxRequests when 0.
	MaxRequests int
	// MaxListed is how many disagreements and requests not compared are
	// described, each; the rest are counted. 0 describes every one.
	MaxListed int
}

// Result is what a check compared.
type Result struct {
	// Compared is the number of requests both sides answered.
	Compared int
	// DestinationPorts is the number of host:port destinations checked.
	DestinationPorts int
	// Skipped counts requests a CUSTOM provider decides: their answer
	// comes from outside the waypoint.
	Skipped int
	// Sources and TotalSources: requests came from Sources of the inputs'
	// TotalSources sources (MaxSources), an unlisted one and a plaintext one.
	Sources, TotalSources int
	// Disagreements say, per request, what each side answered (the first
	// MaxListed); DisagreementCount counts them all.
	Disagreements     []string
	DisagreementCount int
	// NotCompared say which requests one side could not answer, and why
	// (the first MaxListed); NotComparedCount counts them all.
	NotCompared      []string
	NotComparedCount int
	// maxListed is Options.MaxListed.
	maxListed int
	// Truncated is set when MaxRequests stopped the check early.
	Truncated bool
}

// Agrees reports whether every request was compared and none disagreed.
func (r *Result) Agrees() bool {
	return r.DisagreementCount == 0 && r.NotComparedCount == 0
}

func (r *Result) disagree(s string) {
	r.DisagreementCount++
	if r.maxListed == 0 || len(r.Disagreements) < r.maxListed {
		r.Disagreements = append(r.Disagreements, s)
	}
}

func (r *Result) notCompared(s string) {
	r.NotComparedCount++
	if r.maxListed == 0 || len(r.NotCompared) < r.maxListed {
		r.NotCompared = append(r.NotCompared, s)
	}
}

// Summary is one line: what was compared and what was found.
func (r *Result) Summary() string {
	skipped := ""
	if r.Skipped > 0 {
		skipped = fmt.Sprintf(" (%d left out: a CUSTOM provider decides them)", r.Skipped)
	}
	truncated := ""
	if r.Truncated {
		truncated = " (stopped at the request budget)"
	}
	return fmt.Sprintf("compared %d requests on %d destination ports%s%s: %d disagreements, %d not compared",
		r.Compared, r.DestinationPorts, skipped, truncated, r.DisagreementCount, r.NotComparedCount)
}

// Check compiles in's snapshot and compares it with chains, the RBAC
// filters of the waypoint's configuration. Requests come from in's service
// accounts and extra sources (opts.MaxSources of them), one principal the
// inputs do not list and a plaintext caller. It returns ctx's error when
// ctx ends first. The compiler's issues are left to the caller (the report
// shows them); the check runs on what compiles.
func Check(ctx context.Context, in reach.Input, chains envoyrbac.Chains, opts Options) (*Result, error) {
	prog, _ := simulator.Compile(in.Snapshot, in.Options)
	return Run(ctx, prog, in.Snapshot, chains, Callers(in.ServiceAccounts, in.Sources, in.Options.TrustDomain, opts.MaxSources), opts)
}

// CallerSet is who sends the requests of a check.
type CallerSet struct {
	// Principals are "td/ns/NS/sa/SA"; "" is a plaintext caller.
	Principals []string
	// Total is the number of sources in the inputs, of which
	// len(Principals)-2 send requests.
	Total int
}

// Callers are the sources (accounts then extra principals; at most limit
// of them, spread evenly; 0 is all), one principal they do not list
// (whatever the policies give everyone else) and a plaintext caller (""),
// in that order.
func Callers(accounts []reach.Ref, extra []string, trustDomain string, limit int) CallerSet {
	td := cmp.Or(trustDomain, simulator.DefaultTrustDomain)
	all := make([]string, 0, len(accounts)+len(extra))
	for _, a := range accounts {
		all = append(all, td+"/ns/"+a.Namespace+"/sa/"+a.Name)
	}
	all = append(all, extra...)
	n := len(all)
	var out []string
	for i, p := range all {
		// Source i is kept when it starts a new one of limit equal slices.
		if limit > 0 && n > limit && i > 0 && i*limit/n == (i-1)*limit/n {
			continue
		}
		out = append(out, p)
	}
	return CallerSet{Principals: append(out, td+"/ns/egressctl-verify/sa/unlisted", ""), Total: n}
}

// request is one request of the set and how to show it.
type request struct {
	from, host   string
	port         int
	http         bool
	method, path string
	header       [2]string
	sni          string
}

var sourceIP = netip.MustParseAddr("10.0.0.1")

// build is the request as the simulator and as Envoy's RBAC take it.
func (q request) build() (*simulator.Request, *envoyrbac.Request) {
	sim := &simulator.Request{Principal: q.from, SourceIP: sourceIP, Port: q.port, DestHost: q.host, At: simulator.EnforceWaypoint}
	env := &envoyrbac.Request{DirectRemoteIP: sourceIP, RemoteIP: sourceIP, DestinationPort: uint32(q.port)}
	if q.from != "" {
		env.FilterState = map[string]string{"io.istio.peer_principal": "spiffe://" + q.from}
	}
	if !q.http {
		sim.SNI, env.SNI = q.sni, q.sni
		return sim, env
	}
	sim.HTTP, sim.Method, sim.Path, sim.Host = true, q.method, q.path, q.host
	env.HTTP = true
	env.Headers = map[string][]string{":method": {q.method}, ":path": {q.path}, ":authority": {q.host}}
	if q.header[0] != "" {
		sim.Headers = map[string]string{q.header[0]: q.header[1]}
		env.Headers[q.header[0]] = []string{q.header[1]}
	}
	return sim, env
}

// String describes the request, only for what is reported.
func (q request) String() string {
	who := q.from
	if who == "" {
		who = "plaintext"
	}
	if !q.http {
		return fmt.Sprintf("%s:%d TLS sni=%q from %s", q.host, q.port, q.sni, who)
	}
	text := fmt.Sprintf("%s:%d %s %s from %s", q.host, q.port, q.method, q.path, who)
	if q.header[0] != "" {
		text += fmt.Sprintf(" with %s: %s", q.header[0], q.header[1])
	}
	return text
}

// Run compares prog with chains on every request of the set, for every
// ServiceEntry host and port bound to a waypoint.
func Run(ctx context.Context, prog *simulator.Program, snap *simulator.Snapshot, chains envoyrbac.Chains, callers CallerSet, opts Options) (*Result, error) {
	limit := cmp.Or(opts.MaxRequests, DefaultMaxRequests)
	res := &Result{Sources: len(callers.Principals) - 2, TotalSources: callers.Total, maxListed: opts.MaxListed}
	lits := policyLiterals(snap)
	n := 0
	for _, d := range prog.Destinations() {
		if d.Kind != "ServiceEntry" || d.Waypoint == "" {
			continue
		}
		for _, host := range d.Hosts {
			if strings.HasPrefix(host, "*") || d.NotRedirected[host] != "" {
				continue // a wildcard has no one name to ask for; an unredirected host never reaches the waypoint
			}
			for _, port := range d.Ports {
				res.DestinationPorts++
				name, filters, ok := chains.Find(port, host)
				if !ok {
					res.disagree(fmt.Sprintf("%s:%d: the simulator sends it to waypoint %s, but the waypoint's configuration has no filter chain for it (inbound-vip|%d|…|%s)",
						host, port, d.Waypoint, port, host))
					continue
				}
				http := simulator.ChainIsHTTP(d.Protocols[port], true)
				stop := false
				requests(callers.Principals, host, port, http, lits, func(r request) bool {
					if n++; n > limit {
						res.Truncated, stop = true, true
						return false
					}
					if n%256 == 0 && ctx.Err() != nil {
						stop = true
						return false
					}
					res.compare(prog, name, filters, r)
					return true
				})
				if err := ctx.Err(); err != nil {
					return nil, err
				}
				if stop {
					return res, nil
				}
			}
		}
	}
	return res, nil
}

func (r *Result) compare(prog *simulator.Program, chain string, filters []envoyrbac.Filter, q request) {
	sim, env := q.build()
	got, err := prog.Eval(sim)
	if err != nil {
		r.notCompared(fmt.Sprintf("%s: the simulator: %v", q, err))
		return
	}
	if got.CustomProvider != "" {
		r.Skipped++
		return
	}
	want, err := envoyrbac.Evaluate(filters, env)
	if err != nil {
		r.notCompared(fmt.Sprintf("%s: chain %s: %v", q, chain, err))
		return
	}
	r.Compared++
	if (got.Verdict == simulator.Allow) == want.Allowed {
		return
	}
	by := "no ALLOW policy matched"
	switch {
	case want.Allowed && want.Policy != "":
		by = "allowed by " + want.Policy
	case want.Allowed:
		by = "no RBAC filter denied it"
	case want.Policy != "":
		by = fmt.Sprintf("denied by %s in %s", want.Policy, want.Filter)
	}
	verdict := "DENY"
	if want.Allowed {
		verdict = "ALLOW"
	}
	r.disagree(fmt.Sprintf("%s: simulator %s (%s); waypoint %s, %s", q, got.Verdict, got.Reason, verdict, by))
}

// literals are the values the policies name, which the request set uses so
// that every rule gets requests it matches and requests it does not.
type literals struct {
	methods, paths []string
	headers        [][2]string
	snis           []string
}

func policyLiterals(snap *simulator.Snapshot) literals {
	l := literals{methods: []string{"GET", "POST"}, paths: []string{"/"}}
	for _, ap := range snap.AuthorizationPolicies {
		for _, r := range ap.Spec.GetRules() {
			for _, to := range r.GetTo() {
				op := to.GetOperation()
				l.methods = append(l.methods, op.GetMethods()...)
				l.methods = append(l.methods, op.GetNotMethods()...)
				for _, p := range slices.Concat(op.GetPaths(), op.GetNotPaths()) {
					l.paths = append(l.paths, concretePath(p))
				}
			}
			for _, c := range r.GetWhen() {
				name, ok := strings.CutPrefix(c.GetKey(), "request.headers[")
				if ok {
					name = strings.ToLower(strings.TrimSuffix(name, "]"))
					for _, v := range slices.Concat(c.GetValues(), c.GetNotValues()) {
						l.headers = append(l.headers, [2]string{name, strings.ReplaceAll(v, "*", "x")})
					}
				}
				if c.GetKey() == simulator.KeySNI {
					for _, v := range slices.Concat(c.GetValues(), c.GetNotValues()) {
						l.snis = append(l.snis, strings.ReplaceAll(v, "*", "x"))
					}
				}
			}
		}
	}
	slices.Sort(l.methods)
	slices.Sort(l.paths)
	l.methods, l.paths = slices.Compact(l.methods), slices.Compact(l.paths)
	return l
}

// concretePath is a path a path pattern matches: wildcards and template
// operators filled with a segment.
func concretePath(p string) string {
	p = strings.NewReplacer("{**}", "a/b", "{*}", "a", "**", "a/b").Replace(p)
	switch {
	case p == "*":
		return "/x"
	case strings.HasPrefix(p, "*"):
		return "/x" + p[1:]
	case strings.HasSuffix(p, "*"):
		return p[:len(p)-1] + "x"
	}
	return p
}

// requests calls yield with each request of the set for one destination
// port, until yield returns false.
func requests(callers []string, host string, port int, http bool, l literals, yield func(request) bool) {
	for _, from := range callers {
		base := request{from: from, host: host, port: port, http: http}
		if !http {
			for _, sni := range slices.Concat([]string{host, "other.invalid", ""}, l.snis) {
				r := base
				r.sni = sni
				if !yield(r) {
					return
				}
			}
			continue
		}
		n := 0
		for _, method := range l.methods {
			for _, path := range l.paths {
				if n++; n > maxHTTPCombinations {
					break
				}
				r := base
				r.method, r.path = method, path
				if !yield(r) {
					return
				}
			}
		}
		for _, h := range l.headers {
			r := base
			r.method, r.path, r.header = "GET", "/", h
			if !yield(r) {
				return
			}
		}
	}
}

// CodeModelDisagrees is the finding the operator adds to a report that a
// check found answering some requests differently from the waypoint.
const CodeModelDisagrees = "ModelDisagrees"
