package main

import (
	"cmp"
	"fmt"
	"net/netip"
	"os"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/ambient-egress/ambient-egress-operator/simulator"
	"github.com/ambient-egress/ambient-egress-operator/simulator/envoyrbac"
)

// exitDisagree means verify found requests on which the simulator and the
// waypoint's configuration disagree, or that it could not compare.
const exitDisagree = 1

// verifyOptions are the flags of egressctl verify.
type verifyOptions struct {
	input      inputOptions
	configDump string
	maxSources int
	meshFlags
}

// defaultMaxSources bounds the sources verify sends requests from: the
// work is sources × destination ports × requests, and every source beyond
// a few dozen rarely tells apart what the others do not.
const defaultMaxSources = 64

func newVerifyCommand() *cobra.Command {
	o := &verifyOptions{}
	cmd := &cobra.Command{
		Use:   "verify -f PATH --config-dump FILE [flags]",
		Short: "Check the simulator against a waypoint's own configuration",
		Long: "verify evaluates a set of requests to every destination bound to a waypoint in the manifests twice:\n" +
			"with the simulator, and with the RBAC filters of the waypoint's configuration dump (Envoy's\n" +
			"/config_dump, or istioctl proxy-config all <waypoint pod> -o json), as Envoy evaluates them. The\n" +
			"requests come from every source in the inputs, one caller they do not list and a plaintext one,\n" +
			"with the methods, paths, header values and server names the policies name. It prints each\n" +
			"disagreement. Exit codes: 0 they agree, 1 disagreements (or requests it could not compare), 2 bad input.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return o.run(cmd) },
	}
	o.input.bindFlags(cmd, "manifest file or directory, - for standard input (repeatable)")
	cmd.Flags().StringVar(&o.configDump, "config-dump", "", "the waypoint's Envoy configuration dump (JSON)")
	cmd.Flags().IntVar(&o.maxSources, "max-sources", defaultMaxSources, "at most this many of the inputs' sources send requests, spread evenly over them in order (0: all)")
	o.bind(cmd.Flags())
	return cmd
}

func (o *verifyOptions) run(cmd *cobra.Command) error {
	if o.configDump == "" {
		return badInput("--config-dump: give the waypoint's configuration dump (istioctl proxy-config all <waypoint pod> -o json)")
	}
	data, err := os.ReadFile(o.configDump)
	if err != nil {
		return badInput("--config-dump: %w", err)
	}
	chains, err := envoyrbac.ParseConfigDump(data)
	if err != nil {
		return badInput("--config-dump %s: %w", o.configDump, err)
	}
	opts, err := o.options()
	if err != nil {
		return err
	}
	m, err := o.input.load(cmd.InOrStdin())
	if err != nil {
		return err
	}
	prog, found := simulator.Compile(m.snap, opts)
	if issues := slices.Concat(m.issues, found); issues.HasErrors() {
		return badInput("invalid input:\n%s", renderIssues(issues.Filter(simulator.SeverityError)))
	}
	if o.maxSources < 0 {
		return badInput("--max-sources: %d is negative", o.maxSources)
	}
	callers, total := verifyCallers(m, opts, o.maxSources)
	res := verify(prog, m.snap, chains, callers)
	if len(callers)-2 < total {
		fmt.Fprintf(cmd.OutOrStdout(), "requests from %d of the %d sources in the inputs (--max-sources), an unlisted one and a plaintext one\n", len(callers)-2, total)
	}
	res.print(cmd.OutOrStdout())
	if len(res.disagreements)+len(res.unevaluated) > 0 {
		return &exitError{code: exitDisagree, err: fmt.Errorf("%d disagreements, %d requests not compared",
			len(res.disagreements), len(res.unevaluated))}
	}
	return nil
}

// verifyCallers are the sources of the inputs (at most max of them, spread
// evenly; 0 is all), one principal they do not list (whatever the
// policies give everyone else) and a plaintext caller (""), in that order,
// and how many sources the inputs have.
func verifyCallers(m *manifests, opts simulator.Options, limit int) ([]string, int) {
	td := cmp.Or(opts.TrustDomain, simulator.DefaultTrustDomain)
	var out []string
	n := len(m.accounts)
	for i, a := range m.accounts {
		// Source i is kept when it starts a new one of limit equal slices.
		if limit > 0 && n > limit && i*limit/n == (i-1)*limit/n && i > 0 {
			continue
		}
		out = append(out, td+"/ns/"+a.Namespace+"/sa/"+a.Name)
	}
	return append(out, td+"/ns/egressctl-verify/sa/unlisted", ""), n
}

// verifyResult is what verify compared.
type verifyResult struct {
	compared, destinations, skipped int
	disagreements, unevaluated      []string
}

// verifyRequest is one request of the set and how to show it.
type verifyRequest struct {
	sim  *simulator.Request
	env  *envoyrbac.Request
	text string
}

// verify compares the simulator with the chains on every request of the
// set, for every ServiceEntry host and port bound to a waypoint.
func verify(prog *simulator.Program, snap *simulator.Snapshot, chains envoyrbac.Chains, callers []string) *verifyResult {
	res := &verifyResult{}
	lits := policyLiterals(snap)
	for _, d := range prog.Destinations() {
		if d.Kind != "ServiceEntry" || d.Waypoint == "" {
			continue
		}
		for _, host := range d.Hosts {
			if strings.HasPrefix(host, "*") || d.NotRedirected[host] != "" {
				continue // a wildcard has no one name to ask for; an unredirected host never reaches the waypoint
			}
			for _, port := range d.Ports {
				res.destinations++
				name, filters, ok := chains.Find(port, host)
				if !ok {
					res.disagreements = append(res.disagreements, fmt.Sprintf("%s:%d: the simulator sends it to waypoint %s, but the config dump has no filter chain for it (inbound-vip|%d|…|%s)",
						host, port, d.Waypoint, port, host))
					continue
				}
				http := simulator.ChainIsHTTP(d.Protocols[port], true)
				for _, r := range verifyRequests(callers, host, port, http, lits) {
					res.compare(prog, name, filters, r)
				}
			}
		}
	}
	return res
}

func (res *verifyResult) compare(prog *simulator.Program, chain string, filters []envoyrbac.Filter, r verifyRequest) {
	got, err := prog.Eval(r.sim)
	if err != nil {
		res.unevaluated = append(res.unevaluated, fmt.Sprintf("%s: the simulator: %v", r.text, err))
		return
	}
	if got.CustomProvider != "" {
		// A CUSTOM provider's answer comes from outside the waypoint.
		res.skipped++
		return
	}
	want, err := envoyrbac.Evaluate(filters, r.env)
	if err != nil {
		res.unevaluated = append(res.unevaluated, fmt.Sprintf("%s: chain %s: %v", r.text, chain, err))
		return
	}
	res.compared++
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
	res.disagreements = append(res.disagreements, fmt.Sprintf("%s: simulator %s (%s); waypoint %s, %s", r.text, got.Verdict, got.Reason, verdict, by))
}

func (res *verifyResult) print(w interface{ Write([]byte) (int, error) }) {
	for _, d := range res.disagreements {
		fmt.Fprintln(w, "DISAGREE  "+d)
	}
	for _, u := range res.unevaluated {
		fmt.Fprintln(w, "NOT COMPARED  "+u)
	}
	skipped := ""
	if res.skipped > 0 {
		skipped = fmt.Sprintf(" (%d left out: a CUSTOM provider decides them)", res.skipped)
	}
	fmt.Fprintf(w, "compared %d requests on %d destination ports%s: %d disagreements, %d not compared\n",
		res.compared, res.destinations, skipped, len(res.disagreements), len(res.unevaluated))
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

// maxHTTPCombinations bounds the method × path requests per caller and
// destination; policies naming more values are sampled in order.
const maxHTTPCombinations = 256

func verifyRequests(callers []string, host string, port int, http bool, l literals) []verifyRequest {
	ip := netip.MustParseAddr("10.0.0.1")
	var out []verifyRequest
	for _, from := range callers {
		who := from
		if who == "" {
			who = "plaintext"
		}
		base := func() (*simulator.Request, *envoyrbac.Request) {
			sim := &simulator.Request{Principal: from, SourceIP: ip, Port: port, DestHost: host, At: simulator.EnforceWaypoint}
			env := &envoyrbac.Request{FilterState: map[string]string{}, DirectRemoteIP: ip, RemoteIP: ip, DestinationPort: uint32(port)}
			if from != "" {
				env.FilterState["io.istio.peer_principal"] = "spiffe://" + from
			}
			return sim, env
		}
		if !http {
			for _, sni := range slices.Concat([]string{host, "other.invalid", ""}, l.snis) {
				sim, env := base()
				sim.SNI, env.SNI = sni, sni
				out = append(out, verifyRequest{sim, env, fmt.Sprintf("%s:%d TLS sni=%q from %s", host, port, sni, who)})
			}
			continue
		}
		get := func(method, path string, header [2]string) verifyRequest {
			sim, env := base()
			sim.HTTP, sim.Method, sim.Path, sim.Host = true, method, path, host
			env.HTTP = true
			env.Headers = map[string][]string{":method": {method}, ":path": {path}, ":authority": {host}}
			text := fmt.Sprintf("%s:%d %s %s from %s", host, port, method, path, who)
			if header[0] != "" {
				sim.Headers = map[string]string{header[0]: header[1]}
				env.Headers[header[0]] = []string{header[1]}
				text += fmt.Sprintf(" with %s: %s", header[0], header[1])
			}
			return verifyRequest{sim, env, text}
		}
		n := 0
		for _, method := range l.methods {
			for _, path := range l.paths {
				if n++; n <= maxHTTPCombinations {
					out = append(out, get(method, path, [2]string{}))
				}
			}
		}
		for _, h := range l.headers {
			out = append(out, get("GET", "/", h))
		}
	}
	return out
}
