package simulator

import (
	"cmp"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// Eval evaluates one request. The error is set only when the request cannot
// be evaluated at all (an unknown enforcement point, a ztunnel check without
// destination namespace, or --at waypoint for a host no waypoint serves);
// every authorization outcome, including "nothing enforces", is a Decision.
func (p *Program) Eval(r *Request) (Decision, error) {
	v := newView(r)
	tr := tracer{on: r.Explain}
	var d Decision
	var err error
	switch r.At {
	case EnforceAuto, EnforceWaypoint:
		d, err = p.evalDestination(&v, &tr)
	case EnforceZtunnel:
		d, err = p.evalZtunnel(&v, &tr)
	default:
		return Decision{}, fmt.Errorf("unknown enforcement point %q: use waypoint or ztunnel", r.At)
	}
	if err != nil {
		return Decision{}, err
	}
	d.Steps = tr.steps
	if d.Steps == nil {
		d.Steps = []TraceStep{}
	}
	d.Trace = make([]string, len(d.Steps))
	for i, s := range d.Steps {
		d.Trace[i] = s.Text
	}
	return d, nil
}

// lookup finds the destination declaring host (without port): exact hosts
// first, then wildcard hosts such as "*.example.com".
func (p *Program) lookup(host string) *destination {
	if d, ok := p.hosts[host]; ok {
		return d
	}
	for _, d := range p.wildcards {
		for _, h := range d.hosts {
			if strings.HasPrefix(h, "*") && strings.HasSuffix(host, h[1:]) {
				return d
			}
		}
	}
	return nil
}

// hostname strips the port (and IPv6 brackets) from a Host header value and
// lower-cases it, without allocating for the common lower-case host.
func hostname(host string) string {
	if i := strings.LastIndexByte(host, ':'); i >= 0 && !strings.Contains(host[i:], "]") {
		if strings.Count(host, ":") == 1 || strings.HasPrefix(host, "[") {
			host = host[:i]
		}
	}
	host = strings.TrimSuffix(strings.TrimPrefix(strings.TrimSuffix(host, "]"), "["), ".")
	return strings.ToLower(host)
}

func (p *Program) evalDestination(v *view, tr *tracer) (Decision, error) {
	r := v.r
	host := r.Host
	if host == "" {
		host = r.DestHost
	}
	d, route, bypassed := p.route(r.DestIP, hostname(host))
	explicit := r.At == EnforceWaypoint
	switch {
	case bypassed != "" && explicit:
		return Decision{}, errors.New(bypassed)
	case bypassed != "":
		service := ""
		if d != nil {
			service = d.display()
		}
		return bypass(bypassed, service), nil
	case d.waypoint == nil && explicit:
		return Decision{}, fmt.Errorf("%s is not bound to a waypoint: %s", d.display(), d.binding)
	case d.waypoint == nil:
		return bypass(d.display()+" bypasses every waypoint ("+d.binding+"): nothing enforces authorization", d.display()), nil
	}
	// A destination chosen by address is worth saying; one chosen by its
	// host is what every trace shows next.
	if tr.on && route != "" {
		tr.add(StageDestination, "", -1, false, "%s", route)
	}
	return p.evalWaypoint(v, d, tr), nil
}

// route finds the destination of a connection as ztunnel does: by the
// address it is sent to, which ztunnel's DNS proxy answers a host's name
// with. Without a destination address the request is taken to be sent to
// the address DNS gives for its host. It returns the destination, how it
// was chosen when an address chose it, and why the connection bypasses
// every waypoint, if it does.
func (p *Program) route(addr netip.Addr, host string) (d *destination, route, bypassed string) {
	if !addr.IsValid() {
		d = p.lookup(host)
		switch {
		case d == nil:
			return nil, "", fmt.Sprintf("no ServiceEntry or Service in the inputs declares host %q: the traffic bypasses every waypoint and nothing enforces authorization", host)
		case d.notCaptured(host) != "":
			return d, "", fmt.Sprintf("%s declares host %q but ztunnel does not redirect its traffic (%s): the traffic bypasses every waypoint and nothing enforces authorization",
				d.display(), host, d.notCaptured(host))
		}
		return d, "", ""
	}
	for _, cand := range p.destinations {
		if cand.hasAddress(addr) {
			return cand, fmt.Sprintf("the connection goes to %s, an address of %s, which chooses the destination (the Host header does not)", addr, cand.display()), ""
		}
	}
	// An allocated address is not in a manifest: one in istiod's range for
	// a ServiceEntry host awaiting one, or any for a Service whose cluster
	// IP the inputs leave out, is taken to be that one.
	if d = p.lookup(host); d != nil && d.pending && d.notCaptured(host) == "" {
		switch {
		case d.kind == "Service":
			return d, fmt.Sprintf("the connection goes to %s, taken to be the cluster IP of %s (the inputs do not say which it is)", addr, d.display()), ""
		case inAutoAllocatedRange(addr):
			return d, fmt.Sprintf("the connection goes to %s, taken to be the address istiod allocates to %s (the inputs do not say which it is)", addr, d.display()), ""
		}
	}
	return nil, "", fmt.Sprintf("no ServiceEntry or Service in the inputs has address %s: ztunnel passes the connection through to it directly, whatever its Host header says, "+
		"so it bypasses every waypoint and nothing enforces authorization", addr)
}

func inAutoAllocatedRange(addr netip.Addr) bool {
	for _, p := range autoAllocatedRanges {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}

func bypass(reason, service string) Decision {
	return Decision{Verdict: Allow, EnforcedAt: EnforceNone, Service: service, Rule: -1, Reason: reason}
}

func (p *Program) evalWaypoint(v *view, d *destination, tr *tracer) Decision {
	w := d.waypoint
	dec := Decision{EnforcedAt: EnforceWaypoint, Waypoint: w.key(), Service: d.display(), Rule: -1}
	proto, ok := d.ports[v.r.Port]
	if !ok {
		dec.Verdict = Deny
		dec.Reason = fmt.Sprintf("%s declares no port %d: waypoint %s has no listener for it and the connection fails",
			d.display(), v.r.Port, w.key())
		return dec
	}
	if why := d.unserved(v.r.Port, p.istio); why != "" {
		dec.Verdict = Deny
		dec.Reason = fmt.Sprintf("%s: the connection to %s fails at waypoint %s", why, d.display(), w.key())
		return dec
	}
	mode, protocol := modeTCP, "TCP"
	if chainIsHTTP(proto, v.r.HTTP, v.r.DestProtocol) {
		mode, protocol = modeHTTP, "HTTP"
	}
	dec.Protocol = protocol
	if host := cmp.Or(v.r.Host, v.r.DestHost); d.dynamicDNS && mode == modeHTTP && !d.vhostMatches(host) {
		dec.Verdict = Deny
		dec.Reason = fmt.Sprintf("the waypoint's route for %s (resolution DYNAMIC_DNS) accepts only a Host header matching %s, port included, "+
			"so that a client cannot steer its dynamic forward proxy elsewhere: Host %q gets 404", d.display(), strings.Join(d.hosts, ", "), host)
		return dec
	}
	if tr.on {
		tr.add(StageDestination, "", -1, false, "waypoint %s serves %s (%s); port %d (%s) is evaluated as %s", w.key(), d.display(), d.binding,
			v.r.Port, protocolName(proto), protocol)
		if mode == modeTCP && v.r.HTTP {
			tr.add(StageDestination, "", -1, false, "the waypoint does not parse HTTP on this port: HTTP attributes of the request are invisible")
		}
	}
	if mode == modeHTTP {
		refused, note := checkJWT(v, p.jwtPoliciesFor(w, d))
		if tr.on && refused+note != "" {
			tr.add(StageAuthn, "", -1, refused != "", "%s", refused+note)
		}
		if refused != "" {
			dec.Verdict, dec.Reason, dec.Unauthenticated = Deny, refused, true
			return dec
		}
	}
	e := evaluation{prog: p, v: v, mode: mode, tr: tr, d: &dec,
		lists: [4][]*compiledPolicy{p.index.waypointClass, p.index.byGateway[w.key()], p.index.byDestination[d.key()]}}
	e.run()
	return dec
}

func protocolName(p string) string {
	if p == "" {
		return "protocol unset, sniffed"
	}
	return p
}

func (p *Program) evalZtunnel(v *view, tr *tracer) (Decision, error) {
	ns := v.r.DestNamespace
	if ns == "" {
		return Decision{}, fmt.Errorf("evaluating at ztunnel needs the destination workload's namespace")
	}
	dec := Decision{EnforcedAt: EnforceZtunnel, Protocol: "TCP", Rule: -1}
	if tr.on {
		tr.add(StageDestination, "", -1, false, "ztunnel in front of a workload in namespace %s with labels %v sees only L4 attributes", ns, v.r.DestLabels)
	}
	lists := [4][]*compiledPolicy{p.index.ztGlobal, p.index.ztNamespace[ns], p.index.ztSelector[ns]}
	if ns != p.opts.RootNamespace {
		lists[3] = p.index.ztSelector[p.opts.RootNamespace]
	}
	e := evaluation{prog: p, v: v, mode: modeZtunnel, tr: tr, d: &dec, lists: lists, filter: true}
	e.run()
	return dec, nil
}

// tracer collects the evaluation's steps only when asked; callers check on
// before formatting so an unexplained Eval does not build strings.
type tracer struct {
	on    bool
	steps []TraceStep
}

func (t *tracer) add(stage, policy string, rule int, matched bool, format string, args ...any) {
	t.steps = append(t.steps, TraceStep{Stage: stage, Policy: policy, Rule: rule, Matched: matched, Text: fmt.Sprintf(format, args...)})
}

func ruleText(cp *compiledPolicy, rule int) string {
	return cp.key + " rule " + strconv.Itoa(rule)
}
